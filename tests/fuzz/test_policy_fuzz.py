"""Fuzzing the policy engine: anything at all goes in, a Policy or one PolicyParseError comes out.

``parse_policy`` is what ``ecrguard policy eval|analyze`` and every policy rule
call on documents they did not write (a file, a Terraform attribute, a live
repository's policy). Its contract: a :class:`Policy`, or a
:class:`PolicyParseError` with a one-line message. Any other exception would
reach the user as a crash (or, inside a scan, turn a rule UNKNOWN for a reason
nobody can act on). And whatever it accepts, ``evaluate`` and ``exposure`` must
then answer without raising: a parsed policy is a promise that the engine can
read it.

Three kinds of input: arbitrary JSON values; policy-shaped documents whose
every element may be of the wrong type or hold odd values (so the fuzzing
reaches the statement, principal and condition parsers and the operators
instead of stopping at "not an object"); and arbitrary text and bytes,
including damaged JSON of real policies. Settings are fixed (derandomized,
no example database) so CI runs the same examples every time.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrguard.errors import PolicyParseError
from ecrguard.policy import (
    REGISTRY_V2_LEVELS,
    REPOSITORY_LEVELS,
    Caller,
    Exposure,
    Policy,
    Request,
    evaluate,
    exposure,
    parse_policy,
)
from tests.fuzz.mutations import damage

OWNER = "111122223333"
TRUSTED = "222233334444"
OUTSIDER = "444455556666"
ORG = "o-a1b2c3d4e5"

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# ---- strategies ----------------------------------------------------------------------

# Scalars JSON can carry, including the awkward ones: huge and negative numbers,
# floats, empty and non-ASCII strings.
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

# The words a policy is made of, so random documents get past the first checks.
WORDS = st.sampled_from(
    [
        "*",
        "",
        "Allow",
        "Deny",
        "allow",
        "ecr:*",
        "ecr:BatchGetImage",
        "ecr:Put*",
        "ecr:?utImage",
        "s3:GetObject",
        "*:*",
        OWNER,
        TRUSTED,
        OUTSIDER,
        "1234",
        f"arn:aws:iam::{OUTSIDER}:root",
        f"arn:aws:iam::{OWNER}:role/ci",
        "arn:aws:iam::*:role/*",
        f"arn:aws:sts::{OUTSIDER}:assumed-role/ci/session",
        f"arn:aws:ecr:us-east-1:{OWNER}:repository/app",
        "arn:aws:ecr:*:*:repository/*",
        "arn:*",
        "arn:aws:iam::",
        "lambda.amazonaws.com",
        "cognito-identity.amazonaws.com",
        "accounts.google.com",
        ORG,
        "o-*",
        "vpce-0abc",
        "10.0.0.0/8",
        "10.0.0.1",
        "::1",
        "2001:db8::/32",
        "300.1.1.1/99",
        "2024-01-01T00:00:00Z",
        "2024-13-45",
        "1700000000",
        "1e400",
        "-0",
        "true",
        "false",
        "${aws:username}",
        "é*?",
    ]
)
CONDITION_OPERATORS = st.sampled_from(
    [
        "StringEquals",
        "StringNotEquals",
        "StringLike",
        "StringNotLikeIfExists",
        "StringEqualsIgnoreCase",
        "ArnLike",
        "ArnNotEquals",
        "NumericLessThan",
        "NumericEquals",
        "DateGreaterThan",
        "DateNotEquals",
        "Bool",
        "BoolIfExists",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "Null",
        "NullIfExists",
        "ForAnyValue:StringLike",
        "ForAllValues:StringEquals",
        "ForSomeValues:StringEquals",
        "Bogus",
    ]
)
CONDITION_KEYS = st.sampled_from(
    [
        "aws:PrincipalOrgID",
        "aws:PrincipalAccount",
        "aws:PrincipalArn",
        "aws:SourceIp",
        "aws:SourceVpce",
        "aws:SourceAccount",
        "aws:SourceArn",
        "aws:SecureTransport",
        "aws:CurrentTime",
        "aws:PrincipalTag/team",
        "aws:PrincipalServiceName",
        "ecr:ResourceTag/env",
        "s3:prefix",
        "",
    ]
)
# Where a well-formed policy has strings, sometimes put anything JSON allows.
WORDISH = WORDS | st.lists(WORDS, max_size=3) | JSON_SCALARS | JSON_VALUES
CONDITION_VALUES = WORDS | st.lists(WORDS | JSON_SCALARS, max_size=3) | JSON_VALUES
CONDITIONS = st.dictionaries(
    CONDITION_OPERATORS,
    st.dictionaries(CONDITION_KEYS, CONDITION_VALUES, max_size=3) | JSON_SCALARS,
    max_size=3,
)
PRINCIPALS = (
    WORDS
    | st.dictionaries(
        st.sampled_from(["AWS", "Service", "Federated", "CanonicalUser", "Bogus"]),
        WORDS | st.lists(WORDS, max_size=3) | JSON_SCALARS,
        max_size=3,
    )
    | JSON_VALUES
)
STATEMENTS = st.fixed_dictionaries(
    {},
    optional={
        "Sid": WORDS | JSON_SCALARS,
        "Effect": st.sampled_from(["Allow", "Deny"]) | WORDISH,
        "Principal": PRINCIPALS,
        "NotPrincipal": PRINCIPALS,
        "Action": WORDISH,
        "NotAction": WORDISH,
        "Resource": WORDISH,
        "NotResource": WORDISH,
        "Condition": CONDITIONS | JSON_VALUES,
    },
)
POLICY_SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "Version": st.sampled_from(["2012-10-17", "2008-10-17", "2012-10-18"]) | JSON_SCALARS,
        "Id": WORDS | JSON_SCALARS,
        "Statement": st.lists(STATEMENTS, max_size=4) | STATEMENTS | JSON_VALUES,
    },
)
# Mostly-valid statements, so evaluate and exposure see many parsed policies.
VALID_STATEMENTS = st.fixed_dictionaries(
    {
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": WORDS | st.lists(WORDS, min_size=1, max_size=3),
    },
    optional={
        "Principal": st.just("*")
        | st.dictionaries(
            st.sampled_from(["AWS", "Service", "Federated"]),
            WORDS | st.lists(WORDS, min_size=1, max_size=3),
            min_size=1,
            max_size=2,
        ),
        "Resource": WORDS | st.lists(WORDS, min_size=1, max_size=2),
        "Condition": st.dictionaries(
            st.sampled_from(
                [
                    "StringEquals",
                    "StringNotLike",
                    "ArnLike",
                    "NumericLessThan",
                    "DateGreaterThan",
                    "Bool",
                    "IpAddress",
                    "NotIpAddress",
                    "Null",
                    "ForAnyValue:StringLike",
                    "ForAllValues:StringEquals",
                    "StringEqualsIfExists",
                ]
            ),
            st.dictionaries(
                CONDITION_KEYS, WORDS | st.lists(WORDS, max_size=3), min_size=1, max_size=2
            ),
            max_size=2,
        ),
    },
)
VALID_POLICIES = st.fixed_dictionaries(
    {"Version": st.just("2012-10-17"), "Statement": st.lists(VALID_STATEMENTS, max_size=4)}
)

# A real policy's text, for damage: truncation, byte flips and insertions keep
# most of it intact, which plain random text would not.
REAL = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": f"arn:aws:iam::{OUTSIDER}:root"},
                "NotAction": "ecr:Describe*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}},
            },
        ],
    },
    indent=1,
).encode()


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    inserts = st.sampled_from(
        [b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\", b"\x00", b"\xff"]
    ) | st.binary(max_size=4)
    return damage(draw, REAL, inserts, span=8)


# ---- the property ----------------------------------------------------------------------


def _parse_or_refuse(doc: Any) -> Policy | None:
    """The contract: a Policy, or a PolicyParseError with one line to show the user."""
    try:
        policy = parse_policy(doc)
    except PolicyParseError as err:
        message = str(err)
        assert message and "\n" not in message, repr(message)
        return None
    assert isinstance(policy, Policy)
    return policy


def _request_values(policy: Policy, caller: Caller, data: st.DataObject) -> dict[str, list[str]]:
    """Context for the policy's own condition keys, with values from the same odd vocabulary."""
    derived = caller.derived_context()
    context: dict[str, list[str]] = {}
    for stmt in policy.statements:
        for cond in stmt.conditions:
            if cond.key in derived:
                continue  # follows from the principal; contradicting it is a usage error
            values = data.draw(st.lists(WORDS, max_size=2), label=cond.key)
            context[cond.key] = values
    return context


