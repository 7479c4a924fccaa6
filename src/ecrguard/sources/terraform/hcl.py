"""Reads tree-sitter-hcl syntax trees into blocks and attributes.

Expressions stay as tree-sitter nodes: most of a configuration is never
evaluated, so turning every node into a Python object would waste the time
budget. Bodies of blocks are read lazily for the same reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tree_sitter import Node, Parser

MAX_FILE_BYTES = 8 * 1024 * 1024


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
    tree = parser().parse(data)
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


def parse_file(path: str) -> ParsedFile:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        return _failed(path, f"cannot read file: {err.strerror or err}")
    return parse_bytes(path, data)


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
