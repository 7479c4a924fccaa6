"""Collect one account's ECR configuration, across regions, into an Inventory.

Calls run on a bounded thread pool. The calling thread only schedules: as
each listing completes it queues the calls that depend on it (a region's
repositories, its event rules' targets, its keys, each trail's status), so no
worker ever waits on another worker's task.

The calls (pages count as calls; only Describe*/Get*/List* are ever made):

- once: GetCallerIdentity, DescribeOrganization, ListAccounts;
- per region, always (12): DescribeRepositories, GetRegistryPolicy,
  GetAccountSetting(REGISTRY_POLICY_SCOPE), GetRegistryScanningConfiguration,
  DescribeRegistry, DescribeRepositoryCreationTemplates, DescribeVpcs,
  DescribeVpcEndpoints, inspector2 BatchGetAccountStatus and GetConfiguration,
  events ListRules, cloudtrail DescribeTrails. DescribeTrails runs in every
  region rather than once: a single-region trail is invisible from others;
  shadow copies of multi-region trails are merged by ARN;
- per region, by configuration: ListTargetsByRule for each rule whose pattern
  could match ECR or Inspector events; when repositories or templates use KMS,
  ListAliases once and DescribeKey per distinct key (plus alias/aws/ecr when
  one names no key), then GetKeyPolicy, and GetKeyRotationStatus for customer
  keys;
- per trail: GetTrailStatus and GetEventSelectors, in its home region;
- per repository: GetRepositoryPolicy, GetLifecyclePolicy and DescribeImages
  (3 calls), and DescribeImageScanFindings only when the newest image counts
  CRITICAL or HIGH findings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ecrguard.errors import EcrguardError
from ecrguard.model import (
    CollectionIssue,
    CreationTemplate,
    EventRule,
    Inventory,
    KmsKey,
    Organization,
    Origin,
    Registry,
    Repository,
    Trail,
    Vpc,
    VpcEndpoint,
)
from ecrguard.sources.aws import cloudtrail, ec2, ecr, events, inspector, kms, organizations
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
    "ecr:DescribeImages",
    "ecr:DescribeImageScanFindings",
    "inspector2:BatchGetAccountStatus",
    "inspector2:GetConfiguration",
    "events:ListRules",
    "events:ListTargetsByRule",
    "kms:ListAliases",
    "kms:DescribeKey",
    "kms:GetKeyRotationStatus",
    "kms:GetKeyPolicy",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:GetEventSelectors",
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
)
_KMS_TYPES = ("KMS", "KMS_DSSE")
# Calls are network-bound: threads wait on AWS, not on the CPU, so the pool is
# sized for latency (about 3 calls per repository at ~50 ms each), not for cores.
DEFAULT_WORKERS = 32
Progress = Callable[[int, int], None]
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
    max_workers: int = DEFAULT_WORKERS,
    stats: CallStats | None = None,
    progress: Progress | None = None,
) -> Inventory:
    """Read the account behind ``session`` in ``regions`` (default: all enabled).

    Denied or failing calls never raise: the values they would have filled are
    unresolved and the Inventory lists a CollectionIssue for each. Only an
    unusable session (GetCallerIdentity fails) raises :class:`EcrguardError`.
    Pass ``stats`` to learn how many API calls were made, and ``progress`` to
    hear ``(finished, scheduled)`` task counts as they change (from worker
    threads; ``scheduled`` grows as listings reveal more to read).
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
        return _Run(pool, clients, identity, regions, home, progress).inventory()


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


@dataclass
class _RegionKeys:
    """The KMS keys a region's repositories and templates name, once both are listed."""

    refs: dict[str, None] = field(default_factory=dict)  # ordered set
    listings_left: int = 2


@dataclass(frozen=True, slots=True)
class _Key:
    described: dict[str, Any] | Failure
    rotation: bool | Failure | None
    policy: str | Failure | None


