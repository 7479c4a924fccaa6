"""CloudFormation template text → plain data that remembers its lines.

YAML goes through PyYAML's *safe* loader, extended with the short-form
intrinsic tags (``!Ref`` → ``{"Ref": ...}``) and with caps that make hostile
input fail fast: alias bombs are refused while the document is composed (by
counting aliases and the number of nodes they would expand to, before anything
is expanded), as are recursive aliases and deep nesting. JSON goes through a
small line-aware decoder built on the standard library's scanner.

Every mapping becomes a :class:`Mapping` (a dict with ``line`` and per-key
``lines``) and every sequence a :class:`Seq` (a list with ``line``), so each
resource and property has a line for findings.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Hashable
from json import JSONDecodeError

# Not in typeshed, but public in the standard library since Python 2.6.
from json.decoder import scanstring  # type: ignore[attr-defined]
from json.scanner import py_make_scanner  # type: ignore[attr-defined]
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# CloudFormation itself refuses templates over 1 MB (51,200 bytes inline), so a
# larger file cannot be a deployable template; reading one in pure-Python YAML
# would take tens of seconds and hundreds of MB.
MAX_TEMPLATE_BYTES = 1024 * 1024
MAX_ALIASES = 1_000
# Nodes a document may hold once its aliases are expanded: the resolver walks
# expanded data, so this bounds its time and memory too. Real templates hold a
# node per 15 bytes or so: about 70,000 in the largest CloudFormation accepts.
# JSON has no aliases, but 1 MiB of "[]," is 350,000 of them: the same cap holds.
MAX_NODES = 200_000
MAX_DEPTH = 100


class ParseError(Exception):
    """The text is not a readable template; ``line`` points at the problem when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class Mapping(dict[Any, Any]):
    __slots__ = ("line", "lines")

    def __init__(self, line: int | None = None) -> None:
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}


class Seq(list[Any]):
    __slots__ = ("line",)

    def __init__(self, line: int | None = None) -> None:
        super().__init__()
        self.line = line


def parse(text: str, json_syntax: bool) -> Any:
    """Parse a template's text; raises ParseError (with a line where possible)."""
    if json_syntax:
        return _parse_json(text)
    return _parse_yaml(text)


# -- YAML --------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe loading plus intrinsic tags, line-carrying containers and expansion caps."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0
        self.depth = 0
        self.expanded = 0  # nodes composed so far, counting each alias as the nodes it names
        self.sizes: dict[int, int] = {}  # id(node) → its expanded size
        self.open_anchors: set[str] = set()

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                raise ParseError(f"more than {MAX_ALIASES} YAML aliases", line)
            if event.anchor in self.open_anchors:
                raise ParseError(f"alias *{event.anchor} refers to a node that contains it", line)
            node = super().compose_node(parent, index)
            self._grow(self.sizes.get(id(node), 1), line)
            return node
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"YAML nested more than {MAX_DEPTH} levels deep", line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self.open_anchors.add(anchor)
        before = self.expanded
        try:
            node = super().compose_node(parent, index)
        finally:
            self.depth -= 1
            if anchor is not None:
                self.open_anchors.discard(anchor)
        self._grow(1, line)
        self.sizes[id(node)] = self.expanded - before
        return node

    def _grow(self, count: int, line: int) -> None:
        self.expanded += count
        if self.expanded > MAX_NODES:
            if self.alias_count:
                what = f"YAML aliases expand to more than {MAX_NODES:,} nodes (an alias bomb?)"
            else:
                what = f"more than {MAX_NODES:,} YAML nodes, more than a template can hold"
            raise ParseError(what, line)


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _fill(loader: _Loader, node: MappingNode, data: Mapping, deep: bool) -> None:
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            raise ParseError("a mapping key must be a plain value", _line(key_node))
        if key in data:
            # CloudFormation refuses duplicates; keeping either one would hide the other.
            raise ParseError(f"duplicate key {key!r}", _line(key_node))
        data[key] = loader.construct_object(value_node, deep=deep)
        data.lines[key] = _line(key_node)


def _construct_map(loader: _Loader, node: MappingNode) -> Any:
    # A generator, like PyYAML's own: the container exists before its children,
    # so anchored nodes can be shared without building them twice.
    data = Mapping(_line(node))
    yield data
    _fill(loader, node, data, deep=False)


def _construct_seq(loader: _Loader, node: SequenceNode) -> Any:
    data = Seq(_line(node))
    yield data
    data.extend(loader.construct_object(child, deep=False) for child in node.value)


def _construct_now(loader: _Loader, node: Node) -> Any:
    """A tagged node's content, built completely (intrinsic arguments are small)."""
    if isinstance(node, ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, SequenceNode):
        seq = Seq(_line(node))
        seq.extend(loader.construct_object(child, deep=True) for child in node.value)
        return seq
    assert isinstance(node, MappingNode)
    data = Mapping(_line(node))
    _fill(loader, node, data, deep=True)
    return data


