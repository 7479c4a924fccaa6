"""Repository creation templates and account settings, through boto3 against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecrguard.emulator import Emulator
from ecrguard.emulator.ecr_extensions import install

KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}],
    }
)
LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "imageCountMoreThan",
                    "countNumber": 5,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


# --- CreateRepositoryCreationTemplate -------------------------------------------


def test_create_returns_the_template_with_service_defaults(ecr: Any) -> None:
    response = ecr.create_repository_creation_template(
        prefix="prod", appliedFor=["PULL_THROUGH_CACHE"]
    )

    assert response["registryId"] == "123456789012"
    template = response["repositoryCreationTemplate"]
    assert template["prefix"] == "prod"
    assert template["appliedFor"] == ["PULL_THROUGH_CACHE"]
    assert template["imageTagMutability"] == "MUTABLE"
    assert template["encryptionConfiguration"] == {"encryptionType": "AES256"}
    assert template["resourceTags"] == []
    assert template["createdAt"] == template["updatedAt"]
    assert "repositoryPolicy" not in template and "description" not in template


def test_create_keeps_every_field_it_is_given(ecr: Any) -> None:
    fields = {
        "prefix": "mirror/quay",
        "description": "quay mirror",
        "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": KMS_KEY},
        "resourceTags": [{"Key": "team", "Value": "platform"}],
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "latest"}],
        "repositoryPolicy": POLICY,
        "lifecyclePolicy": LIFECYCLE,
        "appliedFor": ["REPLICATION", "CREATE_ON_PUSH"],
        "customRoleArn": "arn:aws:iam::123456789012:role/ecr-template",
    }

    created = ecr.create_repository_creation_template(**fields)["repositoryCreationTemplate"]

    assert {k: created[k] for k in fields} == fields


def test_create_twice_is_template_already_exists(ecr: Any) -> None:
    ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])

    with pytest.raises(ecr.exceptions.TemplateAlreadyExistsException) as excinfo:
        ecr.create_repository_creation_template(prefix="ROOT", appliedFor=["REPLICATION"])
    assert "ROOT" in error_of(excinfo)[1]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"prefix": "Prod", "appliedFor": ["REPLICATION"]}, "at 'prefix'"),
        ({"prefix": "prod", "appliedFor": ["ON_PULL"]}, "at 'appliedFor.1.member'"),
        (
            {"prefix": "prod", "appliedFor": ["REPLICATION"], "imageTagMutability": "SOMETIMES"},
            "at 'imageTagMutability'",
        ),
        (
            {
                "prefix": "prod",
                "appliedFor": ["REPLICATION"],
                "encryptionConfiguration": {"encryptionType": "KMS", "kmsKey": "alias/mine"},
            },
            "at 'encryptionConfiguration.kmsKey'",
        ),
        ({"prefix": "p" * 257, "appliedFor": ["REPLICATION"]}, "less than or equal to 256"),
    ],
)
def test_create_checks_the_service_model_constraints(
    ecr: Any, fields: dict[str, Any], where: str
) -> None:
    with pytest.raises(ecr.exceptions.ValidationException) as excinfo:
        ecr.create_repository_creation_template(**fields)

    _code, message = error_of(excinfo)
    assert message.startswith("1 validation error detected: Value ")
    assert where in message


@pytest.mark.parametrize(
    "extra",
    [
        {"imageTagMutability": "IMMUTABLE_WITH_EXCLUSION"},
        {
            "imageTagMutability": "IMMUTABLE",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "x"}],
        },
        {"encryptionConfiguration": {"encryptionType": "AES256", "kmsKey": KMS_KEY}},
        {"repositoryPolicy": "{not json"},
        {"lifecyclePolicy": '{"rules": "none"}'},
        {"customRoleArn": "arn:aws:iam::999999999999:role/elsewhere"},
    ],
    ids=[
        "exclusions-missing",
        "exclusions-unexpected",
        "kms-key-with-aes",
        "bad-policy",
        "bad-lifecycle",
        "foreign-role",
    ],
)
def test_create_rejects_inconsistent_settings(ecr: Any, extra: dict[str, Any]) -> None:
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"], **extra)
    assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []


# --- DescribeRepositoryCreationTemplates ----------------------------------------


def test_describe_lists_templates_in_prefix_order(ecr: Any) -> None:
    for prefix in ("team-b", "team-a", "ROOT"):
        ecr.create_repository_creation_template(prefix=prefix, appliedFor=["REPLICATION"])

    response = ecr.describe_repository_creation_templates()

    assert response["registryId"] == "123456789012"
    assert [t["prefix"] for t in response["repositoryCreationTemplates"]] == [
        "ROOT",
        "team-a",
        "team-b",
    ]
    assert "nextToken" not in response


def test_describe_filters_by_prefixes(ecr: Any) -> None:
    for prefix in ("a", "b", "c"):
        ecr.create_repository_creation_template(prefix=prefix, appliedFor=["REPLICATION"])

    response = ecr.describe_repository_creation_templates(prefixes=["c", "a", "missing"])

    assert [t["prefix"] for t in response["repositoryCreationTemplates"]] == ["a", "c"]


def test_describe_pages_with_max_results_and_next_token(ecr: Any) -> None:
    prefixes = [f"team{i:02d}" for i in range(7)]
    for prefix in prefixes:
        ecr.create_repository_creation_template(prefix=prefix, appliedFor=["REPLICATION"])

    first = ecr.describe_repository_creation_templates(maxResults=3)
    second = ecr.describe_repository_creation_templates(maxResults=3, nextToken=first["nextToken"])
    pages = ecr.get_paginator("describe_repository_creation_templates").paginate(
        PaginationConfig={"PageSize": 2}
    )

    assert [t["prefix"] for t in first["repositoryCreationTemplates"]] == prefixes[:3]
    assert [t["prefix"] for t in second["repositoryCreationTemplates"]] == prefixes[3:6]
    assert [p["prefix"] for page in pages for p in page["repositoryCreationTemplates"]] == prefixes


def test_describe_rejects_a_bad_token_and_page_size(ecr: Any) -> None:
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.describe_repository_creation_templates(nextToken="not-a-token")
    with pytest.raises(ecr.exceptions.ValidationException):
        ecr.describe_repository_creation_templates(maxResults=1001)


# --- UpdateRepositoryCreationTemplate -------------------------------------------


def test_update_changes_only_the_given_fields(ecr: Any) -> None:
    created = ecr.create_repository_creation_template(
        prefix="prod", appliedFor=["REPLICATION"], description="before", repositoryPolicy=POLICY
    )["repositoryCreationTemplate"]

    updated = ecr.update_repository_creation_template(
        prefix="prod", imageTagMutability="IMMUTABLE", appliedFor=["PULL_THROUGH_CACHE"]
    )["repositoryCreationTemplate"]

    assert updated["imageTagMutability"] == "IMMUTABLE"
    assert updated["appliedFor"] == ["PULL_THROUGH_CACHE"]
    assert updated["description"] == "before"
    assert updated["repositoryPolicy"] == POLICY
    assert updated["createdAt"] == created["createdAt"]
    assert updated["updatedAt"] >= created["updatedAt"]
    described = ecr.describe_repository_creation_templates(prefixes=["prod"])
    assert described["repositoryCreationTemplates"] == [updated]


def test_update_with_an_empty_policy_removes_it(ecr: Any) -> None:
    ecr.create_repository_creation_template(
        prefix="prod", appliedFor=["REPLICATION"], repositoryPolicy=POLICY
    )

    updated = ecr.update_repository_creation_template(prefix="prod", repositoryPolicy="")

    assert "repositoryPolicy" not in updated["repositoryCreationTemplate"]


def test_update_to_a_plain_mutability_drops_old_exclusions(ecr: Any) -> None:
    ecr.create_repository_creation_template(
        prefix="prod",
        appliedFor=["REPLICATION"],
        imageTagMutability="MUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "v*"}],
    )

    updated = ecr.update_repository_creation_template(prefix="prod", imageTagMutability="IMMUTABLE")

    assert updated["repositoryCreationTemplate"]["imageTagMutability"] == "IMMUTABLE"
    assert "imageTagMutabilityExclusionFilters" not in updated["repositoryCreationTemplate"]


def test_update_of_a_missing_template_is_template_not_found(ecr: Any) -> None:
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.update_repository_creation_template(prefix="nothing", description="x")


def test_update_validates_like_create(ecr: Any) -> None:
    ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])

    with pytest.raises(ecr.exceptions.ValidationException):
        ecr.update_repository_creation_template(prefix="prod", appliedFor=["SOMETIMES"])
    with pytest.raises(ecr.exceptions.InvalidParameterException):
        ecr.update_repository_creation_template(
            prefix="prod", imageTagMutability="MUTABLE_WITH_EXCLUSION"
        )


# --- DeleteRepositoryCreationTemplate -------------------------------------------


def test_delete_returns_the_template_and_removes_it(ecr: Any) -> None:
    created = ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])

    deleted = ecr.delete_repository_creation_template(prefix="prod")

    assert deleted["registryId"] == "123456789012"
    assert deleted["repositoryCreationTemplate"] == created["repositoryCreationTemplate"]
    assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []
    with pytest.raises(ecr.exceptions.TemplateNotFoundException):
        ecr.delete_repository_creation_template(prefix="prod")


# --- account settings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("REGISTRY_POLICY_SCOPE", "V2"),
        ("BASIC_SCAN_TYPE_VERSION", "AWS_NATIVE"),
        ("BLOB_MOUNTING", "DISABLED"),
    ],
)
def test_account_settings_have_documented_defaults(ecr: Any, name: str, default: str) -> None:
    response = ecr.get_account_setting(name=name)

    assert (response["name"], response["value"]) == (name, default)


def test_put_account_setting_is_read_back(ecr: Any) -> None:
    put = ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")

    assert (put["name"], put["value"]) == ("REGISTRY_POLICY_SCOPE", "V1")
    assert ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V1"
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"


def test_unknown_account_setting_names_and_values_are_validation_errors(ecr: Any) -> None:
    with pytest.raises(ecr.exceptions.ValidationException) as excinfo:
        ecr.get_account_setting(name="NOT_A_SETTING")
    assert "REGISTRY_POLICY_SCOPE" in error_of(excinfo)[1]
    with pytest.raises(ecr.exceptions.ValidationException):
        ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V3")
    assert ecr.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"


# --- scope and lifetime of the state --------------------------------------------


def test_state_is_per_region(ecr: Any, emulator: Emulator) -> None:
    other = emulator.client("ecr", "eu-west-1")
    ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")

    assert other.describe_repository_creation_templates()["repositoryCreationTemplates"] == []
    assert other.get_account_setting(name="REGISTRY_POLICY_SCOPE")["value"] == "V2"


def test_reset_wipes_templates_and_settings(ecr: Any, emulator: Emulator) -> None:
    ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])
    ecr.put_account_setting(name="BLOB_MOUNTING", value="ENABLED")

    emulator.reset()

    assert ecr.describe_repository_creation_templates()["repositoryCreationTemplates"] == []
    assert ecr.get_account_setting(name="BLOB_MOUNTING")["value"] == "DISABLED"


def test_installing_twice_changes_nothing(ecr: Any) -> None:
    install()
    install()

    ecr.create_repository_creation_template(prefix="prod", appliedFor=["REPLICATION"])
    assert len(ecr.describe_repository_creation_templates()["repositoryCreationTemplates"]) == 1
