"""Terraform resources → the normalized model, for HCL and plan JSON alike.

Resources are read through :mod:`ecrguard.sources.terraform.reading`, which
the HCL evaluator and the plan JSON reader both implement, so each ``aws_*``
type is mapped here once. Each value's origin is the line of the attribute
that set it; attributes not written take the AWS default (from
:mod:`ecrguard.sources.defaults`) with the origin of their block. Policies
become JSON dicts, or unresolved as a whole when any piece of them is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from ecrguard.model import (
    CollectionIssue,
    CreationTemplate,
    EventRule,
    Inspector,
    Inventory,
    KmsKey,
    Origin,
    PolicyDoc,
    Registry,
    ReplicationDestination,
    ReplicationRule,
    Repository,
    ScanningRule,
    Sourced,
    State,
    Trail,
    Vpc,
    VpcEndpoint,
)
from ecrguard.sources import defaults
from ecrguard.sources.terraform.reading import Block, Instance
from ecrguard.sources.terraform.values import (
    JsonText,
    Unknown,
    depth_exceeds,
    number_text,
)

T = TypeVar("T")

_REGISTRY_TYPES = frozenset(
    {
        "aws_ecr_registry_policy",
        "aws_ecr_account_setting",
        "aws_ecr_registry_scanning_configuration",
        "aws_ecr_replication_configuration",
    }
)
# Every type the mapping reads; readers skip the rest without evaluating them.
WANTED = _REGISTRY_TYPES | {
    "aws_ecr_repository",
    "aws_ecr_repository_policy",
    "aws_ecr_lifecycle_policy",
    "aws_ecr_repository_creation_template",
    "aws_vpc",
    "aws_vpc_endpoint",
    "aws_kms_key",
    "aws_kms_alias",
    "aws_cloudtrail",
    "aws_cloudwatch_event_rule",
    "aws_cloudwatch_event_target",
    "aws_inspector2_enabler",
}
# Attributes the mapping reads of no type; readers may skip evaluating them
# (the HCL reader does: tags are merged maps on every resource of a real
# configuration). Meta-arguments are Terraform's, never a resource's settings.
UNREAD = frozenset(
    {"tags", "tags_all", "description", "count", "for_each", "depends_on", "provider"}
)
_UNDECLARED = "repository not declared in this configuration"
_REQUIRED: Any = object()


class _Bad(Exception):
    """A value of the wrong type for the model field."""


# -- converters: plain value → model value ----------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    raise _Bad(f"expected a string, got {type(value).__name__}")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _Bad(f"expected a bool, got {value!r}")


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Bad("expected a list of strings")
    return tuple(_text(v) for v in value)


def _document(what: str) -> Callable[[Any], dict[str, Any]]:
    def convert(value: Any) -> dict[str, Any]:
        doc = value
        if isinstance(value, JsonText):
            doc = value.decoded
        elif isinstance(value, str):
            try:
                doc = json.loads(value)
            except RecursionError:
                raise _Bad(f"{what} JSON is nested too deeply") from None
            except ValueError as err:
                raise _Bad(f"{what} is not valid JSON: {err}") from None
        if not isinstance(doc, dict):
            raise _Bad(f"{what} is not a JSON object")
        # Decoded text can nest deeper than anything resolve_deep lets through.
        if not isinstance(value, JsonText) and depth_exceeds(doc):
            raise _Bad(f"{what} JSON is nested too deeply")
        return doc

    return convert


_policy: Callable[[Any], PolicyDoc] = _document("policy")
_pattern = _document("event pattern")


# -- reading attributes into Sourced values ---------------------------------


class _Reader:
    """Reads the attributes of one resource instance as Sourced values."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.origin = Origin(inst.address, inst.file, inst.line)

    def value(
        self,
        name: str,
        default: Any,
        convert: Callable[[Any], T],
        block: Block | None = None,
        origin: Origin | None = None,
        required: bool = False,
    ) -> Sourced[Any]:
        block = block if block is not None else self.inst.body
        origin = origin or self.origin
        found = block.attr(name)
        if found is None:
            if required:
                return Sourced.unresolved(origin, f"{name} is not set")
            return Sourced.default(default, origin)
        at = origin.at(found.line)
        value = found.value
        if isinstance(value, Unknown):
            return Sourced.unresolved(at, value.reason)
        if value is None:
            return Sourced.default(default, at)
        try:
            return Sourced.set(convert(value), at)
        except _Bad as bad:
            return Sourced.unresolved(at, f"{name}: {bad}")

    def blocks(self, name: str, block: Block | None = None) -> list[Block] | Unknown:
        return (block if block is not None else self.inst.body).blocks(name)

    def encryption(self) -> tuple[Sourced[str], Sourced[str | None]]:
        found = self.blocks("encryption_configuration")
        if isinstance(found, Unknown):
            return (
                Sourced.unresolved(self.origin, found.reason),
                Sourced.unresolved(self.origin, found.reason),
            )
        if not found:
            return (
                Sourced.default(defaults.ENCRYPTION_TYPE, self.origin),
                Sourced.default(None, self.origin),
            )
        block = found[0]
        at = self.origin.at(block.line)
        return (
            self.value("encryption_type", defaults.ENCRYPTION_TYPE, _text, block, at),
            self.value("kms_key", None, _key_ref, block, at),
        )

    def collect(self, block_name: str, read: Callable[[Block], T]) -> Sourced[tuple[T, ...]]:
        """Repeated blocks as one tuple: set if every piece resolves, else unresolved."""
        found = self.blocks(block_name)
        if isinstance(found, Unknown):
            return Sourced.unresolved(self.origin, found.reason)
        if not found:
            return Sourced.default((), self.origin)
        at = self.origin.at(found[0].line)
        try:
            return Sourced.set(tuple(read(b) for b in found), at)
        except _Unresolved as err:
            return Sourced.unresolved(err.origin or at, err.reason)

    def need(
        self, name: str, convert: Callable[[Any], T], nested: Block, default: Any = _REQUIRED
    ) -> T:
        """An attribute inside a repeated block, which must resolve (or take ``default``)."""
        got = self.value(
            name,
            None if default is _REQUIRED else default,
            convert,
            nested,
            self.origin.at(nested.line),
            required=default is _REQUIRED,
        )
        if not got.resolved:
            raise _Unresolved(got.reason, got.origin)
        return got.value  # type: ignore[return-value]

    def inner(self, name: str, nested: Block) -> list[Block]:
        found = self.blocks(name, nested)
        if isinstance(found, Unknown):
            raise _Unresolved(found.reason, self.origin.at(nested.line))
        return found


