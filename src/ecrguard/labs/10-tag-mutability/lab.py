"""Lab 10: mutable tags, and an immutability exclusion so broad that release tags move anyway."""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from typing import Any, NamedTuple

from ecrguard.labs.base import LabEnv, Outcome, push_image

NUMBER = "10"
RULES = ("EG015",)
PREFIX = "lab10-"


class Target(NamedTuple):
    repo: str
    tag: str  # the release tag the attacker overwrites
    release: str  # what the release image contains
    backdoor: str  # what the attacker's image contains
    mode: str  # the vulnerable mutability
    exclusions: tuple[str, ...]  # its exclusion filters (wildcards)
    fixed_mode: str
    fixed_exclusions: tuple[str, ...]


TARGETS = (
    # Plain MUTABLE: the default of every create-repository call.
    Target(
        "lab10-checkout",
        "v1.0",
        "checkout service 1.0",
        "checkout service 1.0 + a card skimmer",
        "MUTABLE",
        (),
        "IMMUTABLE",
        (),
    ),
    # Immutable on paper. The exclusion was meant for throwaway builds, but the
    # wildcard `v*` matches every release tag.
    Target(
        "lab10-payments",
        "v2.3.0",
        "payments service 2.3.0",
        "payments service 2.3.0 + a card skimmer",
        "IMMUTABLE_WITH_EXCLUSION",
        ("v*",),
        "IMMUTABLE_WITH_EXCLUSION",
        ("latest",),
    ),
)


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _filters(patterns: tuple[str, ...]) -> list[dict[str, str]]:
    return [{"filterType": "WILDCARD", "filter": p} for p in patterns]


def _set_mutability(ecr: Any, repo: str, mode: str, exclusions: tuple[str, ...]) -> None:
    extra = {"imageTagMutabilityExclusionFilters": _filters(exclusions)} if exclusions else {}
    ecr.put_image_tag_mutability(repositoryName=repo, imageTagMutability=mode, **extra)


def _cli_mutability(repo: str, mode: str, exclusions: tuple[str, ...]) -> str:
    line = (
        f"aws ecr put-image-tag-mutability --repository-name {repo} --image-tag-mutability {mode}"
    )
    if exclusions:
        line += " --image-tag-mutability-exclusion-filters " + " ".join(
            f"filterType=WILDCARD,filter={p}" for p in exclusions
        )
    return line


def _digest(env: LabEnv, repo: str, tag: str) -> str | None:
    ecr = env.client("ecr")
    try:
        found = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return None
    details = found["imageDetails"]
    return str(details[0]["imageDigest"]) if details else None


def _release(env: LabEnv, t: Target) -> str | None:
    """Put the release on its tag; already there is fine."""
    ecr = env.client("ecr")
    try:
        return push_image(env, t.repo, t.tag, t.release)
    except ecr.exceptions.ImageAlreadyExistsException:
        return _digest(env, t.repo, t.tag)


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    commands = []
    for t in TARGETS:
        extra = (
            {"imageTagMutabilityExclusionFilters": _filters(t.exclusions)} if t.exclusions else {}
        )
        try:
            ecr.create_repository(repositoryName=t.repo, imageTagMutability=t.mode, **extra)
        except ecr.exceptions.RepositoryAlreadyExistsException:
            # Left by an earlier run (perhaps fixed): make it vulnerable again.
            _set_mutability(ecr, t.repo, t.mode, t.exclusions)
        digest = _release(env, t)
        create = (
            f"aws ecr create-repository --repository-name {t.repo} --image-tag-mutability {t.mode}"
        )
        if t.exclusions:
            create += " --image-tag-mutability-exclusion-filters " + " ".join(
                f"filterType=WILDCARD,filter={p}" for p in t.exclusions
            )
        commands += [create, f"docker push {_registry(env)}/{t.repo}:{t.tag}   # {digest}"]
    return commands


def _carries(env: LabEnv, t: Target, content: str) -> bool:
    """Whether the image on the release tag is the one built from ``content`` (its only layer)."""
    ecr = env.client("ecr")
    images = ecr.batch_get_image(repositoryName=t.repo, imageIds=[{"imageTag": t.tag}])["images"]
    layer = "sha256:" + hashlib.sha256(content.encode()).hexdigest()
    return any(
        [x.get("digest") for x in json.loads(i["imageManifest"]).get("layers", [])] == [layer]
        for i in images
    )


def _overwrite(env: LabEnv, t: Target) -> tuple[bool, str]:
    """Push the attacker's image over the release tag; whether the tag now serves it, and how."""
    ecr = env.client("ecr")
    image = f"{t.repo}:{t.tag}"
    before = _digest(env, t.repo, t.tag)
    try:
        push_image(env, t.repo, t.tag, t.backdoor)
        refused = ""
    except ecr.exceptions.ImageAlreadyExistsException as err:
        refused = f"{err.response['Error']['Code']}: {err.response['Error']['Message']}"
    after = _digest(env, t.repo, t.tag)
    backdoored = _carries(env, t, t.backdoor)
    if refused and not backdoored:
        return False, f"push over {image} refused ({refused}); {t.tag} still {after}"
    if refused:  # the attacker's image was already on the tag: an earlier exploit, not undone
        return True, f"{image} already serves the attacker's image {after} ({refused})"
    return backdoored, (
        f"pushed over {image}: digest before {before}, after {after}"
        + ("" if backdoored and after != before else " (the tag did not move)")
    )


def exploit(env: LabEnv) -> Outcome:
    results = [_overwrite(env, t) for t in TARGETS]
    commands = ["# as anyone allowed to push (a CI job, a leaked deploy key):"]
    for t in TARGETS:
        image = f"{_registry(env)}/{t.repo}:{t.tag}"
        commands += [f"docker tag skimmer {image}", f"docker push {image}"]
    return Outcome(any(moved for moved, _ in results), "; ".join(d for _, d in results), commands)


def fix(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    commands = []
    for t in TARGETS:
        overwritten = _digest(env, t.repo, t.tag)
        # Put the release back while the tag can still move, then lock it.
        restored = _release(env, t)
        _set_mutability(ecr, t.repo, t.fixed_mode, t.fixed_exclusions)
        commands += [
            f"# {t.repo}:{t.tag} was {overwritten}; put the release back first:",
            f"aws ecr batch-get-image --repository-name {t.repo} --image-ids imageDigest={restored} "
            "--query 'images[0].imageManifest' --output text > release.json",
            f"aws ecr put-image --repository-name {t.repo} --image-tag {t.tag} "
            "--image-manifest file://release.json",
            _cli_mutability(t.repo, t.fixed_mode, t.fixed_exclusions),
        ]
    return commands


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    for t in TARGETS:
        with suppress(ecr.exceptions.ClientError):
            ecr.delete_repository(repositoryName=t.repo, force=True)
