"""``data "aws_iam_policy_document"`` rendered to the IAM JSON it produces.

The shapes follow the AWS provider: a one-element list becomes a string, a
``"*"`` principal of type ``"*"`` becomes ``"Principal": "*"``, and statements
of ``override_policy_documents`` replace same-``Sid`` statements.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ecrguard.sources.terraform.bodies import nested_blocks
from ecrguard.sources.terraform.values import Unknown, resolve_deep, to_text

if TYPE_CHECKING:
    from ecrguard.sources.terraform.expressions import Evaluator, Scope
    from ecrguard.sources.terraform.hcl import Body

_LISTS = (
    ("actions", "Action"),
    ("not_actions", "NotAction"),
    ("resources", "Resource"),
    ("not_resources", "NotResource"),
)


class _Stop(Exception):
    def __init__(self, unknown: Unknown) -> None:
        self.unknown = unknown


def build(ev: Evaluator, body: Body, scope: Scope) -> dict[str, Any] | Unknown:
    try:
        return _document(ev, body, scope)
    except _Stop as stop:
        return stop.unknown


def _value(ev: Evaluator, body: Body, name: str, scope: Scope) -> Any:
    attr = body.attrs.get(name)
    if attr is None:
        return None
    value = resolve_deep(ev.evaluate(attr, scope))
    if isinstance(value, Unknown):
        raise _Stop(Unknown(f"{name} (line {attr.line}): {value.reason}", value.error))
    return value


def _strings(ev: Evaluator, body: Body, name: str, scope: Scope) -> list[str] | None:
    value = _value(ev, body, name, scope)
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = to_text(item)
        if isinstance(text, Unknown):
            raise _Stop(Unknown(f"{name}: {text.reason}", error=True))
        out.append(text)
    return out


def _collapse(items: list[str]) -> str | list[str]:
    return items[0] if len(items) == 1 else items


def _blocks(ev: Evaluator, body: Body, name: str, scope: Scope) -> list[Any]:
    found = nested_blocks(ev, body, name, scope)
    if isinstance(found, Unknown):
        raise _Stop(found)
    return found


def _document(ev: Evaluator, body: Body, scope: Scope) -> dict[str, Any]:
    doc: dict[str, Any] = {"Version": _value(ev, body, "version", scope) or "2012-10-17"}
    policy_id = _value(ev, body, "policy_id", scope)
    if policy_id:
        doc["Id"] = policy_id
    statements: list[dict[str, Any]] = []
    for source in _value(ev, body, "source_policy_documents", scope) or []:
        statements.extend(_statements_of(source))
    for block in _blocks(ev, body, "statement", scope):
        _upsert(statements, _statement(ev, block.body, block.scope))
    for override in _value(ev, body, "override_policy_documents", scope) or []:
        for statement in _statements_of(override):
            _upsert(statements, statement)
    doc["Statement"] = statements
    return doc


def _upsert(statements: list[dict[str, Any]], statement: dict[str, Any]) -> None:
    sid = statement.get("Sid")
    if sid:
        for i, existing in enumerate(statements):
            if existing.get("Sid") == sid:
                statements[i] = statement
                return
    statements.append(statement)


def _statements_of(text: Any) -> list[dict[str, Any]]:
    if not isinstance(text, str):
        raise _Stop(Unknown("policy documents to merge must be JSON strings", error=True))
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise _Stop(Unknown("a policy document to merge is not valid JSON", error=True)) from None
    found = doc.get("Statement", []) if isinstance(doc, dict) else []
    items = found if isinstance(found, list) else [found]
    return [s for s in items if isinstance(s, dict)]


def _statement(ev: Evaluator, body: Body, scope: Scope) -> dict[str, Any]:
    out: dict[str, Any] = {}
    sid = _value(ev, body, "sid", scope)
    if sid:
        out["Sid"] = sid
    out["Effect"] = _value(ev, body, "effect", scope) or "Allow"
    for attr, key in _LISTS:
        items = _strings(ev, body, attr, scope)
        if items:
            out[key] = _collapse(items)
    for attr, key in (("principals", "Principal"), ("not_principals", "NotPrincipal")):
        principal = _principals(ev, body, attr, scope)
        if principal is not None:
            out[key] = principal
    conditions: dict[str, dict[str, Any]] = {}
    for block in _blocks(ev, body, "condition", scope):
        test = _value(ev, block.body, "test", block.scope)
        variable = _value(ev, block.body, "variable", block.scope)
        values = _strings(ev, block.body, "values", block.scope) or []
        if not isinstance(test, str) or not isinstance(variable, str):
            raise _Stop(Unknown(f"condition at line {block.line} needs test and variable"))
        existing = conditions.setdefault(test, {}).get(variable)
        if existing is not None:
            values = ([existing] if isinstance(existing, str) else existing) + values
        conditions[test][variable] = _collapse(values)
    if conditions:
        out["Condition"] = conditions
    return out


def _principals(ev: Evaluator, body: Body, name: str, scope: Scope) -> Any:
    merged: dict[str, list[str]] = {}
    for block in _blocks(ev, body, name, scope):
        kind = _value(ev, block.body, "type", block.scope)
        identifiers = _strings(ev, block.body, "identifiers", block.scope) or []
        if not isinstance(kind, str):
            raise _Stop(Unknown(f"{name} block at line {block.line} has no type"))
        merged.setdefault(kind, []).extend(identifiers)
    if not merged:
        return None
    if list(merged) == ["*"] and merged["*"] == ["*"]:
        return "*"
    return {kind: _collapse(ids) for kind, ids in merged.items()}
