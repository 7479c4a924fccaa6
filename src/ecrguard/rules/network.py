"""Network paths to ECR: VPC endpoints and their policies (lab 04)."""

from __future__ import annotations

from collections.abc import Iterator

from ecrguard.model import Region, Repository, Severity, VpcEndpoint
from ecrguard.rules.base import (
    UNKNOWN_OWNER,
    Context,
    Docs,
    References,
    Remediation,
    Result,
    Rule,
    failed,
    passed,
    unknown,
    unresolved,
)

# The three endpoints an image pull needs to stay off the internet.
REQUIRED = (("ecr.api", "Interface"), ("ecr.dkr", "Interface"), ("s3", "Gateway"))


def _service(endpoint: VpcEndpoint) -> str | None:
    name = endpoint.service_name.value if endpoint.service_name.resolved else None
    if not name:
        return None
    for suffix, _ in REQUIRED:
        if name.endswith("." + suffix):
            return suffix
    return None


def _check_endpoints(net: Region, ctx: Context) -> Iterator[Result]:
    if not net.repositories or not net.vpcs:
        return
    for vpc in net.vpcs:
        if not vpc.vpc_id.resolved:
            yield unresolved(vpc.vpc_id, "the VPC id")
            continue
        vid = vpc.vpc_id.value
        present: set[str] = set()
        undecided = False
        for ep in net.endpoints:
            if not ep.vpc_id.resolved or not ep.service_name.resolved:
                undecided = True
                continue
            if ep.vpc_id.value == vid and (svc := _service(ep)):
                present.add(svc)
        missing = [f"{svc} ({kind})" for svc, kind in REQUIRED if svc not in present]
        if not missing:
            yield passed(
                f"VPC {vid} has ecr.api, ecr.dkr and S3 gateway endpoints", vpc.origin, vpc.id
            )
        elif undecided:
            yield unknown(
                f"VPC {vid} may lack {', '.join(missing)}: some endpoints' VPC or service is unresolved",
                vpc.origin,
                vpc.id,
            )
        else:
            yield failed(
                f"VPC {vid} has no {', '.join(missing)} endpoint, so image pulls from "
                f"{len(net.repositories)} repositories in this region leave the VPC",
                vpc.origin,
                vpc.id,
            )


MISSING_ENDPOINTS = Rule(
    id="EG006",
    title="VPC lacks the ECR interface endpoints or the S3 gateway endpoint",
    severity=Severity.MEDIUM,
    labs=("04",),
    targets=(Region,),
    check=_check_endpoints,
    docs=Docs(
        what=(
            "In every account and region that has both ECR repositories and VPCs, checks each VPC for "
            "an interface endpoint for com.amazonaws.REGION.ecr.api, one for ...ecr.dkr, and a "
            "gateway endpoint for ...s3 (image layers are served from S3)."
        ),
        why=(
            "Without the endpoints, nodes pull images through a NAT gateway and the public internet: "
            "the traffic cannot be pinned with aws:SourceVpce, egress must stay open, and NAT "
            "data-processing charges apply to every layer."
        ),
        example=(
            "Fails: a VPC with only an ecr.api endpoint.\n"
            "Passes: a VPC with ecr.api and ecr.dkr interface endpoints and an S3 gateway endpoint."
        ),
        fix=(
            "Create the two interface endpoints (private DNS on) in the subnets your workloads "
            "use and the S3 gateway endpoint on their route tables."
        ),
    ),
    remediation=Remediation(
        cli=(
            "aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface "
            "--service-name com.amazonaws.{region}.ecr.api --subnet-ids SUBNETS --security-group-ids SG "
            "--private-dns-enabled\n"
            "aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface "
            "--service-name com.amazonaws.{region}.ecr.dkr --subnet-ids SUBNETS --security-group-ids SG "
            "--private-dns-enabled\n"
            "aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Gateway "
            "--service-name com.amazonaws.{region}.s3 --route-table-ids RTB"
        ),
        terraform=(
            'resource "aws_vpc_endpoint" "ecr_api" {\n'
            "  vpc_id              = aws_vpc.main.id\n"
            '  service_name        = "com.amazonaws.${var.region}.ecr.api"\n'
            '  vpc_endpoint_type   = "Interface"\n'
            "  private_dns_enabled = true\n}\n\n"
            'resource "aws_vpc_endpoint" "ecr_dkr" {\n'
            "  vpc_id              = aws_vpc.main.id\n"
            '  service_name        = "com.amazonaws.${var.region}.ecr.dkr"\n'
            '  vpc_endpoint_type   = "Interface"\n'
            "  private_dns_enabled = true\n}\n\n"
            'resource "aws_vpc_endpoint" "s3" {\n'
            "  vpc_id            = aws_vpc.main.id\n"
            '  service_name      = "com.amazonaws.${var.region}.s3"\n'
            '  vpc_endpoint_type = "Gateway"\n}'
        ),
    ),
    references=References(
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html",),
    ),
    permissions=("ec2:DescribeVpcs", "ec2:DescribeVpcEndpoints", "ecr:DescribeRepositories"),
)


