"""Terraform resources as the rules see them: model values, states, addresses and lines."""

from __future__ import annotations

import pytest

from ecrguard.model import (
    Inventory,
    ReplicationDestination,
    ReplicationRule,
    ScanningRule,
    State,
)
from ecrguard.sources.terraform import load_terraform
from tests.terraform.helpers import FIXTURES, line_of, repo

BASIC = FIXTURES / "basic"
MAIN = BASIC / "main.tf"


@pytest.fixture(scope="module")
def basic() -> Inventory:
    return load_terraform([BASIC])


def test_values_come_from_defaults_tfvars_and_auto_tfvars(basic: Inventory) -> None:
    app = repo(basic, "aws_ecr_repository.app")
    # team comes from terraform.tfvars, env from a local that refers to another local.
    assert app.name.value == "payments-prod-app"
    assert app.tag_mutability.value == "IMMUTABLE"
    # ci.auto.tfvars is read after terraform.tfvars, so its region wins.
    assert app.region == "eu-central-1"
    assert app.account is None


def test_written_values_are_set_at_the_line_that_wrote_them(basic: Inventory) -> None:
    app = repo(basic, "aws_ecr_repository.app")
    assert app.origin.file == str(MAIN)
    assert app.origin.line == line_of(MAIN, 'resource "aws_ecr_repository" "app"')
    assert app.name.state is State.SET
    assert app.name.origin.line == line_of(MAIN, 'name                 = "${local.prefix}-app"')
    assert app.tag_mutability.origin.line == line_of(MAIN, "image_tag_mutability = var.mutability")
    assert (app.scan_on_push.value, app.scan_on_push.state) == (True, State.SET)
    assert app.scan_on_push.origin.line == line_of(MAIN, "scan_on_push = true")
    assert (app.encryption_type.value, app.encryption_type.state) == ("KMS", State.SET)
    assert app.force_delete.value is False


def test_null_variable_gives_the_aws_default(basic: Inventory) -> None:
    kms_key = repo(basic, "aws_ecr_repository.app").kms_key
    assert (kms_key.value, kms_key.state) == (None, State.DEFAULT)
    assert kms_key.origin.line == line_of(MAIN, "kms_key         = var.kms_key_arn")


def test_unwritten_attributes_are_aws_defaults_at_the_resource(basic: Inventory) -> None:
    plain = repo(basic, "aws_ecr_repository.plain")
    assert plain.name.value == "payments-prod-plain"
    block_line = line_of(MAIN, 'resource "aws_ecr_repository" "plain"')
    defaults = {
        "tag_mutability": "MUTABLE",
        "mutability_exclusions": (),
        "encryption_type": "AES256",
        "kms_key": None,
        "scan_on_push": False,
        "force_delete": False,
        "policy": None,
        "lifecycle_policy": None,
    }
    for field, expected in defaults.items():
        value = getattr(plain, field)
        assert (value.value, value.state, value.origin.line) == (
            expected,
            State.DEFAULT,
            block_line,
        ), field


def test_mutability_exclusions_from_static_and_dynamic_blocks(basic: Inventory) -> None:
    repository = repo(basic, "aws_ecr_repository.exclusions")
    assert repository.tag_mutability.value == "IMMUTABLE_WITH_EXCLUSION"
    exclusions = repository.mutability_exclusions
    assert (exclusions.value, exclusions.state) == (("latest", "dev-*", "pr-*"), State.SET)
    assert exclusions.origin.line == line_of(MAIN, "image_tag_mutability_exclusion_filter {")


def test_jsonencode_policy_attaches_to_the_referenced_repository(basic: Inventory) -> None:
    policy = repo(basic, "aws_ecr_repository.app").policy
    assert policy.state is State.SET
    assert policy.value == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PullFromCI",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            }
        ],
    }
    # The origin is the policy attribute of the aws_ecr_repository_policy resource.
    assert policy.origin.ref == "aws_ecr_repository_policy.app"
    assert policy.origin.file == str(MAIN)
    assert policy.origin.line == line_of(MAIN, "policy = jsonencode({")


