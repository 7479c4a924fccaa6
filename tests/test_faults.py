"""Faults: throttling and server errors injected into ECR calls change no finding.

The injector sits on botocore's ``before-send`` event, below the retry layer, so
each injected error is a real HTTP answer that the client's adaptive retries
must absorb, exactly as they would absorb AWS throttling. (A ``before-call``
handler would skip retries altogether.)
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse

from ecrguard import engine
from ecrguard.rules import RULES
from ecrguard.sources.aws import collect

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class FaultInjector:
    """Answers a share of ECR requests with throttling (400) or a server error (500)."""

    def __init__(self, seed: int, throttle: float, server_error: float) -> None:
        self.rng = random.Random(seed)
        self.throttle = throttle
        self.server_error = server_error
        self.injected: Counter[str] = Counter()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        roll = self.rng.random()
        if roll < self.throttle:
            code, status = "ThrottlingException", 400
        elif roll < self.throttle + self.server_error:
            code, status = "ServerException", 500
        else:
            return None
        self.injected[code] += 1
        body = json.dumps({"__type": code, "message": "injected by the test"}).encode()
        headers = {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "injected"}
        return AWSResponse(request.url, status, headers, _Body(body))


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


def _findings(emu: Any, injector: FaultInjector | None) -> list[tuple[str, str, str, str]]:
    session = emu.session()
    if injector is not None:
        session.events.register("before-send.ecr", injector)
    inv = collect(session, ["us-east-1"], endpoint_url=emu.endpoint_url)
    found = engine.run(inv, RULES.values(), engine.context_for(inv))
    return sorted((f.rule, f.resource, f.status.value, f.message) for f in found)


def test_throttling_and_server_errors_change_no_finding(emulator: Any) -> None:
    _seed(emulator)
    clean = _findings(emulator, None)
    injector = FaultInjector(seed=7, throttle=0.05, server_error=0.02)
    faulty = _findings(emulator, injector)
    assert injector.injected["ThrottlingException"] > 0 and injector.injected["ServerException"] > 0
    assert faulty == clean
    assert not [f for f in faulty if f[2] == "UNKNOWN"]