def _key_ref(value: Any) -> str | None:
    # The provider reports an AES256 repository's key as "": no key at all.
    text = _text(value)
    return text or None


class _Unresolved(Exception):
    def __init__(self, reason: str, origin: Origin | None = None) -> None:
        self.reason = reason
        self.origin = origin


# -- the walk ----------------------------------------------------------------------


class Mapped:
    """Model objects gathered from any number of root modules or plans."""

    def __init__(self) -> None:
        self.repositories: list[Repository] = []
        self.registries: list[Registry] = []
        self.creation_templates: list[CreationTemplate] = []
        self.vpcs: list[Vpc] = []
        self.vpc_endpoints: list[VpcEndpoint] = []
        self.event_rules: list[EventRule] = []
        self.kms_keys: list[KmsKey] = []
        self.trails: list[Trail] = []

    def inventory(self, issues: Iterable[CollectionIssue]) -> Inventory:
        return Inventory(
            repositories=tuple(self.repositories),
            registries=tuple(self.registries),
            creation_templates=tuple(self.creation_templates),
            vpcs=tuple(self.vpcs),
            vpc_endpoints=tuple(self.vpc_endpoints),
            event_rules=tuple(self.event_rules),
            kms_keys=tuple(self.kms_keys),
            trails=tuple(self.trails),
            issues=tuple(issues),
            scopes=((None, None),),
        )


