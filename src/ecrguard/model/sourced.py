"""Values that remember where they came from.

Every attribute a rule reads is a :class:`Sourced` value. It records the origin
(an ARN for live resources, ``file:line`` for IaC) and whether the value was set
explicitly, took the service default, or could not be resolved (an unknown
Terraform variable, an ``after_unknown`` plan value, an API call that was
denied). Rules must turn an unresolved value into UNKNOWN, never PASS.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class State(StrEnum):
    SET = "set"
    DEFAULT = "default"
    UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a value or resource came from.

    ``ref`` is the ARN or the IaC address (``aws_ecr_repository.app``,
    ``module.m.aws_ecr_repository.x``, a CloudFormation logical id). ``file``
    and ``line`` are set for IaC sources.
    """

    ref: str
    file: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        if self.file is not None:
            return f"{self.file}:{self.line}" if self.line else self.file
        return self.ref

    def at(self, line: int | None) -> Origin:
        """The same resource, pointing at another line (an attribute's line)."""
        return Origin(self.ref, self.file, line if line is not None else self.line)


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    value: T | None
    origin: Origin
    state: State = State.SET
    reason: str = ""

    @property
    def resolved(self) -> bool:
        return self.state is not State.UNRESOLVED

    @classmethod
    def set(cls, value: T, origin: Origin) -> Sourced[T]:
        return cls(value, origin, State.SET)

    @classmethod
    def default(cls, value: T | None, origin: Origin) -> Sourced[T]:
        return cls(value, origin, State.DEFAULT)

    @classmethod
    def unresolved(cls, origin: Origin, reason: str) -> Sourced[T]:
        return cls(None, origin, State.UNRESOLVED, reason)

    def get(self) -> T:
        """The value; raises if unresolved (callers should check ``resolved``)."""
        if self.state is State.UNRESOLVED:
            raise ValueError(f"unresolved value at {self.origin}: {self.reason}")
        return self.value  # type: ignore[return-value]
