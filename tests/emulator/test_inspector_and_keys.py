"""Inspector's ECR configuration and the AWS-managed ECR key, through boto3."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecrguard.emulator import Emulator

ACCOUNT = "123456789012"


@pytest.fixture
def inspector(emulator: Emulator) -> Any:
    emulator.reset()
    return emulator.client("inspector2")


def test_the_configuration_has_the_documented_defaults(inspector: Any) -> None:
    config = inspector.get_configuration()

    assert config["ecrConfiguration"]["rescanDurationState"] == {
        "rescanDuration": "DAYS_14",
        "pullDateRescanDuration": "DAYS_14",
        "pullDateRescanMode": "LAST_IN_USE_AT",
        "status": "SUCCESS",
    }
    assert config["ec2Configuration"]["scanModeState"]["scanMode"] == "EC2_SSM_AGENT_BASED"


def test_an_update_is_read_back_and_keeps_what_it_leaves_out(
    inspector: Any, emulator: Emulator
) -> None:
    inspector.update_configuration(
        ecrConfiguration={"rescanDuration": "DAYS_180", "pullDateRescanMode": "LAST_PULL_DATE"}
    )
    inspector.update_configuration(ecrConfiguration={"rescanDuration": "LIFETIME"})

    state = inspector.get_configuration()["ecrConfiguration"]["rescanDurationState"]
    assert (state["rescanDuration"], state["pullDateRescanDuration"]) == ("LIFETIME", "DAYS_14")
    assert state["pullDateRescanMode"] == "LAST_PULL_DATE"
    assert "updatedAt" in state
    west = emulator.client("inspector2", "eu-west-1").get_configuration()
    assert west["ecrConfiguration"]["rescanDurationState"]["rescanDuration"] == "DAYS_14"


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"ecrConfiguration": {"rescanDuration": "DAYS_1"}}, "enum value set"),
        ({}, "At least one of"),
        (
            {"accountId": "210987654321", "ecrConfiguration": {"rescanDuration": "LIFETIME"}},
            "own account",
        ),
    ],
)
def test_bad_updates_are_validation_errors(
    inspector: Any, kwargs: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ClientError) as refused:
        inspector.update_configuration(**kwargs)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert fragment in refused.value.response["Error"]["Message"]


def test_account_status_reports_the_caller_and_never_enabled_accounts(inspector: Any) -> None:
    before = inspector.batch_get_account_status()["accounts"]
    inspector.enable(accountIds=[ACCOUNT], resourceTypes=["ECR"])
    after = inspector.batch_get_account_status(accountIds=[ACCOUNT, "210987654321"])["accounts"]

    assert [(a["accountId"], a["resourceState"]["ecr"]["status"]) for a in before] == [
        (ACCOUNT, "DISABLED")
    ]
    assert [(a["accountId"], a["resourceState"]["ecr"]["status"]) for a in after] == [
        (ACCOUNT, "ENABLED"),
        ("210987654321", "DISABLED"),
    ]
    assert after[0]["state"]["status"] == "ENABLED"


def test_reset_restores_the_defaults(inspector: Any, emulator: Emulator) -> None:
    inspector.update_configuration(ecrConfiguration={"rescanDuration": "DAYS_30"})
    emulator.reset()

    state = inspector.get_configuration()["ecrConfiguration"]["rescanDurationState"]
    assert state["rescanDuration"] == "DAYS_14"


# --- alias/aws/ecr ----------------------------------------------------------------------


def test_describing_the_ecr_alias_creates_the_aws_managed_key(emulator: Emulator) -> None:
    emulator.reset()
    kms = emulator.client("kms")

    key = kms.describe_key(KeyId="alias/aws/ecr")["KeyMetadata"]

    assert key["KeyManager"] == "AWS"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/aws/ecr"] == key["KeyId"]
    with pytest.raises(ClientError):
        kms.create_alias(AliasName="alias/aws/ecr", TargetKeyId=key["KeyId"])


@pytest.mark.parametrize("kind", ["KMS", "KMS_DSSE"])
def test_a_kms_repository_without_a_key_uses_the_aws_managed_key(
    emulator: Emulator, kind: str
) -> None:
    emulator.reset()
    ecr, kms = emulator.client("ecr"), emulator.client("kms")

    created = ecr.create_repository(
        repositoryName="sealed", encryptionConfiguration={"encryptionType": kind}
    )["repository"]["encryptionConfiguration"]

    managed = kms.describe_key(KeyId="alias/aws/ecr")["KeyMetadata"]
    assert created == {"encryptionType": kind, "kmsKey": managed["Arn"]}


def test_a_customer_key_stays_a_customer_key(emulator: Emulator) -> None:
    emulator.reset()
    ecr, kms = emulator.client("ecr"), emulator.client("kms")
    key = kms.create_key()["KeyMetadata"]

    ecr.create_repository(
        repositoryName="own",
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key["Arn"]},
    )

    repo = ecr.describe_repositories()["repositories"][0]
    assert repo["encryptionConfiguration"]["kmsKey"] == key["Arn"]
    assert kms.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"


def test_enable_and_disable_without_account_ids_mean_the_caller(inspector: Any) -> None:
    # AWS treats a missing accountIds as the caller's own account; moto used to fail.
    enabled = inspector.enable(resourceTypes=["ECR"])["accounts"]
    assert [(a["accountId"], a["resourceStatus"]["ecr"]) for a in enabled] == [
        ("123456789012", "ENABLED")
    ]
    assert inspector.batch_get_account_status()["accounts"][0]["resourceState"]["ecr"] == {
        "status": "ENABLED"
    }
    disabled = inspector.disable(resourceTypes=["ECR"])["accounts"]
    assert disabled[0]["resourceStatus"]["ecr"] == "DISABLED"