class _Run:
    """One collection: schedules calls, then assembles the results."""

    def __init__(
        self,
        pool: ThreadPoolExecutor,
        clients: Clients,
        identity: _Identity,
        regions: list[str],
        home: str,
        progress: Progress | None = None,
    ) -> None:
        self._pool = pool
        self._progress = progress
        self._scheduled = 0
        self._finished = 0
        self._count_lock = threading.Lock()
        self._clients = clients
        self._account = identity.account
        self._partition = identity.partition
        self._regions = regions
        self._home = home
        # Futures whose results queue more calls, and what to do with each.
        self._waiting: dict[Future[Any], Callable[[Any], None]] = {}
        self._repositories: list[tuple[dict[str, Any], Future[Any], Future[Any], Future[Any]]] = []
        self._rules: list[tuple[str, dict[str, Any], Future[Any]]] = []
        self._keys: dict[str, _RegionKeys] = {r: _RegionKeys() for r in regions}
        self._aliases: dict[str, Future[Any]] = {}  # region -> ListAliases
        self._key_calls: list[tuple[str, Future[Any]]] = []
        self._trails: dict[str, tuple[dict[str, Any], Future[Any], Future[Any]]] = {}
        self._issues: list[CollectionIssue] = []

    def _submit(
        self, operation: str, service: str, region: str, call: Callable[[Client], T]
    ) -> Future[T | Failure]:
        def run() -> T | Failure:
            return attempt(operation, lambda: call(self._clients.get(service, region)))

        return self._spawn(run)

    def _spawn(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on the pool, counted for progress."""
        future = self._pool.submit(fn, *args)
        if self._progress is not None:
            with self._count_lock:
                self._scheduled += 1
            future.add_done_callback(self._one_finished)
        return future

    def _one_finished(self, _: Future[Any]) -> None:
        assert self._progress is not None
        with self._count_lock:
            self._finished += 1
            finished, scheduled = self._finished, self._scheduled
        self._progress(finished, scheduled)

    def _then(self, future: Future[Any], handler: Callable[[Any], None]) -> Future[Any]:
        self._waiting[future] = handler
        return future

    def inventory(self) -> Inventory:
        per_region = {r: self._region_calls(r) for r in self._regions}
        organization = self._spawn(self._organization)
        while self._waiting:
            done, _ = wait(self._waiting, return_when=FIRST_COMPLETED)
            for future in done:
                self._waiting.pop(future)(future.result())

        repositories = sorted(
            (self._repository(*parts) for parts in self._repositories), key=_repository_order
        )
        registries: list[Registry] = []
        templates: list[CreationTemplate] = []
        vpcs: list[Vpc] = []
        endpoints: list[VpcEndpoint] = []
        for region in self._regions:
            calls = {key: future.result() for key, future in per_region[region].items()}
            self._note(region, *calls.values())
            registries.append(self._registry(region, calls))
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
        self._note("global", *org_failures)
        return Inventory(
            repositories=tuple(repositories),
            registries=tuple(registries),
            creation_templates=tuple(templates),
            vpcs=tuple(vpcs),
            vpc_endpoints=tuple(endpoints),
            event_rules=self._event_rules(),
            kms_keys=self._kms_keys(),
            trails=self._trail_list(),
            organization=org,
            issues=tuple(sorted(self._issues, key=lambda i: (i.scope, i.operation, i.reason))),
            scopes=tuple((self._account, r) for r in self._regions),
        )

    def _region_calls(self, region: str) -> dict[str, Future[Any]]:
        def submit(operation: str, service: str, call: Callable[[Client], Any]) -> Future[Any]:
            return self._submit(operation, service, region, call)

        self._then(
            submit("ecr:DescribeRepositories", "ecr", ecr.get_repositories),
            lambda listing: self._listed_repositories(region, listing),
        )
        self._then(
            submit("events:ListRules", "events", events.get_rules),
            lambda listing: self._listed_rules(region, listing),
        )
        self._then(
            submit("cloudtrail:DescribeTrails", "cloudtrail", cloudtrail.get_trails),
            lambda listing: self._listed_trails(region, listing),
        )
        templates = self._then(
            submit("ecr:DescribeRepositoryCreationTemplates", "ecr", ecr.get_creation_templates),
            lambda listing: self._listed_templates(region, listing),
        )
        return {
            "policy": submit("ecr:GetRegistryPolicy", "ecr", ecr.get_registry_policy),
            "policy_scope": submit("ecr:GetAccountSetting", "ecr", ecr.get_registry_policy_scope),
            "scanning": submit(
                "ecr:GetRegistryScanningConfiguration",
                "ecr",
                ecr.get_registry_scanning_configuration,
            ),
            "registry": submit("ecr:DescribeRegistry", "ecr", ecr.get_registry),
            "templates": templates,
            "vpcs": submit("ec2:DescribeVpcs", "ec2", ec2.get_vpcs),
            "endpoints": submit("ec2:DescribeVpcEndpoints", "ec2", ec2.get_vpc_endpoints),
            "inspector_status": submit(
                "inspector2:BatchGetAccountStatus",
                "inspector2",
                _with(inspector.get_account_status, self._account),
            ),
            "inspector_configuration": submit(
                "inspector2:GetConfiguration", "inspector2", inspector.get_configuration
            ),
        }

    # -- repositories, their images and their keys

    def _listed_repositories(self, region: str, listing: list[dict[str, Any]] | Failure) -> None:
        if isinstance(listing, Failure):
            self._note(region, listing)
            listing = []
        for raw in listing:
            registry_id, name = raw["registryId"], raw["repositoryName"]
            self._repositories.append(
                (
                    raw,
                    self._submit(
                        "ecr:GetRepositoryPolicy",
                        "ecr",
                        region,
                        _with(ecr.get_repository_policy, registry_id, name),
                    ),
                    self._submit(
                        "ecr:GetLifecyclePolicy",
                        "ecr",
                        region,
                        _with(ecr.get_lifecycle_policy, registry_id, name),
                    ),
                    self._spawn(self._newest_image, region, registry_id, name),
                )
            )
            self._want_key(region, raw.get("encryptionConfiguration"))
        self._key_listing_done(region)

    def _newest_image(self, region: str, registry_id: str, name: str) -> tuple[Any, Any]:
        """The newest image, and its findings when it has serious ones.

        Both calls run in this one task, one after the other: whether the second
        is needed depends on the first's answer.
        """
        client = self._clients.get("ecr", region)
        newest = attempt(
            "ecr:DescribeImages", lambda: ecr.get_newest_image(client, registry_id, name)
        )
        if not isinstance(newest, dict) or not ecr.serious_findings(newest):
            return newest, None
        findings = attempt(
            "ecr:DescribeImageScanFindings",
            lambda: ecr.get_image_findings(client, registry_id, name, newest["imageDigest"]),
        )
        return newest, findings

    def _repository(
        self,
        raw: dict[str, Any],
        policy_future: Future[Any],
        lifecycle_future: Future[Any],
        image_future: Future[Any],
    ) -> Repository:
        policy, lifecycle = policy_future.result(), lifecycle_future.result()
        newest, findings = image_future.result()
        self._note(raw["repositoryArn"].split(":")[3], policy, lifecycle, newest, findings)
        return ecr.transform_repository(raw, policy, lifecycle, newest, findings)

    def _listed_templates(self, region: str, listing: list[dict[str, Any]] | Failure) -> None:
        for raw in listing if not isinstance(listing, Failure) else ():
            self._want_key(region, raw.get("encryptionConfiguration"))
        self._key_listing_done(region)

    def _want_key(self, region: str, encryption: dict[str, Any] | None) -> None:
        encryption = encryption or {}
        if encryption.get("encryptionType") in _KMS_TYPES:
            ref = encryption.get("kmsKey") or kms.AWS_MANAGED_ECR_KEY
            self._keys[region].refs[ref] = None

    def _key_listing_done(self, region: str) -> None:
        keys = self._keys[region]
        keys.listings_left -= 1
        if keys.listings_left or not keys.refs:
            return
        self._aliases[region] = self._submit("kms:ListAliases", "kms", region, kms.get_aliases)
        for ref in keys.refs:
            self._key_calls.append((region, self._spawn(self._key, region, ref)))

    def _key(self, region: str, ref: str) -> _Key:
        client = self._clients.get("kms", region)
        described = attempt("kms:DescribeKey", lambda: kms.get_key(client, ref))
        if isinstance(described, Failure):
            return _Key(described, None, None)
        key_id = described["KeyId"]
        rotation = (
            attempt("kms:GetKeyRotationStatus", lambda: kms.get_rotation(client, key_id))
            if described.get("KeyManager") == "CUSTOMER"
            else None
        )
        policy = attempt("kms:GetKeyPolicy", lambda: kms.get_key_policy(client, key_id))
        return _Key(described, rotation, policy)

    def _kms_keys(self) -> tuple[KmsKey, ...]:
        aliases = {region: future.result() for region, future in self._aliases.items()}
        for region, listed in aliases.items():
            self._note(region, listed)
        keys: dict[str, KmsKey] = {}
        for region, future in self._key_calls:
            key = future.result()
            self._note(region, key.described, key.rotation, key.policy)
            if isinstance(key.described, Failure) or key.described["Arn"] in keys:
                continue  # unreadable, or a second name for a key already read
            assert key.policy is not None
            keys[key.described["Arn"]] = kms.transform_kms_key(
                key.described, key.rotation, key.policy, aliases[region]
            )
        return tuple(sorted(keys.values(), key=lambda k: (k.region or "", k.id)))

    # -- event rules

    def _listed_rules(self, region: str, listing: list[dict[str, Any]] | Failure) -> None:
        if isinstance(listing, Failure):
            self._note(region, listing)
            return
        for raw in listing:
            if events.may_match_scan_events(raw):
                targets = self._submit(
                    "events:ListTargetsByRule",
                    "events",
                    region,
                    _with(events.get_targets, raw["Name"]),
                )
                self._rules.append((region, raw, targets))

    def _event_rules(self) -> tuple[EventRule, ...]:
        rules = []
        for region, raw, future in self._rules:
            targets = future.result()
            self._note(region, targets)
            rules.append(events.transform_event_rule(raw, targets, self._account, region))
        return tuple(sorted(rules, key=lambda r: (r.region or "", r.id)))

    # -- trails

    def _listed_trails(self, region: str, listing: list[dict[str, Any]] | Failure) -> None:
        if isinstance(listing, Failure):
            self._note(region, listing)
            return
        for raw in listing:
            arn = raw["TrailARN"]
            if arn in self._trails:
                continue  # the shadow of a multi-region trail already seen
            home = raw.get("HomeRegion") or arn.split(":")[3]
            self._trails[arn] = (
                raw,
                self._submit(
                    "cloudtrail:GetTrailStatus",
                    "cloudtrail",
                    home,
                    _with(cloudtrail.get_trail_status, arn),
                ),
                self._submit(
                    "cloudtrail:GetEventSelectors",
                    "cloudtrail",
                    home,
                    _with(cloudtrail.get_event_selectors, arn),
                ),
            )

    def _trail_list(self) -> tuple[Trail, ...]:
        trails = []
        for arn, (raw, status_future, selectors_future) in sorted(self._trails.items()):
            status, selectors = status_future.result(), selectors_future.result()
            self._note(raw.get("HomeRegion") or arn.split(":")[3], status, selectors)
            trails.append(cloudtrail.transform_trail(raw, status, selectors))
        return tuple(trails)

    # -- the registry and the organization

    def _registry(self, region: str, calls: dict[str, Any]) -> Registry:
        arn = ecr.registry_arn(self._partition, region, self._account)
        return ecr.transform_registry(
            self._account,
            region,
            self._partition,
            policy=calls["policy"],
            policy_scope=calls["policy_scope"],
            scanning=calls["scanning"],
            registry=calls["registry"],
            inspector=inspector.transform_inspector(
                self._account,
                calls["inspector_status"],
                calls["inspector_configuration"],
                Origin(arn),
            ),
        )

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

    def _note(self, region: str, *results: Any) -> None:
        """Record an issue for each result that is a Failure."""
        for result in results:
            if isinstance(result, Failure):
                self._issues.append(
                    CollectionIssue(
                        scope=f"{self._account}/{region}",
                        operation=result.operation,
                        reason=result.reason,
                    )
                )


def _with(get: Callable[..., T], *args: Any) -> Callable[[Client], T]:
    """``get`` with its arguments after the client bound now, for a later call."""
    return lambda client: get(client, *args)


def _repository_order(repository: Repository) -> tuple[str, str]:
    return (repository.region or "", repository.name.value or "")
