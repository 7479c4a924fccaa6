"""Checkov-style rule examples: each rule has real Terraform with failing and
passing resources, and the test asserts the exact sets of addresses per status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecrguard import engine
from ecrguard.rules import RULES
from ecrguard.sources.terraform import load_terraform

FIXTURES = Path(__file__).parent / "fixtures"


def _cases() -> list[tuple[str, Path, dict[str, list[str]], dict[str, object]]]:
    cases = []
    for rule_dir in sorted(FIXTURES.iterdir()):
        spec = json.loads((rule_dir / "expected.json").read_text())
        if "dirs" in spec:
            for sub, expected in spec["dirs"].items():
                cases.append((rule_dir.name, rule_dir / sub, expected, spec))
        else:
            cases.append((rule_dir.name, rule_dir, spec, spec))
    return cases


@pytest.mark.parametrize(
    ("rule_id", "path", "expected", "spec"),
    _cases(),
    ids=lambda v: v.name if isinstance(v, Path) else (v if isinstance(v, str) else ""),
)
def test_rule_example(rule_id: str, path: Path, expected: dict[str, list[str]], spec: dict) -> None:
    inv = load_terraform([path], owner_account=spec.get("owner_account"))
    ctx = engine.context_for(
        inv,
        org_id=spec.get("org_id"),
        trusted=spec.get("trusted", []),
        owner_account=spec.get("owner_account"),
        params=spec.get("params", {}),
    )
    findings = engine.run(inv, [RULES[rule_id]], ctx)
    got = {
        status: sorted(f.resource for f in findings if f.status.value == status)
        for status in ("FAIL", "PASS", "UNKNOWN")
    }
    want = {status: sorted(expected.get(status, [])) for status in ("FAIL", "PASS", "UNKNOWN")}
    assert got == want, "\n".join(f"{f.status.value} {f.resource}: {f.message}" for f in findings)
    for f in findings:
        assert f.file and f.line, f"{f.resource} has no file:line"


def test_every_rule_has_an_example() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(RULES)
