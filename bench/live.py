"""Live-scan benchmarks: ecrguard and Prowler against the same emulator, in the same run.

Two benchmarks (DESIGN.md, "Budgets"; issue 4):

1. **Live scan.** One emulator server (``ecrguard emulator``: moto's server plus
   ecrguard's ECR extensions, in its own process) holds ``--repos`` repositories
   (default 1,000) with ``--images`` images each (default 2) and a mixed posture.
   ecrguard and Prowler scan it in turn, ``--runs`` times each; we take medians.
   Budgets: ecrguard's wall time <= 0.30 of Prowler's, its peak RSS <= 0.25.

   The emulator spends a few milliseconds of CPU on every call, so it sets a
   floor. The floor is measured, not assumed: the calls ecrguard makes are
   recorded once (in this process, through botocore's events), then issued
   again by a bare concurrent boto3 loop with as many threads as ecrguard uses.
   ecrguard's whole run (start-up, collection, judging, the report) must come
   within 1.25x of that floor.

2. **Latency.** ``--latency-repos`` repositories (default 300) in a second
   emulator, behind ecrguard's loopback proxy (``python -m
   ecrguard.emulator.proxy``, its own process) adding ``--latency-ms`` (default
   50) to every call, as real AWS does. Budget: ecrguard <= 0.10 of Prowler.

Both check correctness at scale: ecrguard's FAIL counts per rule must equal the
posture that was seeded. Prowler's counts for its matching checks are reported
beside them.

Run from a clone (bench/README.md installs the peers)::

    .venv/bin/python bench/live.py            # both benchmarks, 3 runs each
    .venv/bin/python bench/live.py --quick    # 100 repositories, 1 run: a smoke test

Results go to bench/results/live-<time>.json and a table on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Run as a script, so bench/ is first on sys.path.
from common import (
    ECRGUARD,
    Measured,
    fake_aws_env,
    free_port,
    machine,
    measure,
    median,
    peer,
    save,
    summary,
    tool_version,
    verdict,
)

REGION = "us-east-1"
WORKERS = 32  # ecrguard's default --max-workers; the floor uses the same
OUTSIDER = "999999999999"
ORG = "o-bench00000"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]

# Prowler's checks that judge what ecrguard's rules judge, for the side-by-side counts.
PROWLER_CHECKS = {
    "EG001": "ecr_repositories_not_publicly_accessible",
    "EG010": "ecr_repositories_scan_images_on_push_enabled",
    "EG014": "ecr_repositories_lifecycle_policy_enabled",
    "EG015": "ecr_repositories_tag_immutability",
}


# --- the estate -------------------------------------------------------------------------


def posture(i: int) -> dict[str, Any]:
    """Repository i's seeded posture; the expected counts are derived from the same function."""
    kind = ("public", "public-aws-star", "org-guarded", "outsider", "none", "none", "none")[i % 7]
    return {
        "policy": kind,
        "mutable": i % 2 == 0,
        "scan_on_push": i % 3 != 0,
        "lifecycle": i % 4 != 0,
    }


def expected_fails(repos: int) -> dict[str, int]:
    states = [posture(i) for i in range(repos)]
    return {
        # Principal "*" or {"AWS": "*"} with no condition: anyone can pull.
        "EG001": sum(s["policy"] in ("public", "public-aws-star") for s in states),
        # Another account named outright (the public ones count there too).
        "EG004": sum(s["policy"] in ("public", "public-aws-star", "outsider") for s in states),
        "EG010": sum(not s["scan_on_push"] for s in states),
        "EG014": sum(not s["lifecycle"] for s in states),
        "EG015": sum(s["mutable"] for s in states),
    }


def _policy(kind: str) -> dict[str, Any] | None:
    statement: dict[str, Any] = {"Sid": "pull", "Effect": "Allow", "Action": PULL}
    if kind == "public":
        statement["Principal"] = "*"
    elif kind == "public-aws-star":
        statement["Principal"] = {"AWS": "*"}
    elif kind == "org-guarded":
        # Looks public to a string match; the condition keeps it inside the organisation.
        statement["Principal"] = "*"
        statement["Condition"] = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    elif kind == "outsider":
        statement["Principal"] = {"AWS": f"arn:aws:iam::{OUTSIDER}:root"}
    else:
        return None
    return {"Version": "2012-10-17", "Statement": [statement]}


LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 14,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


def _manifest(name: str, n: int) -> str:
    import hashlib

    def digest(text: str) -> str:
        return "sha256:" + hashlib.sha256(text.encode()).hexdigest()

    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1000,
                "digest": digest(f"{name}/{n}/config"),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2000,
                    "digest": digest(f"{name}/{n}/layer"),
                }
            ],
        }
    )


def seed(endpoint: str, repos: int, images: int) -> None:
    """Create the estate with a bare boto3 client, 8 calls in flight."""
    import boto3
    from botocore.config import Config

    ecr = boto3.client(
        "ecr",
        region_name=REGION,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=8, proxies={}),
    )

    def one(i: int) -> None:
        state = posture(i)
        name = f"bench/service-{i:04d}"
        ecr.create_repository(
            repositoryName=name,
            imageTagMutability="MUTABLE" if state["mutable"] else "IMMUTABLE",
            imageScanningConfiguration={"scanOnPush": state["scan_on_push"]},
        )
        policy = _policy(state["policy"])
        if policy is not None:
            ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(policy))
        if state["lifecycle"]:
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=LIFECYCLE)
        for n in range(images):
            ecr.put_image(repositoryName=name, imageManifest=_manifest(name, n), imageTag=f"v1.{n}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(repos)))


# --- servers ----------------------------------------------------------------------------


@contextmanager
def _process(command: list[str], ready: str) -> Iterator[str]:
    """Start a server process; yield the URL from its ready line; stop it afterwards."""
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=fake_aws_env()
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if ready not in line:
            raise RuntimeError(f"{command[0]} did not start: {line!r}")
        yield line.split(ready, 1)[1].split()[0]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def emulator_server() -> Any:
    return _process(
        [str(ECRGUARD), "emulator", "--port", str(free_port())], "emulator listening on "
    )


def latency_proxy(upstream: str, latency_ms: float) -> Any:
    return _process(
        [
            sys.executable,
            "-m",
            "ecrguard.emulator.proxy",
            "--upstream",
            upstream,
            "--latency-ms",
            str(latency_ms),
        ],
        "proxy listening on ",
    )


# --- the tools --------------------------------------------------------------------------


def run_ecrguard(endpoint: str, workdir: Path) -> tuple[Measured, dict[str, Any]]:
    out = workdir / "ecrguard.json"
    command = [str(ECRGUARD), "scan", "--endpoint-url", endpoint, "--region", REGION]
    command += ["--org-id", ORG]  # the estate's organisation, which the emulator does not model
    command += ["--format", "json", "--output", str(out), "--fail-on", "never", "--allow-partial"]
    run = measure(command, env=fake_aws_env())
    report = json.loads(out.read_text())
    fails = Counter(f["rule"] for f in report["findings"] if f["status"] == "FAIL")
    return run, {
        "fails": dict(sorted(fails.items())),
        "unknown": report["summary"]["UNKNOWN"],
        "api_calls": report["summary"]["api_calls"],
        "failed_calls": report["summary"]["failed_calls"],
        "collect_and_judge_seconds": report["summary"]["seconds"],
    }


def run_prowler(endpoint: str, workdir: Path) -> tuple[Measured, dict[str, Any]] | None:
    prowler = peer("prowler")
    if prowler is None:
        return None
    out = workdir / "prowler"
    shutil.rmtree(out, ignore_errors=True)  # Prowler adds a timestamped file per run
    command = [str(prowler), "aws", "--service", "ecr", "-f", REGION]
    command += ["-M", "json-ocsf", "-o", str(out), "--no-banner"]
    run = measure(command, env=fake_aws_env(AWS_ENDPOINT_URL=endpoint), cwd=workdir)
    fails: Counter[str] = Counter()
    for path in out.glob("*.ocsf.json"):
        for finding in json.loads(path.read_text()):
            if finding["status_code"] == "FAIL":
                fails[finding["metadata"]["event_code"]] += 1
    return run, {"fails": dict(sorted(fails.items()))}


# --- the floor: ecrguard's calls, issued by a bare concurrent boto3 loop -----------------


def record_calls(endpoint: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """The calls one ecrguard scan makes: (service, region, operation, parameters)."""
    from ecrguard.emulator import hermetic_session
    from ecrguard.sources.aws import collect

    calls: list[tuple[str, str, str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        calls.append((service, context.get("client_region") or REGION, model.name, dict(params)))

    session = hermetic_session(REGION)
    session.events.register("before-parameter-build", record)
    collect(session, [REGION], endpoint_url=endpoint, max_workers=WORKERS)
    return calls


def replay(endpoint: str, calls: list[tuple[str, str, str, dict[str, Any]]]) -> float:
    """Seconds for a bare boto3 loop to issue ``calls``, WORKERS at a time."""
    from botocore import xform_name
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from ecrguard.emulator import hermetic_session

    session = hermetic_session(REGION)
    config = Config(max_pool_connections=WORKERS, proxies={}, retries={"mode": "standard"})
    clients = {
        (service, region): session.client(
            service,  # type: ignore[call-overload]
            region_name=region,
            endpoint_url=endpoint,
            config=config,
        )
        for service, region, _, _ in calls
    }

    def call(item: tuple[str, str, str, dict[str, Any]]) -> None:
        service, region, operation, params = item
        client = clients[(service, region)]
        # e.g. RepositoryPolicyNotFoundException: answered, which is all that counts here
        with contextlib.suppress(ClientError):
            getattr(client, xform_name(operation))(**params)

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(call, calls))
    return time.perf_counter() - started


# --- the benchmarks ---------------------------------------------------------------------


def _counts_match(expected: dict[str, int], fails: dict[str, int]) -> dict[str, Any]:
    got = {rule: fails.get(rule, 0) for rule in expected}
    return {"expected": expected, "ecrguard": got, "match": got == expected}


def _side_by_side(
    repos: int, ours: list[Measured], theirs: list[Measured], details: dict[str, Any]
) -> dict[str, Any]:
    """ecrguard's runs and counts, and Prowler's beside them when it ran."""
    result: dict[str, Any] = {
        "ecrguard": summary(ours),
        "ecrguard_details": {k: v for k, v in details.items() if k != "prowler"},
        "correctness": _counts_match(expected_fails(repos), details["fails"]),
    }
    if theirs:
        result["prowler"] = summary(theirs)
        result["prowler_fails"] = {
            rule: details["prowler"]["fails"].get(check, 0)
            for rule, check in PROWLER_CHECKS.items()
        }
        result["wall_ratio"] = round(
            result["ecrguard"]["median_seconds"] / result["prowler"]["median_seconds"], 3
        )
        result["rss_ratio"] = round(
            result["ecrguard"]["median_peak_mb"] / result["prowler"]["median_peak_mb"], 3
        )
    return result


def live_scan(repos: int, images: int, runs: int, workdir: Path) -> dict[str, Any]:
    with emulator_server() as endpoint:
        print(f"live scan: seeding {repos} repositories x {images} images at {endpoint} ...")
        started = time.perf_counter()
        seed(endpoint, repos, images)
        print(f"  seeded in {time.perf_counter() - started:.1f} s")
        calls = record_calls(endpoint)
        ours: list[Measured] = []
        theirs: list[Measured] = []
        floor: list[float] = []
        details: dict[str, Any] = {}
        for n in range(runs):
            run, details = run_ecrguard(endpoint, workdir)
            ours.append(run)
            floor.append(round(replay(endpoint, calls), 3))
            prowler = run_prowler(endpoint, workdir)
            if prowler is not None:
                theirs.append(prowler[0])
                details["prowler"] = prowler[1]
            print(
                f"  run {n + 1}: ecrguard {run.seconds} s {run.peak_mb} MB; floor {floor[-1]} s"
                + (f"; prowler {theirs[-1].seconds} s {theirs[-1].peak_mb} MB" if theirs else "")
            )
    result: dict[str, Any] = {
        "repositories": repos,
        "images_per_repository": images,
        "floor": {"median_seconds": median(floor), "calls": len(calls), "runs": floor},
        **_side_by_side(repos, ours, theirs, details),
    }
    result["floor"]["calls_match_ecrguard"] = len(calls) == details["api_calls"]
    result["vs_floor"] = round(result["ecrguard"]["median_seconds"] / median(floor), 3)
    return result


def latency_scan(repos: int, latency_ms: float, runs: int, workdir: Path) -> dict[str, Any]:
    with emulator_server() as upstream:
        print(f"latency: seeding {repos} repositories, then +{latency_ms:g} ms per call ...")
        seed(upstream, repos, 2)
        with latency_proxy(upstream, latency_ms) as endpoint:
            ours: list[Measured] = []
            theirs: list[Measured] = []
            details: dict[str, Any] = {}
            for n in range(runs):
                run, details = run_ecrguard(endpoint, workdir)
                ours.append(run)
                prowler = run_prowler(endpoint, workdir)
                if prowler is not None:
                    theirs.append(prowler[0])
                    details["prowler"] = prowler[1]
                print(
                    f"  run {n + 1}: ecrguard {run.seconds} s"
                    + (f"; prowler {theirs[-1].seconds} s" if theirs else "")
                )
    return {
        "repositories": repos,
        "latency_ms": latency_ms,
        **_side_by_side(repos, ours, theirs, details),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--latency-repos", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", choices=("live", "latency"))
    parser.add_argument("--quick", action="store_true", help="100/30 repositories, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.repos, args.latency_repos, args.runs = 100, 30, 1
    if peer("prowler") is None:
        print("note: Prowler is not installed (see bench/README.md); measuring ecrguard alone")
    result: dict[str, Any] = {
        "benchmark": "live",
        "machine": machine(),
        "ecrguard_version": tool_version([str(ECRGUARD), "--version"]),
        "prowler_version": tool_version([str(peer("prowler")), "--version"])
        if peer("prowler")
        else None,
    }
    with tempfile.TemporaryDirectory(prefix="ecrguard-bench-") as tmp:
        workdir = Path(tmp)
        if args.only in (None, "live"):
            result["live"] = live_scan(args.repos, args.images, args.runs, workdir)
        if args.only in (None, "latency"):
            result["latency"] = latency_scan(
                args.latency_repos, args.latency_ms, args.runs, workdir
            )
    path = save("live", result)
    _print(result)
    print(f"\nresults: {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    ok = all(result[k]["correctness"]["match"] for k in ("live", "latency") if k in result)
    return 0 if ok else 1


def _print(result: dict[str, Any]) -> None:
    live = result.get("live")
    if live:
        e = live["ecrguard"]
        print(
            f"\nlive scan, {live['repositories']} repositories x {live['images_per_repository']} images"
        )
        print(
            f"  ecrguard: {e['median_seconds']} s, {e['median_peak_mb']} MB (median of {len(e['runs'])})"
        )
        print(
            f"  floor:    {live['floor']['median_seconds']} s for the same {live['floor']['calls']} calls"
        )
        print(f"  ecrguard / floor: {verdict(live['vs_floor'], 1.25)}")
        if "prowler" in live:
            p = live["prowler"]
            print(f"  prowler:  {p['median_seconds']} s, {p['median_peak_mb']} MB")
            print(f"  wall ratio: {verdict(live['wall_ratio'], 0.30)}")
            print(f"  RSS ratio:  {verdict(live['rss_ratio'], 0.25)}")
        print(f"  counts: {live['correctness']}")
        if "prowler_fails" in live:
            print(f"  prowler's counts for the same checks: {live['prowler_fails']}")
    latency = result.get("latency")
    if latency:
        e = latency["ecrguard"]
        print(
            f"\nlatency, {latency['repositories']} repositories, +{latency['latency_ms']:g} ms per call"
        )
        print(f"  ecrguard: {e['median_seconds']} s")
        if "prowler" in latency:
            print(f"  prowler:  {latency['prowler']['median_seconds']} s")
            print(f"  wall ratio: {verdict(latency['wall_ratio'], 0.10)}")
        print(f"  counts: {latency['correctness']}")


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    sys.exit(main())
