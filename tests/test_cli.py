"""The command-line contract, as a user sees it: output, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecrguard import __version__
from ecrguard.rules import RULES
from ecrguard.rules.docs import SECTIONS, missing_sections
from tests.conftest import run_cli

OWNER = "111111111111"
ORG = "o-a1b2c3d4e5"


def _write(tmp_path: Path, doc: object, name: str = "policy.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_version() -> None:
    r = run_cli("--version")
    assert (r.code, r.out.strip()) == (0, f"ecrguard {__version__}")


def test_rule_list_names_every_rule() -> None:
    r = run_cli("rule")
    assert r.code == 0
    for rule_id, rule in RULES.items():
        assert f"{rule_id}  " in r.out and rule.title in r.out


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_docs_are_complete(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert missing_sections(rule) == []
    r = run_cli("rule", rule_id.lower())
    assert r.code == 0
    for section in SECTIONS:
        assert f"## {section}" in r.out
    assert "Fails" in r.out and "Passes" in r.out
    assert "## Remediation (AWS CLI)" in r.out and "## Remediation (Terraform)" in r.out


def test_unknown_rule_is_a_one_line_error() -> None:
    r = run_cli("rule", "EG999")
    assert r.code == 2
    assert r.err.strip().count("\n") == 0 and "no rule" in r.err


PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}],
}
ORG_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
        }
    ],
}


def test_policy_eval_decisions(tmp_path: Path) -> None:
    path = _write(tmp_path, ORG_ONLY)
    outsider = "arn:aws:sts::999999999999:assumed-role/attacker/session"
    r = run_cli("policy", "eval", path, "--principal", outsider, "--action", "ecr:BatchGetImage")
    assert (r.code, r.out.strip()) == (0, "implicit-deny")
    r = run_cli(
        "policy",
        "eval",
        path,
        "--principal",
        outsider,
        "--action",
        "ECR:batchgetimage",
        "--context",
        f"aws:PrincipalOrgID={ORG}",
    )
    assert r.out.strip() == "allow"


def test_policy_eval_repeated_context_gives_several_values(tmp_path: Path) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:TagResource",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}},
            }
        ],
    }
    path = _write(tmp_path, doc)
    base = ["policy", "eval", path, "--principal", "222222222222", "--action", "ecr:TagResource"]
    assert (
        run_cli(*base, "--context", "aws:TagKeys=team", "--context", "aws:TagKeys=env").out.strip()
        == "allow"
    )
    assert (
        run_cli(
            *base, "--context", "aws:TagKeys=team", "--context", "aws:TagKeys=owner"
        ).out.strip()
        == "implicit-deny"
    )


def test_policy_eval_explicit_deny(tmp_path: Path) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
            {
                "Effect": "Deny",
                "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
                "Action": "ecr:*",
            },
        ],
    }
    r = run_cli(
        "policy",
        "eval",
        _write(tmp_path, doc),
        "--principal",
        "arn:aws:iam::999999999999:user/bob",
        "--action",
        "ecr:PutImage",
    )
    assert r.out.strip() == "explicit-deny"


def test_policy_analyze_json_shape(tmp_path: Path) -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            *ORG_ONLY["Statement"],
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
                "Action": "ecr:PutImage",
            },
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "ecr:BatchGetImage",
            },
        ],
    }
    r = run_cli(
        "policy",
        "analyze",
        _write(tmp_path, doc),
        "--owner-account",
        OWNER,
        "--org-id",
        ORG,
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["public"] is False
    assert out["levels"] == {
        "pull": "organization",
        "push": "external",
        "delete": "none",
        "admin": "none",
    }
    assert out["external_accounts"] == ["444455556666"]
    assert out["service_principals"] == [{"service": "lambda.amazonaws.com", "guarded": False}]


def test_policy_analyze_public(tmp_path: Path) -> None:
    r = run_cli(
        "policy", "analyze", _write(tmp_path, PUBLIC), "--owner-account", OWNER, "--format", "json"
    )
    out = json.loads(r.out)
    assert out["public"] is True and set(out["levels"].values()) == {"public"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"Version": "2012-10-17", "Statement": [', "invalid JSON"),
        ("[1, 2, 3]", "must be a JSON object"),
        ('{"hello": "world"}', "no Statement"),
        ("[" * 20000 + "]" * 20000, "nested too deeply"),
    ],
)
def test_bad_policy_files_are_one_line_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    r = run_cli("policy", "analyze", str(path), "--owner-account", OWNER)
    assert r.code == 2
    assert r.err.startswith("error: ") and message in r.err and r.err.strip().count("\n") == 0
    assert "Traceback" not in r.err


def test_binary_and_missing_policy_files(tmp_path: Path) -> None:
    path = tmp_path / "bin.json"
    path.write_bytes(bytes(range(256)) * 4)
    r = run_cli("policy", "eval", str(path), "--principal", OWNER, "--action", "ecr:PutImage")
    assert r.code == 2 and "not UTF-8" in r.err
    r = run_cli(
        "policy",
        "eval",
        str(tmp_path / "nope.json"),
        "--principal",
        OWNER,
        "--action",
        "ecr:PutImage",
    )
    assert r.code == 2 and "no such file" in r.err


def test_bad_principal_is_explained(tmp_path: Path) -> None:
    r = run_cli(
        "policy", "eval", _write(tmp_path, PUBLIC), "--principal", "bob", "--action", "ecr:PutImage"
    )
    assert r.code == 2 and "12-digit account id" in r.err


def test_unknown_format_refused_before_any_work() -> None:
    r = run_cli("scan", "--format", "xml")
    assert r.code == 2 and "unknown format 'xml'" in r.err


def test_lab_list_and_show() -> None:
    r = run_cli("lab", "list")
    assert r.code == 0
    assert "01   ready" in r.out and "32 " in r.out
    r = run_cli("lab", "show", "1")
    assert r.code == 0
    for heading in ("Root cause", "The attack", "Detection", "The fix", "Verification"):
        assert heading in r.out


PUBLIC_TF = """
resource "aws_ecr_repository" "app" {
  name = "app"
}

