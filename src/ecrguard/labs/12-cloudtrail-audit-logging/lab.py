"""Lab 12: a stopped, single-region, unvalidated trail, so a registry break-in leaves no record."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from ecrguard.errors import LabError
from ecrguard.labs.base import OUTSIDER, LabEnv, Outcome, push_blobs, push_image
from ecrguard.model import Finding

NUMBER = "12"
RULES = ("EG017",)
PREFIX = "lab12-"
REPO = "lab12-payments-api"
TAG = "prod"
TRAIL = "lab12-audit"
OUTSIDER_ROLE_NAME = "attacker"
# What the hunt must report for the attack to count as seen.
DETECTIONS = ("policy-public", "external-pull", "tag-overwrite")
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]
# A "temporary" policy a developer set to unblock a partner's pipeline.
PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "TemporaryShare", "Effect": "Allow", "Principal": "*", "Action": PULL + PUSH}
    ],
}
# Real AWS only: the profile of a second account to act as the outsider, and how
# long to wait for CloudTrail to deliver (about 5 minutes on average, not guaranteed).
OUTSIDER_PROFILE_VARIABLE = "ECRGUARD_LAB12_OUTSIDER_PROFILE"
DELIVERY_WAIT_SECONDS = 20 * 60


def bucket(env: LabEnv) -> str:
    return f"lab12-audit-logs-{env.account}"


def _trail_arn(env: LabEnv) -> str:
    return f"arn:aws:cloudtrail:{env.region}:{env.account}:trail/{TRAIL}"


def _logs(env: LabEnv) -> str:
    return f"s3://{bucket(env)}/AWSLogs/{env.account}/CloudTrail/"


def owns(env: LabEnv, finding: Finding) -> bool:
    # The account-wide verdict (resource: the account id) and this lab's trail.
    return finding.resource == env.account or PREFIX in finding.resource


# ---- setup ------------------------------------------------------------------------


def _bucket_policy(env: LabEnv) -> dict[str, Any]:
    name, source = bucket(env), {"aws:SourceArn": _trail_arn(env)}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailAclCheck",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:GetBucketAcl",
                "Resource": f"arn:aws:s3:::{name}",
                "Condition": {"StringEquals": source},
            },
            {
                "Sid": "CloudTrailWrite",
                "Effect": "Allow",
                "Principal": {"Service": "cloudtrail.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{name}/AWSLogs/{env.account}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **source}
                },
            },
        ],
    }


def _create_bucket(env: LabEnv) -> None:
    s3 = env.client("s3")
    where = (
        {}
        if env.region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": env.region}}
    )
    with suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket(env), **where)
    s3.put_bucket_policy(Bucket=bucket(env), Policy=json.dumps(_bucket_policy(env)))


def _release(env: LabEnv, content: str) -> str:
    ecr = env.client("ecr")
    try:
        return push_image(env, REPO, TAG, content)
    except ecr.exceptions.ImageAlreadyExistsException:
        found = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": TAG}])
        return str(found["imageDetails"][0]["imageDigest"])


def setup(env: LabEnv) -> list[str]:
    _create_bucket(env)
    cloudtrail = env.client("cloudtrail")
    vulnerable = {"IsMultiRegionTrail": False, "EnableLogFileValidation": False}
    try:
        cloudtrail.create_trail(Name=TRAIL, S3BucketName=bucket(env), **vulnerable)
    except cloudtrail.exceptions.TrailAlreadyExistsException:
        # Left by an earlier run (perhaps fixed): make it vulnerable again.
        cloudtrail.update_trail(Name=TRAIL, S3BucketName=bucket(env), **vulnerable)
    # A new trail does not log until started; this one was stopped "to cut costs".
    cloudtrail.stop_logging(Name=TRAIL)
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=REPO, imageTagMutability="MUTABLE")
    with suppress(ecr.exceptions.RepositoryPolicyNotFoundException):
        ecr.delete_repository_policy(repositoryName=REPO)
    digest = _release(env, "payments-api release 3.2.0")
    return [
        f"aws s3api create-bucket --bucket {bucket(env)}",
        f"aws s3api put-bucket-policy --bucket {bucket(env)} --policy file://cloudtrail-write.json",
        f"aws cloudtrail create-trail --name {TRAIL} --s3-bucket-name {bucket(env)} "
        "--no-is-multi-region-trail --no-enable-log-file-validation   # one region, unvalidated",
        f"aws cloudtrail stop-logging --name {TRAIL}   # stopped: records nothing",
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability MUTABLE",
        f"docker push {_registry(env)}/{REPO}:{TAG}   # {digest}",
    ]


# ---- exploit ----------------------------------------------------------------------


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _outsider(env: LabEnv) -> LabEnv:
    """The outsider's own account: an assumed-role session there, as in the emulator's
    ``session_as``, or (real AWS) a profile of a second account the user names."""
    if env.emulated:
        from ecrguard.emulator import hermetic_session

        credentials = env.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{OUTSIDER}:role/{OUTSIDER_ROLE_NAME}",
            RoleSessionName=OUTSIDER_ROLE_NAME,
        )["Credentials"]
        session = hermetic_session(
            env.region,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )
        return LabEnv(session, env.region, OUTSIDER, env.endpoint_url, emulated=True)
    profile = os.environ.get(OUTSIDER_PROFILE_VARIABLE)
    if not profile:
        raise LabError(
            f"lab 12 on AWS needs a second account to act as the outsider: set "
            f"{OUTSIDER_PROFILE_VARIABLE} to the name of a profile of that account"
        )
    import boto3

    session = boto3.Session(profile_name=profile, region_name=env.region)
    account = str(session.client("sts").get_caller_identity()["Account"])
    return LabEnv(session, env.region, account, None, emulated=False)


def _push_into(outsider: LabEnv, owner: str, content: str) -> str:
    """Push an image into the owner's repository from the outsider's account."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {}}).encode()
    return push_blobs(
        outsider.client("ecr"), config, content.encode(), TAG, registryId=owner, repositoryName=REPO
    )