def map_instances(instances: Iterable[Instance], out: Mapped) -> None:
    """Add one root module's (or one plan's) resource instances to ``out``."""
    by_type: dict[str, list[Instance]] = {}
    for inst in instances:
        by_type.setdefault(inst.type, []).append(inst)

    def of(type_: str) -> list[Instance]:
        return by_type.get(type_, [])

    out.repositories.extend(
        _repositories(
            of("aws_ecr_repository"),
            of("aws_ecr_repository_policy"),
            of("aws_ecr_lifecycle_policy"),
        )
    )
    enablers = _ecr_enablers(of("aws_inspector2_enabler"))
    if enablers or any(t in by_type for t in _REGISTRY_TYPES):
        out.registries.append(_registry(by_type, enablers))
    out.creation_templates.extend(
        _creation_template(i) for i in of("aws_ecr_repository_creation_template")
    )
    out.vpcs.extend(_vpc(i) for i in of("aws_vpc"))
    out.vpc_endpoints.extend(_endpoint(i) for i in of("aws_vpc_endpoint"))
    out.kms_keys.extend(_kms_keys(of("aws_kms_key"), of("aws_kms_alias")))
    out.trails.extend(_trail(i) for i in of("aws_cloudtrail"))
    out.event_rules.extend(
        _event_rules(of("aws_cloudwatch_event_rule"), of("aws_cloudwatch_event_target"))
    )


# -- repositories ------------------------------------------------------------------


def _repositories(
    repos: list[Instance], policies: list[Instance], lifecycles: list[Instance]
) -> list[Repository]:
    readers = {inst.address: _Reader(inst) for inst in repos}
    names = {addr: r.value("name", None, _text, required=True) for addr, r in readers.items()}
    by_name: dict[str, str] = {}
    for addr, name in names.items():
        if name.resolved and name.value is not None:
            by_name.setdefault(name.value, addr)

    attached: dict[str, dict[str, Sourced[Any]]] = {addr: {} for addr in readers}
    # Policies for repositories this configuration does not declare, keyed by name or address.
    orphans: dict[str, dict[str, Any]] = {}
    for kind, found in (("policy", policies), ("lifecycle", lifecycles)):
        for inst in found:
            reader = _Reader(inst)
            doc = reader.value("policy", None, _policy, required=True)
            target, name = _target(reader, by_name, readers)
            if target is not None:
                attached[target].setdefault(kind, doc)
                continue
            key = name.value if name.resolved and name.value else inst.address
            entry = orphans.setdefault(key, {"reader": reader, "name": name})
            entry.setdefault(kind, doc)

    out = []
    for addr, reader in readers.items():
        out.append(_repository(reader, names[addr], attached[addr]))
    for entry in orphans.values():
        out.append(_undeclared_repository(entry["reader"], entry["name"], entry))
    return out


def _target(
    reader: _Reader, by_name: dict[str, str], readers: dict[str, _Reader]
) -> tuple[str | None, Sourced[str]]:
    """Which declared repository a policy resource's ``repository`` points at."""
    address = reader.inst.body.reference("repository", "aws_ecr_repository", ("name", "id"))
    name = reader.value("repository", None, _text, required=True)
    if address is not None and address in readers:
        return address, name
    if name.resolved and name.value in by_name:
        return by_name[name.value], name
    return None, name


def _repository(
    reader: _Reader, name: Sourced[str], attached: dict[str, Sourced[Any]]
) -> Repository:
    inst, origin = reader.inst, reader.origin
    encryption_type, kms_key = reader.encryption()
    scanning = reader.blocks("image_scanning_configuration")
    if isinstance(scanning, Unknown):
        scan_on_push: Sourced[bool] = Sourced.unresolved(origin, scanning.reason)
    elif scanning:
        block = scanning[0]
        scan_on_push = reader.value(
            "scan_on_push", defaults.SCAN_ON_PUSH, _flag, block, origin.at(block.line)
        )
    else:
        scan_on_push = Sourced.default(defaults.SCAN_ON_PUSH, origin)
    return Repository(
        id=inst.address,
        origin=origin,
        account=inst.account,
        region=inst.region,
        name=name,
        policy=attached.get("policy") or Sourced.default(None, origin),
        tag_mutability=reader.value("image_tag_mutability", defaults.TAG_MUTABILITY, _text),
        mutability_exclusions=reader.collect(
            "image_tag_mutability_exclusion_filter", lambda b: reader.need("filter", _text, b)
        ),
        encryption_type=encryption_type,
        kms_key=kms_key,
        scan_on_push=scan_on_push,
        lifecycle_policy=attached.get("lifecycle") or Sourced.default(None, origin),
        force_delete=reader.value("force_delete", defaults.FORCE_DELETE, _flag),
    )


