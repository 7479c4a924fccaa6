"""Lab 08: the newest image still ships a CRITICAL CVE known for 45 days, and nobody was told."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from ecrguard.labs.base import LabEnv, Outcome, publish_findings, push_image
from ecrguard.model import Finding

NUMBER = "08"
RULES = ("EG012", "EG013")
PREFIX = "lab08-"
# The registry scanning configuration is per region: seeded beside other labs,
# this lab gets a region of its own (see labs.runner.seed_all).
REGISTRY_SCOPED = True
SLA_DAYS = 30
PARAMS = {"EG012.sla_days": SLA_DAYS}

REPO = "lab08-checkout-api"
SCAN_FILTER = "lab08-*"
VULNERABLE_TAG = "v1.0"
REBUILT_TAG = "v1.1"
VULNERABLE = "checkout-api 1.0 on a base image with xz-utils 5.6.0 and glibc 2.37-12"
REBUILT = "checkout-api 1.0 rebuilt on a patched base: xz-utils 5.6.1, glibc 2.37-15"
TASK_FAMILY = "lab08-checkout-api"
RULE_NAME = "lab08-scan-findings"
TOPIC = "lab08-security-findings"
TARGET_ID = "security-topic"
SERIOUS = ("CRITICAL", "HIGH")
SCAN_SOURCES = ("aws.ecr", "aws.inspector2")
PATTERN = {
    "source": ["aws.inspector2", "aws.ecr"],
    "detail-type": ["Inspector2 Finding", "ECR Image Scan"],
}


def _fixture(now: datetime) -> dict[str, list[dict[str, str]]]:
    """What the scanner finds: the old build, and the rebuild (one LOW left, no fix yet)."""

    def seen(days: int) -> str:
        return (now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        f"{REPO}:{VULNERABLE_TAG}": [
            {
                "name": "CVE-2024-3094",
                "severity": "CRITICAL",
                "package": "xz-utils",
                "version": "5.6.0-0.2",
                "fixed_in": "5.6.1",
                "first_observed": seen(45),
                "description": "Backdoored liblzma release tarballs let a remote attacker "
                "with the right key run code through sshd.",
                "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
            },
            {
                "name": "CVE-2023-4911",
                "severity": "HIGH",
                "package": "glibc",
                "version": "2.37-12",
                "fixed_in": "2.37-15",
                "first_observed": seen(9),
                "description": "Buffer overflow in the dynamic loader's GLIBC_TUNABLES "
                "handling lets a local user gain root.",
                "uri": "https://nvd.nist.gov/vuln/detail/CVE-2023-4911",
            },
        ],
        f"{REPO}:{REBUILT_TAG}": [
            {
                "name": "CVE-2022-27943",
                "severity": "LOW",
                "package": "gcc-12",
                "version": "12.2.0-14",
                "first_observed": seen(2),
                "description": "Stack exhaustion in libiberty's demangler.",
            }
        ],
    }


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _image_uri(env: LabEnv, tag: str) -> str:
    return f"{_registry(env)}/{REPO}:{tag}"


def owns(env: LabEnv, finding: Finding) -> bool:
    if finding.rule == "EG013":  # one verdict per account and region
        return finding.resource == f"{env.account}/{env.region}"
    return PREFIX in finding.resource


# ---- registry scanning: one SCAN_ON_PUSH filter, merged into what is there ----------


def _scan_rules_with(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The registry's rules plus our filter in its SCAN_ON_PUSH rule (AWS allows two rules)."""
    mine = {"filter": SCAN_FILTER, "filterType": "WILDCARD"}
    out = [dict(r) for r in rules]
    for rule in out:
        if rule.get("scanFrequency") == "SCAN_ON_PUSH":
            filters = list(rule.get("repositoryFilters") or [])
            if mine not in filters:
                filters.append(mine)
            rule["repositoryFilters"] = filters
            return out
    return [*out, {"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": [mine]}]


