"""Lab 05: basic scanning looks once, at push; a CVE published later is never reported."""

from __future__ import annotations

import uuid
from contextlib import suppress
from typing import Any

from ecrguard.labs.base import LabEnv, Outcome, publish_findings, push_image, scan_result
from ecrguard.model import Finding

NUMBER = "05"
RULES = ("EG009",)
PREFIX = "lab05-"
# The registry scanning configuration is per region: seeded beside other labs,
# this lab gets a region of its own (see labs.runner.seed_all).
REGISTRY_SCOPED = True
REPO = "lab05-checkout-web"
EVERY_REPOSITORY = [{"filter": "*", "filterType": "WILDCARD"}]
SCAN_ON_PUSH_ALL = [{"scanFrequency": "SCAN_ON_PUSH", "repositoryFilters": EVERY_REPOSITORY}]
CONTINUOUS_ALL = [{"scanFrequency": "CONTINUOUS_SCAN", "repositoryFilters": EVERY_REPOSITORY}]

# In the image's OS layer, and already in the vulnerability database when it is pushed.
OS_CVE = {
    "name": "CVE-2023-4911",
    "severity": "HIGH",
    "package": "glibc",
    "version": "2.36-9+deb12u1",
    "fixed_in": "2.36-9+deb12u3",
    "description": "Buffer overflow in the dynamic loader's GLIBC_TUNABLES handling.",
    "uri": "https://nvd.nist.gov/vuln/detail/CVE-2023-4911",
}
# In a Python package of the application layer; published after the push.
LATE_CVE = {
    "name": "CVE-2024-6345",
    "severity": "HIGH",
    "package": "setuptools",
    "version": "68.0.0",
    "fixed_in": "70.0.0",
    "description": "Code injection through setuptools' package_index download functions.",
    "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-6345",
}
CONTENT = "checkout-web {tag}: debian 12 (glibc 2.36-9+deb12u1), python 3.11, setuptools 68.0.0"
# How long to wait for a real scan to settle (AWS only; the emulator scans at once).
SCAN_WAIT = 120.0


def owns(env: LabEnv, finding: Finding) -> bool:
    """EG009 judges the registry: its resource names the registry, not a lab resource."""
    parts = finding.resource.split(":")
    registry = len(parts) >= 6 and parts[5].startswith("registry/")
    return (registry and parts[3:5] == [env.region, env.account]) or PREFIX in finding.resource


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _rules_text(config: dict[str, Any]) -> str:
    rules = [
        f"{r['scanFrequency']} on {', '.join(f['filter'] for f in r.get('repositoryFilters') or ())}"
        for r in config.get("rules") or ()
    ]
    return "; ".join(rules) or "no rules"


def _found(scan: tuple[str, list[str]] | None) -> str:
    if scan is None:
        return "no scan result exists (ScanNotFoundException)"
    status, names = scan
    return f"scan {status}, reports {', '.join(names) or 'nothing'}"


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.RepositoryAlreadyExistsException):
        ecr.create_repository(repositoryName=REPO, imageTagMutability="IMMUTABLE")
    # The registry is shared: whatever an earlier lab left, this lab's state is
    # basic scanning with a scan-on-push rule for every repository.
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=SCAN_ON_PUSH_ALL)
    return [
        f"aws ecr create-repository --repository-name {REPO} --image-tag-mutability IMMUTABLE",
        "aws ecr put-registry-scanning-configuration --scan-type BASIC --rules "
        '\'[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]\''
        "   # every push is scanned, by basic scanning: OS packages, once",
    ]


def exploit(env: LabEnv) -> Outcome:
    ecr = env.client("ecr")
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    scan_type = config.get("scanType") or "BASIC"
    tag = f"git-{uuid.uuid4().hex[:7]}"
    # The OS CVE is public before the build: any scan at push time can know it.
    publish_findings(env, {f"{REPO}:{tag}": [OS_CVE]})
    digest = push_image(env, REPO, tag, CONTENT.format(tag=tag))
    at_push = scan_result(env, REPO, tag, SCAN_WAIT)
    # A week later a CVE lands for a Python package the image ships.
    publish_findings(env, {digest: [LATE_CVE]})
    later = scan_result(env, REPO, tag, SCAN_WAIT)
    late = f"{LATE_CVE['name']} ({LATE_CVE['package']} {LATE_CVE['version']}, a Python package)"
    if env.emulated:
        reported = later is not None and LATE_CVE["name"] in later[1]
    else:
        # No CVE can be published on demand in AWS: only a continuous scan
        # (status ACTIVE) ever reports what is published after the push.
        reported = later is not None and later[0] == "ACTIVE"
    head = (
        f"registry scan type {scan_type} ({_rules_text(config)}); pushed {REPO}:{tag} "
        f"({digest[:19]}...): at push {_found(at_push)}"
    )
    if reported:
        detail = f"{head}; after {late} was published the image is re-evaluated: {_found(later)}"
    else:
        detail = f"{head}; after {late} was published: {_found(later)}. Nobody learns of it: " + (
            "a basic scan runs once, at push, and is never repeated (and in AWS basic "
            "scanning does not read Python packages at all)"
            if scan_type == "BASIC"
            else "the image is not continuously scanned"
        )
    image = f"{_registry(env)}/{REPO}:{tag}"
    return Outcome(
        not reported,
        detail,
        [
            f"docker push {image}",
            f"aws ecr describe-image-scan-findings --repository-name {REPO} --image-id imageTag={tag}",
            f"# ...{LATE_CVE['name']} is published for {LATE_CVE['package']} {LATE_CVE['version']}...",
            f"aws ecr describe-image-scan-findings --repository-name {REPO} --image-id imageTag={tag}"
            f"   # {'reports it' if reported else 'still silent about it'}",
        ],
    )


def fix(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=CONTINUOUS_ALL)
    # AWS activates Inspector's ECR scanning along with enhanced scanning; say it
    # explicitly (the emulator does not couple the two).
    env.client("inspector2").enable(accountIds=[env.account], resourceTypes=["ECR"])
    return [
        "aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules "
        '\'[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"*","filterType":"WILDCARD"}]}]\'',
        f"aws inspector2 enable --account-ids {env.account} --resource-types ECR"
        "   # enhanced scanning is Amazon Inspector: OS and language packages, re-evaluated "
        "whenever a CVE is published",
    ]


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    with suppress(ecr.exceptions.ClientError):
        ecr.delete_repository(repositoryName=REPO, force=True)
    with suppress(ecr.exceptions.ClientError):
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
    inspector = env.client("inspector2")
    with suppress(inspector.exceptions.ClientError):
        inspector.disable(accountIds=[env.account], resourceTypes=["ECR"])
