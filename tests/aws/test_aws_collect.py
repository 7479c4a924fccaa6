"""collect() end to end against the emulator, seeded with boto3."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from aws_seed import ACCOUNT, EXPIRE_UNTAGGED, KMS_KEY, PUBLIC_PULL, REPLICATE_FROM_ANYONE, seed
from botocore.awsrequest import AWSResponse

from ecrguard.emulator import Emulator
from ecrguard.errors import EcrguardError
from ecrguard.model import CollectionIssue, Inventory, ScanningRule, State
from ecrguard.sources.aws import REQUIRED_PERMISSIONS, CallStats, collect, enabled_regions

REGIONS = ["us-east-1", "eu-west-1"]


@pytest.fixture(scope="module")
def seeded(emulator: Emulator) -> Emulator:
    emulator.reset()
    seed(emulator)
    emulator.client("ecr", "eu-west-1").create_repository(repositoryName="edge/cache")
    return emulator


@pytest.fixture(scope="module")
def scan(seeded: Emulator) -> tuple[Inventory, CallStats]:
    stats = CallStats()
    inventory = collect(seeded.session(), REGIONS, endpoint_url=seeded.endpoint_url, stats=stats)
    return inventory, stats


def by_name(inventory: Inventory, name: str) -> Any:
    return next(r for r in inventory.repositories if r.name.value == name)


def injected_error(
    code: str, message: str = "injected", *, region: str | None = None
) -> Callable[..., Any]:
    """A before-call handler that answers with an AWS error instead of calling."""

    def handler(context: dict[str, Any], **_: Any) -> Any:
        if region is not None and context.get("client_region") != region:
            return None
        error = {"Error": {"Code": code, "Message": message}}
        return AWSResponse("https://injected", 400, {}, None), {
            **error,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        }

    return handler


# --- the happy path -------------------------------------------------------------


def test_repositories_sorted_by_region_then_name(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan

    assert [(r.region, r.name.value) for r in inventory.repositories] == [
        ("eu-west-1", "edge/cache"),
        ("us-east-1", "app"),
        ("us-east-1", "team/releases"),
        ("us-east-1", "team/secure"),
    ]
    assert all(r.id == r.arn == r.origin.ref for r in inventory.repositories)
    assert {r.account for r in inventory.repositories} == {ACCOUNT}


def test_repository_values_and_where_they_came_from(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan
    app, secure, releases = (by_name(inventory, n) for n in ("app", "team/secure", "team/releases"))

    assert (app.policy.value, app.policy.state) == (PUBLIC_PULL, State.SET)
    assert (app.lifecycle_policy.value, app.lifecycle_policy.state) == (EXPIRE_UNTAGGED, State.SET)
    assert (app.tag_mutability.value, app.scan_on_push.value) == ("MUTABLE", False)
    assert (secure.policy.value, secure.policy.state) == (None, State.DEFAULT)
    assert (secure.lifecycle_policy.state, secure.tag_mutability.value) == (
        State.DEFAULT,
        "IMMUTABLE",
    )
    assert (secure.encryption_type.value, secure.kms_key.value) == ("KMS", KMS_KEY)
    assert secure.scan_on_push.value is True
    assert releases.mutability_exclusions.value == ("latest", "dev-*")
    assert releases.force_delete.state is State.DEFAULT


def test_registries_per_region(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan
    east, west = sorted(inventory.registries, key=lambda r: r.region != "us-east-1")

    assert (east.policy.value, east.policy.state) == (REPLICATE_FROM_ANYONE, State.SET)
    assert (east.policy_scope.value, west.policy_scope.value) == ("V1", "V2")
    assert (east.scan_type.value, west.scan_type.value) == ("ENHANCED", "BASIC")
    assert east.scanning_rules.value == (
        ScanningRule("CONTINUOUS_SCAN", ("team/*",)),
        ScanningRule("SCAN_ON_PUSH", ("*",)),
    )
    assert [d.region for rule in east.replication_rules.value or () for d in rule.destinations] == [
        "eu-west-1"
    ]
    assert (west.policy.value, west.policy.state) == (None, State.DEFAULT)
    assert west.replication_rules.value == ()


def test_creation_templates(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan

    assert [(t.region, t.prefix.value) for t in inventory.creation_templates] == [
        ("us-east-1", "ROOT"),
        ("us-east-1", "mirror/docker-hub"),
    ]
    root = inventory.creation_templates[0]
    assert (root.policy.value, root.applied_for.value) == (PUBLIC_PULL, ("PULL_THROUGH_CACHE",))


def test_vpcs_and_endpoints(scan: tuple[Inventory, CallStats], seeded: Emulator) -> None:
    inventory, _ = scan
    east_vpcs = {v.vpc_id.value for v in inventory.vpcs if v.region == "us-east-1"}
    endpoints = [e for e in inventory.vpc_endpoints if e.region == "us-east-1"]

    assert len(east_vpcs) == 2  # moto's default VPC and the seeded one
    assert {v.region for v in inventory.vpcs} == set(REGIONS)
    assert sorted(e.service_name.value or "" for e in endpoints) == [
        "com.amazonaws.us-east-1.ecr.api",
        "com.amazonaws.us-east-1.ecr.dkr",
        "com.amazonaws.us-east-1.s3",
    ]
    assert {e.vpc_id.value for e in endpoints} <= east_vpcs
    assert all(e.policy.state is State.SET for e in endpoints)


def test_organization(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan
    org = inventory.organization

    assert org is not None
    assert org.id.state is State.SET and (org.id.value or "").startswith("o-")
    assert ACCOUNT in (org.accounts.value or ())
    assert len(org.accounts.value or ()) == 2


def test_scopes_and_no_issues(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan

    assert inventory.scopes == ((ACCOUNT, "us-east-1"), (ACCOUNT, "eu-west-1"))
    assert inventory.issues == ()


def test_calls_are_counted_and_read_only(scan: tuple[Inventory, CallStats]) -> None:
    _, stats = scan
    repositories, regions = 4, 2

    # once: identity, organization, accounts; per region: 8; per repository: 2
    assert stats.total == 3 + 8 * regions + 2 * repositories
    assert stats.calls["ecr:GetRepositoryPolicy"] == repositories
    assert set(stats.calls) <= set(REQUIRED_PERMISSIONS)
    assert all(op.split(":")[1].startswith(("Describe", "Get", "List")) for op in stats.calls)


def test_the_output_is_deterministic(seeded: Emulator, scan: tuple[Inventory, CallStats]) -> None:
    again = collect(seeded.session(), REGIONS, endpoint_url=seeded.endpoint_url, max_workers=3)

    assert again == scan[0]


# --- permissions, through the emulator's IAM enforcement ------------------------


@pytest.fixture
def auditor(seeded: Emulator) -> Iterator[Callable[[list[str], list[str]], Any]]:
    """A session for a new IAM user allowed ``allow`` and denied ``deny``."""
    iam = seeded.client("iam")
    users: list[str] = []

    def make(allow: list[str], deny: list[str]) -> Any:
        name = f"auditor-{uuid.uuid4().hex[:8]}"
        statements = [{"Effect": "Allow", "Action": allow, "Resource": "*"}]
        if deny:
            statements.append({"Effect": "Deny", "Action": deny, "Resource": "*"})
        iam.create_user(UserName=name)
        iam.put_user_policy(
            UserName=name,
            PolicyName="scan",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        users.append(name)
        return seeded.session(access_key=key["AccessKeyId"], secret=key["SecretAccessKey"])

    yield make


def test_the_documented_read_only_permissions_are_enough(
    seeded: Emulator, auditor: Any, scan: tuple[Inventory, CallStats]
) -> None:
    session = auditor(list(REQUIRED_PERMISSIONS), [])

    with seeded.iam_enforced():
        inventory = collect(session, REGIONS, endpoint_url=seeded.endpoint_url)

    assert inventory.issues == ()
    assert inventory == scan[0]


def test_denied_calls_leave_values_unresolved(seeded: Emulator, auditor: Any) -> None:
    session = auditor(
        list(REQUIRED_PERMISSIONS), ["ecr:GetRepositoryPolicy", "organizations:ListAccounts"]
    )

    with seeded.iam_enforced():
        inventory = collect(session, ["us-east-1"], endpoint_url=seeded.endpoint_url)

    app = by_name(inventory, "app")
    assert app.policy.state is State.UNRESOLVED
    assert app.policy.reason == "AccessDenied: ecr:GetRepositoryPolicy"
    assert app.lifecycle_policy.value == EXPIRE_UNTAGGED
    assert inventory.organization is not None
    assert inventory.organization.accounts.state is State.UNRESOLVED
    assert set(inventory.issues) == {
        CollectionIssue(
            scope=f"{ACCOUNT}/us-east-1",
            operation="ecr:GetRepositoryPolicy",
            reason="AccessDenied: ecr:GetRepositoryPolicy",
        ),
        CollectionIssue(
            scope=f"{ACCOUNT}/global",
            operation="organizations:ListAccounts",
            reason="AccessDenied: organizations:ListAccounts",
        ),
    }
    assert len(inventory.issues) == 4  # three repositories' policies, one account list


# --- failures injected at the client's event hooks -------------------------------


def test_a_region_whose_repositories_cannot_be_listed(seeded: Emulator) -> None:
    session = seeded.session()
    session.events.register(
        "before-call.ecr.DescribeRepositories",
        injected_error("AccessDeniedException", region="eu-west-1"),
    )

    inventory = collect(session, REGIONS, endpoint_url=seeded.endpoint_url)

    assert {r.region for r in inventory.repositories} == {"us-east-1"}
    assert inventory.issues == (
        CollectionIssue(
            f"{ACCOUNT}/eu-west-1",
            "ecr:DescribeRepositories",
            "AccessDenied: ecr:DescribeRepositories",
        ),
    )
    assert [r.region for r in inventory.registries] == REGIONS


def test_calls_still_failing_after_retries_are_unresolved(seeded: Emulator) -> None:
    session = seeded.session()
    session.events.register(
        "before-call.ecr.GetLifecyclePolicy", injected_error("ThrottlingException", "Rate exceeded")
    )
    session.events.register(
        "before-call.organizations.DescribeOrganization", injected_error("AccessDeniedException")
    )

    inventory = collect(session, ["us-east-1"], endpoint_url=seeded.endpoint_url)

    lifecycle = by_name(inventory, "app").lifecycle_policy
    assert lifecycle.state is State.UNRESOLVED
    assert lifecycle.reason == "ThrottlingException: ecr:GetLifecyclePolicy failed: Rate exceeded"
    assert inventory.organization is None
    assert sorted({(i.scope, i.operation) for i in inventory.issues}) == [
        (f"{ACCOUNT}/global", "organizations:DescribeOrganization"),
        (f"{ACCOUNT}/us-east-1", "ecr:GetLifecyclePolicy"),
    ]


def test_an_account_outside_any_organization(seeded: Emulator) -> None:
    other = "210987654321"
    credentials = seeded.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{other}:role/auditor", RoleSessionName="scan"
    )["Credentials"]
    session = seeded.session(
        access_key=credentials["AccessKeyId"], secret=credentials["SecretAccessKey"]
    )

    inventory = collect(session, ["us-east-1"], endpoint_url=seeded.endpoint_url)

    assert inventory.organization is None
    assert inventory.issues == ()
    assert inventory.repositories == ()
    assert inventory.scopes == ((other, "us-east-1"),)
    assert inventory.registries[0].account == other


def test_unusable_credentials_stop_the_scan(seeded: Emulator) -> None:
    session = seeded.session()
    session.events.register(
        "before-call.sts.GetCallerIdentity", injected_error("InvalidClientTokenId")
    )

    with pytest.raises(EcrguardError, match="InvalidClientTokenId: sts:GetCallerIdentity"):
        collect(session, ["us-east-1"], endpoint_url=seeded.endpoint_url)


# --- regions --------------------------------------------------------------------


def test_enabled_regions(seeded: Emulator) -> None:
    regions = enabled_regions(seeded.session(), seeded.endpoint_url)

    assert regions == sorted(regions)
    assert {"us-east-1", "eu-west-1"} <= set(regions)


def test_enabled_regions_failure_is_one_clear_error(seeded: Emulator) -> None:
    session = seeded.session()
    session.events.register(
        "before-call.ec2.DescribeRegions", injected_error("UnauthorizedOperation")
    )

    with pytest.raises(EcrguardError, match=r"AccessDenied: ec2:DescribeRegions.*--region"):
        enabled_regions(session, seeded.endpoint_url)
