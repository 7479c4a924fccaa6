"""The account the collector tests scan, seeded with boto3 into the emulator.

tests/aws/fixtures/record.py records the transform fixtures from the same seed.
"""

from __future__ import annotations

import json

from ecrguard.emulator import Emulator

ACCOUNT = "123456789012"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
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
        encryptionConfiguration={"encryptionType": "KMS", "kmsKey": KMS_KEY},
        lifecyclePolicy=json.dumps(EXPIRE_UNTAGGED),
    )
    ec2 = emu.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    for service, kind in (("ecr.api", "Interface"), ("ecr.dkr", "Interface"), ("s3", "Gateway")):
        ec2.create_vpc_endpoint(
            VpcId=vpc, ServiceName=f"com.amazonaws.us-east-1.{service}", VpcEndpointType=kind
        )
    org = emu.client("organizations")
    org.create_organization(FeatureSet="ALL")
    org.create_account(AccountName="workloads", Email="workloads@example.com")