# A request an attacker inside the VPC would make to exfiltrate: push to a
# repository, or write an object to a bucket, in an account that is not ours.
_FOREIGN = "999999999999"
_EXFIL = {
    "ecr.api": ("ecr:InitiateLayerUpload", f"arn:aws:ecr:us-east-1:{_FOREIGN}:repository/exfil"),
    "ecr.dkr": ("ecr:PutImage", f"arn:aws:ecr:us-east-1:{_FOREIGN}:repository/exfil"),
    "s3": ("s3:PutObject", "arn:aws:s3:::exfil-bucket-of-someone-else/data"),
}


def _check_endpoint_policy(ep: VpcEndpoint, ctx: Context) -> Iterator[Result]:
    svc = _service(ep)
    if svc is None:
        if not ep.service_name.resolved:
            yield unresolved(ep.service_name, "the endpoint's service name")
        return
    if not ep.policy.resolved:
        yield unresolved(ep.policy, "the endpoint policy")
        return
    if ep.policy.value is None:
        yield failed(
            f"{svc} endpoint has the default policy, which allows every action on every resource, "
            "including pushing to other accounts' registries",
            ep.policy.origin,
        )
        return
    # Imported here: `ecrguard rule` loads this module only to list its rules.
    from ecrguard.policy import Caller, Decision, Request, evaluate, parse_policy

    action, resource = _EXFIL[svc]
    owner = ctx.owner(ep.account) or UNKNOWN_OWNER
    request = Request.build(Caller.parse(owner), action, resource)
    decision = evaluate(parse_policy(ep.policy.value), request).decision
    if decision is Decision.ALLOW:
        yield failed(
            f"{svc} endpoint policy allows {action} on {resource}: callers in the VPC can copy "
            "data to a registry or bucket of any account",
            ep.policy.origin,
        )
    else:
        yield passed(
            f"{svc} endpoint policy does not allow {action} to other accounts", ep.policy.origin
        )


ENDPOINT_POLICY_OPEN = Rule(
    id="EG007",
    title="ECR or S3 VPC endpoint policy allows writes to any account",
    severity=Severity.MEDIUM,
    labs=("04",),
    targets=(VpcEndpoint,),
    check=_check_endpoint_policy,
    docs=Docs(
        what=(
            "For each ecr.api, ecr.dkr and S3 endpoint, evaluates the endpoint policy with the "
            "policy engine: fails when a principal in the VPC could push an image to a repository "
            "of another account, or put an object into a foreign bucket. The default policy "
            "(full access) fails."
        ),
        why=(
            "An endpoint policy is the one place that limits what traffic leaving the VPC through "
            "the endpoint may do. With full access, malware or an insider can push your images "
            "and data to a registry they own, and egress filtering never sees it."
        ),
        example=(
            'Fails: no policy, or {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", '
            '"Resource": "*"}]}.\n'
            'Passes: {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", '
            '"Resource": "arn:aws:ecr:us-east-1:111122223333:repository/*"}]}'
        ),
        fix="Attach an endpoint policy whose Resource lists only your own registries and buckets.",
    ),
    remediation=Remediation(
        cli="aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint} --policy-document file://endpoint-policy.json",
        terraform=(
            'resource "aws_vpc_endpoint" "ecr_dkr" {\n'
            "  # ...\n"
            "  policy = jsonencode({\n"
            '    Version = "2012-10-17"\n'
            "    Statement = [{\n"
            '      Effect    = "Allow"\n'
            '      Principal = "*"\n'
            '      Action    = ["ecr:*"]\n'
            '      Resource  = "arn:aws:ecr:${var.region}:${var.account_id}:repository/*"\n'
            "    }]\n  })\n}"
        ),
    ),
    references=References(
        docs=(
            "https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html#ecr-vpc-endpoint-policy",
        ),
    ),
    permissions=("ec2:DescribeVpcEndpoints",),
)


