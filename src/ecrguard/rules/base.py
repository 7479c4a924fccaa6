"""What a rule is: data (id, docs, remediation, references) plus one pure function.

A rule's function takes one model resource and a :class:`Context` and yields
:class:`Result` values. It never does I/O and never registers itself; the
explicit list lives in ``rules/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ecrguard.model import (
    CreationTemplate,
    Inventory,
    Origin,
    Registry,
    Repository,
    Resource,
    Severity,
    Sourced,
    Status,
)
from ecrguard.policy.audience import Audience
from ecrguard.policy.levels import REPOSITORY_LEVELS, Levels

if TYPE_CHECKING:
    # The engine loads on the first judgement: listing rules does not need it.
    from ecrguard.policy.exposure import Exposure


@dataclass(frozen=True, slots=True)
class Docs:
    """The four sections every rule must have (``ecrguard rule ID`` prints them)."""

    what: str
    why: str
    example: str
    fix: str


@dataclass(frozen=True, slots=True)
class Remediation:
    cli: str
    terraform: str


@dataclass(frozen=True, slots=True)
class References:
    prowler: tuple[str, ...] = ()
    checkov: tuple[str, ...] = ()
    trivy: tuple[str, ...] = ()
    fsbp: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()


def fsbp(control: str) -> str:
    """A Security Hub Foundational Security Best Practices control id, e.g. ``fsbp("ECR.1")``."""
    return control


@dataclass(frozen=True, slots=True)
class Result:
    status: Status
    message: str
    # Where the verdict points: defaults to the resource. A policy verdict points
    # at the policy's own origin so IaC findings land on the policy line.
    origin: Origin | None = None
    resource: str | None = None  # overrides the target's id (e.g. one VPC of a region)


def passed(message: str, origin: Origin | None = None, resource: str | None = None) -> Result:
    return Result(Status.PASS, message, origin, resource)


def failed(message: str, origin: Origin | None = None, resource: str | None = None) -> Result:
    return Result(Status.FAIL, message, origin, resource)


def unknown(message: str, origin: Origin | None = None, resource: str | None = None) -> Result:
    return Result(Status.UNKNOWN, message, origin, resource)


def unresolved(value: Sourced[Any], what: str) -> Result:
    return unknown(f"cannot judge: {what} is unresolved ({value.reason})", value.origin)


@dataclass(frozen=True, slots=True)
class Context:
    """What rules may know beyond the resource: trust settings and parameters."""

    org_id: str | None = None
    trusted_accounts: tuple[str, ...] = ()
    org_accounts: tuple[str, ...] = ()
    owner_account: str | None = None  # for IaC when the code does not say
    params: Mapping[str, Any] = field(default_factory=dict)
    inventory: Inventory = field(default_factory=Inventory)
    # Rules that judge ages (finding SLAs) read the clock here, so they stay pure.
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # See memoized(); None outside an engine run.
    _exposures: dict[tuple[Any, ...], tuple[Any, Levels, Exposure]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def owner(self, account: str | None) -> str | None:
        return account or self.owner_account

    def memoized(self) -> Context:
        """A copy that answers :meth:`exposure` once per policy document object.

        EG001, EG004 and EG005 each ask about every repository policy. Keying on
        the document's identity is sound only while nobody changes the document,
        which holds for one engine run over a frozen inventory; so only the
        engine uses this, and only for the length of a run.
        """
        ctx = replace(self)
        object.__setattr__(ctx, "_exposures", {})
        return ctx

    def exposure(
        self,
        policy: dict[str, Any],
        account: str | None,
        levels: Levels = REPOSITORY_LEVELS,
        *,
        trusted: Iterable[str] | None = None,
    ) -> Exposure:
        owner = self.owner(account) or UNKNOWN_OWNER
        trusted_ids = tuple(self.trusted_accounts if trusted is None else trusted)
        memo = self._exposures
        key = (id(policy), owner, id(levels), trusted_ids)
        hit = memo.get(key) if memo is not None else None
        # The entry holds the document and the levels, so their ids cannot be reused.
        if hit is not None and hit[0] is policy and hit[1] is levels:
            return hit[2].copy()
        from ecrguard.policy.exposure import exposure

        answer = exposure(
            policy,
            owner,
            org_id=self.org_id,
            trusted=trusted_ids,
            org_accounts=self.org_accounts,
            levels=levels,
        )
        if memo is not None:
            memo[key] = (policy, levels, answer.copy())
        return answer

    def registry_for(self, resource: Resource) -> Registry | None:
        """The registry of a resource's account and region (IaC: of its configuration)."""
        return next(
            (
                r
                for r in self.inventory.registries
                if r.account == resource.account and r.region == resource.region
            ),
            None,
        )

    def param(self, rule: Rule, name: str) -> Any:
        return self.params.get(f"{rule.id}.{name}", rule.params[name])


# When IaC does not say which account owns a resource, the owner is a
# placeholder that no policy names, so every named account counts as foreign.
UNKNOWN_OWNER = "000000000000"

Check = Callable[[Any, Context], Iterable[Result]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: Severity
    labs: tuple[str, ...]
    targets: tuple[type, ...]
    check: Check
    docs: Docs
    remediation: Remediation
    references: References
    params: Mapping[str, Any] = field(default_factory=dict)
    # The read-only API calls the live collector makes for this rule.
    permissions: tuple[str, ...] = ()

    def run(self, resource: Any, ctx: Context) -> Iterable[Result]:
        return self.check(resource, ctx)


def subject(item: Any) -> str:
    """How findings name a resource: 'repository app', 'creation template cache', 'registry'."""
    if isinstance(item, Registry):
        return "registry"
    if isinstance(item, Repository):
        noun, value = "repository", item.name
    elif isinstance(item, CreationTemplate):
        noun, value = "creation template", item.prefix
    else:
        return str(item.id)
    return f"{noun} {value.value}" if value.resolved and value.value else f"{noun} {item.id}"


def describe_audience(audience: Audience) -> str:
    return {
        Audience.PUBLIC: "anyone (any AWS account)",
        Audience.EXTERNAL: "accounts outside the organisation and the trusted list",
        Audience.ORGANIZATION: "accounts of the organisation",
        Audience.TRUSTED: "the owner and the trusted accounts",
        Audience.NONE: "nobody",
    }[audience]
