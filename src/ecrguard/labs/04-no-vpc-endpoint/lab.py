"""Lab 04: repositories used from a VPC with no ECR or S3 endpoints, pulls not pinned to one."""

from __future__ import annotations

import json
import time
from contextlib import suppress
from typing import Any

from ecrguard.labs.base import LabEnv, Outcome, decide, push_image
from ecrguard.model import Finding
from ecrguard.policy import Decision

NUMBER = "04"
RULES = ("EG006", "EG007", "EG008")
PREFIX = "lab04-"
# The lab asks for private-only pulls, which is what EG008 checks.
PARAMS = {"EG008.require_vpce": True}
VPC_NAME = "lab04-workloads"
SUBNET_NAME = "lab04-private-a"
ENDPOINT_SG = "lab04-ecr-endpoints"
CIDR = "10.44.0.0/16"
SUBNET_CIDR = "10.44.1.0/24"
REPOS = ("lab04-internal-api", "lab04-batch-worker")
PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
PUSH = ["ecr:PutImage", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload"]
_GONE = ("deleting", "deleted", "failed", "rejected", "expired")

# owns() runs once per finding: reuse one EC2 client per session rather than
# build a new one (~80 ms) for every call.
_EC2_CLIENTS: dict[tuple[int, str, str | None], tuple[Any, Any]] = {}


def _ec2(env: LabEnv) -> Any:
    key = (id(env.session), env.region, env.endpoint_url)
    hit = _EC2_CLIENTS.get(key)
    if hit is None or hit[0] is not env.session:
        hit = _EC2_CLIENTS[key] = (env.session, env.client("ec2"))
    return hit[1]


def _tags(kind: str, name: str) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}]


def _service(env: LabEnv, suffix: str) -> str:
    return f"com.amazonaws.{env.region}.{suffix}"


def _vpc_ids(env: LabEnv) -> list[str]:
    found = _ec2(env).describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [VPC_NAME]}])
    return sorted(v["VpcId"] for v in found["Vpcs"])


def _endpoints(env: LabEnv, vpc_ids: list[str]) -> list[dict[str, Any]]:
    """The endpoints of these VPCs that exist (deleted ones stay listed for a while)."""
    if not vpc_ids:
        return []
    found = _ec2(env).describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": vpc_ids}])
    return [e for e in found["VpcEndpoints"] if e.get("State", "").lower() not in _GONE]


def owns(env: LabEnv, finding: Finding) -> bool:
    """The lab's VPC, its endpoints and its repositories; not moto's default VPC."""
    if PREFIX in finding.resource:
        return True
    vpcs = _vpc_ids(env)
    ids = vpcs + [e["VpcEndpointId"] for e in _endpoints(env, vpcs)]
    return any(finding.resource.endswith("/" + i) for i in ids)


def _vpc(env: LabEnv) -> str:
    existing = _vpc_ids(env)
    if existing:
        return existing[0]
    ec2 = _ec2(env)
    created = ec2.create_vpc(CidrBlock=CIDR, TagSpecifications=_tags("vpc", VPC_NAME))
    vpc = str(created["Vpc"]["VpcId"])
    # Interface endpoints with private DNS need both.
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": True})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    return vpc


def _subnet(env: LabEnv, vpc: str) -> str:
    ec2 = _ec2(env)
    mine = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "tag:Name", "Values": [SUBNET_NAME]}]
    found = ec2.describe_subnets(Filters=mine)["Subnets"]
    if found:
        return str(found[0]["SubnetId"])
    tags = _tags("subnet", SUBNET_NAME)
    created = ec2.create_subnet(VpcId=vpc, CidrBlock=SUBNET_CIDR, TagSpecifications=tags)
    return str(created["Subnet"]["SubnetId"])


