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
    organization: Organization | None = None
    issues: tuple[CollectionIssue, ...] = ()
    # Which (account, region) pairs were covered; IaC uses (None, None).
    scopes: tuple[tuple[str | None, str | None], ...] = field(default=())

    def merge(self, other: Inventory) -> Inventory:
        return Inventory(
            repositories=self.repositories + other.repositories,
            registries=self.registries + other.registries,
            creation_templates=self.creation_templates + other.creation_templates,
            vpcs=self.vpcs + other.vpcs,
            vpc_endpoints=self.vpc_endpoints + other.vpc_endpoints,
            organization=self.organization or other.organization,
            issues=self.issues + other.issues,
            scopes=self.scopes + tuple(s for s in other.scopes if s not in self.scopes),
        )


@dataclass(frozen=True, slots=True)
class Network(Resource):
    """A derived view: one account and region's repositories, VPCs and endpoints.

    Not filled by sources; the engine builds it from the inventory so that
    region-level rules (VPC endpoints) see everything in one place.
    """

    repositories: tuple[Repository, ...]
    vpcs: tuple[Vpc, ...]
    endpoints: tuple[VpcEndpoint, ...]


def networks(inv: Inventory) -> tuple[Network, ...]:
    keys: dict[tuple[str | None, str | None], None] = {}
    for item in (*inv.repositories, *inv.vpcs, *inv.vpc_endpoints):
        keys.setdefault((item.account, item.region), None)
    out = []
    for account, region in keys:

        def here(r: Resource, a: str | None = account, g: str | None = region) -> bool:
            return r.account == a and r.region == g

        ident = f"{account or 'iac'}/{region or 'any-region'}"
        out.append(
            Network(
                id=ident,
                origin=Origin(ident),
                account=account,
                region=region,
                repositories=tuple(r for r in inv.repositories if here(r)),
                vpcs=tuple(v for v in inv.vpcs if here(v)),
                endpoints=tuple(e for e in inv.vpc_endpoints if here(e)),
            )
        )
    return tuple(out)
