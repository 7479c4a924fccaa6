"""Labs 09-11 (lifecycle, tag mutability, KMS encryption) in the embedded emulator.

One session emulator serves every test; each lab starts from a reset, as
`ecrguard lab run` does. The labs' Terraform goes through the CLI, in the
background.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from ecrguard.labs.base import LabEnv
from ecrguard.labs.catalog import get_lab
from ecrguard.labs.runner import LabRun, live_findings, run_lab, seed_all
from ecrguard.model import Status
from ecrguard.rules.lifecycle import expires_untagged
from tests.conftest import Run, run_cli
from tests.labs.conftest import steps

LABS = ("09", "10", "11")
STEPS = ["setup", "exploit", "detect", "fix", "verify"]
REGION = "us-east-1"


@pytest.fixture(scope="module", autouse=True)
def background_cli() -> None:
    """These tests use none of the package's background CLI runs (tests/labs/conftest.py)."""


@pytest.fixture(scope="module")
def runs(fresh_env: Callable[[], LabEnv]) -> dict[str, LabRun]:
    return {n: run_lab(get_lab(n), fresh_env()) for n in LABS}


@pytest.fixture(scope="module", autouse=True)
def iac_jobs() -> Iterator[dict[tuple[str, str], Future[Run]]]:
    """`ecrguard iac FILE --lab NN --format json` (through `run_cli`) for both files of each lab.

    The CLI runs start with the module, in child processes, so they overlap the
    in-process lab runs.
    """
    jobs = [(lab, name) for lab in LABS for name in ("vulnerable.tf", "fixed.tf")]
    with ThreadPoolExecutor(len(jobs)) as pool:
        yield {
            (lab, name): pool.submit(
                run_cli, "iac", str(get_lab(lab).file(name)), "--lab", lab, "--format", "json"
            )
            for lab, name in jobs
        }


@pytest.fixture(scope="module")
def iac(
    iac_jobs: dict[tuple[str, str], Future[Run]],
) -> dict[tuple[str, str], tuple[Run, list[dict[str, Any]]]]:
    done = {}
    for (lab, name), job in iac_jobs.items():
        r = job.result()
        assert r.code in (0, 1), r.err
        rules = get_lab(lab).module().RULES
        done[(lab, name)] = (r, [f for f in json.loads(r.out)["findings"] if f["rule"] in rules])
    return done


# ---- every lab -------------------------------------------------------------------------


@pytest.mark.parametrize("lab", LABS)
def test_lab_passes_all_five_steps(runs: dict[str, LabRun], lab: str) -> None:
    run = runs[lab]
    assert steps(run) == [(s, True) for s in STEPS], [s.detail for s in run.steps]
    assert run.ok
    assert run.steps[1].detail.startswith("attack succeeds: ")
    assert "exploit now fails: " in run.steps[4].detail
    live = [f for f in run.steps[4].findings if f.file is None]
    assert live and all(f.status is Status.PASS for f in live), run.steps[4].detail


@pytest.mark.parametrize("lab", LABS)
def test_detect_fails_only_the_labs_rules(runs: dict[str, LabRun], lab: str) -> None:
    detect = runs[lab].steps[2]
    assert detect.name == "detect" and detect.ok, detect.detail
    rules = set(get_lab(lab).module().RULES)
    failing = [f for f in detect.findings if f.status is Status.FAIL]
    assert failing and {f.rule for f in failing} <= rules
    assert all(lab in f.labs for f in failing)


@pytest.mark.parametrize("lab", LABS)
def test_vulnerable_tf_fails_the_labs_rule(
    iac: dict[tuple[str, str], tuple[Run, list[dict[str, Any]]]], lab: str
) -> None:
    r, findings = iac[(lab, "vulnerable.tf")]
    assert r.code == 1
    assert findings and all(f["status"] == "FAIL" for f in findings), findings
    assert {f["rule"] for f in findings} == set(get_lab(lab).module().RULES)
    for f in findings:
        assert f["file"].endswith("vulnerable.tf") and f["line"], f
        assert lab in f["labs"]


@pytest.mark.parametrize("lab", LABS)
def test_fixed_tf_passes_the_labs_rule_without_flags(
    iac: dict[tuple[str, str], tuple[Run, list[dict[str, Any]]]], lab: str
) -> None:
    r, findings = iac[(lab, "fixed.tf")]
    assert findings, "fixed.tf must still be judged by the lab's rule"
    bad = [f"{f['status']} {f['rule']} {f['resource']}" for f in findings if f["status"] != "PASS"]
    assert bad == []
    assert r.code == 0


