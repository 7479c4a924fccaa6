"""Evaluates HCL expressions straight from the tree-sitter syntax tree.

Anything that cannot be worked out from the files becomes an :class:`Unknown`
with a reason; nothing is guessed. References (``var.x``, ``local.y``,
``aws_ecr_repository.app.name``) are handed to the module :class:`Context`.
"""

from __future__ import annotations

from sys import intern
from typing import TYPE_CHECKING, Any, Protocol

from ecrguard.sources.terraform.hcl import Attr, K, unescape_template_markers, unquote
from ecrguard.sources.terraform.values import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_STRING,
    Ref,
    Unknown,
    equal,
    resolve_deep,
    to_bool,
    to_number,
    to_text,
    type_name,
    whole,
)

if TYPE_CHECKING:
    from tree_sitter import Node

_ABSENT = object()
_INTERNED = 64
# Roots that consume this many ``.name`` steps before a value exists.
_ROOT_STEPS = {"var": 1, "local": 1, "module": 1, "data": 2, "path": 1, "count": 1, "each": 1}
_BINARY = frozenset({"+", "-", "*", "/", "%", ">", ">=", "<", "<=", "==", "!=", "&&", "||"})


class Context(Protocol):
    """What a module instance offers to the expressions evaluated in it."""

    module_dir: str

    def lookup(self, root: str, names: tuple[str, ...], scope: Scope) -> Any: ...

    def read_file(self, path: str) -> str | Unknown: ...


class Scope:
    """Where an expression is evaluated: a module, plus count/each and local names."""

    __slots__ = ("count_index", "each", "module", "names")

    def __init__(
        self,
        module: Context | None,
        names: dict[str, Any] | None = None,
        count_index: Any = _ABSENT,
        each: tuple[Any, Any] | Unknown | None = None,
    ) -> None:
        self.module = module
        self.names = names
        self.count_index = count_index
        self.each = each

    def bind(self, names: dict[str, Any]) -> Scope:
        merged = {**self.names, **names} if self.names else names
        return Scope(self.module, merged, self.count_index, self.each)


