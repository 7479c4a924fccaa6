"""Lab 03: a repository policy that lets other accounts pull, and one of them push over `prod`."""

from __future__ import annotations

import json
from contextlib import suppress

from ecrguard.labs.base import (
    OUTSIDER,
    OUTSIDER_ROLE,
    LabEnv,
    Outcome,
    decide,
    ensure_organization,
    push_image,
)
from ecrguard.policy import Decision

NUMBER = "03"
RULES = ("EG004", "EG005")
PREFIX = "lab03-"
REPO = "lab03-prod-api"
TAG = "prod"
# A former partner that once consumed the image: pull only.
PARTNER = "444455556666"
RELEASE = "prod-api release 2.4.1"
BACKDOOR = "prod-api release 2.4.1 + the attacker's reverse shell"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]

CROSS_ACCOUNT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PartnerPull",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
            "Action": PULL,
        },
        {
            "Sid": "VendorBuildPush",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OUTSIDER}:root"},
            "Action": PULL + PUSH,
        },
    ],
}


def _org_pull(org_id: str) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OrgPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": PULL,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": org_id}},
            }
        ],
    }


def _digest(env: LabEnv) -> str | None:
    """The digest `prod` points at now."""
    ecr = env.client("ecr")
    try:
        found = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": TAG}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    details = found["imageDetails"]
    return str(details[0]["imageDigest"]) if details else None


def _push(env: LabEnv, content: str) -> str | None:
    """Push `content` as `prod` and return its digest."""
    ecr = env.client("ecr")
    try:
        return push_image(env, REPO, TAG, content)
    except ecr.exceptions.ImageAlreadyExistsException:
        return _digest(env)  # `prod` already is exactly this image


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def setup(env: LabEnv) -> list[str]:
    ensure_organization(env)
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=REPO, imageTagMutability="MUTABLE")
    _push(env, RELEASE)
    ecr.set_repository_policy(repositoryName=REPO, policyText=json.dumps(CROSS_ACCOUNT_POLICY))
    return [
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability MUTABLE",
        f"docker push {_registry(env)}/{REPO}:{TAG}   # {_digest(env)}",
        f"aws ecr set-repository-policy --repository-name {REPO} "
        "--policy-text file://cross-account.json"
        f"   # pull for {PARTNER}, pull and push for {OUTSIDER}",
    ]


def exploit(env: LabEnv) -> Outcome:
    ecr = env.client("ecr")
    try:
        policy: str | None = ecr.get_repository_policy(repositoryName=REPO)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        policy = None
    arn = env.repo_arn(REPO)
    answers = {action: decide(policy, OUTSIDER_ROLE, action, arn) for action in PUSH}
    allowed = all(decision is Decision.ALLOW for decision, _ in answers.values())
    before = _digest(env)
    image = f"{_registry(env)}/{REPO}:{TAG}"
    commands = [
        f"# as {OUTSIDER_ROLE}, with the vendor account's credentials:",
        "aws ecr get-login-password | docker login --username AWS --password-stdin "
        + _registry(env),
        f"docker tag backdoored-api {image}",
        f"docker push {image}",
    ]
    engine = f"{OUTSIDER_ROLE} ecr:PutImage on {arn}: {answers['ecr:PutImage'][1]}"
    if not allowed:
        # Replay only what the policy lets through: nothing is pushed.
        denied = ", ".join(a for a, (d, _) in answers.items() if d is not Decision.ALLOW)
        return Outcome(
            False,
            f"{engine}; the outsider may not {denied}, so nothing was pushed and {TAG} "
            f"still points at {before}",
            commands,
        )
    # moto does not enforce repository policies: replay the push the policy allows,
    # with the emulator's credentials, exactly as the outsider would make it.
    planted = _push(env, BACKDOOR)
    after = _digest(env)
    worked = after is not None and after == planted and after != before
    return Outcome(
        worked,
        f"{engine}; the outsider pushed over {REPO}:{TAG}: digest before {before}, after {after}"
        + ("" if worked else " (the tag did not move)"),
        commands,
    )


def fix(env: LabEnv) -> list[str]:
    org_id = ensure_organization(env)
    ecr = env.client("ecr")
    ecr.set_repository_policy(repositoryName=REPO, policyText=json.dumps(_org_pull(org_id)))
    overwritten = _digest(env)
    _push(env, RELEASE)
    restored = _digest(env)
    return [
        f"aws ecr set-repository-policy --repository-name {REPO} --policy-text file://org-pull.json"
        f'   # pull only, for Principal "*" when aws:PrincipalOrgID = {org_id}; no other writer',
        "# put the release back on the tag (its manifest is still in the repository, untagged):",
        f"aws ecr batch-get-image --repository-name {REPO} --image-ids imageDigest={restored} "
        "--query 'images[0].imageManifest' --output text > release.json",
        f"aws ecr put-image --repository-name {REPO} --image-tag {TAG} "
        "--image-manifest file://release.json",
        f"# {_registry(env)}/{REPO}:{TAG} was {overwritten}, now {restored}",
    ]


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_repository(repositoryName=REPO, force=True)