def test_heredoc_lifecycle_policy_is_interpolated_and_parsed(basic: Inventory) -> None:
    lifecycle = repo(basic, "aws_ecr_repository.app").lifecycle_policy
    assert lifecycle.state is State.SET
    rule = lifecycle.get()["rules"][0]
    # local.keep = var.keep * 3, with keep = 5 from ci.auto.tfvars.
    assert rule["selection"]["countNumber"] == 15
    assert rule["description"] == "keep 15 images"
    assert lifecycle.origin.line == line_of(MAIN, "policy     = <<-EOT")


def test_var_files_then_variables_override_directory_values() -> None:
    inventory = load_terraform(
        [BASIC],
        var_files=[
            FIXTURES / "basic_varfiles" / "prod.tfvars",
            FIXTURES / "basic_varfiles" / "prod.tfvars.json",
        ],
        variables={"team": "search"},
    )
    app = repo(inventory, "aws_ecr_repository.app")
    assert app.name.value == "search-prod-app"
    # A string "true" from a variables file takes the variable's declared bool type.
    assert (app.force_delete.value, app.force_delete.state) == (True, State.SET)
    assert app.kms_key.value == "arn:aws:kms:eu-central-1:123456789012:key/abcd"
    principal = app.policy.get()["Statement"][0]["Principal"]
    assert principal == {"AWS": "arn:aws:iam::222222222222:root"}


def test_owner_account_fills_the_account() -> None:
    inventory = load_terraform([BASIC], owner_account="123456789012")
    assert {r.account for r in inventory.repositories} == {"123456789012"}
    assert inventory.scopes == ((None, None),)


# -- aws_iam_policy_document ----------------------------------------------------------

DOC = FIXTURES / "policy_document" / "main.tf"


def test_policy_document_becomes_iam_json() -> None:
    inventory = load_terraform([DOC.parent], owner_account="123456789012")
    policy = repo(inventory, "aws_ecr_repository.shared").policy
    assert policy.state is State.SET
    assert policy.origin.ref == "aws_ecr_repository_policy.shared"
    assert policy.origin.line == line_of(
        DOC, "policy     = data.aws_iam_policy_document.shared.json"
    )
    assert policy.value == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Principal": {"AWS": "*"},
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}},
            },
            {
                "Sid": "LambdaPull",
                "Effect": "Allow",
                "Action": "ecr:BatchGetImage",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Condition": {
                    "StringLike": {
                        "aws:sourceArn": "arn:aws:lambda:us-west-2:123456789012:function:*"
                    }
                },
            },
            {
                "Sid": "DenyOutsiders",
                "Effect": "Deny",
                "NotAction": "ecr:BatchGetImage",
                "Principal": "*",
            },
        ],
    }


def test_source_policy_documents_are_merged_and_arns_derived() -> None:
    inventory = load_terraform([DOC.parent], owner_account="123456789012")
    # Matched by its literal name, not by reference.
    statements = repo(inventory, "aws_ecr_repository.combined").policy.get()["Statement"]
    assert [s["Sid"] for s in statements] == ["Push", "Scan"]
    assert statements[0]["Resource"] == (
        "arn:aws:ecr:us-west-2:123456789012:repository/shared/base-images"
    )
    assert statements[0]["Principal"] == {"AWS": "arn:aws:iam::123456789012:role/ci"}


def test_caller_identity_without_owner_account_leaves_the_policy_unresolved() -> None:
    inventory = load_terraform([DOC.parent])
    policy = repo(inventory, "aws_ecr_repository.shared").policy
    assert policy.state is State.UNRESOLVED
    assert policy.value is None
    assert "data.aws_caller_identity.current.account_id" in policy.reason
    assert "owner account" in policy.reason


# -- registry, creation templates, VPC endpoints -----------------------------------------

REGISTRY = FIXTURES / "registry" / "main.tf"


@pytest.fixture(scope="module")
def registry_inventory() -> Inventory:
    return load_terraform([REGISTRY.parent], owner_account="123456789012")


