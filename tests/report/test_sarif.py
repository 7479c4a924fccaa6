"""`--format sarif`: valid SARIF 2.1.0 that GitHub code scanning accepts.

The schema is the OASIS one, copied into fixtures/ so a clean checkout can run
this. GitHub's extra requirements (a physical location with a relative URI and
a start line on every result, partialFingerprints, rule help and
security-severity) are asserted on top of the schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ecrguard.model import Finding, Severity, Status
from ecrguard.report import Report
from ecrguard.report.sarif import render
from ecrguard.rules import RULES
from tests.conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "sarif-schema-2.1.0.json").read_text())
LAB01 = "src/ecrguard/labs/01-public-repository-policy/vulnerable.tf"
SEVERITY_SCORE = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def _valid(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    return doc


def _assert_github_ready(doc: dict[str, Any]) -> None:
    """What GitHub code scanning needs beyond the schema."""
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-schema-2.1.0.json")
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ecrguard" and driver["version"] and driver["informationUri"]
    rules = driver["rules"]
    assert len({r["id"] for r in rules}) == len(rules)
    for descriptor in rules:
        rule = RULES[descriptor["id"]]
        assert descriptor["name"]
        assert descriptor["shortDescription"]["text"] == rule.title
        assert descriptor["fullDescription"]["text"] == rule.docs.what
        for section in ("What it checks", "Why it matters", "Example", "Fix"):
            assert f"## {section}" in descriptor["help"]["text"]
            assert f"## {section}" in descriptor["help"]["markdown"]
        assert rule.remediation.cli in descriptor["help"]["markdown"]
        assert rule.remediation.terraform in descriptor["help"]["markdown"]
        props = descriptor["properties"]
        assert props["security-severity"] == SEVERITY_SCORE[rule.severity.value]
        assert "security" in props["tags"] and len(props["tags"]) <= 20
        assert {f"lab-{lab}" for lab in rule.labs} <= set(props["tags"])
        assert descriptor["defaultConfiguration"]["level"] in ("error", "warning", "note")
    seen = set()
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["message"]["text"]
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        uri = physical["artifactLocation"]["uri"]
        assert uri and not uri.startswith(("/", "file:")) and ".." not in uri
        assert physical["region"]["startLine"] >= 1
        fingerprint = result["partialFingerprints"]["ecrguard/v1"]
        assert fingerprint not in seen
        seen.add(fingerprint)


def test_iac_sarif_points_at_the_terraform_lines() -> None:
    as_json = json.loads(run_cli("iac", LAB01, "--format", "json", cwd=str(REPO)).out)
    r = run_cli("iac", LAB01, "--format", "sarif", cwd=str(REPO))
    assert r.code == 1, r.err
    doc = _valid(r.out)
    _assert_github_ready(doc)
    (run,) = doc["runs"]
    failing = [f for f in as_json["findings"] if f["status"] != "PASS"]
    assert failing and len(run["results"]) == len(failing)  # PASS results are not alerts
    got = {
        (
            res["ruleId"],
            res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            res["locations"][0]["physicalLocation"]["region"]["startLine"],
            res["level"],
        )
        for res in run["results"]
    }
    levels = {"critical": "error", "high": "error", "medium": "warning", "low": "warning"}
    want = {
        (
            f["rule"],
            LAB01 if f["file"] else got_uri(run, f["rule"]),
            f["line"] or 1,
            "note" if f["status"] == "UNKNOWN" else levels.get(f["severity"], "note"),
        )
        for f in failing
    }
    assert got == want
    # The lab's public policy lands on the policy resource's line, relative to the cwd.
    assert ("EG001", LAB01, 28, "error") in got
    assert {d["id"] for d in run["tool"]["driver"]["rules"]} == {
        f["rule"] for f in as_json["findings"]
    }
    eg001 = next(d for d in run["tool"]["driver"]["rules"] if d["id"] == "EG001")
    assert eg001["properties"]["security-severity"] == "9.5"
    assert eg001["helpUri"].startswith("https://docs.aws.amazon.com/")


def got_uri(run: dict[str, Any], rule_id: str) -> str:
    """The pseudo path of an account- or region-level finding that has no file."""
    uris = [
        res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for res in run["results"]
        if res["ruleId"] == rule_id
    ]
    assert uris and uris[0].startswith("aws/")
    return str(uris[0])


def test_fingerprints_do_not_depend_on_how_the_path_was_given() -> None:
    relative = _valid(run_cli("iac", LAB01, "--format", "sarif", cwd=str(REPO)).out)
    absolute = _valid(run_cli("iac", str(REPO / LAB01), "--format", "sarif", cwd=str(REPO)).out)

    def prints(doc: dict[str, Any]) -> list[str]:
        return sorted(r["partialFingerprints"]["ecrguard/v1"] for r in doc["runs"][0]["results"])

    assert prints(relative) == prints(absolute)


def test_unresolved_values_are_notes_not_silence(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n  allowed_account_ids = ["111111111111"]\n}\n\n'
        'variable "repository_policy" {\n  type = string\n}\n\n'
        'resource "aws_ecr_repository" "app" {\n  name = "app"\n}\n\n'
        'resource "aws_ecr_repository_policy" "app" {\n'
        "  repository = aws_ecr_repository.app.name\n"
        "  policy     = var.repository_policy\n}\n"
    )
    unknown = [
        f
        for f in json.loads(run_cli("iac", "main.tf", "--format", "json", cwd=str(tmp_path)).out)[
            "findings"
        ]
        if f["status"] == "UNKNOWN"
    ]
    r = run_cli("iac", "main.tf", "--format", "sarif", cwd=str(tmp_path))
    doc = _valid(r.out)
    _assert_github_ready(doc)
    notes = [res for res in doc["runs"][0]["results"] if res["properties"]["status"] == "UNKNOWN"]
    assert {res["ruleId"] for res in notes} == {f["rule"] for f in unknown} >= {"EG001"}
    for res in notes:
        assert res["level"] == "note"
        assert "could not judge" in res["message"]["text"]
        physical = res["locations"][0]["physicalLocation"]
        if res["ruleId"] == "EG001":
            assert "var.repository_policy" in res["message"]["text"]
            assert physical["artifactLocation"]["uri"] == "main.tf"
            assert physical["region"]["startLine"] == 16


def test_live_scan_sarif_uses_stable_pseudo_paths(emulator: Any) -> None:
    emulator.reset()
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="team/open-api")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": PULL}],
    }
    ecr.set_repository_policy(repositoryName="team/open-api", policyText=json.dumps(policy))
    args = ("scan", "--endpoint-url", emulator.endpoint_url, "--region", "us-east-1")
    r = run_cli(*args, "--format", "sarif", "--lab", "01")
    assert r.code == 1, r.err
    doc = _valid(r.out)
    _assert_github_ready(doc)
    arn = f"arn:aws:ecr:us-east-1:{emulator.account_id}:repository/team/open-api"
    (result,) = [res for res in doc["runs"][0]["results"] if res["ruleId"] == "EG001"]
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == (
        f"aws/{emulator.account_id}/us-east-1/ecr/repository/team/open-api"
    )
    assert location["physicalLocation"]["region"]["startLine"] == 1
    assert location["logicalLocations"][0]["fullyQualifiedName"] == arn
    assert arn in result["message"]["text"] and result["level"] == "error"
    # A second scan of the same state yields the same alert identity.
    again = _valid(run_cli(*args, "--format", "sarif", "--lab", "01").out)
    assert [res["partialFingerprints"] for res in again["runs"][0]["results"]] == [
        res["partialFingerprints"] for res in doc["runs"][0]["results"]
    ]


def _finding(**overrides: Any) -> Finding:
    values: dict[str, Any] = {
        "rule": "EG001",
        "title": RULES["EG001"].title,
        "severity": Severity.CRITICAL,
        "status": Status.FAIL,
        "labs": ("01",),
        "resource": "aws_ecr_repository.app",
        "region": "us-east-1",
        "account": "111111111111",
        "file": "infra/main.tf",
        "line": 12,
        "message": "repository app policy lets any AWS account pull",
        "remediation": "aws ecr delete-repository-policy --repository-name app",
    }
    values.update(overrides)
    return Finding(**values)


def test_an_edit_above_a_resource_keeps_its_alert(tmp_path: Path) -> None:
    before = json.loads(render(Report([_finding(line=12)], "iac"), tmp_path))
    after = json.loads(render(Report([_finding(line=40)], "iac"), tmp_path))
    assert (
        before["runs"][0]["results"][0]["partialFingerprints"]
        == after["runs"][0]["results"][0]["partialFingerprints"]
    )
    assert after["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 40
    }


def test_files_outside_the_root_keep_an_absolute_uri(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere" / "main.tf"
    root = tmp_path / "repo"
    root.mkdir()
    doc = json.loads(render(Report([_finding(file=str(outside))], "iac"), root))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    artifact = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": outside.as_uri()}


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        (Severity.CRITICAL, "error"),
        (Severity.HIGH, "error"),
        (Severity.MEDIUM, "warning"),
        (Severity.LOW, "warning"),
        (Severity.INFO, "note"),
    ],
)
def test_levels_follow_severity(tmp_path: Path, severity: Severity, level: str) -> None:
    doc = json.loads(render(Report([_finding(severity=severity)], "iac"), tmp_path))
    assert doc["runs"][0]["results"][0]["level"] == level


def test_a_report_with_only_passes_has_rules_and_no_results(tmp_path: Path) -> None:
    doc = json.loads(render(Report([_finding(status=Status.PASS)], "iac"), tmp_path))
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    assert doc["runs"][0]["results"] == []
    assert [r["id"] for r in doc["runs"][0]["tool"]["driver"]["rules"]] == ["EG001"]
