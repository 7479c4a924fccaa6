"""Collect one account's ECR configuration, across regions, into an Inventory.

Calls run on a bounded thread pool. The calling thread only schedules: it
waits for each region's repository listing and then queues that region's
per-repository calls, so no worker ever waits on another worker's task.

Per region: DescribeRepositories (paged), GetRegistryPolicy,
GetAccountSetting(REGISTRY_POLICY_SCOPE), GetRegistryScanningConfiguration,
DescribeRegistry, DescribeRepositoryCreationTemplates (paged), DescribeVpcs and
DescribeVpcEndpoints (paged). Per repository: GetRepositoryPolicy and
GetLifecyclePolicy. Once: GetCallerIdentity, DescribeOrganization and
ListAccounts (paged). Only Describe*/Get*/List* calls are ever made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from ecrguard.errors import EcrguardError
from ecrguard.model import (
    CollectionIssue,
    CreationTemplate,
    Inventory,
    Organization,
    Registry,
    Repository,
    Vpc,
    VpcEndpoint,
)
from ecrguard.sources.aws import ec2, ecr, organizations
from ecrguard.sources.aws.calls import CallStats, Client, Clients, Failure, attempt

T = TypeVar("T")

# Every IAM action collect() may call: the read-only policy a scan needs.
REQUIRED_PERMISSIONS = (
    "sts:GetCallerIdentity",
    "ec2:DescribeRegions",
    "ec2:DescribeVpcs",
    "ec2:DescribeVpcEndpoints",
    "ecr:DescribeRepositories",
    "ecr:GetRepositoryPolicy",
    "ecr:GetLifecyclePolicy",
    "ecr:GetRegistryPolicy",
    "ecr:GetAccountSetting",
    "ecr:GetRegistryScanningConfiguration",
    "ecr:DescribeRegistry",
    "ecr:DescribeRepositoryCreationTemplates",
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
)
_FALLBACK_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class _Identity:
    account: str
    partition: str


def collect(
    session: Any,
    regions: Sequence[str] | None = None,
    *,
    endpoint_url: str | None = None,
    max_workers: int = 16,
    stats: CallStats | None = None,
) -> Inventory:
    """Read the account behind ``session`` in ``regions`` (default: all enabled).

    Denied or failing calls never raise: the values they would have filled are
    unresolved and the Inventory lists a CollectionIssue for each. Only an
    unusable session (GetCallerIdentity fails) raises :class:`EcrguardError`.
    Pass ``stats`` to learn how many API calls were made.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    stats = stats if stats is not None else CallStats()
    clients = Clients(
        session, endpoint_url=endpoint_url, max_pool_connections=max_workers, stats=stats
    )
    home = session.region_name or (regions[0] if regions else _FALLBACK_REGION)
    identity = _identity(clients.get("sts", home))
    if regions is None:
        regions = _enabled_regions(clients.get("ec2", home))
    regions = list(dict.fromkeys(regions))
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ecrguard-aws") as pool:
        return _Run(pool, clients, identity, regions, home).inventory()


def enabled_regions(session: Any, endpoint_url: str | None = None) -> list[str]:
    """The regions enabled for the session's account (ec2:DescribeRegions)."""
    clients = Clients(session, endpoint_url=endpoint_url, max_pool_connections=1, stats=CallStats())
    return _enabled_regions(clients.get("ec2", session.region_name or _FALLBACK_REGION))


def _identity(client: Client) -> _Identity:
    result = attempt("sts:GetCallerIdentity", client.get_caller_identity)
    if isinstance(result, Failure):
        raise EcrguardError(f"cannot use these AWS credentials: {result.reason}")
    return _Identity(account=result["Account"], partition=result["Arn"].split(":")[1])


def _enabled_regions(client: Client) -> list[str]:
    result = attempt("ec2:DescribeRegions", lambda: ec2.get_enabled_regions(client))
    if isinstance(result, Failure):
        raise EcrguardError(
            f"cannot list the enabled regions ({result.reason}); name them with --region"
        )
    return result


