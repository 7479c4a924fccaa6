"""Image lifecycle and tags: lifecycle policies and tag mutability (labs 09-10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ecrguard.model import CreationTemplate, Repository, Severity
from ecrguard.policy.glob import glob_match
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


# ---- EG014 lifecycle policy ----------------------------------------------------------------


def expires_untagged(policy: Any) -> bool | None:
    """Whether some rule expires untagged images; None when the document is not a lifecycle policy."""
    if not isinstance(policy, dict) or not isinstance(policy.get("rules"), list):
        return None
    for rule in policy["rules"]:
        if not isinstance(rule, dict):
            return None
        selection = rule.get("selection") or {}
        action = rule.get("action") or {}
        if not isinstance(selection, dict) or not isinstance(action, dict):
            return None
        if action.get("type") == "expire" and selection.get("tagStatus") in ("untagged", "any"):
            return True
    return False


def _check_lifecycle(item: Holder, ctx: Context) -> Iterator[Result]:
    what = subject(item)
    policy = item.lifecycle_policy
    if not policy.resolved:
        yield unresolved(policy, "the lifecycle policy")
        return
    if policy.value is None:
        yield failed(
            f"{what} has no lifecycle policy: untagged layers and old images pile up forever",
            policy.origin,
        )
        return
    verdict = expires_untagged(policy.value)
    if verdict is None:
        yield unknown(f"{what} lifecycle policy is not a valid lifecycle document", policy.origin)
    elif verdict:
        yield passed(f"{what} lifecycle policy expires untagged images", policy.origin)
    else:
        yield failed(
            f"{what} lifecycle policy only touches tagged images; untagged ones are never expired",
            policy.origin,
        )


LIFECYCLE_POLICY = Rule(
    id="EG014",
    title="Repository has no lifecycle policy, or it never expires untagged images",
    severity=Severity.LOW,
    labs=("09",),
    targets=(Repository, CreationTemplate),
    check=_check_lifecycle,
    docs=Docs(
        what=(
            "Fails when a repository (or a creation template) has no lifecycle policy, or when none "
            "of its rules expires images with tagStatus 'untagged' (or 'any')."
        ),
        why=(
            "Every push that moves a tag leaves the previous image untagged. Without expiry they "
            "accumulate: storage cost grows, and old vulnerable images stay pullable by digest "
            "long after everyone thinks they are gone."
        ),
        example=(
            'Fails: no policy, or only {"selection": {"tagStatus": "tagged", "tagPrefixList": '
            '["v"], "countType": "imageCountMoreThan", "countNumber": 50}, "action": {"type": "expire"}}\n'
            'Passes: a rule {"selection": {"tagStatus": "untagged", "countType": '
            '"sinceImagePushed", "countUnit": "days", "countNumber": 14}, "action": {"type": "expire"}}'
        ),
        fix="Add a lifecycle rule that expires untagged images after a short period.",
    ),
    remediation=Remediation(
        cli=(
            "aws ecr put-lifecycle-policy --repository-name {name} --region {region} "
            "--lifecycle-policy-text file://expire-untagged.json"
        ),
        terraform=(
            'resource "aws_ecr_lifecycle_policy" "this" {\n'
            "  repository = aws_ecr_repository.this.name\n"
            "  policy = jsonencode({\n"
            "    rules = [{\n"
            "      rulePriority = 1\n"
            '      description  = "expire untagged images"\n'
            '      selection = { tagStatus = "untagged", countType = "sinceImagePushed", '
            'countUnit = "days", countNumber = 14 }\n'
            '      action    = { type = "expire" }\n'
            "    }]\n  })\n}"
        ),
    ),
    references=References(
        prowler=("ecr_repositories_lifecycle_policy_enabled",),
        fsbp=(fsbp("ECR.3"),),
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/LifecyclePolicies.html",),
    ),
    permissions=("ecr:GetLifecyclePolicy",),
)


# ---- EG015 tag mutability ---------------------------------------------------------------------

# Tags a team treats as releases. An exclusion filter that matches one of them
# re-opens exactly the tags immutability exists to protect ("latest" may move).
RELEASE_TAGS = (
    "v1.0.0",
    "1.0.0",
    "v2",
    "2024.01.15",
    "prod",
    "production",
    "release-1.4",
    "stable",
    "sha-3f2a9c1",
)


def _check_mutability(item: Holder, ctx: Context) -> Iterator[Result]:
    what = subject(item)
    mode = item.tag_mutability
    if not mode.resolved:
        yield unresolved(mode, "the tag mutability")
        return
    if mode.value == "IMMUTABLE":
        yield passed(f"{what} tags are immutable", mode.origin)
        return
    if mode.value in ("MUTABLE", "MUTABLE_WITH_EXCLUSION"):
        extra = (
            " (only the excluded tags are protected)"
            if mode.value == "MUTABLE_WITH_EXCLUSION"
            else ""
        )
        yield failed(
            f"{what} tags are {mode.value}: anyone who can push can replace v1.0 with another image{extra}",
            mode.origin,
        )
        return
    if mode.value == "IMMUTABLE_WITH_EXCLUSION":
        filters = item.mutability_exclusions if isinstance(item, Repository) else None
        if filters is None:
            yield unknown(f"{what} uses exclusions that this source does not list", mode.origin)
            return
        if not filters.resolved:
            yield unresolved(filters, "the mutability exclusion filters")
            return
        release_tags = tuple(ctx.param(TAG_MUTABILITY, "release_tags"))
        broad = sorted(
            {f for f in filters.value or () for tag in release_tags if glob_match(f, tag)}
        )
        if broad:
            yield failed(
                f"{what} is immutable except for tags matching {', '.join(broad)}, which covers "
                "release tags and defeats immutability",
                filters.origin,
            )
        else:
            yield passed(
                f"{what} is immutable; exclusions ({', '.join(filters.value or ())}) cover no release tags",
                filters.origin,
            )
        return
    yield unknown(f"{what} has an unknown tag mutability {mode.value!r}", mode.origin)


TAG_MUTABILITY = Rule(
    id="EG015",
    title="Image tags are mutable, or immutability exclusions cover release tags",
    severity=Severity.HIGH,
    labs=("10",),
    targets=(Repository, CreationTemplate),
    check=_check_mutability,
    params={"release_tags": RELEASE_TAGS},
    docs=Docs(
        what=(
            "Fails for MUTABLE and MUTABLE_WITH_EXCLUSION. Passes IMMUTABLE. For "
            "IMMUTABLE_WITH_EXCLUSION, matches each exclusion filter against typical release tags "
            "(v1.0.0, prod, stable...) and fails when one matches: such an exclusion re-opens the "
            "tags immutability protects."
        ),
        why=(
            "With mutable tags, whoever can push (a compromised CI job, an over-privileged role, an "
            "external account with push rights) replaces myapp:v1.0 with their own image, and every "
            "deployment that pulls by tag runs it. Nothing in the tag says it changed."
        ),
        example=(
            'Fails: image_tag_mutability = "MUTABLE", or IMMUTABLE_WITH_EXCLUSION with filter "v*".\n'
            'Passes: image_tag_mutability = "IMMUTABLE", or IMMUTABLE_WITH_EXCLUSION with filter "latest".'
        ),
        fix="Set the repository to IMMUTABLE (keep at most 'latest'-style tags in exclusions) and deploy by digest.",
    ),
    remediation=Remediation(
        cli="aws ecr put-image-tag-mutability --repository-name {name} --region {region} --image-tag-mutability IMMUTABLE",
        terraform=(
            'resource "aws_ecr_repository" "this" {\n'
            '  name                 = "app"\n'
            '  image_tag_mutability = "IMMUTABLE"\n}'
        ),
    ),
    references=References(
        prowler=("ecr_repositories_tag_immutability",),
        checkov=("CKV_AWS_51",),
        trivy=("AVD-AWS-0031",),
        fsbp=(fsbp("ECR.2"),),
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html",),
    ),
    permissions=("ecr:DescribeRepositories",),
)

RULES = (LIFECYCLE_POLICY, TAG_MUTABILITY)
