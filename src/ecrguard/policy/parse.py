"""Parse IAM policy documents into frozen statements.

Both policy versions (2008-10-17 and 2012-10-17) share one grammar here; the
difference that matters to evaluation (policy variables) is not used by the ECR
rules, and ``${...}`` is kept as literal text in either version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from ecrguard.errors import PolicyParseError

VERSIONS = ("2008-10-17", "2012-10-17")
SET_QUALIFIERS = ("forallvalues", "foranyvalue")
MAX_POLICY_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Condition:
    """One operator/key pair of a Condition block, with its values ORed."""

    operator: str  # as written, e.g. "ForAnyValue:StringLikeIfExists"
    base: str  # normalized base operator, lower-case, e.g. "stringlike"
    qualifier: str | None  # "forallvalues" | "foranyvalue" | None
    if_exists: bool
    key: str  # lower-case: condition keys are case-insensitive
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Principal:
    """A Principal/NotPrincipal element. ``"*"`` becomes ``{"AWS": ("*",)}``."""

    entries: tuple[tuple[str, tuple[str, ...]], ...]  # (type, identifiers)

    def of_type(self, kind: str) -> tuple[str, ...]:
        for t, ids in self.entries:
            if t == kind:
                return ids
        return ()

    @property
    def is_wildcard(self) -> bool:
        return any("*" in ids for t, ids in self.entries if t in ("AWS", "*"))


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str | None
    effect: str  # "Allow" | "Deny"
    principal: Principal | None
    not_principal: Principal | None
    actions: tuple[str, ...] | None
    not_actions: tuple[str, ...] | None
    resources: tuple[str, ...] | None
    not_resources: tuple[str, ...] | None
    conditions: tuple[Condition, ...]
    index: int  # position in the policy, for messages

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else f"statement #{self.index + 1}"


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]
    id: str | None = None


# A scan asks about the same documents again and again: three rules read every
# repository policy, and generated configurations repeat a few policies
# thousands of times. A Policy is immutable, so one parse can serve them all.
_PARSED: dict[str, Policy] = {}
_PARSED_MAX = 1024
# Keys stay in memory, so a document larger than this is parsed every time;
# resource policies are a few KiB.
_PARSED_KEY_MAX = 32_768


def parse_policy(doc: str | bytes | dict[str, Any]) -> Policy:
    """Parse a policy from JSON text or an already-decoded dict.

    Raises :class:`PolicyParseError` with a one-line message on anything that is
    not a policy (truncated JSON, a list, a missing Statement, a bad Effect...).
    """
    if not isinstance(doc, dict):
        return _parse(doc)
    key = _content_key(doc)
    if key is None:
        return _parse(doc)
    policy = _PARSED.get(key)
    if policy is None:
        policy = _parse(doc)  # errors are not cached: they are rare and cheap
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()  # one call, so safe for threads; a full cache is rare
        _PARSED[key] = policy
    return policy


def clear_cache() -> None:
    _PARSED.clear()


def _content_key(doc: dict[str, Any]) -> str | None:
    """A key equal only for documents that parse alike.

    ``repr`` rather than ``json.dumps``: JSON writes a tuple like a list and a key
    1 or None like "1" or "null", which parse differently; ``repr`` keeps every
    type that JSON, YAML and HCL values can have apart.
    """
    try:
        key = repr(doc)
    except Exception:  # a deeply nested or odd document: parse it, uncached
        return None
    return key if len(key) <= _PARSED_KEY_MAX else None


def _parse(doc: str | bytes | dict[str, Any]) -> Policy:
    data = _decode(doc) if isinstance(doc, str | bytes) else doc
    if not isinstance(data, dict):
        raise PolicyParseError(f"a policy must be a JSON object, got {_kind(data)}")
    version = data.get("Version", "2008-10-17")
    if isinstance(version, date):
        # CloudFormation YAML with an unquoted `Version: 2012-10-17` loads as a date.
        version = version.isoformat()
    if version not in VERSIONS:
        raise PolicyParseError(
            f"unknown policy Version {_show(version)}; expected one of {', '.join(VERSIONS)}"
        )
    raw = data.get("Statement")
    if raw is None:
        raise PolicyParseError("policy has no Statement")
    items = [raw] if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        raise PolicyParseError(f"Statement must be an object or a list, got {_kind(raw)}")
    statements = tuple(_statement(item, i) for i, item in enumerate(items))
    pid = data.get("Id")
    return Policy(str(version), statements, pid if isinstance(pid, str) else None)


def _decode(text: str | bytes) -> Any:
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyParseError(f"policy is larger than {MAX_POLICY_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            # utf-8-sig: editors on Windows save JSON with a byte-order mark.
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise PolicyParseError("policy is not UTF-8 text (a binary file?)") from None
    text = text.removeprefix("\ufeff")
    if "\0" in text:
        # JSON never holds a raw NUL; without this, NUL padding reads as "Expecting value".
        raise PolicyParseError("policy is a binary file (it holds NUL bytes), not JSON")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise PolicyParseError(
            f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
        ) from None
    except RecursionError:
        # The C decoder recurses once per level; 20,000 nested brackets end here quickly.
        raise PolicyParseError("JSON is nested too deeply to be a policy") from None
    except ValueError as err:
        # Not a JSONDecodeError: NaN/Infinity, which JSON does not allow, or an integer
        # longer than Python's int-conversion limit (whose message talks about sys.*).
        if "digits" in str(err):
            raise PolicyParseError("invalid JSON: a number has thousands of digits") from None
        raise PolicyParseError(f"invalid JSON: {err}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


_KINDS: dict[type, str] = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    type(None): "null",
}


def _kind(value: Any) -> str:
    return _KINDS.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    """A short repr for messages: one line, whatever the document holds."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _strings(value: Any, what: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise PolicyParseError(f"{where}: {what} must be a string or a list of strings")


