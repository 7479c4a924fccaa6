"""The account the collector tests scan, seeded with boto3 into the emulator.

tests/aws/fixtures/record.py records the transform fixtures from the same seed.
"""

from __future__ import annotations

import hashlib
import json

from ecrguard.emulator import Emulator

ACCOUNT = "123456789012"
# Repositories may name their key by alias ARN; it stays the same across seeds.
KMS_ALIAS = "alias/ecr-images"
KMS_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:{KMS_ALIAS}"
TRAIL_BUCKET = "org-audit-logs"
ORG_TRAIL = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org-trail"
REGIONAL_TRAIL = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/edge-reads"
FINDINGS_TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:scan-findings"
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Owner",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "AnyoneDecrypts",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "kms:Decrypt",
            "Resource": "*",
        },
    ],
}
XZ = {
    "name": "CVE-2024-3094",
    "severity": "CRITICAL",
    "package": "xz-utils",
    "version": "5.6.0-0.2",
    "first_observed": "2024-03-29T00:00:00Z",
}
GLIBC = {"name": "CVE-2023-4911", "severity": "HIGH", "package": "glibc"}
CURL = {"name": "CVE-2023-38545", "severity": "MEDIUM", "package": "curl"}
SCAN_FINDINGS = {"app:v2": [XZ, GLIBC, CURL], "edge/cache:v1": [GLIBC, CURL]}


def manifest(name: str) -> str:
    """A docker v2 image manifest; moto derives the digest from its layer, named here."""
    layer = hashlib.sha256(name.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": f"sha256:{'c' * 64}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2048,
                    "digest": f"sha256:{layer}",
                }
            ],
        }
    )


PUBLIC_PULL = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "PublicPull",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
    ],
}
REPLICATE_FROM_ANYONE = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Replicate",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["ecr:CreateRepository", "ecr:ReplicateImage"],
            "Resource": "arn:aws:ecr:us-east-1:123456789012:repository/*",
        }
    ],
}
EXPIRE_UNTAGGED = {
    "rules": [
        {
            "rulePriority": 1,
            "description": "expire untagged after 14 days",
            "selection": {
                "tagStatus": "untagged",
                "countType": "sinceImagePushed",
                "countUnit": "days",
                "countNumber": 14,
            },
            "action": {"type": "expire"},
        }
    ]
}


