"""The normalized model every source fills.

The live AWS collector, the Terraform reader (HCL and plan JSON) and the
CloudFormation reader all produce these frozen dataclasses, so one rule judges
every source. Policies are kept as the JSON document (a ``dict``); rules hand
them to :mod:`ecrguard.policy`, which is the only place that interprets them.

Conventions:
- ``account`` / ``region`` are ``None`` when the source does not say (IaC).
- ``id`` is what findings report as ``resource``: an ARN for live resources,
  an address for IaC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ecrguard.model.sourced import Origin, Sourced

PolicyDoc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resource:
    id: str
    origin: Origin
    account: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class ImageFinding:
    """One vulnerability finding on an image (CRITICAL or HIGH are the ones kept)."""

    severity: str  # CRITICAL | HIGH | MEDIUM | LOW | INFORMATIONAL | UNDEFINED
    name: str  # CVE id or finding title
    first_observed: str | None  # ISO 8601; basic scans report the scan time instead
    package: str | None = None


@dataclass(frozen=True, slots=True)
class Image:
    digest: str
    tags: tuple[str, ...]
    pushed_at: str | None  # ISO 8601
    scan_status: str | None  # COMPLETE | ACTIVE | IN_PROGRESS | FAILED | ...; None: never scanned
    severity_counts: tuple[tuple[str, int], ...] = ()
    findings: tuple[ImageFinding, ...] = ()
    scan_completed_at: str | None = None


@dataclass(frozen=True, slots=True)
class Repository(Resource):
    name: Sourced[str]
    policy: Sourced[PolicyDoc | None]
    tag_mutability: Sourced[str]
    mutability_exclusions: Sourced[tuple[str, ...]]
    encryption_type: Sourced[str]
    kms_key: Sourced[str | None]
    scan_on_push: Sourced[bool]
    lifecycle_policy: Sourced[PolicyDoc | None]
    force_delete: Sourced[bool]
    # Only live sources know images; None means "not collected" (IaC).
    newest_image: Sourced[Image | None] | None = None

    @property
    def arn(self) -> str | None:
        name = self.name.value if self.name.resolved else None
        if self.account and self.region and name:
            return f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}"
        return None


@dataclass(frozen=True, slots=True)
class ScanningRule:
    frequency: str  # SCAN_ON_PUSH | CONTINUOUS_SCAN | MANUAL
    filters: tuple[str, ...]  # WILDCARD filters


@dataclass(frozen=True, slots=True)
class ReplicationDestination:
    region: str
    registry_id: str


@dataclass(frozen=True, slots=True)
class ReplicationRule:
    destinations: tuple[ReplicationDestination, ...]
    filters: tuple[str, ...]  # PREFIX_MATCH filters; empty means every repository


@dataclass(frozen=True, slots=True)
class Inspector:
    ecr_status: str  # ENABLED | ENABLING | DISABLED | DISABLING | SUSPENDED | ...
    push_rescan: str | None  # ecrConfiguration.rescanDuration: LIFETIME | DAYS_180 | ...
    pull_rescan: str | None  # ecrConfiguration.pullDateRescanDuration: DAYS_14 ... DAYS_180


@dataclass(frozen=True, slots=True)
class Registry(Resource):
    """One private registry: an account in one region."""

    policy: Sourced[PolicyDoc | None]
    # Account setting REGISTRY_POLICY_SCOPE: V1 honours only the replication,
    # pull-through-cache and create-repository actions of the registry policy;
    # V2 honours every ECR action in it.
    policy_scope: Sourced[str]
    scan_type: Sourced[str]
    scanning_rules: Sourced[tuple[ScanningRule, ...]]
    replication_rules: Sourced[tuple[ReplicationRule, ...]]
    # Amazon Inspector for ECR in this account and region; None when the source
    # says nothing about it (IaC without an inspector resource).
    inspector: Sourced[Inspector] | None = None


@dataclass(frozen=True, slots=True)
class CreationTemplate(Resource):
    prefix: Sourced[str]
    applied_for: Sourced[tuple[str, ...]]
    policy: Sourced[PolicyDoc | None]
    tag_mutability: Sourced[str]
    encryption_type: Sourced[str]
    kms_key: Sourced[str | None]
    lifecycle_policy: Sourced[PolicyDoc | None]


@dataclass(frozen=True, slots=True)
class Vpc(Resource):
    vpc_id: Sourced[str]


@dataclass(frozen=True, slots=True)
class VpcEndpoint(Resource):
    vpc_id: Sourced[str]
    service_name: Sourced[str]  # com.amazonaws.<region>.ecr.api | .ecr.dkr | .s3
    endpoint_type: Sourced[str]  # Interface | Gateway
    policy: Sourced[PolicyDoc | None]


@dataclass(frozen=True, slots=True)
class EventRule(Resource):
    """An EventBridge rule: where scan findings get routed, if anywhere."""

    name: Sourced[str]
    pattern: Sourced[dict[str, Any] | None]
    state: Sourced[str]  # ENABLED | DISABLED
    targets: Sourced[tuple[str, ...]]  # target ARNs (or IaC addresses)


@dataclass(frozen=True, slots=True)
class KmsKey(Resource):
    key_id: Sourced[str]
    aliases: Sourced[tuple[str, ...]]  # "alias/..." names
    manager: Sourced[str]  # AWS | CUSTOMER
    rotation: Sourced[bool]
    policy: Sourced[PolicyDoc | None]

    def names(self) -> set[str]:
        """What a repository's kms_key value may say to mean this key."""
        names = {self.id}
        if self.key_id.resolved and self.key_id.value:
            names.add(self.key_id.value)
        if self.aliases.resolved:
            for alias in self.aliases.value or ():
                names.add(alias)
                if self.account and self.region:
                    names.add(f"arn:aws:kms:{self.region}:{self.account}:{alias}")
        return names

    def known_as(self, ref: str) -> bool:
        """Whether a repository's kms_key value (ARN, key id, alias, IaC address) means this key."""
        names = self.names()
        return ref in names or ref.rsplit("/", 1)[-1] in names


