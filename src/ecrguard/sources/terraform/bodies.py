"""Nested blocks as Terraform sees them: static blocks plus expanded ``dynamic`` ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ecrguard.sources.terraform.expressions import iterate
from ecrguard.sources.terraform.hcl import Body
from ecrguard.sources.terraform.values import MAX_NODES, Unknown

if TYPE_CHECKING:
    from ecrguard.sources.terraform.expressions import Evaluator, Scope


class Nested:
    """One nested block, with the scope its attributes are evaluated in."""

    __slots__ = ("body", "line", "scope")

    def __init__(self, body: Body, line: int, scope: Scope) -> None:
        self.body = body
        self.line = line
        self.scope = scope


def nested_blocks(ev: Evaluator, body: Body, type_: str, scope: Scope) -> list[Nested] | Unknown:
    """Every ``type_`` block in source order; Unknown if a dynamic one cannot expand."""
    out: list[Nested] = []
    for block in body.blocks:
        if block.type == type_:
            out.append(Nested(block.body, block.line, scope))
            continue
        if block.type != "dynamic" or block.labels[:1] != (type_,):
            continue
        dyn = block.body
        if "for_each" not in dyn.attrs:
            return Unknown(f'dynamic "{type_}" block at line {block.line} has no for_each')
        iterator = type_
        if "iterator" in dyn.attrs:
            # The iterator is a bare name, not an expression to evaluate.
            iterator = dyn.attrs["iterator"].text().strip()
        pairs = iterate(ev.evaluate(dyn.attrs["for_each"], scope))
        if isinstance(pairs, Unknown):
            return Unknown(f'dynamic "{type_}" at line {block.line}: {pairs.reason}')
        contents = dyn.blocks_of("content")
        if not contents:
            continue
        content = contents[0]
        for key, value in pairs:
            inner = scope.bind({iterator: {"key": key, "value": value}})
            out.append(Nested(content.body, content.line, inner))
            if len(out) > MAX_NODES:
                return Unknown("too many nested blocks")
    return out
