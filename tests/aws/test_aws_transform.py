"""transform_* on API responses recorded from the emulator (tests/aws/fixtures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_seed import ACCOUNT, EXPIRE_UNTAGGED, KMS_KEY, PUBLIC_PULL, REPLICATE_FROM_ANYONE
from botocore.exceptions import ClientError

from ecrguard.model import (
    Origin,
    ReplicationDestination,
    ReplicationRule,
    ScanningRule,
    State,
)
from ecrguard.sources.aws import Failure
from ecrguard.sources.aws.calls import failure_from
from ecrguard.sources.aws.ec2 import transform_vpc, transform_vpc_endpoint
from ecrguard.sources.aws.ecr import (
    transform_creation_template,
    transform_registry,
    transform_repository,
)
from ecrguard.sources.aws.organizations import transform_organization

Recorded = Callable[[str], Any]
DENIED = Failure("ecr:GetRepositoryPolicy", "AccessDenied: ecr:GetRepositoryPolicy")


def repository_raw(recorded: Recorded, name: str) -> dict[str, Any]:
    repos = recorded("describe_repositories")["repositories"]
    return next(r for r in repos if r["repositoryName"] == name)


# --- repositories ---------------------------------------------------------------


def test_repository_with_policy_and_lifecycle(recorded: Recorded) -> None:
    repo = transform_repository(
        repository_raw(recorded, "app"),
        recorded("get_repository_policy"),
        recorded("get_lifecycle_policy"),
        None,
        None,
    )

    arn = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app"
    assert (repo.id, repo.origin, repo.account, repo.region) == (
        arn,
        Origin(arn),
        ACCOUNT,
        "us-east-1",
    )
    assert repo.arn == arn
    assert (repo.name.value, repo.name.state) == ("app", State.SET)
    assert (repo.policy.value, repo.policy.state) == (PUBLIC_PULL, State.SET)
    assert (repo.lifecycle_policy.value, repo.lifecycle_policy.state) == (
        EXPIRE_UNTAGGED,
        State.SET,
    )
    assert (repo.tag_mutability.value, repo.tag_mutability.state) == ("MUTABLE", State.SET)
    assert (repo.mutability_exclusions.value, repo.mutability_exclusions.state) == (
        (),
        State.DEFAULT,
    )
    assert (repo.encryption_type.value, repo.encryption_type.state) == ("AES256", State.SET)
    assert (repo.kms_key.value, repo.kms_key.state) == (None, State.DEFAULT)
    assert (repo.scan_on_push.value, repo.scan_on_push.state) == (False, State.SET)
    assert (repo.force_delete.value, repo.force_delete.state) == (False, State.DEFAULT)
    assert repo.policy.origin == Origin(arn)


def test_repository_without_policies_takes_the_defaults(recorded: Recorded) -> None:
    repo = transform_repository(repository_raw(recorded, "team/secure"), None, None, None, None)

    assert (repo.policy.value, repo.policy.state) == (None, State.DEFAULT)
    assert (repo.lifecycle_policy.value, repo.lifecycle_policy.state) == (None, State.DEFAULT)
    assert repo.tag_mutability.value == "IMMUTABLE"
    assert (repo.encryption_type.value, repo.kms_key.value) == ("KMS", KMS_KEY)
    assert repo.kms_key.state is State.SET
    assert repo.scan_on_push.value is True


def test_repository_mutability_exclusions(recorded: Recorded) -> None:
    repo = transform_repository(repository_raw(recorded, "team/releases"), None, None, None, None)

    assert repo.tag_mutability.value == "IMMUTABLE_WITH_EXCLUSION"
    assert (repo.mutability_exclusions.value, repo.mutability_exclusions.state) == (
        ("latest", "dev-*"),
        State.SET,
    )


def test_a_denied_policy_call_leaves_the_policy_unresolved(recorded: Recorded) -> None:
    repo = transform_repository(repository_raw(recorded, "app"), DENIED, None, None, None)

    assert repo.policy.state is State.UNRESOLVED
    assert repo.policy.reason == "AccessDenied: ecr:GetRepositoryPolicy"
    assert not repo.policy.resolved
    assert repo.lifecycle_policy.state is State.DEFAULT


def test_a_policy_that_is_not_json_is_unresolved(recorded: Recorded) -> None:
    broken = {**recorded("get_repository_policy"), "policyText": "{not json"}

    repo = transform_repository(repository_raw(recorded, "app"), broken, None, None, None)

    assert repo.policy.state is State.UNRESOLVED
    assert "not valid JSON" in repo.policy.reason


# --- registry -------------------------------------------------------------------


def test_registry_from_its_four_responses(recorded: Recorded) -> None:
    registry = transform_registry(
        ACCOUNT,
        "us-east-1",
        "aws",
        policy=recorded("get_registry_policy"),
        policy_scope=recorded("get_account_setting"),
        scanning=recorded("get_registry_scanning_configuration"),
        registry=recorded("describe_registry"),
    )

    assert registry.id == f"arn:aws:ecr:us-east-1:{ACCOUNT}:registry/{ACCOUNT}"
    assert (registry.account, registry.region) == (ACCOUNT, "us-east-1")
    assert (registry.policy.value, registry.policy.state) == (REPLICATE_FROM_ANYONE, State.SET)
    assert (registry.policy_scope.value, registry.policy_scope.state) == ("V1", State.SET)
    assert (registry.scan_type.value, registry.scan_type.state) == ("ENHANCED", State.SET)
    assert registry.scanning_rules.value == (
        ScanningRule(frequency="CONTINUOUS_SCAN", filters=("team/*",)),
        ScanningRule(frequency="SCAN_ON_PUSH", filters=("*",)),
    )
    assert registry.replication_rules.value == (
        ReplicationRule(
            destinations=(ReplicationDestination(region="eu-west-1", registry_id=ACCOUNT),),
            filters=("team",),
        ),
    )


def test_registry_defaults_and_failures(recorded: Recorded) -> None:
    denied = Failure("ecr:GetAccountSetting", "AccessDenied: ecr:GetAccountSetting")
    throttled = Failure(
        "ecr:GetRegistryScanningConfiguration",
        "ThrottlingException: ecr:GetRegistryScanningConfiguration failed: Rate exceeded",
    )

    registry = transform_registry(
        ACCOUNT,
        "cn-north-1",
        "aws-cn",
        policy=None,
        policy_scope=denied,
        scanning=throttled,
        registry={"registryId": ACCOUNT},
    )

    assert registry.id == f"arn:aws-cn:ecr:cn-north-1:{ACCOUNT}:registry/{ACCOUNT}"
    assert (registry.policy.value, registry.policy.state) == (None, State.DEFAULT)
    assert registry.policy_scope.state is State.UNRESOLVED
    assert registry.policy_scope.reason == "AccessDenied: ecr:GetAccountSetting"
    assert registry.scan_type.state is registry.scanning_rules.state is State.UNRESOLVED
    assert registry.scanning_rules.reason == throttled.reason
    assert (registry.replication_rules.value, registry.replication_rules.state) == (
        (),
        State.DEFAULT,
    )


# --- creation templates ---------------------------------------------------------


def test_creation_templates(recorded: Recorded) -> None:
    raw = recorded("describe_repository_creation_templates")["repositoryCreationTemplates"]

    root, mirror = (transform_creation_template(t, ACCOUNT, "us-east-1", "aws") for t in raw)

    assert root.id == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository-creation-template/ROOT"
    assert root.prefix.value == "ROOT"
    assert root.applied_for.value == ("PULL_THROUGH_CACHE",)
    assert (root.policy.value, root.policy.state) == (PUBLIC_PULL, State.SET)
    assert (root.lifecycle_policy.value, root.lifecycle_policy.state) == (None, State.DEFAULT)
    assert (root.tag_mutability.value, root.encryption_type.value) == ("MUTABLE", "AES256")
    assert mirror.prefix.value == "mirror/docker-hub"
    assert mirror.applied_for.value == ("PULL_THROUGH_CACHE", "REPLICATION")
    assert (mirror.policy.value, mirror.policy.state) == (None, State.DEFAULT)
    assert mirror.lifecycle_policy.value == EXPIRE_UNTAGGED
    assert (mirror.tag_mutability.value, mirror.encryption_type.value) == ("IMMUTABLE", "KMS")
    assert mirror.kms_key.value == recorded("describe_key_customer")["KeyMetadata"]["Arn"]


# --- networking -----------------------------------------------------------------


def test_vpcs(recorded: Recorded) -> None:
    vpcs = [
        transform_vpc(v, ACCOUNT, "us-east-1", "aws") for v in recorded("describe_vpcs")["Vpcs"]
    ]

    assert len(vpcs) == 2
    for vpc in vpcs:
        assert vpc.id == f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc/{vpc.vpc_id.value}"
        assert vpc.vpc_id.state is State.SET
        assert vpc.account == ACCOUNT


def test_vpc_endpoints(recorded: Recorded) -> None:
    raw = recorded("describe_vpc_endpoints")["VpcEndpoints"]

    endpoints = [transform_vpc_endpoint(e, ACCOUNT, "us-east-1", "aws") for e in raw]

    assert sorted((e.service_name.value, e.endpoint_type.value) for e in endpoints) == [
        ("com.amazonaws.us-east-1.ecr.api", "Interface"),
        ("com.amazonaws.us-east-1.ecr.dkr", "Interface"),
        ("com.amazonaws.us-east-1.s3", "Gateway"),
    ]
    first = endpoints[0]
    assert first.id.startswith(f"arn:aws:ec2:us-east-1:{ACCOUNT}:vpc-endpoint/vpce-")
    assert first.vpc_id.value == raw[0]["VpcId"]
    assert first.policy.state is State.SET
    assert first.policy.value and first.policy.value["Statement"][0]["Principal"] == "*"


def test_an_endpoint_without_a_policy_has_the_default(recorded: Recorded) -> None:
    raw = dict(recorded("describe_vpc_endpoints")["VpcEndpoints"][0])
    del raw["PolicyDocument"]

    endpoint = transform_vpc_endpoint(raw, ACCOUNT, "us-east-1", "aws")

    assert (endpoint.policy.value, endpoint.policy.state) == (None, State.DEFAULT)


# --- organization ---------------------------------------------------------------


def test_organization_with_its_accounts(recorded: Recorded) -> None:
    org = recorded("describe_organization")["Organization"]
    accounts = recorded("list_accounts")["Accounts"]

    organization = transform_organization(org, accounts)

    assert (organization.id.value, organization.id.state) == (org["Id"], State.SET)
    assert organization.id.origin == Origin(org["Arn"])
    assert organization.accounts.value == tuple(sorted(a["Id"] for a in accounts))
    assert ACCOUNT in (organization.accounts.value or ())


def test_organization_whose_accounts_cannot_be_listed(recorded: Recorded) -> None:
    org = recorded("describe_organization")["Organization"]
    denied = Failure("organizations:ListAccounts", "AccessDenied: organizations:ListAccounts")

    organization = transform_organization(org, denied)

    assert organization.id.value == org["Id"]
    assert organization.accounts.state is State.UNRESOLVED
    assert organization.accounts.reason == "AccessDenied: organizations:ListAccounts"


# --- error classification -------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (
            {"Code": "AccessDeniedException", "Message": "User: x is not authorized"},
            400,
            "AccessDenied: ecr:GetRepositoryPolicy",
        ),
        ({"Code": "UnauthorizedOperation"}, 403, "AccessDenied: ecr:GetRepositoryPolicy"),
        (
            # botocore's fallback when a JSON service answers with an XML body.
            {
                "Code": "403",
                "Message": "<ErrorResponse><Errors><Error><Code>AccessDenied</Code>"
                "<Message>no</Message></Error></Errors></ErrorResponse>",
            },
            403,
            "AccessDenied: ecr:GetRepositoryPolicy",
        ),
        (
            {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            400,
            "ThrottlingException: ecr:GetRepositoryPolicy failed: Rate exceeded",
        ),
        ({"Code": "ServerException"}, 500, "ServerException: ecr:GetRepositoryPolicy failed"),
    ],
)
def test_failure_reasons_name_the_operation(
    error: dict[str, str], status: int, reason: str
) -> None:
    err = ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetRepositoryPolicy"
    )

    failure = failure_from("ecr:GetRepositoryPolicy", err)

    assert failure == Failure("ecr:GetRepositoryPolicy", reason)
