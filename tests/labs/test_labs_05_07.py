"""Labs 05-07 (basic vs enhanced scanning, scan coverage, Inspector) in the embedded emulator.

One session emulator serves every test; each lab starts from a reset, as
`ecrguard lab run` does. The three labs share one registry scanning
configuration and one Inspector account state, so the last test runs them on
top of each other, after every lab's setup. The labs' Terraform goes through
the CLI, in the background.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from ecrguard.labs.base import LabEnv, push_image
from ecrguard.labs.catalog import get_lab
from ecrguard.labs.runner import LabRun, live_findings, run_lab, seed_all
from ecrguard.model import Status
from tests.conftest import Run, run_cli
from tests.labs.conftest import steps

LABS = ("05", "06", "07")
STEPS = ["setup", "exploit", "detect", "fix", "verify"]
REGION = "us-east-1"


@pytest.fixture(scope="module", autouse=True)
def background_cli() -> None:
    """These tests use none of the package's background CLI runs (tests/labs/conftest.py)."""


@pytest.fixture(scope="module", autouse=True)
def iac_jobs() -> Iterator[dict[tuple[str, str], Future[Run]]]:
    """`ecrguard iac FILE --format json`, no flags, for both files of each lab.

    No `--lab` either: lab 07 also judges EG009, which belongs to lab 05. The
    runs start with the module, in child processes, and overlap the lab runs.
    """
    jobs = [(lab, name) for lab in LABS for name in ("vulnerable.tf", "fixed.tf")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        yield {
            (lab, name): pool.submit(
                run_cli, "iac", str(get_lab(lab).file(name)), "--format", "json"
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


def _registry_arn(env: LabEnv) -> str:
    return f"arn:aws:ecr:{env.region}:{env.account}:registry/{env.account}"


# ---- every lab through the runner ------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_lab_passes_all_five_steps(runs: dict[str, LabRun], lab: str) -> None:
    run = runs[lab]
    assert steps(run) == [(s, True) for s in STEPS], [s.detail for s in run.steps]
    assert run.ok
    assert run.steps[1].detail.startswith("attack succeeds: ")
    assert "exploit now fails: " in run.steps[4].detail
    live = [f for f in run.steps[4].findings if f.file is None]
    assert live and all(f.status is Status.PASS for f in live), run.steps[4].detail
    assert {f.rule for f in live} == set(get_lab(lab).module().RULES)


@pytest.mark.parametrize("lab", LABS)
def test_detect_fails_only_the_labs_rules(runs: dict[str, LabRun], lab: str) -> None:
    detect = runs[lab].steps[2]
    rules = set(get_lab(lab).module().RULES)
    live = [f for f in detect.findings if f.file is None and f.status is Status.FAIL]
    assert {f.rule for f in live} == rules
    iac = [f for f in detect.findings if f.file is not None and f.status is Status.FAIL]
    assert iac and {f.rule for f in iac} <= rules


def test_lab_05_basic_never_reports_the_late_cve_and_enhanced_does(
    runs: dict[str, LabRun],
) -> None:
    attack, verify = runs["05"].steps[1].detail, runs["05"].steps[4].detail
    assert "registry scan type BASIC (SCAN_ON_PUSH on *)" in attack
    assert "at push scan COMPLETE, reports CVE-2023-4911;" in attack
    assert "was published: scan COMPLETE, reports CVE-2023-4911. Nobody learns of it" in attack
    assert "registry scan type ENHANCED (CONTINUOUS_SCAN on *)" in verify
    assert "re-evaluated: scan ACTIVE, reports CVE-2024-6345, CVE-2023-4911" in verify
    live = [f for f in runs["05"].steps[2].findings if f.file is None]
    assert [(f.rule, f.resource, f.status) for f in live] == [
        ("EG009", "arn:aws:ecr:us-east-1:123456789012:registry/123456789012", Status.FAIL)
    ]


def test_lab_06_no_scan_result_exists_until_the_fix(fresh_env: Callable[[], LabEnv]) -> None:
    env = fresh_env()
    lab = get_lab("06").module()
    ecr = env.client("ecr")
    lab.setup(env)
    flags = {
        r["repositoryName"]: r["imageScanningConfiguration"]["scanOnPush"]
        for r in ecr.describe_repositories()["repositories"]
    }
    assert flags["lab06-payments-api"] is True  # the repository says so...
    push_image(env, "lab06-payments-api", "before", "payments before the fix")
    with pytest.raises(ecr.exceptions.ScanNotFoundException):  # ...yet no scan ran
        ecr.describe_image_scan_findings(
            repositoryName="lab06-payments-api", imageId={"imageTag": "before"}
        )
    detail = ecr.describe_images(repositoryName="lab06-payments-api")["imageDetails"][0]
    assert "imageScanStatus" not in detail
    attack = lab.exploit(env)
    assert attack.worked
    assert attack.detail.count("no scan result exists (ScanNotFoundException)") == 2
    assert (
        "lab06-prod-api" in attack.detail
        and "scan COMPLETE, reports CVE-2024-3094" in attack.detail
    )
    eg010 = {f.resource.rsplit("/", 1)[-1]: f.status for f in live_findings(env, lab)}
    assert eg010 == {
        "lab06-prod-api": Status.PASS,
        "lab06-payments-api": Status.FAIL,
        "lab06-reports-worker": Status.FAIL,
    }

    lab.fix(env)
    push_image(env, "lab06-payments-api", "after", "payments after the fix")
    found = ecr.describe_image_scan_findings(
        repositoryName="lab06-payments-api", imageId={"imageTag": "after"}
    )
    assert found["imageScanStatus"]["status"] == "COMPLETE"
    detail = ecr.describe_images(
        repositoryName="lab06-payments-api", imageIds=[{"imageTag": "after"}]
    )["imageDetails"][0]
    assert detail["imageScanStatus"]["status"] == "COMPLETE"
    again = lab.exploit(env)
    assert not again.worked
    assert "ScanNotFoundException" not in again.detail
    assert again.detail.count("scan COMPLETE, reports CVE-2024-3094") == 3
    assert {f.status for f in live_findings(env, lab)} == {Status.PASS}


def test_lab_07_enabled_with_default_durations_still_stops_rescanning(
    fresh_env: Callable[[], LabEnv],
) -> None:
    """The second vulnerable state: Inspector on for ECR, re-scan durations left at 14 days."""
    env = fresh_env()
    lab = get_lab("07").module()
    lab.setup(env)
    inspector = env.client("inspector2")
    status = inspector.batch_get_account_status(accountIds=[env.account])["accounts"][0]
    assert status["resourceState"]["ecr"]["status"] == "DISABLED"
    inspector.enable(accountIds=[env.account], resourceTypes=["ECR"])
    attack = lab.exploit(env)
    assert attack.worked
    assert "ECR scanning for 123456789012 in us-east-1: ENABLED" in attack.detail
    assert "DAYS_14 after push, DAYS_14 after last use (LAST_IN_USE_AT)" in attack.detail
    assert "shorter than 90 days" in attack.detail
    eg011 = [f for f in live_findings(env, lab) if f.rule == "EG011"]
    assert [(f.resource, f.status) for f in eg011] == [(_registry_arn(env), Status.FAIL)]
    assert "push-date re-scan DAYS_14" in eg011[0].message
    lab.fix(env)
    durations = inspector.get_configuration()["ecrConfiguration"]["rescanDurationState"]
    assert (durations["rescanDuration"], durations["pullDateRescanDuration"]) == (
        "LIFETIME",
        "DAYS_180",
    )
    after = lab.exploit(env)
    assert not after.worked
    assert "scan ACTIVE, reports CVE-2024-45337: the image was re-evaluated" in after.detail


# ---- Terraform, through the CLI ---------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_vulnerable_tf_fails_the_labs_rules(
    iac_jobs: dict[tuple[str, str], Future[Run]], lab: str
) -> None:
    r, findings = _iac(iac_jobs, lab, "vulnerable.tf")
    assert r.code == 1
    failed = {f["rule"] for f in findings if f["status"] == "FAIL"}
    # Lab 07: no Terraform resource holds Inspector's re-scan durations, and an
    # enabler without "ECR" declares nothing about ECR, so EG011 has nothing to
    # judge in the file; EG009 (the registry left BASIC) is what the file shows.
    expected = {"05": {"EG009"}, "06": {"EG010"}, "07": {"EG009"}}[lab]
    assert failed == expected
    for f in findings:
        assert f["file"].endswith("vulnerable.tf") and f["line"], f
    if lab == "06":
        assert {f["resource"]: f["status"] for f in findings} == {
            "aws_ecr_repository.prod_api": "PASS",
            "aws_ecr_repository.payments_api": "FAIL",
            "aws_ecr_repository.reports_worker": "FAIL",
        }
        assert all("registry rules override scanOnPush" in f["message"] for f in findings[1:])
    if lab == "07":
        assert not [f for f in findings if f["rule"] == "EG011"]


@pytest.mark.parametrize("lab", LABS)
def test_fixed_tf_passes_the_labs_rules_without_flags(
    iac_jobs: dict[tuple[str, str], Future[Run]], lab: str
) -> None:
    _, findings = _iac(iac_jobs, lab, "fixed.tf")
    assert {f["rule"] for f in findings} == set(get_lab(lab).module().RULES)
    bad = [f"{f['status']} {f['rule']} {f['resource']}" for f in findings if f["status"] != "PASS"]
    assert bad == []


# ---- one emulator for every lab ---------------------------------------------------------


def test_labs_05_to_07_share_one_emulator(emulator: Any) -> None:
    """`scan --seed-labs` state: every lab's setup back to back, then 05-07 on top of it.

    The registry scanning configuration and Inspector are one per region, so
    the three labs take turns with them: all setups, all exploits, all fixes,
    all exploits again. Teardown (twice: not-found errors are ignored) then
    puts the registry back to its defaults.
    """
    emulator.reset()
    env = LabEnv(emulator.session(REGION), REGION, emulator.account_id, emulator.endpoint_url)
    placed = seed_all(emulator, REGION)
    assert set(LABS) <= set(placed)
    mods = [get_lab(lab).module() for lab in LABS]
    everything = SimpleNamespace(
        RULES=tuple(dict.fromkeys(r for m in mods for r in m.RULES)),
        owns=lambda env, f: any(
            m.owns(env, f) if hasattr(m, "owns") else m.PREFIX in f.resource for m in mods
        ),
    )

    def scan() -> dict[tuple[str, str], set[Status]]:
        out: dict[tuple[str, str], set[Status]] = {}
        for f in live_findings(env, everything):
            out.setdefault((f.rule, f.resource.rsplit("/", 1)[-1]), set()).add(f.status)
        return out

    # Seeded together, each of these labs sits in a region of its own (the
    # scanning configuration is per region), so every seeded failure survives.
    for lab, mod in zip(LABS, mods, strict=True):
        where = placed[lab]
        here = LabEnv(emulator.session(where), where, emulator.account_id, emulator.endpoint_url)
        failing = {f.rule for f in live_findings(here, mod) if f.status is Status.FAIL}
        assert failing == set(mod.RULES), lab

    # Then all three take turns on one region's registry, on top of the seeded state.
    for mod in mods:
        mod.setup(env)
    for mod in mods:
        attack = mod.exploit(env)
        assert attack.worked, (mod.NUMBER, attack.detail)
    before = scan()
    assert before[("EG009", env.account)] == {Status.FAIL}
    assert before[("EG011", env.account)] == {Status.FAIL}
    assert before[("EG010", "lab06-payments-api")] == {Status.FAIL}
    for mod in mods:
        mod.fix(env)
    for mod in mods:
        attack = mod.exploit(env)
        assert not attack.worked, (mod.NUMBER, attack.detail)
    after = scan()
    assert set(after) >= {("EG009", env.account), ("EG011", env.account)}
    assert all(statuses == {Status.PASS} for statuses in after.values()), after

    for mod in mods:
        mod.teardown(env)
        mod.teardown(env)
    ecr, inspector = env.client("ecr"), env.client("inspector2")
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert not [n for n in names if n.startswith(tuple(m.PREFIX for m in mods))], names
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    assert (config["scanType"], config["rules"]) == ("BASIC", [])
    status = inspector.batch_get_account_status(accountIds=[env.account])["accounts"][0]
    assert status["resourceState"]["ecr"]["status"] == "DISABLED"