def _intrinsic(name: str) -> Callable[[_Loader, Node], Any]:
    def construct(loader: _Loader, node: Node) -> Any:
        value = _construct_now(loader, node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            # !GetAtt Resource.Attribute; the attribute itself may contain dots.
            parts = Seq(_line(node))
            parts.extend(value.split(".", 1))
            value = parts
        out = Mapping(_line(node))
        out[name] = value
        out.lines[name] = _line(node)
        return out

    return construct


def _string(loader: _Loader, node: Node) -> Any:
    # CloudFormation reads 2012-10-17 (a policy Version) as text, not a date.
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!Sub": "Fn::Sub",
    "!GetAtt": "Fn::GetAtt",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!ImportValue": "Fn::ImportValue",
    "!GetAZs": "Fn::GetAZs",
    "!Cidr": "Fn::Cidr",
    "!Transform": "Fn::Transform",
    "!ToJsonString": "Fn::ToJsonString",
    "!Length": "Fn::Length",
}

_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _string)
for _tag, _name in _TAGS.items():
    _Loader.add_constructor(_tag, _intrinsic(_name))


def _parse_yaml(text: str) -> Any:
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    except ParseError:
        raise
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        problem = (err.problem or err.context or "invalid YAML").strip()
        raise ParseError(problem, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as err:
        raise ParseError(str(err).splitlines()[0]) from None
    except RecursionError:
        raise ParseError(f"YAML nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


# -- JSON ----------------------------------------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")


class _JsonLines:
    """json's pure-Python scanner with objects and arrays that record their lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.depth = 0
        self.nodes = 0
        # Attributes py_make_scanner reads from its context.
        self.strict = True
        self.object_hook = None
        self.object_pairs_hook = None
        self.parse_float = float
        self.parse_int = int
        self.parse_constant = _no_constant
        self.parse_string = scanstring
        self.memo: dict[str, str] = {}
        self.parse_object = self._object
        self.parse_array = self._array
        self.scan_once = py_make_scanner(self)

    def line_at(self, offset: int) -> int:
        return bisect.bisect_left(self.newlines, offset) + 1

    def _enter(self, offset: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep", self.line_at(offset))

    def _count(self, offset: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ParseError(
                f"more than {MAX_NODES:,} JSON values, more than a template can hold",
                self.line_at(offset),
            )

    def _object(self, s_and_end: tuple[str, int], *_: Any) -> tuple[Mapping, int]:
        s, end = s_and_end
        self._enter(end)
        out = Mapping(self.line_at(end - 1))
        end = _WS.match(s, end).end()  # type: ignore[union-attr]
        if s[end : end + 1] == "}":
            self.depth -= 1
            return out, end + 1
        while True:
            if s[end : end + 1] != '"':
                raise JSONDecodeError("Expecting property name enclosed in double quotes", s, end)
            key_at = end
            key, end = scanstring(s, end + 1, True)
            end = _WS.match(s, end).end()  # type: ignore[union-attr]
            if s[end : end + 1] != ":":
                raise JSONDecodeError("Expecting ':' delimiter", s, end)
            end = _WS.match(s, end + 1).end()  # type: ignore[union-attr]
            try:
                value, end = self.scan_once(s, end)
            except StopIteration as err:
                raise JSONDecodeError("Expecting value", s, err.value) from None
            if key in out:
                raise ParseError(f"duplicate key {key!r}", self.line_at(key_at))
            self._count(key_at)
            out[key] = value
            out.lines[key] = self.line_at(key_at)
            end = _WS.match(s, end).end()  # type: ignore[union-attr]
            char = s[end : end + 1]
            end = _WS.match(s, end + 1).end()  # type: ignore[union-attr]
            if char == "}":
                self.depth -= 1
                return out, end
            if char != ",":
                raise JSONDecodeError("Expecting ',' delimiter", s, end - 1)

    def _array(self, s_and_end: tuple[str, int], *_: Any) -> tuple[Seq, int]:
        s, end = s_and_end
        self._enter(end)
        out = Seq(self.line_at(end - 1))
        end = _WS.match(s, end).end()  # type: ignore[union-attr]
        if s[end : end + 1] == "]":
            self.depth -= 1
            return out, end + 1
        while True:
            try:
                value, end = self.scan_once(s, end)
            except StopIteration as err:
                raise JSONDecodeError("Expecting value", s, err.value) from None
            self._count(end)
            out.append(value)
            end = _WS.match(s, end).end()  # type: ignore[union-attr]
            char = s[end : end + 1]
            end = _WS.match(s, end + 1).end()  # type: ignore[union-attr]
            if char == "]":
                self.depth -= 1
                return out, end
            if char != ",":
                raise JSONDecodeError("Expecting ',' delimiter", s, end - 1)


def _no_constant(name: str) -> Any:
    # NaN and Infinity are Python's extension to JSON; CloudFormation rejects them.
    raise ValueError(f"{name} is not JSON")


def _parse_json(text: str) -> Any:
    reader = _JsonLines(text)
    start = _WS.match(text, 0).end()  # type: ignore[union-attr]
    try:
        value, end = reader.scan_once(text, start)
    except StopIteration:
        raise ParseError("invalid JSON: Expecting value", reader.line_at(start)) from None
    except JSONDecodeError as err:
        # "Unterminated string starting at" expects a position after it; the line is given.
        raise ParseError(
            f"invalid JSON: {err.msg.removesuffix(' starting at')}", err.lineno
        ) from None
    except ValueError as err:
        raise ParseError(f"invalid JSON: {err}") from None
    except RecursionError:
        raise ParseError(f"JSON nested more than {MAX_DEPTH} levels deep") from None
    end = _WS.match(text, end).end()  # type: ignore[union-attr]
    if end != len(text):
        raise ParseError("invalid JSON: Extra data", reader.line_at(end))
    return value
