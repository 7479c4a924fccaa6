"""Lab 07: Amazon Inspector does not scan ECR, and would stop re-scanning after 14 days anyway."""

from __future__ import annotations

import uuid
from contextlib import suppress

from ecrguard.labs.base import LabEnv, Outcome, publish_findings, push_image, scan_result
from ecrguard.model import Finding
from ecrguard.rules.scanning import INSPECTOR_ECR

NUMBER = "07"
# EG011 judges Inspector. Terraform has no resource for Inspector's re-scan
# durations, and an enabler without "ECR" says nothing about ECR, so a
# Terraform file can pass or skip EG011 but never fail it. EG009 is the half
# that Terraform does show: enhanced scanning *is* Inspector scanning ECR (AWS
# turns one on with the other), and a registry left at BASIC is the sign in
# code that Inspector is not scanning the images.
RULES = ("EG011", "EG009")
PREFIX = "lab07-"
# The registry scanning configuration is per region: seeded beside other labs,
# this lab gets a region of its own (see labs.runner.seed_all).
REGISTRY_SCOPED = True
REPO = "lab07-orders-api"
# Inspector's defaults for an account that never changed them.
SHORT = {
    "rescanDuration": "DAYS_14",
    "pullDateRescanDuration": "DAYS_14",
    "pullDateRescanMode": "LAST_IN_USE_AT",
}
LONG = {
    "rescanDuration": "LIFETIME",
    "pullDateRescanDuration": "DAYS_180",
    "pullDateRescanMode": "LAST_IN_USE_AT",
}
DAYS = {
    "DAYS_3": 3,
    "DAYS_7": 7,
    "DAYS_14": 14,
    "DAYS_30": 30,
    "DAYS_60": 60,
    "DAYS_90": 90,
    "DAYS_180": 180,
}
MIN_DAYS = int(INSPECTOR_ECR.params["min_rescan_days"])
CONTINUOUS_ALL = [
    {
        "scanFrequency": "CONTINUOUS_SCAN",
        "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}],
    }
]
# Published after the build was pushed, for a Go module the service links.
LATE_CVE = {
    "name": "CVE-2024-45337",
    "severity": "CRITICAL",
    "package": "golang.org/x/crypto",
    "version": "0.30.0",
    "fixed_in": "0.31.0",
    "description": "Misuse of ServerConfig.PublicKeyCallback may cause an authorization bypass.",
    "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-45337",
}
CONTENT = "orders-api {tag}: distroless base, Go 1.23, golang.org/x/crypto 0.30.0"
# How long to wait for a real scan to settle (AWS only; the emulator scans at once).
SCAN_WAIT = 120.0


def owns(env: LabEnv, finding: Finding) -> bool:
    """EG011 and EG009 judge the registry: their resource names it, not a lab resource."""
    parts = finding.resource.split(":")
    registry = len(parts) >= 6 and parts[5].startswith("registry/")
    return (registry and parts[3:5] == [env.region, env.account]) or PREFIX in finding.resource


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _ecr_status(env: LabEnv) -> str:
    answer = env.client("inspector2").batch_get_account_status(accountIds=[env.account])
    for account in answer.get("accounts") or ():
        if account.get("accountId") == env.account:
            return str(((account.get("resourceState") or {}).get("ecr") or {}).get("status"))
    return "UNKNOWN"


def _durations(env: LabEnv) -> dict[str, str]:
    state = env.client("inspector2").get_configuration()["ecrConfiguration"]
    return {k: str(v) for k, v in state["rescanDurationState"].items() if k in SHORT}


def _short(durations: dict[str, str]) -> list[str]:
    return [
        f"{label} {durations[key]}"
        for key, label in (
            ("rescanDuration", "after push"),
            ("pullDateRescanDuration", "after use"),
        )
        if DAYS.get(durations.get(key, ""), 10**6) < MIN_DAYS
    ]