def setup(env: LabEnv) -> list[str]:
    vpc = _vpc(env)
    subnet = _subnet(env, vpc)
    ecr = env.client("ecr")
    for name in REPOS:
        with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
            ecr.create_repository(repositoryName=name, imageTagMutability="IMMUTABLE")
    with suppress(ecr.exceptions.ImageAlreadyExistsException):
        push_image(env, REPOS[0], "v1.4", "internal-api build 1.4")
    # Undo an earlier fix, if any: the vulnerable state has no endpoint and no policy.
    for name in REPOS:
        with suppress(ecr.exceptions.RepositoryPolicyNotFoundException):
            ecr.delete_repository_policy(repositoryName=name)
    stale = [e["VpcEndpointId"] for e in _endpoints(env, [vpc])]
    if stale:
        _ec2(env).delete_vpc_endpoints(VpcEndpointIds=stale)
    return [
        f"aws ec2 create-vpc --cidr-block {CIDR} --tag-specifications "
        f"'ResourceType=vpc,Tags=[{{Key=Name,Value={VPC_NAME}}}]'   # {vpc}",
        f"aws ec2 create-subnet --vpc-id {vpc} --cidr-block {SUBNET_CIDR}"
        f"   # {subnet}, egress through a NAT gateway",
        *(
            f"aws ecr create-repository --repository-name {name} --image-tag-mutability IMMUTABLE"
            for name in REPOS
        ),
        f"docker push {env.account}.dkr.ecr.{env.region}.amazonaws.com/{REPOS[0]}:v1.4",
        "# no VPC endpoint for ecr.api, ecr.dkr or s3; no repository policy",
    ]


def exploit(env: LabEnv) -> Outcome:
    ecr = env.client("ecr")
    repo = REPOS[0]
    try:
        policy: str | None = ecr.get_repository_policy(repositoryName=repo)["policyText"]
    except ecr.exceptions.RepositoryPolicyNotFoundException:
        policy = None
    # Keys of an owner-account CI role, stolen from a build log and used from a
    # laptop: the request comes from the internet, so it has no aws:SourceVpce.
    thief = f"arn:aws:iam::{env.account}:role/ci-builder"
    arn = env.repo_arn(repo)
    decision, why = decide(policy, thief, "ecr:BatchGetImage", arn)
    endpoints = _endpoints(env, _vpc_ids(env))
    dkr = [e["VpcEndpointId"] for e in endpoints if e["ServiceName"] == _service(env, "ecr.dkr")]
    if dkr:
        inside, _ = decide(policy, thief, "ecr:BatchGetImage", arn, {"aws:SourceVpce": [dkr[0]]})
        path = (
            f"the VPC pulls through ecr.dkr endpoint {dkr[0]}, where the repository policy "
            f"answers {inside.value}"
        )
    else:
        path = f"{VPC_NAME} has no ecr.dkr endpoint, so its own pulls leave through the NAT gateway"
    worked = decision is not Decision.EXPLICIT_DENY
    verdict = (
        "the repository policy does not deny it, so the stolen role's IAM permissions decide "
        "and the pull works"
        if worked
        else "the repository policy denies it, whatever IAM allows"
    )
    registry = f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"
    return Outcome(
        worked,
        f"{thief} ecr:BatchGetImage on {repo} from the internet (no aws:SourceVpce): {why}: "
        f"{verdict}; {path}",
        [
            "# from any machine on the internet, with the stolen keys:",
            f"aws ecr get-login-password | docker login --username AWS --password-stdin {registry}",
            f"docker pull {registry}/{repo}:v1.4",
        ],
    )


def _ecr_endpoint_policy(env: LabEnv) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Login",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:GetAuthorizationToken",
                "Resource": "*",
            },
            {
                "Sid": "OwnRepositoriesOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "ecr:*",
                "Resource": f"arn:aws:ecr:{env.region}:{env.account}:repository/*",
            },
        ],
    }


