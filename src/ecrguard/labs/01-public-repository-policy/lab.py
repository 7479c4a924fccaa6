"""Lab 01: a repository policy that lets any AWS account pull."""

from __future__ import annotations

import contextlib
import json

from ecrguard.labs.base import (
    OUTSIDER_ROLE,
    LabEnv,
    Outcome,
    decide,
    ensure_organization,
    push_image,
)
from ecrguard.policy import Decision

NUMBER = "01"
RULES = ("EG001",)
PREFIX = "lab01-"
REPO = "lab01-payments-api"
TEMPLATE_PREFIX = "lab01-cache"
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]

PUBLIC_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "SharePull", "Effect": "Allow", "Principal": "*", "Action": PULL}],
}


def _org_policy(org_id: str) -> dict[str, object]:
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


def setup(env: LabEnv) -> list[str]:
    ensure_organization(env)
    ecr = env.client("ecr")
    ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    push_image(env, REPO, "v1.0", "payments-api build 1")
    ecr.set_repository_policy(repositoryName=REPO, policyText=json.dumps(PUBLIC_POLICY))
    ecr.create_repository_creation_template(
        prefix=TEMPLATE_PREFIX,
        appliedFor=["PULL_THROUGH_CACHE"],
        repositoryPolicy=json.dumps(PUBLIC_POLICY),
        imageTagMutability="IMMUTABLE",
    )
    return [
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability IMMUTABLE",
        f"docker push {env.account}.dkr.ecr.{env.region}.amazonaws.com/{REPO}:v1.0",
        f"aws ecr set-repository-policy --repository-name {REPO} --policy-text file://public.json"
        '   # Principal "*", pull actions, no condition',
        f"aws ecr create-repository-creation-template --prefix {TEMPLATE_PREFIX} "
        "--applied-for PULL_THROUGH_CACHE --repository-policy file://public.json",
    ]


def exploit(env: LabEnv) -> Outcome:
    ecr = env.client("ecr")
    repo_policy = ecr.get_repository_policy(repositoryName=REPO)["policyText"]
    repo_decision, repo_why = decide(
        repo_policy, OUTSIDER_ROLE, "ecr:BatchGetImage", env.repo_arn(REPO)
    )
    template = ecr.describe_repository_creation_templates(prefixes=[TEMPLATE_PREFIX])
    template_policy = template["repositoryCreationTemplates"][0].get("repositoryPolicy") or None
    tmpl_decision, tmpl_why = decide(
        template_policy,
        OUTSIDER_ROLE,
        "ecr:BatchGetImage",
        env.repo_arn(f"{TEMPLATE_PREFIX}/library/nginx"),
    )
    worked = Decision.ALLOW in (repo_decision, tmpl_decision)
    return Outcome(
        worked,
        f"{OUTSIDER_ROLE} (an unrelated account) ecr:BatchGetImage on {REPO}: {repo_why}; "
        f"on repositories the {TEMPLATE_PREFIX} template creates: {tmpl_why}",
        [
            "# as the outsider, with credentials of any AWS account:",
            f"aws ecr batch-get-image --registry-id {env.account} --repository-name {REPO} --image-ids imageTag=v1.0",
        ],
    )


def fix(env: LabEnv) -> list[str]:
    org_id = ensure_organization(env)
    policy = json.dumps(_org_policy(org_id))
    ecr = env.client("ecr")
    ecr.set_repository_policy(repositoryName=REPO, policyText=policy)
    ecr.update_repository_creation_template(prefix=TEMPLATE_PREFIX, repositoryPolicy=policy)
    return [
        f"aws ecr set-repository-policy --repository-name {REPO} --policy-text file://org-only.json"
        f'   # Principal "*" only when aws:PrincipalOrgID = {org_id}',
        f"aws ecr update-repository-creation-template --prefix {TEMPLATE_PREFIX} --repository-policy file://org-only.json",
    ]


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    for call in (
        lambda: ecr.delete_repository(repositoryName=REPO, force=True),
        lambda: ecr.delete_repository_creation_template(prefix=TEMPLATE_PREFIX),
    ):
        with contextlib.suppress(ecr.exceptions.ClientError):
            call()
