"""Evaluate one request against one resource-based policy.

The answer reflects that policy alone: an explicit Deny wins, then any Allow,
otherwise the request is implicitly denied.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ecrguard.errors import UsageError
from ecrguard.policy.conditions import conditions_hold
from ecrguard.policy.glob import glob_match, has_wildcard
from ecrguard.policy.parse import Policy, Principal, Statement

_ACCOUNT = re.compile(r"^\d{12}$")
_IAM_ARN = re.compile(r"^arn:aws[\w-]*:(iam|sts)::(\d{12}|\*):(.+)$")


class Decision(StrEnum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit-deny"
    IMPLICIT_DENY = "implicit-deny"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sends the request."""

    kind: str  # "aws" | "service" | "federated" | "anonymous"
    name: str  # the ARN, service name or provider, as given
    account: str | None = None
    role_name: str | None = None  # for a role or one of its sessions
    arn: str | None = None  # aws:PrincipalArn (a role session reports its role)

    @classmethod
    def parse(cls, text: str) -> Caller:
        """Parse ``--principal``: an account id, an IAM/STS ARN, a service or ``*``."""
        text = text.strip()
        if text in ("*", "anonymous"):
            return cls("anonymous", "*")
        if _ACCOUNT.match(text):
            return cls("aws", text, text, arn=f"arn:aws:iam::{text}:root")
        m = _IAM_ARN.match(text)
        if m:
            service, account, rest = m.groups()
            if account == "*":
                raise UsageError(f"principal {text!r} has a wildcard account; name one account")
            if rest.startswith(("oidc-provider/", "saml-provider/")):
                return cls("federated", text)
            if service == "sts" and rest.startswith("assumed-role/"):
                parts = rest.split("/")
                if len(parts) < 3:
                    raise UsageError(f"assumed-role ARN {text!r} needs a role and a session name")
                role = parts[1]
                return cls("aws", text, account, role, f"arn:aws:iam::{account}:role/{role}")
            if rest.startswith("role/"):
                return cls("aws", text, account, rest.rsplit("/", 1)[-1], text)
            return cls("aws", text, account, arn=text)
        if text.endswith(".amazonaws.com") or text.endswith(".amazonaws.com.cn"):
            return cls("service", text.lower())
        if "." in text and " " not in text:
            # OIDC providers such as token.actions.githubusercontent.com, or accounts.google.com.
            return cls("federated", text)
        raise UsageError(
            f"cannot read principal {text!r}: give a 12-digit account id, an IAM or STS ARN, "
            "a service such as lambda.amazonaws.com, or *"
        )

    def derived_context(self) -> dict[str, tuple[str, ...]]:
        if self.kind == "aws":
            return {
                "aws:principalaccount": (self.account or "",),
                "aws:principalarn": (self.arn or self.name,),
                "aws:principalisawsservice": ("false",),
            }
        if self.kind == "service":
            return {
                "aws:principalservicename": (self.name,),
                "aws:principalisawsservice": ("true",),
            }
        return {"aws:principalisawsservice": ("false",)}


@dataclass(frozen=True, slots=True)
class Request:
    caller: Caller
    action: str
    resource: str | None = None
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        principal: str | Caller,
        action: str,
        resource: str | None = None,
        context: Mapping[str, Iterable[str]] | None = None,
    ) -> Request:
        """Normalize keys to lower case and add the keys derived from the principal."""
        caller = principal if isinstance(principal, Caller) else Caller.parse(principal)
        merged: dict[str, tuple[str, ...]] = {}
        for key, values in (context or {}).items():
            # A bare string is one value; tuple("vpce-1") would be six one-letter values.
            merged[key.lower()] = (values,) if isinstance(values, str) else tuple(values)
        for key, values in caller.derived_context().items():
            given = merged.get(key)
            if given is not None and given != values:
                raise UsageError(
                    f"--context {key} contradicts the principal ({', '.join(values)}); "
                    "it is derived from --principal"
                )
            merged[key] = values
        return cls(caller, action, resource, merged)