def _s3_endpoint_policy(env: LabEnv) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EcrLayersOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::prod-{env.region}-starport-layer-bucket/*",
            }
        ],
    }


def _vpce_only(endpoint_ids: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyOutsideVpcEndpoints",
                "Effect": "Deny",
                "Principal": "*",
                "Action": PULL + PUSH,
                "Condition": {"StringNotEquals": {"aws:SourceVpce": endpoint_ids}},
            }
        ],
    }


def _security_group(env: LabEnv, vpc: str) -> str:
    ec2 = _ec2(env)
    mine = [{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": [ENDPOINT_SG]}]
    found = ec2.describe_security_groups(Filters=mine)["SecurityGroups"]
    if found:
        return str(found[0]["GroupId"])
    created = ec2.create_security_group(
        GroupName=ENDPOINT_SG, Description="HTTPS to the ECR endpoints", VpcId=vpc
    )
    sg = str(created["GroupId"])
    https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": CIDR}]}
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[https])
    return sg


def _endpoint(env: LabEnv, vpc: str, suffix: str, policy: dict[str, Any], **where: Any) -> str:
    """Create the endpoint, or give the existing one this policy."""
    ec2 = _ec2(env)
    service = _service(env, suffix)
    for found in _endpoints(env, [vpc]):
        if found["ServiceName"] == service:
            endpoint = str(found["VpcEndpointId"])
            ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PolicyDocument=json.dumps(policy))
            return endpoint
    created = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=service,
        VpcEndpointType="Gateway" if suffix == "s3" else "Interface",
        PolicyDocument=json.dumps(policy),
        TagSpecifications=_tags("vpc-endpoint", "lab04-" + suffix.replace(".", "-")),
        **where,
    )
    return str(created["VpcEndpoint"]["VpcEndpointId"])


def fix(env: LabEnv) -> list[str]:
    ec2 = _ec2(env)
    vpc = _vpc(env)
    subnet = _subnet(env, vpc)
    sg = _security_group(env, vpc)
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    route_tables = [t["RouteTableId"] for t in tables["RouteTables"]]
    interface = {"SubnetIds": [subnet], "SecurityGroupIds": [sg], "PrivateDnsEnabled": True}
    api = _endpoint(env, vpc, "ecr.api", _ecr_endpoint_policy(env), **interface)
    dkr = _endpoint(env, vpc, "ecr.dkr", _ecr_endpoint_policy(env), **interface)
    s3 = _endpoint(env, vpc, "s3", _s3_endpoint_policy(env), RouteTableIds=route_tables)
    ecr = env.client("ecr")
    policy = json.dumps(_vpce_only([dkr, api]))
    for name in REPOS:
        ecr.set_repository_policy(repositoryName=name, policyText=policy)
    create = f"aws ec2 create-vpc-endpoint --vpc-id {vpc}"
    interface_flags = f"--subnet-ids {subnet} --security-group-ids {sg} --private-dns-enabled"
    return [
        f"aws ec2 create-security-group --group-name {ENDPOINT_SG} --vpc-id {vpc} ..."
        f"   # {sg}, HTTPS from {CIDR}",
        f"{create} --vpc-endpoint-type Interface --service-name {_service(env, 'ecr.api')} "
        f"{interface_flags} --policy-document file://ecr-own-repositories.json   # {api}",
        f"{create} --vpc-endpoint-type Interface --service-name {_service(env, 'ecr.dkr')} "
        f"{interface_flags} --policy-document file://ecr-own-repositories.json   # {dkr}",
        f"{create} --vpc-endpoint-type Gateway --service-name {_service(env, 's3')} "
        f"--route-table-ids {' '.join(route_tables)} "
        f"--policy-document file://ecr-layer-bucket.json   # {s3}",
        *(
            f"aws ecr set-repository-policy --repository-name {name} "
            f"--policy-text file://vpce-only.json"
            f"   # Deny pull and push unless aws:SourceVpce is {dkr} or {api}"
            for name in REPOS
        ),
    ]


def teardown(env: LabEnv) -> None:
    ec2 = _ec2(env)
    ecr = env.client("ecr")
    for name in REPOS:
        with suppress(ecr.exceptions.ClientError):
            ecr.delete_repository(repositoryName=name, force=True)
    for vpc in _vpc_ids(env):
        endpoints = [e["VpcEndpointId"] for e in _endpoints(env, [vpc])]
        if endpoints:
            with suppress(ec2.exceptions.ClientError):
                ec2.delete_vpc_endpoints(VpcEndpointIds=endpoints)
            # Interface endpoints take a few minutes to release their network interfaces.
            deadline = time.monotonic() + (0 if env.emulated else 300)
            while _endpoints(env, [vpc]) and time.monotonic() < deadline:
                time.sleep(5)
        in_vpc = [{"Name": "vpc-id", "Values": [vpc]}]
        mine = [*in_vpc, {"Name": "group-name", "Values": [ENDPOINT_SG]}]
        for group in ec2.describe_security_groups(Filters=mine)["SecurityGroups"]:
            with suppress(ec2.exceptions.ClientError):
                ec2.delete_security_group(GroupId=group["GroupId"])
        for subnet in ec2.describe_subnets(Filters=in_vpc)["Subnets"]:
            with suppress(ec2.exceptions.ClientError):
                ec2.delete_subnet(SubnetId=subnet["SubnetId"])
        with suppress(ec2.exceptions.ClientError):
            ec2.delete_vpc(VpcId=vpc)
