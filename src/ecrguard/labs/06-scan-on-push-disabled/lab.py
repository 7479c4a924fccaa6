"""Lab 06: repositories no scanning rule covers, one of them showing scanOnPush=true."""

from __future__ import annotations

import json
import uuid
from contextlib import suppress
from typing import Any, NamedTuple

from ecrguard.labs.base import LabEnv, Outcome, publish_findings, push_image, scan_result

NUMBER = "06"
RULES = ("EG010",)
PREFIX = "lab06-"
# The registry scanning configuration is per region: seeded beside other labs,
# this lab gets a region of its own (see labs.runner.seed_all).
REGISTRY_SCOPED = True
# The rule was written for production repositories, named as a naming
# standard said they would be.
PROD_FILTER = "lab06-prod-*"
EVERY_REPOSITORY = "*"


class Repo(NamedTuple):
    name: str
    scan_on_push: bool  # the legacy per-repository flag
    note: str


REPOS = (
    Repo("lab06-prod-api", False, "the registry rule matches its name"),
    # The trap: the repository says scanOnPush=true, but registry rules exist,
    # so ECR ignores the flag.
    Repo("lab06-payments-api", True, "the repository says scanOnPush=true"),
    Repo("lab06-reports-worker", False, "no rule, no flag"),
)
# What each pushed image carries (the emulator's vulnerability data for it).
CVE = {
    "name": "CVE-2024-3094",
    "severity": "CRITICAL",
    "package": "xz-utils",
    "version": "5.6.0-0.2",
    "fixed_in": "5.6.1+really5.4.5-1",
    "description": "Malicious code in the liblzma build of xz-utils 5.6.0 and 5.6.1.",
    "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
}
# How long to wait for a real scan to appear (AWS only; the emulator scans at once).
SCAN_WAIT = 60.0


def _registry(env: LabEnv) -> str:
    return f"{env.account}.dkr.ecr.{env.region}.amazonaws.com"


def _rules(pattern: str) -> list[dict[str, Any]]:
    return [
        {
            "scanFrequency": "SCAN_ON_PUSH",
            "repositoryFilters": [{"filter": pattern, "filterType": "WILDCARD"}],
        }
    ]


def _rules_json(rules: list[dict[str, Any]]) -> str:
    return "'" + json.dumps(rules, separators=(",", ":")) + "'"


def _rules_text(config: dict[str, Any]) -> str:
    rules = [
        f"{r['scanFrequency']} on {', '.join(f['filter'] for f in r.get('repositoryFilters') or ())}"
        for r in config.get("rules") or ()
    ]
    return "; ".join(rules) or "no rules"


def setup(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    commands = []
    for repo in REPOS:
        scanning = {"scanOnPush": repo.scan_on_push}
        try:
            ecr.create_repository(
                repositoryName=repo.name,
                imageTagMutability="IMMUTABLE",
                imageScanningConfiguration=scanning,
            )
        except ecr.exceptions.RepositoryAlreadyExistsException:
            ecr.put_image_scanning_configuration(
                repositoryName=repo.name, imageScanningConfiguration=scanning
            )
        commands.append(
            f"aws ecr create-repository --repository-name {repo.name} "
            f"--image-tag-mutability IMMUTABLE "
            f"--image-scanning-configuration scanOnPush={str(repo.scan_on_push).lower()}"
        )
    # The registry is shared: whatever an earlier lab left, this lab's state is
    # one scan-on-push rule that covers the production naming scheme only.
    ecr.put_registry_scanning_configuration(scanType="BASIC", rules=_rules(PROD_FILTER))
    commands.append(
        f"aws ecr put-registry-scanning-configuration --scan-type BASIC --rules {_rules_json(_rules(PROD_FILTER))}"
        "   # from now on ECR ignores every repository's scanOnPush flag"
    )
    return commands


def exploit(env: LabEnv) -> Outcome:
    ecr = env.client("ecr")
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    parts = [f"registry scan type {config.get('scanType') or 'BASIC'} ({_rules_text(config)})"]
    commands = []
    unscanned = []
    for repo in REPOS:
        tag = f"git-{uuid.uuid4().hex[:7]}"
        # Every build carries the same backdoored xz-utils.
        publish_findings(env, {f"{repo.name}:{tag}": [CVE]})
        push_image(env, repo.name, tag, f"{repo.name} {tag}: debian 12, xz-utils 5.6.0-0.2")
        scan = scan_result(env, repo.name, tag, SCAN_WAIT)
        label = f"{repo.name}:{tag} ({repo.note})"
        if scan is None:
            unscanned.append(repo.name)
            parts.append(
                f"{label}: no scan result exists (ScanNotFoundException); "
                f"its {CVE['name']} ({CVE['severity']}) is known to nobody"
            )
        else:
            status, names = scan
            parts.append(f"{label}: scan {status}, reports {', '.join(names) or 'nothing'}")
        commands += [
            f"docker push {_registry(env)}/{repo.name}:{tag}",
            f"aws ecr describe-image-scan-findings --repository-name {repo.name} "
            f"--image-id imageTag={tag}"
            + ("   # ScanNotFoundException" if scan is None else f"   # {scan[0]}"),
        ]
    return Outcome(bool(unscanned), "; ".join(parts), commands)


def fix(env: LabEnv) -> list[str]:
    ecr = env.client("ecr")
    config = ecr.get_registry_scanning_configuration()["scanningConfiguration"]
    scan_type = config.get("scanType") or "BASIC"
    # The registry is shared: an enhanced registry's continuous rule (lab 05's
    # fix) stays, and wins where both rules match; only scan-on-push is widened.
    keep = [
        rule
        for rule in config.get("rules") or ()
        if scan_type == "ENHANCED" and rule.get("scanFrequency") == "CONTINUOUS_SCAN"
    ]
    rules = keep + _rules(EVERY_REPOSITORY)
    ecr.put_registry_scanning_configuration(scanType=scan_type, rules=rules)
    return [
        f"aws ecr put-registry-scanning-configuration --scan-type {scan_type} "
        f"--rules {_rules_json(rules)}"
        "   # every repository, whatever its name; the per-repository flags no longer matter"
        + ("   (the registry's continuous rule is kept)" if keep else ""),
    ]


def teardown(env: LabEnv) -> None:
    ecr = env.client("ecr")
    for repo in REPOS:
        with suppress(ecr.exceptions.ClientError):
            ecr.delete_repository(repositoryName=repo.name, force=True)
    with suppress(ecr.exceptions.ClientError):
        ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])
