"""Checkov-style rule examples: each rule has real Terraform with failing and
passing resources, and the test asserts the exact sets of addresses per status."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from ecrguard import engine
from ecrguard.model import Inventory
from ecrguard.rules import RULES
from ecrguard.sources.aws import ecr
from ecrguard.sources.terraform import load_terraform

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = Path(__file__).parent.parent / "aws" / "fixtures"


def _recorded(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


def _live(cases: list[dict]) -> Inventory:
    """Repositories from recorded API responses, through the collector's transforms."""
    listing = {
        r["repositoryName"]: r for r in _recorded("describe_repositories.json")["repositories"]
    }
    repos = []
    for case in cases:
        details = _recorded(case["images"])["imageDetails"] if case["images"] else []
        newest = ecr.newest_image(details)
        findings = _recorded(case["findings"])["imageScanFindings"] if case["findings"] else None
        repos.append(
            ecr.transform_repository(listing[case["repository"]], None, None, newest, findings)
        )
    return Inventory(repositories=tuple(repos))


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
    inv = (
        _live(spec["live"])
        if "live" in spec
        else load_terraform([path], owner_account=spec.get("owner_account"))
    )
    ctx = engine.context_for(
        inv,
        org_id=spec.get("org_id"),
        trusted=spec.get("trusted", []),
        owner_account=spec.get("owner_account"),
        params=spec.get("params", {}),
    )
    if "now" in spec:
        ctx = replace(ctx, now=datetime.fromisoformat(spec["now"].replace("Z", "+00:00")))
    findings = engine.run(inv, [RULES[rule_id]], ctx)
    got = {
        status: sorted(f.resource for f in findings if f.status.value == status)
        for status in ("FAIL", "PASS", "UNKNOWN")
    }
    want = {status: sorted(expected.get(status, [])) for status in ("FAIL", "PASS", "UNKNOWN")}
    assert got == want, "\n".join(f"{f.status.value} {f.resource}: {f.message}" for f in findings)
    if "live" not in spec:
        for f in findings:
            assert f.file and f.line, f"{f.resource} has no file:line"


def test_every_rule_has_an_example() -> None:
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(RULES)
