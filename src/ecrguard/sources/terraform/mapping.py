"""Terraform resources → the normalized model.

Each value's origin is the line of the attribute that set it; attributes not
written take the AWS default with the origin of their block. Policies become
JSON dicts, or unresolved as a whole when any piece of them is unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ecrguard.model import (
    CreationTemplate,
    Origin,
    PolicyDoc,
    Registry,
    ReplicationDestination,
    ReplicationRule,
    Repository,
    ScanningRule,
    Sourced,
    Vpc,
    VpcEndpoint,
)
from ecrguard.sources.terraform.bodies import Nested, nested_blocks
from ecrguard.sources.terraform.expressions import Scope
from ecrguard.sources.terraform.hcl import Attr, Body
from ecrguard.sources.terraform.modules import ModuleInstance, ResourceInstance
from ecrguard.sources.terraform.values import (
    JsonText,
    Unknown,
    depth_exceeds,
    number_text,
    resolve_deep,
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
_WANTED = _REGISTRY_TYPES | {
    "aws_ecr_repository",
    "aws_ecr_repository_policy",
    "aws_ecr_lifecycle_policy",
    "aws_ecr_repository_creation_template",
    "aws_vpc",
    "aws_vpc_endpoint",
}
_UNDECLARED = "repository not declared in this configuration"


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


def _policy(value: Any) -> PolicyDoc:
    doc = value
    if isinstance(value, JsonText):
        doc = value.decoded
    elif isinstance(value, str):
        try:
            doc = json.loads(value)
        except RecursionError:
            raise _Bad("policy JSON is nested too deeply") from None
        except ValueError as err:
            raise _Bad(f"policy is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise _Bad("policy is not a JSON object")
    # Decoded text can nest deeper than anything resolve_deep lets through.
    if not isinstance(value, JsonText) and depth_exceeds(doc):
        raise _Bad("policy JSON is nested too deeply")
    return doc


# -- reading attributes into Sourced values ---------------------------------


class _Reader:
    """Reads the attributes of one resource instance as Sourced values."""

    def __init__(self, inst: ResourceInstance) -> None:
        self.inst = inst
        self.ev = inst.module.load.ev
        self.origin = Origin(inst.address, inst.decl.file, inst.decl.block.line)

    def value(
        self,
        name: str,
        default: Any,
        convert: Callable[[Any], T],
        body: Body | None = None,
        scope: Scope | None = None,
        origin: Origin | None = None,
        required: bool = False,
    ) -> Sourced[Any]:
        body = body if body is not None else self.inst.body
        scope = scope if scope is not None else self.inst.scope
        origin = origin or self.origin
        attr = body.attrs.get(name)
        if attr is None:
            if required:
                return Sourced.unresolved(origin, f"{name} is not set")
            return Sourced.default(default, origin)
        at = origin.at(attr.line)
        value = resolve_deep(self.ev.evaluate(attr, scope))
        if isinstance(value, Unknown):
            return Sourced.unresolved(at, value.reason)
        if value is None:
            return Sourced.default(default, at)
        try:
            return Sourced.set(convert(value), at)
        except _Bad as bad:
            return Sourced.unresolved(at, f"{name}: {bad}")

    def blocks(
        self, name: str, body: Body | None = None, scope: Scope | None = None
    ) -> list[Nested] | Unknown:
        return nested_blocks(
            self.ev,
            body if body is not None else self.inst.body,
            name,
            scope if scope is not None else self.inst.scope,
        )

    def encryption(self) -> tuple[Sourced[str], Sourced[str | None]]:
        found = self.blocks("encryption_configuration")
        if isinstance(found, Unknown):
            return (
                Sourced.unresolved(self.origin, found.reason),
                Sourced.unresolved(self.origin, found.reason),
            )
        if not found:
            return Sourced.default("AES256", self.origin), Sourced.default(None, self.origin)
        block = found[0]
        at = self.origin.at(block.line)
        return (
            self.value("encryption_type", "AES256", _text, block.body, block.scope, at),
            self.value("kms_key", None, _text, block.body, block.scope, at),
        )

    def collect(self, block_name: str, read: Callable[[Nested], T]) -> Sourced[tuple[T, ...]]:
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

    def need(self, name: str, convert: Callable[[Any], T], nested: Nested) -> T:
        """An attribute inside a repeated block, which must resolve."""
        got = self.value(
            name, None, convert, nested.body, nested.scope, self.origin.at(nested.line)
        )
        if not got.resolved:
            raise _Unresolved(got.reason, got.origin)
        return got.value  # type: ignore[return-value]

    def inner(self, name: str, nested: Nested) -> list[Nested]:
        found = self.blocks(name, nested.body, nested.scope)
        if isinstance(found, Unknown):
            raise _Unresolved(found.reason, self.origin.at(nested.line))
        return found


class _Unresolved(Exception):
    def __init__(self, reason: str, origin: Origin | None = None) -> None:
        self.reason = reason
        self.origin = origin


# -- the walk ----------------------------------------------------------------------


def instances(root: ModuleInstance) -> Iterator[ResourceInstance]:
    """Every wanted resource instance, root module first, in file order."""
    queue = [root]
    while queue:
        module = queue.pop(0)
        for decl in module.mdir.resources:
            if decl.type in _WANTED:
                yield from module.resource_instances(decl)
        queue.extend(module.children())


class Mapped:
    def __init__(self) -> None:
        self.repositories: list[Repository] = []
        self.registries: list[Registry] = []
        self.creation_templates: list[CreationTemplate] = []
        self.vpcs: list[Vpc] = []
        self.vpc_endpoints: list[VpcEndpoint] = []


def map_root(root: ModuleInstance, out: Mapped) -> None:
    """Add one root module's resources (and its children's) to ``out``."""
    by_type: dict[str, list[ResourceInstance]] = {}
    for inst in instances(root):
        by_type.setdefault(inst.decl.type, []).append(inst)
    out.repositories.extend(
        _repositories(
            by_type.get("aws_ecr_repository", []),
            by_type.get("aws_ecr_repository_policy", []),
            by_type.get("aws_ecr_lifecycle_policy", []),
        )
    )
    if any(t in by_type for t in _REGISTRY_TYPES):
        out.registries.append(_registry(by_type))
    out.creation_templates.extend(
        _creation_template(i) for i in by_type.get("aws_ecr_repository_creation_template", [])
    )
    out.vpcs.extend(_vpc(i) for i in by_type.get("aws_vpc", []))
    out.vpc_endpoints.extend(_endpoint(i) for i in by_type.get("aws_vpc_endpoint", []))


# -- repositories ------------------------------------------------------------------


def _repositories(
    repos: list[ResourceInstance],
    policies: list[ResourceInstance],
    lifecycles: list[ResourceInstance],
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
    inst = reader.inst
    attr = inst.body.attrs.get("repository")
    address = _reference_address(reader, attr) if attr is not None else None
    name = reader.value("repository", None, _text, required=True)
    if address is not None and address in readers:
        return address, name
    if name.resolved and name.value in by_name:
        return by_name[name.value], name
    return None, name


def _reference_address(reader: _Reader, attr: Attr) -> str | None:
    """``aws_ecr_repository.x[k].name`` → ``aws_ecr_repository.x[k]``, name unevaluated."""
    kids = [c for c in attr.expr.children if c.type != "comment"]
    if (
        len(kids) < 3
        or kids[0].type != "variable_expr"
        or attr.text(kids[0]) != "aws_ecr_repository"
    ):
        return None
    if kids[1].type != "get_attr":
        return None
    address = f"{reader.inst.module.prefix}aws_ecr_repository.{attr.text(kids[1].children[-1])}"
    rest = kids[2:]
    if rest and rest[0].type == "index":
        inner = rest[0].children[0]
        if inner.type == "legacy_index":
            key: Any = int(attr.text(inner)[1:])
        else:
            key = resolve_deep(
                reader.ev.evaluate_node(inner.children[1], attr.src, reader.inst.scope)
            )
        if isinstance(key, bool) or not isinstance(key, (int, float, str)):
            return None
        address += f"[{json.dumps(key) if isinstance(key, str) else int(key)}]"
        rest = rest[1:]
    if (
        len(rest) == 1
        and rest[0].type == "get_attr"
        and attr.text(rest[0].children[-1]) in ("name", "id")
    ):
        return address
    return None


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
            "scan_on_push", False, _flag, block.body, block.scope, origin.at(block.line)
        )
    else:
        scan_on_push = Sourced.default(False, origin)
    return Repository(
        id=inst.address,
        origin=origin,
        account=inst.module.load.owner_account,
        region=inst.region,
        name=name,
        policy=attached.get("policy") or Sourced.default(None, origin),
        tag_mutability=reader.value("image_tag_mutability", "MUTABLE", _text),
        mutability_exclusions=reader.collect(
            "image_tag_mutability_exclusion_filter", lambda b: reader.need("filter", _text, b)
        ),
        encryption_type=encryption_type,
        kms_key=kms_key,
        scan_on_push=scan_on_push,
        lifecycle_policy=attached.get("lifecycle") or Sourced.default(None, origin),
        force_delete=reader.value("force_delete", False, _flag),
    )


def _undeclared_repository(
    reader: _Reader, name: Sourced[str], entry: dict[str, Any]
) -> Repository:
    origin = reader.origin
    missing: Sourced[Any] = Sourced.unresolved(origin, _UNDECLARED)
    return Repository(
        id=reader.inst.address,
        origin=origin,
        account=reader.inst.module.load.owner_account,
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


def _registry(by_type: dict[str, list[ResourceInstance]]) -> Registry:
    parts = [i for t in _REGISTRY_TYPES for i in by_type.get(t, [])]
    first = min(parts, key=lambda i: (i.module.depth, i.decl.file, i.decl.block.line))
    origin = _Reader(first).origin

    policies = by_type.get("aws_ecr_registry_policy", [])
    policy = (
        _Reader(policies[0]).value("policy", None, _policy, required=True)
        if policies
        else Sourced.default(None, origin)
    )

    scope: Sourced[str] = Sourced.default("V2", origin)
    for inst in by_type.get("aws_ecr_account_setting", []):
        reader = _Reader(inst)
        setting = reader.value("name", None, _text, required=True)
        if not setting.resolved:
            scope = Sourced.unresolved(setting.origin, f"account setting name: {setting.reason}")
        elif setting.value == "REGISTRY_POLICY_SCOPE":
            scope = reader.value("value", "V2", _text, required=True)
            break

    scans = by_type.get("aws_ecr_registry_scanning_configuration", [])
    if scans:
        reader = _Reader(scans[0])
        scan_type = reader.value("scan_type", None, _text, required=True)
        rules = reader.collect("rule", lambda b: _scanning_rule(reader, b))
    else:
        scan_type, rules = Sourced.default("BASIC", origin), Sourced.default((), origin)

    replications = by_type.get("aws_ecr_replication_configuration", [])
    replication: Sourced[tuple[ReplicationRule, ...]] = Sourced.default((), origin)
    if replications:
        replication = _replication(_Reader(replications[0]))

    return Registry(
        id=first.address,
        origin=origin,
        account=first.module.load.owner_account,
        region=first.region,
        policy=policy,
        policy_scope=scope,
        scan_type=scan_type,
        scanning_rules=rules,
        replication_rules=replication,
    )


def _scanning_rule(reader: _Reader, block: Nested) -> ScanningRule:
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


def _creation_template(inst: ResourceInstance) -> CreationTemplate:
    reader = _Reader(inst)
    encryption_type, kms_key = reader.encryption()
    return CreationTemplate(
        id=inst.address,
        origin=reader.origin,
        account=inst.module.load.owner_account,
        region=inst.region,
        prefix=reader.value("prefix", None, _text, required=True),
        applied_for=reader.value("applied_for", (), _texts, required=True),
        policy=reader.value("repository_policy", None, _policy),
        tag_mutability=reader.value("image_tag_mutability", "MUTABLE", _text),
        encryption_type=encryption_type,
        kms_key=kms_key,
        lifecycle_policy=reader.value("lifecycle_policy", None, _policy),
    )


def _vpc(inst: ResourceInstance) -> Vpc:
    reader = _Reader(inst)
    return Vpc(
        id=inst.address,
        origin=reader.origin,
        account=inst.module.load.owner_account,
        region=inst.region,
        vpc_id=Sourced.set(inst.address, reader.origin),
    )


def _endpoint(inst: ResourceInstance) -> VpcEndpoint:
    reader = _Reader(inst)
    return VpcEndpoint(
        id=inst.address,
        origin=reader.origin,
        account=inst.module.load.owner_account,
        region=inst.region,
        vpc_id=reader.value("vpc_id", None, _text, required=True),
        service_name=reader.value("service_name", None, _text, required=True),
        endpoint_type=reader.value("vpc_endpoint_type", "Gateway", _text),
        policy=reader.value("policy", None, _policy),
    )
