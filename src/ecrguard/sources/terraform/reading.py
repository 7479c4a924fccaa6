"""One resource instance as the mapping reads it, whatever format declared it.

The mapping (``mapping.py``) turns Terraform resources into the model once.
It reads them through this small interface, which the HCL evaluator
(``hcl_reader.py``) and the plan JSON reader (``plan.py``) both implement, so
an ``aws_*`` type is never mapped twice.
"""

from __future__ import annotations

from typing import Any, Protocol

from ecrguard.sources.terraform.values import Unknown


class Found:
    """An attribute the configuration writes: its value (plain data or Unknown) and line."""

    __slots__ = ("line", "value")

    def __init__(self, value: Any, line: int | None) -> None:
        self.value = value
        self.line = line


class Block(Protocol):
    """A resource body or one nested block inside it."""

    @property
    def line(self) -> int | None: ...

    def attr(self, name: str) -> Found | None:
        """The attribute, or None when the configuration leaves it to the AWS default."""
        ...

    def blocks(self, name: str) -> list[Block] | Unknown:
        """Nested blocks of that type in order; Unknown when they cannot be known yet."""
        ...

    def reference(self, name: str, type_: str, attrs: tuple[str, ...]) -> str | None:
        """The address of the ``type_`` resource the attribute refers to directly, if any.

        Matches ``type_.x[key].a`` for ``a`` in ``attrs``; lets a policy find its
        repository when the repository's name is not known.
        """
        ...


class Instance(Protocol):
    """One resource instance (after count/for_each) of a mapped type."""

    @property
    def address(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def file(self) -> str: ...

    @property
    def line(self) -> int | None: ...

    @property
    def account(self) -> str | None: ...

    @property
    def region(self) -> str | None: ...

    @property
    def order(self) -> tuple[int, str, int]:
        """Where it sits: (module depth, file, line); the first registry-level resource names the registry."""
        ...

    @property
    def body(self) -> Block: ...
