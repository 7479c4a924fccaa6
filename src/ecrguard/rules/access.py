"""Access control: repository, creation-template and registry policies (labs 01-03).

Every verdict here comes from :func:`ecrguard.policy.exposure`; nothing in this
module reads a policy's strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ecrguard.model import CreationTemplate, Registry, Repository, Severity, Sourced
from ecrguard.policy.audience import Audience
from ecrguard.policy.levels import REGISTRY_V1_LEVELS, REPOSITORY_LEVELS, WRITE_LEVELS, Levels
from ecrguard.rules.base import (
    Context,
    Docs,
    References,
    Remediation,
    Result,
    Rule,
    describe_audience,
    failed,
    passed,
    subject,
    unresolved,
)

if TYPE_CHECKING:
    from ecrguard.policy.exposure import Exposure

PolicyHolder = Repository | CreationTemplate


# A verdict sees the resource, how to name it, and what its policy exposes.
Verdict = Callable[[Any, str, "Exposure"], Result]


def judged(
    verdict: Verdict, levels: Levels = REPOSITORY_LEVELS
) -> Callable[[Any, Context], Iterator[Result]]:
    """A check for anything with a resource policy.

    No policy passes (only the owner's IAM principals get in), an unresolved
    policy is UNKNOWN, and otherwise the policy engine's exposure decides.
    """

    def check(item: Any, ctx: Context) -> Iterator[Result]:
        what = subject(item)
        policy: Sourced[Any] = item.policy
        if not policy.resolved:
            yield unresolved(policy, f"the {what} policy")
        elif policy.value is None:
            yield passed(
                f"{what} has no policy, so it grants nothing beyond the owner's IAM principals",
                policy.origin,
            )
        else:
            yield verdict(item, what, ctx.exposure(policy.value, item.account, levels))

    return check


def _grants(exp: Exposure, audiences: set[Audience], levels: Any = None) -> list[str]:
    names = exp.levels if levels is None else levels
    return [
        f"{lv} to {describe_audience(exp.levels[lv])}"
        for lv in names
        if exp.levels.get(lv) in audiences
    ]


def _reason(exp: Exposure, level: str) -> str:
    why = exp.reasons.get(level)
    note = exp.reasons.get("note")
    return " (" + "; ".join(x for x in (why, note) if x) + ")" if why or note else ""


# ---- EG001 public repository policy ------------------------------------------------


def _public(item: PolicyHolder, what: str, exp: Exposure) -> Result:
    public = [lv for lv, a in exp.levels.items() if a is Audience.PUBLIC]
    if public:
        return failed(
            f"{what} policy lets any AWS account {', '.join(public)}{_reason(exp, public[0])}",
            item.policy.origin,
        )
    return passed(
        f"{what} policy is not public (widest audience: {exp.widest().value})", item.policy.origin
    )


PUBLIC_REPOSITORY_POLICY = Rule(
    id="EG001",
    title="Repository policy grants access to any AWS account",
    severity=Severity.CRITICAL,
    labs=("01",),
    targets=(Repository, CreationTemplate),
    check=judged(_public),
    docs=Docs(
        what=(
            "Evaluates each repository policy, and each repository-creation-template policy, with "
            "the IAM policy engine and fails when some ECR action (pull, push, delete or admin) is "
            "allowed for a principal of an arbitrary AWS account. Conditions count only when an "
            "outsider cannot satisfy them: aws:PrincipalOrgID of your organisation or "
            "aws:SourceVpce narrow the audience; wildcard values, ...IfExists and ForAllValues on "
            "keys an outsider can omit, and aws:SecureTransport do not."
        ),
        why=(
            'A policy with Principal "*" and no effective condition lets anyone with an AWS '
            "account pull your images (source code, secrets baked into layers, internal hostnames) "
            "and, with write actions, replace them. ECR has no anonymous access, but creating an "
            "AWS account is free. Creation-template policies are copied to every repository the "
            "template creates (pull-through cache, replication, create-on-push)."
        ),
        example=(
            "Fails:\n"
            '  {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",\n'
            '    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]}]}\n'
            "Passes:\n"
            '  {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",\n'
            '    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],\n'
            '    "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]}'
        ),
        fix=(
            'Name the accounts or roles that need access in Principal, or keep Principal "*" and '
            "add a condition an outsider cannot meet: StringEquals aws:PrincipalOrgID with your "
            "organisation id, or aws:SourceVpce with your VPC endpoint. Then check with "
            "`ecrguard policy analyze policy.json --owner-account ID --org-id ORG`."
        ),
    ),
    remediation=Remediation(
        cli=(
            "aws ecr set-repository-policy --repository-name {name} --region {region} "
            "--policy-text file://org-only-policy.json\n"
            "# or remove it: aws ecr delete-repository-policy --repository-name {name} --region {region}"
        ),
        terraform=(
            'data "aws_iam_policy_document" "pull" {\n'
            "  statement {\n"
            '    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", '
            '"ecr:BatchCheckLayerAvailability"]\n'
            '    principals {\n      type        = "AWS"\n      identifiers = ["*"]\n    }\n'
            "    condition {\n"
            '      test     = "StringEquals"\n'
            '      variable = "aws:PrincipalOrgID"\n'
            "      values   = [var.org_id]\n"
            "    }\n  }\n}\n\n"
            'resource "aws_ecr_repository_policy" "this" {\n'
            "  repository = aws_ecr_repository.this.name\n"
            "  policy     = data.aws_iam_policy_document.pull.json\n}"
        ),
    ),
    references=References(
        prowler=("ecr_repositories_not_publicly_accessible",),
        checkov=("CKV_AWS_32",),
        trivy=("AVD-AWS-0032",),
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policies.html",),
    ),
    permissions=(
        "ecr:DescribeRepositories",
        "ecr:GetRepositoryPolicy",
        "ecr:DescribeRepositoryCreationTemplates",
    ),
)


# ---- EG002 registry policy ---------------------------------------------------------


def _registry_open(reg: Registry, what: str, exp: Exposure) -> Result:
    outside = {Audience.PUBLIC, Audience.EXTERNAL}
    wide = _grants(exp, outside)
    if wide:
        first = next(lv for lv in exp.levels if exp.levels[lv] in outside)
        return failed(
            f"registry policy grants {'; '.join(wide)}{_reason(exp, first)}", reg.policy.origin
        )
    return passed(
        f"registry policy grants replication, creation and import only to {exp.widest().value} principals",
        reg.policy.origin,
    )


REGISTRY_POLICY_OPEN = Rule(
    id="EG002",
    title="Registry policy lets unknown accounts replicate, create repositories or import images",
    severity=Severity.HIGH,
    labs=("02", "03"),
    targets=(Registry,),
    check=judged(_registry_open, REGISTRY_V1_LEVELS),
    docs=Docs(
        what=(
            "Evaluates the private registry permissions policy (PutRegistryPolicy) and fails when "
            "ecr:ReplicateImage, ecr:CreateRepository or ecr:BatchImportUpstreamImage is allowed "
            "for accounts outside your organisation and trusted list, or for everyone."
        ),
        why=(
            "The registry policy is what lets another account replicate images into your registry "
            "and create repositories on the way. Granting it widely lets a stranger fill your "
            "registry with repositories and images your deployments may pick up, or import "
            "arbitrary upstream images through your pull-through cache."
        ),
        example=(
            "Fails:\n"
            '  {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"},\n'
            '    "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"], "Resource": "*"}]}\n'
            "Passes:\n"
            '  {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",\n'
            '    "Principal": {"AWS": "arn:aws:iam::111122223333:root"},\n'
            '    "Action": ["ecr:ReplicateImage", "ecr:CreateRepository"],\n'
            '    "Resource": "arn:aws:ecr:us-east-1:444455556666:repository/*"}]}'
        ),
        fix=(
            "Grant replication only to the source accounts you replicate from, by account id, "
            "and add those to --trusted-account (or rely on your organisation)."
        ),
    ),
    remediation=Remediation(
        cli="aws ecr put-registry-policy --region {region} --policy-text file://registry-policy.json",
        terraform=(
            'resource "aws_ecr_registry_policy" "this" {\n'
            "  policy = jsonencode({\n"
            '    Version = "2012-10-17"\n'
            "    Statement = [{\n"
            '      Sid       = "ReplicationFromSource"\n'
            '      Effect    = "Allow"\n'
            '      Principal = { AWS = "arn:aws:iam::${var.source_account}:root" }\n'
            '      Action    = ["ecr:ReplicateImage", "ecr:CreateRepository"]\n'
            '      Resource  = "arn:aws:ecr:${var.region}:${var.account_id}:repository/*"\n'
            "    }]\n  })\n}"
        ),
    ),
    references=References(
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry-permissions.html",),
    ),
    permissions=("ecr:GetRegistryPolicy",),
)


# ---- EG003 registry policy scope ---------------------------------------------------


def _scope_widens(reg: Registry, what: str, exp: Exposure) -> Result:
    wide = _grants(exp, {Audience.PUBLIC, Audience.EXTERNAL, Audience.ORGANIZATION})
    scope = reg.policy_scope.value
    if scope == "V2" and wide:
        return failed(
            "REGISTRY_POLICY_SCOPE is V2, so the registry policy's repository actions apply to every "
            f"repository: it grants {'; '.join(wide)}",
            reg.policy_scope.origin,
        )
    if wide:
        return passed(
            f"scope {scope} ignores the registry policy's repository actions ({'; '.join(wide)}); "
            "switching to V2 would enable them",
            reg.policy_scope.origin,
        )
    return passed(
        f"scope {scope}: the registry policy grants no repository action beyond trusted accounts",
        reg.policy_scope.origin,
    )


_judge_scope = judged(_scope_widens)


def _check_policy_scope(reg: Registry, ctx: Context) -> Iterator[Result]:
    if not reg.policy_scope.resolved:
        yield unresolved(reg.policy_scope, "the REGISTRY_POLICY_SCOPE account setting")
    else:
        yield from _judge_scope(reg, ctx)


REGISTRY_POLICY_SCOPE = Rule(
    id="EG003",
    title="Registry policy scope V2 turns registry-wide grants into access to every repository",
    severity=Severity.HIGH,
    labs=("02",),
    targets=(Registry,),
    check=_check_policy_scope,
    docs=Docs(
        what=(
            "Reads the REGISTRY_POLICY_SCOPE account setting. Under V1 the registry policy can grant "
            "only replication, pull-through-cache import and repository creation; under V2 every ECR "
            "action in it applies to every repository. Fails when the scope is V2 and the registry "
            "policy grants repository actions (pull, push, delete, admin) beyond the owner and "
            "trusted accounts."
        ),
        why=(
            "A registry policy written for replication often carries broad statements such as "
            "ecr:* that were harmless under V1. Moving to V2 silently turns them into pull and push "
            "rights on every repository, overriding the care taken in each repository policy."
        ),
        example=(
            "Fails: scope V2 and a registry policy allowing ecr:* to another organisation member.\n"
            "Passes: scope V2 and a registry policy that only allows ecr:ReplicateImage and "
            "ecr:CreateRepository to the source account; or scope V1."
        ),
        fix=(
            "Remove repository actions from the registry policy (grant them in repository "
            "policies), or keep the scope at V1 until the registry policy is reviewed."
        ),
    ),
    remediation=Remediation(
        cli=(
            "aws ecr put-registry-policy --region {region} --policy-text file://replication-only.json\n"
            "# or: aws ecr put-account-setting --name REGISTRY_POLICY_SCOPE --value V1 --region {region}"
        ),
        terraform=(
            'resource "aws_ecr_account_setting" "scope" {\n'
            '  name  = "REGISTRY_POLICY_SCOPE"\n'
            '  value = "V2"  # only with a registry policy that grants no repository actions\n}'
        ),
    ),
    references=References(
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/registry-permissions.html",),
    ),
    permissions=("ecr:GetAccountSetting", "ecr:GetRegistryPolicy"),
)


# ---- EG004 cross-account access ----------------------------------------------------


def _cross_account(item: PolicyHolder, what: str, exp: Exposure) -> Result:
    external = [lv for lv, a in exp.levels.items() if a is Audience.EXTERNAL]
    if external:
        accounts = ", ".join(exp.external_accounts) or "accounts of another organisation"
        return failed(
            f"{what} policy grants {', '.join(external)} to {accounts}, outside the organisation "
            f"and the trusted accounts{_reason(exp, external[0])}",
            item.policy.origin,
        )
    if exp.public:
        return failed(
            f"{what} policy grants access to any AWS account (see EG001)", item.policy.origin
        )
    return passed(
        f"{what} policy grants nothing outside the organisation and trusted accounts",
        item.policy.origin,
    )


CROSS_ACCOUNT_ACCESS = Rule(
    id="EG004",
    title="Repository policy grants access to accounts outside the organisation and trusted list",
    severity=Severity.HIGH,
    labs=("03",),
    targets=(Repository, CreationTemplate),
    check=judged(_cross_account),
    docs=Docs(
        what=(
            "Evaluates repository and creation-template policies and fails when any ECR action is "
            "allowed for an account that is neither the owner, a member of the owner's organisation "
            "(--org-id, or AWS Organizations when readable) nor a trusted account (--trusted-account)."
        ),
        why=(
            "Cross-account grants outlive the relationship that justified them: a vendor account, "
            "a decommissioned sandbox or a typo in an account id keeps access to your images. "
            "Each external account is another set of credentials that can leak."
        ),
        example=(
            "Fails (owner 111111111111, not trusted 999999999999):\n"
            '  {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},\n'
            '    "Action": "ecr:BatchGetImage"}]}\n'
            "Passes: the same policy with --trusted-account 999999999999, or a principal in your organisation."
        ),
        fix=(
            "Remove the external principal, or, if the access is intended, record the account as "
            "trusted (--trusted-account) so the decision is explicit and reviewed."
        ),
    ),
    remediation=Remediation(
        cli="aws ecr set-repository-policy --repository-name {name} --region {region} --policy-text file://policy.json",
        terraform=(
            'resource "aws_ecr_repository_policy" "this" {\n'
            "  repository = aws_ecr_repository.this.name\n"
            "  policy = jsonencode({\n"
            '    Version = "2012-10-17"\n'
            "    Statement = [{\n"
            '      Effect    = "Allow"\n'
            '      Principal = { AWS = [for a in var.trusted_accounts : "arn:aws:iam::${a}:root"] }\n'
            '      Action    = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]\n'
            "    }]\n  })\n}"
        ),
    ),
    references=References(
        prowler=("ecr_repositories_not_publicly_accessible",),
        checkov=("CKV_AWS_32",),
        docs=(
            "https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html",
        ),
    ),
    permissions=(
        "ecr:GetRepositoryPolicy",
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
    ),
)


# ---- EG005 write access for other accounts -----------------------------------------


def _cross_account_write(item: PolicyHolder, what: str, exp: Exposure) -> Result:
    beyond = {Audience.ORGANIZATION, Audience.EXTERNAL, Audience.PUBLIC}
    writes = [lv for lv in REPOSITORY_LEVELS if lv in WRITE_LEVELS and exp.levels.get(lv) in beyond]
    if writes:
        return failed(
            f"{what} policy lets other accounts {', '.join(writes)} "
            f"({'; '.join(_grants(exp, beyond, writes))}){_reason(exp, writes[0])}",
            item.policy.origin,
        )
    return passed(
        f"{what} policy grants push, delete and admin only to trusted principals",
        item.policy.origin,
    )


CROSS_ACCOUNT_WRITE = Rule(
    id="EG005",
    title="Repository policy lets another account push, delete or administer images",
    severity=Severity.HIGH,
    labs=("03",),
    targets=(Repository, CreationTemplate),
    check=judged(_cross_account_write),
    docs=Docs(
        what=(
            "Fails when a repository or creation-template policy allows push (PutImage and the "
            "layer-upload actions), delete (BatchDeleteImage, DeleteRepository) or admin "
            "(SetRepositoryPolicy, PutImageTagMutability, ...) to any account other than the owner "
            "and the trusted accounts, including other members of your organisation."
        ),
        why=(
            "Pull access for consumers is routine; write access is not. An account that can push "
            "can overwrite a production tag with its own image, and one that can set the policy can "
            "grant itself anything. Compromise of any such account becomes compromise of every "
            "workload that pulls from this repository."
        ),
        example=(
            "Fails:\n"
            '  {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"},\n'
            '    "Action": ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",\n'
            '               "ecr:CompleteLayerUpload"]}]}\n'
            "Passes: the same principal limited to ecr:BatchGetImage and ecr:GetDownloadUrlForLayer."
        ),
        fix="Keep push and admin rights in the owner account (a CI role there); grant others pull only.",
    ),
    remediation=Remediation(
        cli="aws ecr set-repository-policy --repository-name {name} --region {region} --policy-text file://pull-only.json",
        terraform=(
            'data "aws_iam_policy_document" "pull_only" {\n'
            "  statement {\n"
            '    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]\n'
            '    principals {\n      type        = "AWS"\n'
            '      identifiers = [for a in var.consumer_accounts : "arn:aws:iam::${a}:root"]\n    }\n'
            "  }\n}"
        ),
    ),
    references=References(
        docs=(
            "https://docs.aws.amazon.com/AmazonECR/latest/userguide/repository-policy-examples.html",
        ),
    ),
    permissions=("ecr:GetRepositoryPolicy",),
)

RULES = (
    PUBLIC_REPOSITORY_POLICY,
    REGISTRY_POLICY_OPEN,
    REGISTRY_POLICY_SCOPE,
    CROSS_ACCOUNT_ACCESS,
    CROSS_ACCOUNT_WRITE,
)