resource "aws_ecr_repository_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = "*", Action = "ecr:BatchGetImage" }]
  })
}
"""


def test_iac_reports_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(PUBLIC_TF)
    r = run_cli("iac", str(tmp_path), "--lab", "01", "--format", "json")
    assert r.code == 1, r.err
    [finding] = [f for f in json.loads(r.out)["findings"] if f["status"] == "FAIL"]
    assert finding["rule"] == "EG001" and finding["resource"] == "aws_ecr_repository.app"
    assert finding["file"].endswith("main.tf") and finding["line"] == 8


def test_iac_broken_file_alone_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.tf"
    bad.write_text('resource "aws_ecr_repository" "x" {\n  name = \n')
    r = run_cli("iac", str(bad))
    assert r.code == 2 and r.err.startswith("error: ") and "broken.tf" in r.err
    assert r.err.strip().count("\n") == 0


def test_iac_directory_names_the_bad_file_and_scans_the_rest(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text(PUBLIC_TF)
    (tmp_path / "broken.tf").write_bytes(b"\x00\xff\xfe binary \x00")
    r = run_cli("iac", str(tmp_path), "--lab", "01", "--format", "json")
    report = json.loads(r.out)
    assert r.code == 1
    assert any(i["scope"].endswith("broken.tf") for i in report["issues"])
    assert [f["resource"] for f in report["findings"] if f["status"] == "FAIL"] == [
        "aws_ecr_repository.app"
    ]


def test_iac_region_answers_cloudformation_pseudo_parameters(tmp_path: Path) -> None:
    template = Path(__file__).parent / "cloudformation" / "fixtures" / "equivalence.yaml"
    base = ("iac", str(template), "--owner-account", "123456789012", "--format", "json")
    without = json.loads(run_cli(*base, "--fail-on", "never").out)
    # The endpoints' service names and the registry policy's ARNs use AWS::Region
    # and AWS::Partition: unknown until the user says where the stack goes.
    unknown = [f for f in without["findings"] if f["status"] == "UNKNOWN"]
    assert {f["rule"] for f in unknown} >= {"EG007"}
    assert all("pass the region" in f["message"] for f in unknown if f["rule"] == "EG007")
    given = json.loads(run_cli(*base, "--region", "eu-west-1", "--fail-on", "never").out)
    assert given["summary"]["UNKNOWN"] == 0
    assert given["summary"]["total"] == without["summary"]["total"]
    bad = run_cli("iac", str(template), "--region", "moon-1")
    assert bad.code == 2 and "not an AWS region name" in bad.err


def test_iac_missing_path(tmp_path: Path) -> None:
    r = run_cli("iac", str(tmp_path / "nope"))
    assert r.code == 2 and "no such file or directory" in r.err


def test_lab_reset_wipes_a_running_emulator(emulator) -> None:
    emulator.reset()
    emulator.client("ecr").create_repository(repositoryName="left-over")
    r = run_cli("lab", "reset", "--endpoint-url", emulator.endpoint_url)
    assert r.code == 0 and "wiped" in r.out
    assert emulator.client("ecr").describe_repositories()["repositories"] == []


def test_lab_run_needs_a_number_or_all() -> None:
    r = run_cli("lab", "run")
    assert r.code == 2 and "--all" in r.err


def test_quick_paths_match_the_full_cli() -> None:
    # `rule` and `rule ID` skip Typer (start-up budget); `rule --lab` goes through it.
    listed = run_cli("rule")
    assert listed.code == 0 and "EG001" in listed.out and "EG017" in listed.out
    full = run_cli("rule", "--lab", "01")
    assert full.code == 0 and "EG001" in full.out and "EG006" not in full.out
    assert run_cli("rule", "eg001").out == run_cli("rule", "EG001").out
