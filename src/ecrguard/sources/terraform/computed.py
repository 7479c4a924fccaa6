"""Attributes the configuration does not write but Terraform knows or derives.

Only attributes that follow from what is written (and from ``--owner-account``
and a literal provider region) are derived; the rest stay unknown.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ecrguard.sources.terraform.bodies import nested_blocks
from ecrguard.sources.terraform.values import Ref, Unknown, json_text

if TYPE_CHECKING:
    from ecrguard.sources.terraform.modules import ResourceInstance


class BlockValue(Ref):
    """A nested block read as an object, as in ``aws_x.y.encryption_configuration[0].kms_key``."""

    def __init__(self, owner: ResourceInstance, body: Any, scope: Any, address: str) -> None:
        self.owner = owner
        self.body = body
        self.scope = scope
        self.address = address

    def get_attr(self, name: str) -> Any:
        attr = self.body.attrs.get(name)
        if attr is not None:
            return self.owner.module.load.ev.evaluate(attr, self.scope)
        return _blocks(self.owner, self.body, self.scope, name, f"{self.address}.{name}")


def computed(inst: ResourceInstance, name: str) -> Any:
    kind = inst.decl.type
    if inst.decl.kind == "data":
        return _data(inst, kind, name)
    if kind == "aws_ecr_repository":
        found = _repository(inst, name)
        if found is not None:
            return found
    if name in IDENTITY.get(kind, ()):
        # The resource's identity inside the configuration, standing in for an id
        # AWS assigns at apply time: endpoints name their VPC, policies their
        # endpoint (aws:SourceVpce), repositories their key, all by address.
        return inst.address
    if kind in ("aws_iam_role", "aws_iam_user") and name == "arn":
        return _iam_arn(inst, kind.removeprefix("aws_iam_"))
    blocks = _blocks(inst, inst.body, inst.scope, name, f"{inst.address}.{name}")
    if blocks is not None:
        return blocks
    return Unknown(f"{inst.address}.{name} is known only after apply")


def _blocks(owner: ResourceInstance, body: Any, scope: Any, name: str, address: str) -> Any:
    if not any(
        b.type == name or (b.type == "dynamic" and b.labels[:1] == (name,)) for b in body.blocks
    ):
        return None if body is owner.body else Unknown(f"{address} is not set")
    found = nested_blocks(owner.module.load.ev, body, name, scope)
    if isinstance(found, Unknown):
        return found
    return [BlockValue(owner, n.body, n.scope, address) for n in found]


def _repository(inst: ResourceInstance, name: str) -> Any:
    if name == "id":
        return inst.get_attr("name")
    account = inst.module.load.owner_account
    region = inst.region
    if name == "registry_id":
        return account if account else Unknown(_NO_ACCOUNT)
    if name not in ("arn", "repository_url"):
        return None
    repo = inst.get_attr("name")
    if isinstance(repo, Unknown):
        return repo
    if not account:
        return Unknown(f"{inst.address}.{name} needs the account: {_NO_ACCOUNT}")
    if not region:
        return Unknown(f"{inst.address}.{name} needs the region, which the provider does not set")
    if name == "arn":
        return f"arn:{_partition(region)}:ecr:{region}:{account}:repository/{repo}"
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{repo}"


def _iam_arn(inst: ResourceInstance, kind: str) -> Any:
    account = inst.module.load.owner_account
    if not account:
        return Unknown(f"{inst.address}.arn needs the account: {_NO_ACCOUNT}")
    if "name" not in inst.body.attrs:
        return Unknown(f"{inst.address}.arn is known only after apply (no literal name)")
    name = inst.get_attr("name")
    path = inst.get_attr("path") if "path" in inst.body.attrs else "/"
    for part in (name, path):
        if isinstance(part, Unknown):
            return part
    if not isinstance(name, str) or not isinstance(path, str):
        return Unknown(f"{inst.address}.arn: name and path must be strings", error=True)
    # IAM is global; the partition follows the region when one is known (aws-cn, aws-us-gov).
    region = inst.region
    return f"arn:{_partition(region) if region else 'aws'}:iam::{account}:{kind}{path}{name}"


_NO_ACCOUNT = "the AWS account is not known; pass the owner account"

# Attributes whose value AWS assigns at apply time but which only serve to name
# the resource; the resource's address stands in for them (here, and in plan
# JSON, where Terraform reports them as unknown).
IDENTITY: dict[str, tuple[str, ...]] = {
    "aws_vpc": ("id",),
    "aws_vpc_endpoint": ("id",),
    "aws_kms_key": ("arn", "id", "key_id"),
}


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _data(inst: ResourceInstance, kind: str, name: str) -> Any:
    if kind == "aws_iam_policy_document" and name in ("json", "minified_json"):
        from ecrguard.sources.terraform.policy_document import build

        doc = build(inst.module.load.ev, inst.body, inst.scope)
        if isinstance(doc, Unknown):
            return Unknown(f"{inst.address}: {doc.reason}", doc.error)
        if name == "json":
            return json_text(doc, json.dumps(doc, indent=2))
        return json_text(doc, json.dumps(doc, separators=(",", ":")))
    if kind == "aws_caller_identity" and name in ("account_id", "id"):
        account = inst.module.load.owner_account
        return account if account else Unknown(f"{inst.address}.{name}: {_NO_ACCOUNT}")
    region = inst.region
    if kind == "aws_region" and name in ("name", "region", "id"):
        return (
            region if region else Unknown(f"{inst.address}.{name}: the provider region is not set")
        )
    if kind == "aws_partition" and name in ("partition", "id"):
        return (
            _partition(region)
            if region
            else Unknown(f"{inst.address}.{name}: the provider region is not set")
        )
    return Unknown(f"{inst.address}.{name} is read from AWS at plan time")