def seed(emu: Emulator) -> None:
    kms = emu.client("kms")
    key = kms.create_key(Description="ECR images", Policy=json.dumps(KEY_POLICY))["KeyMetadata"]
    kms.create_alias(AliasName=KMS_ALIAS, TargetKeyId=key["KeyId"])
    ecr = emu.client("ecr")
    ecr.create_repository(repositoryName="app")
    ecr.create_repository(
        repositoryName="team/secure",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": KMS_KEY},
    )
    ecr.create_repository(
        repositoryName="team/releases",
        # KMS without a key: the AWS-managed alias/aws/ecr key.
        encryptionConfiguration={"encryptionType": "KMS"},
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[
            {"filterType": "WILDCARD", "filter": "latest"},
            {"filterType": "WILDCARD", "filter": "dev-*"},
        ],
    )
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps(PUBLIC_PULL))
    ecr.put_lifecycle_policy(repositoryName="app", lifecyclePolicyText=json.dumps(EXPIRE_UNTAGGED))
    ecr.put_registry_policy(policyText=json.dumps(REPLICATE_FROM_ANYONE))
    ecr.put_account_setting(name="REGISTRY_POLICY_SCOPE", value="V1")
    ecr.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[
            {
                "scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "team/*", "filterType": "WILDCARD"}],
            },
            {
                "scanFrequency": "SCAN_ON_PUSH",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
            },
        ],
    )
    ecr.put_replication_configuration(
        replicationConfiguration={
            "rules": [
                {
                    "destinations": [{"region": "eu-west-1", "registryId": "123456789012"}],
                    "repositoryFilters": [{"filter": "team", "filterType": "PREFIX_MATCH"}],
                }
            ]
        }
    )
    ecr.create_repository_creation_template(
        prefix="ROOT",
        appliedFor=["PULL_THROUGH_CACHE"],
        repositoryPolicy=json.dumps(PUBLIC_PULL),
    )
    ecr.create_repository_creation_template(
        prefix="mirror/docker-hub",
        description="pull-through cache for Docker Hub",
        appliedFor=["PULL_THROUGH_CACHE", "REPLICATION"],
        imageTagMutability="IMMUTABLE",
        # Templates take key ARNs only (the service model's pattern says so).
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": key["Arn"]},
        lifecyclePolicy=json.dumps(EXPIRE_UNTAGGED),
    )
    _images(emu)
    _inspector(emu)
    _event_rules(emu)
    _trails(emu)
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    for service, kind in (("ecr.api", "Interface"), ("ecr.dkr", "Interface"), ("s3", "Gateway")):
        ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.us-east-1.{service}", VpcEndpointType=kind
        )
    org = emu.client("organizations")
    org.create_organization(FeatureSet="ALL")
    org.create_account(AccountName="workloads", Email="workloads@example.com")


def _images(emu: Emulator) -> None:
    """app: an old and a new image (enhanced scan on push) and a cosign signature
    pushed after them; team/secure: one clean image; team/releases: none;
    edge/cache (eu-west-1, basic scanning via the legacy flag): one image."""
    emu.load_scan_findings(SCAN_FINDINGS)
    ecr = emu.client("ecr")
    ecr.put_image(repositoryName="app", imageManifest=manifest("app v1"), imageTag="v1")
    new = ecr.put_image(repositoryName="app", imageManifest=manifest("app v2"), imageTag="v2")
    hexdigest = new["image"]["imageId"]["imageDigest"].split(":")[1]
    ecr.put_image(
        repositoryName="app",
        imageManifest=manifest("signature"),
        imageTag=f"sha256-{hexdigest}.sig",
    )
    ecr.put_image(repositoryName="team/secure", imageManifest=manifest("secure"), imageTag="1.0")
    west = emu.client("ecr", "eu-west-1")
    west.create_repository(
        repositoryName="edge/cache", imageScanningConfiguration={"scanOnPush": True}
    )
    west.put_image(repositoryName="edge/cache", imageManifest=manifest("edge"), imageTag="v1")


def _inspector(emu: Emulator) -> None:
    inspector = emu.client("inspector2")
    inspector.enable(accountIds=[ACCOUNT], resourceTypes=["ECR"])
    inspector.update_configuration(
        ecrConfiguration={"rescanDuration": "DAYS_30", "pullDateRescanDuration": "DAYS_14"}
    )


def _event_rules(emu: Emulator) -> None:
    events = emu.client("events")
    events.put_rule(
        Name="ecr-scan-findings",
        EventPattern=json.dumps({"source": ["aws.ecr"], "detail-type": ["ECR Image Scan"]}),
    )
    events.put_targets(Rule="ecr-scan-findings", Targets=[{"Id": "sns", "Arn": FINDINGS_TOPIC}])
    events.put_rule(
        Name="inspector-findings",
        EventPattern=json.dumps({"source": [{"prefix": "aws.insp"}]}),
        State="DISABLED",
    )
    # Neither can route scan findings: they stay out of the inventory.
    events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")
    events.put_rule(Name="ec2-changes", EventPattern=json.dumps({"source": ["aws.ec2"]}))


def _trails(emu: Emulator) -> None:
    emu.client("s3").create_bucket(Bucket=TRAIL_BUCKET)
    east = emu.client("cloudtrail")
    east.create_trail(
        Name="org-trail",
        S3BucketName=TRAIL_BUCKET,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
    )
    east.start_logging(Name="org-trail")
    west = emu.client("cloudtrail", "eu-west-1")
    west.create_trail(Name="edge-reads", S3BucketName=TRAIL_BUCKET)
    west.put_event_selectors(
        TrailName="edge-reads",
        EventSelectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}],
    )
