"""Encryption at rest: repositories and their KMS keys (lab 11)."""

from __future__ import annotations

from collections.abc import Iterator

from ecrguard.model import CreationTemplate, KmsKey, Repository, Severity
from ecrguard.policy.audience import Audience
from ecrguard.rules.base import (
    Context,
    Docs,
    References,
    Remediation,
    Result,
    Rule,
    failed,
    fsbp,
    passed,
    subject,
    unknown,
    unresolved,
)

Holder = Repository | CreationTemplate

# Who may use the key to read image layers; kms:Decrypt is what a pull needs.
KEY_LEVELS = {
    "decrypt": ("kms:Decrypt",),
    "admin": ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey"),
}
AWS_MANAGED_ECR_KEY = "alias/aws/ecr"


def _key_problems(key: KmsKey, ctx: Context) -> list[str] | Result:
    if not (key.manager.resolved and key.rotation.resolved and key.policy.resolved):
        missing = next(v for v in (key.manager, key.rotation, key.policy) if not v.resolved)
        return unresolved(missing, f"KMS key {key.id}")
    problems = []
    if key.manager.value == "AWS":
        problems.append("it is the AWS-managed key, whose policy and rotation you cannot control")
        return problems
    if not key.rotation.value:
        problems.append("its automatic rotation is off")
    if key.policy.value is not None:
        exp = ctx.exposure(key.policy.value, key.account, KEY_LEVELS)
        wide = [lv for lv, a in exp.levels.items() if a in (Audience.PUBLIC, Audience.EXTERNAL)]
        if wide:
            why = exp.reasons.get(wide[0], "")
            problems.append(
                f"its key policy opens kms:{'/'.join(wide)} to {exp.levels[wide[0]].value} principals ({why})"
            )
    return problems


def _check_encryption(item: Holder, ctx: Context) -> Iterator[Result]:
    what = subject(item)
    kind = item.encryption_type
    if not kind.resolved:
        yield unresolved(kind, "the encryption type")
        return
    if kind.value == "AES256":
        yield failed(
            f"{what} is encrypted with AES256 (an AWS-owned key): no key policy, no audit trail of key use, no customer control",
            kind.origin,
        )
        return
    if kind.value not in ("KMS", "KMS_DSSE"):
        yield unknown(f"{what} has an unknown encryption type {kind.value!r}", kind.origin)
        return
    ref = item.kms_key
    if not ref.resolved:
        yield unresolved(ref, "the KMS key")
        return
    if ref.value is None or ref.value.endswith(AWS_MANAGED_ECR_KEY):
        yield failed(
            f"{what} uses {kind.value} with the AWS-managed key {AWS_MANAGED_ECR_KEY}, not a customer-managed key",
            ref.origin,
        )
        return
    key = ctx.inventory.key(ref.value)
    if key is None:
        yield unknown(
            f"{what} uses KMS key {ref.value}, which this scan could not read (rotation and key policy unknown)",
            ref.origin,
        )
        return
    problems = _key_problems(key, ctx)
    if isinstance(problems, Result):
        yield problems
    elif problems:
        yield failed(f"{what} uses KMS key {ref.value}, but {'; '.join(problems)}", ref.origin)
    else:
        yield passed(
            f"{what} uses {kind.value} with customer-managed key {ref.value} (rotated, policy not open)",
            ref.origin,
        )


KMS_ENCRYPTION = Rule(
    id="EG016",
    title="Repository is not encrypted with a well-kept customer-managed KMS key",
    severity=Severity.MEDIUM,
    labs=("11",),
    targets=(Repository, CreationTemplate),
    check=_check_encryption,
    docs=Docs(
        what=(
            "Fails for AES256, and for KMS or KMS_DSSE with the AWS-managed key (alias/aws/ecr). "
            "For a customer-managed key, fails when rotation is off or when the key policy, judged "
            "by the policy engine, lets accounts outside the organisation and trusted list decrypt "
            "or administer the key. KMS_DSSE counts as KMS."
        ),
        why=(
            "A customer-managed key gives you a key policy (who may decrypt layers), CloudTrail "
            "records of every use, rotation and the power to revoke access by disabling the key. "
            "ECR encryption cannot be changed after a repository is created, so the choice made on "
            "day one sticks."
        ),
        example=(
            'Fails: encryption_type = "AES256"; or "KMS" without kms_key; or a key with '
            "enable_key_rotation = false.\n"
            'Passes: encryption_type = "KMS_DSSE", kms_key = aws_kms_key.ecr.arn with '
            "enable_key_rotation = true."
        ),
        fix=(
            "Create a new repository with a customer-managed, rotated key and copy the images into "
            "it by manifest (encryption cannot be changed in place); then switch consumers."
        ),
    ),
    remediation=Remediation(
        cli=(
            "aws kms create-key --description ecr --region {region}   # then enable-key-rotation\n"
            "aws ecr create-repository --repository-name {name}-cmk --region {region} "
            "--encryption-configuration encryptionType=KMS,kmsKey=KEY_ARN\n"
            "# copy each image: batch-get-image on the old repository, put-image on the new one"
        ),
        terraform=(
            'resource "aws_kms_key" "ecr" {\n'
            '  description         = "ECR images"\n'
            "  enable_key_rotation = true\n}\n\n"
            'resource "aws_ecr_repository" "this" {\n'
            '  name = "app"\n'
            "  encryption_configuration {\n"
            '    encryption_type = "KMS"\n'
            "    kms_key         = aws_kms_key.ecr.arn\n"
            "  }\n}"
        ),
    ),
    references=References(
        prowler=("ecr_repository_encrypted_with_cmk", "kms_cmk_rotation_enabled"),
        checkov=("CKV_AWS_136", "CKV_AWS_7"),
        trivy=("AVD-AWS-0033", "AVD-AWS-0065"),
        fsbp=(fsbp("ECR.5"), fsbp("KMS.4")),
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/encryption-at-rest.html",),
    ),
    permissions=(
        "kms:DescribeKey",
        "kms:GetKeyRotationStatus",
        "kms:GetKeyPolicy",
        "kms:ListAliases",
    ),
)

RULES = (KMS_ENCRYPTION,)
