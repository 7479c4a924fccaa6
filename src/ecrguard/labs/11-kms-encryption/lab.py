"""Lab 11: layers under a key nobody controls, and the copy to a repository with a customer key."""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from typing import Any
from urllib.request import urlopen

from botocore.exceptions import ClientError

from ecrguard.errors import LabError
from ecrguard.labs.base import OUTSIDER_ROLE, LabEnv, Outcome, decide
from ecrguard.policy import Decision

NUMBER = "11"
RULES = ("EG016",)
PREFIX = "lab11-"

# AES256: encrypted with a key AWS owns.
LEDGER = "lab11-ledger"
# KMS without a key: the AWS-managed key aws/ecr.
ARCHIVE = "lab11-archive"
# Encryption cannot change after creation: each is replaced by a new repository
# under a customer-managed key (KMS_DSSE counts as KMS), and its images copied.
MIGRATIONS = (
    (LEDGER, "lab11-ledger-cmk", "KMS"),
    (ARCHIVE, "lab11-archive-cmk", "KMS_DSSE"),
)
NEW_KEY = "alias/lab11-ecr"
# KMS with a customer-managed key whose rotation is off. The key is yours, so
# the fix is in place: turn rotation on.
INVOICES = "lab11-invoices"
INVOICES_KEY = "alias/lab11-invoices"

# (repository, tags, content) of the images setup pushes. One image carries two tags.
IMAGES = (
    (LEDGER, ("v3.1.0",), "ledger 3.1.0"),
    (LEDGER, ("v3.2.0", "stable"), "ledger 3.2.0"),
    (INVOICES, ("v7.0.4",), "invoices 7.0.4"),
    (ARCHIVE, ("2023-q4",), "ledger export 2023-q4"),
)
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


# ---- images: what setup pushes, and the local copy of its blobs ---------------------------


def _sha(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def _build(content: str) -> tuple[str, dict[str, bytes]]:
    """An image's manifest and its blobs (config and one layer), by digest."""
    layer = content.encode()
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {"Labels": {"build": content}}}
    ).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": _sha(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(layer),
                "digest": _sha(layer),
            }
        ],
    }
    return json.dumps(manifest), {_sha(config): config, _sha(layer): layer}


def _build_cache() -> dict[str, bytes]:
    """The blobs of every image setup built, as a local ``docker`` image store holds them."""
    cache: dict[str, bytes] = {}
    for _, _, content in IMAGES:
        cache.update(_build(content)[1])
    return cache


def _upload(ecr: Any, repo: str, digest: str, chunks: Any) -> None:
    upload = ecr.initiate_layer_upload(repositoryName=repo)["uploadId"]
    first = 0
    for chunk in chunks:
        if not chunk:
            continue
        ecr.upload_layer_part(
            repositoryName=repo,
            uploadId=upload,
            partFirstByte=first,
            partLastByte=first + len(chunk) - 1,
            layerPartBlob=chunk,
        )
        first += len(chunk)
    ecr.complete_layer_upload(repositoryName=repo, uploadId=upload, layerDigests=[digest])


def _push(env: LabEnv, repo: str, tags: tuple[str, ...], content: str) -> str:
    ecr = env.client("ecr")
    manifest, blobs = _build(content)
    for digest, blob in blobs.items():
        _upload(ecr, repo, digest, [blob])
    digest = ""
    for tag in tags:
        try:
            image = ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
            digest = str(image["image"]["imageId"]["imageDigest"])
        except ecr.exceptions.ImageAlreadyExistsException:  # already there: an earlier setup
            found = ecr.describe_images(repositoryName=repo, imageIds=[{"imageTag": tag}])
            digest = str(found["imageDetails"][0]["imageDigest"])
    return digest


# ---- keys -------------------------------------------------------------------------------


