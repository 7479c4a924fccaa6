"""CloudFormation resources → the normalized model.

Resource ids are logical ids; each value points at the line of the property
that set it, and properties left out take the AWS defaults shared with the
Terraform mapping (:mod:`ecrguard.sources.defaults`). A registry exists only
when the template declares a registry-level resource, as with Terraform.

CloudFormation has no resource for the registry policy scope (it stays the
default) nor one that enables Amazon Inspector (the AWS::InspectorV2 types are
filters and CIS scans), so ``Registry.inspector`` stays None: not known.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from ecrguard.model import (
    CreationTemplate,
    EventRule,
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
    Trail,
    Vpc,
    VpcEndpoint,
)
from ecrguard.sources import defaults
from ecrguard.sources.cloudformation.intrinsics import NO_VALUE, Resolver, Unknown
from ecrguard.sources.cloudformation.parse import MAX_DEPTH

T = TypeVar("T")

_REGISTRY_TYPES = frozenset(
    {
        "AWS::ECR::RegistryPolicy",
        "AWS::ECR::RegistryScanningConfiguration",
        "AWS::ECR::ReplicationConfiguration",
    }
)
_REQUIRED: Any = object()


class _Bad(Exception):
    """A value of the wrong type for the model field."""


class _Unresolved(Exception):
    def __init__(self, reason: str, origin: Origin) -> None:
        self.reason = reason
        self.origin = origin


# -- converters ------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    raise _Bad(f"expected a string, got {type(value).__name__}")


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    # CloudFormation passes booleans as strings and accepts either case.
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _Bad(f"expected a bool, got {value!r}")


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise _Bad("expected a list of strings")
    return tuple(_text(v) for v in value)


def _key(value: Any) -> str | None:
    return _text(value) or None


def _document(what: str) -> Callable[[Any], dict[str, Any]]:
    """A JSON object written as YAML/JSON data or as a JSON string (both are allowed)."""

    def convert(value: Any) -> dict[str, Any]:
        doc = value
        if isinstance(value, str):
            try:
                doc = json.loads(value)
            except RecursionError:
                raise _Bad(f"{what} JSON is nested too deeply") from None
            except ValueError as err:
                raise _Bad(f"{what} is not valid JSON: {err}") from None
            if _too_deep(doc):
                raise _Bad(f"{what} JSON is nested too deeply")
        if not isinstance(doc, dict):
            raise _Bad(f"{what} is not a JSON object")
        return doc

    return convert


def _too_deep(value: Any) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return False


_policy: Callable[[Any], PolicyDoc] = _document("policy")
_pattern = _document("event pattern")


# -- reading properties -------------------------------------------------------------


class _Props:
    """One resource's Properties, or an object inside them, read as Sourced values."""

    def __init__(
        self,
        resolver: Resolver,
        data: dict[str, Any],
        origin: Origin,
        unknown: Unknown | None = None,
    ) -> None:
        self.resolver = resolver
        self.data = data
        self.origin = origin
        # Set when the Properties object itself cannot be worked out: nothing in it is known.
        self.unknown = unknown

    def at(self, name: str) -> Origin:
        """Where a property is written (the object's own origin if it is not)."""
        return self.origin.at(getattr(self.data, "lines", {}).get(name))

    def value(
        self,
        name: str,
        default: Any,
        convert: Callable[[Any], T],
        required: bool = False,
        identity: bool = False,
    ) -> Sourced[Any]:
        if self.unknown is not None:
            return Sourced.unresolved(self.origin, self.unknown.reason)
        if name not in self.data:
            if required:
                return Sourced.unresolved(self.origin, f"{name} is not set")
            return Sourced.default(default, self.origin)
        at = self.at(name)
        value = self.resolver.deep(self.data[name], identity)
        if isinstance(value, Unknown):
            return Sourced.unresolved(at, value.reason)
        if value is NO_VALUE or value is None:
            if required:
                return Sourced.unresolved(at, f"{name} is not set")
            return Sourced.default(default, at)
        try:
            return Sourced.set(convert(value), at)
        except _Bad as bad:
            return Sourced.unresolved(at, f"{name}: {bad}")

    def nested(self, name: str) -> _Props | Unknown | None:
        """An object property; None when it is left out."""
        if self.unknown is not None:
            return self.unknown
        if name not in self.data:
            return None
        value = self.resolver.shallow(self.data[name])
        if value is NO_VALUE or value is None:
            return None
        if isinstance(value, Unknown):
            return value
        if not isinstance(value, dict):
            return Unknown(f"{name} is not an object")
        return _Props(self.resolver, value, self.at(name))

    def items(self, name: str) -> list[_Props] | Unknown:
        """A list of objects; empty when it is left out."""
        if self.unknown is not None:
            return self.unknown
        if name not in self.data:
            return []
        found = self.resolver.shallow(self.data[name])
        if found is NO_VALUE or found is None:
            return []
        if isinstance(found, Unknown):
            return found
        if not isinstance(found, list):
            return Unknown(f"{name} is not a list")
        at = self.at(name)
        out = []
        for item in found:
            item = self.resolver.shallow(item)
            if item is NO_VALUE:
                continue
            if isinstance(item, Unknown):
                return item
            if not isinstance(item, dict):
                return Unknown(f"an item of {name} is not an object")
            out.append(_Props(self.resolver, item, at.at(getattr(item, "line", None))))
        return out

    def collect(self, name: str, read: Callable[[_Props], T]) -> Sourced[tuple[T, ...]]:
        """A list of objects as one tuple: set if every piece resolves, else unresolved."""
        found = self.items(name)
        at = self.at(name)
        if isinstance(found, Unknown):
            return Sourced.unresolved(at, found.reason)
        if name not in self.data:
            return Sourced.default((), self.origin)

        try:
            return Sourced.set(tuple(read(item) for item in found), at)
        except _Unresolved as err:
            return Sourced.unresolved(err.origin, err.reason)

    def need(
        self,
        name: str,
        convert: Callable[[Any], T],
        default: Any = _REQUIRED,
        identity: bool = False,
    ) -> T:
        """A property inside a list item, which must resolve (or take ``default``)."""
        required = default is _REQUIRED
        got = self.value(name, None if required else default, convert, required, identity)
        if not got.resolved:
            raise _Unresolved(got.reason, got.origin)
        return got.value  # type: ignore[return-value]

    def inner(self, name: str) -> list[_Props]:
        found = self.items(name)
        if isinstance(found, Unknown):
            raise _Unresolved(found.reason, self.at(name))
        return found