def _engine_answers(policy: Policy, data: st.DataObject) -> None:
    """Whatever parses, the engine can judge: exposure and evaluate never raise."""
    for levels in (REPOSITORY_LEVELS, REGISTRY_V2_LEVELS):
        result = exposure(policy, OWNER, org_id=ORG, trusted=(TRUSTED,), levels=levels)
        assert isinstance(result, Exposure)
        assert set(result.levels) == set(levels)
    principal = data.draw(
        st.sampled_from(
            [
                OUTSIDER,
                f"arn:aws:iam::{OWNER}:role/ci",
                f"arn:aws:sts::{OUTSIDER}:assumed-role/ci/s",
                "lambda.amazonaws.com",
                "accounts.google.com",
                "*",
            ]
        ),
        label="principal",
    )
    caller = Caller.parse(principal)
    action = data.draw(WORDS, label="action")
    resource = data.draw(st.none() | WORDS, label="resource")
    request = Request.build(caller, action, resource, _request_values(policy, caller, data))
    evaluate(policy, request)


@FUZZ
@given(doc=JSON_VALUES, data=st.data())
def test_any_json_value(doc: Any, data: st.DataObject) -> None:
    policy = _parse_or_refuse(doc)
    if policy is not None:
        _engine_answers(policy, data)


@FUZZ
@given(doc=POLICY_SHAPED, data=st.data())
def test_policy_shaped_documents_of_any_types(doc: dict[str, Any], data: st.DataObject) -> None:
    policy = _parse_or_refuse(doc)
    if policy is not None:
        _engine_answers(policy, data)
    # The same document read from JSON text gets the same verdict.
    assert (_parse_or_refuse(json.dumps(doc)) is None) == (policy is None)


@FUZZ
@given(doc=VALID_POLICIES, data=st.data())
def test_well_formed_policies_are_always_judged(doc: dict[str, Any], data: st.DataObject) -> None:
    policy = _parse_or_refuse(doc)
    assert policy is not None, doc
    _engine_answers(policy, data)


@FUZZ
@given(raw=st.text() | st.binary() | damaged(), data=st.data())
def test_any_text_or_bytes(raw: str | bytes, data: st.DataObject) -> None:
    policy = _parse_or_refuse(raw)
    if policy is not None:
        _engine_answers(policy, data)