def test_registry_resources_become_one_registry(registry_inventory: Inventory) -> None:
    (registry,) = registry_inventory.registries
    assert registry.id == "aws_ecr_account_setting.scan_version"
    assert (registry.account, registry.region) == ("123456789012", "eu-west-1")
    assert registry.policy.get()["Statement"][0]["Resource"] == (
        "arn:aws:ecr:eu-west-1:123456789012:repository/*"
    )
    assert registry.policy.origin.ref == "aws_ecr_registry_policy.this"
    # The BASIC_SCAN_TYPE_VERSION setting does not touch the policy scope.
    assert (registry.policy_scope.value, registry.policy_scope.state) == ("V1", State.SET)
    assert registry.policy_scope.origin.line == line_of(REGISTRY, 'value = "V1"')
    assert registry.scan_type.value == "ENHANCED"
    assert registry.scanning_rules.value == (
        ScanningRule("CONTINUOUS_SCAN", ("prod-*",)),
        ScanningRule("SCAN_ON_PUSH", ("*",)),
    )
    assert registry.replication_rules.value == (
        ReplicationRule(
            destinations=(
                ReplicationDestination("eu-north-1", "123456789012"),
                ReplicationDestination("us-east-1", "555555555555"),
            ),
            filters=("prod",),
        ),
    )


def test_no_registry_without_registry_resources(basic: Inventory) -> None:
    assert basic.registries == ()


def test_registry_defaults_for_undeclared_parts() -> None:
    inventory = load_terraform([FIXTURES / "registry_policy_only"])
    (registry,) = inventory.registries
    assert registry.id == "aws_ecr_registry_policy.only"
    for field, expected in {
        "policy_scope": "V2",
        "scan_type": "BASIC",
        "scanning_rules": (),
        "replication_rules": (),
    }.items():
        value = getattr(registry, field)
        assert (value.value, value.state) == (expected, State.DEFAULT), field


def test_creation_template(registry_inventory: Inventory) -> None:
    (template,) = registry_inventory.creation_templates
    assert template.id == "aws_ecr_repository_creation_template.pull_through"
    assert template.prefix.value == "docker-hub"
    assert template.applied_for.value == ("PULL_THROUGH_CACHE",)
    assert (template.encryption_type.value, template.encryption_type.state) == ("KMS", State.SET)
    assert (template.tag_mutability.value, template.tag_mutability.state) == (
        "MUTABLE",
        State.DEFAULT,
    )
    assert template.policy.get()["Statement"][0]["Principal"] == "*"
    assert template.lifecycle_policy.state is State.DEFAULT


def test_vpc_and_endpoints(registry_inventory: Inventory) -> None:
    (vpc,) = registry_inventory.vpcs
    assert vpc.vpc_id.value == "aws_vpc.main"
    endpoints = {e.id: e for e in registry_inventory.vpc_endpoints}
    api = endpoints["aws_vpc_endpoint.ecr_api"]
    assert api.vpc_id.value == "aws_vpc.main"
    # data.aws_region follows the provider's literal region.
    assert api.service_name.value == "com.amazonaws.eu-west-1.ecr.api"
    assert api.endpoint_type.value == "Interface"
    assert api.policy.get()["Statement"][0]["Action"] == "ecr:*"
    s3 = endpoints["aws_vpc_endpoint.s3"]
    assert s3.region == "eu-north-1"  # provider = aws.dr
    assert (s3.endpoint_type.value, s3.endpoint_type.state) == ("Gateway", State.DEFAULT)
    assert (s3.policy.value, s3.policy.state) == (None, State.DEFAULT)
    assert repo(registry_inventory, "aws_ecr_repository.in_dr").region == "eu-north-1"


def test_endpoint_ids_stand_in_by_address_in_policies(registry_inventory: Inventory) -> None:
    statement = repo(registry_inventory, "aws_ecr_repository.private").policy.get()["Statement"][0]
    assert statement["Condition"] == {
        "StringNotEquals": {"aws:SourceVpce": "aws_vpc_endpoint.ecr_api"}
    }


def test_role_arn_is_derived_only_with_the_owner_account(registry_inventory: Inventory) -> None:
    policy = repo(registry_inventory, "aws_ecr_repository.no_owner").policy
    assert policy.get()["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:role/puller"
    }
    unknown = repo(load_terraform([REGISTRY.parent]), "aws_ecr_repository.no_owner").policy
    assert unknown.state is State.UNRESOLVED
    assert unknown.reason == (
        "aws_iam_role.puller.arn needs the account: the AWS account is not known; "
        "pass the owner account"
    )
