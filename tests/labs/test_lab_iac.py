"""Each lab's vulnerable.tf and fixed.tf through `ecrguard iac`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ecrguard.labs.catalog import get_lab
from tests.conftest import Run, run_cli

LABS = ("01", "02", "03", "04")


def _tf(lab: str, name: str) -> Path:
    return get_lab(lab).file(name)


def _rules(lab: str) -> tuple[str, ...]:
    return tuple(get_lab(lab).module().RULES)


def _iac(lab: str, name: str, *flags: str) -> tuple[Run, list[dict[str, Any]]]:
    r = run_cli("iac", str(_tf(lab, name)), "--lab", lab, "--format", "json", *flags)
    assert r.code in (0, 1), r.err
    findings = [f for f in json.loads(r.out)["findings"] if f["rule"] in _rules(lab)]
    return r, findings


def _bad(findings: list[dict[str, Any]]) -> list[str]:
    return [f"{f['status']} {f['rule']} {f['resource']}" for f in findings if f["status"] != "PASS"]


@pytest.mark.parametrize("lab", LABS)
def test_vulnerable_tf_fails_the_labs_rules(lab: str) -> None:
    r, findings = _iac(lab, "vulnerable.tf")
    assert r.code == 1
    failed = {f["rule"] for f in findings if f["status"] == "FAIL"}
    # EG008 only runs when private-only pulls are asked for (next test).
    assert failed == set(_rules(lab)) - {"EG008"}
    for f in findings:
        assert f["file"].endswith("vulnerable.tf") and f["line"], f
        assert lab in f["labs"]


def test_vulnerable_tf_of_lab_04_fails_eg008_when_private_pulls_are_required() -> None:
    r, findings = _iac("04", "vulnerable.tf", "--param", "EG008.require_vpce=true")
    assert r.code == 1
    eg008 = [f for f in findings if f["rule"] == "EG008"]
    assert len(eg008) == 2 and all(f["status"] == "FAIL" for f in eg008)


@pytest.mark.parametrize(
    "lab",
    [
        "01",
        "02",
        "03",
        "04",
    ],
)
def test_fixed_tf_passes_the_labs_rules_without_flags(lab: str) -> None:
    r, findings = _iac(lab, "fixed.tf")
    assert _bad(findings) == []
    assert findings, "fixed.tf must still be judged by the lab's rules"
    assert r.code == 0


def test_fixed_tf_of_lab_03_passes_when_the_owner_account_is_given() -> None:
    r, findings = _iac("03", "fixed.tf", "--owner-account", "111111111111")
    assert _bad(findings) == []
    assert {f["rule"] for f in findings} == {"EG004", "EG005"}
    assert r.code == 0


def test_fixed_tf_of_lab_04_passes_eg008_when_private_pulls_are_required() -> None:
    r, findings = _iac("04", "fixed.tf", "--param", "EG008.require_vpce=true")
    assert _bad(findings) == []
    assert {f["rule"] for f in findings} == {"EG006", "EG007", "EG008"}
    assert r.code == 0


def test_fixed_tf_of_lab_02_passes_with_the_trusted_source_configured(tmp_path: Path) -> None:
    tfvars = tmp_path / "sources.tfvars"
    tfvars.write_text('replication_source_accounts = ["222222222222"]\n')
    fixed = _tf("02", "fixed.tf")
    untrusted, findings = _iac("02", "fixed.tf", "--var-file", str(tfvars))
    assert "FAIL EG002 aws_ecr_registry_policy.this[0]" in _bad(findings)
    trusted, findings = _iac(
        "02", "fixed.tf", "--var-file", str(tfvars), "--trusted-account", "222222222222"
    )
    assert _bad(findings) == [] and len(findings) == 2, fixed
    assert (untrusted.code, trusted.code) == (1, 0)
