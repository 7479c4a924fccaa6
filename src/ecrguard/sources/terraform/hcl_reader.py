"""The mapping's reading interface, backed by the HCL evaluator."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ecrguard.forks import can_fork, fork_map, split
from ecrguard.sources.terraform.bodies import nested_blocks
from ecrguard.sources.terraform.expressions import Scope
from ecrguard.sources.terraform.hcl import Attr, Body
from ecrguard.sources.terraform.modules import Load, ModuleInstance, ResourceInstance
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
    root: ModuleInstance,
    wanted: frozenset[str],
    unread: frozenset[str] = frozenset(),
    jobs: int = 1,
) -> list[HclInstance]:
    """Every instance of a wanted resource type, root module first, in file order.

    Attributes named in ``unread`` are not evaluated (the mapping never asks).

    Modules are walked depth first so that each one's syntax trees can go as
    soon as it and the modules it calls have been read (ModuleInstance.done);
    the instances, and the issues met on the way, keep the breadth-first order
    of a walk that reads every module first.

    With ``jobs`` > 1 the modules the root calls are cut into that many runs,
    each walked by its own process (see ecrguard.forks); the result is the
    same as walking them here.
    """
    load = root.load
    walk = _Walk(wanted, unread)
    outer = load.use_slot(walk.evaluating)
    try:
        children = walk.read(root, 0)
        if jobs > 1 and len(children) >= MIN_FORKED_MODULES and can_fork():
            _visit_forked(load, children, walk, jobs)
        else:
            for child in children:
                walk.visit(child, 1)
        root.done()
    finally:
        load.use_slot(outer)
    out: list[HclInstance] = []
    for level in walk.levels:
        for instances, slot in level:
            out.extend(instances)
            load.issues.append(slot)
    load.issues.append(walk.evaluating)
    return out


# Fewer module calls than this are read here: forking and pickling cost more
# than the walk of a few small modules.
MIN_FORKED_MODULES = 64

_Walked = tuple[list[HclInstance], list[Any]]


class _Walk:
    """What one walk reads, and what it has found so far."""

    __slots__ = ("evaluating", "levels", "unread", "wanted")

    def __init__(self, wanted: frozenset[str], unread: frozenset[str]) -> None:
        self.wanted = wanted
        self.unread = unread
        # levels[d]: (instances, issue slot) of each module d calls deep, breadth-first order.
        self.levels: list[list[_Walked]] = []
        # Issues raised while evaluating attributes: a walk that reads every
        # module first would meet them after all the others.
        self.evaluating: list[Any] = []

    def read(self, module: ModuleInstance, depth: int) -> list[ModuleInstance]:
        """Reads one module's instances into ``levels``; returns the modules it calls."""
        load = module.load
        slot: list[Any] = []
        load.use_slot(slot)
        try:
            found = [
                inst
                for decl in module.mdir.resources
                if decl.type in self.wanted
                for inst in module.resource_instances(decl)
            ]
            children = module.children()
        finally:
            load.use_slot(self.evaluating)
        # Depth first, each level in visiting order: for a tree that is the
        # breadth-first order (both sort modules by the path of call indexes).
        self.add(depth, [([HclInstance(inst, self.unread) for inst in found], slot)])
        return children

    def visit(self, module: ModuleInstance, depth: int) -> None:
        # A method, not a closure: a recursive closure is a reference cycle that
        # would keep everything it saw alive until the garbage collector ran.
        for child in self.read(module, depth):
            self.visit(child, depth + 1)
        module.done()

    def add(self, depth: int, modules: list[_Walked]) -> None:
        while len(self.levels) <= depth:
            self.levels.append([])
        self.levels[depth].extend(modules)


def _visit_forked(load: Load, children: list[ModuleInstance], walk: _Walk, jobs: int) -> None:
    """Walks runs of ``children`` in forked processes and merges what they found in order."""
    # Issue slots of directories already listed: a child process that parses
    # one of them fills its own copy, which has to come back.
    shared = load.dir_slots()
    known = {path: len(slot) for path, slot in shared.items()}

    def run_walk(run: Sequence[ModuleInstance]) -> tuple[list[list[_Walked]], list[Any], dict]:
        sub = _Walk(walk.wanted, walk.unread)
        load.use_slot(sub.evaluating)
        try:
            for child in run:
                sub.visit(child, 1)
        finally:
            load.use_slot(walk.evaluating)
        added = {
            path: slot[known[path] :]
            for path, slot in load.dir_slots().items()
            if len(slot) > known.get(path, len(slot))
        }
        return sub.levels, sub.evaluating, added

    for levels, evaluating, added in fork_map(run_walk, split(children, jobs)):
        for depth, modules in enumerate(levels):
            walk.add(depth, modules)
        walk.evaluating.extend(evaluating)
        # What the first run (done in this process) added is here already:
        # collected_issues() keeps each issue once.
        for path, items in added.items():
            shared[path].extend(items)


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
