"""Reads tree-sitter-hcl syntax trees into blocks and attributes.

Expressions stay as tree-sitter nodes: most of a configuration is never
evaluated, so turning every node into a Python object would waste the time
budget. Bodies of blocks are read lazily for the same reason.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

try:
    import resource
except ImportError:  # Windows: no peak-memory check
    resource = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from tree_sitter import Node, Parser, Tree

MAX_FILE_BYTES = 8 * 1024 * 1024

# Hostile text must fail fast, and tree-sitter-hcl has two slow paths real files
# never take. Its scanner skips a whole whitespace run at each character of the
# run, so a run where an expression may start costs its length squared (32 KiB of
# blanks after `x =`: 11 s); and error recovery on some garbage costs far more
# than the microsecond and few hundred bytes a byte that real files take
# (`"${${${...`: 20 µs and 1.3 KB a byte). So no absurd whitespace run is parsed
# (which also keeps the parser's progress checks frequent), and a parse gives up
# after PARSE_SECONDS or once it has raised the process's peak memory by
# PARSE_MEMORY_BYTES. The run cap also bounds the files parsed without those
# checks (GUARDED_FROM_BYTES): eight 4 KiB runs fill 32 KiB and cost about a
# second, where two 16 KiB runs cost seven and 300 MB.
MAX_BLANK_RUN = 4 * 1024
PARSE_SECONDS = 5.0
PARSE_MEMORY_BYTES = 320 * 1024 * 1024
# The progress checks cost a Python call per hundred bytes, half again the parse
# itself. A file this small cannot reach either limit even at the garbage rate
# above (0.7 s, 45 MB), so it is parsed without them.
GUARDED_FROM_BYTES = 32 * 1024
# Anchored at the start of a run, so the search is linear in the file.
_BLANK_RUN = re.compile(rb"(?<![ \t\n\v\f\r])[ \t\n\v\f\r]{%d}" % MAX_BLANK_RUN)


class K:
    """Node kind ids, filled in when the parser is built.

    Comparing ``node.kind_id`` to an int costs half of comparing ``node.type``
    to a string, and the hot paths compare on every node they touch.
    """

    attribute = block = body = comment = identifier = string_lit = -1
    expression = conditional = variable_expr = literal_value = template_expr = -1
    collection_value = function_call = for_expr = operation = tuple = object_elem = -1
    get_attr = index = splat = legacy_index = numeric_lit = bool_lit = true = -1
    open_paren = -1


@cache
def parser() -> Parser:
    # Imported here so that importing ecrguard stays fast for commands that never read HCL.
    import tree_sitter_hcl
    from tree_sitter import Language, Parser

    language = Language(tree_sitter_hcl.language())
    for name in list(vars(K)):
        if not name.startswith("_"):
            setattr(K, name, language.id_for_node_kind(name, name != "true"))
    K.open_paren = language.id_for_node_kind("(", False) or -1
    return Parser(language)


class Attr:
    """``name = expr``; ``src`` is the file's bytes, which node offsets index."""

    __slots__ = ("expr", "name", "node", "src")

    def __init__(self, name: str, node: Node, expr: Node, src: bytes) -> None:
        self.name = name
        self.node = node
        self.expr = expr
        self.src = src

    @property
    def line(self) -> int:
        # Computed on demand: most attributes never end up in an origin.
        return self.node.start_point[0] + 1

    def text(self, node: Node | None = None) -> str:
        """Source text of the expression (or of a node inside it)."""
        node = node if node is not None else self.expr
        return self.src[node.start_byte : node.end_byte].decode()


class Block:
    __slots__ = ("_body", "_node", "_src", "labels", "line", "type")

    def __init__(
        self, type_: str, labels: tuple[str, ...], line: int, node: Node | None, src: bytes
    ) -> None:
        self.type = type_
        self.labels = labels
        self.line = line
        self._node = node
        self._src = src
        self._body: Body | None = None

    @property
    def body(self) -> Body:
        if self._body is None:
            self._body = read_body(self._node, self._src)
            self._node = None
        return self._body


class Body:
    __slots__ = ("attrs", "blocks")

    def __init__(self, attrs: dict[str, Attr], blocks: list[Block]) -> None:
        self.attrs = attrs
        self.blocks = blocks

    def blocks_of(self, type_: str) -> list[Block]:
        return [b for b in self.blocks if b.type == type_]


EMPTY_BODY = Body({}, [])


@dataclass(frozen=True, slots=True)
class ParsedFile:
    path: str
    blocks: tuple[Block, ...]
    # Top-level attributes: only variables files have them.
    attrs: dict[str, Attr]
    # Set when the file cannot be used: a one-line reason and the line it points at.
    error: str | None = None


def read_body(node: Node | None, src: bytes) -> Body:
    if node is None:
        return EMPTY_BODY
    attrs: dict[str, Attr] = {}
    blocks: list[Block] = []
    for child in node.children:
        kind = child.kind_id
        if kind == K.attribute:
            kids = child.children
            ident = kids[0]
            name = src[ident.start_byte : ident.end_byte].decode()
            # Terraform rejects duplicates; keeping the first matches its error location.
            if name not in attrs:
                attrs[name] = Attr(name, child, kids[2], src)
        elif kind == K.block:
            blocks.append(read_block(child, src))
    return Body(attrs, blocks)


def read_block(node: Node, src: bytes) -> Block:
    kids = node.children
    ident = kids[0]
    type_ = src[ident.start_byte : ident.end_byte].decode()
    labels: list[str] = []
    body = None
    for child in kids[1:]:
        kind = child.kind_id
        if kind == K.string_lit:
            labels.append(unquote(src[child.start_byte + 1 : child.end_byte - 1].decode()))
        elif kind == K.identifier:
            labels.append(src[child.start_byte : child.end_byte].decode())
        elif kind == K.body:
            body = child
    return Block(type_, tuple(labels), node.start_point[0] + 1, body, src)


