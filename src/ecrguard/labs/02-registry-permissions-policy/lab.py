"""Lab 02: a registry policy that lets any account replicate and create repositories.

Under REGISTRY_POLICY_SCOPE V2 the registry policy's repository actions also
apply to every repository, so a pull statement in it opens the whole registry.
"""

from __future__ import annotations

import json
from contextlib import suppress

from ecrguard.labs.base import OUTSIDER_ROLE, LabEnv, Outcome, decide, policy_json, push_image
from ecrguard.model import Finding
from ecrguard.policy import Decision

NUMBER = "02"
RULES = ("EG002", "EG003")
PREFIX = "lab02-"
# The one account we replicate from: the fix names it, and the lab's scans trust it.
SOURCE_ACCOUNT = "222222222222"
TRUSTED = (SOURCE_ACCOUNT,)
REPO = "lab02-billing-service"
SCOPE = "REGISTRY_POLICY_SCOPE"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
REPLICATION = ["ecr:ReplicateImage", "ecr:CreateRepository"]


def _repositories(env: LabEnv) -> str:
    return f"arn:aws:ecr:{env.region}:{env.account}:repository/*"


def _open_policy(env: LabEnv) -> dict[str, object]:
    """What a rushed cross-account replication setup often looks like."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AnyoneMayReplicate",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": REPLICATION,
                "Resource": _repositories(env),
            },
            {
                # Ignored under scope V1; under V2 it opens every repository.
                "Sid": "SharedPull",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": PULL,
                "Resource": _repositories(env),
            },
        ],
    }


def _trusted_policy(env: LabEnv) -> dict[str, object]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReplicationFromSource",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{SOURCE_ACCOUNT}:root"},
                "Action": REPLICATION,
                "Resource": _repositories(env),
            }
        ],
    }


def owns(env: LabEnv, finding: Finding) -> bool:
    """Registry findings name the registry (account and region), not a lab resource."""
    parts = finding.resource.split(":")
    registry = len(parts) >= 6 and parts[5].startswith("registry/")
    return (registry and parts[3:5] == [env.region, env.account]) or PREFIX in finding.resource


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    with suppress(ecr.exceptions.ImageAlreadyExistsException):
        push_image(env, REPO, "v3.2", "billing-service build 3.2")
    # V2 first: under V1 a registry refuses repository actions in its policy.
    ecr.put_account_setting(name=SCOPE, value="V2")
    registry = f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"
    commands = [
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability IMMUTABLE",
        f"docker push {registry}/{REPO}:v3.2"
        "   # no repository policy: only the owner's IAM principals should reach it",
        f"aws ecr put-account-setting --name {SCOPE} --value V2"
        "   # the registry policy now applies to every repository action",
        "aws ecr put-registry-policy --policy-text file://registry-open.json"
        '   # {"AWS": "*"}: ecr:ReplicateImage, ecr:CreateRepository and the pull actions',
    ]
    policy = _open_policy(env)
    try:
        ecr.put_registry_policy(policyText=json.dumps(policy))
    except ecr.exceptions.InvalidParameterException as err:
        # A registry that applies V1 rules refuses the pull statement. Keep the
        # replication grant, the core of the lab, and say so.
        policy["Statement"] = policy["Statement"][:1]  # type: ignore[index]
        ecr.put_registry_policy(policyText=json.dumps(policy))
        code = err.response["Error"]["Code"]
        commands.append(
            f"# the registry refused the pull statement ({code}); "
            "only the replication grant is in place"
        )
    return commands


def exploit(env: LabEnv) -> Outcome:
    ecr = env.client("ecr")
    try:
        policy: str | None = ecr.get_registry_policy()["policyText"]
    except ecr.exceptions.RegistryPolicyNotFoundException:
        policy = None
    scope = str(ecr.get_account_setting(name=SCOPE)["value"])
    planted = env.repo_arn("lab02-planted/payments-api")
    replicate, replicate_why = decide(policy, OUTSIDER_ROLE, "ecr:ReplicateImage", planted)
    create, create_why = decide(policy, OUTSIDER_ROLE, "ecr:CreateRepository", planted)
    if scope == "V2":
        pull, pull_why = decide(policy, OUTSIDER_ROLE, "ecr:BatchGetImage", env.repo_arn(REPO))
    else:
        pull = Decision.IMPLICIT_DENY
        pull_why = f"scope {scope} ignores the registry policy's repository actions"
    source = f"arn:aws:iam::{SOURCE_ACCOUNT}:root"
    replica = env.repo_arn("lab02-replica/app")
    legit, legit_why = decide(policy, source, "ecr:ReplicateImage", replica)
    worked = Decision.ALLOW in (replicate, create, pull)
    target = {"region": env.region, "registryId": env.account}
    destination = json.dumps({"rules": [{"destinations": [target]}]})
    return Outcome(
        worked,
        f"{OUTSIDER_ROLE} (an unrelated account): ecr:ReplicateImage into the registry: "
        f"{replicate_why}; ecr:CreateRepository: {create_why}; with {SCOPE}={scope}, "
        f"ecr:BatchGetImage on {REPO} (which has no repository policy): {pull_why}. "
        f"Trusted source {SOURCE_ACCOUNT} ecr:ReplicateImage: {legit.value}",
        [
            "# as the outsider: replicate from your own account into the victim's registry",
            f"aws ecr put-replication-configuration --replication-configuration '{destination}'",
            "# ...and, when the scope is V2, read any repository directly:",
            f"aws ecr batch-get-image --registry-id {env.account} --repository-name {REPO} "
            "--image-ids imageTag=v3.2",
            f"# the trusted source {SOURCE_ACCOUNT}: {legit_why}",
        ],
    )


def fix(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    policy = _trusted_policy(env)
    ecr.put_registry_policy(policyText=json.dumps(policy))
    return [
        "aws ecr put-registry-policy --policy-text file://replication-from-source.json",
        *("    " + line for line in policy_json(policy).splitlines()),
        f"# {SCOPE} stays V2 (AWS has no way back to V1): the policy holds no repository action",
    ]


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_registry_policy()
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_repository(repositoryName=REPO, force=True)
