"""The newest image of a repository and its findings, from recorded responses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_seed import ACCOUNT

from ecrguard.model import Image, ImageFinding, Origin, State
from ecrguard.sources.aws import Failure
from ecrguard.sources.aws.ecr import (
    newest_image,
    serious_findings,
    transform_findings,
    transform_newest_image,
)

Recorded = Callable[[str], Any]
ORIGIN = Origin(f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app")


def images(recorded: Recorded, name: str = "describe_images") -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = recorded(name)["imageDetails"]
    return details


def test_the_newest_image_skips_the_signature_pushed_after_it(recorded: Recorded) -> None:
    details = images(recorded)
    assert len(details) == 3  # v1, v2 and v2's cosign signature, pushed last

    newest = newest_image(details)

    assert newest is not None and newest["imageTags"] == ["v2"]


def test_newest_by_push_time_whatever_the_order(recorded: Recorded) -> None:
    details = images(recorded)

    assert newest_image(list(reversed(details))) == newest_image(details)
    assert newest_image([]) is None


def test_artifacts_that_are_not_images_are_never_the_newest_image(recorded: Recorded) -> None:
    v1, v2, _ = images(recorded)
    chart = {
        **v2,
        "imageTags": ["chart-1.0"],
        "artifactMediaType": "application/vnd.cncf.helm.config.v1+json",
        "imagePushedAt": "2099-01-01T00:00:00+00:00",
    }

    assert newest_image([v1, chart]) == v1
    assert newest_image([chart]) is None


def test_serious_findings_are_critical_or_high(recorded: Recorded) -> None:
    v1, v2, _ = images(recorded)

    assert serious_findings(v2) is True
    assert serious_findings(v1) is False
    assert (
        serious_findings({"imageScanFindingsSummary": {"findingSeverityCounts": {"LOW": 3}}})
        is False
    )
    assert serious_findings({}) is False


def test_an_enhanced_image_with_its_findings(recorded: Recorded) -> None:
    newest = newest_image(images(recorded))
    findings = recorded("describe_image_scan_findings_enhanced")["imageScanFindings"]

    image = transform_newest_image(newest, findings, ORIGIN)

    assert (image.state, image.origin) == (State.SET, ORIGIN)
    value = image.value
    assert isinstance(value, Image) and newest is not None
    assert (value.digest, value.tags) == (newest["imageDigest"], ("v2",))
    assert value.pushed_at == newest["imagePushedAt"]
    assert value.scan_status == "COMPLETE"
    assert value.severity_counts == (("CRITICAL", 1), ("HIGH", 1), ("MEDIUM", 1))
    assert value.scan_completed_at == newest["imageScanFindingsSummary"]["imageScanCompletedAt"]
    # MEDIUM is counted but not kept; the fixture's date for xz, the scan's for glibc.
    assert value.findings == (
        ImageFinding("CRITICAL", "CVE-2024-3094", "2024-03-29T00:00:00+00:00", "xz-utils"),
        ImageFinding("HIGH", "CVE-2023-4911", value.scan_completed_at, "glibc"),
    )


def test_basic_findings_are_dated_by_their_scan(recorded: Recorded) -> None:
    response = recorded("describe_image_scan_findings_basic")["imageScanFindings"]

    findings = transform_findings(response)

    assert findings == (
        ImageFinding("HIGH", "CVE-2023-4911", response["imageScanCompletedAt"], "glibc"),
    )


def test_an_image_without_serious_findings_needs_no_findings_call(recorded: Recorded) -> None:
    v1 = images(recorded)[0]

    image = transform_newest_image(v1, None, ORIGIN).value

    assert image is not None
    assert (image.scan_status, image.severity_counts, image.findings) == ("COMPLETE", (), ())


def test_a_never_scanned_image_has_no_scan_status(recorded: Recorded) -> None:
    v1 = {
        k: v
        for k, v in images(recorded)[0].items()
        if k not in ("imageScanStatus", "imageScanFindingsSummary")
    }

    image = transform_newest_image(v1, None, ORIGIN).value

    assert image is not None
    assert (image.scan_status, image.scan_completed_at, image.severity_counts) == (None, None, ())


def test_a_repository_without_images_has_none(recorded: Recorded) -> None:
    image = transform_newest_image(None, None, ORIGIN)

    assert (image.value, image.state) == (None, State.SET)


def test_a_failed_call_leaves_the_image_unresolved(recorded: Recorded) -> None:
    denied = Failure("ecr:DescribeImages", "AccessDenied: ecr:DescribeImages")
    throttled = Failure(
        "ecr:DescribeImageScanFindings",
        "ThrottlingException: ecr:DescribeImageScanFindings failed: Rate exceeded",
    )
    newest = newest_image(images(recorded))

    no_list = transform_newest_image(denied, None, ORIGIN)
    no_findings = transform_newest_image(newest, throttled, ORIGIN)

    assert (no_list.state, no_list.reason) == (State.UNRESOLVED, denied.reason)
    # Counts without the findings' ages would let an SLA rule pass blind.
    assert (no_findings.state, no_findings.reason) == (State.UNRESOLVED, throttled.reason)