def _undeclared_repository(
    reader: _Reader, name: Sourced[str], entry: dict[str, Any]
) -> Repository:
    origin = reader.origin
    missing: Sourced[Any] = Sourced.unresolved(origin, _UNDECLARED)
    return Repository(
        id=reader.inst.address,
        origin=origin,
        account=reader.inst.account,
        region=reader.inst.region,
        name=name,
        policy=entry.get("policy") or missing,
        tag_mutability=missing,
        mutability_exclusions=missing,
        encryption_type=missing,
        kms_key=missing,
        scan_on_push=missing,
        lifecycle_policy=entry.get("lifecycle") or missing,
        force_delete=missing,
    )


# -- registry ----------------------------------------------------------------------


def _ecr_enablers(enablers: list[Instance]) -> list[tuple[Instance, Sourced[tuple[str, ...]]]]:
    """Inspector enablers that turn on (or may turn on) ECR scanning."""
    out = []
    for inst in enablers:
        types = _Reader(inst).value("resource_types", None, _texts, required=True)
        if not types.resolved or "ECR" in (types.value or ()):
            out.append((inst, types))
    return out


def _registry(
    by_type: dict[str, list[Instance]],
    enablers: list[tuple[Instance, Sourced[tuple[str, ...]]]],
) -> Registry:
    parts = [i for t in _REGISTRY_TYPES for i in by_type.get(t, [])]
    parts.extend(inst for inst, _ in enablers)
    first = min(parts, key=lambda i: (i.order, i.address))
    origin = _Reader(first).origin

    policies = by_type.get("aws_ecr_registry_policy", [])
    policy = (
        _Reader(policies[0]).value("policy", None, _policy, required=True)
        if policies
        else Sourced.default(None, origin)
    )

    scope: Sourced[str] = Sourced.default(defaults.POLICY_SCOPE, origin)
    for inst in by_type.get("aws_ecr_account_setting", []):
        reader = _Reader(inst)
        setting = reader.value("name", None, _text, required=True)
        if not setting.resolved:
            scope = Sourced.unresolved(setting.origin, f"account setting name: {setting.reason}")
        elif setting.value == "REGISTRY_POLICY_SCOPE":
            scope = reader.value("value", defaults.POLICY_SCOPE, _text, required=True)
            break

    scans = by_type.get("aws_ecr_registry_scanning_configuration", [])
    if scans:
        reader = _Reader(scans[0])
        scan_type = reader.value("scan_type", None, _text, required=True)
        rules = reader.collect("rule", lambda b: _scanning_rule(reader, b))
    else:
        scan_type = Sourced.default(defaults.SCAN_TYPE, origin)
        rules = Sourced.default((), origin)

    replications = by_type.get("aws_ecr_replication_configuration", [])
    replication: Sourced[tuple[ReplicationRule, ...]] = Sourced.default((), origin)
    if replications:
        replication = _replication(_Reader(replications[0]))

    return Registry(
        id=first.address,
        origin=origin,
        account=first.account,
        region=first.region,
        policy=policy,
        policy_scope=scope,
        scan_type=scan_type,
        scanning_rules=rules,
        replication_rules=replication,
        inspector=_inspector(enablers),
    )


def _inspector(
    enablers: list[tuple[Instance, Sourced[tuple[str, ...]]]],
) -> Sourced[Inspector] | None:
    if not enablers:
        return None
    for _, types in enablers:
        if types.resolved:
            # No Terraform resource sets the rescan durations: they stay unknown (None).
            return Sourced.set(Inspector("ENABLED", None, None), types.origin)
    _, types = enablers[0]
    return Sourced.unresolved(types.origin, f"resource_types: {types.reason}")


def _scanning_rule(reader: _Reader, block: Block) -> ScanningRule:
    filters = tuple(
        reader.need("filter", _text, f) for f in reader.inner("repository_filter", block)
    )
    return ScanningRule(frequency=reader.need("scan_frequency", _text, block), filters=filters)