def properties(resolver: Resolver, resource: dict[str, Any], origin: Origin) -> _Props:
    """A resource's Properties, ready to read."""
    props = resolver.shallow(resource.get("Properties", {}))
    if isinstance(props, Unknown):
        return _Props(resolver, {}, origin, Unknown(f"Properties: {props.reason}"))
    if props is NO_VALUE or props is None:
        return _Props(resolver, {}, origin)
    if not isinstance(props, dict):
        return _Props(resolver, {}, origin, Unknown("Properties is not an object"))
    return _Props(resolver, props, origin)


def _name(p: _Props, prop: str) -> Sourced[str]:
    """A name property, which CloudFormation generates when the template leaves it out."""
    if p.unknown is None and prop not in p.data:
        return Sourced.unresolved(
            p.origin, f"{prop} is not set; CloudFormation generates the name at deploy time"
        )
    return p.value(prop, None, _text)


# -- the template -------------------------------------------------------------------


class Declared:
    """One resource the template declares (after its Condition), ready to map."""

    __slots__ = ("id", "origin", "props", "type")

    def __init__(self, id_: str, type_: str, origin: Origin, props: _Props) -> None:
        self.id = id_
        self.type = type_
        self.origin = origin
        self.props = props


def map_template(declared: list[Declared], account: str | None, region: str | None) -> Inventory:
    by_type: dict[str, list[Declared]] = {}
    for item in declared:
        by_type.setdefault(item.type, []).append(item)

    def of(type_: str) -> list[Declared]:
        return by_type.get(type_, [])

    def where(item: Declared) -> dict[str, Any]:
        return {"id": item.id, "origin": item.origin, "account": account, "region": region}

    registries = []
    parts = [d for d in declared if d.type in _REGISTRY_TYPES]
    if parts:
        registries.append(_registry(parts, by_type, where))
    return Inventory(
        repositories=tuple(_repository(d, where(d)) for d in of("AWS::ECR::Repository")),
        registries=tuple(registries),
        creation_templates=tuple(
            _creation_template(d, where(d)) for d in of("AWS::ECR::RepositoryCreationTemplate")
        ),
        vpcs=tuple(
            Vpc(**where(d), vpc_id=Sourced.set(d.id, d.origin)) for d in of("AWS::EC2::VPC")
        ),
        vpc_endpoints=tuple(_endpoint(d, where(d)) for d in of("AWS::EC2::VPCEndpoint")),
        event_rules=tuple(_event_rule(d, where(d)) for d in of("AWS::Events::Rule")),
        kms_keys=tuple(_kms_keys(of("AWS::KMS::Key"), of("AWS::KMS::Alias"), where)),
        trails=tuple(_trail(d, where(d)) for d in of("AWS::CloudTrail::Trail")),
        scopes=((None, None),),
    )