def _attack(env: LabEnv, run: str) -> tuple[str, str]:
    """The release, then the break-in; the digests of the release and of the backdoor."""
    release = _release(env, f"payments-api release 3.2.{run}")
    env.client("ecr").set_repository_policy(
        repositoryName=REPO, policyText=json.dumps(PUBLIC_POLICY)
    )
    outsider = _outsider(env)
    outsider.client("ecr").batch_get_image(
        registryId=env.account, repositoryName=REPO, imageIds=[{"imageTag": TAG}]
    )
    backdoor = _push_into(outsider, env.account, f"payments-api 3.2.{run} + a reverse shell")
    return release, backdoor


def _hunt(env: LabEnv, since: datetime, keys: set[str] | None) -> tuple[int, list[Any]]:
    """Hunt the log files delivered since the attack began (``keys``: exactly these objects).

    Only new files are read: the hunt groups an outsider's pulls into one finding
    dated by the first, so an earlier replay's logs would hide this one's.
    """
    from ecrguard.hunt import Trust, run_hunt, s3_files

    s3 = env.client("s3")
    minute = since.strftime("%Y%m%dT%H%M")
    files = [
        f
        for f in s3_files(s3, bucket(env), f"AWSLogs/{env.account}/CloudTrail/")
        if (f.name in keys if keys is not None else _delivered_at(f.name) >= minute)
    ]
    result = run_hunt(files, Trust(owner_accounts=(env.account,)))
    moment = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    mine = [
        f
        for f in result.findings
        if f.event_time >= moment and f.resource and f.resource.endswith(f":repository/{REPO}")
    ]
    return result.files, mine


def _delivered_at(name: str) -> str:
    """The delivery minute in a CloudTrail log file name (..._CloudTrail_<region>_<yyyymmddThhmm>Z_...)."""
    found = re.search(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4})Z_", name)
    return found.group(1) if found else ""


def _delivered(env: LabEnv, since: datetime) -> tuple[int, list[Any]]:
    """Have CloudTrail deliver what it recorded, then hunt through the new files."""
    if env.emulated and env.endpoint_url:
        from ecrguard.emulator import flush_trail_logs

        # The emulator delivers on request rather than every ~5 minutes.
        written = flush_trail_logs(env.endpoint_url)
        keys = {
            f"s3://{w['bucket']}/{w['key']}"
            for w in written
            if w["bucket"] == bucket(env) and "error" not in w
        }
        return _hunt(env, since, keys)
    status = env.client("cloudtrail").get_trail_status(Name=TRAIL)
    deadline = time.monotonic() + (DELIVERY_WAIT_SECONDS if status.get("IsLogging") else 0)
    while True:
        files, found = _hunt(env, since, None)
        if {f.detection for f in found} >= set(DETECTIONS) or time.monotonic() >= deadline:
            return files, found
        time.sleep(30)


