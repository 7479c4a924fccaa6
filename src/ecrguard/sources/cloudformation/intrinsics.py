"""CloudFormation intrinsic functions, worked out as far as the template allows.

Parameters take their defaults (or values given by the caller), conditions are
evaluated when they depend only on known values, and a resource named by
``Ref`` or ``Fn::GetAtt`` stands in by its logical id for identities AWS
assigns at deploy time (a KMS key id, a VPC id), so references between
resources line up the way Terraform addresses do. Anything else that is only
known once the stack exists becomes an :class:`Unknown` with a reason; nothing
is guessed.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping as AnyMapping
from typing import Any

from ecrguard.sources.cloudformation.parse import MAX_NODES, Mapping, Seq


class Unknown:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unknown({self.reason!r})"


class _NoValue:
    """``Ref: AWS::NoValue``: the property is left out, as if never written."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
# Joins of joins can double a string per resource they name; no real value is this long.
MAX_STRING = 1_000_000
_DEPLOY = "known only once the stack is deployed"
_SUB = re.compile(r"\$\{([^}]*)\}")

# What Ref returns for these types is a name the template may set itself.
_NAMED_BY = {
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::Events::Rule": "Name",
    "AWS::CloudTrail::Trail": "TrailName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
}
# Attributes that only name a resource: its logical id stands in for them.
_IDENTITY = {
    "AWS::KMS::Key": ("Arn", "KeyId"),
    "AWS::EC2::VPC": ("VpcId",),
    "AWS::EC2::VPCEndpoint": ("Id",),
}


class _Budget(Exception):
    pass