def _check_pinned_pulls(repo: Repository, ctx: Context) -> Iterator[Result]:
    if not ctx.param(PULLS_NOT_PINNED, "require_vpce"):
        return
    if not repo.policy.resolved:
        yield unresolved(repo.policy, "the repository policy")
        return
    name = repo.name.value if repo.name.resolved else repo.id
    if repo.policy.value is None:
        yield failed(
            f"repository {name} has no policy, so nothing denies pulls from outside the VPC endpoint"
        )
        return
    from ecrguard.policy import Caller, Decision, Request, evaluate, parse_policy  # see above

    owner = ctx.owner(repo.account) or UNKNOWN_OWNER
    # An owner-account principal pulling from the internet: a private-only
    # repository must deny it explicitly, whatever IAM grants.
    request = Request.build(
        Caller.parse(f"arn:aws:iam::{owner}:role/ecrguard-probe"), "ecr:BatchGetImage"
    )
    decision = evaluate(parse_policy(repo.policy.value), request).decision
    if decision is Decision.EXPLICIT_DENY:
        yield passed(
            f"repository {name} denies pulls that do not come through the VPC endpoint",
            repo.policy.origin,
        )
    else:
        yield failed(
            f"repository {name} does not deny pulls without aws:SourceVpce ({decision.value} for a "
            "pull from outside the VPC)",
            repo.policy.origin,
        )


PULLS_NOT_PINNED = Rule(
    id="EG008",
    title="Repository policy does not pin pulls to a VPC endpoint (private-only repositories)",
    severity=Severity.MEDIUM,
    labs=("04",),
    targets=(Repository,),
    check=_check_pinned_pulls,
    params={"require_vpce": False},
    docs=Docs(
        what=(
            "Only when you ask for private-only pulls (--param EG008.require_vpce=true): fails when a "
            "repository policy does not explicitly deny a pull that arrives without aws:SourceVpce."
        ),
        why=(
            "Endpoints keep your own traffic private, but without a Deny keyed on aws:SourceVpce, "
            "stolen credentials still pull from anywhere on the internet."
        ),
        example=(
            "Passes:\n"
            '  {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "ecr:*",\n'
            '    "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0abc"}}}]}\n'
            "Fails: no policy, or a policy without such a Deny."
        ),
        fix="Add a Deny statement for every principal when aws:SourceVpce is not your endpoint.",
    ),
    remediation=Remediation(
        cli="aws ecr set-repository-policy --repository-name {name} --region {region} --policy-text file://vpce-only.json",
        terraform=(
            'data "aws_iam_policy_document" "vpce_only" {\n'
            "  statement {\n"
            '    effect  = "Deny"\n'
            '    actions = ["ecr:*"]\n'
            '    principals {\n      type        = "*"\n      identifiers = ["*"]\n    }\n'
            "    condition {\n"
            '      test     = "StringNotEquals"\n'
            '      variable = "aws:SourceVpce"\n'
            "      values   = [aws_vpc_endpoint.ecr_dkr.id]\n"
            "    }\n  }\n}"
        ),
    ),
    references=References(
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html",),
    ),
    permissions=("ecr:GetRepositoryPolicy",),
)

RULES = (MISSING_ENDPOINTS, ENDPOINT_POLICY_OPEN, PULLS_NOT_PINNED)