class Evaluator:
    """Turns expression nodes into values; one per load, tracking nesting depth."""

    def __init__(self) -> None:
        self.depth = 0
        # The bytes of the file whose expression is being evaluated; node offsets index it.
        self.src = b""

    def evaluate(self, attr: Attr, scope: Scope) -> Any:
        """Entry point for one attribute: deep input yields an Unknown, never a crash."""
        return self.evaluate_node(attr.expr, attr.src, scope)

    def evaluate_node(self, node: Node, src: bytes, scope: Scope) -> Any:
        outer = self.src
        self.src = src
        try:
            if self.depth:
                return self.eval(node, scope)
            try:
                return self.eval(node, scope)
            except RecursionError:
                self.depth = 0
                return Unknown("expression is nested too deeply")
        finally:
            self.src = outer

    def text(self, node: Node) -> str:
        return self.src[node.start_byte : node.end_byte].decode()

    def eval(self, node: Node, scope: Scope) -> Any:
        kids = node.children
        if len(kids) == 1 and kids[0].kind_id == K.literal_value:
            # Most expressions in a policy are plain literals: skip the general path.
            return self.literal(kids[0].children[0])
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                return Unknown(f"expression is nested more than {MAX_DEPTH} levels deep")
            if len(kids) > 1:
                comment = K.comment
                kids = [c for c in kids if c.kind_id != comment]
            if kids and kids[0].kind_id == K.conditional:
                return self._conditional(kids[0], scope)
            return self._terms(kids, scope)
        finally:
            self.depth -= 1

    # -- terms and traversals ------------------------------------------------

    def _terms(self, nodes: list[Node], scope: Scope) -> Any:
        if not nodes:
            return Unknown("empty expression", error=True)
        base = nodes[0]
        kind = base.kind_id
        rest = 1
        if kind == K.literal_value:
            value = self.literal(base.children[0])
        elif kind == K.variable_expr:
            value, rest = self._reference(nodes, scope)
        elif kind == K.template_expr:
            value = self.template(base.children[0], scope)
        elif kind == K.collection_value:
            value = self._collection(base.children[0], scope)
        elif kind == K.function_call:
            value = self._function(base, scope)
        elif kind == K.for_expr:
            value = self._for(base.children[0], scope)
        elif kind == K.operation:
            value = self._operation(base.children[0], scope)
        elif kind == K.open_paren:
            value = self.eval(nodes[1], scope)
            rest = 3
        elif kind == K.expression:
            value = self.eval(base, scope)
        else:
            return Unknown(f"unsupported expression {base.type}", error=True)
        for node in nodes[rest:]:
            if isinstance(value, Unknown):
                return value
            value = self._postfix(value, node, scope)
        return value

    def _reference(self, nodes: list[Node], scope: Scope) -> tuple[Any, int]:
        root = self.text(nodes[0])
        if scope.names and root in scope.names:
            return scope.names[root], 1
        if root == "count":
            steps = _attr_names(self, nodes, 1)
            if steps[:1] != ("index",):
                return Unknown("count has only the attribute index", error=True), 2
            if scope.count_index is _ABSENT:
                return Unknown("count.index used outside a resource with count", error=True), 2
            return scope.count_index, 2
        if root == "each":
            steps = _attr_names(self, nodes, 1)
            if scope.each is None:
                return Unknown("each used outside a resource with for_each", error=True), 2
            if isinstance(scope.each, Unknown):
                return scope.each, 2
            if steps[:1] == ("key",):
                return scope.each[0], 2
            if steps[:1] == ("value",):
                return scope.each[1], 2
            return Unknown("each has only the attributes key and value", error=True), 2
        if scope.module is None:
            return Unknown(f"{root} cannot be referenced here", error=True), len(nodes)
        wanted = _ROOT_STEPS.get(root, 1)
        names = _attr_names(self, nodes, 1)[:wanted]
        if len(names) < wanted:
            return Unknown(f"incomplete reference to {root}", error=True), len(nodes)
        return scope.module.lookup(root, names, scope), 1 + wanted

    def _postfix(self, value: Any, node: Node, scope: Scope) -> Any:
        kind = node.kind_id
        if kind == K.get_attr:
            return get_attr(value, self.text(node.children[-1]))
        if kind == K.index:
            inner = node.children[0]
            if inner.kind_id == K.legacy_index:
                key: Any = int(self.text(inner)[1:])
            else:
                key = self.eval(inner.children[1], scope)
            return index(value, key)
        if kind == K.splat:
            return self._splat(value, node.children[0], scope)
        return Unknown(f"unsupported traversal {node.type}", error=True)

    def _splat(self, value: Any, node: Node, scope: Scope) -> Any:
        steps = [c for c in node.children[1:] if c.type != "comment"]
        if value is None:
            return []
        items = value if isinstance(value, list) else [value]
        out = []
        for item in items:
            for step in steps:
                if isinstance(item, Unknown):
                    break
                item = self._postfix(item, step, scope)
            out.append(item)
        return out

    # -- literals, collections, templates ------------------------------------

    def literal(self, node: Node) -> Any:
        kind = node.kind_id
        if kind == K.string_lit:
            text = unquote(self.src[node.start_byte + 1 : node.end_byte - 1].decode())
            # The same short strings (actions, keys, "Allow") recur in every
            # module: one object each keeps the loaded configuration small, and
            # a forked reader's pickle sends each once (see ecrguard.forks).
            return intern(text) if len(text) <= _INTERNED else text
        if kind == K.numeric_lit:
            text = self.text(node)
            try:
                return int(text)
            except ValueError:
                return float(text)
        if kind == K.bool_lit:
            return node.children[0].kind_id == K.true
        return None

    def _collection(self, node: Node, scope: Scope) -> Any:
        expression = K.expression
        if node.kind_id == K.tuple:
            return [self.eval(c, scope) for c in node.children if c.kind_id == expression]
        out: dict[str, Any] = {}
        for elem in node.children:
            if elem.kind_id != K.object_elem:
                continue
            parts = elem.children
            if len(parts) != 3:
                parts = [c for c in parts if c.kind_id == expression]
            key = self._object_key(parts[0], scope)
            if isinstance(key, Unknown):
                return key
            out[key] = self.eval(parts[-1], scope)
        return out

    def _object_key(self, node: Node, scope: Scope) -> str | Unknown:
        kids = node.children
        # A bare identifier is a literal key, as in Terraform: { name = 1 } means "name".
        if len(kids) == 1 and kids[0].kind_id == K.variable_expr:
            return intern(self.text(kids[0]))
        return to_text(self.eval(node, scope))

    def template(self, node: Node, scope: Scope) -> Any:
        src = self.src
        kids = node.children
        if node.type == "quoted_template":
            start = kids[0].end_byte
            end = kids[-1].start_byte
            return self._render(src, kids[1:-1], start, end, scope, quoted=True, dedent=None)
        # Heredoc: the text starts on the line after the marker and ends before the closing one.
        flush = self.text(kids[0]) == "<<-"
        start = src.find(b"\n", kids[1].end_byte) + 1
        end = src.rfind(b"\n", 0, kids[-1].start_byte) + 1
        if end < start:
            end = start
        dedent = _heredoc_indent(src[start:end]) if flush else None
        return self._render(src, kids[2:-1], start, end, scope, quoted=False, dedent=dedent)

    def _render(
        self,
        src: bytes,
        parts: list[Node],
        start: int,
        end: int,
        scope: Scope,
        quoted: bool,
        dedent: int | None,
        strip_start: bool = False,
        strip_end: bool = False,
    ) -> Any:
        out: list[str] = []
        pos = start
        strip_next = strip_start
        size = 0

        def literal(upto: int, strip_after: bool) -> None:
            nonlocal strip_next, size
            text = src[pos:upto].decode()
            if dedent:
                text = _dedent(text, pos == 0 or src[pos - 1 : pos] == b"\n", dedent)
            text = unquote(text) if quoted else unescape_template_markers(text)
            if strip_next:
                text = text.lstrip()
            if strip_after:
                text = text.rstrip()
            strip_next = False
            size += len(text)
            out.append(text)

        for part in parts:
            kind = part.type
            if kind not in ("template_interpolation", "template_directive"):
                continue
            if kind == "template_interpolation":
                lead, trail = _markers(part)
            else:
                pieces = part.children[0].children
                lead, trail = _markers(pieces[0])[0], _markers(pieces[-1])[1]
            literal(part.start_byte, lead)
            pos = part.end_byte
            if kind == "template_interpolation":
                expr = next(c for c in part.children if c.type == "expression")
                text = to_text(self.eval(expr, scope))
            else:
                text = self._directive(src, part.children[0], scope, quoted, dedent)
            if isinstance(text, Unknown):
                return text
            size += len(text)
            if size > MAX_STRING:
                return Unknown("string is too large to evaluate")
            out.append(text)
            strip_next = trail
        literal(end, strip_end)
        if size > MAX_STRING:
            return Unknown("string is too large to evaluate")
        return "".join(out)

    def _directive(
        self, src: bytes, node: Node, scope: Scope, quoted: bool, dedent: int | None
    ) -> str | Unknown:
        kids = node.children
        if node.type == "template_if":
            intro = kids[0]
            cond = to_bool(self.eval(_first(intro, "expression"), scope))
            if isinstance(cond, Unknown):
                return cond
            else_at = next((i for i, c in enumerate(kids) if c.type == "template_else_intro"), None)
            if cond:
                lo, hi = 0, else_at if else_at is not None else len(kids) - 1
            elif else_at is None:
                return ""
            else:
                lo, hi = else_at, len(kids) - 1
            inner = kids[lo + 1 : hi]
            start, end = kids[lo].end_byte, kids[hi].start_byte
            strip = _markers(kids[lo])[1], _markers(kids[hi])[0]
            return self._render(src, inner, start, end, scope, quoted, dedent, *strip)
        intro = kids[0]
        names = [self.text(c) for c in intro.children if c.type == "identifier"]
        items = self.eval(_first(intro, "expression"), scope)
        pairs = iterate(items)
        if isinstance(pairs, Unknown):
            return pairs
        out = []
        start, end = intro.end_byte, kids[-1].start_byte
        strip = _markers(intro)[1], _markers(kids[-1])[0]
        for key, value in pairs:
            bound = {names[0]: key, names[1]: value} if len(names) > 1 else {names[0]: value}
            each = scope.bind(bound)
            text = self._render(src, kids[1:-1], start, end, each, quoted, dedent, *strip)
            if isinstance(text, Unknown):
                return text
            out.append(text)
        return "".join(out)

    # -- operators -------------------------------------------------------------

    def _conditional(self, node: Node, scope: Scope) -> Any:
        cond, yes, no = (c for c in node.children if c.type == "expression")
        test = to_bool(self.eval(cond, scope))
        if isinstance(test, Unknown):
            return test
        return self.eval(yes if test else no, scope)

    def _operation(self, node: Node, scope: Scope) -> Any:
        kids = [c for c in node.children if c.type != "comment"]
        if node.type == "unary_operation":
            operand = self._terms(kids[1:], scope)
            if self.text(kids[0]) == "!":
                value = to_bool(operand)
                return value if isinstance(value, Unknown) else not value
            number = to_number(operand)
            return number if isinstance(number, Unknown) else -number
        at = next((i for i, c in enumerate(kids) if not c.is_named and c.type in _BINARY), 0)
        if not at:
            return Unknown(f"unsupported operation {node.type}", error=True)
        op = kids[at].type
        left = self._terms(kids[:at], scope)
        if op in ("&&", "||"):
            lbool = to_bool(left)
            if lbool is (op == "||"):
                return lbool
            rbool = to_bool(self._terms(kids[at + 1 :], scope))
            if isinstance(lbool, Unknown):
                return lbool
            return rbool
        right = self._terms(kids[at + 1 :], scope)
        if op in ("==", "!="):
            left, right = resolve_deep(left), resolve_deep(right)
            for side in (left, right):
                if isinstance(side, Unknown):
                    return side
            return equal(left, right) is (op == "==")
        a, b = to_number(left), to_number(right)
        if isinstance(a, Unknown):
            return a
        if isinstance(b, Unknown):
            return b
        return _arithmetic(op, a, b)

    # -- functions and for expressions ---------------------------------------------

    def _function(self, node: Node, scope: Scope) -> Any:
        from ecrguard.sources.terraform.functions import call

        name = self.text(node.children[0])
        args_node = _first(node, "function_arguments")
        arg_nodes: list[Node] = []
        expand = False
        if args_node is not None:
            for child in args_node.children:
                if child.type == "expression":
                    arg_nodes.append(child)
                elif child.type == "ellipsis":
                    expand = True
        return call(name, self, scope, arg_nodes, expand)

    def _for(self, node: Node, scope: Scope) -> Any:
        kids = [c for c in node.children if c.type != "comment"]
        intro = kids[1]
        names = [self.text(c) for c in intro.children if c.type == "identifier"]
        pairs = iterate(self.eval(_first(intro, "expression"), scope))
        if isinstance(pairs, Unknown):
            return pairs
        exprs = [c for c in kids if c.type == "expression"]
        cond_node = _first(node, "for_cond")
        cond = _first(cond_node, "expression") if cond_node is not None else None
        grouped = any(c.type == "ellipsis" for c in kids)
        is_object = node.type == "for_object_expr"
        out_list: list[Any] = []
        out_map: dict[str, Any] = {}
        for key, value in pairs:
            bound = {names[0]: key, names[1]: value} if len(names) > 1 else {names[0]: value}
            inner = scope.bind(bound)
            if cond is not None:
                keep = to_bool(self.eval(cond, inner))
                if isinstance(keep, Unknown):
                    return keep
                if not keep:
                    continue
            if not is_object:
                out_list.append(self.eval(exprs[0], inner))
                continue
            k = to_text(self.eval(exprs[0], inner))
            if isinstance(k, Unknown):
                return k
            v = self.eval(exprs[1], inner)
            if grouped:
                out_map.setdefault(k, []).append(v)
            elif k in out_map:
                return Unknown(f"duplicate key {k!r} in for expression", error=True)
            else:
                out_map[k] = v
        return out_map if is_object else out_list