def parse_bytes(path: str, data: bytes) -> ParsedFile:
    """Parse one file's bytes; problems become ``error`` rather than exceptions."""
    if len(data) > MAX_FILE_BYTES:
        return _failed(path, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    if b"\0" in data:
        return _failed(path, "binary file, not HCL text")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return _failed(path, f"not UTF-8 text (invalid byte at line {line})")
    blanks = _BLANK_RUN.search(data)
    if blanks is not None:
        line = data.count(b"\n", 0, blanks.start()) + 1
        return _failed(path, f"more than {MAX_BLANK_RUN} whitespace bytes in a row at line {line}")
    tree = _parse_tree(data)
    if isinstance(tree, str):
        return _failed(path, tree)
    root = tree.root_node
    if root.has_error:
        return _failed(path, f"syntax error at line {first_error_line(root)}")
    for top in root.children:
        if top.type == "body":
            body = read_body(top, data)
            return ParsedFile(path, tuple(body.blocks), body.attrs)
    return ParsedFile(path, (), {})


def _failed(path: str, reason: str) -> ParsedFile:
    return ParsedFile(path, (), {}, reason)


_BUFFER = bytearray()


def _parse_tree(data: bytes) -> Tree | str:
    """The syntax tree, or why parsing was given up (see PARSE_SECONDS)."""
    # py-tree-sitter 0.26 never lets go of what the read callback returns, which
    # kept every file's bytes in memory (13 MB over 5,000 modules); so the text is
    # handed over in one buffer reused for every file. It asks for offset 0 and then
    # the end.
    _BUFFER[:] = data
    size = len(data)

    def read(offset: int, _point: object) -> bytes | bytearray:
        if offset == 0:
            return _BUFFER
        return data[offset:] if offset < size else b""

    if size < GUARDED_FROM_BYTES:
        # Through the callback too: faster than handing py-tree-sitter the bytes.
        return parser().parse(read)

    deadline = time.monotonic() + PARSE_SECONDS
    peak_limit = _peak_rss() + PARSE_MEMORY_BYTES
    why: list[str] = []

    def progress(_offset: int, _has_error: bool) -> bool:
        # Called about every hundred bytes of progress; True cancels the parse.
        if time.monotonic() > deadline:
            why.append(f"too slow to parse (over {PARSE_SECONDS:g} s): not ordinary HCL")
        # Every time: error recovery on hostile input can grow memory by tens of MiB
        # between two calls, and one getrusage per hundred bytes is cheap beside parsing.
        elif _peak_rss() > peak_limit:
            mib = PARSE_MEMORY_BYTES // (1024 * 1024)
            why.append(f"needs over {mib} MiB of memory to parse: not ordinary HCL")
        return bool(why)

    hcl = parser()
    try:
        return hcl.parse(read, progress_callback=progress)
    except ValueError:  # "Parsing failed": the progress callback cancelled it
        hcl.reset()  # else the next parse would resume this one
        return why[0] if why else "cannot be parsed"
    finally:
        if size > 1024 * 1024:
            _BUFFER.clear()  # a large file's copy need not outlive its parse


def _peak_rss() -> int:
    """This process's peak resident memory in bytes (0 where the platform cannot say)."""
    if resource is None:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # KiB except on macOS


def parse_file(path: str) -> ParsedFile:
    try:
        data = read_limited(path, MAX_FILE_BYTES + 1)
    except OSError as err:
        return _failed(path, f"cannot read file: {err.strerror or err}")
    return parse_bytes(path, data)


def read_limited(path: str, limit: int) -> bytes:
    """The file's bytes, at most ``limit`` of them.

    Asking a buffered file for ``limit`` bytes allocates that much (8 MiB) on
    every call; sized from fstat, reading 12,000 small files costs a quarter.
    """
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(min(size + 1, limit)) or b""
        # Until end of file: a read may stop short, the file may have grown, and
        # pipes and special files report no size.
        while len(data) < limit:
            more = fh.read(min(limit - len(data), 1024 * 1024))
            if not more:
                break
            data += more
        return data


def first_error_line(root: Node) -> int:
    # Iterative: the tree's depth is controlled by whoever wrote the file.
    node = root
    path: list[Node] = []
    while True:
        if node.is_missing:
            # A missing closer sits where parsing gave up, often the end of the file;
            # the construct left open (a string, a block) is what the user must fix.
            opened = [p for p in path if p.start_byte < node.start_byte]
            if opened and not opened[-1].is_error:
                return opened[-1].start_point[0] + 1
            return node.start_point[0] + 1
        path.append(node)
        for child in node.children:
            if child.has_error or child.is_missing:
                node = child
                break
        else:
            errors = [p for p in path if p.is_error]
            return (errors[-1] if errors else node).start_point[0] + 1


_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def unquote(text: str) -> str:
    """Decode the escapes of a quoted HCL string literal (the text between the quotes)."""
    if "\\" not in text:
        if "$${" in text or "%%{" in text:
            return unescape_template_markers(text)
        return text
    out: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
                continue
            width = 4 if nxt == "u" else 8 if nxt == "U" else 0
            if width:
                try:
                    out.append(chr(int(text[i + 2 : i + 2 + width], 16)))
                    i += 2 + width
                    continue
                except ValueError:
                    pass
        out.append(ch)
        i += 1
    return unescape_template_markers("".join(out))


def unescape_template_markers(text: str) -> str:
    return text.replace("$${", "${").replace("%%{", "%{")
