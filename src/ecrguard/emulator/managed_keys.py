"""The AWS-managed KMS key for ECR (``alias/aws/ecr``), which moto does not know.

AWS creates ``aws/ecr`` on first use: when a repository asks for ``KMS`` or
``KMS_DSSE`` encryption without naming a key, or when ``DescribeKey`` names
the alias. moto knows other ``alias/aws/*`` keys but not this one, marks the
keys it creates for them ``CUSTOMER`` with rotation off, and gives a keyless
KMS repository a random key ARN that exists nowhere. Here:

- ``alias/aws/ecr`` is one of moto's reserved aliases, so ``DescribeKey`` on it
  creates the key, as AWS does;
- every reserved-alias key is ``KeyManager: AWS`` with rotation on (AWS rotates
  its managed keys every year and nobody can turn that off);
- a repository created with ``KMS``/``KMS_DSSE`` and no ``kmsKey`` reports the
  ARN of its region's ``aws/ecr`` key.
"""

from __future__ import annotations

from typing import Any

ECR_ALIAS = "alias/aws/ecr"


def install() -> None:
    from moto.ecr.models import Repository
    from moto.kms import utils as kms_utils
    from moto.kms.models import KmsBackend

    # moto's models and responses imported these objects by name; extending
    # them in place is what both see. The target id is only shown by
    # ListAliases before the key exists.
    kms_utils.RESERVED_ALIASE_TARGET_KEY_IDS[ECR_ALIAS] = "3a5c2b7e-6d1f-4e2a-9b8c-0f1e2d3c4b5a"
    if ECR_ALIAS not in kms_utils.RESERVED_ALIASES:
        kms_utils.RESERVED_ALIASES.append(ECR_ALIAS)

    original_default_keys = KmsBackend._generate_default_keys

    def generate_default_keys(self: KmsBackend, alias_name: str) -> str | None:
        key_id = original_default_keys(self, alias_name)
        if key_id is not None:
            key = self.keys[key_id]
            key.key_manager = "AWS"
            key.key_rotation_status = True
        return key_id

    KmsBackend._generate_default_keys = generate_default_keys  # type: ignore[method-assign]

    original_encryption = Repository._determine_encryption_config

    def determine_encryption_config(
        self: Repository, encryption_config: dict[str, str] | None
    ) -> dict[str, str]:
        config = dict(encryption_config or {})
        if config.get("encryptionType") in ("KMS", "KMS_DSSE") and not config.get("kmsKey"):
            config["kmsKey"] = managed_key_arn(self.account_id, self.region_name)
        return original_encryption(self, config or None)

    Repository._determine_encryption_config = determine_encryption_config  # type: ignore[method-assign]


def managed_key_arn(account: str, region: str) -> str:
    from moto.kms.models import kms_backends

    backend: Any = kms_backends[account][region]
    key_id = backend.get_key_id_from_alias(ECR_ALIAS)
    return str(backend.keys[key_id].arn)