def get_attr(value: Any, name: str) -> Any:
    if isinstance(value, Ref):
        return value.get_attr(name)
    if isinstance(value, dict):
        if name in value:
            return value[name]
        return Unknown(f"object has no attribute {name!r}", error=True)
    if isinstance(value, Unknown):
        return value
    return Unknown(f"cannot read .{name} of a {type_name(value)}", error=True)


def index(value: Any, key: Any) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(key, Unknown):
        return key
    if isinstance(value, list):
        number = to_number(key)
        if isinstance(number, Unknown):
            return number
        position = whole(number)
        if position is None or not 0 <= position < len(value):
            return Unknown(f"index {key} is out of range", error=True)
        return value[position]
    if isinstance(value, dict):
        text = to_text(key)
        if isinstance(text, Unknown):
            return text
        if text in value:
            return value[text]
        return Unknown(f"no element with key {text!r}", error=True)
    if isinstance(value, Ref):
        return Unknown(f"{value.address} has no count or for_each to index", error=True)
    return Unknown(f"cannot index a {type_name(value)}", error=True)


def iterate(items: Any) -> list[tuple[Any, Any]] | Unknown:
    if isinstance(items, Unknown):
        return items
    if isinstance(items, list):
        pairs: list[tuple[Any, Any]] = list(enumerate(items))
    elif isinstance(items, dict):
        # Terraform iterates maps and objects in key order.
        pairs = sorted(items.items())
    else:
        return Unknown(f"cannot iterate over a {type_name(items)}", error=True)
    if len(pairs) > MAX_NODES:
        return Unknown("collection is too large to iterate")
    return pairs