def _replication(reader: _Reader) -> Sourced[tuple[ReplicationRule, ...]]:
    found = reader.blocks("replication_configuration")
    if isinstance(found, Unknown):
        return Sourced.unresolved(reader.origin, found.reason)
    if not found:
        return Sourced.set((), reader.origin)
    config = found[0]
    at = reader.origin.at(config.line)
    try:
        rules = tuple(
            ReplicationRule(
                destinations=tuple(
                    ReplicationDestination(
                        region=reader.need("region", _text, d),
                        registry_id=reader.need("registry_id", _text, d),
                    )
                    for d in reader.inner("destination", rule)
                ),
                filters=tuple(
                    reader.need("filter", _text, f) for f in reader.inner("repository_filter", rule)
                ),
            )
            for rule in reader.inner("rule", config)
        )
    except _Unresolved as err:
        return Sourced.unresolved(err.origin or at, err.reason)
    return Sourced.set(rules, at)


# -- creation templates and VPCs ----------------------------------------------------


def _creation_template(inst: Instance) -> CreationTemplate:
    reader = _Reader(inst)
    encryption_type, kms_key = reader.encryption()
    return CreationTemplate(
        id=inst.address,
        origin=reader.origin,
        account=inst.account,
        region=inst.region,
        prefix=reader.value("prefix", None, _text, required=True),
        applied_for=reader.value("applied_for", (), _texts, required=True),
        policy=reader.value("repository_policy", None, _policy),
        tag_mutability=reader.value("image_tag_mutability", defaults.TAG_MUTABILITY, _text),
        encryption_type=encryption_type,
        kms_key=kms_key,
        lifecycle_policy=reader.value("lifecycle_policy", None, _policy),
    )


def _vpc(inst: Instance) -> Vpc:
    reader = _Reader(inst)
    return Vpc(
        id=inst.address,
        origin=reader.origin,
        account=inst.account,
        region=inst.region,
        vpc_id=Sourced.set(inst.address, reader.origin),
    )


def _endpoint(inst: Instance) -> VpcEndpoint:
    reader = _Reader(inst)
    return VpcEndpoint(
        id=inst.address,
        origin=reader.origin,
        account=inst.account,
        region=inst.region,
        vpc_id=reader.value("vpc_id", None, _text, required=True),
        service_name=reader.value("service_name", None, _text, required=True),
        endpoint_type=reader.value("vpc_endpoint_type", defaults.ENDPOINT_TYPE, _text),
        policy=reader.value("policy", None, _policy),
    )


# -- KMS keys, trails and EventBridge rules ------------------------------------------


def _kms_keys(keys: list[Instance], aliases: list[Instance]) -> list[KmsKey]:
    addresses = {k.address for k in keys}
    named: dict[str, list[Sourced[str]]] = {}
    for inst in aliases:
        reader = _Reader(inst)
        target = inst.body.reference("target_key_id", "aws_kms_key", ("key_id", "arn", "id"))
        if target is None:
            # A key in this configuration stands in by its address for the id AWS assigns.
            value = reader.value("target_key_id", None, _text, required=True)
            target = value.value if value.resolved else None
        if target in addresses:
            named.setdefault(target, []).append(reader.value("name", None, _text, required=True))

    out = []
    for inst in keys:
        reader = _Reader(inst)
        origin = reader.origin
        found = named.get(inst.address, [])
        aliases_value: Sourced[tuple[str, ...]] = Sourced.default((), origin)
        missing = next((n for n in found if not n.resolved), None)
        if missing is not None:
            aliases_value = Sourced.unresolved(missing.origin, f"alias {missing.reason}")
        elif found:
            aliases_value = Sourced.set(tuple(n.get() for n in found), found[0].origin)
        out.append(
            KmsKey(
                id=inst.address,
                origin=origin,
                account=inst.account,
                region=inst.region,
                # The address stands in for the key id, as it does in references (computed.py).
                key_id=Sourced.set(inst.address, origin),
                aliases=aliases_value,
                manager=Sourced.set(defaults.KEY_MANAGER, origin),
                rotation=reader.value("enable_key_rotation", defaults.KEY_ROTATION, _flag),
                # None is the AWS default key policy (the account root may use the key).
                policy=reader.value("policy", None, _policy),
            )
        )
    return out