def _encryption(p: _Props) -> tuple[Sourced[str], Sourced[str | None]]:
    found = p.nested("EncryptionConfiguration")
    if isinstance(found, Unknown):
        at = p.at("EncryptionConfiguration")
        return Sourced.unresolved(at, found.reason), Sourced.unresolved(at, found.reason)
    if found is None:
        return Sourced.default(defaults.ENCRYPTION_TYPE, p.origin), Sourced.default(None, p.origin)
    return (
        found.value("EncryptionType", defaults.ENCRYPTION_TYPE, _text),
        found.value("KmsKey", None, _key),
    )


def _repository(d: Declared, where: dict[str, Any]) -> Repository:
    p = d.props
    name = _name(p, "RepositoryName")
    encryption_type, kms_key = _encryption(p)
    scanning = p.nested("ImageScanningConfiguration")
    if isinstance(scanning, Unknown):
        scan_on_push: Sourced[bool] = Sourced.unresolved(
            p.at("ImageScanningConfiguration"), scanning.reason
        )
    elif scanning is None:
        scan_on_push = Sourced.default(defaults.SCAN_ON_PUSH, p.origin)
    else:
        scan_on_push = scanning.value("ScanOnPush", defaults.SCAN_ON_PUSH, _flag)
    lifecycle = p.nested("LifecyclePolicy")
    if isinstance(lifecycle, Unknown):
        lifecycle_policy: Sourced[PolicyDoc | None] = Sourced.unresolved(
            p.at("LifecyclePolicy"), lifecycle.reason
        )
    elif lifecycle is None:
        lifecycle_policy = Sourced.default(None, p.origin)
    else:
        lifecycle_policy = lifecycle.value("LifecyclePolicyText", None, _policy)
    return Repository(
        **where,
        name=name,
        policy=p.value("RepositoryPolicyText", None, _policy),
        tag_mutability=p.value("ImageTagMutability", defaults.TAG_MUTABILITY, _text),
        mutability_exclusions=p.collect(
            "ImageTagMutabilityExclusionFilters",
            lambda f: f.need("ImageTagMutabilityExclusionFilterValue", _text),
        ),
        encryption_type=encryption_type,
        kms_key=kms_key,
        scan_on_push=scan_on_push,
        lifecycle_policy=lifecycle_policy,
        force_delete=p.value("EmptyOnDelete", defaults.FORCE_DELETE, _flag),
    )


def _registry(
    parts: list[Declared],
    by_type: dict[str, list[Declared]],
    where: Callable[[Declared], dict[str, Any]],
) -> Registry:
    first = min(parts, key=lambda d: d.origin.line or 0)
    origin = first.origin

    policies = by_type.get("AWS::ECR::RegistryPolicy", [])
    policy = (
        policies[0].props.value("PolicyText", None, _policy, required=True)
        if policies
        else Sourced.default(None, origin)
    )

    scans = by_type.get("AWS::ECR::RegistryScanningConfiguration", [])
    if scans:
        p = scans[0].props
        scan_type = p.value("ScanType", None, _text, required=True)
        rules = p.collect("Rules", _scanning_rule)
    else:
        scan_type = Sourced.default(defaults.SCAN_TYPE, origin)
        rules = Sourced.default((), origin)

    replications = by_type.get("AWS::ECR::ReplicationConfiguration", [])
    replication: Sourced[tuple[ReplicationRule, ...]] = Sourced.default((), origin)
    if replications:
        replication = _replication(replications[0].props)

    return Registry(
        **where(first),
        policy=policy,
        # No CloudFormation resource sets the registry policy scope.
        policy_scope=Sourced.default(defaults.POLICY_SCOPE, origin),
        scan_type=scan_type,
        scanning_rules=rules,
        replication_rules=replication,
    )


def _scanning_rule(rule: _Props) -> ScanningRule:
    filters = tuple(f.need("Filter", _text) for f in rule.inner("RepositoryFilters"))
    return ScanningRule(frequency=rule.need("ScanFrequency", _text), filters=filters)


def _replication(p: _Props) -> Sourced[tuple[ReplicationRule, ...]]:
    config = p.nested("ReplicationConfiguration")
    at = p.at("ReplicationConfiguration")
    if isinstance(config, Unknown):
        return Sourced.unresolved(at, config.reason)
    if config is None:
        return Sourced.unresolved(p.origin, "ReplicationConfiguration is not set")
    try:
        rules = tuple(
            ReplicationRule(
                destinations=tuple(
                    ReplicationDestination(
                        region=d.need("Region", _text), registry_id=d.need("RegistryId", _text)
                    )
                    for d in rule.inner("Destinations")
                ),
                filters=tuple(f.need("Filter", _text) for f in rule.inner("RepositoryFilters")),
            )
            for rule in config.inner("Rules")
        )
    except _Unresolved as err:
        return Sourced.unresolved(err.origin, err.reason)
    return Sourced.set(rules, at)


