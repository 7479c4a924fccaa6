"""Who can do what: the widest audience a resource policy admits, per access level.

The question is existential: can *some* request from a class of principals be
allowed? Rather than pattern-match statements, this module asks the evaluator's
own rules (:func:`ecrguard.policy.evaluate.in_scope` and
:func:`ecrguard.policy.conditions.condition_holds`) about representative requests:

- for each audience class (public, external, organization, trusted) it builds
  candidate callers: fresh accounts of that class, the accounts and ARNs the
  policy names, and accounts and ARNs instantiated from the policy's own
  wildcard patterns;
- for each condition key it builds the values such a caller can present:
  identity keys follow from the caller; network keys bound to the owner
  (``aws:SourceVpce``, ``aws:SourceVpc``) are absent or foreign for outsiders
  unless the policy writes them with a wildcard; an ``aws:SourceIp`` range
  narrower than /8 is taken to be the owner's network; keys the caller controls
  range over absent, every literal the policy mentions, a fresh value, and
  numeric/date neighbours;
- it searches those combinations for one that an Allow admits and no Deny
  refuses, so Deny statements, ``NotPrincipal``, ``IfExists``, ``ForAllValues``
  and negated operators behave exactly as the evaluator says they do.

The search is exact over the candidate values and fast because of two
reductions that cannot change an answer: only the statements whose principal,
action and resource cover the request matter, and two values of a key are
interchangeable when every condition on that key treats them alike. When the
search still exceeds its budget, Deny statements are not credited, which can
only widen the answer, and the reason says so.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from ecrguard.errors import UsageError
from ecrguard.policy.audience import Audience
from ecrguard.policy.conditions import condition_holds, conditions_hold
from ecrguard.policy.evaluate import (
    Caller,
    action_in_scope,
    principal_in_scope,
    resource_in_scope,
)
from ecrguard.policy.glob import glob_match, has_wildcard
from ecrguard.policy.levels import REPOSITORY_LEVELS, Levels
from ecrguard.policy.parse import Condition, Policy, Statement, parse_policy

_ACCOUNT = re.compile(r"\d{12}")
# Keys whose value the requester's identity fixes; absent unless the caller sets them.
_IDENTITY_KEYS = frozenset(
    {
        "aws:principalaccount",
        "aws:principalarn",
        "aws:principalorgid",
        "aws:principalorgpaths",
        "aws:principalisawsservice",
        "aws:principalservicename",
        "aws:principalservicenameslist",
    }
)
# Keys only a service acting on someone's behalf sends; absent on direct calls.
_SOURCE_KEYS = frozenset(
    {
        "aws:sourceaccount",
        "aws:sourceowner",
        "aws:sourcearn",
        "aws:sourceorgid",
        "aws:sourceorgpaths",
    }
)
# Network keys an outsider cannot satisfy with the owner's values.
_OWNER_NETWORK_KEYS = frozenset({"aws:sourcevpce", "aws:sourcevpc", "aws:vpcsourceip"})
_IP_KEYS = frozenset({"aws:sourceip", "aws:vpcsourceip"})
_WIDE_PREFIX = {4: 8, 6: 32}  # a CIDR this wide or wider is reachable by anyone
_FRESH_IPS = ("198.51.100.77", "192.0.2.77", "203.0.113.77", "100.64.7.77", "2001:db8::77")
# Shaped like real ids, so that a pattern such as vpce-* admits them.
_FRESH_NETWORK = {
    "aws:sourcevpce": "vpce-0ecrguard0probe0",
    "aws:sourcevpc": "vpc-0ecrguard0probe0",
}
_PROBE = "ecrguard-probe"
_PROBE_ORG = "o-ecrguardprobe"
# Search budget per (requester, action): nodes visited before Denies stop being credited.
_MAX_NODES = 20_000
_MAX_KEYS = 64

Value = tuple[str, ...] | None  # a context value: absent, or the request's values


@dataclass(frozen=True, slots=True)
class ServiceGrant:
    service: str
    guarded: bool
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Exposure:
    levels: dict[str, Audience]
    external_accounts: tuple[str, ...]
    service_principals: tuple[ServiceGrant, ...]
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        return any(a is Audience.PUBLIC for a in self.levels.values())

    def widest(self, levels: Iterable[str] | None = None) -> Audience:
        names = self.levels if levels is None else [lv for lv in levels if lv in self.levels]
        return max((self.levels[n] for n in names), key=lambda a: a.rank, default=Audience.NONE)

    def copy(self) -> Exposure:
        """The same answer with dicts of its own, for a caller that may change them."""
        return Exposure(
            dict(self.levels), self.external_accounts, self.service_principals, dict(self.reasons)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "public": self.public,
            "levels": {k: v.value for k, v in self.levels.items()},
            "external_accounts": list(self.external_accounts),
            "service_principals": [
                {"service": s.service, "guarded": s.guarded} for s in self.service_principals
            ],
            "reasons": dict(self.reasons),
        }


@dataclass(frozen=True, slots=True)
class _Probe:
    """A candidate requester and the identity keys that follow from it."""

    caller: Caller
    identity: tuple[tuple[str, tuple[Value, ...]], ...]  # key -> candidate values
    label: str
    pid: int  # equal for probes with equal caller and identity; keys the memo


def exposure(
    policy: Policy | dict[str, Any] | str | bytes,
    owner: str,
    *,
    org_id: str | None = None,
    trusted: Sequence[str] = (),
    org_accounts: Sequence[str] = (),
    levels: Levels = REPOSITORY_LEVELS,
    resource: str | None = None,
) -> Exposure:
    """The widest audience per level, the external accounts, and service grants.

    Raises :class:`PolicyParseError` for a document that is not a policy and
    :class:`UsageError` for an account id that is not 12 digits.
    """
    for what, accounts in (
        ("owner account", (owner,)),
        ("trusted account", trusted),
        ("organization account", org_accounts),
    ):
        for acct in accounts:
            if not isinstance(acct, str) or not _ACCOUNT.fullmatch(acct):
                raise UsageError(f"{what} {acct!r} is not a 12-digit AWS account id")
    parsed = policy if isinstance(policy, Policy) else parse_policy(policy)
    cached = _exposure_cached(
        parsed,
        owner,
        org_id,
        tuple(sorted(set(trusted))),
        tuple(sorted(set(org_accounts))),
        tuple((k, tuple(v)) for k, v in levels.items()),
        resource,
    )
    # The cache shares one answer between callers; hand each its own dicts.
    return cached.copy()


@lru_cache(maxsize=2048)
def _exposure_cached(
    policy: Policy,
    owner: str,
    org_id: str | None,
    trusted: tuple[str, ...],
    org_accounts: tuple[str, ...],
    levels: tuple[tuple[str, tuple[str, ...]], ...],
    resource: str | None,
) -> Exposure:
    return _Analyzer(policy, owner, org_id, trusted, org_accounts, resource).run(dict(levels))


class _Analyzer:
    def __init__(
        self,
        policy: Policy,
        owner: str,
        org_id: str | None,
        trusted: tuple[str, ...],
        org_accounts: tuple[str, ...],
        resource: str | None,
    ) -> None:
        self.owner = owner
        self.notes: list[str] = []
        self.statements = self._creditable(policy.statements, resource)
        self.org_id = org_id
        self.trusted = frozenset((owner, *trusted))
        self.members = frozenset(org_accounts)
        self.org_accounts = self.members - self.trusted
        # Without a member list, an account the policy names may or may not be a member.
        self.members_known = bool(org_accounts)
        self.resource = resource
        self.literals = _literals(policy)
        self.multi_keys = frozenset(
            c.key for s in self.statements for c in s.conditions if c.qualifier is not None
        )
        self.named_accounts, self.named_arns = _named_principals(policy, self.literals)
        self.arn_patterns = _wild_principal_arns(policy) | self.literals.get(
            "aws:principalarn", frozenset()
        )
        avoid = set(self.named_accounts) | self.trusted | self.org_accounts
        # Accounts that wildcard account patterns admit (aws:PrincipalAccount 1111*, or
        # arn:aws:iam::1111*:role/x), other than accounts already named or trusted: such
        # a pattern does not stop at the owner's accounts.
        self.pattern_accounts = frozenset(
            acct
            for pattern in _account_patterns(self.literals, self.arn_patterns)
            if (acct := _instantiate_account(pattern, avoid))
        )
        self.outside = sorted(
            (self.named_accounts | self.pattern_accounts) - self.trusted - self.org_accounts
        )
        self.foreign_orgs = _foreign_orgs(self.literals, org_id)
        self.fresh = _fresh_accounts(avoid | self.pattern_accounts, 3)
        self._value_memo: dict[tuple[str, bool, str], tuple[Value, ...]] = {}
        self._distinct_memo: dict[tuple[object, ...], tuple[Value, ...]] = {}
        # Memo keys are small ints: hashing Caller dataclasses on every lookup was the
        # largest cost of a call.
        self._memo: dict[tuple[int, int, bool], str | None] = {}
        self._pids: dict[tuple[Caller, tuple[tuple[str, tuple[Value, ...]], ...]], int] = {}
        self._principal_scope: dict[int, tuple[bool, ...]] = {}
        self._action_ids: dict[str, int] = {}
        self._signatures: dict[tuple[bool, ...], int] = {}
        self._action_scope: dict[int, tuple[bool, ...]] = {}
        self._resource_scope = tuple(resource_in_scope(s, resource) for s in self.statements)

    def _creditable(
        self, statements: tuple[Statement, ...], resource: str | None
    ) -> tuple[Statement, ...]:
        """Without a resource ARN, a Deny limited to some resources may not cover this one.

        An Allow limited to some resources is still counted (wider); such a Deny is not.
        """
        if resource is not None:
            return statements
        kept = []
        for stmt in statements:
            if stmt.effect == "Deny" and not _covers_every_repository(stmt, self.owner):
                self.notes.append(
                    f"{stmt.label} denies only some resources; without a resource ARN it "
                    "was not credited"
                )
                continue
            kept.append(stmt)
        return tuple(kept)

    # ---- candidate requesters -------------------------------------------------
    def _probes(self, audience: Audience) -> list[_Probe]:
        wide_orgs: tuple[str | None, ...] = (None, _PROBE_ORG, *self.foreign_orgs)
        if audience is Audience.PUBLIC:
            fresh = self.fresh[0]
            return [
                *self._account_probes(fresh, (None, _PROBE_ORG), "any AWS account"),
                self._probe(Caller("anonymous", "*"), (), "anonymous callers"),
            ]
        if audience is Audience.EXTERNAL:
            probes: list[_Probe] = []
            for acct in self.outside:
                probes += self._account_probes(acct, wide_orgs, f"account {acct}")
            for org in self.foreign_orgs:
                probes += self._account_probes(
                    self.fresh[1], (org,), f"accounts of organization {org}"
                )
            return probes
        if audience is Audience.ORGANIZATION:
            if not self.org_id:
                return []
            label = f"organization {self.org_id}"
            probes = []
            for acct in sorted(self.org_accounts | {self.fresh[2]}):
                probes += self._account_probes(acct, (self.org_id,), label)
            if not self.members_known:
                for acct in self.outside:
                    probes += self._account_probes(
                        acct, (self.org_id,), f"account {acct} if it is a member of {label}"
                    )
            return probes
        probes = []
        for acct in sorted(self.trusted):
            if self.org_id and (acct == self.owner or acct in self.members):
                orgs: tuple[str | None, ...] = (self.org_id,)
            elif self.org_id:
                orgs = (*wide_orgs, self.org_id)
            else:
                orgs = wide_orgs  # the owner's organization is not known
            label = "the owner account" if acct == self.owner else f"trusted account {acct}"
            probes += self._account_probes(acct, orgs, label)
        return probes

    def _account_probes(self, account: str, orgs: Sequence[str | None], label: str) -> list[_Probe]:
        arns = {f"arn:aws:iam::{account}:root", f"arn:aws:iam::{account}:role/{_PROBE}"}
        arns |= {a for a in self.named_arns if _arn_account(a) == account}
        for pattern in self.arn_patterns:
            inst = _instantiate_arn(pattern, account) or _instantiate_loose_arn(pattern, account)
            if inst:
                arns.add(inst)
        callers = []
        for arn in sorted(arns):
            try:
                callers.append(Caller.parse(account if arn.endswith(":root") else arn))
            except UsageError:
                continue
        out = []
        for org in orgs:
            if org is None:
                identity: tuple[tuple[str, tuple[Value, ...]], ...] = (
                    ("aws:principalorgid", (None,)),
                    ("aws:principalorgpaths", (None,)),
                )
            else:
                paths = {f"{org}/r-probe/ou-probe/"}
                for lit in self.literals.get("aws:principalorgpaths", ()):
                    if lit.startswith((org + "/", "*")):
                        paths.add(_fill(lit))
                identity = (
                    ("aws:principalorgid", ((org,),)),
                    ("aws:principalorgpaths", tuple((p,) for p in sorted(paths))),
                )
            out += [self._probe(caller, identity, label) for caller in callers]
        return out

    # ---- candidate context values ----------------------------------------------
    def _candidates(self, key: str, probe: _Probe, outsider: bool) -> tuple[Value, ...]:
        for name, values in probe.identity:
            if name == key:
                return values
        if key in _IDENTITY_KEYS:
            return (None,)
        memo_key = (key, outsider, probe.caller.kind)
        found = self._value_memo.get(memo_key)
        if found is None:
            found = self._value_memo[memo_key] = self._values(key, outsider, probe.caller.kind)
        return found

    def _values(self, key: str, outsider: bool, caller_kind: str) -> tuple[Value, ...]:
        lits = self.literals.get(key, frozenset())
        if key == "aws:resourceaccount":
            return ((self.owner,),)
        if key == "aws:resourceorgid" and self.org_id:
            return ((self.org_id,),)
        if key in _SOURCE_KEYS:
            if caller_kind != "service":
                return (None,)
            return (None, *((v,) for v in self._source_values(key, lits, outsider)))
        if key in _IP_KEYS:
            # Private addresses repeat in every VPC: aws:VpcSourceIp alone binds no one.
            bound = outsider and key == "aws:sourceip"
            return (None, *((ip,) for ip in _ips(lits, bound)))
        if key in _OWNER_NETWORK_KEYS and outsider:
            # An outsider's request comes through its own endpoint (or none), never the
            # owner's; but a value written with a wildcard (vpce-*) admits any endpoint.
            fresh = {_FRESH_NETWORK.get(key, _PROBE)}
            fresh |= {_fill(lit) for lit in lits if has_wildcard(lit)}
            return (None, *((v,) for v in sorted(fresh)))
        values: set[str] = {_PROBE}
        for lit in lits:
            values.add(_fill(lit))
            values.update(_neighbours(lit))
        out: list[Value] = [None, *((v,) for v in sorted(values))]
        if key in self.multi_keys and len(lits) > 1:
            # ForAnyValue conditions ANDed on one key can need several values at once.
            out.append(tuple(sorted(_fill(lit) for lit in lits)))
        return tuple(out)

    def _source_values(self, key: str, lits: frozenset[str], outsider: bool) -> list[str]:
        account = self.fresh[0] if outsider else self.owner
        out: set[str]
        if key in ("aws:sourceaccount", "aws:sourceowner"):
            out = {account}
            if not outsider:
                out |= {lit for lit in lits if lit in self.trusted}
            for lit in lits:
                acct = _instantiate_account(lit, self.trusted)
                if acct:
                    out.add(acct)
        elif key == "aws:sourcearn":
            out = {f"arn:aws:lambda:us-east-1:{account}:function:{_PROBE}"}
            for lit in lits:
                inst = _instantiate_arn(lit, account)
                if inst:
                    out.add(inst)
                if not outsider:
                    out.add(_fill(lit))
        else:  # aws:SourceOrgID, aws:SourceOrgPaths
            out = {_PROBE_ORG if key == "aws:sourceorgid" else f"{_PROBE_ORG}/r-probe/ou-probe/"}
            out |= {_fill(lit) for lit in lits if not outsider or has_wildcard(lit)}
        return sorted(out)

    # ---- the question ---------------------------------------------------------
    def _probe(
        self, caller: Caller, identity: tuple[tuple[str, tuple[Value, ...]], ...], label: str
    ) -> _Probe:
        pid = self._pids.setdefault((caller, identity), len(self._pids))
        return _Probe(caller, identity, label, pid)

    def _allowed(self, probe: _Probe, action: str, outsider: bool) -> str | None:
        """The label of an Allow that admits this requester for the action, or None."""
        # Actions that every statement's Action/NotAction treats alike get one answer.
        aid = self._action_ids.get(action)
        if aid is None:
            signature = tuple(action_in_scope(s, action) for s in self.statements)
            aid = self._action_ids[action] = self._signatures.setdefault(
                signature, len(self._signatures)
            )
            self._action_scope[aid] = signature
        memo_key = (probe.pid, aid, outsider)
        if memo_key not in self._memo:
            self._memo[memo_key] = self._search(probe, self._action_scope[aid], outsider)
        return self._memo[memo_key]

    def _search(self, probe: _Probe, action_scope: tuple[bool, ...], outsider: bool) -> str | None:
        caller = probe.caller
        who = self._principal_scope.get(probe.pid)
        if who is None:
            who = self._principal_scope[probe.pid] = tuple(
                principal_in_scope(s, caller) for s in self.statements
            )
        scopes = zip(self.statements, who, action_scope, self._resource_scope, strict=True)
        relevant = [s for s, p, a, r in scopes if p and a and r]
        base = caller.derived_context()
        # Keys fixed by the caller decide some statements before any search.
        allows = [s for s in relevant if s.effect == "Allow" and _fixed_hold(s, base)]
        if not allows:
            return None
        denies = [s for s in relevant if s.effect == "Deny" and _fixed_hold(s, base)]
        if any(not _free_keys(d, base) for d in denies):
            return None  # a Deny that nothing in the context can avoid
        keys = sorted({k for s in (*allows, *denies) for k in _free_keys(s, base)})
        if len(keys) > _MAX_KEYS:
            return self._without_denies(allows, keys, probe, outsider)
        choices = []
        involved = tuple(s.index for s in (*allows, *denies))
        for key in keys:
            values = self._candidates(key, probe, outsider)
            memo_key = (key, values, involved)
            distinct = self._distinct_memo.get(memo_key)
            if distinct is None:
                on_key = [c for s in (*allows, *denies) for c in s.conditions if c.key == key]
                distinct = self._distinct_memo[memo_key] = _distinct(values, on_key)
            choices.append((key, distinct))
        search = _Search(keys, choices, allows, denies, base)
        label = search.run()
        if search.exhausted:
            return self._without_denies(allows, keys, probe, outsider)
        return label

    def _without_denies(
        self, allows: list[Statement], keys: list[str], probe: _Probe, outsider: bool
    ) -> str | None:
        """Too many combinations: can an Allow hold at all? Wider than the truth, so say so."""
        note = (
            "too many condition combinations to check exhaustively; Deny statements "
            "were not credited, so the answer may be wider than real"
        )
        if note not in self.notes:
            self.notes.append(note)
        candidates = {key: self._candidates(key, probe, outsider) for key in keys}
        for stmt in allows:
            # Without Denies, each key of one Allow can be chosen on its own.
            free = {c.key for c in stmt.conditions if c.key in candidates}
            if all(_satisfiable(stmt, key, candidates[key]) for key in free):
                return stmt.label
        return None

    def run(self, levels: Levels) -> Exposure:
        order = (Audience.PUBLIC, Audience.EXTERNAL, Audience.ORGANIZATION, Audience.TRUSTED)
        probes = {a: self._probes(a) for a in order}
        result: dict[str, Audience] = {}
        reasons: dict[str, str] = {}
        for level, actions in levels.items():
            result[level] = Audience.NONE
            for audience in order:
                outsider = audience is not Audience.TRUSTED
                hit = self._first_allowed(probes[audience], actions, outsider)
                if hit:
                    probe, label = hit
                    result[level] = audience
                    reasons[level] = f"{label} allows {level} to {probe.label}"
                    break
        all_actions = tuple(dict.fromkeys(a for acts in levels.values() for a in acts))
        wide_orgs = (None, _PROBE_ORG, *self.foreign_orgs)
        external = tuple(
            acct
            for acct in self.outside
            if acct in self.named_accounts
            and self._first_allowed(self._account_probes(acct, wide_orgs, acct), all_actions, True)
        )
        services = self._services(all_actions)
        if not self.org_id and (
            "aws:principalorgid" in self.literals or "aws:principalorgpaths" in self.literals
        ):
            self.notes.append(
                "no organization id was given, so every organization the policy names "
                "counts as external"
            )
        if self.notes:
            reasons["note"] = "; ".join(self.notes)
        return Exposure(result, external, services, reasons)

    def _first_allowed(
        self, probes: list[_Probe], actions: Sequence[str], outsider: bool
    ) -> tuple[_Probe, str] | None:
        for probe in probes:
            for action in actions:
                label = self._allowed(probe, action, outsider)
                if label:
                    return probe, label
        return None

    def _services(self, actions: tuple[str, ...]) -> tuple[ServiceGrant, ...]:
        names: dict[str, list[Statement]] = {}
        for stmt in self.statements:
            if stmt.effect == "Allow" and stmt.principal is not None:
                for svc in stmt.principal.of_type("Service"):
                    names.setdefault(svc.lower(), []).append(stmt)
        grants = []
        for svc, stmts in sorted(names.items()):
            # The service's own actions count too, even outside the levels: a grant of
            # ecr:ListImages to lambda.amazonaws.com is no more guarded for being minor.
            own = (a for s in stmts for a in s.actions or () if not has_wildcard(a))
            probe = self._probe(Caller("service", svc), (), svc)
            # Guarded means no request on behalf of a foreign account's resource gets in.
            unguarded = self._first_allowed([probe], (*actions, *own), True)
            grants.append(ServiceGrant(svc, unguarded is None, tuple(s.label for s in stmts)))
        return tuple(grants)


class _Search:
    """Depth-first search for a context that an Allow admits and no Deny refuses.

    Keys are assigned one at a time. A branch is dropped as soon as every Allow
    has a failed condition, or a Deny whose keys are all assigned holds.
    """

    def __init__(
        self,
        keys: list[str],
        choices: list[tuple[str, tuple[Value, ...]]],
        allows: list[Statement],
        denies: list[Statement],
        base: dict[str, tuple[str, ...]],
    ) -> None:
        self.choices = choices
        self.base = base
        index = {k: i for i, k in enumerate(keys)}
        # Per statement, its conditions on each free key.
        self.allow_conds = [_by_key(s, index) for s in allows]
        self.allows = allows
        self.denies_at: dict[int, list[Statement]] = {}
        for d in denies:
            last = max(index[c.key] for c in d.conditions if c.key in index)
            self.denies_at.setdefault(last, []).append(d)
        self.nodes = 0
        self.exhausted = False

    def run(self) -> str | None:
        return self._step(0, dict(self.base), list(range(len(self.allows))))

    def _step(self, depth: int, ctx: dict[str, tuple[str, ...]], live: list[int]) -> str | None:
        if depth == len(self.choices):
            return self.allows[live[0]].label
        key, values = self.choices[depth]
        for value in values:
            self.nodes += 1
            if self.nodes > _MAX_NODES:
                self.exhausted = True
                return None
            if value is None:
                ctx.pop(key, None)
            else:
                ctx[key] = value
            still = [
                i
                for i in live
                if all(condition_holds(c, ctx) for c in self.allow_conds[i].get(depth, ()))
            ]
            if not still:
                continue
            if any(conditions_hold(d.conditions, ctx) for d in self.denies_at.get(depth, ())):
                continue
            found = self._step(depth + 1, ctx, still)
            if found or self.exhausted:
                return found
        ctx.pop(key, None)
        return None


def _satisfiable(stmt: Statement, key: str, values: tuple[Value, ...]) -> bool:
    """Some value makes all of the statement's conditions on ``key`` hold."""
    conds = [c for c in stmt.conditions if c.key == key]
    return any(
        all(condition_holds(c, {} if v is None else {key: v}) for c in conds) for v in values
    )