@dataclass(frozen=True, slots=True)
class Evaluation:
    decision: Decision
    statements: tuple[Statement, ...]  # the deciding statements (Denies, or Allows)


# Which caller kinds a Principal type can name. A Federated provider such as
# cognito-identity.amazonaws.com ends in .amazonaws.com, so ``--principal`` reads it
# as a service; it still matches a Federated entry with exactly that name.
_CALLER_KINDS = {"Service": ("service",), "Federated": ("federated", "service")}


def principal_matches(element: Principal, caller: Caller) -> bool:
    for kind, ids in element.entries:
        for ident in ids:
            if kind == "AWS":
                if _aws_principal_matches(ident, caller):
                    return True
            elif caller.kind in _CALLER_KINDS.get(kind, ()) and (
                (ident == "*" and caller.kind == _CALLER_KINDS[kind][0])
                or ident.lower() == caller.name.lower()
            ):
                return True
    return False


def _aws_principal_matches(ident: str, caller: Caller) -> bool:
    if ident == "*":
        return True
    if caller.kind != "aws":
        return False
    if _ACCOUNT.match(ident):
        return caller.account == ident
    m = _IAM_ARN.match(ident)
    if not m:
        return False
    _, account, rest = m.groups()
    if has_wildcard(ident):
        # Not valid in a Principal element, but AWS-like tools accept it; match widely.
        return glob_match(ident, caller.arn or caller.name)
    if account != caller.account:
        return False
    if rest == "root":
        return True
    if rest.startswith("role/"):
        # A role covers its sessions, whose ARNs drop the role's path.
        return caller.role_name == rest.rsplit("/", 1)[-1]
    return ident in (caller.arn, caller.name)


def _action_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(glob_match(p, action, ignore_case=True) for p in patterns)


def principal_in_scope(stmt: Statement, caller: Caller) -> bool:
    """Whether the statement's Principal/NotPrincipal covers the caller."""
    if stmt.principal is not None and not principal_matches(stmt.principal, caller):
        return False
    return not (stmt.not_principal is not None and principal_matches(stmt.not_principal, caller))


def action_in_scope(stmt: Statement, action: str) -> bool:
    """Whether the statement's Action/NotAction covers the action."""
    if stmt.actions is not None and not _action_matches(stmt.actions, action):
        return False
    return not (stmt.not_actions is not None and _action_matches(stmt.not_actions, action))


def resource_in_scope(stmt: Statement, resource: str | None) -> bool:
    """Whether Resource/NotResource covers the resource; an unnamed resource is covered."""
    if resource is None:
        return True
    if stmt.resources is not None and not any(glob_match(p, resource) for p in stmt.resources):
        return False
    return not (
        stmt.not_resources is not None and any(glob_match(p, resource) for p in stmt.not_resources)
    )


def in_scope(stmt: Statement, caller: Caller, action: str, resource: str | None) -> bool:
    """Everything but the Condition block: principal, action and resource.

    :mod:`ecrguard.policy.exposure` asks these three questions once per requester and
    action, then varies only the context, so it shares these rules with :func:`evaluate`.
    """
    return (
        principal_in_scope(stmt, caller)
        and action_in_scope(stmt, action)
        and resource_in_scope(stmt, resource)
    )


def statement_applies(stmt: Statement, request: Request) -> bool:
    return in_scope(stmt, request.caller, request.action, request.resource) and conditions_hold(
        stmt.conditions, request.context
    )


def evaluate(policy: Policy, request: Request) -> Evaluation:
    applying = [s for s in policy.statements if statement_applies(s, request)]
    denies = tuple(s for s in applying if s.effect == "Deny")
    if denies:
        return Evaluation(Decision.EXPLICIT_DENY, denies)
    allows = tuple(s for s in applying if s.effect == "Allow")
    if allows:
        return Evaluation(Decision.ALLOW, allows)
    return Evaluation(Decision.IMPLICIT_DENY, ())
