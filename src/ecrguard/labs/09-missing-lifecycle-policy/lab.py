"""Lab 09: untagged images pile up, and an old vulnerable build stays pullable by digest."""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from typing import Any, NamedTuple

from ecrguard.labs.base import LabEnv, Outcome, push_blobs, push_image
from ecrguard.rules.lifecycle import expires_untagged

NUMBER = "09"
RULES = ("EG014",)
PREFIX = "lab09-"
UNTAGGED_DAYS = 14
KEEP_RELEASES = 20


class Repo(NamedTuple):
    name: str
    policy: dict[str, Any] | None  # the lifecycle policy of the vulnerable state
    unpromoted: tuple[str, ...]  # builds pushed by digest and never tagged, oldest first
    promoted: tuple[tuple[str, str], ...]  # (tag, build) pushed in order; a tag may move


# Only tagged release images are ever expired: the untagged ones are not selected.
TAGGED_ONLY = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"keep the last {KEEP_RELEASES} releases",
            "selection": {
                "tagStatus": "tagged",
                "tagPrefixList": ["v"],
                "countType": "imageCountMoreThan",
                "countNumber": KEEP_RELEASES,
            },
            "action": {"type": "expire"},
        }
    ]
}

FIXED = {
    "rules": [
        {
            "rulePriority": 1,
            "description": f"expire untagged images {UNTAGGED_DAYS} days after push",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": UNTAGGED_DAYS,
            },
            "action": {"type": "expire"},
        },
        TAGGED_ONLY["rules"][0] | {"rulePriority": 2},
    ]
}

# The first unpromoted build of each repository carries the vulnerable library.
VULNERABLE = "openssl 1.1.1k (CVE-2023-0286)"

REPOS = (
    Repo(
        "lab09-web-frontend",
        None,
        (
            f"web-frontend commit 3f2a9c1, {VULNERABLE}",
            "web-frontend commit 8d41e07, openssl 3.0.13",
        ),
        (
            ("latest", "web-frontend release 41, openssl 3.0.13"),
            ("latest", "web-frontend release 42, openssl 3.0.13"),
        ),
    ),
    Repo(
        "lab09-billing-worker",
        TAGGED_ONLY,
        (f"billing-worker commit 71ac3de, {VULNERABLE}",),
        (
            ("v1.8.0", "billing-worker 1.8.0, openssl 3.0.13"),
            ("v1.9.0", "billing-worker 1.9.0, openssl 3.0.13"),
        ),
    ),
)


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _layer_digest(content: str) -> str:
    return "sha256:" + hashlib.sha256(content.encode()).hexdigest()