def _by_key(stmt: Statement, index: dict[str, int]) -> dict[int, list[Condition]]:
    out: dict[int, list[Condition]] = {}
    for c in stmt.conditions:
        if c.key in index:
            out.setdefault(index[c.key], []).append(c)
    return out


def _fixed_hold(stmt: Statement, base: dict[str, tuple[str, ...]]) -> bool:
    """The statement's conditions on keys the caller fixes all hold."""
    return all(condition_holds(c, base) for c in stmt.conditions if c.key in base)


def _free_keys(stmt: Statement, base: dict[str, tuple[str, ...]]) -> set[str]:
    return {c.key for c in stmt.conditions if c.key not in base}


def _distinct(values: tuple[Value, ...], conditions: list[Condition]) -> tuple[Value, ...]:
    """Drop values that every condition on the key treats like an earlier value."""
    seen: set[tuple[bool, ...]] = set()
    out = []
    for value in values:
        ctx = {} if value is None else {conditions[0].key: value}
        signature = tuple(condition_holds(c, ctx) for c in conditions)
        if signature not in seen:
            seen.add(signature)
            out.append(value)
    return tuple(out)


def _literals(policy: Policy) -> dict[str, frozenset[str]]:
    out: dict[str, set[str]] = {}
    for stmt in policy.statements:
        for cond in stmt.conditions:
            out.setdefault(cond.key, set()).update(cond.values)
    return {k: frozenset(v) for k, v in out.items()}


