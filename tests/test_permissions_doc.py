"""docs/permissions.md is the policy the scan needs: no more, no less, and no rule outside it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ecrguard.rules import RULES
from ecrguard.sources.aws import REQUIRED_PERMISSIONS

DOC = Path(__file__).parent.parent / "docs" / "permissions.md"


def _documented() -> list[str]:
    block = re.search(r"```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert block, "docs/permissions.md has no JSON policy block"
    (statement,) = json.loads(block.group(1))["Statement"]
    return sorted(statement["Action"])


def test_the_documented_policy_is_the_collector_list() -> None:
    assert _documented() == sorted(REQUIRED_PERMISSIONS)


def test_every_action_is_read_only() -> None:
    for action in REQUIRED_PERMISSIONS:
        verb = action.split(":", 1)[1]
        assert verb.startswith(("Describe", "Get", "List", "BatchGet")), action


def test_every_rule_permission_is_granted() -> None:
    granted = set(REQUIRED_PERMISSIONS)
    for rule in RULES.values():
        assert set(rule.permissions) <= granted, (rule.id, set(rule.permissions) - granted)
