"""Faults: throttling and server errors injected into ECR calls change no finding.

The faults come from a loopback proxy (ecrguard.emulator.proxy) between the
command line and the emulator, so each one is a real HTTP answer, shaped as
ECR shapes it, that the client's adaptive retries must absorb exactly as they
would absorb AWS throttling.
"""

from __future__ import annotations

import json
from typing import Any

from ecrguard.emulator.proxy import FaultProxy
from tests.conftest import run_cli

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def _seed(emu: Any) -> None:
    emu.reset()
    ecr = emu.client("ecr")
    for i in range(40):
        name = f"faulty-{i:02d}"
        ecr.create_repository(
            repositoryName=name, imageTagMutability="IMMUTABLE" if i % 2 else "MUTABLE"
        )
        if i % 3 == 0:
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": "*", "Action": PULL}],
            }
            ecr.set_repository_policy(repositoryName=name, policyText=json.dumps(policy))
        if i % 4 == 0:
            lifecycle = {
                "rules": [
                    {
                        "rulePriority": 1,
                        "selection": {
                            "tagStatus": "untagged",
                            "countType": "imageCountMoreThan",
                            "countNumber": 1,
                        },
                        "action": {"type": "expire"},
                    }
                ]
            }
            ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(lifecycle))


def _scan(endpoint_url: str, *extra: str) -> tuple[int, dict[str, Any], str]:
    r = run_cli(
        "scan", "--endpoint-url", endpoint_url, "--region", "us-east-1", "--format", "json", *extra
    )
    return r.code, json.loads(r.out) if r.out else {}, r.err


def _verdicts(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted((f["rule"], f["resource"], f["status"], f["message"]) for f in report["findings"])


def test_faults_from_a_loopback_proxy_change_no_finding(emulator: Any) -> None:
    _seed(emulator)
    clean_code, clean, _ = _scan(emulator.endpoint_url)

    with FaultProxy(emulator.endpoint_url, throttle=0.05, server_error=0.02, seed=11) as proxy:
        code, faulty, err = _scan(proxy.endpoint_url)

    assert proxy.injected["ThrottlingException"] > 0 and proxy.injected["ServerException"] > 0
    assert code == clean_code == 1, err  # public policies fail in both
    assert _verdicts(faulty) == _verdicts(clean)
    assert faulty["summary"]["UNKNOWN"] == 0 and faulty["issues"] == []
    # Retried calls are counted once: the faults cost time, not extra calls.
    assert faulty["summary"]["api_calls"] == clean["summary"]["api_calls"]


def test_a_denied_api_makes_its_checks_unknown_and_the_result_partial(emulator: Any) -> None:
    _seed(emulator)
    clean_code, clean, _ = _scan(emulator.endpoint_url, "--fail-on", "never")

    with FaultProxy(emulator.endpoint_url, deny={"DescribeImages"}) as proxy:
        code, partial, err = _scan(proxy.endpoint_url, "--fail-on", "never")
        allowed_code, _, _ = _scan(proxy.endpoint_url, "--fail-on", "never", "--allow-partial")

    assert clean_code == 0 and code == 3 and allowed_code == 0
    assert "partial result" in err and "AccessDenied: ecr:DescribeImages" in err
    assert {i["reason"] for i in partial["issues"]} == {"AccessDenied: ecr:DescribeImages"}
    assert len(partial["issues"]) == 40  # one per repository, each named
    assert partial["summary"]["failed_calls"] == 40
    unknown = [f for f in partial["findings"] if f["status"] == "UNKNOWN"]
    assert unknown and all("ecr:DescribeImages" in f["message"] for f in unknown)
    # Only the checks that needed the images changed; everything else is as before.
    changed = {f["rule"] for f in unknown}
    keep = [v for v in _verdicts(clean) if v[0] not in changed]
    assert [v for v in _verdicts(partial) if v[0] not in changed] == keep
