"""Inspector, EventBridge, KMS and CloudTrail transforms, from recorded responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aws_seed import (
    ACCOUNT,
    FINDINGS_TOPIC,
    KEY_POLICY,
    KMS_ALIAS,
    ORG_TRAIL,
    REGIONAL_TRAIL,
    TRAIL_BUCKET,
)

from ecrguard.model import Inspector, Origin, State
from ecrguard.sources.aws import Failure
from ecrguard.sources.aws.cloudtrail import records_management_writes, transform_trail
from ecrguard.sources.aws.events import may_match_scan_events, transform_event_rule
from ecrguard.sources.aws.inspector import transform_inspector
from ecrguard.sources.aws.kms import transform_kms_key

Recorded = Callable[[str], Any]
REGISTRY = Origin(f"arn:aws:ecr:us-east-1:{ACCOUNT}:registry/{ACCOUNT}")


# --- Inspector ----------------------------------------------------------------------


def test_inspector_status_and_rescan_durations(recorded: Recorded) -> None:
    inspector = transform_inspector(
        ACCOUNT, recorded("batch_get_account_status"), recorded("get_configuration"), REGISTRY
    )

    assert (inspector.state, inspector.origin) == (State.SET, REGISTRY)
    assert inspector.value == Inspector(
        ecr_status="ENABLED", push_rescan="DAYS_30", pull_rescan="DAYS_14"
    )


def test_inspector_without_a_configuration_has_no_durations(recorded: Recorded) -> None:
    inspector = transform_inspector(ACCOUNT, recorded("batch_get_account_status"), None, REGISTRY)

    assert inspector.value == Inspector("ENABLED", None, None)


def test_inspector_is_unresolved_when_either_call_fails(recorded: Recorded) -> None:
    denied = Failure("inspector2:GetConfiguration", "AccessDenied: inspector2:GetConfiguration")
    failed_account = {
        "accounts": [],
        "failedAccounts": [
            {"accountId": ACCOUNT, "errorCode": "ACCESS_DENIED", "errorMessage": "not a member"}
        ],
    }

    no_config = transform_inspector(ACCOUNT, recorded("batch_get_account_status"), denied, REGISTRY)
    no_status = transform_inspector(
        ACCOUNT, failed_account, recorded("get_configuration"), REGISTRY
    )

    assert (no_config.state, no_config.reason) == (State.UNRESOLVED, denied.reason)
    assert no_status.state is State.UNRESOLVED
    assert no_status.reason == "inspector2:BatchGetAccountStatus: not a member"


# --- EventBridge ----------------------------------------------------------------------


def test_only_rules_that_could_match_ecr_or_inspector_events_are_kept(
    recorded: Recorded,
) -> None:
    rules = recorded("list_rules")["Rules"]

    kept = [r["Name"] for r in rules if may_match_scan_events(r)]

    assert sorted(r["Name"] for r in rules) == [
        "ec2-changes",
        "ecr-scan-findings",
        "inspector-findings",
        "nightly",
    ]
    assert sorted(kept) == ["ecr-scan-findings", "inspector-findings"]


@pytest.mark.parametrize(
    ("pattern", "kept"),
    [
        ({"detail-type": ["ECR Image Scan"]}, True),  # no source: any source
        ({"source": [{"anything-but": ["aws.ec2"]}]}, True),
        ({"source": [{"wildcard": "aws.*"}]}, True),
        ({"source": [{"prefix": "aws.s3"}]}, False),
        ({"source": "aws.inspector2"}, True),
    ],
)
def test_source_matchers_are_read_generously(pattern: dict[str, Any], kept: bool) -> None:
    assert may_match_scan_events({"EventPattern": json.dumps(pattern)}) is kept


def test_an_event_rule_with_its_targets(recorded: Recorded) -> None:
    raw = next(r for r in recorded("list_rules")["Rules"] if r["Name"] == "ecr-scan-findings")

    rule = transform_event_rule(
        raw, recorded("list_targets_by_rule")["Targets"], ACCOUNT, "us-east-1"
    )

    assert rule.id == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/ecr-scan-findings"
    assert (rule.account, rule.region) == (ACCOUNT, "us-east-1")
    assert rule.pattern.value == {"source": ["aws.ecr"], "detail-type": ["ECR Image Scan"]}
    assert (rule.state.value, rule.targets.value) == ("ENABLED", (FINDINGS_TOPIC,))


def test_an_event_rule_whose_targets_cannot_be_listed(recorded: Recorded) -> None:
    raw = next(r for r in recorded("list_rules")["Rules"] if r["Name"] == "inspector-findings")
    denied = Failure("events:ListTargetsByRule", "AccessDenied: events:ListTargetsByRule")

    rule = transform_event_rule(raw, denied, ACCOUNT, "us-east-1")

    assert rule.state.value == "DISABLED"
    assert (rule.targets.state, rule.targets.reason) == (State.UNRESOLVED, denied.reason)


# --- KMS -------------------------------------------------------------------------------


def test_a_customer_key_with_its_alias_rotation_and_policy(recorded: Recorded) -> None:
    metadata = recorded("describe_key_customer")["KeyMetadata"]

    key = transform_kms_key(
        metadata,
        recorded("get_key_rotation_status")["KeyRotationEnabled"],
        recorded("get_key_policy")["Policy"],
        recorded("list_aliases")["Aliases"],
    )

    assert key.id == metadata["Arn"] and key.id.startswith(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/")
    assert (key.account, key.region) == (ACCOUNT, "us-east-1")
    assert (key.key_id.value, key.aliases.value) == (metadata["KeyId"], (KMS_ALIAS,))
    assert (key.manager.value, key.rotation.value, key.rotation.state) == (
        "CUSTOMER",
        False,
        State.SET,
    )
    assert key.policy.value == KEY_POLICY
    assert key.known_as(f"arn:aws:kms:us-east-1:{ACCOUNT}:{KMS_ALIAS}")


def test_the_aws_managed_key_rotates_by_definition(recorded: Recorded) -> None:
    metadata = recorded("describe_key_aws_managed")["KeyMetadata"]

    key = transform_kms_key(
        metadata, None, recorded("get_key_policy")["Policy"], recorded("list_aliases")["Aliases"]
    )

    assert key.manager.value == "AWS"
    assert (key.rotation.value, key.rotation.state) == (True, State.DEFAULT)
    assert key.aliases.value == ("alias/aws/ecr",)
    assert key.known_as("alias/aws/ecr")


def test_failed_key_calls_leave_their_values_unresolved(recorded: Recorded) -> None:
    metadata = recorded("describe_key_customer")["KeyMetadata"]
    no_policy = Failure("kms:GetKeyPolicy", "AccessDenied: kms:GetKeyPolicy")
    no_rotation = Failure("kms:GetKeyRotationStatus", "AccessDenied: kms:GetKeyRotationStatus")
    no_aliases = Failure("kms:ListAliases", "AccessDenied: kms:ListAliases")

    key = transform_kms_key(metadata, no_rotation, no_policy, no_aliases)

    assert (key.policy.state, key.policy.reason) == (State.UNRESOLVED, no_policy.reason)
    assert key.rotation.reason == no_rotation.reason
    assert key.aliases.reason == no_aliases.reason
    assert key.manager.value == "CUSTOMER"


# --- CloudTrail --------------------------------------------------------------------------


def trail_raw(recorded: Recorded, arn: str) -> dict[str, Any]:
    trails = recorded("describe_trails")["trailList"]
    return next(t for t in trails if t["TrailARN"] == arn)


def test_a_logging_multi_region_trail(recorded: Recorded) -> None:
    trail = transform_trail(
        trail_raw(recorded, ORG_TRAIL),
        recorded("get_trail_status"),
        recorded("get_event_selectors"),
    )

    assert (trail.id, trail.account, trail.region) == (ORG_TRAIL, ACCOUNT, "us-east-1")
    assert trail.name.value == "org-trail"
    assert (trail.multi_region.value, trail.logging.value) == (True, True)
    assert (trail.log_validation.value, trail.management_events.value) == (True, True)
    assert trail.bucket.value == TRAIL_BUCKET


def test_a_stopped_trail_of_read_events_only(recorded: Recorded) -> None:
    trail = transform_trail(
        trail_raw(recorded, REGIONAL_TRAIL),
        recorded("get_trail_status_stopped"),
        recorded("get_event_selectors_read_only"),
    )

    assert (trail.region, trail.multi_region.value) == ("eu-west-1", False)
    assert (trail.logging.value, trail.log_validation.value) == (False, False)
    assert trail.management_events.value is False


@pytest.mark.parametrize(
    ("selectors", "writes"),
    [
        ({"EventSelectors": [{"ReadWriteType": "WriteOnly"}]}, True),
        ({"EventSelectors": [{"ReadWriteType": "All", "IncludeManagementEvents": False}]}, False),
        (
            {
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}
                ]
            },
            True,
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["true"]},
                        ]
                    }
                ]
            },
            False,
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]}
                ]
            },
            False,
        ),
        ({}, False),
    ],
)
def test_which_selectors_record_management_writes(selectors: dict[str, Any], writes: bool) -> None:
    assert records_management_writes(selectors) is writes


def test_failed_trail_calls_leave_their_values_unresolved(recorded: Recorded) -> None:
    denied = Failure("cloudtrail:GetTrailStatus", "AccessDenied: cloudtrail:GetTrailStatus")
    throttled = Failure(
        "cloudtrail:GetEventSelectors", "ThrottlingException: cloudtrail:GetEventSelectors failed"
    )

    trail = transform_trail(trail_raw(recorded, ORG_TRAIL), denied, throttled)

    assert (trail.logging.state, trail.logging.reason) == (State.UNRESOLVED, denied.reason)
    assert trail.management_events.reason == throttled.reason
    assert trail.multi_region.value is True