def _arn_account(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" else None


def _named_principals(
    policy: Policy, literals: dict[str, frozenset[str]]
) -> tuple[frozenset[str], frozenset[str]]:
    """Accounts and principal ARNs the policy names for AWS principals.

    aws:SourceAccount / aws:SourceArn name the accounts a *service* acts for; an
    AWS principal never sends them, so they are left to the service check.
    """
    accounts: set[str] = set()
    arns: set[str] = set()
    for stmt in policy.statements:
        for element in (stmt.principal, stmt.not_principal):
            if element is None:
                continue
            for ident in element.of_type("AWS"):
                if _ACCOUNT.fullmatch(ident):
                    accounts.add(ident)
                elif (acct := _arn_account(ident)) and _ACCOUNT.fullmatch(acct):
                    accounts.add(acct)
                    if not ident.endswith(":root"):
                        arns.add(ident)
    accounts.update(v for v in literals.get("aws:principalaccount", ()) if _ACCOUNT.fullmatch(v))
    for v in literals.get("aws:principalarn", ()):
        acct = _arn_account(v)
        if acct and _ACCOUNT.fullmatch(acct):
            accounts.add(acct)
    return frozenset(accounts), frozenset(arns)


def _wild_principal_arns(policy: Policy) -> frozenset[str]:
    return frozenset(
        ident
        for stmt in policy.statements
        if stmt.principal is not None
        for ident in stmt.principal.of_type("AWS")
        if ident != "*" and has_wildcard(ident)
    )


def _account_patterns(
    literals: dict[str, frozenset[str]], arn_patterns: frozenset[str]
) -> set[str]:
    out = {v for v in literals.get("aws:principalaccount", ()) if has_wildcard(v)}
    for arn in arn_patterns:
        acct = _arn_account(arn)
        if acct and has_wildcard(acct):
            out.add(acct)
    return out


def _foreign_orgs(literals: dict[str, frozenset[str]], org_id: str | None) -> list[str]:
    """Organizations other than the owner's that the policy admits by id or path."""
    out: set[str] = set()
    for v in literals.get("aws:principalorgid", ()):
        if has_wildcard(v):
            # A pattern such as o-abc* admits organizations other than the owner's.
            v = _fill(v, "z9")
        # Organization ids are lower-case; StringEqualsIgnoreCase may spell them otherwise.
        if v.lower() != (org_id or "").lower():
            out.add(v)
    for path in literals.get("aws:principalorgpaths", ()):
        head = path.split("/", 1)[0]
        if head and not has_wildcard(head) and head.lower() != (org_id or "").lower():
            out.add(head)
    return sorted(out)


def _fresh_accounts(used: set[str] | frozenset[str], n: int) -> list[str]:
    out: list[str] = []
    candidate = 999_999_999_999
    while len(out) < n:
        acct = str(candidate)
        if acct not in used:
            out.append(acct)
        candidate -= 111_111
    return out


def _fill(pattern: str, filler: str = "x") -> str:
    return pattern.replace("*", filler).replace("?", filler[0])


def _instantiate_account(pattern: str, avoid: Iterable[str]) -> str | None:
    """A 12-digit account that a wildcard pattern admits and that is not in ``avoid``."""
    if not has_wildcard(pattern):
        return None
    avoid = set(avoid)
    fixed = len(pattern.replace("*", ""))
    if fixed > 12 or ("*" not in pattern and fixed != 12):
        return None
    for digit in "9876543210":
        out, spread = [], False
        for ch in pattern:
            if ch == "*":
                out.append("" if spread else digit * (12 - fixed))
                spread = True
            else:
                out.append(digit if ch == "?" else ch)
        acct = "".join(out)
        if _ACCOUNT.fullmatch(acct) and acct not in avoid and glob_match(pattern, acct):
            return acct
    return None


def _instantiate_loose_arn(pattern: str, account: str) -> str | None:
    """For a StringLike pattern that is not a six-part ARN, such as ``*:role/ci``."""
    if not has_wildcard(pattern):
        return None
    candidate = f"arn:aws:iam::{account}:{_fill(pattern.rsplit(':', 1)[-1])}"
    return candidate if glob_match(pattern, candidate) else None


def _covers_every_repository(stmt: Statement, owner: str) -> bool:
    """Whether the statement's Resource surely covers any repository of the owner."""
    if stmt.not_resources is not None:
        return False
    if stmt.resources is None:
        return True
    for pattern in stmt.resources:
        parts = pattern.split(":", 5)
        if pattern == "*" or (
            len(parts) == 6
            and parts[0] == "arn"
            and parts[2] in ("ecr", "*")
            and parts[4] in (owner, "*")
            and parts[5] in ("*", "repository/*")
        ):
            return True
    return False


def _instantiate_arn(pattern: str, account: str) -> str | None:
    """The ARN a caller in ``account`` can obtain that a pattern admits, if any."""
    parts = pattern.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    if parts[4] == "":
        # ARNs without an account (S3 buckets): a wildcard name can be anyone's.
        return _fill(pattern) if has_wildcard(parts[5]) else None
    if parts[4] != account and not (has_wildcard(parts[4]) and glob_match(parts[4], account)):
        return None
    parts[4] = account
    return _fill(":".join(parts))


def _neighbours(literal: str) -> list[str]:
    try:
        n = float(literal)
    except ValueError:
        pass
    else:
        return [_num_text(n - 1), _num_text(n + 1)] if n == n and abs(n) < 1e15 else []
    try:
        when = datetime.fromisoformat(literal.replace("Z", "+00:00"))
    except ValueError:
        return []
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    day = timedelta(days=1)
    try:
        return [(when + d).strftime("%Y-%m-%dT%H:%M:%SZ") for d in (-day, day)]
    except OverflowError:  # 9999-12-31 or 0001-01-01
        return []


def _num_text(n: float) -> str:
    return str(int(n)) if n.is_integer() else str(n)


def _ips(literals: frozenset[str], outsider: bool) -> list[str]:
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for lit in literals:
        try:
            networks.append(ipaddress.ip_network(lit, strict=False))
        except ValueError:
            continue
    out: set[str] = set()
    for net in networks:
        wide = net.prefixlen <= _WIDE_PREFIX[net.version]
        if wide or not outsider:
            # Anyone on the internet can be inside a very wide range; the owner's
            # own principals can be inside any range the owner names.
            out.add(str(next(iter(net.hosts()), net.network_address)))
    for ip in _FRESH_IPS:
        addr = ipaddress.ip_address(ip)
        if not any(addr in n for n in networks if n.version == addr.version):
            out.add(ip)
    return sorted(out)
