"""collect() end to end against the emulator, seeded with boto3."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from aws_seed import (
    ACCOUNT,
    EXPIRE_UNTAGGED,
    FINDINGS_TOPIC,
    KEY_POLICY,
    KMS_ALIAS,
    KMS_KEY,
    ORG_TRAIL,
    PUBLIC_PULL,
    REGIONAL_TRAIL,
    REPLICATE_FROM_ANYONE,
    TRAIL_BUCKET,
    XZ,
    manifest,
    seed,
)
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from ecrguard.emulator import Emulator
from ecrguard.errors import EcrguardError
from ecrguard.model import CollectionIssue, Inspector, Inventory, ScanningRule, State
from ecrguard.sources.aws import REQUIRED_PERMISSIONS, CallStats, collect, enabled_regions

REGIONS = ["us-east-1", "eu-west-1"]
T = TypeVar("T")


@pytest.fixture(scope="module")
def seeded(emulator: Emulator) -> Emulator:
    emulator.reset()
    seed(emulator)
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
    with_serious_findings = 2  # app's newest image and edge/cache's
    # ListTargetsByRule for the two rules that could route scan findings (us-east-1)
    targets = 2
    # us-east-1: ListAliases; DescribeKey and GetKeyPolicy for the alias ARN, the
    # key ARN (the same customer key) and the AWS-managed key; rotation for customer keys
    keys = 1 + 3 + 3 + 2
    trails = 2 * 2  # GetTrailStatus and GetEventSelectors, once per trail

    # once: identity, organization, accounts; per region: 12; per repository: 3
    assert stats.total == (
        3 + 12 * regions + 3 * repositories + with_serious_findings + targets + keys + trails
    )
    assert stats.calls["ecr:GetRepositoryPolicy"] == repositories
    assert stats.calls["ecr:DescribeImages"] == repositories
    assert stats.calls["cloudtrail:DescribeTrails"] == regions
    assert set(stats.calls) <= set(REQUIRED_PERMISSIONS)
    assert all(
        op.split(":")[1].startswith(("Describe", "Get", "List", "BatchGet")) for op in stats.calls
    )


def test_the_output_is_deterministic(seeded: Emulator, scan: tuple[Inventory, CallStats]) -> None:
    again = collect(seeded.session(), REGIONS, endpoint_url=seeded.endpoint_url, max_workers=3)

    assert again == scan[0]


# --- labs 05-12: images, Inspector, event rules, keys, trails ----------------------


def test_the_newest_image_of_each_repository(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan
    app, secure, releases, edge = (
        by_name(inventory, n).newest_image
        for n in ("app", "team/secure", "team/releases", "edge/cache")
    )

    assert app.state is State.SET and app.value.tags == ("v2",)  # not v2's later signature
    assert app.value.scan_status == "COMPLETE"  # enhanced scan on push
    assert app.value.severity_counts == (("CRITICAL", 1), ("HIGH", 1), ("MEDIUM", 1))
    assert [(f.severity, f.name, f.package) for f in app.value.findings] == [
        ("CRITICAL", "CVE-2024-3094", "xz-utils"),
        ("HIGH", "CVE-2023-4911", "glibc"),
    ]
    assert app.value.findings[0].first_observed == "2024-03-29T00:00:00+00:00"
    assert (secure.value.tags, secure.value.scan_status) == (("1.0",), "ACTIVE")  # continuous
    assert (secure.value.severity_counts, secure.value.findings) == ((), ())
    assert (releases.value, releases.state) == (None, State.SET)  # no images at all
    # eu-west-1 scans the basic way, by the legacy flag; basic findings date from the scan.
    assert [(f.name, f.first_observed) for f in edge.value.findings] == [
        ("CVE-2023-4911", edge.value.scan_completed_at)
    ]


def test_inspector_per_region(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan
    east, west = sorted(inventory.registries, key=lambda r: r.region != "us-east-1")

    assert east.inspector is not None and west.inspector is not None
    assert east.inspector.value == Inspector("ENABLED", "DAYS_30", "DAYS_14")
    assert west.inspector.value == Inspector("DISABLED", "DAYS_14", "DAYS_14")


def test_only_rules_that_could_route_scan_findings(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan

    rules = {(r.region, r.name.value): r for r in inventory.event_rules}

    assert sorted(rules) == [
        ("us-east-1", "ecr-scan-findings"),
        ("us-east-1", "inspector-findings"),
    ]
    routed = rules[("us-east-1", "ecr-scan-findings")]
    assert (routed.state.value, routed.targets.value) == ("ENABLED", (FINDINGS_TOPIC,))
    assert routed.pattern.value == {"source": ["aws.ecr"], "detail-type": ["ECR Image Scan"]}
    disabled = rules[("us-east-1", "inspector-findings")]
    assert (disabled.state.value, disabled.targets.value) == ("DISABLED", ())


def test_the_keys_repositories_and_templates_use(
    scan: tuple[Inventory, CallStats], seeded: Emulator
) -> None:
    inventory, _ = scan
    secure, releases = by_name(inventory, "team/secure"), by_name(inventory, "team/releases")
    mirror = next(t for t in inventory.creation_templates if t.prefix.value == "mirror/docker-hub")
    managed_arn = seeded.client("kms").describe_key(KeyId="alias/aws/ecr")["KeyMetadata"]["Arn"]

    # The alias ARN and the key ARN name one key: it is read once.
    assert len(inventory.kms_keys) == 2
    customer = inventory.key(KMS_KEY)
    assert customer is not None and inventory.key(mirror.kms_key.value or "") is customer
    assert secure.kms_key.value == KMS_KEY
    assert (customer.manager.value, customer.rotation.value) == ("CUSTOMER", False)
    assert customer.aliases.value == (KMS_ALIAS,)
    assert customer.policy.value == KEY_POLICY
    # KMS without a key: the emulator, as AWS, reports the managed key's ARN.
    managed = inventory.key(releases.kms_key.value or "")
    assert managed is not None and managed.id == managed_arn
    assert (managed.manager.value, managed.rotation.value) == ("AWS", True)
    assert managed.known_as("alias/aws/ecr")


def test_trails_seen_from_every_region_once(scan: tuple[Inventory, CallStats]) -> None:
    inventory, _ = scan

    regional, org = inventory.trails  # in ARN order

    assert (org.id, org.region) == (ORG_TRAIL, "us-east-1")
    assert (org.multi_region.value, org.logging.value, org.log_validation.value) == (
        True,
        True,
        True,
    )
    assert (org.management_events.value, org.bucket.value) == (True, TRAIL_BUCKET)
    assert (regional.id, regional.region) == (REGIONAL_TRAIL, "eu-west-1")
    assert (regional.logging.value, regional.management_events.value) == (False, False)


def test_calls_per_repository_stay_three(seeded: Emulator) -> None:
    """N repositories cost 3 calls each (+1 when the newest image has serious
    findings) over a constant per region: here a fresh account, one region."""
    session = seeded.session_as("210987654321", region="ap-southeast-2")
    ecr = session.client("ecr", endpoint_url=seeded.endpoint_url)
    repositories = 6
    seeded.load_scan_findings({"svc-0:2": [XZ]})
    for n in range(repositories):
        ecr.create_repository(
            repositoryName=f"svc-{n}", imageScanningConfiguration={"scanOnPush": True}
        )
        for version in ("1", "2"):
            ecr.put_image(
                repositoryName=f"svc-{n}",
                imageManifest=manifest(f"svc-{n}:{version}"),
                imageTag=version,
            )
    stats = CallStats()

    inventory = collect(session, ["ap-southeast-2"], endpoint_url=seeded.endpoint_url, stats=stats)

    # once: GetCallerIdentity and DescribeOrganization (the account is in none)
    assert stats.total == 2 + 12 + 3 * repositories + 1
    assert stats.calls["ecr:DescribeImageScanFindings"] == 1
    assert inventory.issues == ()
    assert {r.newest_image.value.tags for r in inventory.repositories} == {("2",)}  # type: ignore[union-attr]


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


READ_ONLY_VERBS = ("Describe", "Get", "List", "BatchGet")


def read_only_run(emulator: Emulator, session: Any, run: Callable[[Any], T]) -> T:
    """``run(session)`` under IAM enforcement; fails if it called any mutating API.

    Every operation the session's clients call is recorded before it is sent,
    so a mutating call is caught even where IAM would have allowed it, and even
    when the caller swallowed the AccessDenied that followed.
    """
    called: list[str] = []

    def record(model: Any, **_: Any) -> None:
        called.append(f"{model.service_model.signing_name}:{model.name}")

    session.events.register("before-call", record)
    with emulator.iam_enforced():
        try:
            result: T | ClientError = run(session)
        except ClientError as err:
            result = err
    mutating = sorted(
        {
            c
            for c in called
            if c not in REQUIRED_PERMISSIONS or not c.split(":")[1].startswith(READ_ONLY_VERBS)
        }
    )
    assert not mutating, f"called APIs outside the read-only policy: {', '.join(mutating)}"
    assert not isinstance(result, ClientError), result
    return result


def test_the_documented_read_only_permissions_are_enough(
    seeded: Emulator, auditor: Any, scan: tuple[Inventory, CallStats]
) -> None:
    session = auditor(list(REQUIRED_PERMISSIONS), [])

    inventory = read_only_run(
        seeded, session, lambda s: collect(s, REGIONS, endpoint_url=seeded.endpoint_url)
    )

    assert inventory.issues == ()  # not one AccessDenied
    assert inventory == scan[0]


def test_the_read_only_proof_fails_on_a_mutating_call(seeded: Emulator, auditor: Any) -> None:
    """The proof above is only worth something if a scan that writes would fail it."""
    session = auditor(list(REQUIRED_PERMISSIONS), [])

    def scan_that_writes(s: Any) -> Inventory:
        inventory = collect(s, REGIONS, endpoint_url=seeded.endpoint_url)
        ecr = s.client("ecr", region_name="us-east-1", endpoint_url=seeded.endpoint_url)
        ecr.put_image_tag_mutability(repositoryName="app", imageTagMutability="IMMUTABLE")
        return inventory

    with pytest.raises(AssertionError, match="ecr:PutImageTagMutability"):
        read_only_run(seeded, session, scan_that_writes)


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


def test_denied_key_policy_and_inspector_configuration(seeded: Emulator, auditor: Any) -> None:
    session = auditor(
        list(REQUIRED_PERMISSIONS),
        ["kms:GetKeyPolicy", "inspector2:GetConfiguration", "ecr:DescribeImageScanFindings"],
    )

    with seeded.iam_enforced():
        inventory = collect(session, ["us-east-1"], endpoint_url=seeded.endpoint_url)

    east = inventory.registries[0]
    assert east.inspector is not None
    assert (east.inspector.state, east.inspector.reason) == (
        State.UNRESOLVED,
        "AccessDenied: inspector2:GetConfiguration",
    )
    assert all(k.policy.reason == "AccessDenied: kms:GetKeyPolicy" for k in inventory.kms_keys)
    assert all(k.rotation.resolved and k.manager.resolved for k in inventory.kms_keys)
    app, secure = by_name(inventory, "app"), by_name(inventory, "team/secure")
    assert app.newest_image.reason == "AccessDenied: ecr:DescribeImageScanFindings"
    assert secure.newest_image.state is State.SET  # no serious findings: no findings call
    assert {(i.operation, i.reason) for i in inventory.issues} == {
        ("kms:GetKeyPolicy", "AccessDenied: kms:GetKeyPolicy"),
        ("inspector2:GetConfiguration", "AccessDenied: inspector2:GetConfiguration"),
        ("ecr:DescribeImageScanFindings", "AccessDenied: ecr:DescribeImageScanFindings"),
    }
    assert len(inventory.issues) == 3 + 1 + 1  # one per key read, region, image


def test_a_region_whose_trails_and_rules_cannot_be_listed(seeded: Emulator) -> None:
    session = seeded.session()
    session.events.register(
        "before-call.cloudtrail.DescribeTrails",
        injected_error("AccessDeniedException", region="eu-west-1"),
    )
    session.events.register("before-call.events.ListRules", injected_error("AccessDeniedException"))

    inventory = collect(session, REGIONS, endpoint_url=seeded.endpoint_url)

    # us-east-1 still sees the multi-region trail, not eu-west-1's own.
    assert [t.id for t in inventory.trails] == [ORG_TRAIL]
    assert inventory.event_rules == ()
    assert sorted((i.scope, i.operation) for i in inventory.issues) == [
        (f"{ACCOUNT}/eu-west-1", "cloudtrail:DescribeTrails"),
        (f"{ACCOUNT}/eu-west-1", "events:ListRules"),
        (f"{ACCOUNT}/us-east-1", "events:ListRules"),
    ]


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
