"""Condition operators and the set/absence semantics of IAM conditions.

Semantics, from the IAM policy-evaluation documentation:
- several keys in one block are ANDed; several values for one key are ORed;
- a negated operator (StringNotEquals, ArnNotLike, NotIpAddress, ...) holds
  when no request value matches any policy value, so it holds when the key is
  absent;
- ``...IfExists`` holds when the key is absent;
- ``ForAllValues:`` holds when the key is absent or empty; ``ForAnyValue:``
  does not;
- ``Null: true`` holds when the key is absent.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from ecrguard.policy.glob import arn_match, glob_match
from ecrguard.policy.parse import Condition

Compare = Callable[[str, str], bool]


# A JSON-style number. Python's float() also takes "1_000", " 1 ", "nan" and
# "infinity", which IAM does not treat as numbers.
_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _num(text: str) -> float | None:
    return float(text) if _NUMBER.fullmatch(text) else None


def _date(text: str) -> float | None:
    if _NUMBER.fullmatch(text):
        return float(text)  # epoch seconds are accepted too
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _ordered(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Compare:
    def compare(request: str, policy: str) -> bool:
        a, b = parse(request), parse(policy)
        return a is not None and b is not None and test(a, b)

    return compare


def _ip(request: str, policy: str) -> bool:
    try:
        return ipaddress.ip_address(request) in ipaddress.ip_network(policy, strict=False)
    except ValueError:
        return False


def _bool(request: str, policy: str) -> bool:
    return request.lower() == policy.lower()


# base operator -> (comparison, negated)
OPERATORS: dict[str, tuple[Compare, bool]] = {
    "stringequals": (lambda r, p: r == p, False),
    "stringnotequals": (lambda r, p: r == p, True),
    "stringequalsignorecase": (lambda r, p: r.lower() == p.lower(), False),
    "stringnotequalsignorecase": (lambda r, p: r.lower() == p.lower(), True),
    "stringlike": (lambda r, p: glob_match(p, r), False),
    "stringnotlike": (lambda r, p: glob_match(p, r), True),
    "arnequals": (lambda r, p: arn_match(p, r), False),
    "arnlike": (lambda r, p: arn_match(p, r), False),
    "arnnotequals": (lambda r, p: arn_match(p, r), True),
    "arnnotlike": (lambda r, p: arn_match(p, r), True),
    "numericequals": (_ordered(_num, lambda a, b: a == b), False),
    "numericnotequals": (_ordered(_num, lambda a, b: a == b), True),
    "numericlessthan": (_ordered(_num, lambda a, b: a < b), False),
    "numericlessthanequals": (_ordered(_num, lambda a, b: a <= b), False),
    "numericgreaterthan": (_ordered(_num, lambda a, b: a > b), False),
    "numericgreaterthanequals": (_ordered(_num, lambda a, b: a >= b), False),
    "dateequals": (_ordered(_date, lambda a, b: a == b), False),
    "datenotequals": (_ordered(_date, lambda a, b: a == b), True),
    "datelessthan": (_ordered(_date, lambda a, b: a < b), False),
    "datelessthanequals": (_ordered(_date, lambda a, b: a <= b), False),
    "dategreaterthan": (_ordered(_date, lambda a, b: a > b), False),
    "dategreaterthanequals": (_ordered(_date, lambda a, b: a >= b), False),
    "bool": (_bool, False),
    "binaryequals": (lambda r, p: r == p, False),
    "ipaddress": (_ip, False),
    "notipaddress": (_ip, True),
    "null": (lambda r, p: True, False),  # handled specially
}

NEGATED = frozenset(name for name, (_, neg) in OPERATORS.items() if neg)

Context = Mapping[str, tuple[str, ...]]


def condition_holds(cond: Condition, context: Context) -> bool:
    values = context.get(cond.key)
    if cond.base == "null":
        absent = not values
        # Several values are ORed like any other operator.
        return any((v.lower() == "true") == absent for v in cond.values)
    compare, negated = OPERATORS[cond.base]

    def matches(request_value: str) -> bool:
        return any(compare(request_value, p) for p in cond.values)

    def single(request_value: str) -> bool:
        return not matches(request_value) if negated else matches(request_value)

    if not values:
        if cond.if_exists:
            return True
        if cond.qualifier == "forallvalues":
            return True
        if cond.qualifier == "foranyvalue":
            return False
        return negated
    if cond.qualifier == "forallvalues":
        return all(single(v) for v in values)
    if cond.qualifier == "foranyvalue":
        return any(single(v) for v in values)
    # A single-valued operator on a key with several values: the positive form
    # needs one request value to match; the negated form needs none to match.
    if negated:
        return not any(matches(v) for v in values)
    return any(matches(v) for v in values)


def conditions_hold(conditions: tuple[Condition, ...], context: Context) -> bool:
    return all(condition_holds(c, context) for c in conditions)