def _push_by_digest(ecr: Any, repo: str, content: str) -> None:
    """Push an image without a tag, as ``docker buildx ... push-by-digest=true`` does."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode()
    with suppress(ecr.exceptions.ImageAlreadyExistsException):  # pushed by an earlier setup
        push_blobs(ecr, config, content.encode(), repositoryName=repo)


def _push_tagged(env: LabEnv, repo: str, tag: str, content: str) -> None:
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.ImageAlreadyExistsException):  # already on the tag
        push_image(env, repo, tag, content)


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    commands = []
    for r in REPOS:
        with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=r.name, imageTagMutability="MUTABLE")
        commands.append(
            f"aws ecr create-repository --repository-name {r.name} --image-tag-mutability MUTABLE"
        )
        if r.policy is None:
            with suppress(ecr.exceptions.LifecyclePolicyNotFoundException):
                ecr.delete_lifecycle_policy(repositoryName=r.name)  # left by an earlier fix
            commands.append(f"# {r.name}: no lifecycle policy")
        else:
            ecr.put_lifecycle_policy(
                repositoryName=r.name, lifecyclePolicyText=json.dumps(r.policy)
            )
            commands.append(
                f"aws ecr put-lifecycle-policy --repository-name {r.name} "
                "--lifecycle-policy-text file://releases-only.json   # selects tagStatus=tagged only"
            )
        for build in r.unpromoted:
            _push_by_digest(ecr, r.name, build)
            commands.append(
                f"docker buildx build --push --output type=image,name={_registry(env)}/{r.name},"
                f"push-by-digest=true .   # {build}; never tagged"
            )
        for tag, build in r.promoted:
            _push_tagged(env, r.name, tag, build)
            commands.append(f"docker push {_registry(env)}/{r.name}:{tag}   # {build}")
    return commands


def _lifecycle(env: LabEnv, repo: str) -> Any:
    ecr = env.client("ecr")
    try:
        return json.loads(ecr.get_lifecycle_policy(repositoryName=repo)["lifecyclePolicyText"])
    except ecr.exceptions.LifecyclePolicyNotFoundException:
        return None


def untagged_images(env: LabEnv, repo: str) -> list[dict[str, Any]]:
    """The repository's untagged images.

    ECR applies the tagStatus filter itself; plain moto ignores it, so images
    that do carry tags are dropped here as well.
    """
    ecr = env.client("ecr")
    found: list[dict[str, Any]] = []
    for page in ecr.get_paginator("describe_images").paginate(
        repositoryName=repo, filter={"tagStatus": "UNTAGGED"}
    ):
        found += [d for d in page["imageDetails"] if not d.get("imageTags")]
    return found


def _pull(env: LabEnv, repo: str, digest: str) -> str | None:
    """The manifest ``batch-get-image`` returns for a digest: what ``docker pull repo@digest`` gets."""
    images = env.client("ecr").batch_get_image(
        repositoryName=repo, imageIds=[{"imageDigest": digest}]
    )["images"]
    return str(images[0]["imageManifest"]) if images else None


def _vulnerable_build(manifest: str, repo: Repo) -> bool:
    layers = [x.get("digest") for x in json.loads(manifest).get("layers", [])]
    return any(_layer_digest(b) in layers for b in repo.unpromoted if VULNERABLE in b)


def exploit(env: LabEnv) -> Outcome:
    parts: list[str] = []
    worked = False
    commands = []
    for r in REPOS:
        policy = _lifecycle(env, r.name)
        verdict = expires_untagged(policy) if policy is not None else False
        untagged = untagged_images(env, r.name)
        pulled = {
            d["imageDigest"]: m
            for d in untagged
            if (m := _pull(env, r.name, d["imageDigest"])) is not None
        }
        old = [digest for digest, m in pulled.items() if _vulnerable_build(m, r)]
        if policy is None:
            rule = "no lifecycle policy"
        elif verdict:
            rule = "its lifecycle policy expires untagged images"
        elif verdict is None:
            rule = "its lifecycle policy is not a valid lifecycle document"
        else:
            rule = "its lifecycle policy selects tagged images only"
        piles_up = bool(untagged) and verdict is not True
        worked = worked or piles_up
        found = f"{len(untagged)} untagged image(s), {len(pulled)} pullable by digest" + (
            f" (among them the {VULNERABLE} build {old[0]})" if old else ""
        )
        if piles_up:
            found += ": none of them will ever be expired"
        elif untagged:
            found += f": the policy expires them {UNTAGGED_DAYS} days after push"
        parts.append(f"{r.name}: {rule}; {found}")
        if old:
            commands.append(f"docker pull {_registry(env)}/{r.name}@{old[0]}")
        commands.append(
            f"aws ecr describe-images --repository-name {r.name} --filter tagStatus=UNTAGGED"
        )
    return Outcome(worked, "; ".join(parts), commands)


def fix(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    commands = []
    for r in REPOS:
        ecr.put_lifecycle_policy(repositoryName=r.name, lifecyclePolicyText=json.dumps(FIXED))
        commands.append(
            f"aws ecr put-lifecycle-policy --repository-name {r.name} "
            "--lifecycle-policy-text file://expire-untagged.json"
            f"   # untagged: expire {UNTAGGED_DAYS} days after push; tagged v*: keep the last {KEEP_RELEASES}"
        )
    commands.append(
        "# preview what the policy would delete before it runs (AWS only; the emulator has no preview):"
    )
    commands += [
        f"aws ecr start-lifecycle-policy-preview --repository-name {r.name}" for r in REPOS
    ]
    return commands


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    for r in REPOS:
        with suppress(ecr.exceptions.ClientError):
            ecr.delete_repository(repositoryName=r.name, force=True)