def test_vulnerable_tf_covers_every_kind_of_weakness(
    iac: dict[tuple[str, str], tuple[Run, list[dict[str, Any]]]],
) -> None:
    def messages(lab: str) -> str:
        return " ".join(f["message"] for f in iac[(lab, "vulnerable.tf")][1])

    assert "has no lifecycle policy" in messages("09")
    assert "only touches tagged images" in messages("09")
    tags = messages("10")
    assert "are MUTABLE:" in tags and "MUTABLE_WITH_EXCLUSION" in tags and "matching v*" in tags
    keys = messages("11")
    assert "AES256" in keys and "AWS-managed key" in keys and "rotation is off" in keys


# ---- lab by lab ------------------------------------------------------------------------


def test_lab_09_untagged_images_stay_pullable_and_the_fix_expires_them(
    fresh_env: Callable[[], LabEnv],
) -> None:
    env = fresh_env()
    lab = get_lab("09").module()
    lab.setup(env)
    ecr = env.client("ecr")
    for repo in lab.REPOS:
        untagged = lab.untagged_images(env, repo.name)
        assert len(untagged) >= len(repo.unpromoted)
        oldest = lab._layer_digest(repo.unpromoted[0])
        pulled = [
            i
            for u in untagged
            for i in ecr.batch_get_image(
                repositoryName=repo.name, imageIds=[{"imageDigest": u["imageDigest"]}]
            )["images"]
        ]
        assert any(oldest in i["imageManifest"] for i in pulled)  # the vulnerable build
    attack = lab.exploit(env)
    assert attack.worked
    assert "lab09-web-frontend: no lifecycle policy" in attack.detail
    assert "lab09-billing-worker: its lifecycle policy selects tagged images only" in attack.detail
    assert (
        "openssl 1.1.1k" in attack.detail and "none of them will ever be expired" in attack.detail
    )
    lab.fix(env)
    for repo in lab.REPOS:
        text = ecr.get_lifecycle_policy(repositoryName=repo.name)["lifecyclePolicyText"]
        assert expires_untagged(json.loads(text)) is True
    again = lab.exploit(env)
    assert not again.worked
    assert "the policy expires them 14 days after push" in again.detail
    assert {f.status for f in live_findings(env, lab)} == {Status.PASS}


def _tag_digest(env: LabEnv, repo: str, tag: str) -> str:
    found = env.client("ecr").describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
    return str(found["imageDetails"][0]["imageDigest"])


def test_lab_10_exploit_moves_the_tag_until_the_fix(fresh_env: Callable[[], LabEnv]) -> None:
    env = fresh_env()
    lab = get_lab("10").module()
    lab.setup(env)
    releases = {t.repo: _tag_digest(env, t.repo, t.tag) for t in lab.TARGETS}
    attack = lab.exploit(env)
    assert attack.worked
    for t in lab.TARGETS:
        moved = _tag_digest(env, t.repo, t.tag)
        assert moved != releases[t.repo]
        assert f"digest before {releases[t.repo]}, after {moved}" in attack.detail
    lab.fix(env)
    assert {t.repo: _tag_digest(env, t.repo, t.tag) for t in lab.TARGETS} == releases
    again = lab.exploit(env)
    assert not again.worked
    assert again.detail.count("refused (ImageAlreadyExistsException") == len(lab.TARGETS)
    assert {t.repo: _tag_digest(env, t.repo, t.tag) for t in lab.TARGETS} == releases
    # The same push, straight from boto3: the emulator itself refuses it.
    ecr = env.client("ecr")
    from ecrguard.labs.base import push_image

    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        push_image(env, "lab10-checkout", "v1.0", "another image")
    # lab10-payments keeps one mutable tag, on purpose.
    first = push_image(env, "lab10-payments", "latest", "nightly 1")
    second = push_image(env, "lab10-payments", "latest", "nightly 2")
    assert first != second == _tag_digest(env, "lab10-payments", "latest")


