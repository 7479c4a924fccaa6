"""The mapping's reading interface, backed by the HCL evaluator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ecrguard.sources.terraform.bodies import nested_blocks
from ecrguard.sources.terraform.expressions import Scope
from ecrguard.sources.terraform.hcl import Attr, Body
from ecrguard.sources.terraform.modules import ModuleInstance, ResourceInstance
from ecrguard.sources.terraform.reading import Block, Found
from ecrguard.sources.terraform.values import Unknown, resolve_deep


class HclBlock:
    __slots__ = ("body", "inst", "line", "scope")

    def __init__(self, inst: ResourceInstance, body: Body, scope: Scope, line: int) -> None:
        self.inst = inst
        self.body = body
        self.scope = scope
        self.line = line

    def attr(self, name: str) -> Found | None:
        attr = self.body.attrs.get(name)
        if attr is None:
            return None
        value = resolve_deep(self.inst.module.load.ev.evaluate(attr, self.scope))
        return Found(value, attr.line)

    def blocks(self, name: str) -> list[Block] | Unknown:
        found = nested_blocks(self.inst.module.load.ev, self.body, name, self.scope)
        if isinstance(found, Unknown):
            return found
        return [HclBlock(self.inst, n.body, n.scope, n.line) for n in found]

    def reference(self, name: str, type_: str, attrs: tuple[str, ...]) -> str | None:
        attr = self.body.attrs.get(name)
        return _reference_address(self, attr, type_, attrs) if attr is not None else None


class HclInstance:
    __slots__ = ("account", "address", "body", "file", "line", "order", "region", "type")

    def __init__(self, inst: ResourceInstance) -> None:
        decl = inst.decl
        self.address = inst.address
        self.type = decl.type
        self.file = decl.file
        self.line: int | None = decl.block.line
        self.account = inst.module.load.owner_account
        self.region = inst.region
        self.order = (inst.module.depth, decl.file, decl.block.line)
        self.body = HclBlock(inst, inst.body, inst.scope, decl.block.line)


def hcl_instances(root: ModuleInstance, wanted: frozenset[str]) -> Iterator[HclInstance]:
    """Every instance of a wanted resource type, root module first, in file order."""
    queue = [root]
    while queue:
        module = queue.pop(0)
        for decl in module.mdir.resources:
            if decl.type in wanted:
                for inst in module.resource_instances(decl):
                    yield HclInstance(inst)
        queue.extend(module.children())


def _reference_address(
    block: HclBlock, attr: Attr, type_: str, attrs: tuple[str, ...]
) -> str | None:
    """``type_.x[k].name`` → ``type_.x[k]``, read from the syntax so the name need not resolve."""
    kids = [c for c in attr.expr.children if c.type != "comment"]
    if len(kids) < 3 or kids[0].type != "variable_expr" or attr.text(kids[0]) != type_:
        return None
    if kids[1].type != "get_attr":
        return None
    inst = block.inst
    address = f"{inst.module.prefix}{type_}.{attr.text(kids[1].children[-1])}"
    rest = kids[2:]
    if rest and rest[0].type == "index":
        inner = rest[0].children[0]
        if inner.type == "legacy_index":
            key: Any = int(attr.text(inner)[1:])
        else:
            key = resolve_deep(
                inst.module.load.ev.evaluate_node(inner.children[1], attr.src, block.scope)
            )
        if isinstance(key, bool) or not isinstance(key, (int, float, str)):
            return None
        address += f"[{json.dumps(key) if isinstance(key, str) else int(key)}]"
        rest = rest[1:]
    if len(rest) == 1 and rest[0].type == "get_attr" and attr.text(rest[0].children[-1]) in attrs:
        return address
    return None
