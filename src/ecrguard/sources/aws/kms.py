"""KMS: the keys that encrypt repositories, their rotation and policy (lab 11)."""

from __future__ import annotations

import json
from typing import Any

from ecrguard.model import KmsKey, Origin, PolicyDoc, Sourced
from ecrguard.sources.aws.calls import Client, Failure

RESPONSE = dict[str, Any]
# The key ECR uses for KMS encryption when a repository names none.
AWS_MANAGED_ECR_KEY = "alias/aws/ecr"


def get_key(client: Client, ref: str) -> RESPONSE:
    """``KeyMetadata`` of a key named by ARN, key id, alias or alias ARN."""
    metadata: RESPONSE = client.describe_key(KeyId=ref)["KeyMetadata"]
    return metadata


def get_rotation(client: Client, key_id: str) -> bool:
    return bool(client.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"])


def get_key_policy(client: Client, key_id: str) -> str:
    policy: str = client.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    return policy


def get_aliases(client: Client) -> list[RESPONSE]:
    pages = client.get_paginator("list_aliases").paginate()
    return [alias for page in pages for alias in page.get("Aliases", [])]


def transform_kms_key(
    metadata: RESPONSE,
    rotation: bool | Failure | None,
    policy: str | Failure,
    aliases: list[RESPONSE] | Failure,
) -> KmsKey:
    """One key; ``rotation`` is None for AWS-managed keys, which nobody asks about."""
    arn = metadata["Arn"]
    origin = Origin(arn)
    manager = metadata.get("KeyManager", "CUSTOMER")
    return KmsKey(
        id=arn,
        origin=origin,
        account=metadata.get("AWSAccountId") or arn.split(":")[4],
        region=arn.split(":")[3],
        key_id=Sourced.set(metadata["KeyId"], origin),
        aliases=(
            Sourced.unresolved(origin, aliases.reason)
            if isinstance(aliases, Failure)
            else Sourced.set(
                tuple(
                    sorted(
                        a["AliasName"] for a in aliases if a.get("TargetKeyId") == metadata["KeyId"]
                    )
                ),
                origin,
            )
        ),
        manager=Sourced.set(manager, origin),
        rotation=_rotation(rotation, manager, origin),
        policy=_policy(policy, origin),
    )


def _rotation(rotation: bool | Failure | None, manager: str, origin: Origin) -> Sourced[bool]:
    if isinstance(rotation, Failure):
        return Sourced.unresolved(origin, rotation.reason)
    if rotation is None:
        # AWS rotates the keys it manages every year; nobody can turn that off.
        return Sourced.default(manager == "AWS", origin)
    return Sourced.set(rotation, origin)


def _policy(text: str | Failure, origin: Origin) -> Sourced[PolicyDoc | None]:
    if isinstance(text, Failure):
        return Sourced.unresolved(origin, text.reason)
    try:
        document = json.loads(text)
    except ValueError as err:
        return Sourced.unresolved(origin, f"key policy is not valid JSON: {err}")
    if not isinstance(document, dict):
        return Sourced.unresolved(origin, "key policy is not a JSON object")
    return Sourced.set(document, origin)
