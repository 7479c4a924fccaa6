"""Intrinsic functions: what resolves from the template alone, and what stays unknown."""

from __future__ import annotations

from typing import Any

import pytest

from ecrguard.sources.cloudformation.intrinsics import NO_VALUE, Resolver, Unknown

TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Env": {"Type": "String", "Default": "prod"},
        "Count": {"Type": "Number", "Default": 3},
        "Teams": {"Type": "CommaDelimitedList", "Default": "blue,green"},
        "Secret": {"Type": "String", "NoEcho": True, "Default": "hunter2"},
        "NoDefault": {"Type": "String"},
        "Ssm": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/x"},
    },
    "Mappings": {"Sizes": {"prod": {"Keep": 30}, "dev": {"Keep": 5}}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Unknowable": {"Fn::Equals": [{"Ref": "NoDefault"}, "x"]},
        "ProdOrUnknowable": {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "Unknowable"}]},
        "DevAndUnknowable": {"Fn::And": [{"Condition": "IsDev"}, {"Condition": "Unknowable"}]},
        "Loop": {"Fn::Not": [{"Condition": "Loop"}]},
    },
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key"},
        "Vpc": {"Type": "AWS::EC2::VPC"},
        "Named": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "app"}},
        "Unnamed": {"Type": "AWS::ECR::Repository"},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "ci"}},
        "Topic": {"Type": "AWS::SNS::Topic"},
    },
}


def _resolve(value: Any, **kwargs: Any) -> Any:
    resolver = Resolver(TEMPLATE, owner_account=kwargs.get("account"), region=kwargs.get("region"))
    return resolver.deep(value)


def _region(value: Any) -> Any:
    return _resolve(value, account="123456789012", region="eu-west-1")


RESOLVED = [
    ({"Ref": "Env"}, "prod"),
    ({"Ref": "Count"}, 3),
    ({"Ref": "Teams"}, ["blue", "green"]),
    ({"Ref": "Secret"}, "hunter2"),
    # A resource stands in by its logical id; named ones by the name they set.
    ({"Ref": "Key"}, "Key"),
    ({"Ref": "Unnamed"}, "Unnamed"),
    ({"Ref": "Named"}, "app"),
    ({"Fn::GetAtt": ["Key", "Arn"]}, "Key"),
    ({"Fn::GetAtt": "Vpc.VpcId"}, "Vpc"),
    ({"Fn::Sub": "${Env}-${AWS::AccountId}"}, None),
    ({"Fn::Sub": "${!Literal}-${Env}"}, "${Literal}-prod"),
    ({"Fn::Sub": ["${A}/${Key.Arn}", {"A": {"Ref": "Env"}}]}, "prod/Key"),
    ({"Fn::Join": ["-", ["a", {"Ref": "Env"}, 1]]}, "a-prod-1"),
    ({"Fn::Join": [",", {"Ref": "Teams"}]}, "blue,green"),
    ({"Fn::Select": [1, {"Ref": "Teams"}]}, "green"),
    ({"Fn::Select": ["0", {"Fn::Split": ["/", "a/b"]}]}, "a"),
    ({"Fn::FindInMap": ["Sizes", {"Ref": "Env"}, "Keep"]}, 30),
    ({"Fn::FindInMap": ["Sizes", "test", "Keep", {"DefaultValue": 1}]}, 1),
    ({"Fn::If": ["IsProd", "yes", "no"]}, "yes"),
    ({"Fn::If": ["IsDev", "yes", "no"]}, "no"),
    # Or settles on a known true even when another part is unknown; And on a false.
    ({"Fn::If": ["ProdOrUnknowable", "yes", "no"]}, "yes"),
    ({"Fn::If": ["DevAndUnknowable", "yes", "no"]}, "no"),
    ({"Fn::Base64": "hi"}, "aGk="),
    ({"Fn::ToJsonString": {"a": [1, {"Ref": "Env"}]}}, '{"a":[1,"prod"]}'),
    ({"Fn::Length": {"Ref": "Teams"}}, 2),
    # AWS::NoValue removes the key or item, as if never written.
    (
        {"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Fn::If": ["IsDev", 2, {"Ref": "AWS::NoValue"}]}]},
        {"b": [1]},
    ),
]


@pytest.mark.parametrize(("value", "expected"), RESOLVED)
def test_resolves(value: Any, expected: Any) -> None:
    if expected is None:
        assert isinstance(_resolve(value), Unknown)
        expected = "prod-123456789012"
        assert _resolve(value, account="123456789012") == expected
    else:
        assert _resolve(value) == expected


