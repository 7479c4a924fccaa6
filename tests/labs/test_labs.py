"""Labs 01-04 through the runner's five steps, in the embedded emulator.

One session emulator serves every test (moto's state is process-wide); each
lab starts from a reset, as `ecrguard lab run` does. One lab also goes through
the CLI, and `scan --emulator --seed-labs` is checked for every lab.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from ecrguard.labs.base import LabEnv
from ecrguard.labs.catalog import get_lab
from ecrguard.labs.runner import LabRun, live_findings, run_lab, seed_all
from ecrguard.model import Status
from tests.conftest import Run
from tests.labs.conftest import steps

LABS = ("01", "02", "03", "04")
STEPS = ["setup", "exploit", "detect", "fix", "verify"]
REGION = "us-east-1"


@pytest.fixture(scope="module")
def runs(fresh_env: Callable[[], LabEnv]) -> dict[str, LabRun]:
    return {n: run_lab(get_lab(n), fresh_env()) for n in LABS}


@pytest.mark.parametrize("lab", LABS)
def test_lab_passes_all_five_steps(runs: dict[str, LabRun], lab: str) -> None:
    run = runs[lab]
    assert steps(run) == [(s, True) for s in STEPS], [s.detail for s in run.steps]
    assert run.ok


@pytest.mark.parametrize("lab", LABS)
def test_lab_exploit_and_findings_belong_to_the_lab(runs: dict[str, LabRun], lab: str) -> None:
    run = runs[lab]
    assert run.steps[1].detail.startswith("attack succeeds: ")
    verify = run.steps[4]
    assert verify.name == "verify" and "exploit now fails: " in verify.detail
    live = [f for f in verify.findings if f.file is None]
    assert live and all(f.status is Status.PASS for f in live), verify.detail
    rules = set(get_lab(lab).module().RULES)
    assert {f.rule for f in run.steps[2].findings if f.status is Status.FAIL} <= rules


def test_lab_run_json_from_the_cli(background_cli: Callable[[str], Run]) -> None:
    r = background_cli("lab-run-02")  # ecrguard lab run 02 --format json
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert set(doc) == {"lab", "ok", "steps"}
    assert doc["lab"] == "02" and doc["ok"] is True
    assert [s["name"] for s in doc["steps"]] == STEPS
    for s in doc["steps"]:
        assert set(s) == {"name", "ok", "detail"}
        assert s["ok"] is True and isinstance(s["detail"], str) and s["detail"]


def test_scan_of_seeded_emulator_fails_every_lab(background_cli: Callable[[str], Run]) -> None:
    # ecrguard scan --emulator --seed-labs --region us-east-1 --format json --fail-on never
    r = background_cli("seeded-scan")
    assert r.code == 0, r.err
    failed = [f for f in json.loads(r.out)["findings"] if f["status"] == "FAIL"]

    def fails(lab: str, rule: str, where: str) -> bool:
        return any(
            f["rule"] == rule and lab in f["labs"] and where in f["resource"] for f in failed
        )

    assert fails("01", "EG001", "repository/lab01-")
    assert fails("02", "EG002", ":registry/")
    assert fails("03", "EG004", "repository/lab03-") and fails("03", "EG005", "repository/lab03-")
    assert fails("04", "EG006", ":vpc/")


# ---- lab by lab ----------------------------------------------------------------------


def test_lab_02_outsider_loses_replication_and_trusted_source_keeps_it(
    fresh_env: Callable[[], LabEnv],
) -> None:
    env = fresh_env()
    lab = get_lab("02").module()
    lab.setup(env)
    before = lab.exploit(env)
    assert before.worked
    assert "ecr:ReplicateImage into the registry: allow" in before.detail
    assert "ecr:CreateRepository: allow" in before.detail
    lab.fix(env)
    after = lab.exploit(env)
    assert not after.worked
    assert "ecr:ReplicateImage into the registry: implicit-deny" in after.detail
    assert after.detail.endswith("Trusted source 222222222222 ecr:ReplicateImage: allow")


def test_lab_02_scope_v2_opens_every_repository(fresh_env: Callable[[], LabEnv]) -> None:
    env = fresh_env()
    lab = get_lab("02").module()
    lab.setup(env)
    assert "ecr:BatchGetImage on lab02-billing-service (which has no repository policy): allow" in (
        lab.exploit(env).detail
    )
    eg003 = [f for f in live_findings(env, lab) if f.rule == "EG003"]
    assert [f.status for f in eg003] == [Status.FAIL]


def _prod(env: LabEnv) -> str:
    images = env.client("ecr").describe_images(
        repositoryName="lab03-prod-api", imageIds=[{"imageTag": "prod"}]
    )
    return str(images["imageDetails"][0]["imageDigest"])


def test_lab_03_outsider_overwrites_prod_until_the_fix(fresh_env: Callable[[], LabEnv]) -> None:
    env = fresh_env()
    lab = get_lab("03").module()
    lab.setup(env)
    release = _prod(env)
    attack = lab.exploit(env)
    assert attack.worked
    backdoor = _prod(env)
    assert backdoor != release
    assert f"digest before {release}, after {backdoor}" in attack.detail
    assert "allow (statement 'VendorBuildPush')" in attack.detail
    lab.fix(env)
    assert _prod(env) == release  # the release is back on the tag
    again = lab.exploit(env)
    assert not again.worked
    assert "implicit-deny" in again.detail and "nothing was pushed" in again.detail
    assert _prod(env) == release  # and the engine's deny means no push at all


def test_lab_04_keeps_only_its_own_vpc_endpoints_and_repositories(
    fresh_env: Callable[[], LabEnv],
) -> None:
    env = fresh_env()
    lab = get_lab("04").module()
    lab.setup(env)
    ec2 = env.client("ec2")
    default = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")]
    assert default, "moto gives the region a default VPC"
    findings = live_findings(env, lab)
    assert not any(f.resource.endswith(default[0]) for f in findings)
    eg006 = [f for f in findings if f.rule == "EG006"]
    assert len(eg006) == 1 and eg006[0].status is Status.FAIL
    assert {f.resource.rsplit("/", 1)[-1] for f in findings if f.rule == "EG008"} == {
        "lab04-internal-api",
        "lab04-batch-worker",
    }
    lab.fix(env)
    after = live_findings(env, lab)
    assert {f.rule for f in after} == {"EG006", "EG007", "EG008"}
    assert len([f for f in after if f.rule == "EG007"]) == 3
    assert all(f.status is Status.PASS for f in after)
    assert "explicit-deny" in lab.exploit(env).detail


def test_lab_04_setup_after_a_fix_is_vulnerable_again(fresh_env: Callable[[], LabEnv]) -> None:
    env = fresh_env()
    lab = get_lab("04").module()
    lab.setup(env)
    lab.fix(env)
    lab.setup(env)
    assert lab.exploit(env).worked
    eg006 = [f for f in live_findings(env, lab) if f.rule == "EG006"]
    assert [f.status for f in eg006] == [Status.FAIL]


def test_labs_share_one_emulator(emulator: Any) -> None:
    """`scan --seed-labs` state: every setup back to back, then each lab runs on top of it."""
    emulator.reset()
    env = LabEnv(emulator.session(REGION), REGION, emulator.account_id, emulator.endpoint_url)
    assert set(LABS) <= set(seed_all(emulator, REGION))
    for lab in ("02", "03", "04"):
        run = run_lab(get_lab(lab), env)
        assert steps(run)[:4] == [(s, True) for s in STEPS[:4]], [s.detail for s in run.steps]
        live = [f for f in run.steps[4].findings if f.file is None]
        assert live and all(f.status is Status.PASS for f in live), run.steps[4].detail


@pytest.mark.parametrize("lab", ["02", "03", "04"])
def test_teardown_removes_what_setup_and_fix_created(
    fresh_env: Callable[[], LabEnv], lab: str
) -> None:
    env = fresh_env()
    mod = get_lab(lab).module()
    mod.setup(env)
    mod.fix(env)
    mod.teardown(env)
    mod.teardown(env)  # twice: not-found errors are ignored
    ecr, ec2 = env.client("ecr"), env.client("ec2")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert not [n for n in names if n.startswith(mod.PREFIX)]
    with pytest.raises(ecr.exceptions.RegistryPolicyNotFoundException):
        ecr.get_registry_policy()
    tagged = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{mod.PREFIX}*"]}])
    assert tagged["Vpcs"] == []
