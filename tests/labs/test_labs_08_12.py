"""Labs 08 (findings and remediation workflow) and 12 (CloudTrail audit logging) in the emulator.

One session emulator serves every test; each lab starts from a reset, as
`ecrguard lab run` does. Lab 12's hunt reads the log files the emulator's own
trail delivered for the calls the lab made. The labs' Terraform goes through
the CLI, in the background.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from ecrguard.hunt import Trust, run_hunt, s3_files
from ecrguard.labs.base import OUTSIDER, LabEnv
from ecrguard.labs.catalog import get_lab
from ecrguard.labs.runner import LabRun, live_findings, run_lab, seed_all
from ecrguard.model import Status
from tests.conftest import Run, run_cli
from tests.labs.conftest import steps

LABS = ("08", "12")
STEPS = ["setup", "exploit", "detect", "fix", "verify"]
REGION = "us-east-1"


@pytest.fixture(scope="module", autouse=True)
def background_cli() -> None:
    """These tests use none of the package's background CLI runs (tests/labs/conftest.py)."""


@pytest.fixture(scope="module", autouse=True)
def iac_jobs() -> Iterator[dict[tuple[str, str], Future[Run]]]:
    """`ecrguard iac FILE --lab NN --format json` for both files of each lab, started with the module."""
    jobs = [(lab, name) for lab in LABS for name in ("vulnerable.tf", "fixed.tf")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        yield {
            (lab, name): pool.submit(
                run_cli, "iac", str(get_lab(lab).file(name)), "--lab", lab, "--format", "json"
            )
            for lab, name in jobs
        }


def _iac(
    jobs: dict[tuple[str, str], Future[Run]], lab: str, name: str
) -> tuple[Run, list[dict[str, Any]]]:
    r = jobs[(lab, name)].result()
    assert r.code in (0, 1), r.err
    rules = get_lab(lab).module().RULES
    return r, [f for f in json.loads(r.out)["findings"] if f["rule"] in rules]


@pytest.fixture(scope="module")
def runs(fresh_env: Callable[[], LabEnv]) -> dict[str, LabRun]:
    return {n: run_lab(get_lab(n), fresh_env()) for n in LABS}


# ---- both labs through the runner ------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_lab_passes_all_five_steps(runs: dict[str, LabRun], lab: str) -> None:
    run = runs[lab]
    assert steps(run) == [(s, True) for s in STEPS], [s.detail for s in run.steps]
    detect = run.steps[2]
    assert {f.rule for f in detect.findings if f.status is Status.FAIL} == set(
        get_lab(lab).module().RULES
    )
    live = [f for f in run.steps[4].findings if f.file is None]
    assert live and all(f.status is Status.PASS for f in live), run.steps[4].detail


def test_lab_08_shows_the_overdue_cve_and_who_runs_it(runs: dict[str, LabRun]) -> None:
    run = runs["08"]
    exploit = run.steps[1].detail
    assert "CVE-2024-3094 (CRITICAL, first observed 45 days ago)" in exploit
    assert "CVE-2023-4911 (HIGH, first observed 9 days ago)" in exploit
    assert "1 of them older than the 30-day SLA" in exploit
    assert "no enabled EventBridge rule sends aws.ecr or aws.inspector2 findings" in exploit
    assert "running it: ECS task definition lab08-checkout-api:1 (container api)" in exploit
    (eg012,) = [f for f in run.steps[2].findings if f.rule == "EG012" and f.file is None]
    assert eg012.status is Status.FAIL
    # Only the finding past the SLA is overdue; the 9-day-old HIGH one is not.
    assert "CVE-2024-3094 (CRITICAL, 45 days)" in eg012.message
    assert "CVE-2023-4911" not in eg012.message
    (eg013,) = [f for f in run.steps[2].findings if f.rule == "EG013" and f.file is None]
    assert eg013.resource == "123456789012/us-east-1"
    verify = run.steps[4].detail
    assert "the newest image lab08-checkout-api:v1.1" in verify
    assert "no CRITICAL or HIGH findings" in verify
    assert "routed by EventBridge rule lab08-scan-findings -> arn:aws:sns:" in verify


def test_lab_12_attack_leaves_no_trace_until_the_fix_then_the_hunt_sees_it(
    runs: dict[str, LabRun],
) -> None:
    run = runs["12"]
    exploit = run.steps[1].detail
    assert "the hunt over the 0 log file(s) delivered to s3://lab12-audit-logs-" in exploit
    assert "finds nothing about it (no policy-public, external-pull, tag-overwrite)" in exploit
    verify = run.steps[4].detail
    assert "exploit now fails: " in verify
    for seen in (
        "policy-public (critical): SetRepositoryPolicy made repository lab12-payments-api "
        "open to any AWS account",
        f"external-pull (high): account {OUTSIDER}, outside the trusted accounts, pulled from "
        "repository lab12-payments-api of account 123456789012 (BatchGetImage x1)",
        "tag-overwrite (high): tag 'prod' in repository lab12-payments-api moved from",
    ):
        assert seen in verify, verify


def test_lab_12_hunt_reads_the_emulators_own_log_files(fresh_env: Callable[[], LabEnv]) -> None:
    env = fresh_env()
    lab = get_lab("12").module()
    lab.setup(env)
    assert lab.exploit(env).worked
    s3 = env.client("s3")
    assert s3.list_objects_v2(Bucket=lab.bucket(env)).get("KeyCount") == 0
    lab.fix(env)
    assert not lab.exploit(env).worked
    assert not lab.exploit(env).worked  # a replay is seen again, in the logs delivered for it

    files = list(s3_files(s3, lab.bucket(env), f"AWSLogs/{env.account}/CloudTrail/us-east-1/"))
    assert len(files) == 2 and all(f.name.endswith(".json.gz") for f in files)
    result = run_hunt(files, Trust(owner_accounts=(env.account,)))
    by_detection: dict[str, list[Any]] = {}
    for f in result.findings:
        by_detection.setdefault(f.detection, []).append(f)
    assert set(by_detection) == {"policy-public", "external-pull", "tag-overwrite"}
    assert len(by_detection["policy-public"]) == 2  # once per replay
    # The outsider's two pushes over a release, and the owner's second release,
    # which moved `prod` off the first backdoor.
    movers = sorted(f.principal_account or "" for f in by_detection["tag-overwrite"])
    assert movers == sorted([OUTSIDER, env.account, OUTSIDER])
    (pull,) = by_detection["external-pull"]  # both replays' pulls, grouped
    assert pull.count == 2
    assert pull.principal_arn == f"arn:aws:sts::{OUTSIDER}:assumed-role/attacker/attacker"
    assert all(
        f.resource and f.resource.endswith("repository/lab12-payments-api") for f in result.findings
    )

    # The same hunt as a user runs it, over the whole prefix the lab's exploit prints.
    r = run_cli(
        "hunt",
        f"s3://{lab.bucket(env)}/AWSLogs/{env.account}/CloudTrail/",
        "--endpoint-url",
        str(env.endpoint_url),
        "--format",
        "json",
    )
    assert r.code == 1, r.err  # something was found
    summary = json.loads(r.out)["summary"]
    assert (summary["files"], summary["by_detection"]) == (
        2,
        {"external-pull": 1, "policy-public": 2, "tag-overwrite": 3},
    )


# ---- IaC -------------------------------------------------------------------------------


def test_vulnerable_tf_fails_the_labs_rules(iac_jobs: dict[tuple[str, str], Future[Run]]) -> None:
    r, findings = _iac(iac_jobs, "08", "vulnerable.tf")
    assert r.code == 1
    # EG012 judges pushed images and their findings, which Terraform does not hold.
    assert [(f["rule"], f["status"]) for f in findings] == [("EG013", "FAIL")]
    assert findings[0]["file"].endswith("vulnerable.tf") and findings[0]["labs"] == ["08"]

    r, findings = _iac(iac_jobs, "12", "vulnerable.tf")
    assert r.code == 1
    assert sorted((f["resource"], f["status"], f["message"]) for f in findings) == [
        (
            "111111111111",
            "FAIL",
            "1 trail(s), none logging management events in every region: ECR policy changes, "
            "pushes and deletions leave no record",
        ),
        (
            "aws_cloudtrail.audit",
            "FAIL",
            "trail lab12-audit has log file validation off, so tampered logs go unnoticed",
        ),
        ("aws_cloudtrail.audit", "FAIL", "trail lab12-audit is stopped (StopLogging)"),
    ]


@pytest.mark.parametrize("lab", LABS)
def test_fixed_tf_passes_the_labs_rules_without_flags(
    iac_jobs: dict[tuple[str, str], Future[Run]], lab: str
) -> None:
    r, findings = _iac(iac_jobs, lab, "fixed.tf")
    assert findings, "fixed.tf must still be judged by the lab's rules"
    assert [f for f in findings if f["status"] != "PASS"] == []
    assert r.code == 0


# ---- one emulator for every lab, and teardown -------------------------------------------


def test_labs_share_one_emulator(emulator: Any) -> None:
    """`scan --seed-labs` state: every setup back to back, then each lab runs on top of it."""
    emulator.reset()
    env = LabEnv(emulator.session(REGION), REGION, emulator.account_id, emulator.endpoint_url)
    placed = seed_all(emulator, REGION)
    assert set(LABS) <= set(placed)
    for lab in LABS:
        mod = get_lab(lab).module()
        where = placed[lab]
        here = LabEnv(emulator.session(where), where, emulator.account_id, emulator.endpoint_url)
        seeded = live_findings(here, mod)
        assert {f.rule for f in seeded if f.status is Status.FAIL} == set(mod.RULES), lab
    for lab in LABS:
        run = run_lab(get_lab(lab), env)
        assert steps(run) == [(s, True) for s in STEPS], [s.detail for s in run.steps]


@pytest.mark.parametrize("lab", LABS)
def test_teardown_removes_what_setup_and_fix_created(
    fresh_env: Callable[[], LabEnv], lab: str
) -> None:
    env = fresh_env()
    mod = get_lab(lab).module()
    mod.setup(env)
    mod.fix(env)
    mod.teardown(env)
    mod.teardown(env)  # twice: not-found errors are ignored
    ecr = env.client("ecr")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert not [n for n in names if n.startswith(mod.PREFIX)]
    buckets = [b["Name"] for b in env.client("s3").list_buckets().get("Buckets", [])]
    assert not [b for b in buckets if b.startswith(mod.PREFIX)]
    trails = env.client("cloudtrail").describe_trails()["trailList"]
    assert not [t for t in trails if t["Name"].startswith(mod.PREFIX)]
    rules = env.client("events").list_rules(NamePrefix=mod.PREFIX)["Rules"]
    assert rules == []
    topics = env.client("sns").list_topics()["Topics"]
    assert not [t for t in topics if f":{mod.PREFIX}" in t["TopicArn"]]
    tasks = env.client("ecs").list_task_definitions(familyPrefix=mod.PREFIX, status="ACTIVE")
    assert tasks["taskDefinitionArns"] == []
    scanning = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert scanning == {"scanType": "BASIC", "rules": []}
