"""Evaluated HCL values: plain Python data, plus unknowns and lazy references.

A value is ``None``, ``bool``, ``int``, ``float``, ``str``, ``list``, ``dict``,
an :class:`Unknown`, or a :class:`Ref` (a resource, data source or module
instance whose attributes are evaluated only when read). Collections may hold
unknowns: ``local.tags.team`` can resolve while ``local.tags.owner`` does not.
"""

from __future__ import annotations

import math
from typing import Any

# A value made from shared sub-lists can be exponentially larger than the
# configuration that built it; every deep walk stops after this many nodes.
MAX_NODES = 200_000
MAX_STRING = 1_000_000
MAX_DEPTH = 100


class Unknown:
    """A value Terraform would know only at apply time, or never (an error).

    ``error`` separates "this would fail" from "this is not known here": only
    errors let ``try()`` fall through to its next argument.
    """

    __slots__ = ("error", "reason")

    def __init__(self, reason: str, error: bool = False) -> None:
        self.reason = reason
        self.error = error

    def __repr__(self) -> str:
        return f"Unknown({self.reason!r})"


class JsonText(str):
    """JSON text from ``jsonencode()`` or a policy document, with the value it encodes.

    Policies are almost always built this way; keeping the value saves decoding
    the text again when the model wants the document.
    """

    decoded: Any = None


def json_text(value: Any, text: str) -> JsonText:
    out = JsonText(text)
    out.decoded = value
    return out


class Ref:
    """Something with attributes read on demand (resource, data source, module)."""

    address = ""

    def get_attr(self, name: str) -> Any:
        raise NotImplementedError


def resolve_deep(value: Any) -> Any:
    """``value`` as plain data, or the first :class:`Unknown` found inside it.

    The result is never nested deeper than ``MAX_DEPTH``, so later recursive
    code (json.dumps, the policy engine) cannot be driven into a RecursionError.
    """
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Ref):
        return Unknown(f"{value.address} is a whole object, not a value")
    out = _copy(value)
    budget = MAX_NODES
    # Iterative: depth comes from the input; each stack entry is (source, copy, depth).
    stack: list[tuple[Any, Any, int]] = [(value, out, 1)]
    while stack:
        src, dst, depth = stack.pop()
        if depth > MAX_DEPTH:
            return Unknown(f"value is nested more than {MAX_DEPTH} levels deep")
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, item in items:
            budget -= 1
            if budget < 0:
                return Unknown("value is too large to evaluate")
            if isinstance(item, Unknown):
                return item
            if isinstance(item, Ref):
                return Unknown(f"{item.address} is a whole object, not a value")
            if isinstance(item, (list, dict)):
                copy = _copy(item)
                dst[key] = copy
                stack.append((item, copy, depth + 1))
            else:
                dst[key] = item
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    raise TypeError(type(value).__name__)


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    stack = [(value, 0)]
    budget = MAX_NODES
    while stack:
        item, depth = stack.pop()
        budget -= 1
        if depth > limit or budget < 0:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "object reference"


def number_text(value: int | float) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def to_text(value: Any) -> str | Unknown:
    """How a value appears when interpolated into a string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, Unknown):
        return value
    if value is None:
        return Unknown("null value in a string template", error=True)
    return Unknown(f"cannot use a {type_name(value)} in a string template", error=True)


def to_number(value: Any) -> int | float | Unknown:
    if isinstance(value, bool):
        return Unknown("expected a number, got bool", error=True)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, Unknown):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                pass
    return Unknown(f"expected a number, got {type_name(value)}", error=True)


def whole(value: int | float) -> int | None:
    """``value`` as an int if it is a whole number (without float overflow on huge ints)."""
    if isinstance(value, int):
        return value
    return int(value) if value.is_integer() else None


def to_bool(value: Any) -> bool | Unknown:
    if isinstance(value, bool):
        return value
    if isinstance(value, Unknown):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return Unknown(f"expected a bool, got {type_name(value)}", error=True)


def equal(left: Any, right: Any) -> bool:
    """HCL equality: values of different types are never equal (``1 != true``)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return left == right
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        if len(left) != len(right):
            return False
        return all(equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    return bool(left == right)
