"""evaluate(): table tests drawn from the AWS IAM policy-evaluation documentation.

Each table names the documentation section it comes from. Every row is a real
resource policy, a request (principal, action, context) and the decision that
``ecrguard policy eval`` prints for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from ecrguard.errors import UsageError
from ecrguard.policy import Caller, Request, evaluate, parse_policy

OWNER = "111122223333"
OTHER = "444455556666"
PULL = "ecr:BatchGetImage"

ALLOW, DENY, IMPLICIT = "allow", "explicit-deny", "implicit-deny"

Context = Mapping[str, str | Sequence[str]]


def decide(
    doc: dict[str, Any] | str,
    principal: str,
    action: str = PULL,
    context: Context | None = None,
    resource: str | None = None,
) -> str:
    request = Request.build(principal, action, resource, context)
    return evaluate(parse_policy(doc), request).decision.value


def policy(*statements: dict[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def allow_if(condition: dict[str, Any]) -> dict[str, Any]:
    """Allow everyone to pull, under one Condition block."""
    return policy({"Effect": "Allow", "Principal": "*", "Action": PULL, "Condition": condition})


def check(condition: dict[str, Any], context: Context | None, expected: str) -> None:
    assert decide(allow_if(condition), OWNER, PULL, context) == expected


# ---- "IAM JSON policy elements: Condition operators" -> String condition operators
STRING = [
    (
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "iamuser-admin"},
        ALLOW,
    ),
    # "Exact matching, case sensitive"
    (
        {"StringEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "IAMUser-Admin"},
        IMPLICIT,
    ),
    (
        {"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "dev"},
        ALLOW,
    ),
    (
        {"StringNotEquals": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "iamuser-admin"},
        IMPLICIT,
    ),
    (
        {"StringEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "IAMUSER-ADMIN"},
        ALLOW,
    ),
    (
        {"StringNotEqualsIgnoreCase": {"aws:PrincipalTag/job-category": "iamuser-admin"}},
        {"aws:PrincipalTag/job-category": "IAMUSER-ADMIN"},
        IMPLICIT,
    ),
    # "Case-sensitive match. The values can include multi-character match wildcards (*)
    # and single-character match wildcards (?) anywhere in the string."
    ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/alice/notes"}, ALLOW),
    ({"StringLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "Home/alice"}, IMPLICIT),
    ({"StringLike": {"aws:PrincipalTag/team": "ci-?"}}, {"aws:PrincipalTag/team": "ci-7"}, ALLOW),
    (
        {"StringLike": {"aws:PrincipalTag/team": "ci-?"}},
        {"aws:PrincipalTag/team": "ci-77"},
        IMPLICIT,
    ),
    ({"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "tmp/x"}, ALLOW),
    ({"StringNotLike": {"s3:prefix": "home/*"}}, {"s3:prefix": "home/x"}, IMPLICIT),
]


@pytest.mark.parametrize(("condition", "context", "expected"), STRING)
def test_string_condition_operators(condition: Any, context: Context, expected: str) -> None:
    check(condition, context, expected)


# ---- "IAM JSON policy elements: Condition operators" -> Numeric condition operators
NUMERIC = [
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, ALLOW),
    ({"NumericLessThanEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, IMPLICIT),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, IMPLICIT),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "9.5"}, ALLOW),
    ({"NumericGreaterThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "11"}, ALLOW),
    ({"NumericGreaterThanEquals": {"s3:max-keys": 10}}, {"s3:max-keys": "10"}, ALLOW),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10.0"}, ALLOW),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, ALLOW),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "10"}, IMPLICIT),
    # A value that is not a number never matches; "1_0" is Python syntax, not a number.
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "ten"}, IMPLICIT),
    ({"NumericEquals": {"s3:max-keys": "10"}}, {"s3:max-keys": "1_0"}, IMPLICIT),
    ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "nan"}, IMPLICIT),
]


@pytest.mark.parametrize(("condition", "context", "expected"), NUMERIC)
def test_numeric_condition_operators(condition: Any, context: Context, expected: str) -> None:
    check(condition, context, expected)


# ---- "IAM JSON policy elements: Condition operators" -> Date condition operators
# "You must use one of the W3C implementations of the ISO 8601 date formats or use
# epoch (UNIX) time."
DATE = [
    (
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "2020-01-02T00:00:00Z"},
        ALLOW,
    ),
    (
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "2019-12-31T23:59:59Z"},
        IMPLICIT,
    ),
    (
        {"DateGreaterThan": {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}},
        {"aws:TokenIssueTime": "1577836802"},
        ALLOW,
    ),
    (
        {"DateEquals": {"aws:CurrentTime": "2020-01-01T00:00:01Z"}},
        {"aws:CurrentTime": "2020-01-01T01:00:01+01:00"},
        ALLOW,
    ),
    (
        {"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:01Z"}},
        {"aws:CurrentTime": "2020-01-01T00:00:02Z"},
        ALLOW,
    ),
    (
        {"DateLessThan": {"aws:CurrentTime": "2030-01-01"}},
        {"aws:CurrentTime": "2029-12-31T23:59:59Z"},
        ALLOW,
    ),
    (
        {"DateLessThanEquals": {"aws:EpochTime": "1577836800"}},
        {"aws:EpochTime": "1577836800"},
        ALLOW,
    ),
    (
        {"DateGreaterThanEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}},
        {"aws:CurrentTime": "yesterday"},
        IMPLICIT,
    ),
]


@pytest.mark.parametrize(("condition", "context", "expected"), DATE)
def test_date_condition_operators(condition: Any, context: Context, expected: str) -> None:
    check(condition, context, expected)


# ---- "IAM JSON policy elements: Condition operators" -> Boolean, Binary, IP address
BOOL_BINARY_IP = [
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, ALLOW),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "false"}, IMPLICIT),
    ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "true"}, ALLOW),
    (
        {"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}},
        {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
        ALLOW,
    ),
    ({"BinaryEquals": {"key": "QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, {"key": "b3RoZXI="}, IMPLICIT),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "203.0.113.9"}, ALLOW),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.9"}, IMPLICIT),
    (
        {"IpAddress": {"aws:SourceIp": "2001:DB8:1234:5678::/64"}},
        {"aws:SourceIp": "2001:db8:1234:5678::1"},
        ALLOW,
    ),
    (
        {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:DB8:1234:5678::/64"]}},
        {"aws:SourceIp": "2001:db8:1234:9999::1"},
        IMPLICIT,
    ),
    # A bare address is a /32.
    ({"IpAddress": {"aws:SourceIp": "203.0.113.5"}}, {"aws:SourceIp": "203.0.113.5"}, ALLOW),
    (
        {"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
        {"aws:SourceIp": "203.0.113.9"},
        IMPLICIT,
    ),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, {"aws:SourceIp": "198.51.100.9"}, ALLOW),
]


@pytest.mark.parametrize(("condition", "context", "expected"), BOOL_BINARY_IP)
def test_bool_binary_and_ip_operators(condition: Any, context: Context, expected: str) -> None:
    check(condition, context, expected)


# ---- "IAM JSON policy elements: Condition operators" -> Amazon Resource Name (ARN)
# "Each of the six colon-delimited components of the ARN is checked separately and
# each can include multi-character match wildcards (*) or single-character match
# wildcards (?)." ArnEquals and ArnLike behave the same.
TOPIC = f"arn:aws:sns:us-east-1:{OWNER}:builds"
ARN = [
    ({"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{OWNER}:*"}}, {"aws:SourceArn": TOPIC}, ALLOW),
    ({"ArnEquals": {"aws:SourceArn": f"arn:aws:sns:*:{OWNER}:*"}}, {"aws:SourceArn": TOPIC}, ALLOW),
    (
        {"ArnLike": {"aws:SourceArn": f"arn:aws:sns:*:{OTHER}:*"}},
        {"aws:SourceArn": TOPIC},
        IMPLICIT,
    ),
    (
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:us-?ast-1:*:builds"}},
        {"aws:SourceArn": TOPIC},
        ALLOW,
    ),
    # One * does not span components: five components never match a six-part ARN...
    ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:builds"}}, {"aws:SourceArn": TOPIC}, IMPLICIT),
    # ...while StringLike treats the ARN as one string.
    ({"StringLike": {"aws:SourceArn": "arn:aws:sns:*:builds"}}, {"aws:SourceArn": TOPIC}, ALLOW),
    # The resource component keeps its slashes and colons.
    (
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::bucket/*"}},
        {"aws:SourceArn": "arn:aws:s3:::bucket/a/b:c"},
        ALLOW,
    ),
    (
        {"ArnNotLike": {"aws:SourceArn": f"arn:aws:sns:*:{OWNER}:*"}},
        {"aws:SourceArn": TOPIC},
        IMPLICIT,
    ),
    (
        {"ArnNotEquals": {"aws:SourceArn": f"arn:aws:sns:*:{OTHER}:*"}},
        {"aws:SourceArn": TOPIC},
        ALLOW,
    ),
    ({"ArnLike": {"aws:SourceArn": "*"}}, {"aws:SourceArn": TOPIC}, ALLOW),
    (
        {"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
        {"aws:SourceArn": "not-an-arn"},
        IMPLICIT,
    ),
]


@pytest.mark.parametrize(("condition", "context", "expected"), ARN)
def test_arn_condition_operators(condition: Any, context: Context, expected: str) -> None:
    check(condition, context, expected)


# ---- "IAM JSON policy elements: Condition operators", the Important box and the
# "...IfExists condition operators" / "Condition operator to check existence of
# condition keys" sections: "If the key that you specify in a policy condition is not
# present in the request context, the values do not match and the condition is false.
# If the policy condition requires that the key is not matched, such as StringNotLike
# or ArnNotLike, and the right key is not present, the condition is true. This logic
# applies to all condition operators except ...IfExists and Null check."
ABSENT = [
    ({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, ALLOW, IMPLICIT),
    ({"StringLike": {"aws:SourceVpce": "*"}}, ALLOW, IMPLICIT),
    ({"StringNotEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, IMPLICIT, ALLOW),
    ({"StringNotLike": {"aws:SourceVpce": "vpce-*"}}, IMPLICIT, ALLOW),
    ({"StringNotEqualsIgnoreCase": {"aws:SourceVpce": "VPCE-1A2B3C4D"}}, IMPLICIT, ALLOW),
    ({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}, IMPLICIT, ALLOW),
    ({"NumericNotEquals": {"s3:max-keys": "10"}}, IMPLICIT, ALLOW),
    ({"DateNotEquals": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}, IMPLICIT, ALLOW),
    ({"NotIpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, IMPLICIT, ALLOW),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, ALLOW, IMPLICIT),
    ({"Bool": {"aws:SecureTransport": "true"}}, ALLOW, IMPLICIT),
    # "If the key is not present, evaluate the condition element as true."
    ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, ALLOW, ALLOW),
    ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, ALLOW, ALLOW),
    ({"StringNotEqualsIfExists": {"aws:SourceVpce": "vpce-1a2b3c4d"}}, IMPLICIT, ALLOW),
    # Null: "true" means the key is absent, "false" that it is present.
    ({"Null": {"aws:SourceVpce": "true"}}, IMPLICIT, ALLOW),
    ({"Null": {"aws:SourceVpce": "false"}}, ALLOW, IMPLICIT),
]


@pytest.mark.parametrize(("condition", "with_matching_key", "without_key"), ABSENT)
def test_absent_key_semantics(condition: Any, with_matching_key: str, without_key: str) -> None:
    # The "present" request carries a value the operator's positive form matches.
    present = {
        "aws:sourcevpce": "vpce-1a2b3c4d",
        "aws:sourcearn": TOPIC,
        "s3:max-keys": "10",
        "aws:currenttime": "2020-01-01T00:00:00Z",
        "aws:sourceip": "203.0.113.9",
        "aws:securetransport": "true",
        "aws:multifactorauthpresent": "true",
    }
    key = next(iter(next(iter(condition.values())))).lower()
    check(condition, {key: present[key]}, with_matching_key)
    check(condition, None, without_key)


# The IfExists example from the same page: "If the key is present, process it as the
# policy says; if it is absent, the condition is true."
IF_EXISTS = [
    ({"ec2:InstanceType": "t2.micro"}, ALLOW),
    ({"ec2:InstanceType": "m5.large"}, IMPLICIT),
    (None, ALLOW),
]


@pytest.mark.parametrize(("context", "expected"), IF_EXISTS)
def test_if_exists_doc_example(context: Context | None, expected: str) -> None:
    check({"StringLikeIfExists": {"ec2:InstanceType": ["t1.*", "t2.*", "m3.*"]}}, context, expected)


# ---- "Single-valued vs multivalued context keys" -> "Set operators for multivalued
# context keys": ForAllValues "returns true if every context key value in the request
# matches at least one context key value in the policy. It also returns true if there
# are no context keys in the request." ForAnyValue "returns true if any one of the
# context key values in the request matches any one of the context key values in the
# policy. For context keys that are not present, it returns false."
FOR_ALL = {"ForAllValues:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
FOR_ANY = {"ForAnyValue:StringEquals": {"aws:TagKeys": ["environment", "cost-center"]}}
SETS = [
    (FOR_ALL, {"aws:TagKeys": ["environment"]}, ALLOW),
    (FOR_ALL, {"aws:TagKeys": ["environment", "cost-center"]}, ALLOW),
    (FOR_ALL, {"aws:TagKeys": ["environment", "owner"]}, IMPLICIT),
    (FOR_ALL, {"aws:TagKeys": []}, ALLOW),
    (FOR_ALL, None, ALLOW),
    (FOR_ANY, {"aws:TagKeys": ["owner", "environment"]}, ALLOW),
    (FOR_ANY, {"aws:TagKeys": ["owner"]}, IMPLICIT),
    (FOR_ANY, None, IMPLICIT),
    # Negated operators under a set operator apply per request value.
    (
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["a", "b"]},
        ALLOW,
    ),
    (
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["a", "secret"]},
        IMPLICIT,
    ),
    (
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["secret", "a"]},
        ALLOW,
    ),
    (
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["secret"]},
        IMPLICIT,
    ),
    ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["secret"]}}, None, IMPLICIT),
    (
        {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-1111/*"}},
        {"aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/r-ab12/ou-ab12-1111/ou-ab12-2222/"]},
        ALLOW,
    ),
    ({"ForAllValues:StringEqualsIfExists": {"aws:TagKeys": ["environment"]}}, None, ALLOW),
    # The page's warning: ForAllValues with Allow on a key the request lacks allows.
    ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, None, ALLOW),
]


@pytest.mark.parametrize(("condition", "context", "expected"), SETS)
def test_set_operators(condition: Any, context: Context | None, expected: str) -> None:
    check(condition, context, expected)


# ---- "Conditions with multiple context keys or values": several operators and several
# keys are ANDed, several values for one key are ORed, and several values under a
# negated operator are NORed. Context keys are case-insensitive; values follow the
# operator (case-sensitive unless it says IgnoreCase).
TEAM = "aws:PrincipalTag/team"
MULTI = [
    (
        {"StringEquals": {TEAM: "ci"}, "Bool": {"aws:SecureTransport": "true"}},
        {TEAM: "ci", "aws:SecureTransport": "true"},
        ALLOW,
    ),
    (
        {"StringEquals": {TEAM: "ci"}, "Bool": {"aws:SecureTransport": "true"}},
        {TEAM: "ci", "aws:SecureTransport": "false"},
        IMPLICIT,
    ),
    (
        {"StringEquals": {TEAM: "ci", "aws:PrincipalTag/env": "prod"}},
        {TEAM: "ci", "aws:PrincipalTag/env": "prod"},
        ALLOW,
    ),
    ({"StringEquals": {TEAM: "ci", "aws:PrincipalTag/env": "prod"}}, {TEAM: "ci"}, IMPLICIT),
    ({"StringEquals": {TEAM: ["ci", "ops"]}}, {TEAM: "ops"}, ALLOW),
    ({"StringEquals": {TEAM: ["ci", "ops"]}}, {TEAM: "dev"}, IMPLICIT),
    ({"StringNotEquals": {TEAM: ["ci", "ops"]}}, {TEAM: "ops"}, IMPLICIT),
    ({"StringNotEquals": {TEAM: ["ci", "ops"]}}, {TEAM: "dev"}, ALLOW),
    ({"StringEquals": {"AWS:PRINCIPALTAG/Team": "ci"}}, {"aws:principaltag/team": "ci"}, ALLOW),
    ({"StringEquals": {TEAM: "ci"}}, {TEAM: "CI"}, IMPLICIT),
]


@pytest.mark.parametrize(("condition", "context", "expected"), MULTI)
def test_multiple_keys_and_values(condition: Any, context: Context, expected: str) -> None:
    check(condition, context, expected)


# ---- "Policy evaluation logic" -> "Determining whether a request is allowed or denied
# within an account": an explicit Deny overrides any Allow; with no Allow the request
# is implicitly denied. Also "IAM JSON policy elements: Action / NotAction" (wildcards,
# case-insensitive) and "Version" (both versions, Statement as an object).
ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}
DENY_DELETE = {"Effect": "Deny", "Principal": "*", "Action": "ecr:Delete*"}
REPO = f"arn:aws:ecr:us-east-1:{OWNER}:repository/app"
LOGIC = [
    (policy(ALLOW_ALL), "ecr:DeleteRepository", None, ALLOW),
    (policy(ALLOW_ALL, DENY_DELETE), "ecr:DeleteRepository", None, DENY),
    (policy(DENY_DELETE, ALLOW_ALL), "ecr:BatchGetImage", None, ALLOW),
    (policy(DENY_DELETE), "ecr:DeleteRepository", None, DENY),
    (policy(DENY_DELETE), "ecr:BatchGetImage", None, IMPLICIT),
    (policy(), "ecr:BatchGetImage", None, IMPLICIT),
    (
        policy(ALLOW_ALL, {**DENY_DELETE, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        "ecr:DeleteRepository",
        {"aws:SecureTransport": "true"},
        ALLOW,
    ),
    (
        policy(ALLOW_ALL, {**DENY_DELETE, "Condition": {"Bool": {"aws:SecureTransport": "false"}}}),
        "ecr:DeleteRepository",
        {"aws:SecureTransport": "false"},
        DENY,
    ),
    # NotAction: "matches everything except the specified list of actions".
    (
        policy({"Effect": "Allow", "Principal": "*", "NotAction": "ecr:DeleteRepository"}),
        "ecr:BatchGetImage",
        None,
        ALLOW,
    ),
    (
        policy({"Effect": "Allow", "Principal": "*", "NotAction": "ecr:DeleteRepository"}),
        "ecr:DeleteRepository",
        None,
        IMPLICIT,
    ),
    (
        policy(ALLOW_ALL, {"Effect": "Deny", "Principal": "*", "NotAction": "ecr:BatchGetImage"}),
        "ecr:PutImage",
        None,
        DENY,
    ),
    (
        policy(ALLOW_ALL, {"Effect": "Deny", "Principal": "*", "NotAction": "ecr:BatchGetImage"}),
        "ecr:BatchGetImage",
        None,
        ALLOW,
    ),
    # Action wildcards (* and ?) and case-insensitive action names.
    (policy({**ALLOW_ALL, "Action": "ecr:Batch*"}), "ecr:BatchGetImage", None, ALLOW),
    (policy({**ALLOW_ALL, "Action": "ecr:*Image"}), "ecr:PutImage", None, ALLOW),
    (policy({**ALLOW_ALL, "Action": "ecr:?utImage"}), "ecr:PutImage", None, ALLOW),
    (policy({**ALLOW_ALL, "Action": "ecr:?utImage"}), "ecr:OutputImages", None, IMPLICIT),
    (policy({**ALLOW_ALL, "Action": "ECR:batchgetimage"}), "ecr:BatchGetImage", None, ALLOW),
    (
        policy({**ALLOW_ALL, "Action": ["ecr:PutImage", "ecr:BatchGetImage"]}),
        "ECR:BATCHGETIMAGE",
        None,
        ALLOW,
    ),
    (policy({**ALLOW_ALL, "Action": "s3:*"}), "ecr:BatchGetImage", None, IMPLICIT),
    # Both versions; Statement as a single object.
    ({"Version": "2008-10-17", "Statement": ALLOW_ALL}, "ecr:BatchGetImage", None, ALLOW),
    ({"Statement": [DENY_DELETE, ALLOW_ALL]}, "ecr:DeleteRepository", None, DENY),
]


@pytest.mark.parametrize(("doc", "action", "context", "expected"), LOGIC)
def test_evaluation_logic(doc: Any, action: str, context: Context | None, expected: str) -> None:
    assert decide(doc, OWNER, action, context) == expected


# "IAM JSON policy elements: Resource": a request for a named resource matches only
# the statements whose Resource/NotResource covers it.
RESOURCES = [
    ({**ALLOW_ALL, "Resource": REPO}, REPO, ALLOW),
    ({**ALLOW_ALL, "Resource": "arn:aws:ecr:*:*:repository/app*"}, REPO + "-2", ALLOW),
    ({**ALLOW_ALL, "Resource": REPO}, REPO + "-2", IMPLICIT),
    ({**ALLOW_ALL, "NotResource": REPO}, REPO, IMPLICIT),
    ({**ALLOW_ALL, "NotResource": REPO}, REPO + "-2", ALLOW),
]


@pytest.mark.parametrize(("stmt", "resource", "expected"), RESOURCES)
def test_resource_element(stmt: dict[str, Any], resource: str, expected: str) -> None:
    assert decide(policy(stmt), OWNER, PULL, resource=resource) == expected


# ---- "AWS JSON policy elements: Principal": "*" and {"AWS": "*"} mean everyone,
# anonymous callers included; an account (id or root ARN) means every principal of
# that account; a role ARN is matched by that role's sessions ("Role sessions" /
# "Assumed-role session principals" - session ARNs do not carry the role's path);
# a specific session ARN matches only that session; Service and Federated principals
# match those callers only.
ROLE = f"arn:aws:iam::{OWNER}:role/ci"
SESSION = f"arn:aws:sts::{OWNER}:assumed-role/ci/build-42"
USER = f"arn:aws:iam::{OWNER}:user/bob"
OIDC = f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"
PRINCIPALS = [
    ("*", OWNER, ALLOW),
    ("*", "*", ALLOW),
    ({"AWS": "*"}, "*", ALLOW),
    ({"AWS": "*"}, SESSION, ALLOW),
    ({"AWS": OWNER}, OWNER, ALLOW),
    ({"AWS": OWNER}, USER, ALLOW),
    ({"AWS": OWNER}, SESSION, ALLOW),
    ({"AWS": OWNER}, f"arn:aws:iam::{OTHER}:user/bob", IMPLICIT),
    ({"AWS": OWNER}, "*", IMPLICIT),
    ({"AWS": f"arn:aws:iam::{OWNER}:root"}, SESSION, ALLOW),
    ({"AWS": f"arn:aws:iam::{OWNER}:root"}, USER, ALLOW),
    ({"AWS": f"arn:aws:iam::{OWNER}:root"}, OTHER, IMPLICIT),
    ({"AWS": ROLE}, SESSION, ALLOW),
    ({"AWS": ROLE}, ROLE, ALLOW),
    ({"AWS": f"arn:aws:iam::{OWNER}:role/team/ci"}, SESSION, ALLOW),
    ({"AWS": ROLE}, f"arn:aws:sts::{OWNER}:assumed-role/deploy/build-42", IMPLICIT),
    ({"AWS": ROLE}, f"arn:aws:sts::{OTHER}:assumed-role/ci/build-42", IMPLICIT),
    ({"AWS": ROLE}, f"arn:aws:iam::{OWNER}:user/ci", IMPLICIT),
    ({"AWS": ROLE}, OWNER, IMPLICIT),
    ({"AWS": SESSION}, SESSION, ALLOW),
    ({"AWS": SESSION}, f"arn:aws:sts::{OWNER}:assumed-role/ci/build-43", IMPLICIT),
    ({"AWS": USER}, USER, ALLOW),
    ({"AWS": USER}, f"arn:aws:iam::{OWNER}:user/alice", IMPLICIT),
    ({"AWS": [USER, OTHER]}, f"arn:aws:sts::{OTHER}:assumed-role/x/y", ALLOW),
    ({"Service": "ecs-tasks.amazonaws.com"}, "ecs-tasks.amazonaws.com", ALLOW),
    ({"Service": "ecs-tasks.amazonaws.com"}, "lambda.amazonaws.com", IMPLICIT),
    ({"Service": "ecs-tasks.amazonaws.com"}, OWNER, IMPLICIT),
    ({"AWS": OWNER}, "ecs-tasks.amazonaws.com", IMPLICIT),
    ({"Federated": OIDC}, OIDC, ALLOW),
    ({"Federated": "accounts.google.com"}, "accounts.google.com", ALLOW),
    ({"Federated": "cognito-identity.amazonaws.com"}, "cognito-identity.amazonaws.com", ALLOW),
    ({"Federated": "accounts.google.com"}, OWNER, IMPLICIT),
]


@pytest.mark.parametrize(("principal", "caller", "expected"), PRINCIPALS)
def test_principal_element(principal: Any, caller: str, expected: str) -> None:
    doc = policy({"Effect": "Allow", "Principal": principal, "Action": PULL})
    assert decide(doc, caller) == expected


# ---- "AWS JSON policy elements: NotPrincipal": with Allow it "allows all principals
# except the one named ... you might grant access to anonymous users"; with Deny it
# denies everyone except the principals named. The page's two examples list the
# principal together with its account ARN (and, for a session, its role ARN).
BOB = f"arn:aws:iam::{OTHER}:user/Bob"
AUDIT_SESSION = f"arn:aws:sts::{OTHER}:assumed-role/cross-account-read-only-role/audit-app"
AUDIT_ROLE = f"arn:aws:iam::{OTHER}:role/cross-account-read-only-role"
OTHER_ROOT = f"arn:aws:iam::{OTHER}:root"


def deny_all_but(*names: str) -> dict[str, Any]:
    return policy(
        {"Effect": "Allow", "Principal": "*", "Action": "ecr:*"},
        {"Effect": "Deny", "NotPrincipal": {"AWS": list(names)}, "Action": "ecr:*"},
    )


NOT_PRINCIPAL = [
    (deny_all_but(BOB, OTHER_ROOT), BOB, ALLOW),
    (deny_all_but(BOB, OTHER_ROOT), f"arn:aws:iam::{OWNER}:user/Bob", DENY),
    (deny_all_but(BOB, OTHER_ROOT), "*", DENY),
    (deny_all_but(AUDIT_SESSION, AUDIT_ROLE, OTHER_ROOT), AUDIT_SESSION, ALLOW),
    (deny_all_but(AUDIT_SESSION, AUDIT_ROLE, OTHER_ROOT), SESSION, DENY),
    (policy({"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": PULL}), "*", ALLOW),
    (policy({"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": PULL}), BOB, IMPLICIT),
    (policy({"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": PULL}), OWNER, ALLOW),
    (policy({"Effect": "Allow", "NotPrincipal": "*", "Action": PULL}), OWNER, IMPLICIT),
    # As the issue asks, NotPrincipal names match like Principal names: an account covers
    # its principals and a role its sessions. AWS documents that it "might" also check the
    # account and role of a named session separately; exempting more from a Deny is the
    # wider reading, which is the safe side for exposure().
    (deny_all_but(OTHER), f"arn:aws:sts::{OTHER}:assumed-role/any/s", ALLOW),
    (deny_all_but(AUDIT_ROLE), AUDIT_SESSION, ALLOW),
]


@pytest.mark.parametrize(("doc", "caller", "expected"), NOT_PRINCIPAL)
def test_not_principal(doc: dict[str, Any], caller: str, expected: str) -> None:
    assert decide(doc, caller) == expected


# ---- "AWS global condition context keys": aws:PrincipalAccount and aws:PrincipalArn
# come from the caller ("For IAM roles, the request context returns the ARN of the role,
# not the ARN of the user that assumed the role").
DERIVED = [
    ({"StringEquals": {"aws:PrincipalAccount": OWNER}}, SESSION, ALLOW),
    ({"StringEquals": {"aws:PrincipalAccount": OWNER}}, OTHER, IMPLICIT),
    ({"ArnEquals": {"aws:PrincipalArn": ROLE}}, SESSION, ALLOW),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}}, SESSION, ALLOW),
    ({"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{OWNER}:root"}}, OWNER, ALLOW),
    ({"StringEquals": {"aws:PrincipalArn": USER}}, USER, ALLOW),
    ({"Bool": {"aws:PrincipalIsAWSService": "true"}}, "ecs-tasks.amazonaws.com", ALLOW),
    ({"Bool": {"aws:PrincipalIsAWSService": "true"}}, OWNER, IMPLICIT),
    (
        {"StringEquals": {"aws:PrincipalServiceName": "ecs-tasks.amazonaws.com"}},
        "ecs-tasks.amazonaws.com",
        ALLOW,
    ),
    # An anonymous caller has no account, so a negated test on it holds.
    ({"StringNotEquals": {"aws:PrincipalAccount": OWNER}}, "*", ALLOW),
]


@pytest.mark.parametrize(("condition", "caller", "expected"), DERIVED)
def test_keys_derived_from_the_principal(condition: Any, caller: str, expected: str) -> None:
    assert decide(allow_if(condition), caller) == expected


# ---- Request building, as `policy eval --context KEY=VALUE` uses it.


def test_a_string_context_value_is_one_value_not_its_characters() -> None:
    doc = allow_if({"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}})
    assert decide(doc, OWNER, context={"aws:SourceVpce": "vpce-1a2b3c4d"}) == ALLOW
    assert decide(doc, OWNER, context={"aws:SourceVpce": ["vpce-1a2b3c4d"]}) == ALLOW


def test_context_that_repeats_the_derived_value_is_accepted() -> None:
    doc = allow_if({"StringEquals": {"aws:PrincipalAccount": OWNER}})
    assert decide(doc, SESSION, context={"aws:PrincipalAccount": OWNER}) == ALLOW


def test_context_that_contradicts_the_principal_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="derived from --principal"):
        Request.build(SESSION, PULL, context={"aws:PrincipalAccount": OTHER})


CALLERS = [
    (OWNER, ("aws", OWNER, None, f"arn:aws:iam::{OWNER}:root")),
    (SESSION, ("aws", OWNER, "ci", ROLE)),
    (
        f"arn:aws:iam::{OWNER}:role/team/ci",
        ("aws", OWNER, "ci", f"arn:aws:iam::{OWNER}:role/team/ci"),
    ),
    (USER, ("aws", OWNER, None, USER)),
    ("lambda.amazonaws.com", ("service", None, None, None)),
    ("*", ("anonymous", None, None, None)),
    (OIDC, ("federated", None, None, None)),
]


@pytest.mark.parametrize(("text", "expected"), CALLERS)
def test_caller_parse(text: str, expected: tuple[str, str | None, str | None, str | None]) -> None:
    caller = Caller.parse(text)
    assert (caller.kind, caller.account, caller.role_name, caller.arn) == expected


@pytest.mark.parametrize(
    "text",
    ["bob", "12345", "arn:aws:iam::*:root", f"arn:aws:sts::{OWNER}:assumed-role/ci"],
)
def test_unreadable_principal_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        Caller.parse(text)


def test_deciding_statements_are_reported() -> None:
    doc = policy(
        {"Sid": "Pull", "Effect": "Allow", "Principal": "*", "Action": PULL},
        {
            "Sid": "NoHttp",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    parsed = parse_policy(doc)
    denied = evaluate(parsed, Request.build(OWNER, PULL, context={"aws:SecureTransport": "false"}))
    allowed = evaluate(parsed, Request.build(OWNER, PULL, context={"aws:SecureTransport": "true"}))
    assert [s.label for s in denied.statements] == ["statement 'NoHttp'"]
    assert [s.label for s in allowed.statements] == ["statement 'Pull'"]
