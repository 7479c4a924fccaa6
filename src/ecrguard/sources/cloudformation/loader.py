"""CloudFormation template files → the normalized model."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping as AnyMapping
from typing import Any

from ecrguard.errors import InputError
from ecrguard.model import CollectionIssue, Inventory, Origin
from ecrguard.sources.cloudformation.intrinsics import Resolver
from ecrguard.sources.cloudformation.mapping import Declared, map_template, properties
from ecrguard.sources.cloudformation.parse import MAX_TEMPLATE_BYTES, ParseError, parse

# A top-level Resources key (YAML at column 0, or JSON) and an AWS:: type somewhere.
_RESOURCES = re.compile(rb'(?m)^(?:Resources|"Resources")[ \t]*:|"Resources"\s*:')
_AWS_TYPE = re.compile(rb"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
# Only CloudFormation has this key, and templates usually start with it: a file cut
# short before its Resources still says what it is.
_FORMAT_VERSION = re.compile(
    rb'(?m)^(?:AWSTemplateFormatVersion|"AWSTemplateFormatVersion")[ \t]*:'
    rb'|"AWSTemplateFormatVersion"\s*:'
)


class NotATemplate(InputError):
    """YAML or JSON without a top-level Resources section: some other kind of file."""


def looks_like_template(data: bytes) -> bool:
    """Cheap sniff: a Resources section and an AWS:: type (skips workflow and k8s YAML),
    or the AWSTemplateFormatVersion key."""
    if _FORMAT_VERSION.search(data):
        return True
    return bool(_RESOURCES.search(data)) and bool(_AWS_TYPE.search(data))


def load_cloudformation(
    path: str | os.PathLike[str],
    *,
    owner_account: str | None = None,
    region: str | None = None,
    parameters: AnyMapping[str, Any] | None = None,
) -> Inventory:
    """Read one CloudFormation template (YAML or JSON) into the model.

    ``owner_account`` answers ``AWS::AccountId``; ``region`` answers
    ``AWS::Region`` (and the partition), which otherwise stays unresolved
    since a template is deployed wherever its stack is created.
    ``parameters`` override parameter defaults. Bad input raises a one-line
    InputError naming the file and line.
    """
    path = os.fspath(path)
    template = _read(path)
    resolver = Resolver(template, owner_account=owner_account, region=region, parameters=parameters)
    declared = []
    issues = []
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        line = resources.lines.get(logical_id)
        if isinstance(logical_id, str) and logical_id.startswith("Fn::ForEach::"):
            # AWS::LanguageExtensions loops are expanded by CloudFormation, not here.
            reason = f"{logical_id} at line {line} is not expanded; its resources are not judged"
            issues.append(CollectionIssue(path, "cloudformation:foreach", reason))
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("Type"), str):
            raise InputError(f"{path}: resource {logical_id!r} has no Type at line {line}")
        if "Condition" in resource:
            created = resolver.condition(resource["Condition"])
            if created is False:
                continue
            # An unknown condition keeps the resource: judging it is the cautious choice.
        origin = Origin(str(logical_id), path, line)
        props = properties(resolver, resource, origin)
        declared.append(Declared(str(logical_id), resource["Type"], origin, props))
    try:
        inventory = map_template(declared, owner_account, region)
    except RecursionError:
        # The parser caps nesting, so this would take references the resolver did not catch.
        raise InputError(f"{path}: values refer to each other too deeply") from None
    return inventory.merge(Inventory(issues=tuple(issues))) if issues else inventory


def _read(path: str) -> Any:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_TEMPLATE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"no such file or directory: {path}") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory, not a template") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read file: {err.strerror or err}") from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise InputError(f"{path}: larger than {MAX_TEMPLATE_BYTES // (1024 * 1024)} MiB")
    if b"\0" in data:
        raise InputError(f"{path}: binary file, not a CloudFormation template")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise InputError(f"{path}: not UTF-8 text (invalid byte at line {line})") from None
    try:
        template = parse(text, json_syntax=text.lstrip().startswith(("{", "[")))
    except ParseError as err:
        where = f" at line {err.line}" if err.line else ""
        raise InputError(f"{path}: {err.message}{where}") from None
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict) or not resources:
        if isinstance(template, dict) and "AWSTemplateFormatVersion" in template:
            # It says it is a template, so it is not some other file to pass over:
            # CloudFormation would refuse it too (cut short?).
            raise InputError(f"{path}: CloudFormation template with no Resources section")
        raise NotATemplate(f"{path}: not a CloudFormation template (no Resources section)")
    return template
