"""Issue 3 acceptance: a scan of hundreds of repositories with mixed posture fails
exactly the repositories that are wrong, per lab, with moto's default registry
scanning configuration (BASIC, no rules: the legacy flag decides)."""

from __future__ import annotations

import json

from tests.conftest import run_cli

UNTAGGED = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 7,
            },
            "action": {"type": "expire"},
        }
    ]
}


def _seed(emu, count: int) -> dict[str, set[str]]:
    emu.reset()
    kms = emu.client("kms")
    cmk = kms.create_key(Description="ecr")["KeyMetadata"]["Arn"]
    kms.enable_key_rotation(KeyId=cmk)
    ecr = emu.client("ecr")
    expect: dict[str, set[str]] = {"10": set(), "09": set(), "06": set(), "11": set()}
    for i in range(count):
        mutable, lifecycle, scan, encryption = i % 2, (i // 2) % 2, (i // 4) % 2, (i // 8) % 3
        kwargs: dict = {
            "repositoryName": f"posture-{i:03d}",
            "imageTagMutability": "MUTABLE" if mutable else "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": bool(scan)},
        }
        if encryption == 1:
            kwargs["encryptionConfiguration"] = {"encryptionType": "KMS"}  # AWS-managed key
        elif encryption == 2:
            kwargs["encryptionConfiguration"] = {"encryptionType": "KMS", "kmsKey": cmk}
        arn = ecr.create_repository(**kwargs)["repository"]["repositoryArn"]
        if lifecycle:
            ecr.put_lifecycle_policy(
                repositoryName=kwargs["repositoryName"], lifecyclePolicyText=json.dumps(UNTAGGED)
            )
        if mutable:
            expect["10"].add(arn)
        if not lifecycle:
            expect["09"].add(arn)
        if not scan:
            expect["06"].add(arn)
        if encryption != 2:
            expect["11"].add(arn)
    return expect


def test_mixed_posture_fails_exactly_the_wrong_repositories(emulator) -> None:
    expect = _seed(emulator, 240)
    r = run_cli(
        "scan",
        "--endpoint-url",
        emulator.endpoint_url,
        "--region",
        "us-east-1",
        "--format",
        "json",
        "--fail-on",
        "never",
    )
    assert r.code == 0, r.err
    findings = json.loads(r.out)["findings"]
    for lab, rule in (("10", "EG015"), ("09", "EG014"), ("06", "EG010"), ("11", "EG016")):
        mine = [f for f in findings if f["rule"] == rule]
        failed = {f["resource"] for f in mine if f["status"] == "FAIL"}
        assert failed == expect[lab], f"lab {lab} ({rule})"
        assert not [f for f in mine if f["status"] == "UNKNOWN"], f"lab {lab} has UNKNOWN"
        assert all(lab in f["labs"] for f in mine)
