"""Each detection fires on its case and stays quiet on its benign twin.

The records are CloudTrail's own shape (tests/hunt/cloudtrail.py), written to
real gzipped log files and read back through the same path the CLI uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ecrguard.hunt import HuntFinding, Trust, local_files, run_hunt
from tests.hunt.cloudtrail import (
    ORG,
    OUTSIDER,
    OWNER,
    PARTNER,
    PULL_ACTIONS,
    REGION,
    delete_repository,
    digest,
    event,
    log_name,
    pull,
    push,
    put_registry_policy,
    replicate_to,
    set_policy,
    statement,
    tag_mutability,
    write_log,
)

REPO_ARN = f"arn:aws:ecr:{REGION}:{OWNER}:repository/payments-api"
TRUST = Trust((), (PARTNER,), ORG)


def hunt(tmp_path: Path, *files: list[dict[str, Any]], trust: Trust = TRUST) -> list[HuntFinding]:
    for i, records in enumerate(files):
        write_log(tmp_path / "logs" / log_name(f"20240501T{9 + i:02d}00Z", f"f{i}"), records)
    result = run_hunt(local_files(tmp_path / "logs"), trust)
    assert result.malformed_records == 0 and not result.skipped
    return result.findings


T = "2024-05-01T09:{:02d}:00Z"

CASES: dict[str, tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = {
    # detection: (expected detection, malicious records, benign twin records)
    "pull by an outsider": (
        "external-pull",
        [pull("payments-api", time=T.format(1), caller=OUTSIDER)],
        [
            pull("payments-api", time=T.format(1), caller=PARTNER),
            pull("payments-api", time=T.format(2), caller=OWNER),
        ],
    ),
    "public repository policy": (
        "policy-public",
        [set_policy("payments-api", statement("*", PULL_ACTIONS), time=T.format(1))],
        [
            set_policy(
                "payments-api",
                statement("*", PULL_ACTIONS, {"StringEquals": {"aws:PrincipalOrgID": ORG}}),
                time=T.format(1),
            )
        ],
    ),
    "repository policy for a foreign account": (
        "policy-external",
        [
            set_policy(
                "payments-api",
                statement({"AWS": f"arn:aws:iam::{OUTSIDER}:root"}, PULL_ACTIONS),
                time=T.format(1),
            )
        ],
        [
            set_policy(
                "payments-api",
                statement({"AWS": f"arn:aws:iam::{PARTNER}:root"}, PULL_ACTIONS),
                time=T.format(1),
            )
        ],
    ),
    "registry policy for a foreign account": (
        "policy-external",
        [
            put_registry_policy(
                statement({"AWS": f"arn:aws:iam::{OUTSIDER}:root"}, ["ecr:ReplicateImage"]),
                time=T.format(1),
            )
        ],
        [
            put_registry_policy(
                statement({"AWS": f"arn:aws:iam::{PARTNER}:root"}, ["ecr:ReplicateImage"]),
                time=T.format(1),
            )
        ],
    ),
    "tag overwrite": (
        "tag-overwrite",
        [
            push("payments-api", "latest", "v1", time=T.format(1)),
            push("payments-api", "latest", "evil", time=T.format(2)),
        ],
        [
            push("payments-api", "latest", "v1", time=T.format(1)),  # a first push
            push("payments-api", "1.0.1", "v2", time=T.format(2)),  # a new tag
            push("payments-api", "latest", "v1", time=T.format(3)),  # the same image again
        ],
    ),
    "repository deleted": (
        "repository-deleted",
        [delete_repository("payments-api", time=T.format(1))],
        [
            event(
                "DeleteRepository",
                time=T.format(1),
                request={"repositoryName": "payments-api", "force": False},
                repository="payments-api",
                error="RepositoryNotEmptyException",
            )
        ],
    ),
    "replication to a foreign account": (
        "replication-foreign",
        [replicate_to(OUTSIDER, time=T.format(1))],
        [replicate_to(PARTNER, OWNER, time=T.format(1))],
    ),
    "tags made mutable": (
        "tags-made-mutable",
        [tag_mutability("payments-api", "MUTABLE", time=T.format(1))],
        [tag_mutability("payments-api", "IMMUTABLE", time=T.format(1))],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_detection_fires_on_its_case(tmp_path: Path, case: str) -> None:
    detection, bad, _ = CASES[case]
    (finding,) = hunt(tmp_path, bad)
    assert finding.detection == detection
    assert finding.event_time.startswith("2024-05-01T09:")
    assert finding.region == REGION and finding.source_ip
    assert finding.principal_arn and finding.principal_account
    assert finding.resource and finding.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_detection_is_quiet_on_its_benign_twin(tmp_path: Path, case: str) -> None:
    _, _, benign = CASES[case]
    assert hunt(tmp_path, benign) == []


def test_pulls_name_the_outsider_and_group_one_image_pull(tmp_path: Path) -> None:
    records = [
        pull("payments-api", time=T.format(1), caller=OUTSIDER),
        pull("payments-api", time=T.format(1), caller=OUTSIDER, layer=True),
        pull("payments-api", time=T.format(2), caller=OUTSIDER, layer=True),
    ]
    (finding,) = hunt(tmp_path, records)
    assert (finding.principal_account, finding.resource, finding.count) == (OUTSIDER, REPO_ARN, 3)
    assert finding.severity.value == "high" and finding.source_ip == "203.0.113.77"
    assert "BatchGetImage x1" in finding.message and "GetDownloadUrlForLayer x2" in finding.message


def test_a_refused_pull_is_reported_as_an_attempt(tmp_path: Path) -> None:
    records = [pull("payments-api", time=T.format(1), caller=OUTSIDER, error="AccessDenied")]
    (finding,) = hunt(tmp_path, records)
    assert finding.severity.value == "low" and "refused (AccessDenied" in finding.message


def test_org_scoped_policy_is_external_without_the_org_id(tmp_path: Path) -> None:
    org_only = statement("*", PULL_ACTIONS, {"StringEquals": {"aws:PrincipalOrgID": ORG}})
    records = [set_policy("payments-api", org_only, time=T.format(1))]
    (finding,) = hunt(tmp_path, records, trust=Trust())
    assert finding.detection == "policy-external"
    assert hunt(tmp_path / "with-org", records, trust=Trust(org_id=ORG)) == []


def test_public_policy_message_says_who_and_what(tmp_path: Path) -> None:
    records = [set_policy("payments-api", statement("*", ["ecr:*"]), time=T.format(1))]
    (finding,) = hunt(tmp_path, records)
    assert finding.severity.value == "critical" and finding.resource == REPO_ARN
    assert "SetRepositoryPolicy made repository payments-api open to any AWS account" in (
        finding.message
    )
    assert "pull" in finding.message and "push" in finding.message


def test_tag_overwrites_follow_event_time_across_files(tmp_path: Path) -> None:
    # The later push sits in the file that sorts first: order must come from eventTime.
    early_file = [push("payments-api", "latest", "evil", time="2024-05-01T10:30:00Z")]
    late_file = [push("payments-api", "latest", "v1", time="2024-05-01T10:00:00Z")]
    (finding,) = hunt(tmp_path, early_file, late_file)
    assert finding.detection == "tag-overwrite" and finding.event_time == "2024-05-01T10:30:00Z"
    assert f"from {digest('v1')[:19]} to {digest('evil')[:19]}" in finding.message


def test_a_deleted_tag_or_repository_starts_afresh(tmp_path: Path) -> None:
    deleted_tag = event(
        "BatchDeleteImage",
        time=T.format(2),
        request={"repositoryName": "payments-api", "imageIds": [{"imageTag": "latest"}]},
        response={
            "imageIds": [{"imageDigest": digest("v1"), "imageTag": "latest"}],
            "failures": [],
        },
        repository="payments-api",
    )
    records = [
        push("payments-api", "latest", "v1", time=T.format(1)),
        deleted_tag,
        push("payments-api", "latest", "v2", time=T.format(3)),
        push("scratch", "latest", "a", time=T.format(4)),
        delete_repository("scratch", time=T.format(5)),
        push("scratch", "latest", "b", time=T.format(6)),
    ]
    assert [f.detection for f in hunt(tmp_path, records)] == ["repository-deleted"]


def test_failed_push_does_not_move_a_tag(tmp_path: Path) -> None:
    refused = push("payments-api", "latest", "evil", time=T.format(2))
    refused.update(errorCode="ImageTagAlreadyExistsException", responseElements=None)
    records = [push("payments-api", "latest", "v1", time=T.format(1)), refused]
    assert hunt(tmp_path, records) == []


def test_mutable_with_exclusion_counts_as_mutable(tmp_path: Path) -> None:
    records = [tag_mutability("payments-api", "MUTABLE_WITH_EXCLUSION", time=T.format(1))]
    (finding,) = hunt(tmp_path, records)
    assert finding.detection == "tags-made-mutable" and "MUTABLE_WITH_EXCLUSION" in finding.message


def test_owner_account_flag_trusts_pulls_from_a_second_account(tmp_path: Path) -> None:
    records = [pull("payments-api", time=T.format(1), caller=OUTSIDER)]
    assert hunt(tmp_path, records, trust=Trust(owner_accounts=(OUTSIDER,))) == []


def test_other_services_and_aws_service_callers_are_ignored(tmp_path: Path) -> None:
    s3_call = event("DeleteBucket", time=T.format(1), request={"bucketName": "logs"})
    s3_call["eventSource"] = "s3.amazonaws.com"
    service_pull = pull("payments-api", time=T.format(2), caller=OUTSIDER)
    service_pull["userIdentity"] = {"type": "AWSService", "invokedBy": "lambda.amazonaws.com"}
    assert hunt(tmp_path, [s3_call, service_pull]) == []