def _creation_template(d: Declared, where: dict[str, Any]) -> CreationTemplate:
    p = d.props
    encryption_type, kms_key = _encryption(p)
    return CreationTemplate(
        **where,
        prefix=p.value("Prefix", None, _text, required=True),
        applied_for=p.value("AppliedFor", (), _texts, required=True),
        policy=p.value("RepositoryPolicy", None, _policy),
        tag_mutability=p.value("ImageTagMutability", defaults.TAG_MUTABILITY, _text),
        encryption_type=encryption_type,
        kms_key=kms_key,
        lifecycle_policy=p.value("LifecyclePolicy", None, _policy),
    )


def _endpoint(d: Declared, where: dict[str, Any]) -> VpcEndpoint:
    p = d.props
    return VpcEndpoint(
        **where,
        vpc_id=p.value("VpcId", None, _text, required=True),
        service_name=p.value("ServiceName", None, _text, required=True),
        endpoint_type=p.value("VpcEndpointType", defaults.ENDPOINT_TYPE, _text),
        policy=p.value("PolicyDocument", None, _policy),
    )


def _kms_keys(
    keys: list[Declared], aliases: list[Declared], where: Callable[[Declared], dict[str, Any]]
) -> list[KmsKey]:
    ids = {k.id for k in keys}
    named: dict[str, list[Sourced[str]]] = {}
    for alias in aliases:
        # Ref and Fn::GetAtt of a key in this template resolve to its logical id.
        target = alias.props.value("TargetKeyId", None, _text, required=True)
        if target.resolved and target.value in ids:
            name = alias.props.value("AliasName", None, _text, required=True)
            named.setdefault(target.get(), []).append(name)
    out = []
    for key in keys:
        p = key.props
        found = named.get(key.id, [])
        aliases_value: Sourced[tuple[str, ...]] = Sourced.default((), key.origin)
        missing = next((n for n in found if not n.resolved), None)
        if missing is not None:
            aliases_value = Sourced.unresolved(missing.origin, f"alias {missing.reason}")
        elif found:
            aliases_value = Sourced.set(tuple(n.get() for n in found), found[0].origin)
        out.append(
            KmsKey(
                **where(key),
                key_id=Sourced.set(key.id, key.origin),
                aliases=aliases_value,
                manager=Sourced.set(defaults.KEY_MANAGER, key.origin),
                rotation=p.value("EnableKeyRotation", defaults.KEY_ROTATION, _flag),
                # None is the AWS default key policy (the account root may use the key).
                policy=p.value("KeyPolicy", None, _policy),
            )
        )
    return out


def _trail(d: Declared, where: dict[str, Any]) -> Trail:
    p = d.props
    name = _name(p, "TrailName")
    return Trail(
        **where,
        name=name,
        multi_region=p.value("IsMultiRegionTrail", defaults.TRAIL_MULTI_REGION, _flag),
        # Required by CloudFormation, so there is no default to fall back on.
        logging=p.value("IsLogging", None, _flag, required=True),
        log_validation=p.value("EnableLogFileValidation", defaults.TRAIL_LOG_VALIDATION, _flag),
        management_events=_management_events(p),
        bucket=p.value("S3BucketName", None, _text),
    )


def _management_events(p: _Props) -> Sourced[bool]:
    basic = p.items("EventSelectors")
    advanced = p.items("AdvancedEventSelectors")
    for name, found in (("EventSelectors", basic), ("AdvancedEventSelectors", advanced)):
        if isinstance(found, Unknown):
            return Sourced.unresolved(p.at(name), found.reason)
    assert not isinstance(basic, Unknown) and not isinstance(advanced, Unknown)
    if not basic and not advanced:
        return Sourced.default(defaults.records_management_writes((), ()), p.origin)
    at = p.at("EventSelectors" if basic else "AdvancedEventSelectors")
    try:
        selectors = [
            (
                s.need("IncludeManagementEvents", _flag, defaults.SELECTOR_MANAGEMENT_EVENTS),
                s.need("ReadWriteType", _text, defaults.SELECTOR_READ_WRITE),
            )
            for s in basic
        ]
        fields = [
            [
                (f.need("Field", _text), f.need("Equals", _texts, ()))
                for f in a.inner("FieldSelectors")
            ]
            for a in advanced
        ]
    except _Unresolved as err:
        return Sourced.unresolved(err.origin, err.reason)
    return Sourced.set(defaults.records_management_writes(selectors, fields), at)


def _event_rule(d: Declared, where: dict[str, Any]) -> EventRule:
    p = d.props
    name = _name(p, "Name")
    # A target in this template stands in by its logical id for the ARN it gets.
    targets = p.collect("Targets", lambda t: t.need("Arn", _text, identity=True))
    return EventRule(
        **where,
        name=name,
        pattern=p.value("EventPattern", None, _pattern),
        state=p.value("State", defaults.EVENT_RULE_STATE, _text),
        targets=targets,
    )