def _history(env: LabEnv, started: datetime) -> int:
    """How many of the attack's calls CloudTrail's 90-day event history of this region lists."""
    cloudtrail = env.client("cloudtrail")
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": REPO}],
        StartTime=started,
    )
    return sum(len(page.get("Events", [])) for page in pages)


def exploit(env: LabEnv) -> Outcome:
    started = datetime.now(UTC).replace(microsecond=0)
    run = uuid.uuid4().hex[:8]  # each replay ships and overwrites a new build
    release, backdoor = _attack(env, run)
    files, found = _delivered(env, started)
    seen = {f.detection for f in found}
    missing = [d for d in DETECTIONS if d not in seen]
    attack = (
        f"the owner made {REPO} public, {OUTSIDER} pulled {TAG} and pushed over it "
        f"({TAG} was {release[:19]}, now {backdoor[:19]})"
    )
    history = _history(env, started)
    commands = [
        f"aws ecr set-repository-policy --repository-name {REPO} --policy-text file://public.json"
        '   # Principal "*": pull and push',
        f"# as {OUTSIDER}:",
        f"aws ecr batch-get-image --registry-id {env.account} --repository-name {REPO} "
        f"--image-ids imageTag={TAG}",
        f"docker push {_registry(env)}/{REPO}:{TAG}   # the backdoored build",
        "# then, as the owner's incident responder:",
        f"ecrguard hunt {_logs(env)}"
        + (f" --endpoint-url {env.endpoint_url}" if env.endpoint_url else ""),
    ]
    where = f"the {files} log file(s) delivered to {_logs(env)} since the attack began"
    if not missing:
        return Outcome(
            False,
            f"{attack}; the hunt over {where} reports it: "
            + "; ".join(f"{f.detection} ({f.severity.value}): {f.message}" for f in found),
            commands,
        )
    hunted = "; ".join(f"{f.detection}: {f.message}" for f in found) or "nothing about it"
    return Outcome(
        True,
        f"{attack}; the hunt over {where} finds {hunted} (no {', '.join(missing)}). "
        f"Only CloudTrail's event history lists {history} call(s) on {REPO} since then: "
        f"kept 90 days, for {env.region} alone, and read by no one",
        commands,
    )


# ---- fix --------------------------------------------------------------------------


def fix(env: LabEnv) -> list[str]:
    cloudtrail = env.client("cloudtrail")
    cloudtrail.update_trail(
        Name=TRAIL,
        S3BucketName=bucket(env),
        IsMultiRegionTrail=True,
        IncludeGlobalServiceEvents=True,
        EnableLogFileValidation=True,
    )
    cloudtrail.put_event_selectors(
        TrailName=TRAIL,
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}],
    )
    cloudtrail.start_logging(Name=TRAIL)
    return [
        f"aws cloudtrail update-trail --name {TRAIL} --is-multi-region-trail "
        "--include-global-service-events --enable-log-file-validation",
        f"aws cloudtrail put-event-selectors --trail-name {TRAIL} --event-selectors "
        '\'[{"ReadWriteType":"All","IncludeManagementEvents":true}]\'',
        f"aws cloudtrail start-logging --name {TRAIL}",
        f"# then hunt what it delivers: ecrguard hunt {_logs(env)}",
    ]


def teardown(env: LabEnv) -> None:
    cloudtrail, s3, ecr = env.client("cloudtrail"), env.client("s3"), env.client("ecr")
    with suppress(cloudtrail.exceptions.ClientError):
        cloudtrail.stop_logging(Name=TRAIL)
    with suppress(cloudtrail.exceptions.ClientError):
        cloudtrail.delete_trail(Name=TRAIL)
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_repository(repositoryName=REPO, force=True)
    with suppress(s3.exceptions.ClientError):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket(env)):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket(env), Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket(env))
