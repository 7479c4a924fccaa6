"""`ecrguard scan` against an emulator holding hundreds of repositories."""

from __future__ import annotations

import json

from tests.conftest import run_cli

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]


def _seed(emu, count: int) -> tuple[str, set[str], set[str]]:
    emu.reset()
    org_id = emu.client("organizations").create_organization(FeatureSet="ALL")["Organization"]["Id"]
    ecr = emu.client("ecr")
    public, scoped = set(), set()
    for i in range(count):
        name = f"svc-{i:03d}"
        arn = ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"]
        kind = i % 3
        if kind == 0:
            principal = "*" if i % 2 else {"AWS": "*"}
            stmt = {"Effect": "Allow", "Principal": principal, "Action": PULL}
            public.add(arn)
        elif kind == 1:
            stmt = {
                "Effect": "Allow",
                "Principal": "*",
                "Action": PULL,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
            }
            scoped.add(arn)
        else:
            continue
        policy = {"Version": "2012-10-17", "Statement": [stmt]}
        ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(policy))
    return org_id, public, scoped


def test_exactly_the_public_repositories_fail_lab_01(emulator) -> None:
    org_id, public, scoped = _seed(emulator, 300)
    r = run_cli(
        "scan",
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--org-id",
        org_id,
        "--format",
        "json",
    )
    assert r.code == 1, r.err
    report = json.loads(r.out)
    lab01 = [f for f in report["findings"] if "01" in f["labs"]]
    failed = {f["resource"] for f in lab01 if f["status"] == "FAIL"}
    assert failed == public
    passed = {f["resource"] for f in lab01 if f["status"] == "PASS" and f["rule"] == "EG001"}
    assert scoped <= passed
    assert not [f for f in lab01 if f["status"] == "UNKNOWN"]
    for f in lab01:
        assert f["region"] == "us-east-1" and f["account"] == emulator.account_id
        assert set(f) >= {
            "rule",
            "title",
            "severity",
            "status",
            "labs",
            "resource",
            "message",
            "remediation",
        }
    assert report["summary"]["api_calls"] > 0


def test_lab_filter_and_fail_on(emulator) -> None:
    _seed(emulator, 6)
    base = [
        "scan",
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--format",
        "json",
    ]
    r = run_cli(*base, "--lab", "04")
    assert {lab for f in json.loads(r.out)["findings"] for lab in f["labs"]} <= {"04"}
    # Public policies are critical: --fail-on critical still fails, 'never' does not.
    assert run_cli(*base, "--lab", "01", "--fail-on", "critical").code == 1
    assert run_cli(*base, "--lab", "01", "--fail-on", "never").code == 0


def test_console_report_groups_by_lab_with_summary(emulator) -> None:
    _seed(emulator, 6)
    r = run_cli(
        "scan", "--endpoint-url", emulator.endpoint_url, "--region", "us-east-1", "--lab", "01"
    )
    assert r.code == 1
    assert "EG001" in r.out and "FAIL" in r.out
    assert "2 failed" in r.out and "passed" in r.out