def _found(scan: tuple[str, list[str]] | None) -> str:
    if scan is None:
        return "no scan result exists (ScanNotFoundException)"
    status, names = scan
    return f"scan {status}, reports {', '.join(names) or 'nothing'}"


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    inspector = env.client("inspector2")
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    commands = [
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability IMMUTABLE",
    ]
    # Shared state: an earlier lab (or an earlier fix) may have turned Inspector on.
    if _ecr_status(env) in ("ENABLED", "ENABLING"):
        inspector.disable(accountIds=[env.account], resourceTypes=["ECR"])
        commands.append(f"aws inspector2 disable --account-ids {env.account} --resource-types ECR")
    else:
        commands.append("# Inspector's ECR scanning: never enabled in this account and region")
    # Inspector's defaults, waiting for the day someone enables it.
    inspector.update_configuration(ecrConfiguration=SHORT)
    commands.append(
        "aws inspector2 update-configuration --ecr-configuration "
        "rescanDuration=DAYS_14,pullDateRescanDuration=DAYS_14,pullDateRescanMode=LAST_IN_USE_AT"
        "   # the defaults"
    )
    # Without Inspector, ECR scans with its basic scanner (AWS switches the
    # registry back to BASIC when Inspector's ECR scanning is disabled).
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    if (config.get("scanType") or "BASIC") != "BASIC":
        keep = [r for r in config.get("rules") or () if r.get("scanFrequency") == "SCAN_ON_PUSH"]
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=keep)
        commands.append("aws ecr put-registry-scanning-configuration --scan-type BASIC ...")
    return commands


def exploit(env: LabEnv) -> Outcome:
    status = _ecr_status(env)
    durations = _durations(env)
    short = _short(durations)
    tag = f"git-{uuid.uuid4().hex[:7]}"
    digest = push_image(env, REPO, tag, CONTENT.format(tag=tag))
    at_push = scan_result(env, REPO, tag, SCAN_WAIT)
    # Days later a CVE lands for a Go module the image ships.
    publish_findings(env, {digest: [LATE_CVE]})
    later = scan_result(env, REPO, tag, SCAN_WAIT)
    if env.emulated:
        refreshed = later is not None and LATE_CVE["name"] in later[1]
    else:
        refreshed = later is not None and later[0] == "ACTIVE"
    push_days = durations.get("rescanDuration", "?")
    use_days = durations.get("pullDateRescanDuration", "?")
    parts = [
        f"inspector2 ECR scanning for {env.account} in {env.region}: {status}",
        f"ECR re-scan durations read back from inspector2 GetConfiguration: {push_days} after "
        f"push, {use_days} after last use ({durations.get('pullDateRescanMode', '?')})"
        + (
            f"; shorter than {MIN_DAYS} days ({', '.join(short)}): Inspector stops re-evaluating "
            "an image once both windows have passed, so a build deployed for months is no "
            "longer checked against new CVEs"
            if short
            else ""
        ),
        f"pushed {REPO}:{tag} ({digest[:19]}...): {_found(at_push)}",
        f"after {LATE_CVE['name']} ({LATE_CVE['package']} {LATE_CVE['version']}, "
        f"{LATE_CVE['severity']}) was published: {_found(later)}"
        + (": the image was re-evaluated" if refreshed else ": nobody is told"),
    ]
    worked = status != "ENABLED" or bool(short) or not refreshed
    return Outcome(
        worked,
        "; ".join(parts),
        [
            f"aws inspector2 batch-get-account-status --account-ids {env.account}"
            f"   # resourceState.ecr.status = {status}",
            f"aws inspector2 get-configuration   # rescanDuration {push_days}, "
            f"pullDateRescanDuration {use_days}",
            f"docker push {_registry(env)}/{REPO}:{tag}",
            f"# ...{LATE_CVE['name']} is published for {LATE_CVE['package']} {LATE_CVE['version']}...",
            f"aws ecr describe-image-scan-findings --repository-name {REPO} --image-id imageTag={tag}",
        ],
    )


def fix(env: LabEnv) -> list[str]:
    inspector = env.client("inspector2")
    inspector.enable(accountIds=[env.account], resourceTypes=["ECR"])
    inspector.update_configuration(ecrConfiguration=LONG)
    # What AWS does by itself when Inspector's ECR scanning is enabled (enhanced,
    # continuous, every repository); the emulator does not couple the two.
    env.client("ecr").put_registry_scanning_configuration(scanType="ENHANCED", rules=CONTINUOUS_ALL)
    return [
        f"aws inspector2 enable --account-ids {env.account} --resource-types ECR",
        "aws inspector2 update-configuration --ecr-configuration "
        "rescanDuration=LIFETIME,pullDateRescanDuration=DAYS_180,pullDateRescanMode=LAST_IN_USE_AT",
        "aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules "
        '\'[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]\''
        "   # AWS sets this when Inspector's ECR scanning is enabled; stated for the record",
    ]


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    inspector = env.client("inspector2")
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_repository(repositoryName=REPO, force=True)
    with suppress(inspector.exceptions.ClientError):
        inspector.update_configuration(ecrConfiguration=SHORT)
    with suppress(inspector.exceptions.ClientError):
        inspector.disable(accountIds=[env.account], resourceTypes=["ECR"])
    with suppress(ecr.exceptions.ClientError):
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