def test_lab_11_copies_every_image_with_its_digest_and_tags(
    fresh_env: Callable[[], LabEnv],
) -> None:
    env = fresh_env()
    lab = get_lab("11").module()
    lab.setup(env)
    ecr, kms = env.client("ecr"), env.client("kms")

    def images(repo: str) -> dict[str, list[str]]:
        found = ecr.describe_images(repositoryName=repo)["imageDetails"]
        return {i["imageDigest"]: sorted(i.get("imageTags", [])) for i in found}

    before = {old: images(old) for old, _, _ in lab.MIGRATIONS}
    assert sorted(before[lab.LEDGER].values()) == [["stable", "v3.2.0"], ["v3.1.0"]]
    attack = lab.exploit(env)
    assert attack.worked
    assert "lab11-archive: KMS with the AWS-managed key" in attack.detail
    commands = lab.fix(env)
    key = kms.describe_key(KeyId=lab.NEW_KEY)["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    assert [s["Principal"] for s in policy["Statement"]] == [
        {"AWS": f"arn:aws:iam::{env.account}:root"}
    ]
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    for old, new, kind in lab.MIGRATIONS:
        assert images(new) == before[old]  # same digests, same tags
        assert old not in names  # deleted once the copy was checked
        repo = ecr.describe_repositories(repositoryNames=[new])["repositories"][0]
        assert repo["encryptionConfiguration"] == {"encryptionType": kind, "kmsKey": key["Arn"]}
        # Every blob of every copied manifest is in the new repository.
        for digest in before[old]:
            got = ecr.batch_get_image(repositoryName=new, imageIds=[{"imageDigest": digest}])
            manifest = json.loads(got["images"][0]["imageManifest"])
            blobs = [manifest["config"]["digest"]] + [x["digest"] for x in manifest["layers"]]
            have = ecr.batch_check_layer_availability(repositoryName=new, layerDigests=blobs)
            assert have["failures"] == [] and len(have["layers"]) == len(blobs)
    assert sum("same digests" in c for c in commands) == len(lab.MIGRATIONS)
    invoices = kms.describe_key(KeyId=lab.INVOICES_KEY)["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=invoices)["KeyRotationEnabled"]
    after = lab.exploit(env)
    assert not after.worked
    assert after.detail.count("rotation on; outsider kms:Decrypt: implicit-deny") == 3
    assert {f.status for f in live_findings(env, lab)} == {Status.PASS}
    # A second fix finds the work done.
    lab.fix(env)
    assert {old: images(new) for old, new, _ in lab.MIGRATIONS} == before


def test_labs_09_to_11_share_one_emulator(emulator: Any) -> None:
    """`scan --seed-labs` state: every lab's setup back to back in one emulator.

    On top of it, the runner's steps for labs 09-11 together (one live scan
    judges all three, as `ecrguard scan` would): exploit, detect, fix, verify.
    Then setup after a fix is vulnerable again, and teardown (twice: not-found
    errors are ignored) removes what setup and fix made.
    """
    emulator.reset()
    env = LabEnv(emulator.session(REGION), REGION, emulator.account_id, emulator.endpoint_url)
    assert set(LABS) <= set(seed_all(emulator, REGION))
    mods = [get_lab(lab).module() for lab in LABS]

    def scan() -> dict[str, set[Status]]:
        labs = SimpleNamespace(
            RULES=tuple(r for m in mods for r in m.RULES),
            owns=lambda env, f: any(m.PREFIX in f.resource and f.rule in m.RULES for m in mods),
        )
        found = live_findings(env, labs)
        return {m.NUMBER: {f.status for f in found if m.PREFIX in f.resource} for m in mods}

    for mod in mods:
        mod.setup(env)  # again, on the seeded state
        assert mod.exploit(env).worked, mod.NUMBER
    assert all(Status.FAIL in statuses for statuses in scan().values())
    for mod in mods:
        mod.fix(env)
        attack = mod.exploit(env)
        assert not attack.worked, (mod.NUMBER, attack.detail)
    assert scan() == {m.NUMBER: {Status.PASS} for m in mods}
    for mod in mods:
        mod.setup(env)
        attack = mod.exploit(env)
        assert attack.worked, (mod.NUMBER, attack.detail)
    assert "lab11-ledger: encryptionConfiguration reads back AES256" in attack.detail
    assert "but rotation is off" in attack.detail
    ecr, kms = env.client("ecr"), env.client("kms")
    for mod in mods:
        mod.fix(env)
        mod.teardown(env)
        mod.teardown(env)
    names = [r["repositoryName"] for r in ecr.describe_repositories()["repositories"]]
    assert not [n for n in names if n.startswith(tuple(m.PREFIX for m in mods))], names
    aliases = [a["AliasName"] for a in kms.list_aliases()["Aliases"]]
    assert not [a for a in aliases if a.startswith("alias/lab11-")], aliases
    described = [kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"] for k in kms.list_keys()["Keys"]]
    lab11 = [k["KeyState"] for k in described if k.get("Description", "").startswith("lab11 ")]
    assert lab11 and set(lab11) == {"PendingDeletion"}  # the new key and the invoices key
