"""EventBridge: the rules that could route ECR and Inspector scan findings (lab 08).

Only rules whose event pattern could match events from ``aws.ecr`` or
``aws.inspector2`` enter the inventory: no other rule can route scan findings,
and skipping them saves a ``ListTargetsByRule`` call each. Whether a kept rule
really routes findings (detail types, state, targets) is the rules' question.
Only the default event bus is read, the only one AWS services send events to.
"""

from __future__ import annotations

import fnmatch
import json
from typing import Any

from ecrguard.model import EventRule, Origin, Sourced
from ecrguard.sources.aws.calls import Client, Failure

RESPONSE = dict[str, Any]
SCAN_SOURCES = ("aws.ecr", "aws.inspector2")


def get_rules(client: Client) -> list[RESPONSE]:
    pages = client.get_paginator("list_rules").paginate()
    return [rule for page in pages for rule in page.get("Rules", [])]


def get_targets(client: Client, rule: str) -> list[RESPONSE]:
    pages = client.get_paginator("list_targets_by_rule").paginate(Rule=rule)
    return [target for page in pages for target in page.get("Targets", [])]


def may_match_scan_events(raw: RESPONSE) -> bool:
    """Whether a ``list_rules`` entry's pattern could match ECR or Inspector events.

    Generous on purpose: a pattern this cannot read, or one without a
    ``source``, is kept, so a rule that might route findings is never dropped.
    """
    text = raw.get("EventPattern")
    if not text:
        return False  # a scheduled rule
    try:
        pattern = json.loads(text)
    except ValueError:
        return True
    if not isinstance(pattern, dict) or "source" not in pattern:
        return True
    sources = pattern["source"]
    return any(
        _may_match(matcher, source)
        for matcher in (sources if isinstance(sources, list) else [sources])
        for source in SCAN_SOURCES
    )


def _may_match(matcher: Any, source: str) -> bool:
    if isinstance(matcher, str):
        return matcher == source
    if isinstance(matcher, dict):
        if "prefix" in matcher and isinstance(matcher["prefix"], str):
            return source.startswith(matcher["prefix"])
        if "wildcard" in matcher and isinstance(matcher["wildcard"], str):
            return fnmatch.fnmatchcase(source, matcher["wildcard"])
        return True  # anything-but, suffix, equals-ignore-case...: keep
    return False


def transform_event_rule(
    raw: RESPONSE, targets: list[RESPONSE] | Failure, account: str, region: str
) -> EventRule:
    arn = raw["Arn"]
    origin = Origin(arn)
    return EventRule(
        id=arn,
        origin=origin,
        account=account,
        region=region,
        name=Sourced.set(raw["Name"], origin),
        pattern=_pattern(raw.get("EventPattern"), origin),
        state=Sourced.set(raw.get("State", "ENABLED"), origin),
        targets=(
            Sourced.unresolved(origin, targets.reason)
            if isinstance(targets, Failure)
            else Sourced.set(tuple(t["Arn"] for t in targets), origin)
        ),
    )


def _pattern(text: str | None, origin: Origin) -> Sourced[dict[str, Any] | None]:
    if not text:
        return Sourced.default(None, origin)
    try:
        pattern = json.loads(text)
    except ValueError as err:
        return Sourced.unresolved(origin, f"event pattern is not valid JSON: {err}")
    if not isinstance(pattern, dict):
        return Sourced.unresolved(origin, "event pattern is not a JSON object")
    return Sourced.set(pattern, origin)