def _trail(inst: Instance) -> Trail:
    reader = _Reader(inst)
    return Trail(
        id=inst.address,
        origin=reader.origin,
        account=inst.account,
        region=inst.region,
        name=reader.value("name", None, _text, required=True),
        multi_region=reader.value("is_multi_region_trail", defaults.TRAIL_MULTI_REGION, _flag),
        logging=reader.value("enable_logging", defaults.TRAIL_LOGGING, _flag),
        log_validation=reader.value(
            "enable_log_file_validation", defaults.TRAIL_LOG_VALIDATION, _flag
        ),
        management_events=_management_events(reader),
        bucket=reader.value("s3_bucket_name", None, _text),
    )


def _management_events(reader: _Reader) -> Sourced[bool]:
    basic = reader.blocks("event_selector")
    advanced = reader.blocks("advanced_event_selector")
    for found in (basic, advanced):
        if isinstance(found, Unknown):
            return Sourced.unresolved(reader.origin, found.reason)
    assert not isinstance(basic, Unknown) and not isinstance(advanced, Unknown)
    if not basic and not advanced:
        return Sourced.default(defaults.records_management_writes((), ()), reader.origin)
    at = reader.origin.at((basic or advanced)[0].line)
    try:
        selectors = [
            (
                reader.need(
                    "include_management_events", _flag, b, defaults.SELECTOR_MANAGEMENT_EVENTS
                ),
                reader.need("read_write_type", _text, b, defaults.SELECTOR_READ_WRITE),
            )
            for b in basic
        ]
        fields = [
            [
                (reader.need("field", _text, f), reader.need("equals", _texts, f, ()))
                for f in reader.inner("field_selector", a)
            ]
            for a in advanced
        ]
    except _Unresolved as err:
        return Sourced.unresolved(err.origin or at, err.reason)
    return Sourced.set(defaults.records_management_writes(selectors, fields), at)


def _event_rules(rules: list[Instance], targets: list[Instance]) -> list[EventRule]:
    readers = {inst.address: _Reader(inst) for inst in rules}
    names = {addr: r.value("name", None, _text, required=True) for addr, r in readers.items()}
    by_name: dict[str, str] = {}
    for addr, name in names.items():
        if name.resolved and name.value is not None:
            by_name.setdefault(name.value, addr)

    attached: dict[str, list[Instance]] = {addr: [] for addr in readers}
    # A target whose rule cannot be worked out might belong to any rule.
    unplaced: Sourced[str] | None = None
    for inst in targets:
        target = inst.body.reference("rule", "aws_cloudwatch_event_rule", ("name", "id", "arn"))
        if target not in attached:
            rule = _Reader(inst).value("rule", None, _text, required=True)
            if rule.resolved:
                target = by_name.get(rule.get())
            elif unplaced is None:
                unplaced = rule
        if target is not None and target in attached:
            attached[target].append(inst)

    out = []
    for addr, reader in readers.items():
        origin = reader.origin
        found = attached[addr]
        if found:
            first = found[0]
            targets_value: Sourced[tuple[str, ...]] = Sourced.set(
                tuple(t.address for t in found), Origin(first.address, first.file, first.line)
            )
        elif unplaced is not None:
            targets_value = Sourced.unresolved(
                unplaced.origin, f"a target's rule is not known: {unplaced.reason}"
            )
        else:
            targets_value = Sourced.default((), origin)
        out.append(
            EventRule(
                id=addr,
                origin=origin,
                account=reader.inst.account,
                region=reader.inst.region,
                name=names[addr],
                pattern=reader.value("event_pattern", None, _pattern),
                state=_rule_state(reader),
                targets=targets_value,
            )
        )
    return out


def _rule_state(reader: _Reader) -> Sourced[str]:
    state = reader.value("state", defaults.EVENT_RULE_STATE, _text)
    if state.state is not State.DEFAULT:
        return state
    # is_enabled is the deprecated spelling of state.
    enabled = reader.value("is_enabled", None, _flag)
    if not enabled.resolved:
        return Sourced.unresolved(enabled.origin, enabled.reason)
    if enabled.state is State.SET:
        return Sourced.set("ENABLED" if enabled.value else "DISABLED", enabled.origin)
    return state
