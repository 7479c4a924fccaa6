"""Scan on push, manual scans and scan findings, through boto3 against the emulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_images import manifest

from ecrguard.emulator import Emulator
from ecrguard.errors import EmulatorError
from ecrguard.model.filters import scan_filter_matches as filter_matches

CVE = {
    "name": "CVE-2024-3094",
    "severity": "CRITICAL",
    "package": "xz-utils",
    "version": "5.6.0-0.2",
    "fixed_in": "5.6.1",
    "first_observed": "2024-03-29T00:00:00Z",
    "description": "Malicious code in the liblzma build.",
    "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
}
GLIBC = {"name": "CVE-2023-4911", "severity": "HIGH", "package": "glibc", "version": "2.35"}
LOW = {"name": "CVE-2022-0001", "severity": "LOW"}


def push(ecr: Any, repository: str, tag: str, name: str | None = None, **extra: Any) -> str:
    image = ecr.put_image(
        repositoryName=repository,
        imageManifest=manifest(name or f"{repository}:{tag}", **extra),
        imageTag=tag,
    )
    digest: str = image["image"]["imageId"]["imageDigest"]
    return digest


def detail(ecr: Any, repository: str, tag: str) -> dict[str, Any]:
    found: dict[str, Any] = ecr.describe_images(
        repositoryName=repository, imageIds=[{"imageTag": tag}]
    )["imageDetails"][0]
    return found


def rules(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"scanFrequency": freq, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"}]}
        for freq, f in pairs
    ]


# --- when a push is scanned ----------------------------------------------------------


def test_a_basic_scan_on_push_rule_scans_and_reports_the_loaded_findings(
    ecr: Any, emulator: Emulator
) -> None:
    ecr.create_repository(repositoryName="team/api")
    ecr.put_registry_scanning_configuration(
        scanType="BASIC", rules=rules(("SCAN_ON_PUSH", "team/*"))
    )
    assert emulator.load_scan_findings({"team/api:v1": [CVE, GLIBC, LOW]}) == 3
    before = datetime.now(UTC)

    push(ecr, "team/api", "v1")

    image = detail(ecr, "team/api", "v1")
    assert image["imageScanStatus"] == {
        "status": "COMPLETE",
        "description": "The scan was completed successfully.",
    }
    summary = image["imageScanFindingsSummary"]
    assert summary["findingSeverityCounts"] == {"CRITICAL": 1, "HIGH": 1, "LOW": 1}
    assert before - timedelta(seconds=1) <= summary["imageScanCompletedAt"] <= datetime.now(UTC)
    assert summary["vulnerabilitySourceUpdatedAt"] <= summary["imageScanCompletedAt"]
    findings = ecr.describe_image_scan_findings(
        repositoryName="team/api", imageId={"imageTag": "v1"}
    )["imageScanFindings"]
    assert "enhancedFindings" not in findings
    assert findings["findings"][0] == {
        "name": "CVE-2024-3094",
        "description": "Malicious code in the liblzma build.",
        "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094",
        "severity": "CRITICAL",
        "attributes": [
            {"key": "package_name", "value": "xz-utils"},
            {"key": "package_version", "value": "5.6.0-0.2"},
        ],
    }
    assert [f["name"] for f in findings["findings"]] == [
        "CVE-2024-3094",
        "CVE-2023-4911",
        "CVE-2022-0001",
    ]


def test_an_image_nobody_loaded_findings_for_scans_clean(ecr: Any) -> None:
    ecr.create_repository(repositoryName="clean", imageScanningConfiguration={"scanOnPush": True})

    push(ecr, "clean", "v1")

    image = detail(ecr, "clean", "v1")
    assert image["imageScanStatus"]["status"] == "COMPLETE"
    assert image["imageScanFindingsSummary"]["findingSeverityCounts"] == {}
    findings = ecr.describe_image_scan_findings(repositoryName="clean", imageId={"imageTag": "v1"})
    assert findings["imageScanFindings"]["findings"] == []


def test_without_a_scan_there_is_no_scan_result(ecr: Any) -> None:
    """Lab 06: pushed while nothing covered the repository, the image has no result."""
    ecr.create_repository(repositoryName="unscanned")

    push(ecr, "unscanned", "v1")

    image = detail(ecr, "unscanned", "v1")
    assert "imageScanStatus" not in image and "imageScanFindingsSummary" not in image
    with pytest.raises(ClientError) as missing:
        ecr.describe_image_scan_findings(repositoryName="unscanned", imageId={"imageTag": "v1"})
    assert missing.value.response["Error"]["Code"] == "ScanNotFoundException"


def test_registry_rules_override_the_legacy_repository_flag(ecr: Any) -> None:
    ecr.create_repository(repositoryName="legacy", imageScanningConfiguration={"scanOnPush": True})
    ecr.create_repository(repositoryName="covered")
    ecr.put_registry_scanning_configuration(
        scanType="BASIC", rules=rules(("SCAN_ON_PUSH", "covered"), ("MANUAL", "legacy"))
    )

    push(ecr, "legacy", "v1")
    push(ecr, "covered", "v1")

    assert "imageScanStatus" not in detail(ecr, "legacy", "v1")  # a MANUAL rule scans nothing
    assert detail(ecr, "covered", "v1")["imageScanStatus"]["status"] == "COMPLETE"


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("prod", "team/prod-api", True),  # no wildcard: any name containing it
        ("prod", "team/api", False),
        ("team/*", "team/api", True),
        ("team/*", "other/team/api", False),  # a wildcard filter matches the whole name
        ("*", "anything/at/all", True),
        ("*-api", "team/orders-api", True),
        ("*-api", "team/orders-api-v2", False),
    ],
)
def test_filters_match_as_ecr_documents(pattern: str, name: str, matches: bool) -> None:
    assert filter_matches(pattern, name) is matches


def test_enhanced_continuous_scanning_follows_the_vulnerability_database(
    ecr: Any, emulator: Emulator
) -> None:
    ecr.create_repository(repositoryName="web")
    ecr.put_registry_scanning_configuration(
        scanType="ENHANCED", rules=rules(("SCAN_ON_PUSH", "*"), ("CONTINUOUS_SCAN", "web"))
    )
    digest = push(ecr, "web", "v1")
    assert detail(ecr, "web", "v1")["imageScanStatus"] == {
        "status": "ACTIVE",
        "description": "Continuous scan is selected for image.",
    }
    assert detail(ecr, "web", "v1")["imageScanFindingsSummary"]["findingSeverityCounts"] == {}

    emulator.load_scan_findings({digest: [CVE]})

    assert detail(ecr, "web", "v1")["imageScanFindingsSummary"]["findingSeverityCounts"] == {
        "CRITICAL": 1
    }
    response = ecr.describe_image_scan_findings(
        repositoryName="web", imageId={"imageDigest": digest}
    )
    (finding,) = response["imageScanFindings"]["enhancedFindings"]
    assert "findings" not in response["imageScanFindings"]
    assert finding["severity"] == "CRITICAL"
    assert finding["status"] == "ACTIVE"
    assert finding["type"] == "PACKAGE_VULNERABILITY"
    assert finding["title"] == "CVE-2024-3094 - xz-utils"
    assert finding["firstObservedAt"] == datetime(2024, 3, 29, tzinfo=UTC)
    assert finding["packageVulnerabilityDetails"]["vulnerabilityId"] == "CVE-2024-3094"
    assert finding["packageVulnerabilityDetails"]["vulnerablePackages"] == [
        {"name": "xz-utils", "version": "5.6.0-0.2", "fixedInVersion": "5.6.1"}
    ]
    assert finding["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] == digest
    assert finding["findingArn"].startswith("arn:aws:inspector2:us-east-1:123456789012:finding/")


def test_enhanced_scan_on_push_keeps_what_was_known_at_push_time(
    ecr: Any, emulator: Emulator
) -> None:
    ecr.create_repository(repositoryName="batch")
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules(("SCAN_ON_PUSH", "*")))
    emulator.load_scan_findings({"batch:v1": [{"name": "CVE-2021-44228", "severity": "UNDEFINED"}]})
    push(ecr, "batch", "v1")

    emulator.load_scan_findings({"batch:v1": [CVE]})

    image = detail(ecr, "batch", "v1")
    assert image["imageScanStatus"]["status"] == "COMPLETE"
    # Inspector calls an unrated finding UNTRIAGED.
    assert image["imageScanFindingsSummary"]["findingSeverityCounts"] == {"UNTRIAGED": 1}
    findings = ecr.describe_image_scan_findings(repositoryName="batch", imageId={"imageTag": "v1"})
    (finding,) = findings["imageScanFindings"]["enhancedFindings"]
    # Without a first-observed date in the fixture, the scan saw it first.
    assert finding["firstObservedAt"] == image["imageScanFindingsSummary"]["imageScanCompletedAt"]


def test_adding_a_tag_to_a_stored_image_does_not_scan_it_again(
    ecr: Any, emulator: Emulator
) -> None:
    ecr.create_repository(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})
    push(ecr, "app", "v1", name="same")
    emulator.load_scan_findings({"app:v1": [GLIBC]})

    push(ecr, "app", "latest", name="same")

    image = detail(ecr, "app", "latest")
    assert sorted(image["imageTags"]) == ["latest", "v1"]
    assert image["imageScanFindingsSummary"]["findingSeverityCounts"] == {}


# --- StartImageScan ----------------------------------------------------------------------


def test_a_manual_scan_runs_once_per_day(ecr: Any, emulator: Emulator) -> None:
    ecr.create_repository(repositoryName="manual")
    digest = push(ecr, "manual", "v1")
    emulator.load_scan_findings({digest: [GLIBC]})

    started = ecr.start_image_scan(repositoryName="manual", imageId={"imageTag": "v1"})

    assert started["imageScanStatus"] == {"status": "IN_PROGRESS"}
    assert started["imageId"] == {"imageDigest": digest, "imageTag": "v1"}
    image = detail(ecr, "manual", "v1")
    assert image["imageScanStatus"]["status"] == "COMPLETE"
    assert image["imageScanFindingsSummary"]["findingSeverityCounts"] == {"HIGH": 1}
    no_retries = emulator.client("ecr", config=_no_retries())
    with pytest.raises(ClientError) as again:
        no_retries.start_image_scan(repositoryName="manual", imageId={"imageDigest": digest})
    assert again.value.response["Error"]["Code"] == "LimitExceededException"


def test_a_manual_scan_is_refused_under_enhanced_scanning(ecr: Any) -> None:
    ecr.create_repository(repositoryName="app")
    push(ecr, "app", "v1")
    ecr.put_registry_scanning_configuration(scanType="ENHANCED", rules=rules(("SCAN_ON_PUSH", "*")))

    with pytest.raises(ClientError) as refused:
        ecr.start_image_scan(repositoryName="app", imageId={"imageTag": "v1"})

    assert refused.value.response["Error"]["Code"] == "ValidationException"


def _no_retries() -> Any:
    from ecrguard.emulator import loopback_config

    return loopback_config(retries={"mode": "standard", "max_attempts": 1})


# --- DescribeImages ------------------------------------------------------------------------


def test_describe_images_reports_media_types_and_the_subject_of_a_referrer(ecr: Any) -> None:
    ecr.create_repository(repositoryName="signed")
    digest = push(ecr, "signed", "v1")
    signature = {
        "artifactType": "application/vnd.cncf.notary.signature",
        "subject": {
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "digest": digest,
            "size": 100,
        },
    }
    push(ecr, "signed", "sig", **signature)

    image, referrer = detail(ecr, "signed", "v1"), detail(ecr, "signed", "sig")

    assert image["artifactMediaType"] == "application/vnd.docker.container.image.v1+json"
    assert image["imageManifestMediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert "subjectManifestDigest" not in image
    assert referrer["artifactMediaType"] == "application/vnd.cncf.notary.signature"
    assert referrer["subjectManifestDigest"] == digest


def test_describe_images_pages_and_filters_by_tag_status(ecr: Any) -> None:
    ecr.create_repository(repositoryName="many")
    for n in range(5):
        push(ecr, "many", f"v{n}")
    push(ecr, "many", "v0", name="moves v0; the first image loses its tag")

    first = ecr.describe_images(repositoryName="many", maxResults=4)
    rest = ecr.describe_images(repositoryName="many", maxResults=4, nextToken=first["nextToken"])
    untagged = ecr.describe_images(repositoryName="many", filter={"tagStatus": "UNTAGGED"})
    tagged = ecr.describe_images(repositoryName="many", filter={"tagStatus": "TAGGED"})

    assert (len(first["imageDetails"]), len(rest["imageDetails"])) == (4, 2)
    assert "nextToken" not in rest
    assert len(untagged["imageDetails"]) == 1 and "imageTags" not in untagged["imageDetails"][0]
    assert len(tagged["imageDetails"]) == 5
    pushed = [i["imagePushedAt"] for i in first["imageDetails"] + rest["imageDetails"]]
    assert pushed == sorted(pushed) and len(set(pushed)) == 6  # finer than moto's seconds


# --- the fixture ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ([CVE], "must be a JSON object"),
        ({"latest": [CVE]}, "neither an image digest"),
        ({"sha256:abc": [CVE]}, "neither an image digest"),
        ({"app:v1": CVE}, "must be a list"),
        ({"app:v1": [{"severity": "HIGH"}]}, "needs a name"),
        ({"app:v1": [{"name": "CVE-1", "severity": "SEVERE"}]}, "severity must be one of"),
        ({"app:v1": [{**CVE, "first_observed": "last week"}]}, "not an ISO 8601 time"),
        ({"app:v1": [{**CVE, "cvss": 9.8}]}, "unknown fields: cvss"),
    ],
)
def test_a_malformed_fixture_is_refused_with_the_reason(
    emulator: Emulator, fixture: Any, reason: str
) -> None:
    with pytest.raises(EmulatorError, match=reason):
        emulator.load_scan_findings(fixture)


def test_reset_forgets_the_fixture(ecr: Any, emulator: Emulator) -> None:
    emulator.load_scan_findings({"app:v1": [CVE]})
    emulator.reset()
    ecr.create_repository(repositoryName="app", imageScanningConfiguration={"scanOnPush": True})

    push(ecr, "app", "v1")

    assert detail(ecr, "app", "v1")["imageScanFindingsSummary"]["findingSeverityCounts"] == {}


def test_the_route_answers_json(emulator: Emulator) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{emulator.endpoint_url}/moto-api/ecrguard/scan-findings",
        data=json.dumps({"app:v1": [GLIBC]}).encode(),
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10) as answer:
        assert json.loads(answer.read()) == {"loaded": 1}
