"""Properties of the policy engine over random small policies.

The policies come from a fixed world: an owner account, a trusted account, another
member of the owner's organization, an outsider, and everyone ("*"). The properties
tie exposure() to itself (Deny only narrows, a dropped Allow condition only widens)
and to evaluate() (whoever evaluate() lets in, exposure() must report).
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecrguard.policy import (
    REGISTRY_V2_LEVELS,
    Audience,
    Caller,
    Decision,
    Request,
    evaluate,
    exposure,
    parse_policy,
)

OWNER = "111122223333"
TRUSTED = "222233334444"
MEMBER = "333344445555"
OUTSIDER = "444455556666"
ORG = "o-a1b2c3d4e5"
FOREIGN_ORG = "o-zz9zz9zz9z"
OWNER_VPCE = "vpce-0owner0000000001"
ACCOUNTS = (OWNER, TRUSTED, MEMBER, OUTSIDER)
LEVELS = REGISTRY_V2_LEVELS  # every repository and registry action

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,  # the same examples on every run, so CI is reproducible
    database=None,  # and nothing written to .hypothesis/
)


def analyze(doc: Any) -> Any:
    return exposure(
        doc, OWNER, org_id=ORG, trusted=(TRUSTED,), org_accounts=(MEMBER,), levels=LEVELS
    )


# ---- the strategy: random but valid small policies -------------------------------


def _role(acct: str) -> str:
    return f"arn:aws:iam::{acct}:role/ci"


PRINCIPAL_IDS = st.sampled_from(
    ["*"]
    + list(ACCOUNTS)
    + [f"arn:aws:iam::{a}:root" for a in ACCOUNTS]
    + [_role(a) for a in ACCOUNTS]
)
LAMBDA = "lambda.amazonaws.com"
PRINCIPALS = st.one_of(
    st.just("*"),
    st.lists(PRINCIPAL_IDS, min_size=1, max_size=3, unique=True).map(lambda ids: {"AWS": ids}),
    st.just({"Service": LAMBDA}),
)
ACTIONS = st.lists(
    st.sampled_from(
        [
            "ecr:*",
            "ecr:BatchGetImage",
            "ecr:Batch*",
            "ecr:Put*",
            "ecr:*Image",
            "ecr:?utImage",
            "ecr:GetDownloadUrlForLayer",
            "ecr:InitiateLayerUpload",
            "ecr:DeleteRepository",
            "ecr:BatchDeleteImage",
            "ecr:SetRepositoryPolicy",
            "ecr:*Policy",
            "ecr:CreateRepository",
            "ecr:ReplicateImage",
            "ecr:BatchImportUpstreamImage",
        ]
    ),
    min_size=1,
    max_size=3,
    unique=True,
)
STRING_OPS = ["StringEquals", "StringNotEquals", "StringLike", "StringNotLike"]
# key -> (values the policy may name, operators that make sense for it)
KEYS: dict[str, tuple[list[str], list[str]]] = {
    "aws:PrincipalOrgID": ([ORG, FOREIGN_ORG, "*", "o-*"], [*STRING_OPS, "Null"]),
    "aws:PrincipalAccount": ([OWNER, TRUSTED, MEMBER, OUTSIDER, "*", "4444*"], STRING_OPS),
    "aws:SourceVpce": ([OWNER_VPCE, "vpce-*"], STRING_OPS),
    "aws:SecureTransport": (["true", "false"], ["Bool"]),
    "aws:SourceIp": (["0.0.0.0/0", "203.0.113.0/24", "10.0.0.0/8"], ["IpAddress", "NotIpAddress"]),
    "aws:PrincipalArn": (
        [_role(OWNER), _role(OUTSIDER), "arn:aws:iam::*:role/ci"],
        ["ArnLike", "ArnNotLike", "ArnEquals", "StringEquals"],
    ),
    "aws:PrincipalOrgPaths": (
        [f"{ORG}/*", f"{FOREIGN_ORG}/*", "*"],
        ["StringLike", "StringNotLike"],
    ),
    "aws:SourceAccount": (
        [OWNER, OUTSIDER, "*"],
        ["StringEquals", "StringNotEquals", "StringLike"],
    ),
    "aws:SourceArn": (
        [f"arn:aws:lambda:us-east-1:{OWNER}:function:*", "arn:aws:lambda:*:*:function:*"],
        ["ArnLike", "ArnNotLike"],
    ),
}


@st.composite
def conditions(draw: st.DrawFn) -> dict[str, dict[str, list[str]]]:
    block: dict[str, dict[str, list[str]]] = {}
    for _ in range(draw(st.integers(0, 2))):
        key = draw(st.sampled_from(sorted(KEYS)))
        pool, ops = KEYS[key]
        op = draw(st.sampled_from(ops))
        if op == "Null":
            values = [draw(st.sampled_from(["true", "false"]))]
        else:
            values = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True))
            if draw(st.integers(0, 3)) == 0:
                op += "IfExists"
            qualifier = draw(st.sampled_from(["", "", "", "ForAnyValue:", "ForAllValues:"]))
            op = qualifier + op
        block.setdefault(op, {}).setdefault(key, values)
    return block


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    principal = draw(PRINCIPALS)
    if draw(st.integers(0, 6)) == 0 and principal != "*":
        stmt["NotPrincipal"] = principal
    else:
        stmt["Principal"] = principal
    stmt["NotAction" if draw(st.integers(0, 4)) == 0 else "Action"] = draw(ACTIONS)
    cond = draw(conditions())
    if cond:
        stmt["Condition"] = cond
    return stmt


def policies(effect: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(statements(effect), min_size=1, max_size=3).map(
        lambda stmts: {"Version": "2012-10-17", "Statement": stmts}
    )


# ---- comparing two answers ----------------------------------------------------------


def rank(result: Any, level: str) -> int:
    return int(result.levels[level].rank)


def unguarded(result: Any) -> set[str]:
    return {s.service for s in result.service_principals if not s.guarded}


PRINCIPAL_ARN = "aws:PrincipalArn"


def named(doc: dict[str, Any]) -> set[str]:
    """The pool accounts a policy names as AWS principals (not as a service's source)."""
    places = []
    for stmt in doc["Statement"]:
        for element in (stmt.get("Principal"), stmt.get("NotPrincipal")):
            if isinstance(element, dict):
                places.append(element.get("AWS", []))
        for block in stmt.get("Condition", {}).values():
            places += [v for k, v in block.items() if k in ("aws:PrincipalAccount", PRINCIPAL_ARN)]
    text = json.dumps(places)
    return {acct for acct in ACCOUNTS if acct in text}


def assert_not_wider(narrow: Any, wide: Any, names: set[str]) -> None:
    """``narrow`` admits no one that ``wide`` does not.

    external_accounts lists the outside accounts a policy *names* that can get in, so
    the comparison is over ``names``, the accounts both policies name: a Deny that names
    a new account may add it to the list without letting anyone new in.
    """
    for level in LEVELS:
        assert rank(narrow, level) <= rank(wide, level), (level, narrow.reasons, wide.reasons)
    assert set(narrow.external_accounts) & names <= set(wide.external_accounts)
    assert unguarded(narrow) <= unguarded(wide)


# ---- property 1: a Deny never widens -------------------------------------------------


@SETTINGS
@given(policies(), statements(effect="Deny"), st.integers(0, 3))
def test_adding_a_deny_never_widens(doc: dict[str, Any], extra: dict[str, Any], at: int) -> None:
    """For any policy P and Deny statement D inserted anywhere in P, for every level,
    exposure(P + D) is no wider than exposure(P); of the accounts P names, P + D lists
    no external account that P does not; and no service grant becomes unguarded."""
    stmts = list(doc["Statement"])
    stmts.insert(min(at, len(stmts)), extra)
    assert_not_wider(analyze({**doc, "Statement": stmts}), analyze(doc), named(doc))


# ---- property 2: dropping an Allow's condition never narrows ---------------------------


@st.composite
def allow_condition(draw: st.DrawFn, only_allows: bool) -> tuple[dict[str, Any], int, str, str]:
    """A policy and one (statement, operator, key) entry of an *Allow* statement's Condition."""
    doc = draw(policies("Allow" if only_allows else None))
    entries = [
        (i, op, key)
        for i, s in enumerate(doc["Statement"])
        if s["Effect"] == "Allow"
        for op, block in s.get("Condition", {}).items()
        for key in block
    ]
    if not entries:
        stmt = draw(statements(effect="Allow").filter(lambda s: "Condition" in s))
        doc = {**doc, "Statement": [*doc["Statement"], stmt]}
        op = next(iter(stmt["Condition"]))
        entries = [(len(doc["Statement"]) - 1, op, next(iter(stmt["Condition"][op])))]
    index, op, key = draw(st.sampled_from(entries))
    return doc, index, op, key


def without(doc: dict[str, Any], index: int, op: str, key: str) -> dict[str, Any]:
    stmts = json.loads(json.dumps(doc["Statement"]))
    block = stmts[index]["Condition"]
    del block[op][key]
    if not block[op]:
        del block[op]
    if not block:
        del stmts[index]["Condition"]
    return {**doc, "Statement": stmts}


@SETTINGS
@given(allow_condition(only_allows=True))
def test_removing_a_condition_from_an_allow_only_policy_never_narrows(
    case: tuple[dict[str, Any], int, str, str],
) -> None:
    """For a policy of Allow statements only, removing one operator/key entry from one
    statement's Condition never narrows any level, never drops an external account it
    still names, and never makes an unguarded service grant guarded. (Removing a
    condition from a *Deny* makes the Deny apply more widely, so it can narrow: see
    test_removing_a_condition_from_a_deny_can_narrow.)"""
    doc, index, op, key = case
    smaller = without(doc, index, op, key)
    assert_not_wider(analyze(doc), analyze(smaller), named(smaller))


@SETTINGS
@given(allow_condition(only_allows=False))
def test_removing_an_allow_condition_never_narrows_even_beside_denies(
    case: tuple[dict[str, Any], int, str, str],
) -> None:
    """The same holds in any policy when the condition comes from an Allow statement:
    that Allow then admits a superset of requests, and the Denies are unchanged."""
    doc, index, op, key = case
    smaller = without(doc, index, op, key)
    assert_not_wider(analyze(doc), analyze(smaller), named(smaller))


def test_removing_a_condition_from_a_deny_can_narrow() -> None:
    deny_http = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "ecr:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    doc = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}, deny_http]}
    assert analyze(doc).levels["pull"] is Audience.PUBLIC
    assert analyze(without(doc, 1, "Bool", "aws:SecureTransport")).levels["pull"] is Audience.NONE


# ---- property 3: analyze and eval agree ----------------------------------------------

# What each kind of requester can put in the request context. An outsider cannot come
# through the owner's VPC endpoint or from the owner's narrow network (203.0.113.0/24),
# and is not in the owner's organization; 10.0.0.0/8 is wide enough to reach anyone.
# A service acts for its source account's resources: the owner's, or a foreign one's.
ANY_IP = [None, "10.1.2.3", "198.51.100.4"]
OTHER_VPCE = "vpce-0other000000002"
WORLD: dict[str, dict[str, list[str | None]]] = {
    "owner": {
        "org": [ORG],
        "aws:sourcevpce": [None, OWNER_VPCE, OTHER_VPCE],
        "aws:sourceip": [*ANY_IP, "203.0.113.7"],
    },
    "trusted": {
        "org": [None, ORG, FOREIGN_ORG],
        "aws:sourcevpce": [None, OWNER_VPCE, OTHER_VPCE],
        "aws:sourceip": [*ANY_IP, "203.0.113.7"],
    },
    "member": {"org": [ORG], "aws:sourcevpce": [None, OTHER_VPCE], "aws:sourceip": ANY_IP},
    "outsider": {
        "org": [None, FOREIGN_ORG, "o-other000000"],
        "aws:sourcevpce": [None, OTHER_VPCE],
        "aws:sourceip": ANY_IP,
    },
    "anonymous": {"org": [None], "aws:sourcevpce": [None, OTHER_VPCE], "aws:sourceip": ANY_IP},
    "service": {"source": [None, OWNER, OUTSIDER], "aws:sourceip": [None]},
}
ACCOUNT_OF = {"owner": OWNER, "trusted": TRUSTED, "member": MEMBER, "outsider": OUTSIDER}
# The least audience exposure() must report when evaluate() lets this requester in.
FLOOR = {
    "owner": Audience.TRUSTED,
    "trusted": Audience.TRUSTED,
    "member": Audience.ORGANIZATION,
    "outsider": Audience.EXTERNAL,
    "anonymous": Audience.PUBLIC,
}


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, Request, str]:
    who = draw(st.sampled_from(sorted(WORLD)))
    world = WORLD[who]
    if who == "anonymous":
        principal = "*"
    elif who == "service":
        principal = LAMBDA
    else:
        acct = ACCOUNT_OF[who]
        principal = draw(
            st.sampled_from(
                [
                    acct,
                    f"arn:aws:sts::{acct}:assumed-role/ci/s1",
                    f"arn:aws:sts::{acct}:assumed-role/deploy/s2",
                    f"arn:aws:iam::{acct}:user/u",
                ]
            )
        )
    level = draw(st.sampled_from(sorted(LEVELS)))
    action = draw(st.sampled_from(LEVELS[level]))
    context: dict[str, list[str]] = {}
    org = draw(st.sampled_from(world.get("org", [None])))
    if org:
        context["aws:principalorgid"] = [org]
        context["aws:principalorgpaths"] = [f"{org}/r-ab12/ou-ab12-1111/"]
    source = draw(st.sampled_from(world.get("source", [None])))
    if source:
        context["aws:sourceaccount"] = [source]
        context["aws:sourcearn"] = [f"arn:aws:lambda:us-east-1:{source}:function:f"]
    for key in ("aws:sourcevpce", "aws:sourceip"):
        value = draw(st.sampled_from(world.get(key, [None])))
        if value is not None:
            context[key] = [value]
    transport = draw(st.sampled_from([None, "true", "false"]))
    if transport:
        context["aws:securetransport"] = [transport]
    return who, Request.build(Caller.parse(principal), action, None, context), level