def _principal(value: Any, where: str) -> Principal:
    if value == "*":
        return Principal((("AWS", ("*",)),))
    if not isinstance(value, dict) or not value:
        raise PolicyParseError(f'{where}: Principal must be "*" or an object like {{"AWS": ...}}')
    entries = []
    for kind, ids in value.items():
        if kind not in ("AWS", "Service", "Federated", "CanonicalUser"):
            raise PolicyParseError(f"{where}: unknown principal type {_show(kind)}")
        entries.append((kind, _strings(ids, f"Principal {kind}", where)))
    return Principal(tuple(entries))


def _conditions(value: Any, where: str) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise PolicyParseError(f"{where}: Condition must be an object")
    out = []
    for operator, block in value.items():
        if not isinstance(block, dict):
            raise PolicyParseError(f"{where}: condition {operator} must map keys to values")
        qualifier, base, if_exists = _split_operator(str(operator), where)
        for key, vals in block.items():
            values = []
            for v in vals if isinstance(vals, list) else [vals]:
                if isinstance(v, bool):
                    values.append("true" if v else "false")
                elif isinstance(v, str | int | float):
                    values.append(str(v))
                elif isinstance(v, date):
                    # A YAML timestamp (CloudFormation) for a Date* operator.
                    values.append(v.isoformat())
                else:
                    raise PolicyParseError(
                        f"{where}: condition value for {_show(key)} must be a string, number "
                        f"or boolean, got {_kind(v)}"
                    )
            name = str(key).lower()
            out.append(Condition(str(operator), base, qualifier, if_exists, name, tuple(values)))
    return tuple(out)


def _split_operator(operator: str, where: str) -> tuple[str | None, str, bool]:
    name = operator.lower()
    qualifier = None
    if ":" in name:
        prefix, name = name.split(":", 1)
        if prefix not in SET_QUALIFIERS:
            raise PolicyParseError(f"{where}: unknown condition qualifier in {_show(operator)}")
        qualifier = prefix
    if_exists = name.endswith("ifexists")
    if if_exists:
        name = name[: -len("ifexists")]
    from ecrguard.policy.conditions import OPERATORS

    if name not in OPERATORS:
        raise PolicyParseError(f"{where}: unknown condition operator {_show(operator)}")
    if if_exists and name == "null":
        raise PolicyParseError(f"{where}: Null cannot be combined with IfExists")
    return qualifier, name, if_exists


def _statement(item: Any, index: int) -> Statement:
    where = f"Statement #{index + 1}"
    if not isinstance(item, dict):
        raise PolicyParseError(f"{where} must be an object")
    sid = item.get("Sid")
    if isinstance(sid, str) and sid:
        where = f"Statement {_show(sid)}"
    effect = item.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyParseError(f'{where}: Effect must be "Allow" or "Deny", got {_show(effect)}')
    if "Principal" in item and "NotPrincipal" in item:
        raise PolicyParseError(f"{where}: has both Principal and NotPrincipal")
    if ("Action" in item) == ("NotAction" in item):
        raise PolicyParseError(f"{where}: needs exactly one of Action or NotAction")
    if "Resource" in item and "NotResource" in item:
        raise PolicyParseError(f"{where}: has both Resource and NotResource")

    def opt(key: str) -> tuple[str, ...] | None:
        return _strings(item[key], key, where) if key in item else None

    return Statement(
        sid=sid if isinstance(sid, str) else None,
        effect=effect,
        principal=_principal(item["Principal"], where) if "Principal" in item else None,
        not_principal=_principal(item["NotPrincipal"], where) if "NotPrincipal" in item else None,
        actions=opt("Action"),
        not_actions=opt("NotAction"),
        resources=opt("Resource"),
        not_resources=opt("NotResource"),
        conditions=_conditions(item["Condition"], where) if "Condition" in item else (),
        index=index,
    )