class Resolver:
    def __init__(
        self,
        template: AnyMapping[str, Any],
        *,
        owner_account: str | None,
        region: str | None,
        parameters: AnyMapping[str, Any] | None = None,
    ) -> None:
        self.account = owner_account
        self.region = region
        resources = template.get("Resources")
        self.resources: AnyMapping[str, Any] = resources if isinstance(resources, dict) else {}
        self.mappings = _section(template, "Mappings")
        self.condition_defs = _section(template, "Conditions")
        self.params: dict[str, Any] = {}
        for name, decl in _section(template, "Parameters").items():
            self.params[name] = self._parameter(name, decl, (parameters or {}).get(name))
        self._conditions: dict[str, bool | Unknown] = {}
        self._busy: set[str] = set()
        # Names resources give themselves, worked out once: Ref chains can repeat them.
        self._names: dict[tuple[str, str], Any] = {}
        self.budget = MAX_NODES

    # -- parameters and conditions --------------------------------------------------

    @staticmethod
    def _parameter(name: str, decl: Any, given: Any) -> Any:
        decl = decl if isinstance(decl, dict) else {}
        kind = decl.get("Type", "String")
        kind = kind if isinstance(kind, str) else "String"
        if given is None and kind.startswith("AWS::SSM::Parameter::Value"):
            return Unknown(f"parameter {name} is read from SSM Parameter Store at deploy time")
        value = given if given is not None else decl.get("Default")
        if value is None:
            return Unknown(f"parameter {name} has no default")
        if isinstance(value, (dict, list)):
            return Unknown(f"parameter {name} has a default that is not a value")
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            return value.split(",") if isinstance(value, str) else [value]
        return value

    def condition(self, name: Any) -> bool | Unknown:
        """Whether a declared condition holds, or Unknown when it depends on unknown values."""
        return self._guarded(self._named_condition, name)

    def _named_condition(self, name: Any) -> bool | Unknown:
        if not isinstance(name, str) or name not in self.condition_defs:
            return Unknown(f"condition {name!r} is not declared")
        if name in self._conditions:
            return self._conditions[name]
        if name in self._busy:
            return Unknown(f"condition {name} refers to itself")
        self._busy.add(name)
        try:
            result = self._condition(self.condition_defs[name])
        finally:
            self._busy.discard(name)
        if isinstance(result, Unknown):
            result = Unknown(f"condition {name} is not known: {result.reason}")
        self._conditions[name] = result
        return result

    def _condition(self, expr: Any) -> bool | Unknown:
        self._spend()
        if isinstance(expr, bool):
            return expr
        if isinstance(expr, dict) and len(expr) == 1 and "Condition" in expr:
            return self._named_condition(expr["Condition"])
        fn, arg = _function(expr)
        if fn == "Fn::Equals":
            if not isinstance(arg, list) or len(arg) != 2:
                return Unknown("Fn::Equals takes two values")
            left, right = self._deep(arg[0], False), self._deep(arg[1], False)
            for side in (left, right):
                if isinstance(side, Unknown):
                    return side
            return _compare(left) == _compare(right)
        if fn == "Fn::Not":
            inner = self._condition(arg[0] if isinstance(arg, list) and len(arg) == 1 else arg)
            return inner if isinstance(inner, Unknown) else not inner
        if fn in ("Fn::And", "Fn::Or"):
            if not isinstance(arg, list):
                return Unknown(f"{fn} takes a list of conditions")
            decisive = fn == "Fn::Or"  # the value that settles the whole expression
            unknown: Unknown | None = None
            for item in arg:
                got = self._condition(item)
                if isinstance(got, Unknown):
                    unknown = unknown or got
                elif got is decisive:
                    return decisive
            return unknown if unknown is not None else not decisive
        return Unknown("a condition must be Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition")

    # -- values ----------------------------------------------------------------------

    def shallow(self, value: Any, identity: bool = False) -> Any:
        """``value`` with intrinsics at its top worked out; containers inside stay as written."""
        return self._guarded(self._shallow, value, identity)

    def deep(self, value: Any, identity: bool = False) -> Any:
        """``value`` as plain data; NO_VALUE when left out; the first Unknown inside it."""
        return self._guarded(self._deep, value, identity)

    def _guarded(self, work: Any, *args: Any) -> Any:
        # Entry points from the mapping: budgets and depth end as Unknown, never as a crash.
        try:
            return work(*args)
        except _Budget:
            return Unknown("value is too large to resolve")
        except RecursionError:
            return Unknown("value refers to itself or is nested too deeply")

    def _shallow(self, value: Any, identity: bool = False) -> Any:
        for _ in range(64):  # Fn::If can return another Fn::If; a chain this long is hostile
            fn, arg = _function(value)
            if fn is None:
                return value
            value = self._call(fn, arg, identity)
            if isinstance(value, (Unknown, _NoValue)):
                return value
        return Unknown("intrinsic functions nested too deeply")

    def _spend(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise _Budget

    def _deep(self, value: Any, identity: bool) -> Any:
        self._spend()
        value = self._shallow(value, identity)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                got = self._deep(item, identity)
                if isinstance(got, Unknown):
                    return got
                if got is not NO_VALUE:
                    out[key] = got
            return out
        if isinstance(value, list):
            items = []
            for item in value:
                got = self._deep(item, identity)
                if isinstance(got, Unknown):
                    return got
                if got is not NO_VALUE:
                    items.append(got)
            return items
        return value

    def _text(self, value: Any, what: str) -> str | Unknown:
        got = self._deep(value, False)
        if isinstance(got, Unknown):
            return got
        if isinstance(got, bool):
            return "true" if got else "false"
        if isinstance(got, (str, int, float)):
            return _capped(str(got))
        return Unknown(f"{what} must be a string")

    # -- the functions ---------------------------------------------------------------

    def _call(self, fn: str, arg: Any, identity: bool) -> Any:
        self._spend()
        if fn == "Ref":
            return self.ref(arg)
        if fn == "Fn::GetAtt":
            return self._get_att(arg, identity)
        if fn == "Fn::Sub":
            return self._sub(arg)
        if fn == "Fn::Join":
            return self._join(arg)
        if fn == "Fn::If":
            return self._if(arg)
        if fn == "Fn::Select":
            return self._select(arg)
        if fn == "Fn::Split":
            return self._split(arg)
        if fn == "Fn::FindInMap":
            return self._find_in_map(arg)
        if fn == "Fn::Base64":
            text = self._text(arg, "Fn::Base64")
            if isinstance(text, Unknown):
                return text
            return _capped(base64.b64encode(text.encode()).decode())
        if fn == "Fn::ToJsonString":
            got = self._deep(arg, False)
            if isinstance(got, Unknown):
                return got
            return _capped(json.dumps(got, separators=(",", ":")))
        if fn == "Fn::Length":
            got = self._shallow(arg)
            return len(got) if isinstance(got, list) else Unknown("Fn::Length needs a list")
        if fn == "Fn::ImportValue":
            return Unknown("Fn::ImportValue is read from another stack at deploy time")
        if fn == "Fn::GetAZs":
            return Unknown("Fn::GetAZs is known only at deploy time")
        if fn == "Fn::Cidr":
            return Unknown("Fn::Cidr is not evaluated")
        if fn == "Fn::Transform":
            return Unknown("Fn::Transform runs a macro at deploy time")
        return Unknown(f"{fn} is not supported")

    def ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            return Unknown("Ref needs a name")
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self.params:
            return self.params[name]
        resource = self.resources.get(name)
        if not isinstance(resource, dict):
            return Unknown(f"Ref {name}: no such parameter or resource")
        prop = _NAMED_BY.get(str(resource.get("Type")))
        props = resource.get("Properties")
        if prop and isinstance(props, dict) and prop in props:
            # The name the template gives; a stand-in cannot be mistaken for it.
            return self._property_text(name, props, prop)
        return name

    def _property_text(self, name: str, props: dict[str, Any], prop: str) -> str | Unknown:
        key = (name, prop)
        if key in self._names:
            found: str | Unknown = self._names[key]
            return found
        self._names[key] = Unknown(f"{name}.{prop} refers to itself")
        self._names[key] = found = self._text(props[prop], f"{name}.{prop}")
        return found

    def _pseudo(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name == "AWS::AccountId":
            return self.account or Unknown(
                "AWS::AccountId: the AWS account is not known; pass the owner account"
            )
        if name in ("AWS::Region", "AWS::Partition", "AWS::URLSuffix"):
            if not self.region:
                return Unknown(
                    f"{name}: the region is chosen when the stack is deployed; pass the region"
                )
            if name == "AWS::Region":
                return self.region
            partition = _partition(self.region)
            if name == "AWS::Partition":
                return partition
            return "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"
        return Unknown(f"{name} is {_DEPLOY}")

    def _get_att(self, arg: Any, identity: bool) -> Any:
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not isinstance(arg, list) or len(arg) != 2:
            return Unknown("Fn::GetAtt takes a resource and an attribute")
        name, attr = arg[0], self._text(arg[1], "Fn::GetAtt attribute")
        if isinstance(attr, Unknown):
            return attr
        resource = self.resources.get(name) if isinstance(name, str) else None
        if not isinstance(resource, dict):
            return Unknown(f"Fn::GetAtt {name}: no such resource")
        kind = str(resource.get("Type"))
        if attr in _IDENTITY.get(kind, ()) or identity:
            return name
        props = resource.get("Properties")
        props = props if isinstance(props, dict) else {}
        if kind == "AWS::ECR::Repository" and attr in ("Arn", "RepositoryUri"):
            return self._repository_att(name, props, attr)
        if kind in ("AWS::IAM::Role", "AWS::IAM::User") and attr == "Arn":
            return self._iam_arn(name, kind, props)
        return Unknown(f"{name}.{attr} is {_DEPLOY}")

    def _repository_att(self, name: str, props: dict[str, Any], attr: str) -> Any:
        if "RepositoryName" not in props:
            return Unknown(f"{name}.{attr}: the repository name is generated at deploy time")
        repo = self._property_text(name, props, "RepositoryName")
        if isinstance(repo, Unknown):
            return repo
        if not self.account:
            return Unknown(f"{name}.{attr} needs the account: pass the owner account")
        if not self.region:
            return Unknown(f"{name}.{attr} needs the region, chosen when the stack is deployed")
        if attr == "Arn":
            return (
                f"arn:{_partition(self.region)}:ecr:{self.region}:{self.account}:repository/{repo}"
            )
        return f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{repo}"

    def _iam_arn(self, name: str, kind: str, props: dict[str, Any]) -> Any:
        prop = "RoleName" if kind == "AWS::IAM::Role" else "UserName"
        if prop not in props:
            return Unknown(f"{name}.Arn: the {prop} is generated at deploy time")
        if not self.account:
            return Unknown(f"{name}.Arn needs the account: pass the owner account")
        short = self._property_text(name, props, prop)
        path = self._text(props.get("Path", "/"), f"{name}.Path")
        for part in (short, path):
            if isinstance(part, Unknown):
                return part
        # IAM is global; the partition follows the region when one is known.
        partition = _partition(self.region) if self.region else "aws"
        return f"arn:{partition}:iam::{self.account}:{kind.rsplit('::', 1)[1].lower()}{path}{short}"

    def _sub(self, arg: Any) -> Any:
        variables: AnyMapping[str, Any] = {}
        if isinstance(arg, list):
            if len(arg) != 2 or not isinstance(arg[1], dict):
                return Unknown("Fn::Sub takes a string and a map of variables")
            arg, variables = arg
        if not isinstance(arg, str):
            return Unknown("Fn::Sub needs a string")
        unknown: list[Unknown] = []
        size = [len(arg)]

        def replace(match: re.Match[str]) -> str:
            if unknown:
                return ""
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                got: Any = self._text(variables[name], f"Fn::Sub variable {name}")
            elif "." in name and not name.startswith("AWS::"):
                got = self._get_att(name.split(".", 1), False)
            else:
                got = self.ref(name)
            if not isinstance(got, Unknown) and not isinstance(got, (str, int, float)):
                got = Unknown(f"${{{name}}} is not a string")
            if not isinstance(got, Unknown):
                got = str(got)
                size[0] += len(got)
                if size[0] > MAX_STRING:
                    got = Unknown("value is too large to resolve")
            if isinstance(got, Unknown):
                unknown.append(got)
                return ""
            return str(got)

        out = _SUB.sub(replace, arg)
        return unknown[0] if unknown else _capped(out)

    def _join(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            return Unknown("Fn::Join takes a delimiter and a list")
        delimiter = self._text(arg[0], "Fn::Join delimiter")
        items = self._shallow(arg[1])
        if isinstance(delimiter, Unknown):
            return delimiter
        if isinstance(items, Unknown):
            return items
        if not isinstance(items, list):
            return Unknown("Fn::Join needs a list")
        parts = []
        for item in items:
            text = self._text(item, "Fn::Join item")
            if isinstance(text, Unknown):
                return text
            parts.append(text)
            if sum(map(len, parts)) > MAX_STRING:
                return Unknown("value is too large to resolve")
        return _capped(delimiter.join(parts))

    def _if(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 3:
            return Unknown("Fn::If takes a condition and two values")
        chosen = self._named_condition(arg[0])
        if isinstance(chosen, Unknown):
            return chosen
        return arg[1] if chosen else arg[2]

    def _select(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            return Unknown("Fn::Select takes an index and a list")
        index = self._deep(arg[0], False)
        items = self._shallow(arg[1])
        for part in (index, items):
            if isinstance(part, Unknown):
                return part
        try:
            position = int(index)
        except (TypeError, ValueError):
            return Unknown("Fn::Select index is not a number")
        if not isinstance(items, list) or not 0 <= position < len(items):
            return Unknown("Fn::Select index is out of range")
        return items[position]

    def _split(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) != 2:
            return Unknown("Fn::Split takes a delimiter and a string")
        delimiter = self._text(arg[0], "Fn::Split delimiter")
        text = self._text(arg[1], "Fn::Split source")
        for part in (delimiter, text):
            if isinstance(part, Unknown):
                return part
        assert isinstance(delimiter, str) and isinstance(text, str)
        if not delimiter:
            return Unknown("Fn::Split needs a delimiter")
        return text.split(delimiter)

    def _find_in_map(self, arg: Any) -> Any:
        if not isinstance(arg, list) or len(arg) not in (3, 4):
            return Unknown("Fn::FindInMap takes a map name and two keys")
        keys: list[str] = []
        for part in arg[:3]:
            key = self._text(part, "Fn::FindInMap key")
            if isinstance(key, Unknown):
                return key
            keys.append(key)
        name, top, second = keys
        table = self.mappings.get(name)
        row = table.get(top) if isinstance(table, dict) else None
        if isinstance(row, dict) and second in row:
            return row[second]
        if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
            return arg[3]["DefaultValue"]
        return Unknown(f"Fn::FindInMap: {name}.{top}.{second} is not in the template's Mappings")


def _capped(text: str) -> str | Unknown:
    return text if len(text) <= MAX_STRING else Unknown("value is too large to resolve")


def _function(value: Any) -> tuple[str | None, Any]:
    if isinstance(value, dict) and len(value) == 1:
        (key,) = value
        # {"Condition": name} is a function only inside conditions (see _condition).
        if isinstance(key, str) and (key == "Ref" or key.startswith("Fn::")):
            return key, value[key]
    return None, None


def _compare(value: Any) -> Any:
    # Fn::Equals compares the strings CloudFormation would pass: "true" equals true.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _section(template: AnyMapping[str, Any], name: str) -> dict[str, Any]:
    value = template.get(name)
    return value if isinstance(value, dict) else {}


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


__all__ = ["NO_VALUE", "Mapping", "Resolver", "Seq", "Unknown"]
