"""CloudFormation resources as the rules see them: values, defaults, lines and unknowns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrguard.errors import InputError
from ecrguard.model import Inventory, ReplicationDestination, ReplicationRule, ScanningRule, State
from ecrguard.sources.cloudformation import load_cloudformation
from tests.cloudformation.helpers import FIXTURES, by_id, line_of

YAML = FIXTURES / "equivalence.yaml"
EDGE = FIXTURES / "edge_cases.yaml"
OWNER = "123456789012"


@pytest.fixture(scope="module")
def estate() -> Inventory:
    return load_cloudformation(YAML, owner_account=OWNER, region="eu-west-1")


@pytest.fixture(scope="module")
def edge() -> Inventory:
    return load_cloudformation(EDGE)


def test_repository_values_point_at_their_properties(estate: Inventory) -> None:
    app = by_id(estate.repositories)["AppRepository"]
    assert (app.id, app.origin.ref, app.account, app.region) == (
        "AppRepository",
        "AppRepository",
        OWNER,
        "eu-west-1",
    )
    assert app.name.value == "payments/app"
    # !If [IsProd, IMMUTABLE, MUTABLE] with Environment's default "prod".
    assert (app.tag_mutability.value, app.tag_mutability.state) == ("IMMUTABLE", State.SET)
    assert app.tag_mutability.origin.line == line_of(YAML, "ImageTagMutability: !If")
    assert (app.force_delete.value, app.force_delete.state) == (True, State.SET)
    assert (app.encryption_type.value, app.kms_key.value) == ("KMS", "ImagesKey")
    assert app.kms_key.origin.line == line_of(YAML, "KmsKey: !GetAtt ImagesKey.Arn")
    key = estate.key(app.kms_key.get())
    assert key is not None and key.aliases.value == ("alias/ecr-images",)
    assert app.policy.get()["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::210987654321:root"
    }
    assert app.policy.origin.line == line_of(YAML, "RepositoryPolicyText:")
    # A JSON string built with !Sub and !FindInMap.
    lifecycle = app.lifecycle_policy.get()
    assert lifecycle["rules"][0]["selection"]["countNumber"] == 14
    assert app.lifecycle_policy.origin.line == line_of(YAML, "LifecyclePolicyText: !Sub")


def test_left_out_properties_take_the_shared_defaults(estate: Inventory) -> None:
    plain = by_id(estate.repositories)["PlainRepository"]
    line = line_of(YAML, "  PlainRepository:")
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
        assert (value.value, value.state, value.origin.line) == (expected, State.DEFAULT, line), (
            field
        )


def test_exclusion_filters(estate: Inventory) -> None:
    releases = by_id(estate.repositories)["ReleasesRepository"]
    exclusions = releases.mutability_exclusions
    assert (exclusions.value, exclusions.state) == (("latest", "dev-*"), State.SET)
    assert exclusions.origin.line == line_of(YAML, "ImageTagMutabilityExclusionFilters:")


def test_registry_from_its_parts(estate: Inventory) -> None:
    (registry,) = estate.registries
    assert registry.id == "RegistryPolicy"  # the first registry-level resource
    assert registry.policy.get()["Statement"][0]["Resource"] == (
        "arn:aws:ecr:eu-west-1:123456789012:repository/*"
    )
    assert (registry.policy_scope.value, registry.policy_scope.state) == ("V2", State.DEFAULT)
    assert registry.scan_type.value == "ENHANCED"
    assert registry.scanning_rules.value == (
        ScanningRule("CONTINUOUS_SCAN", ("payments/*",)),
        ScanningRule("MANUAL", ("sandbox/*",)),
    )
    assert registry.replication_rules.value == (
        ReplicationRule((ReplicationDestination("eu-central-1", OWNER),), ("payments",)),
    )
    assert registry.inspector is None  # no CloudFormation resource enables Inspector


def test_creation_template_policy_from_a_json_string(estate: Inventory) -> None:
    (template,) = estate.creation_templates
    assert (template.prefix.value, template.applied_for.value) == (
        "docker-hub",
        ("PULL_THROUGH_CACHE",),
    )
    assert template.policy.get()["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abc123"}
    }
    assert template.kms_key.value == "ImagesKey"
    assert (template.lifecycle_policy.value, template.lifecycle_policy.state) == (
        None,
        State.DEFAULT,
    )


def test_trails_keys_rules_and_endpoints(estate: Inventory) -> None:
    trails = by_id(estate.trails)
    assert trails["ManagementTrail"].management_events.value is True
    assert trails["DataTrail"].management_events.value is False
    assert trails["DataTrail"].logging.value is False
    assert trails["AdvancedTrail"].management_events.value is True
    keys = by_id(estate.kms_keys)
    assert keys["ImagesKey"].rotation.value is True
    assert (keys["LegacyKey"].rotation.value, keys["LegacyKey"].rotation.state) == (
        False,
        State.DEFAULT,
    )
    # An unquoted 2012-10-17 stays the policy version it is.
    assert keys["LegacyKey"].policy.get()["Version"] == "2012-10-17"
    rules = by_id(estate.event_rules)
    assert rules["ScanFindingsRule"].targets.value == ("AlertsTopic",)
    assert (rules["PausedRule"].state.value, rules["PausedRule"].state.state) == (
        "DISABLED",
        State.SET,
    )
    endpoints = by_id(estate.vpc_endpoints)
    assert endpoints["EcrApiEndpoint"].service_name.value == "com.amazonaws.eu-west-1.ecr.api"
    assert endpoints["S3Endpoint"].service_name.value == "com.amazonaws.eu-west-1.s3"
    assert endpoints["S3Endpoint"].vpc_id.value == "Vpc" == estate.vpcs[0].vpc_id.value


def test_names_cloudformation_generates_are_unresolved(edge: Inventory) -> None:
    generated = by_id(edge.repositories)["GeneratedRepository"]
    assert generated.name.state is State.UNRESOLVED
    assert generated.name.reason == (
        "RepositoryName is not set; CloudFormation generates the name at deploy time"
    )
    trail = by_id(edge.trails)["UnnamedTrail"]
    assert trail.name.state is State.UNRESOLVED
    # IsLogging is required: there is no default to assume.
    assert (trail.logging.state, trail.logging.reason) == (State.UNRESOLVED, "IsLogging is not set")
    rule = by_id(edge.event_rules)["UnnamedRule"]
    assert rule.name.state is State.UNRESOLVED
    # A JSON-string pattern, and a target in the template standing in by its logical id.
    assert rule.pattern.value == {"source": ["aws.ecr"]}
    assert rule.targets.value == ("Notifier",)


def test_values_only_known_at_deploy_time_are_unresolved(edge: Inventory) -> None:
    repos = by_id(edge.repositories)
    team = repos["TeamRepository"]
    assert team.name.value == "teams/green"  # !Join and !Select over a list parameter
    assert (team.kms_key.state, team.kms_key.reason) == (
        State.UNRESOLVED,
        "Fn::ImportValue is read from another stack at deploy time",
    )
    assert team.kms_key.origin.line == line_of(EDGE, "KmsKey: !ImportValue shared-kms-key")
    assert team.policy.reason == "parameter ExternalAccount has no default"
    assert repos["BaseRepository"].name.reason == (
        "parameter BaseImageName is read from SSM Parameter Store at deploy time"
    )
    assert repos["GeneratedRepository"].policy.reason == (
        "PullerRole.Arn needs the account: pass the owner account"
    )
    imported = by_id(edge.event_rules)["ImportedTargetRule"]
    assert imported.targets.state is State.UNRESOLVED
    (endpoint,) = edge.vpc_endpoints
    assert (
        endpoint.service_name.reason
        == "AWS::Region: the region is chosen when the stack is deployed; pass the region"
    )
    (registry,) = edge.registries
    assert registry.scanning_rules.state is State.UNRESOLVED


def test_conditions_decide_which_resources_exist(edge: Inventory) -> None:
    ids = {r.id for r in edge.repositories}
    assert "ProdOnlyRepository" not in ids and "MaybeRepository" not in ids
    # HasExternal depends on a parameter without a default: judged rather than dropped.
    assert "ExternalRepository" in ids
    prod = load_cloudformation(
        EDGE, parameters={"Stage": "prod", "ExternalAccount": "444455556666"}
    )
    assert {"ProdOnlyRepository", "MaybeRepository"} <= {r.id for r in prod.repositories}


def test_owner_region_and_parameters_complete_the_values() -> None:
    inventory = load_cloudformation(
        EDGE, owner_account=OWNER, region="us-east-1", parameters={"Stage": "prod"}
    )
    repos = by_id(inventory.repositories)
    assert repos["GeneratedRepository"].policy.get()["Statement"][0]["Principal"] == {
        "AWS": "arn:aws:iam::123456789012:role/ci/puller"
    }
    statement = repos["SelfArnRepository"].policy.get()["Statement"][0]
    assert statement["Resource"] == "arn:aws:ecr:us-east-1:123456789012:repository/self-arn"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Outside prod the Condition is AWS::NoValue: the key is left out.
    test = by_id(load_cloudformation(EDGE, owner_account=OWNER, region="us-east-1").repositories)
    assert "Condition" not in test["SelfArnRepository"].policy.get()["Statement"][0]
    (endpoint,) = inventory.vpc_endpoints
    assert endpoint.service_name.value == "com.amazonaws.us-east-1.ecr.dkr"
    assert endpoint.policy.get()["Statement"][0]["Action"] == "ecr:BatchGetImage"


def test_string_booleans_and_object_lifecycle_policies(edge: Inventory) -> None:
    generated = by_id(edge.repositories)["GeneratedRepository"]
    assert (generated.force_delete.value, generated.force_delete.state) == (False, State.SET)
    assert generated.lifecycle_policy.get()["rules"][0]["selection"]["countNumber"] == 50
    assert generated.kms_key.value == "alias/ecr-images"


def test_policy_that_is_not_json_is_unresolved(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n    Properties:\n"
        "      RepositoryName: r\n      RepositoryPolicyText: '{not json'\n"
    )
    (repository,) = load_cloudformation(path).repositories
    assert repository.policy.state is State.UNRESOLVED
    assert repository.policy.reason.startswith("RepositoryPolicyText: policy is not valid JSON")


def test_properties_chosen_by_an_unknown_condition_are_all_unresolved(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Parameters:\n  Mode: {Type: String}\n"
        "Conditions:\n  Strict: !Equals [!Ref Mode, strict]\n"
        "Resources:\n  R:\n    Type: AWS::ECR::Repository\n"
        "    Properties: !If [Strict, {RepositoryName: a}, {RepositoryName: b}]\n"
    )
    (repository,) = load_cloudformation(path).repositories
    reason = "Properties: condition Strict is not known: parameter Mode has no default"
    # Never the defaults: the properties exist, they are just not known here.
    for field in ("name", "tag_mutability", "scan_on_push", "encryption_type", "policy"):
        value = getattr(repository, field)
        assert (value.state, value.reason) == (State.UNRESOLVED, reason), field


# -- any damage is an InputError or an unresolved value, never a crash ---------------------

_NAMES = st.sampled_from(
    ["ImagesKey", "AppRepository", "Vpc", "Environment", "IsProd", "AWS::Region", "AWS::NoValue"]
)
_SCALARS = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | _NAMES
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=5), inner, max_size=2)
        | st.builds(lambda n: {"Ref": n}, _NAMES | inner)
        | st.builds(lambda n, a: {"Fn::GetAtt": [n, a]}, _NAMES, st.sampled_from(["Arn", "KeyId"]))
        | st.builds(lambda c, a, b: {"Fn::If": [c, a, b]}, _NAMES, inner, inner)
        | st.builds(lambda a: {"Fn::Sub": a}, inner)
        | st.builds(lambda a: {"Fn::Join": a}, inner)
        | st.builds(lambda a: {"Fn::Select": a}, inner)
        | st.builds(lambda a: {"Fn::FindInMap": a}, inner)
        | st.builds(lambda a: {"Fn::Equals": a}, inner)
    ),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
    return out


_TEMPLATE = json.loads((FIXTURES / "equivalence.json").read_text())
_TEMPLATE_PATHS = _paths(_TEMPLATE)[1:]


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(where=st.sampled_from(_TEMPLATE_PATHS), replacement=_VALUES)
def test_damaged_templates_never_crash(
    tmp_path: Path, where: tuple[Any, ...], replacement: Any
) -> None:
    template = json.loads(json.dumps(_TEMPLATE))
    parent = template
    for step in where[:-1]:
        parent = parent[step]
    parent[where[-1]] = replacement
    path = tmp_path / "t.json"
    path.write_text(json.dumps(template))
    try:
        inventory = load_cloudformation(path, owner_account=OWNER, region="eu-west-1")
    except InputError as err:
        assert "\n" not in str(err) and str(err).startswith(str(path))
    else:
        assert isinstance(inventory, Inventory)
