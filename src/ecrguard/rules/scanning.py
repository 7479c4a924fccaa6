"""Image scanning: registry scan type, scan coverage, Inspector and findings (labs 05-08)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from ecrguard.model import EventRule, Region, Registry, Repository, Severity
from ecrguard.model.filters import scan_filter_matches
from ecrguard.rules.base import (
    Context,
    Docs,
    References,
    Remediation,
    Result,
    Rule,
    failed,
    fsbp,
    passed,
    unknown,
    unresolved,
)

# ---- EG009 basic vs enhanced --------------------------------------------------------


def _check_scan_type(reg: Registry, ctx: Context) -> Iterator[Result]:
    if not reg.scan_type.resolved:
        yield unresolved(reg.scan_type, "the registry scan type")
    elif reg.scan_type.value == "ENHANCED":
        yield passed("the registry uses enhanced scanning (Amazon Inspector)", reg.scan_type.origin)
    else:
        yield failed(
            f"the registry scan type is {reg.scan_type.value}: images are scanned for OS packages "
            "only, once, and never again when new CVEs appear",
            reg.scan_type.origin,
        )


BASIC_SCANNING = Rule(
    id="EG009",
    title="Registry uses basic scanning instead of enhanced (Inspector) scanning",
    severity=Severity.MEDIUM,
    labs=("05",),
    targets=(Registry,),
    check=_check_scan_type,
    docs=Docs(
        what="Fails when the private registry's scanning configuration has scan type BASIC.",
        why=(
            "Basic scanning looks at operating-system packages only, and only when a scan runs. "
            "Enhanced scanning (Amazon Inspector) also covers language packages (pip, npm, Maven, "
            "Go...) and re-evaluates images continuously as new vulnerabilities are published, so "
            "an image that was clean on push is flagged when a CVE lands next month."
        ),
        example=(
            "Fails: aws ecr put-registry-scanning-configuration --scan-type BASIC\n"
            "Passes: aws ecr put-registry-scanning-configuration --scan-type ENHANCED "
            '--rules \'[{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":'
            '[{"filter":"*","filterType":"WILDCARD"}]}]\''
        ),
        fix="Switch the registry to ENHANCED with a CONTINUOUS_SCAN rule for every repository.",
    ),
    remediation=Remediation(
        cli=(
            "aws ecr put-registry-scanning-configuration --region {region} --scan-type ENHANCED "
            '--rules \'[{{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":'
            '[{{"filter":"*","filterType":"WILDCARD"}}]}}]\''
        ),
        terraform=(
            'resource "aws_ecr_registry_scanning_configuration" "this" {\n'
            '  scan_type = "ENHANCED"\n'
            "  rule {\n"
            '    scan_frequency = "CONTINUOUS_SCAN"\n'
            "    repository_filter {\n"
            '      filter      = "*"\n'
            '      filter_type = "WILDCARD"\n'
            "    }\n  }\n}"
        ),
    ),
    references=References(
        prowler=("ecr_registry_enhanced_scanning_enabled",),
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning.html",),
    ),
    permissions=("ecr:GetRegistryScanningConfiguration",),
)


# ---- EG010 scan coverage ------------------------------------------------------------


@dataclass(frozen=True)
class Coverage:
    covered: bool | None  # None: cannot tell
    why: str


_SCANNING = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")


def coverage(repo: Repository, registry: Registry | None) -> Coverage:
    """Whether a push to this repository is scanned, decided as ECR decides it.

    Registry scanning rules win; each WILDCARD filter is matched against the
    repository's name and a MANUAL rule scans nothing. Only with BASIC scanning
    and no registry rules does the legacy per-repository scanOnPush apply.
    """
    legacy = registry is None
    if registry is not None:
        if not registry.scan_type.resolved:
            return Coverage(
                None, f"the registry scan type is unresolved ({registry.scan_type.reason})"
            )
        if not registry.scanning_rules.resolved:
            return Coverage(
                None,
                f"the registry scanning rules are unresolved ({registry.scanning_rules.reason})",
            )
        legacy = registry.scan_type.value == "BASIC" and not registry.scanning_rules.value
    if legacy:
        flag = repo.scan_on_push
        if not flag.resolved:
            return Coverage(None, f"scanOnPush is unresolved ({flag.reason})")
        if flag.value:
            return Coverage(True, "the repository's own scanOnPush is on (no registry rules)")
        return Coverage(
            False, "no registry scanning rule exists and the repository's scanOnPush is off"
        )
    assert registry is not None
    if not repo.name.resolved or not repo.name.value:
        return Coverage(None, f"the repository name is unresolved ({repo.name.reason})")
    name = repo.name.value
    manual = False
    for rule in registry.scanning_rules.value or ():
        if any(scan_filter_matches(f, name) for f in rule.filters):
            if rule.frequency in _SCANNING:
                return Coverage(True, f"registry rule {rule.frequency} matches {name!r}")
            manual = True
    scan = registry.scan_type.value
    if manual:
        return Coverage(
            False,
            f"only a MANUAL registry rule ({scan}) matches {name!r}, which scans nothing by itself",
        )
    return Coverage(
        False,
        f"no {scan} registry scanning rule matches {name!r} (registry rules override scanOnPush)",
    )


def _check_coverage(repo: Repository, ctx: Context) -> Iterator[Result]:
    cov = coverage(repo, ctx.registry_for(repo))
    name = repo.name.value if repo.name.resolved else repo.id
    if cov.covered is None:
        yield unknown(f"cannot tell whether pushes to {name} are scanned: {cov.why}")
    elif cov.covered:
        yield passed(f"pushes to {name} are scanned: {cov.why}", repo.scan_on_push.origin)
    else:
        yield failed(f"pushes to {name} are never scanned: {cov.why}", repo.scan_on_push.origin)


SCAN_COVERAGE = Rule(
    id="EG010",
    title="Repository is covered by no scan-on-push or continuous scanning rule",
    severity=Severity.HIGH,
    labs=("06", "05"),
    targets=(Repository,),
    check=_check_coverage,
    docs=Docs(
        what=(
            "Decides, as ECR does, whether an image pushed to each repository gets scanned: the "
            "registry's scanning rules are matched against the real repository name (WILDCARD "
            "filters), a MANUAL rule counts as no scan, and only when the registry is BASIC with "
            "no rules does the legacy per-repository scanOnPush flag apply."
        ),
        why=(
            "An image nobody scanned is an image nobody knows is vulnerable. The per-repository "
            "flag is misleading: once any registry rule exists it is ignored, so a repository "
            "showing scanOnPush=true can be unscanned."
        ),
        example=(
            "Fails: registry rules SCAN_ON_PUSH for 'prod-*' and a repository named 'payments'.\n"
            "Passes: a SCAN_ON_PUSH or CONTINUOUS_SCAN rule with filter '*', or (BASIC, no rules) "
            "a repository with scanOnPush=true."
        ),
        fix="Add a registry scanning rule whose filter covers every repository (filter '*').",
    ),
    remediation=Remediation(
        cli=(
            "aws ecr put-registry-scanning-configuration --region {region} --scan-type BASIC "
            '--rules \'[{{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":'
            '[{{"filter":"*","filterType":"WILDCARD"}}]}}]\''
        ),
        terraform=(
            'resource "aws_ecr_registry_scanning_configuration" "this" {\n'
            '  scan_type = "BASIC"\n'
            "  rule {\n"
            '    scan_frequency = "SCAN_ON_PUSH"\n'
            "    repository_filter {\n"
            '      filter      = "*"\n'
            '      filter_type = "WILDCARD"\n'
            "    }\n  }\n}"
        ),
    ),
    references=References(
        prowler=(
            "ecr_registry_scan_images_on_push_enabled",
            "ecr_repositories_scan_images_on_push_enabled",
        ),
        checkov=("CKV_AWS_163",),
        trivy=("AVD-AWS-0030",),
        fsbp=(fsbp("ECR.1"),),
        docs=(
            "https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning-filters.html",
        ),
    ),
    permissions=("ecr:GetRegistryScanningConfiguration", "ecr:DescribeRepositories"),
)


# ---- EG011 Inspector ------------------------------------------------------------------

_DAYS = {
    "DAYS_14": 14,
    "DAYS_30": 30,
    "DAYS_60": 60,
    "DAYS_90": 90,
    "DAYS_180": 180,
    "LIFETIME": 10**6,
}


def _check_inspector(reg: Registry, ctx: Context) -> Iterator[Result]:
    if reg.inspector is None:
        return
    repos = sum(
        1 for r in ctx.inventory.repositories if r.account == reg.account and r.region == reg.region
    )
    if not repos:
        return
    if not reg.inspector.resolved:
        yield unresolved(reg.inspector, "the Inspector status")
        return
    cfg = reg.inspector.value
    assert cfg is not None
    if cfg.ecr_status != "ENABLED":
        yield failed(
            f"Amazon Inspector scanning for ECR is {cfg.ecr_status} in a region with {repos} "
            "repositories",
            reg.inspector.origin,
        )
        return
    minimum = int(ctx.param(INSPECTOR_ECR, "min_rescan_days"))
    short = [
        f"{label} re-scan {value}"
        for label, value in (("push-date", cfg.push_rescan), ("pull-date", cfg.pull_rescan))
        if value is not None and _DAYS.get(value, 10**6) < minimum
    ]
    if short:
        yield failed(
            f"Inspector stops re-scanning images early ({', '.join(short)}; want at least {minimum} days)",
            reg.inspector.origin,
        )
    else:
        yield passed("Inspector scans ECR images and keeps re-scanning them", reg.inspector.origin)


INSPECTOR_ECR = Rule(
    id="EG011",
    title="Amazon Inspector ECR scanning is off, or stops re-scanning images early",
    severity=Severity.MEDIUM,
    labs=("07",),
    targets=(Registry,),
    check=_check_inspector,
    params={"min_rescan_days": 90},
    docs=Docs(
        what=(
            "In regions that hold repositories, fails when Inspector's ECR scanning is not ENABLED, "
            "or when its ECR re-scan durations (after push, and after last pull) are shorter than "
            "min_rescan_days."
        ),
        why=(
            "Enhanced scanning is Inspector: with it off, the registry's ENHANCED setting scans "
            "nothing. A short re-scan duration silently stops watching images that are still "
            "deployed, exactly the old ones most likely to have new CVEs."
        ),
        example=(
            "Fails: inspector2 ECR status DISABLED, or rescanDuration DAYS_14.\n"
            "Passes: ECR status ENABLED with rescanDuration LIFETIME and pullDateRescanDuration DAYS_180."
        ),
        fix="Enable Inspector for ECR and set the re-scan durations to LIFETIME / DAYS_180.",
    ),
    remediation=Remediation(
        cli=(
            "aws inspector2 enable --resource-types ECR --region {region}\n"
            "aws inspector2 update-configuration --region {region} --ecr-configuration "
            "rescanDuration=LIFETIME,pullDateRescanDuration=DAYS_180"
        ),
        terraform=(
            'resource "aws_inspector2_enabler" "ecr" {\n'
            "  account_ids    = [data.aws_caller_identity.current.account_id]\n"
            '  resource_types = ["ECR"]\n}'
        ),
    ),
    references=References(
        prowler=("inspector2_is_enabled",),
        docs=("https://docs.aws.amazon.com/inspector/latest/user/scanning-ecr.html",),
    ),
    permissions=("inspector2:BatchGetAccountStatus", "inspector2:GetConfiguration"),
)


# ---- EG012 findings older than the SLA ----------------------------------------------------


def _age_days(when: str | None, now: datetime) -> float | None:
    if not when:
        return None
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=now.tzinfo)
    return (now - moment).total_seconds() / 86400


def _check_findings_sla(repo: Repository, ctx: Context) -> Iterator[Result]:
    if repo.newest_image is None:
        return  # not collected (IaC)
    if not repo.newest_image.resolved:
        yield unresolved(repo.newest_image, "the newest image")
        return
    image = repo.newest_image.value
    name = repo.name.value if repo.name.resolved else repo.id
    if image is None:
        yield passed(f"{name} holds no images")
        return
    sla = float(ctx.param(FINDINGS_SLA, "sla_days"))
    label = f"{name}@{image.digest[:19]}" + (f" ({', '.join(image.tags)})" if image.tags else "")
    counts = dict(image.severity_counts)
    serious = counts.get("CRITICAL", 0) + counts.get("HIGH", 0)
    if image.scan_status is None:
        yield unknown(
            f"the newest image {label} has never been scanned, so its findings are unknown"
        )
        return
    if not serious:
        yield passed(f"the newest image {label} has no CRITICAL or HIGH findings")
        return
    overdue = []
    for f in image.findings:
        if f.severity not in ("CRITICAL", "HIGH"):
            continue
        age = _age_days(f.first_observed or image.scan_completed_at, ctx.now)
        if age is not None and age > sla:
            overdue.append(f"{f.name} ({f.severity}, {int(age)} days)")
    if not image.findings:
        age = _age_days(image.scan_completed_at, ctx.now)
        if age is not None and age > sla:
            overdue.append(f"{serious} CRITICAL/HIGH findings known for {int(age)} days")
    if overdue:
        shown = ", ".join(overdue[:5]) + (
            f" and {len(overdue) - 5} more" if len(overdue) > 5 else ""
        )
        yield failed(
            f"the newest image {label} carries findings older than the {sla:g}-day SLA: {shown}"
        )
    else:
        yield passed(
            f"the newest image {label} has {serious} CRITICAL/HIGH findings, all within the {sla:g}-day SLA"
        )


FINDINGS_SLA = Rule(
    id="EG012",
    title="Newest image carries CRITICAL or HIGH findings older than the remediation SLA",
    severity=Severity.HIGH,
    labs=("08",),
    targets=(Repository,),
    check=_check_findings_sla,
    params={"sla_days": 30},
    docs=Docs(
        what=(
            "Looks at the newest image of each repository and fails when it carries CRITICAL or HIGH "
            "vulnerability findings first observed more than sla_days ago (basic scans, which have no "
            "first-observed date, count from the scan). An image never scanned is UNKNOWN."
        ),
        why=(
            "Scanning without fixing is theatre. The newest image is what the next deployment "
            "ships; if its critical findings have been known for months, the remediation workflow "
            "is not working."
        ),
        example=(
            "Fails: newest image with CVE-2024-3094 (CRITICAL) first observed 45 days ago, SLA 30.\n"
            "Passes: the same CVE observed 3 days ago, or a rebuilt image without it."
        ),
        fix="Rebuild the image on a patched base, push it, and redeploy; track findings to closure.",
    ),
    remediation=Remediation(
        cli=(
            "aws ecr describe-image-scan-findings --repository-name {name} --region {region} "
            "--image-id imageTag=TAG\n"
            "# rebuild on a patched base image, push, redeploy"
        ),
        terraform="# not a configuration change: rebuild and push the image from your pipeline",
    ),
    references=References(
        prowler=("ecr_repositories_scan_vulnerabilities_in_latest_image",),
        docs=("https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-scanning.html",),
    ),
    permissions=("ecr:DescribeImages", "ecr:DescribeImageScanFindings"),
)


# ---- EG013 findings routed somewhere ----------------------------------------------------------

_FINDING_EVENTS = {
    "aws.ecr": ("ECR Image Scan",),
    "aws.inspector2": ("Inspector2 Finding", "Inspector2 Scan"),
}


def routes_findings(rule: EventRule) -> bool | None:
    """Whether an enabled rule with a target receives ECR or Inspector scan results."""
    if not (rule.pattern.resolved and rule.state.resolved and rule.targets.resolved):
        return None
    pattern = rule.pattern.value or {}
    sources = pattern.get("source", [])
    sources = [sources] if isinstance(sources, str) else sources
    detail_types = pattern.get("detail-type")
    detail_types = [detail_types] if isinstance(detail_types, str) else detail_types
    hit = False
    for src in sources:
        if not isinstance(src, str) or src not in _FINDING_EVENTS:
            continue
        if detail_types is None or any(
            isinstance(d, str) and d in _FINDING_EVENTS[src] for d in detail_types
        ):
            hit = True
    return hit and rule.state.value == "ENABLED" and bool(rule.targets.value)


def _check_routing(region: Region, ctx: Context) -> Iterator[Result]:
    if not region.repositories:
        return
    verdicts = [(rule, routes_findings(rule)) for rule in region.event_rules]
    routed = [r for r, ok in verdicts if ok]
    if routed:
        name = routed[0].name.value if routed[0].name.resolved else routed[0].id
        yield passed(f"EventBridge rule {name} routes scan findings to a target", routed[0].origin)
    elif any(ok is None for _, ok in verdicts):
        yield unknown("an EventBridge rule's pattern, state or targets is unresolved")
    else:
        yield failed(
            f"no enabled EventBridge rule sends ECR or Inspector scan findings anywhere; "
            f"findings for {len(region.repositories)} repositories reach no one"
        )


FINDINGS_ROUTING = Rule(
    id="EG013",
    title="No EventBridge rule routes ECR or Inspector scan findings to anyone",
    severity=Severity.LOW,
    labs=("08",),
    targets=(Region,),
    check=_check_routing,
    docs=Docs(
        what=(
            "In every account and region with repositories, looks for an ENABLED EventBridge rule "
            "with at least one target whose pattern matches source aws.ecr (detail-type 'ECR Image "
            "Scan') or aws.inspector2 ('Inspector2 Finding')."
        ),
        why="Findings nobody is told about are not remediated. Routing them to a queue, chat or ticketing system closes the loop.",
        example=(
            "Fails: no rule, or a rule for aws.ecr with no target, or a DISABLED one.\n"
            'Passes: {"source": ["aws.inspector2"], "detail-type": ["Inspector2 Finding"]} with an SNS target.'
        ),
        fix="Create an EventBridge rule for Inspector2 findings (and ECR Image Scan events) with a target.",
    ),
    remediation=Remediation(
        cli=(
            "aws events put-rule --region {region} --name ecr-scan-findings --event-pattern "
            '\'{{"source":["aws.inspector2","aws.ecr"],"detail-type":["Inspector2 Finding","ECR Image Scan"]}}\'\n'
            "aws events put-targets --region {region} --rule ecr-scan-findings --targets Id=sns,Arn=TOPIC_ARN"
        ),
        terraform=(
            'resource "aws_cloudwatch_event_rule" "scan_findings" {\n'
            '  name = "ecr-scan-findings"\n'
            "  event_pattern = jsonencode({\n"
            '    source        = ["aws.inspector2", "aws.ecr"]\n'
            '    "detail-type" = ["Inspector2 Finding", "ECR Image Scan"]\n'
            "  })\n}\n\n"
            'resource "aws_cloudwatch_event_target" "scan_findings" {\n'
            "  rule = aws_cloudwatch_event_rule.scan_findings.name\n"
            "  arn  = aws_sns_topic.security.arn\n}"
        ),
    ),
    references=References(
        docs=("https://docs.aws.amazon.com/inspector/latest/user/eventbridge-integration.html",),
    ),
    permissions=("events:ListRules", "events:ListTargetsByRule"),
)

RULES = (BASIC_SCANNING, SCAN_COVERAGE, INSPECTOR_ECR, FINDINGS_SLA, FINDINGS_ROUTING)