def _arithmetic(op: str, a: int | float, b: int | float) -> Any:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op in ("/", "%"):
        if b == 0:
            return Unknown("division by zero", error=True)
        if op == "%":
            return a % b
        result = a / b
        return int(result) if result.is_integer() else result
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    return a <= b


def _attr_names(ev: Evaluator, nodes: list[Node], start: int) -> tuple[str, ...]:
    names = []
    for node in nodes[start:]:
        if node.type != "get_attr":
            break
        names.append(ev.text(node.children[-1]))
    return tuple(names)


def _first(node: Node, kind: str) -> Any:
    for child in node.children:
        if child.type == kind:
            return child
    return None


def _markers(node: Node) -> tuple[bool, bool]:
    """Strip markers of ``${~ x ~}`` or of one ``%{~ if ~}`` piece: (before, after)."""
    kids = node.children
    lead = len(kids) > 1 and kids[1].type == "strip_marker"
    trail = len(kids) > 2 and kids[-2].type == "strip_marker"
    return lead, trail


def _heredoc_indent(raw: bytes) -> int:
    widths = []
    for line in raw.decode().split("\n"):
        if line.strip():
            widths.append(len(line) - len(line.lstrip(" \t")))
    return min(widths) if widths else 0


def _dedent(text: str, at_line_start: bool, width: int) -> str:
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i or at_line_start:
            cut = 0
            while cut < width and cut < len(line) and line[cut] in " \t":
                cut += 1
            lines[i] = line[cut:]
    return "\n".join(lines)