def _root_only_policy(env: LabEnv) -> str:
    """Only the owner account (through its IAM policies) may use or manage the key."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Id": "lab11-owner-only",
            "Statement": [
                {
                    "Sid": "OwnerAccountOnly",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{env.account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )


def _key(env: LabEnv, alias: str, description: str) -> str:
    """The ARN of the customer key behind ``alias``, creating (or un-deleting) it."""
    kms = env.client("kms")
    try:
        meta = kms.describe_key(KeyId=alias)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        meta = kms.create_key(
            Description=description,
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Policy=_root_only_policy(env),
        )["KeyMetadata"]
        kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        return str(meta["Arn"])
    if meta.get("KeyState") == "PendingDeletion":
        kms.cancel_key_deletion(KeyId=meta["KeyId"])
    if meta.get("KeyState") != "Enabled":
        kms.enable_key(KeyId=meta["KeyId"])
    return str(meta["Arn"])


def _create_repository(env: LabEnv, name: str, encryption: dict[str, str]) -> None:
    """Create ``name`` with ``encryption``; an existing one must already have it."""
    ecr = env.client("ecr")
    try:
        ecr.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE",
            encryptionConfiguration=encryption,
        )
    except ecr.exceptions.RepositoryAlreadyExistsException:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
        have = repo.get("encryptionConfiguration") or {"encryptionType": "AES256"}
        # Without a key named, any key will do (AWS fills in aws/ecr).
        if {k: have.get(k) for k in encryption} != encryption:
            # Encryption cannot change after creation: an old repository of this
            # name would not be what the lab needs.
            raise LabError(
                f"repository {name} exists with encryption {have}, not {encryption}; "
                f"delete it (`ecrguard lab reset`) and run the lab again"
            ) from None


def setup(env: LabEnv) -> list[str]:
    kms = env.client("kms")
    _create_repository(env, LEDGER, {"encryptionType": "AES256"})
    invoices_key = _key(env, INVOICES_KEY, "lab11 invoices images")
    kms.disable_key_rotation(KeyId=invoices_key)
    _create_repository(env, INVOICES, {"encryptionType": "KMS", "kmsKey": invoices_key})
    _create_repository(env, ARCHIVE, {"encryptionType": "KMS"})
    pushed = [(repo, tags, _push(env, repo, tags, content)) for repo, tags, content in IMAGES]
    registry = f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"
    return [
        f"aws ecr create-repository --repository-name {LEDGER} --image-tag-mutability IMMUTABLE"
        " --encryption-configuration encryptionType=AES256   # the default: a key AWS owns",
        f"aws kms create-key --description 'lab11 invoices images'   # {invoices_key}",
        f"aws kms create-alias --alias-name {INVOICES_KEY} --target-key-id {invoices_key}",
        f"aws kms disable-key-rotation --key-id {invoices_key}",
        f"aws ecr create-repository --repository-name {INVOICES} --image-tag-mutability IMMUTABLE "
        f"--encryption-configuration encryptionType=KMS,kmsKey={invoices_key}",
        f"aws ecr create-repository --repository-name {ARCHIVE} --image-tag-mutability IMMUTABLE "
        "--encryption-configuration encryptionType=KMS   # no key: the AWS-managed aws/ecr",
    ] + [f"docker push {registry}/{repo}:{','.join(tags)}   # {d}" for repo, tags, d in pushed]


# ---- the "attack": what a key you do not control means ------------------------------------


def _repositories(env: LabEnv) -> list[dict[str, Any]]:
    ecr = env.client("ecr")
    found = []
    for page in ecr.get_paginator("describe_repositories").paginate():
        found += [r for r in page["repositories"] if r["repositoryName"].startswith(PREFIX)]
    return found


def _images(env: LabEnv, repo: str) -> list[dict[str, Any]]:
    ecr = env.client("ecr")
    found: list[dict[str, Any]] = []
    for page in ecr.get_paginator("describe_images").paginate(repositoryName=repo):
        found += page["imageDetails"]
    return found


def _judge(env: LabEnv, repo: dict[str, Any]) -> tuple[bool, str]:
    """Whether the repository's layers are out of the owner's control, and why."""
    name = repo["repositoryName"]
    enc = repo.get("encryptionConfiguration") or {"encryptionType": "AES256"}
    count = len(_images(env, name))
    if enc["encryptionType"] == "AES256":
        return True, (
            f"{name}: encryptionConfiguration reads back AES256, so its {count} image(s) are "
            "encrypted with a key AWS owns: there is no key policy to evaluate, no kms:Decrypt "
            "in CloudTrail, and no key to disable to cut off pulls"
        )
    kms = env.client("kms")
    ref = enc.get("kmsKey") or "alias/aws/ecr"
    try:
        meta = kms.describe_key(KeyId=ref)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        return True, f"{name}: {enc['encryptionType']} with key {ref}, which KMS cannot find"
    if meta.get("KeyManager") == "AWS":
        return True, (
            f"{name}: {enc['encryptionType']} with the AWS-managed key {ref}: its policy and "
            "rotation are AWS's, and it cannot be disabled"
        )
    problems = []
    if not kms.get_key_rotation_status(KeyId=meta["KeyId"])["KeyRotationEnabled"]:
        problems.append("rotation is off")
    policy = kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"]
    decision, why = decide(policy, OUTSIDER_ROLE, "kms:Decrypt", meta["Arn"])
    if decision is Decision.ALLOW:
        problems.append(f"the key policy lets {OUTSIDER_ROLE} kms:Decrypt")
    state = meta.get("KeyState", "?")
    if problems:
        return True, (f"{name}: customer key {meta['Arn']} ({state}), but {' and '.join(problems)}")
    return False, (
        f"{name}: {count} image(s) under customer key {meta['Arn']} ({state}), rotation on; "
        f"outsider kms:Decrypt: {why}; disabling the key cuts off every pull"
    )


def exploit(env: LabEnv) -> Outcome:
    verdicts = [_judge(env, r) for r in _repositories(env)]
    commands = [
        f"aws ecr describe-repositories --repository-names {LEDGER} {INVOICES} {ARCHIVE} "
        "--query 'repositories[].encryptionConfiguration'",
        f"aws kms get-key-rotation-status --key-id {INVOICES_KEY}",
        f"aws kms get-key-policy --key-id {INVOICES_KEY} --policy-name default",
    ]
    return Outcome(
        any(worked for worked, _ in verdicts), "; ".join(d for _, d in verdicts), commands
    )


# ---- the fix: a new repository with a customer key, and a copy by manifest ---------------


class _Blobs:
    """Copies blobs between repositories: from the registry, else from the local build cache."""

    def __init__(self, env: LabEnv) -> None:
        from botocore.config import Config

        self.ecr = env.client("ecr")
        # One attempt: a registry that cannot serve layers answers the same every time.
        self.download = env.session.client(
            "ecr",
            region_name=env.region,
            endpoint_url=env.endpoint_url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        self.cache = _build_cache()
        self.unserved: str | None = None  # why the registry did not serve layers
        self.from_cache = 0
        self.from_registry = 0

    def copy(self, source: str, target: str, digests: list[str]) -> None:
        have = self.ecr.batch_check_layer_availability(repositoryName=target, layerDigests=digests)
        missing = [f["layerDigest"] for f in have.get("failures", [])]
        for digest in missing:
            chunks = self._from_registry(source, digest)
            if chunks is not None:
                self.from_registry += 1
            elif digest in self.cache:
                chunks = [self.cache[digest]]
                self.from_cache += 1
            else:
                raise LabError(
                    f"cannot copy blob {digest} of {source}: the registry does not serve it "
                    f"({self.unserved}) and it is not in the local build cache"
                )
            _upload(self.ecr, target, digest, chunks)

    def _from_registry(self, repo: str, digest: str) -> list[bytes] | None:
        if self.unserved is not None:
            return None
        try:
            url = self.download.get_download_url_for_layer(repositoryName=repo, layerDigest=digest)[
                "downloadUrl"
            ]
        except ClientError as err:  # moto 5.2 has no GetDownloadUrlForLayer (HTTP 500)
            error = err.response.get("Error", {})
            self.unserved = f"GetDownloadUrlForLayer answered {error.get('Code') or 'an error'}"
            return None
        hasher, chunks = hashlib.sha256(), []
        with urlopen(url, timeout=60) as resp:  # a pre-signed S3 URL
            while chunk := resp.read(8 << 20):
                hasher.update(chunk)
                chunks.append(chunk)
        if "sha256:" + hasher.hexdigest() != digest:
            raise LabError(f"blob {digest} of {repo} downloaded with another digest")
        return chunks


def _blob_digests(manifest: dict[str, Any]) -> list[str]:
    found = [manifest["config"]["digest"]] if "config" in manifest else []
    return found + [layer["digest"] for layer in manifest.get("layers", [])]


def _copy_image(
    env: LabEnv, blobs: _Blobs, source: str, target: str, digest: str, tags: list[str]
) -> None:
    ecr = env.client("ecr")
    got = ecr.batch_get_image(
        repositoryName=source,
        imageIds=[{"imageDigest": digest}],
        acceptedMediaTypes=[
            MANIFEST_TYPE,
            "application/vnd.oci.image.manifest.v1+json",
            *INDEX_TYPES,
        ],
    )["images"]
    if not got:
        raise LabError(f"{source}@{digest} vanished during the copy")
    text = got[0]["imageManifest"]
    doc = json.loads(text)
    media = got[0].get("imageManifestMediaType") or doc.get("mediaType")
    for child in doc.get("manifests", []):  # an index: its platform images go first
        _copy_image(env, blobs, source, target, child["digest"], [])
    if digests := _blob_digests(doc):
        blobs.copy(source, target, digests)
    extra = {"imageManifestMediaType": media} if media else {}
    # The same bytes give the same digest; each tag is one more put-image.
    labels: list[str | None] = [*tags] or [None]
    for tag in labels:
        with suppress(ecr.exceptions.ImageAlreadyExistsException):  # copied by an earlier fix
            ecr.put_image(
                repositoryName=target,
                imageManifest=text,
                **({"imageTag": tag} if tag else {}),
                **extra,
            )


def _migrate(
    env: LabEnv, blobs: _Blobs, source: str, target: str, kind: str, key_arn: str
) -> list[str]:
    ecr = env.client("ecr")
    _create_repository(env, target, {"encryptionType": kind, "kmsKey": key_arn})
    from_cache, from_registry = blobs.from_cache, blobs.from_registry
    images = _images(env, source)
    for image in images:
        _copy_image(env, blobs, source, target, image["imageDigest"], image.get("imageTags", []))
    before = {i["imageDigest"]: sorted(i.get("imageTags", [])) for i in images}
    after = {i["imageDigest"]: sorted(i.get("imageTags", [])) for i in _images(env, target)}
    lost = {d: t for d, t in before.items() if after.get(d) != t}
    if lost:
        raise LabError(f"the copy of {source} to {target} differs for {lost}; {source} kept")
    ecr.delete_repository(repositoryName=source, force=True)
    from_cache, from_registry = blobs.from_cache - from_cache, blobs.from_registry - from_registry
    where = (
        f"{from_registry} blob(s) through GetDownloadUrlForLayer"
        if not from_cache
        else f"{from_cache} blob(s) from the local build cache, because the registry did "
        f"not serve them ({blobs.unserved})"
    )
    return [
        f"aws ecr create-repository --repository-name {target} --image-tag-mutability IMMUTABLE "
        f"--encryption-configuration encryptionType={kind},kmsKey={key_arn}",
        f"# copy {len(images)} image(s) by manifest ({where}); for each image:",
        f"aws ecr batch-get-image --repository-name {source} --image-ids imageDigest=DIGEST "
        "--query 'images[0].imageManifest' --output text > manifest.json",
        "#   each blob it names: get-download-url-for-layer, then initiate-layer-upload, "
        f"upload-layer-part, complete-layer-upload into {target}",
        f"aws ecr put-image --repository-name {target} --image-tag TAG "
        "--image-manifest file://manifest.json",
        "# same digests: "
        + ", ".join(f"{d} {','.join(t) or '(untagged)'}" for d, t in after.items()),
        "# point every consumer at the new repository, then:",
        f"aws ecr delete-repository --repository-name {source} --force",
    ]


def fix(env: LabEnv) -> list[str]:
    kms, ecr = env.client("kms"), env.client("ecr")
    key = _key(env, NEW_KEY, "lab11 ECR images")
    kms.enable_key_rotation(KeyId=key)
    commands = [
        "aws kms create-key --description 'lab11 ECR images' --policy file://owner-only.json"
        f"   # {key}",
        f"aws kms create-alias --alias-name {NEW_KEY} --target-key-id {key}",
        f"aws kms enable-key-rotation --key-id {key}",
    ]
    present = {r["repositoryName"] for r in _repositories(env)}
    blobs = _Blobs(env)
    for source, target, kind in MIGRATIONS:
        if source in present:  # else: migrated by an earlier fix
            commands.append(
                f"# {source}: encryption cannot change after creation; a new repository, and a copy"
            )
            commands += _migrate(env, blobs, source, target, kind, key)
    # The invoices key is the customer's own: rotation can be turned on in place.
    repo = ecr.describe_repositories(repositoryNames=[INVOICES])["repositories"][0]
    invoices_key = repo["encryptionConfiguration"]["kmsKey"]
    kms.enable_key_rotation(KeyId=invoices_key)
    commands.append(f"aws kms enable-key-rotation --key-id {invoices_key}   # {INVOICES}")
    return commands


def teardown(env: LabEnv) -> None:
    ecr, kms = env.client("ecr"), env.client("kms")
    for name in (INVOICES, *(name for migration in MIGRATIONS for name in migration[:2])):
        with suppress(ecr.exceptions.ClientError):
            ecr.delete_repository(repositoryName=name, force=True)
    for alias in (NEW_KEY, INVOICES_KEY):
        with suppress(kms.exceptions.ClientError):
            key = kms.describe_key(KeyId=alias)["KeyMetadata"]["KeyId"]
            kms.delete_alias(AliasName=alias)
            kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
