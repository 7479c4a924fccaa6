"""Audit logging: CloudTrail coverage of ECR's management events (lab 12)."""

from __future__ import annotations

from collections.abc import Iterator

from ecrguard.model import Account, Severity, Trail
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
)


def _name(trail: Trail) -> str:
    return trail.name.value if trail.name.resolved and trail.name.value else trail.id


def _good(trail: Trail) -> bool | None:
    values = (trail.multi_region, trail.logging, trail.management_events)
    if not all(v.resolved for v in values):
        return None
    return all(bool(v.value) for v in values)


def _check_trails(account: Account, ctx: Context) -> Iterator[Result]:
    verdicts = [(t, _good(t)) for t in account.trails]
    covering = [t for t, ok in verdicts if ok]
    if covering:
        yield passed(
            f"trail {_name(covering[0])} logs management events in every region", covering[0].origin
        )
    elif any(ok is None for _, ok in verdicts):
        yield unknown(
            "no trail is known to log management events in every region; some trail settings are unresolved"
        )
    else:
        had = f"{len(account.trails)} trail(s), none" if account.trails else "no trail"
        yield failed(
            f"{had} logging management events in every region: ECR policy changes, pushes and "
            "deletions leave no record"
        )
    for trail in account.trails:
        name = _name(trail)
        if trail.logging.resolved and trail.logging.value is False:
            yield failed(f"trail {name} is stopped (StopLogging)", trail.logging.origin, trail.id)
        if not trail.log_validation.resolved:
            yield unknown(
                f"trail {name}: log file validation is unresolved ({trail.log_validation.reason})",
                trail.log_validation.origin,
                trail.id,
            )
        elif not trail.log_validation.value:
            yield failed(
                f"trail {name} has log file validation off, so tampered logs go unnoticed",
                trail.log_validation.origin,
                trail.id,
            )
        elif trail.logging.value is not False:
            yield passed(
                f"trail {name} is logging with log file validation", trail.origin, trail.id
            )


CLOUDTRAIL = Rule(
    id="EG017",
    title="CloudTrail does not record ECR management events everywhere, is stopped, or is unvalidated",
    severity=Severity.HIGH,
    labs=("12",),
    targets=(Account,),
    check=_check_trails,
    docs=Docs(
        what=(
            "Per account: fails when no multi-region trail is logging and recording management "
            "events. Per trail: fails when it is stopped, or when log file validation is off."
        ),
        why=(
            "CloudTrail is how you learn that a repository policy was made public, that a tag was "
            "overwritten or that someone replicated your registry away. A single-region trail "
            "misses every other region; a stopped one records nothing; without validation an "
            "intruder can edit the logs that would expose them."
        ),
        example=(
            "Fails: is_multi_region_trail = false; or a trail after aws cloudtrail stop-logging; or "
            "enable_log_file_validation = false.\n"
            "Passes: a multi-region trail, logging, with management events and log file validation."
        ),
        fix="Create (or update) one multi-region trail with management events and log file validation, and keep it logging.",
    ),
    remediation=Remediation(
        cli=(
            "aws cloudtrail create-trail --name org-trail --s3-bucket-name BUCKET "
            "--is-multi-region-trail --enable-log-file-validation\n"
            "aws cloudtrail start-logging --name org-trail"
        ),
        terraform=(
            'resource "aws_cloudtrail" "main" {\n'
            '  name                       = "main"\n'
            "  s3_bucket_name             = aws_s3_bucket.trail.id\n"
            "  is_multi_region_trail      = true\n"
            "  enable_log_file_validation = true\n"
            "  enable_logging             = true\n}"
        ),
    ),
    references=References(
        prowler=(
            "cloudtrail_multi_region_enabled",
            "cloudtrail_multi_region_enabled_logging_management_events",
            "cloudtrail_log_file_validation_enabled",
        ),
        checkov=("CKV_AWS_67", "CKV_AWS_36"),
        trivy=("AVD-AWS-0014", "AVD-AWS-0016"),
        fsbp=(fsbp("CloudTrail.1"), fsbp("CloudTrail.4")),
        docs=(
            "https://docs.aws.amazon.com/AmazonECR/latest/userguide/logging-using-cloudtrail.html",
        ),
    ),
    permissions=(
        "cloudtrail:DescribeTrails",
        "cloudtrail:GetTrailStatus",
        "cloudtrail:GetEventSelectors",
    ),
)

RULES = (CLOUDTRAIL,)
