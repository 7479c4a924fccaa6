"""CloudTrail records for ECR calls, in the exact shape CloudTrail delivers them.

Field names, nesting and value shapes follow real ECR management events
(eventVersion 1.08): ``userIdentity`` of an assumed role, ``requestParameters``
and ``responseElements`` as the ECR API writes them (``null`` for read-only
calls), ``resources`` with the repository ARN, and the delivery metadata
(``recipientAccountId``, ``eventCategory``, ``tlsDetails``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

OWNER = "111122223333"
PARTNER = "444455556666"  # a trusted account (e.g. an org member the user lists)
OUTSIDER = "999988887777"
ORG = "o-a1b2c3d4e5"
REGION = "us-east-1"
# Never part of any output: the hunt must not echo access key ids or manifests.
ACCESS_KEY = "ASIAQNOTREALEXAMPLE1"
MANIFEST_MARKER = "do-not-echo-this-manifest"


def role_arn(account: str, role: str = "ci-deployer", session: str = "gha-4711") -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def event(
    name: str,
    *,
    time: str,
    caller: str = OWNER,
    request: dict[str, Any] | None = None,
    response: dict[str, Any] | None = None,
    repository: str | None = None,
    registry: str = OWNER,
    recipient: str = OWNER,
    error: str | None = None,
    source_ip: str = "198.51.100.23",
    read_only: bool = False,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": f"AROAQNOTREALEXAMPLE:{caller}",
            "arn": role_arn(caller),
            "accountId": caller,
            "accessKeyId": ACCESS_KEY,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAQNOTREALEXAMPLE",
                    "arn": f"arn:aws:iam::{caller}:role/ci-deployer",
                    "accountId": caller,
                    "userName": "ci-deployer",
                },
                "attributes": {"creationDate": "2024-05-01T08:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": time,
        "eventSource": "ecr.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": source_ip,
        "userAgent": "aws-cli/2.15.40 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64",
        "requestParameters": request,
        "responseElements": response,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": read_only,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": recipient,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": f"api.ecr.{REGION}.amazonaws.com",
        },
    }
    if repository is not None:
        record["resources"] = [
            {
                "accountId": registry,
                "ARN": f"arn:aws:ecr:{REGION}:{registry}:repository/{repository}",
            }
        ]
    if error is not None:
        record["errorCode"] = error
        record["errorMessage"] = (
            f"User: {role_arn(caller)} is not authorized to perform: ecr:{name} on resource"
        )
        record["responseElements"] = None
    return record


def pull(
    repository: str, *, time: str, caller: str, layer: bool = False, error: str | None = None
) -> dict[str, Any]:
    if layer:
        request = {
            "repositoryName": repository,
            "registryId": OWNER,
            "layerDigest": digest("layer"),
        }
        name = "GetDownloadUrlForLayer"
    else:
        request = {
            "repositoryName": repository,
            "registryId": OWNER,
            "imageIds": [{"imageTag": "latest"}],
            "acceptedMediaTypes": ["application/vnd.docker.distribution.manifest.v2+json"],
        }
        name = "BatchGetImage"
    return event(
        name,
        time=time,
        caller=caller,
        request=request,
        repository=repository,
        error=error,
        read_only=True,
        source_ip="203.0.113.77",
    )


def push(repository: str, tag: str, image: str, *, time: str) -> dict[str, Any]:
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": digest(image + "-config"), "size": 1469},
            "layers": [{"digest": digest(image + "-layer"), "size": 2811478}],
            "annotations": {"note": MANIFEST_MARKER},
        }
    )
    media = "application/vnd.docker.distribution.manifest.v2+json"
    return event(
        "PutImage",
        time=time,
        request={
            "repositoryName": repository,
            "registryId": OWNER,
            "imageTag": tag,
            "imageManifest": manifest,
            "imageManifestMediaType": media,
        },
        response={
            "image": {
                "registryId": OWNER,
                "repositoryName": repository,
                "imageId": {"imageDigest": digest(image), "imageTag": tag},
                "imageManifest": manifest,
                "imageManifestMediaType": media,
            }
        },
        repository=repository,
    )


def set_policy(repository: str, policy: dict[str, Any], *, time: str) -> dict[str, Any]:
    text = json.dumps(policy)
    return event(
        "SetRepositoryPolicy",
        time=time,
        request={"repositoryName": repository, "policyText": text, "force": False},
        response={"registryId": OWNER, "repositoryName": repository, "policyText": text},
        repository=repository,
    )


def put_registry_policy(policy: dict[str, Any], *, time: str) -> dict[str, Any]:
    text = json.dumps(policy)
    return event(
        "PutRegistryPolicy",
        time=time,
        request={"policyText": text},
        response={"registryId": OWNER, "policyText": text},
    )


def replicate_to(*accounts: str, time: str) -> dict[str, Any]:
    config = {
        "rules": [
            {
                "destinations": [{"region": "eu-west-1", "registryId": a} for a in accounts],
                "repositoryFilters": [{"filter": "prod", "filterType": "PREFIX_MATCH"}],
            }
        ]
    }
    return event(
        "PutReplicationConfiguration",
        time=time,
        request={"replicationConfiguration": config},
        response={"registryId": OWNER, "replicationConfiguration": config},
    )


def tag_mutability(repository: str, value: str, *, time: str) -> dict[str, Any]:
    return event(
        "PutImageTagMutability",
        time=time,
        request={"repositoryName": repository, "imageTagMutability": value},
        response={"registryId": OWNER, "repositoryName": repository, "imageTagMutability": value},
        repository=repository,
    )


def delete_repository(repository: str, *, time: str, force: bool = True) -> dict[str, Any]:
    return event(
        "DeleteRepository",
        time=time,
        request={"repositoryName": repository, "force": force},
        response={
            "repository": {
                "repositoryArn": f"arn:aws:ecr:{REGION}:{OWNER}:repository/{repository}",
                "registryId": OWNER,
                "repositoryName": repository,
                "repositoryUri": f"{OWNER}.dkr.ecr.{REGION}.amazonaws.com/{repository}",
                "createdAt": "Apr 2, 2024, 10:00:00 AM",
            }
        },
        repository=repository,
    )


def statement(principal: Any, actions: list[str], condition: Any = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Sid": "Share", "Effect": "Allow", "Principal": principal}
    stmt["Action"] = actions
    if condition is not None:
        stmt["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [stmt]}


PULL_ACTIONS = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def log_name(stamp: str, suffix: str = "a1b2c3") -> str:
    """CloudTrail's object name: <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz"""
    return f"{OWNER}_CloudTrail_{REGION}_{stamp}_{suffix}.json.gz"


def log_prefix(day: str = "2024/05/01") -> str:
    return f"AWSLogs/{OWNER}/CloudTrail/{REGION}/{day}/"


def document(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"Records": records}).encode()


def write_log(path: Path, records: list[dict[str, Any]], *, gz: bool | None = None) -> Path:
    """One log file; gzipped when the name ends in .gz (as CloudTrail delivers them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = document(records)
    compress = path.name.endswith(".gz") if gz is None else gz
    path.write_bytes(gzip.compress(data) if compress else data)
    return path
