"""The mapping's reading interface, backed by the HCL evaluator."""

from __future__ import annotations

import json
from typing import Any

from ecrguard.sources.terraform.bodies import nested_blocks
from ecrguard.sources.terraform.expressions import Scope
from ecrguard.sources.terraform.hcl import Attr, Body
from ecrguard.sources.terraform.modules import ModuleInstance, ResourceInstance
from ecrguard.sources.terraform.reading import Block, Found
from ecrguard.sources.terraform.values import Unknown, resolve_deep

# Nested blocks are read this deep at most; the mapping reads three levels
# (replication_configuration > rule > destination).
MAX_BLOCK_DEPTH = 8


class HclBlock:
    """A resource body or nested block, read into plain values.

    The walk reads a module's resources while that module's syntax trees are in
    memory, then lets the trees go; so every attribute and nested block is
    evaluated here, whichever of them the mapping turns out to read.
    """

    __slots__ = ("_attrs", "_blocks", "_refs", "_unread", "line")

    def __init__(
        self,
        inst: ResourceInstance,
        body: Body,
        scope: Scope,
        line: int,
        unread: frozenset[str],
        depth: int = 0,
    ) -> None:
        self.line = line
        self._unread = unread
        ev = inst.module.load.ev
        self._attrs: dict[str, Found] = {}
        self._refs: dict[str, tuple[str, str, str]] = {}
        for name, attr in body.attrs.items():
            if name in unread:
                continue
            value = resolve_deep(ev.evaluate(attr, scope))
            self._attrs[name] = Found(value, attr.line)
            ref = _reference(inst, attr, scope)
            if ref is not None:
                self._refs[name] = ref
        self._blocks: dict[str, list[Block] | Unknown] = {}
        for block in body.blocks:
            kind = block.labels[0] if block.type == "dynamic" and block.labels else block.type
            if kind in self._blocks:
                continue
            if depth >= MAX_BLOCK_DEPTH:
                self._blocks[kind] = Unknown(f"{kind} blocks nested too deeply; not read")
                continue
            found = nested_blocks(ev, body, kind, scope)
            self._blocks[kind] = (
                found
                if isinstance(found, Unknown)
                else [HclBlock(inst, n.body, n.scope, n.line, unread, depth + 1) for n in found]
            )

    def attr(self, name: str) -> Found | None:
        if name in self._unread:
            raise LookupError(f"{name} was not read: remove it from mapping.UNREAD")
        return self._attrs.get(name)

    def blocks(self, name: str) -> list[Block] | Unknown:
        return self._blocks.get(name, [])

    def reference(self, name: str, type_: str, attrs: tuple[str, ...]) -> str | None:
        ref = self._refs.get(name)
        if ref is None or ref[0] != type_ or ref[2] not in attrs:
            return None
        return ref[1]


class HclInstance:
    __slots__ = ("account", "address", "body", "file", "line", "order", "region", "type")

    def __init__(self, inst: ResourceInstance, unread: frozenset[str]) -> None:
        decl = inst.decl
        self.address = inst.address
        self.type = decl.type
        self.file = decl.file
        self.line: int | None = decl.block.line
        self.account = inst.module.load.owner_account
        self.region = inst.region
        self.order = (inst.module.depth, decl.file, decl.block.line)
        self.body = HclBlock(inst, inst.body, inst.scope, decl.block.line, unread)


def hcl_instances(
    root: ModuleInstance, wanted: frozenset[str], unread: frozenset[str] = frozenset()
) -> list[HclInstance]:
    """Every instance of a wanted resource type, root module first, in file order.

    Attributes named in ``unread`` are not evaluated (the mapping never asks).

    Modules are walked depth first so that each one's syntax trees can go as
    soon as it and the modules it calls have been read (ModuleInstance.done);
    the instances, and the issues met on the way, keep the breadth-first order
    of a walk that reads every module first.
    """
    load = root.load
    # Issues raised while evaluating attributes: a walk that reads every
    # module first would meet them after all the others.
    evaluating: list[Any] = []
    walked: dict[int, _Walked] = {}
    outer = load.use_slot(evaluating)
    try:
        _visit(root, wanted, unread, walked, evaluating)
    finally:
        load.use_slot(outer)
    out: list[HclInstance] = []
    queue = [root]
    for module in queue:  # grows while it is read: breadth first
        instances, children, slot = walked[id(module)]
        out.extend(instances)
        load.issues.append(slot)
        queue.extend(children)
    load.issues.append(evaluating)
    return out


_Walked = tuple[list[HclInstance], list[ModuleInstance], list[Any]]


def _visit(
    module: ModuleInstance,
    wanted: frozenset[str],
    unread: frozenset[str],
    walked: dict[int, _Walked],
    evaluating: list[Any],
) -> None:
    # A plain function, not a closure: a recursive closure is a reference cycle
    # that would keep everything it saw alive until the garbage collector ran.
    load = module.load
    slot: list[Any] = []
    load.use_slot(slot)
    try:
        found = [
            inst
            for decl in module.mdir.resources
            if decl.type in wanted
            for inst in module.resource_instances(decl)
        ]
        children = module.children()
    finally:
        load.use_slot(evaluating)
    walked[id(module)] = ([HclInstance(inst, unread) for inst in found], children, slot)
    for child in children:
        _visit(child, wanted, unread, walked, evaluating)
    module.done()


def _reference(inst: ResourceInstance, attr: Attr, scope: Scope) -> tuple[str, str, str] | None:
    """``type.x[k].a`` → (type, address of ``type.x[k]``, a), read from the syntax so the
    address is known even when the value is not."""
    kids = [c for c in attr.expr.children if c.type != "comment"]
    if len(kids) < 3 or kids[0].type != "variable_expr" or kids[1].type != "get_attr":
        return None
    type_ = attr.text(kids[0])
    address = f"{inst.module.prefix}{type_}.{attr.text(kids[1].children[-1])}"
    rest = kids[2:]
    if rest and rest[0].type == "index":
        inner = rest[0].children[0]
        if inner.type == "legacy_index":
            key: Any = int(attr.text(inner)[1:])
        else:
            key = resolve_deep(
                inst.module.load.ev.evaluate_node(inner.children[1], attr.src, scope)
            )
        if isinstance(key, bool) or not isinstance(key, (int, float, str)):
            return None
        address += f"[{json.dumps(key) if isinstance(key, str) else int(key)}]"
        rest = rest[1:]
    if len(rest) == 1 and rest[0].type == "get_attr":
        return type_, address, attr.text(rest[0].children[-1])
    return None