UNRESOLVED = [
    ({"Ref": "NoDefault"}, "parameter NoDefault has no default"),
    ({"Ref": "Ssm"}, "parameter Ssm is read from SSM Parameter Store at deploy time"),
    ({"Ref": "Missing"}, "Ref Missing: no such parameter or resource"),
    (
        {"Ref": "AWS::AccountId"},
        "AWS::AccountId: the AWS account is not known; pass the owner account",
    ),
    (
        {"Ref": "AWS::Region"},
        "AWS::Region: the region is chosen when the stack is deployed; pass the region",
    ),
    (
        {"Ref": "AWS::Partition"},
        "AWS::Partition: the region is chosen when the stack is deployed; pass the region",
    ),
    ({"Ref": "AWS::StackName"}, "AWS::StackName is known only once the stack is deployed"),
    (
        {"Fn::GetAtt": ["Topic", "TopicArn"]},
        "Topic.TopicArn is known only once the stack is deployed",
    ),
    (
        {"Fn::GetAtt": ["Unnamed", "Arn"]},
        "Unnamed.Arn: the repository name is generated at deploy time",
    ),
    ({"Fn::GetAtt": ["Named", "Arn"]}, "Named.Arn needs the account: pass the owner account"),
    ({"Fn::GetAtt": ["Nope", "Arn"]}, "Fn::GetAtt Nope: no such resource"),
    ({"Fn::ImportValue": "x"}, "Fn::ImportValue is read from another stack at deploy time"),
    ({"Fn::GetAZs": ""}, "Fn::GetAZs is known only at deploy time"),
    (
        {"Fn::If": ["Unknowable", 1, 2]},
        "condition Unknowable is not known: parameter NoDefault has no default",
    ),
    ({"Fn::If": ["Loop", 1, 2]}, "condition Loop is not known: condition Loop refers to itself"),
    ({"Fn::If": ["Nope", 1, 2]}, "condition 'Nope' is not declared"),
    ({"Fn::Select": [5, ["a"]]}, "Fn::Select index is out of range"),
    (
        {"Fn::FindInMap": ["Sizes", "qa", "Keep"]},
        "Fn::FindInMap: Sizes.qa.Keep is not in the template's Mappings",
    ),
    ({"Fn::Sub": "arn:${Nope}"}, "Ref Nope: no such parameter or resource"),
    ({"Fn::Foo": 1}, "Fn::Foo is not supported"),
    # One unknown piece makes the whole value unknown, as in Terraform.
    ({"Statement": [{"Principal": {"Ref": "NoDefault"}}]}, "parameter NoDefault has no default"),
]


@pytest.mark.parametrize(("value", "reason"), UNRESOLVED)
def test_stays_unknown_with_a_reason(value: Any, reason: str) -> None:
    got = _resolve(value)
    assert isinstance(got, Unknown)
    assert got.reason == reason


def test_region_and_account_complete_arns() -> None:
    assert (
        _region({"Fn::GetAtt": ["Named", "Arn"]})
        == "arn:aws:ecr:eu-west-1:123456789012:repository/app"
    )
    assert _region({"Fn::GetAtt": ["Named", "RepositoryUri"]}) == (
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app"
    )
    assert _region({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::123456789012:role/ci"
    assert _region({"Fn::Sub": "arn:${AWS::Partition}:s3:::${AWS::URLSuffix}"}) == (
        "arn:aws:s3:::amazonaws.com"
    )
    china = _resolve({"Ref": "AWS::Partition"}, region="cn-north-1")
    assert china == "aws-cn"


def test_no_value_at_the_top_is_reported_as_left_out() -> None:
    assert _resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_parameters_given_by_the_caller_win() -> None:
    resolver = Resolver(TEMPLATE, owner_account=None, region=None, parameters={"Env": "dev"})
    assert resolver.deep({"Fn::If": ["IsProd", "yes", "no"]}) == "no"
    assert resolver.condition("IsDev") is True


def test_if_chains_are_bounded() -> None:
    value: Any = "end"
    for _ in range(100):
        value = {"Fn::If": ["IsProd", value, "no"]}
    got = _resolve(value)
    assert isinstance(got, Unknown) and got.reason == "intrinsic functions nested too deeply"


def test_names_that_refer_to_each_other_stay_unknown() -> None:
    template = {
        "Resources": {
            "A": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": {"Ref": "B"}}},
            "B": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": {"Ref": "A"}}},
            "Self": {
                "Type": "AWS::ECR::Repository",
                "Properties": {"RepositoryName": {"Fn::GetAtt": ["Self", "Arn"]}},
            },
        }
    }
    resolver = Resolver(template, owner_account="123456789012", region="us-east-1")
    got = resolver.deep({"Ref": "A"})
    assert isinstance(got, Unknown) and got.reason == "A.RepositoryName refers to itself"
    got = resolver.deep({"Fn::GetAtt": ["Self", "Arn"]})
    assert isinstance(got, Unknown) and got.reason == "Self.RepositoryName refers to itself"


def test_strings_that_double_per_reference_are_cut_off() -> None:
    resources: dict[str, Any] = {
        "R0": {"Type": "AWS::ECR::Repository", "Properties": {"RepositoryName": "x"}}
    }
    for i in range(1, 80):
        twice = {"Fn::Join": ["", [{"Ref": f"R{i - 1}"}, {"Ref": f"R{i - 1}"}]]}
        resources[f"R{i}"] = {
            "Type": "AWS::ECR::Repository",
            "Properties": {"RepositoryName": twice},
        }
    resolver = Resolver({"Resources": resources}, owner_account=None, region=None)
    got = resolver.deep({"Ref": "R79"})
    assert isinstance(got, Unknown) and got.reason == "value is too large to resolve"
    parameters = {"P": {"Type": "String", "Default": "x" * 900_000}}
    resolver = Resolver({"Parameters": parameters}, owner_account=None, region=None)
    got = resolver.deep({"Fn::Sub": "${P}" * 1000})
    assert isinstance(got, Unknown) and got.reason == "value is too large to resolve"


def test_a_given_value_stands_for_an_ssm_parameter() -> None:
    resolver = Resolver(TEMPLATE, owner_account=None, region=None, parameters={"Ssm": "base"})
    assert resolver.deep({"Ref": "Ssm"}) == "base"