class _Run:
    """One collection: schedules calls, then assembles the results."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        clients: Clients,
        identity: _Identity,
        regions: list[str],
        home: str,
    ) -> None:
        self._pool = pool
        self._clients = clients
        self._account = identity.account
        self._partition = identity.partition
        self._regions = regions
        self._home = home

    def _submit(
        self, operation: str, service: str, region: str, call: Callable[[Client], T]
    ) -> Future[T | Failure]:
        def run() -> T | Failure:
            return attempt(operation, lambda: call(self._clients.get(service, region)))

        return self._pool.submit(run)

    def inventory(self) -> Inventory:
        listings = {
            self._submit("ecr:DescribeRepositories", "ecr", r, ecr.get_repositories): r
            for r in self._regions
        }
        per_region = {r: self._region_calls(r) for r in self._regions}
        organization = self._pool.submit(self._organization)

        issues: list[CollectionIssue] = []
        pending: list[tuple[dict[str, Any], Future[Any], Future[Any]]] = []
        for done in as_completed(listings):
            region = listings[done]
            listing = done.result()
            if isinstance(listing, Failure):
                issues.append(self._issue(region, listing))
                continue
            for raw in listing:
                registry_id, name = raw["registryId"], raw["repositoryName"]
                policy = self._submit(
                    "ecr:GetRepositoryPolicy",
                    "ecr",
                    region,
                    partial(_with_client, ecr.get_repository_policy, registry_id, name),
                )
                lifecycle = self._submit(
                    "ecr:GetLifecyclePolicy",
                    "ecr",
                    region,
                    partial(_with_client, ecr.get_lifecycle_policy, registry_id, name),
                )
                pending.append((raw, policy, lifecycle))

        repositories = []
        for raw, policy_future, lifecycle_future in pending:
            policy, lifecycle = policy_future.result(), lifecycle_future.result()
            region = raw["repositoryArn"].split(":")[3]
            issues.extend(
                self._issue(region, r) for r in (policy, lifecycle) if isinstance(r, Failure)
            )
            repositories.append(ecr.transform_repository(raw, policy, lifecycle))
        repositories.sort(key=_repository_order)

        registries: list[Registry] = []
        templates: list[CreationTemplate] = []
        vpcs: list[Vpc] = []
        endpoints: list[VpcEndpoint] = []
        for region in self._regions:
            calls = {key: future.result() for key, future in per_region[region].items()}
            issues.extend(self._issue(region, r) for r in calls.values() if isinstance(r, Failure))
            registries.append(
                ecr.transform_registry(
                    self._account,
                    region,
                    self._partition,
                    policy=calls["policy"],
                    policy_scope=calls["policy_scope"],
                    scanning=calls["scanning"],
                    registry=calls["registry"],
                )
            )
            if not isinstance(calls["templates"], Failure):
                templates.extend(
                    ecr.transform_creation_template(t, self._account, region, self._partition)
                    for t in sorted(calls["templates"], key=lambda t: t["prefix"])
                )
            if not isinstance(calls["vpcs"], Failure):
                vpcs.extend(
                    ec2.transform_vpc(v, self._account, region, self._partition)
                    for v in sorted(calls["vpcs"], key=lambda v: v["VpcId"])
                )
            if not isinstance(calls["endpoints"], Failure):
                endpoints.extend(
                    ec2.transform_vpc_endpoint(e, self._account, region, self._partition)
                    for e in sorted(calls["endpoints"], key=lambda e: e["VpcEndpointId"])
                    if ec2.endpoint_in_service(e)
                )

        org, org_failures = organization.result()
        issues.extend(self._issue("global", f) for f in org_failures)
        return Inventory(
            repositories=tuple(repositories),
            registries=tuple(registries),
            creation_templates=tuple(templates),
            vpcs=tuple(vpcs),
            vpc_endpoints=tuple(endpoints),
            organization=org,
            issues=tuple(sorted(issues, key=lambda i: (i.scope, i.operation, i.reason))),
            scopes=tuple((self._account, r) for r in self._regions),
        )

    def _region_calls(self, region: str) -> dict[str, Future[Any]]:
        return {
            "policy": self._submit("ecr:GetRegistryPolicy", "ecr", region, ecr.get_registry_policy),
            "policy_scope": self._submit(
                "ecr:GetAccountSetting", "ecr", region, ecr.get_registry_policy_scope
            ),
            "scanning": self._submit(
                "ecr:GetRegistryScanningConfiguration",
                "ecr",
                region,
                ecr.get_registry_scanning_configuration,
            ),
            "registry": self._submit("ecr:DescribeRegistry", "ecr", region, ecr.get_registry),
            "templates": self._submit(
                "ecr:DescribeRepositoryCreationTemplates",
                "ecr",
                region,
                ecr.get_creation_templates,
            ),
            "vpcs": self._submit("ec2:DescribeVpcs", "ec2", region, ec2.get_vpcs),
            "endpoints": self._submit(
                "ec2:DescribeVpcEndpoints", "ec2", region, ec2.get_vpc_endpoints
            ),
        }

    def _organization(self) -> tuple[Organization | None, list[Failure]]:
        client = lambda: self._clients.get("organizations", self._home)  # noqa: E731
        described = attempt(
            "organizations:DescribeOrganization", lambda: organizations.get_organization(client())
        )
        if described is None:
            return None, []
        if isinstance(described, Failure):
            return None, [described]
        accounts = attempt(
            "organizations:ListAccounts", lambda: organizations.get_accounts(client())
        )
        failures = [accounts] if isinstance(accounts, Failure) else []
        return organizations.transform_organization(described, accounts), failures

    def _issue(self, region: str, failure: Failure) -> CollectionIssue:
        return CollectionIssue(
            scope=f"{self._account}/{region}", operation=failure.operation, reason=failure.reason
        )


def _with_client(
    get: Callable[[Client, str, str], T], registry_id: str, name: str, client: Client
) -> T:
    return get(client, registry_id, name)


def _repository_order(repository: Repository) -> tuple[str, str]:
    return (repository.region or "", repository.name.value or "")