@dataclass(frozen=True, slots=True)
class Trail(Resource):
    name: Sourced[str]
    multi_region: Sourced[bool]
    logging: Sourced[bool]
    log_validation: Sourced[bool]
    management_events: Sourced[bool]  # some selector records management write events
    bucket: Sourced[str | None]


@dataclass(frozen=True, slots=True)
class Organization:
    id: Sourced[str]
    accounts: Sourced[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class CollectionIssue:
    """An API call or file that could not be read; rules turn these into UNKNOWN."""

    scope: str  # "account/region" or a file path
    operation: str  # e.g. ecr:GetRegistryPolicy
    reason: str


@dataclass(frozen=True, slots=True)
class Inventory:
    """Everything one scan knows. Rules see nothing else."""

    repositories: tuple[Repository, ...] = ()
    registries: tuple[Registry, ...] = ()
    creation_templates: tuple[CreationTemplate, ...] = ()
    vpcs: tuple[Vpc, ...] = ()
    vpc_endpoints: tuple[VpcEndpoint, ...] = ()
    event_rules: tuple[EventRule, ...] = ()
    kms_keys: tuple[KmsKey, ...] = ()
    trails: tuple[Trail, ...] = ()
    organization: Organization | None = None
    issues: tuple[CollectionIssue, ...] = ()
    # Which (account, region) pairs were covered; IaC uses (None, None).
    scopes: tuple[tuple[str | None, str | None], ...] = field(default=())
    # key(): each name a key is known as -> position of the first such key.
    _key_index: dict[str, int] | None = field(
        default=None, init=False, repr=False, compare=False, hash=False
    )

    def merge(self, other: Inventory) -> Inventory:
        return Inventory(
            repositories=self.repositories + other.repositories,
            registries=self.registries + other.registries,
            creation_templates=self.creation_templates + other.creation_templates,
            vpcs=self.vpcs + other.vpcs,
            vpc_endpoints=self.vpc_endpoints + other.vpc_endpoints,
            event_rules=self.event_rules + other.event_rules,
            kms_keys=self.kms_keys + other.kms_keys,
            trails=self.trails + other.trails,
            organization=self.organization or other.organization,
            issues=self.issues + other.issues,
            scopes=self.scopes + tuple(s for s in other.scopes if s not in self.scopes),
        )

    def key(self, ref: str) -> KmsKey | None:
        """The first key ``known_as(ref)``, from an index built on first use.

        Scanning every key for every repository made a configuration with
        thousands of each quadratic.
        """
        index = self._key_index
        if index is None:
            index = {}
            for position, key in enumerate(self.kms_keys):
                for name in key.names():
                    index.setdefault(name, position)
            object.__setattr__(self, "_key_index", index)
        hits = [index[n] for n in (ref, ref.rsplit("/", 1)[-1]) if n in index]
        return self.kms_keys[min(hits)] if hits else None


@dataclass(frozen=True, slots=True)
class Region(Resource):
    """A derived view: everything of one account in one region.

    Not filled by sources; the engine builds it so that region-level rules
    (VPC endpoints, finding routing) see their region in one place. IaC
    resources, which rarely know account or region, share one view.
    """

    repositories: tuple[Repository, ...]
    registries: tuple[Registry, ...]
    vpcs: tuple[Vpc, ...]
    endpoints: tuple[VpcEndpoint, ...]
    event_rules: tuple[EventRule, ...]


@dataclass(frozen=True, slots=True)
class Account(Resource):
    """A derived view: one account's account-wide resources (trails)."""

    trails: tuple[Trail, ...]
    regions: tuple[str, ...]


def _view_origin(ident: str, members: list[Any]) -> Origin:
    """A view's findings point at its first IaC member's file, so IaC reports keep file:line."""
    first = next((m.origin for m in members if m.origin.file), None)
    return Origin(ident, first.file, first.line) if first else Origin(ident)


def regions(inv: Inventory) -> tuple[Region, ...]:
    groups: dict[tuple[str | None, str | None], dict[str, list[Any]]] = {}
    kinds = (
        ("repositories", inv.repositories),
        ("registries", inv.registries),
        ("vpcs", inv.vpcs),
        ("endpoints", inv.vpc_endpoints),
        ("event_rules", inv.event_rules),
    )
    for kind, items in kinds:
        for item in items:
            group = groups.setdefault((item.account, item.region), {k: [] for k, _ in kinds})
            group[kind].append(item)
    out = []
    for (account, region), group in groups.items():
        ident = f"{account or 'iac'}/{region or 'any-region'}"
        members = [item for items in group.values() for item in items]
        out.append(
            Region(
                id=ident,
                origin=_view_origin(ident, members),
                account=account,
                region=region,
                **{kind: tuple(items) for kind, items in group.items()},
            )
        )
    return tuple(out)


def accounts(inv: Inventory) -> tuple[Account, ...]:
    """One view per account that has trails or was scanned (IaC: one, if it declares trails)."""
    names: dict[str | None, list[str]] = {}
    for account, region in inv.scopes:
        if account is not None:
            names.setdefault(account, [])
            if region:
                names[account].append(region)
    for trail in inv.trails:
        names.setdefault(trail.account, [])
    out = []
    for account, scoped in names.items():
        ident = account or "iac"
        trails = [t for t in inv.trails if t.account == account]
        out.append(
            Account(
                id=ident,
                origin=_view_origin(ident, trails),
                account=account,
                region=None,
                trails=tuple(trails),
                regions=tuple(scoped),
            )
        )
    return tuple(out)
