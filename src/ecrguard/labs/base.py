"""What a lab's ``lab.py`` works with.

A lab module defines::

    NUMBER = "01"
    RULES = ("EG001",)              # the rules that must FAIL before and PASS after
    PREFIX = "lab01-"               # names of everything it creates
    PARAMS = {}                     # rule parameters for its scans (optional)
    TRUSTED = ()                    # accounts its scans treat as trusted (optional)
    def owns(env, finding) -> bool           # which findings are the lab's (optional;
                                             # default: PREFIX appears in the resource)
    def setup(env: LabEnv) -> list[str]      # creates the vulnerable state; returns CLI equivalents
    def exploit(env: LabEnv) -> Outcome      # replays the attack; worked=True means it succeeded
    def fix(env: LabEnv) -> list[str]        # applies the fix; returns CLI equivalents
    def teardown(env: LabEnv) -> None        # deletes what setup created (real AWS)

The runner does detection and verification itself, with the same collector and
rules as ``ecrguard scan``, so a lab can never grade its own homework.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ecrguard.policy import Caller, Decision, Request, evaluate, parse_policy

# An AWS account unrelated to the owner: the outsider of every access lab.
OUTSIDER = "999999999999"
OUTSIDER_ROLE = f"arn:aws:iam::{OUTSIDER}:role/attacker"


@dataclass
class LabEnv:
    session: Any  # boto3.Session
    region: str
    account: str
    endpoint_url: str | None = None
    emulated: bool = True

    def client(self, service: str) -> Any:
        from botocore.config import Config

        return self.session.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            config=Config(retries={"mode": "adaptive", "max_attempts": 5}),
        )

    def repo_arn(self, name: str) -> str:
        return f"arn:aws:ecr:{self.region}:{self.account}:repository/{name}"


@dataclass
class Outcome:
    worked: bool
    detail: str
    commands: list[str] = field(default_factory=list)


def decide(
    policy_text: str | None,
    principal: str,
    action: str,
    resource: str | None,
    context: dict[str, list[str]] | None = None,
) -> tuple[Decision, str]:
    """The policy engine's answer for one request, and a sentence saying so."""
    if policy_text is None:
        return Decision.IMPLICIT_DENY, "no policy: nothing grants the request"
    result = evaluate(
        parse_policy(policy_text), Request.build(Caller.parse(principal), action, resource, context)
    )
    why = ", ".join(s.label for s in result.statements) or "no statement matches"
    return result.decision, f"{result.decision.value} ({why})"


def ensure_organization(env: LabEnv) -> str:
    """The owner's organisation id, creating the organisation in the emulator if needed."""
    org = env.client("organizations")
    try:
        return str(org.describe_organization()["Organization"]["Id"])
    except org.exceptions.AWSOrganizationsNotInUseException:
        return str(org.create_organization(FeatureSet="ALL")["Organization"]["Id"])


def policy_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2)


def push_blobs(ecr: Any, config: bytes, layer: bytes, tag: str | None = None, **where: str) -> str:
    """Push an image made of one config and one layer blob, as ``docker push`` does.

    The blobs go through the layer-upload API first: real ECR rejects a
    manifest whose blobs were never uploaded. ``where`` holds repositoryName
    and, for a push into another account's registry, registryId. Without a tag
    the image is pushed by digest. Returns the image digest.
    """
    import hashlib

    def digest(blob: bytes) -> str:
        return "sha256:" + hashlib.sha256(blob).hexdigest()

    for blob in (config, layer):
        upload = ecr.initiate_layer_upload(**where)["uploadId"]
        ecr.upload_layer_part(
            **where,
            uploadId=upload,
            partFirstByte=0,
            partLastByte=len(blob) - 1,
            layerPartBlob=blob,
        )
        ecr.complete_layer_upload(**where, uploadId=upload, layerDigests=[digest(blob)])
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": len(config),
            "digest": digest(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": len(layer),
                "digest": digest(layer),
            }
        ],
    }
    tagged = {"imageTag": tag} if tag is not None else {}
    resp = ecr.put_image(**where, imageManifest=json.dumps(manifest), **tagged)
    return str(resp["image"]["imageId"]["imageDigest"])


def push_image(env: LabEnv, repository: str, tag: str, content: str) -> str:
    """Push a small but real image tagged ``tag`` whose one layer holds ``content``."""
    config = json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {"Labels": {"lab": tag}}}
    )
    return push_blobs(
        env.client("ecr"), config.encode(), content.encode(), tag, repositoryName=repository
    )


def publish_findings(env: LabEnv, fixture: dict[str, list[dict[str, str]]]) -> None:
    """Add CVEs to the emulator's vulnerability data; in AWS the scanners have their own."""
    if env.emulated and env.endpoint_url:
        from ecrguard.emulator import load_scan_findings

        load_scan_findings(env.endpoint_url, fixture)


def scan_result(
    env: LabEnv, repo: str, tag: str, wait: float = 120.0
) -> tuple[str, list[str]] | None:
    """(scan status, vulnerability ids) of ``repo:tag``, or None when no scan result exists.

    The emulator scans at once; real AWS is given up to ``wait`` seconds.
    """
    import time

    ecr = env.client("ecr")
    deadline = time.monotonic() + (0.0 if env.emulated else wait)
    while True:
        try:
            found: dict[str, Any] | None = ecr.describe_image_scan_findings(
                repositoryName=repo, imageId={"imageTag": tag}
            )
        except ecr.exceptions.ScanNotFoundException:
            found = None
        status = ((found or {}).get("imageScanStatus") or {}).get("status")
        if status not in (None, "IN_PROGRESS", "PENDING") or time.monotonic() >= deadline:
            break
        time.sleep(5)
    if found is None:
        return None
    body = found.get("imageScanFindings") or {}
    names = [str(f["name"]) for f in body.get("findings") or ()]
    names += [
        str(f["packageVulnerabilityDetails"]["vulnerabilityId"])
        for f in body.get("enhancedFindings") or ()
    ]
    return str(status), names
