"""exposure(): the widest audience per access level, as `policy analyze` prints it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ecrguard.errors import PolicyParseError, UsageError
from ecrguard.policy import (
    REGISTRY_V1_LEVELS,
    REGISTRY_V2_LEVELS,
    Audience,
    exposure,
    parse_policy,
)

OWNER = "111122223333"
TRUSTED = "222233334444"
MEMBER = "333344445555"  # another account of the owner's organization
OUTSIDER = "444455556666"
STRANGER = "777788889999"
ORG = "o-a1b2c3d4e5"
FOREIGN_ORG = "o-zz9zz9zz9z"

PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any = "*", action: Any = "ecr:*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **extra}


def deny(principal: Any = "*", action: Any = "ecr:*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, **extra}


def when(**blocks: dict[str, Any]) -> dict[str, Any]:
    return {"Condition": blocks}


def analyze(doc: Any, **kwargs: Any) -> dict[str, Any]:
    """What `policy analyze --format json` prints, reasons aside."""
    kwargs.setdefault("org_id", ORG)
    kwargs.setdefault("trusted", (TRUSTED,))
    kwargs.setdefault("org_accounts", (MEMBER,))
    out = exposure(doc, OWNER, **kwargs).to_json()
    out.pop("reasons")
    return out


def levels(audience: str, **overrides: str) -> dict[str, str]:
    return {"pull": audience, "push": audience, "delete": audience, "admin": audience, **overrides}


# Each row: the policy, and the levels `policy analyze` must print for it.
CASES = [
    # ---- Principal "*" and {"AWS": "*"}; accounts, root ARNs, roles.
    pytest.param(policy(allow("*")), levels("public"), id="star"),
    pytest.param(policy(allow({"AWS": "*"})), levels("public"), id="aws-star"),
    pytest.param(
        policy(allow({"AWS": ["*"]}, PULL)), levels("none", pull="public"), id="aws-star-list"
    ),
    pytest.param(policy(allow({"AWS": OWNER})), levels("trusted"), id="owner-account"),
    pytest.param(
        policy(allow({"AWS": f"arn:aws:iam::{TRUSTED}:root"})), levels("trusted"), id="trusted-root"
    ),
    pytest.param(
        policy(allow({"AWS": OUTSIDER}, PULL)), levels("none", pull="external"), id="outsider-id"
    ),
    pytest.param(
        policy(allow({"AWS": f"arn:aws:iam::{OUTSIDER}:root"}, PUSH)),
        levels("none", push="external"),
        id="outsider-root-arn",
    ),
    pytest.param(
        policy(allow({"AWS": f"arn:aws:iam::{OUTSIDER}:role/ci"}, "ecr:DeleteRepository")),
        levels("none", delete="external"),
        id="outsider-role",
    ),
    pytest.param(policy(allow({"AWS": MEMBER})), levels("organization"), id="org-member-account"),
    # ---- LAB 01 must-not-flag: "*" scoped to the owner's organization; Deny-only; SourceVpce.
    pytest.param(
        policy(allow("*", PULL, **when(StringEquals={"aws:PrincipalOrgID": ORG}))),
        levels("none", pull="organization"),
        id="lab01-org-scoped-star",
    ),
    pytest.param(policy(deny("*")), levels("none"), id="lab01-deny-only"),
    pytest.param(
        policy(allow("*", **when(StringEquals={"aws:SourceVpce": "vpce-0a1b2c3d4e5f67890"}))),
        levels("trusted"),
        id="lab01-source-vpce",
    ),
    pytest.param(
        policy(allow("*", **when(StringEquals={"aws:SourceVpc": "vpc-0a1b2c3d"}))),
        levels("trusted"),
        id="source-vpc",
    ),
    # ---- LAB 01 must-flag: conditions anyone can satisfy do not narrow.
    pytest.param(
        policy(allow("*", **when(StringLike={"aws:PrincipalOrgID": "*"}))),
        levels("public"),
        id="lab01-orgid-like-star",
    ),
    pytest.param(
        policy(allow("*", **when(StringEqualsIfExists={"aws:PrincipalOrgID": ORG}))),
        levels("public"),
        id="lab01-ifexists-orgid",
    ),
    pytest.param(
        policy(allow("*", **when(**{"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG}}))),
        levels("public"),
        id="lab01-forallvalues-orgid",
    ),
    pytest.param(
        policy(
            allow("*", **when(**{"ForAllValues:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/*"}}))
        ),
        levels("public"),
        id="forallvalues-orgpaths",
    ),
    pytest.param(
        policy({"Effect": "Allow", "Principal": "*", "NotAction": "ecr:DeleteRepository"}),
        levels("public"),  # BatchDeleteImage is still allowed, so delete is public too
        id="lab01-notaction",
    ),
    pytest.param(
        policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "NotAction": [
                    "ecr:BatchDeleteImage",
                    "ecr:DeleteRepository",
                    "ecr:*Policy",
                    "ecr:Put*",
                    "ecr:*LayerUpload",
                    "ecr:UploadLayerPart",
                ],
            }
        ),
        levels("public", push="none", delete="none", admin="none"),
        id="notaction-excluding-writes",
    ),
    pytest.param(
        policy(allow("*", **when(ArnLike={"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}))),
        levels("public"),
        id="principalarn-any-account",
    ),
    pytest.param(
        policy(allow("*", **when(Null={"aws:PrincipalOrgID": "false"}))),
        levels("public"),
        id="null-false-on-org-key",
    ),
    pytest.param(
        policy(allow("*", **when(StringNotEquals={"aws:PrincipalAccount": OWNER}))),
        levels("public"),
        id="not-equals-owner",
    ),
    pytest.param(
        policy(allow("*", **when(Bool={"aws:SecureTransport": "true"}))),
        levels("public"),
        id="secure-transport",
    ),
    pytest.param(
        policy(allow("*", **when(IpAddress={"aws:SourceIp": "0.0.0.0/0"}))),
        levels("public"),
        id="ip-everywhere",
    ),
    pytest.param(
        policy(allow("*", **when(IpAddress={"aws:SourceIp": ["::/0"]}))),
        levels("public"),
        id="ipv6-everywhere",
    ),
    pytest.param(
        policy(allow("*", **when(StringLike={"aws:SourceVpce": "vpce-*"}))),
        levels("public"),
        id="source-vpce-wildcard",
    ),
    pytest.param(
        policy(allow("*", **when(StringNotEquals={"aws:SourceVpce": "vpce-0a1b2c3d4e5f67890"}))),
        levels("public"),
        id="source-vpce-negated",
    ),
    # A narrow CIDR is taken to be the owner's own network.
    pytest.param(
        policy(allow("*", **when(IpAddress={"aws:SourceIp": "203.0.113.0/24"}))),
        levels("trusted"),
        id="ip-owner-network",
    ),
    # Private addresses repeat in every VPC, so aws:VpcSourceIp narrows only beside
    # the owner's endpoint.
    pytest.param(
        policy(allow("*", **when(IpAddress={"aws:VpcSourceIp": "10.1.2.0/24"}))),
        levels("public"),
        id="vpc-source-ip-alone",
    ),
    pytest.param(
        policy(
            allow(
                "*",
                **when(
                    IpAddress={"aws:VpcSourceIp": "10.1.2.0/24"},
                    StringEquals={"aws:SourceVpce": "vpce-0a1b2c3d4e5f67890"},
                ),
            )
        ),
        levels("trusted"),
        id="vpc-source-ip-with-owner-endpoint",
    ),
    # ---- Deny statements narrow.
    pytest.param(
        policy(allow("*"), deny("*", **when(StringNotEquals={"aws:PrincipalOrgID": ORG}))),
        levels("organization"),
        id="deny-outside-org",
    ),
    pytest.param(
        policy(allow("*"), deny("*", **when(StringNotEqualsIfExists={"aws:PrincipalOrgID": ORG}))),
        levels("organization"),
        id="deny-outside-org-ifexists",
    ),
    pytest.param(
        policy(allow("*"), {"Effect": "Deny", "NotPrincipal": {"AWS": OWNER}, "Action": "ecr:*"}),
        levels("trusted"),
        id="deny-all-but-owner",
    ),
    pytest.param(
        policy(allow("*"), deny("*", [*PUSH, "ecr:*Delete*", "ecr:Set*", "ecr:Put*"])),
        levels("none", pull="public"),
        id="deny-writes",
    ),
    pytest.param(
        policy(allow("*"), deny("*", **when(Bool={"aws:SecureTransport": "false"}))),
        levels("public"),
        id="deny-http-only",
    ),
    # A Deny that anyone can dodge does not narrow.
    pytest.param(
        policy(
            allow("*"),
            deny("*", **when(**{"ForAnyValue:StringNotEquals": {"aws:PrincipalOrgID": ORG}})),
        ),
        levels("public"),
        id="deny-foranyvalue-dodged-by-absent-key",
    ),
    # ---- Organizations other than the owner's are external.
    pytest.param(
        policy(allow("*", **when(StringEquals={"aws:PrincipalOrgID": FOREIGN_ORG}))),
        levels("external"),
        id="foreign-org",
    ),
    pytest.param(
        policy(allow({"AWS": OUTSIDER}, **when(StringEquals={"aws:PrincipalOrgID": FOREIGN_ORG}))),
        levels("external"),
        id="named-account-in-foreign-org",
    ),
    pytest.param(
        policy(
            allow(
                "*",
                **when(
                    **{
                        "ForAnyValue:StringLike": {
                            "aws:PrincipalOrgPaths": f"{FOREIGN_ORG}/r-ab12/*"
                        }
                    }
                ),
            )
        ),
        levels("external"),
        id="foreign-org-path",
    ),
    pytest.param(
        policy(allow("*", **when(StringLike={"aws:PrincipalOrgID": "o-a1b2*"}))),
        levels("external"),
        id="org-id-prefix-admits-other-orgs",
    ),
    pytest.param(
        policy(allow("*", **when(StringLike={"aws:PrincipalAccount": "4444*"}))),
        levels("external"),
        id="account-pattern",
    ),
    pytest.param(
        policy(allow("*", **when(ArnLike={"aws:PrincipalArn": f"arn:aws:iam::{OWNER}:role/*"}))),
        levels("trusted"),
        id="principalarn-owner-roles",
    ),
    pytest.param(
        policy(allow("*", **when(StringLike={"aws:PrincipalArn": "*:role/ci"}))),
        levels("public"),
        id="principalarn-stringlike-not-arn-shaped",
    ),
    pytest.param(
        policy(allow("*", **when(StringEqualsIgnoreCase={"aws:PrincipalOrgID": ORG.upper()}))),
        levels("organization"),
        id="org-id-ignore-case",
    ),
    pytest.param(
        policy(allow("*", **when(ArnLike={"aws:PrincipalArn": f"arn:aws:iam::{OUTSIDER}:role/*"}))),
        levels("external"),
        id="principalarn-outsider-roles",
    ),
    # ---- Service principals do not count in the levels.
    pytest.param(
        policy(allow({"Service": "lambda.amazonaws.com"}, PULL)),
        levels("none"),
        id="service-only",
    ),
    # ---- Both versions, Statement as an object.
    pytest.param(
        {"Version": "2008-10-17", "Statement": allow({"AWS": OUTSIDER}, PULL)},
        levels("none", pull="external"),
        id="version-2008-object",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), CASES)
def test_levels(doc: dict[str, Any], expected: dict[str, str]) -> None:
    assert analyze(doc)["levels"] == expected


def test_public_flag_follows_levels() -> None:
    assert analyze(policy(allow("*", PULL)))["public"] is True
    assert analyze(policy(allow({"AWS": OUTSIDER})))["public"] is False


def test_typical_three_statement_policy() -> None:
    doc = policy(
        allow(
            "*",
            PULL,
            **when(StringEquals={"aws:PrincipalOrgID": ORG}, Bool={"aws:SecureTransport": "true"}),
        ),
        allow(
            {"AWS": f"arn:aws:iam::{TRUSTED}:role/ci"},
            PUSH,
            **when(StringEquals={"aws:SourceVpce": "vpce-0a1b2c3d4e5f67890"}),
        ),
        deny("*", "ecr:*", **when(Bool={"aws:SecureTransport": "false"})),
    )
    assert analyze(doc) == {
        "public": False,
        "levels": levels("none", pull="organization", push="trusted"),
        "external_accounts": [],
        "service_principals": [],
    }


# ---- Organization membership.


def test_without_org_id_an_org_condition_counts_as_external_and_says_why() -> None:
    doc = policy(allow("*", PULL, **when(StringEquals={"aws:PrincipalOrgID": ORG})))
    result = exposure(doc, OWNER)
    assert result.levels["pull"] is Audience.EXTERNAL
    assert "no organization id was given" in result.reasons["note"]


def test_named_account_with_org_condition_when_membership_is_unknown() -> None:
    doc = policy(allow({"AWS": STRANGER}, PULL, **when(StringEquals={"aws:PrincipalOrgID": ORG})))
    # Nobody said whether STRANGER is a member: it could be, so organization (wider).
    assert analyze(doc, org_accounts=())["levels"]["pull"] == "organization"
    # The member list says it is not one: the condition shuts it out.
    assert analyze(doc, org_accounts=(MEMBER,))["levels"]["pull"] == "none"


# ---- external_accounts.


def test_external_accounts_lists_named_outsiders_that_get_in() -> None:
    doc = policy(
        allow({"AWS": [OUTSIDER, f"arn:aws:iam::{STRANGER}:role/ci", TRUSTED, MEMBER]}, PULL),
        allow({"AWS": "555566667777"}, PULL),
        deny({"AWS": "555566667777"}, "ecr:*"),
    )
    result = analyze(doc)
    assert result["external_accounts"] == [OUTSIDER, STRANGER]
    assert result["levels"]["pull"] == "external"


def test_external_accounts_ignore_accounts_named_only_in_a_deny() -> None:
    doc = policy(allow({"AWS": OWNER}), deny({"AWS": OUTSIDER}))
    assert analyze(doc)["external_accounts"] == []


# ---- service_principals.
LAMBDA = "lambda.amazonaws.com"
SERVICES = [
    pytest.param(allow({"Service": LAMBDA}, PULL), False, id="no-condition"),
    pytest.param(
        allow({"Service": LAMBDA}, PULL, **when(StringEquals={"aws:SourceAccount": OWNER})),
        True,
        id="source-account-owner",
    ),
    pytest.param(
        allow(
            {"Service": LAMBDA},
            PULL,
            **when(ArnLike={"aws:SourceArn": f"arn:aws:lambda:us-east-1:{OWNER}:function:*"}),
        ),
        True,
        id="source-arn-owner-functions",
    ),
    pytest.param(
        allow(
            {"Service": LAMBDA},
            PULL,
            **when(ArnLike={"aws:SourceArn": "arn:aws:lambda:*:*:function:*"}),
        ),
        False,
        id="source-arn-any-account",
    ),
    pytest.param(
        allow({"Service": LAMBDA}, PULL, **when(StringLike={"aws:SourceAccount": "*"})),
        False,
        id="source-account-star",
    ),
    pytest.param(
        allow({"Service": LAMBDA}, PULL, **when(StringEqualsIfExists={"aws:SourceAccount": OWNER})),
        False,
        id="source-account-ifexists",
    ),
    pytest.param(
        allow({"Service": LAMBDA}, "ecr:ListImages"),
        False,
        id="action-outside-the-levels",
    ),
    pytest.param(
        allow(
            {"Service": "S3.amazonaws.com"},
            PULL,
            **when(ArnLike={"aws:SourceArn": "arn:aws:s3:::*"}),
        ),
        False,
        id="accountless-arn-wildcard",
    ),
]


@pytest.mark.parametrize(("stmt", "guarded"), SERVICES)
def test_service_principals(stmt: dict[str, Any], guarded: bool) -> None:
    result = analyze(policy(stmt))
    service = stmt["Principal"]["Service"].lower()
    assert result["service_principals"] == [{"service": service, "guarded": guarded}]
    assert result["levels"] == levels("none")


def test_service_guarded_by_a_deny_statement() -> None:
    doc = policy(
        allow({"Service": LAMBDA}, PULL),
        deny(
            "*",
            "ecr:*",
            **when(
                StringNotEquals={"aws:SourceAccount": OWNER},
                Bool={"aws:PrincipalIsAWSService": "true"},
            ),
        ),
    )
    assert analyze(doc)["service_principals"] == [{"service": LAMBDA, "guarded": True}]


# ---- Registry levels.
REGISTRY = [
    pytest.param(
        policy(
            allow(
                {"AWS": f"arn:aws:iam::{OUTSIDER}:root"},
                ["ecr:CreateRepository", "ecr:ReplicateImage"],
            )
        ),
        {"replicate": "external", "create": "external", "import": "none"},
        id="replication-to-outsider",
    ),
    pytest.param(
        policy(allow({"AWS": TRUSTED}, "ecr:ReplicateImage")),
        {"replicate": "trusted", "create": "none", "import": "none"},
        id="replication-to-trusted",
    ),
    pytest.param(
        policy(
            allow(
                "*",
                ["ecr:CreateRepository", "ecr:BatchImportUpstreamImage"],
                **when(StringEquals={"aws:PrincipalOrgID": ORG}),
            )
        ),
        {"replicate": "none", "create": "organization", "import": "organization"},
        id="pull-through-for-the-org",
    ),
    pytest.param(
        policy(allow("*", "ecr:*")),
        {"replicate": "public", "create": "public", "import": "public"},
        id="everything-to-everyone",
    ),
]


@pytest.mark.parametrize(("doc", "expected"), REGISTRY)
def test_registry_v1_levels(doc: dict[str, Any], expected: dict[str, str]) -> None:
    assert analyze(doc, levels=REGISTRY_V1_LEVELS)["levels"] == expected


def test_registry_v2_levels_include_repository_levels() -> None:
    doc = policy(allow({"AWS": OUTSIDER}, ["ecr:BatchGetImage", "ecr:ReplicateImage"]))
    result = analyze(doc, levels=REGISTRY_V2_LEVELS)["levels"]
    assert result == {
        "replicate": "external",
        "create": "none",
        "import": "none",
        "pull": "external",
        "push": "none",
        "delete": "none",
        "admin": "none",
    }


# ---- Reasons, input forms, errors.


def test_every_granted_level_has_a_reason_naming_the_statement() -> None:
    doc = policy(
        {"Sid": "OrgPull", **allow("*", PULL, **when(StringEquals={"aws:PrincipalOrgID": ORG}))},
        {"Sid": "PartnerPush", **allow({"AWS": OUTSIDER}, PUSH)},
    )
    result = exposure(doc, OWNER, org_id=ORG)
    assert result.reasons["pull"] == (f"statement 'OrgPull' allows pull to organization {ORG}")
    assert result.reasons["push"] == f"statement 'PartnerPush' allows push to account {OUTSIDER}"
    assert "delete" not in result.reasons


def test_json_contract_keys() -> None:
    out = exposure(policy(allow("*", PULL)), OWNER).to_json()
    assert set(out) == {"public", "levels", "external_accounts", "service_principals", "reasons"}
    json.dumps(out)  # serializable as printed by --format json
    assert out["levels"]["pull"] == "public"


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda d: d, id="dict"),
        pytest.param(json.dumps, id="text"),
        pytest.param(lambda d: json.dumps(d).encode(), id="bytes"),
        pytest.param(parse_policy, id="parsed"),
    ],
)
def test_policy_can_be_given_in_any_form(form: Any) -> None:
    doc = policy(allow({"AWS": OUTSIDER}, PULL))
    assert exposure(form(doc), OWNER).levels["pull"] is Audience.EXTERNAL


def test_a_caller_changing_its_answer_does_not_change_the_next_answer() -> None:
    doc = policy(allow("*", PULL))
    first = exposure(doc, OWNER)
    first.levels["pull"] = Audience.NONE
    first.reasons.clear()
    again = exposure(doc, OWNER)
    assert again.levels["pull"] is Audience.PUBLIC
    assert again.reasons["pull"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"owner": "12345"}, "owner account '12345'"),
        ({"owner": OWNER, "trusted": ["abc"]}, "trusted account 'abc'"),
        ({"owner": OWNER, "org_accounts": ["1" * 13]}, "organization account"),
    ],
)
def test_bad_account_ids_are_usage_errors(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(UsageError, match=words):
        exposure(policy(allow("*")), **kwargs)


def test_malformed_policy_is_a_parse_error() -> None:
    with pytest.raises(PolicyParseError):
        exposure('{"Statement": [', OWNER)


def test_too_many_combinations_widen_with_a_reason() -> None:
    # 70 unrelated keys: past the search budget, Denies are not credited.
    keys = {f"aws:PrincipalTag/k{i}": "v" for i in range(70)}
    doc = policy(
        allow("*", PULL, **when(StringEquals=keys)),
        deny("*", PULL, **when(StringEquals=keys)),
    )
    result = exposure(doc, OWNER)
    assert result.levels["pull"] is Audience.PUBLIC
    assert "Deny statements were not credited" in result.reasons["note"]


# ---- Resource-scoped Deny statements.
REPO = f"arn:aws:ecr:us-east-1:{OWNER}:repository/app"
OTHER_REPO = f"arn:aws:ecr:us-east-1:{OWNER}:repository/other"


def test_deny_for_another_repository_is_not_credited_without_a_resource() -> None:
    doc = policy(allow("*", PULL), deny("*", "ecr:*", Resource=OTHER_REPO))
    unknown = exposure(doc, OWNER)
    assert unknown.levels["pull"] is Audience.PUBLIC
    assert "denies only some resources" in unknown.reasons["note"]
    # With the repository named, the Deny plainly does not cover it.
    assert exposure(doc, OWNER, resource=REPO).levels["pull"] is Audience.PUBLIC
    assert exposure(doc, OWNER, resource=OTHER_REPO).levels["pull"] is Audience.NONE


@pytest.mark.parametrize(
    "resource",
    ["*", f"arn:aws:ecr:us-east-1:{OWNER}:repository/*", "arn:aws:ecr:*:*:*"],
)
def test_deny_for_every_repository_is_credited(resource: str) -> None:
    doc = policy(allow("*", PULL), deny("*", "ecr:*", Resource=resource))
    assert exposure(doc, OWNER).levels["pull"] is Audience.NONE