def _scan_rules_without(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        filters = [f for f in rule.get("repositoryFilters") or [] if f.get("filter") != SCAN_FILTER]
        if filters:
            out.append({**rule, "repositoryFilters": filters})
    return out


# ---- setup ------------------------------------------------------------------------


def _push(env: LabEnv, tag: str, content: str) -> str | None:
    ecr = env.client("ecr")
    try:
        return push_image(env, REPO, tag, content)
    except ecr.exceptions.ImageAlreadyExistsException:
        found = ecr.describe_images(repositoryName=REPO, imageIds=[{"imageTag": tag}])
        return str(found["imageDetails"][0]["imageDigest"])


def _task_definition(env: LabEnv, tag: str) -> str:
    ecs = env.client("ecs")
    registered = ecs.register_task_definition(
        family=TASK_FAMILY,
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {"name": "api", "image": _image_uri(env, tag), "essential": True, "memory": 512}
        ],
    )
    return str(registered["taskDefinition"]["taskDefinitionArn"])


def _active_task_definitions(env: LabEnv, family: str | None = None) -> list[dict[str, Any]]:
    ecs = env.client("ecs")
    options: dict[str, Any] = {"status": "ACTIVE"}
    if family:
        options["familyPrefix"] = family
    arns = [
        arn
        for page in ecs.get_paginator("list_task_definitions").paginate(**options)
        for arn in page.get("taskDefinitionArns", [])
    ]
    return [ecs.describe_task_definition(taskDefinition=a)["taskDefinition"] for a in arns]


def _remove_routing(env: LabEnv) -> None:
    events = env.client("events")
    with suppress(events.exceptions.ResourceNotFoundException):
        events.remove_targets(Rule=RULE_NAME, Ids=[TARGET_ID])
    with suppress(events.exceptions.ResourceNotFoundException):
        events.delete_rule(Name=RULE_NAME)


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    current = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    rules = _scan_rules_with(current.get("rules") or [])
    # Only enhanced scanning (Inspector) dates each finding (firstObservedAt);
    # a basic scan's findings are as old as the scan, so no SLA can be missed.
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules)
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    # A run after the fix starts vulnerable again: the rebuild and the routing go.
    with suppress(ecr.exceptions.ClientError):
        ecr.batch_delete_image(repositoryName=REPO, imageIds=[{"imageTag": REBUILT_TAG}])
    _remove_routing(env)
    # The emulator's scanner reports what this fixture says, at push time.
    publish_findings(env, _fixture(datetime.now(UTC)))
    digest = _push(env, VULNERABLE_TAG, VULNERABLE)
    uri = _image_uri(env, VULNERABLE_TAG)
    running = [
        td
        for td in _active_task_definitions(env, TASK_FAMILY)
        if any(c.get("image") == uri for c in td.get("containerDefinitions", []))
    ]
    task = running[0]["taskDefinitionArn"] if running else _task_definition(env, VULNERABLE_TAG)
    return [
        "aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules "
        f"'{json.dumps(rules)}'",
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability IMMUTABLE",
        f"docker push {uri}   # {digest}; scanned on push: CVE-2024-3094 (CRITICAL, first "
        "observed 45 days ago), CVE-2023-4911 (HIGH, 9 days)",
        f"aws ecs register-task-definition --family {TASK_FAMILY} "
        f'--container-definitions \'[{{"name":"api","image":"{uri}"}}]\'   # {task}',
        "# no EventBridge rule for aws.ecr / aws.inspector2 scan findings",
    ]


# ---- exploit ----------------------------------------------------------------------


def _newest(env: LabEnv) -> dict[str, Any] | None:
    ecr = env.client("ecr")
    details = [
        d
        for page in ecr.get_paginator("describe_images").paginate(repositoryName=REPO)
        for d in page.get("imageDetails", [])
    ]
    return max(details, key=lambda d: d["imagePushedAt"]) if details else None