@SETTINGS
@given(policies(), st.lists(requests(), min_size=1, max_size=40))
def test_whoever_evaluate_allows_exposure_reports(
    doc: dict[str, Any], sampled: list[tuple[str, Request, str]]
) -> None:
    """If evaluate() allows a request from a requester of some kind for an action of a
    level, exposure() reports that level at least as wide as that kind: anonymous ->
    public; an outsider (not in the organization) -> public or external, and when the
    policy names the outsider's account, that account is in external_accounts; an
    organization member -> organization or wider; the owner or a trusted account ->
    trusted or wider. A service acting for a foreign account (or for no stated
    account) that gets in makes the policy's grant to that service unguarded."""
    parsed = parse_policy(doc)
    result = analyze(doc)
    services = {s.service: s.guarded for s in result.service_principals}
    for who, request, level in sampled:
        if evaluate(parsed, request).decision is not Decision.ALLOW:
            continue
        seen = (who, request.caller.name, request.action, dict(request.context), result.reasons)
        if who == "service":
            if request.context.get("aws:sourceaccount") != (OWNER,) and LAMBDA in services:
                assert services[LAMBDA] is False, seen
            continue
        assert result.levels[level].rank >= FLOOR[who].rank, seen
        if who == "outsider" and OUTSIDER in named(doc):
            assert OUTSIDER in result.external_accounts, seen


def test_service_grants_do_not_count_in_levels() -> None:
    doc = {"Statement": [{"Effect": "Allow", "Principal": {"Service": LAMBDA}, "Action": "ecr:*"}]}
    result = analyze(doc)
    assert {a.value for a in result.levels.values()} == {"none"}
    assert [(s.service, s.guarded) for s in result.service_principals] == [(LAMBDA, False)]


@SETTINGS
@given(policies())
def test_exposure_is_deterministic_and_cache_transparent(doc: dict[str, Any]) -> None:
    """The cached answer equals a freshly computed one, for every input form."""
    from ecrguard.policy.exposure import _exposure_cached
    from ecrguard.policy.parse import clear_cache

    first = analyze(doc).to_json()
    _exposure_cached.cache_clear()
    clear_cache()
    assert analyze(json.dumps(doc)).to_json() == first
    assert analyze(parse_policy(doc)).to_json() == first