def _serious(env: LabEnv, digest: str, now: datetime) -> list[tuple[str, str, int]]:
    """(CVE, severity, days since first observed) of the image's CRITICAL and HIGH findings."""
    ecr = env.client("ecr")
    pages = ecr.get_paginator("describe_image_scan_findings").paginate(
        repositoryName=REPO, imageId={"imageDigest": digest}
    )
    out = []
    try:
        listed = list(pages)
    except ecr.exceptions.ScanNotFoundException:
        return []  # not scanned (yet): nothing is known about it
    for page in listed:
        found = page.get("imageScanFindings") or {}
        completed = found.get("imageScanCompletedAt") or now
        for f in found.get("enhancedFindings") or []:
            if f.get("severity") in SERIOUS:
                cve = (f.get("packageVulnerabilityDetails") or {}).get("vulnerabilityId")
                seen = f.get("firstObservedAt") or completed
                out.append((cve or f.get("title", "?"), f["severity"], (now - seen).days))
        for f in found.get("findings") or []:  # basic scans date findings by the scan
            if f.get("severity") in SERIOUS:
                out.append((f.get("name", "?"), f["severity"], (now - completed).days))
    return sorted(out, key=lambda x: (SERIOUS.index(x[1]), -x[2]))


def _routes(env: LabEnv) -> list[str]:
    """Enabled rules on the default bus that send ECR or Inspector events to a target."""
    events = env.client("events")
    routed = []
    for page in events.get_paginator("list_rules").paginate():
        for rule in page.get("Rules", []):
            try:
                pattern = json.loads(rule.get("EventPattern") or "{}")
            except ValueError:
                continue
            sources = pattern.get("source", []) if isinstance(pattern, dict) else []
            sources = [sources] if isinstance(sources, str) else sources
            if rule.get("State") != "ENABLED" or not set(SCAN_SOURCES) & set(sources):
                continue
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            if targets:
                routed.append(f"{rule['Name']} -> {', '.join(t['Arn'] for t in targets)}")
    return routed


def _consumers(env: LabEnv, image: dict[str, Any]) -> list[str]:
    """ECS task definitions and Lambda functions that run ``image`` (by tag or digest)."""
    refs = {f"{_registry(env)}/{REPO}@{image['imageDigest']}"} | {
        _image_uri(env, t) for t in image.get("imageTags", [])
    }
    found = [
        f"ECS task definition {td['family']}:{td['revision']} (container {c['name']})"
        for td in _active_task_definitions(env)
        for c in td.get("containerDefinitions", [])
        if c.get("image") in refs
    ]
    lam = env.client("lambda")
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page.get("Functions", []):
            if fn.get("PackageType") != "Image":
                continue
            code = lam.get_function(FunctionName=fn["FunctionName"]).get("Code", {})
            if code.get("ImageUri") in refs:
                found.append(f"Lambda function {fn['FunctionName']}")
    return found


def exploit(env: LabEnv) -> Outcome:
    now = datetime.now(UTC)
    commands = [
        f"aws ecr describe-images --repository-name {REPO} "
        "--query 'sort_by(imageDetails,&imagePushedAt)[-1]'",
        f"aws ecr describe-image-scan-findings --repository-name {REPO} --image-id imageTag=TAG",
        "aws events list-rules   # any rule for source aws.ecr / aws.inspector2 with a target?",
        "aws ecs list-task-definitions; aws lambda list-functions   # who runs the image?",
    ]
    image = _newest(env)
    if image is None:
        return Outcome(False, f"{REPO} holds no image", commands)
    label = f"{REPO}:{','.join(image.get('imageTags', [])) or '<untagged>'}"
    serious = _serious(env, image["imageDigest"], now)
    overdue = [s for s in serious if s[2] > SLA_DAYS]
    routes = _routes(env)
    consumers = _consumers(env, image) if serious else []
    parts = [
        f"the newest image {label} ({image['imageDigest'][:19]}) carries "
        + (
            ", ".join(
                f"{cve} ({sev}, first observed {days} days ago)" for cve, sev, days in serious
            )
            if serious
            else "no CRITICAL or HIGH findings"
        )
    ]
    if overdue:
        parts.append(
            f"{len(overdue)} of them older than the {SLA_DAYS}-day SLA: exploitable today, "
            "and shipped by the next deployment"
        )
    parts.append(
        "scan findings are routed by EventBridge rule " + "; ".join(routes)
        if routes
        else "no enabled EventBridge rule sends aws.ecr or aws.inspector2 findings to any "
        "target, so nobody was told"
    )
    if serious:
        parts.append(
            "running it: " + ", ".join(consumers)
            if consumers
            else "no ECS task definition or Lambda function runs it"
        )
    return Outcome(bool(overdue) or not routes, "; ".join(parts), commands)


# ---- fix --------------------------------------------------------------------------


def _topic(env: LabEnv) -> str:
    sns = env.client("sns")
    arn = str(sns.create_topic(Name=TOPIC)["TopicArn"])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgePublish",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": arn,
                "Condition": {
                    "ArnEquals": {
                        "aws:SourceArn": f"arn:aws:events:{env.region}:{env.account}:rule/{RULE_NAME}"
                    }
                },
            }
        ],
    }
    sns.set_topic_attributes(
        TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )
    return arn


def fix(env: LabEnv) -> list[str]:
    publish_findings(env, _fixture(datetime.now(UTC)))
    digest = _push(env, REBUILT_TAG, REBUILT)
    # Redeploy: a new revision on the rebuild; revisions on the old image are retired.
    old = _image_uri(env, VULNERABLE_TAG)
    new_task = _task_definition(env, REBUILT_TAG)
    ecs = env.client("ecs")
    retired = []
    for td in _active_task_definitions(env, TASK_FAMILY):
        if any(c.get("image") == old for c in td.get("containerDefinitions", [])):
            ecs.deregister_task_definition(taskDefinition=td["taskDefinitionArn"])
            retired.append(f"{td['family']}:{td['revision']}")
    topic = _topic(env)
    events = env.client("events")
    events.put_rule(
        Name=RULE_NAME,
        EventPattern=json.dumps(PATTERN),
        State="ENABLED",
        Description="ECR and Inspector scan findings to the security team",
    )
    events.put_targets(Rule=RULE_NAME, Targets=[{"Id": TARGET_ID, "Arn": topic}])
    return [
        f"docker build -t {_image_uri(env, REBUILT_TAG)} .   # on the patched base image",
        f"docker push {_image_uri(env, REBUILT_TAG)}   # {digest}; scanned on push: no CRITICAL or HIGH",
        f"aws ecs register-task-definition --family {TASK_FAMILY} ...   # {new_task}",
        *(f"aws ecs deregister-task-definition --task-definition {r}" for r in retired),
        f"aws sns create-topic --name {TOPIC}   # {topic}; policy lets events.amazonaws.com publish",
        f"aws events put-rule --name {RULE_NAME} --event-pattern '{json.dumps(PATTERN)}'",
        f"aws events put-targets --rule {RULE_NAME} --targets Id={TARGET_ID},Arn={topic}",
    ]


def teardown(env: LabEnv) -> None:
    ecr, ecs, sns = env.client("ecr"), env.client("ecs"), env.client("sns")
    _remove_routing(env)
    with suppress(sns.exceptions.ClientError):
        sns.delete_topic(TopicArn=f"arn:aws:sns:{env.region}:{env.account}:{TOPIC}")
    with suppress(ecs.exceptions.ClientError):
        for td in _active_task_definitions(env, TASK_FAMILY):
            ecs.deregister_task_definition(taskDefinition=td["taskDefinitionArn"])
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_repository(repositoryName=REPO, force=True)
    with suppress(ecr.exceptions.ClientError):
        current = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
        rules = _scan_rules_without(current.get("rules") or [])
        # Only our filter was there: back to the registry's default, BASIC with no rules.
        scan_type = current.get("scanType", "BASIC") if rules else "BASIC"
        ecr.put_registry_scanning_configuration(scanType=scan_type, rules=rules)
