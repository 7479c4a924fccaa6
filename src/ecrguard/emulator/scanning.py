"""Image scanning as ECR runs it: scan on push, manual scans and their findings.

moto 5.2 never starts a scan, answers every ``DescribeImageScanFindings`` with
one made-up HIGH finding, and leaves ``imageScanStatus``,
``imageScanFindingsSummary`` and ``artifactMediaType`` out of
``DescribeImages``. The emulator replaces those operations:

- **When a scan happens.** After ``PutImage`` stores a new image, the registry
  scanning configuration decides: ``ENHANCED`` scans when a ``CONTINUOUS_SCAN``
  or ``SCAN_ON_PUSH`` rule matches the repository (continuous wins when both
  do); ``BASIC`` scans when a ``SCAN_ON_PUSH`` rule matches; a ``MANUAL`` rule
  scans nothing. Only ``BASIC`` with no rules at all falls back to the
  repository's legacy ``imageScanningConfiguration.scanOnPush``. Filters match
  as ECR documents them: without ``*`` a filter matches every name that
  contains it; ``*`` stands for zero or more characters of a whole name.
  ``StartImageScan`` runs a basic manual scan, at most once per image per 24
  hours (``LimitExceededException``, as AWS); with ``ENHANCED`` scanning it is
  refused (``ValidationException``), since Inspector decides when to scan.
- **What a scan finds.** Never invented: the findings come from a fixture a
  lab loads (:func:`load_findings`, ``POST /moto-api/ecrguard/scan-findings``,
  ``Emulator.load_scan_findings``). An image the fixture does not mention
  scans clean. A scan on push or a manual scan keeps the findings known at
  scan time; a continuously scanned image (status ``ACTIVE``) always reflects
  the current fixture, as Inspector rescans when its database changes.
- **Timing.** Scans complete at once: ``COMPLETE`` (``ACTIVE`` for continuous
  scans) right after the push. ``StartImageScan`` answers ``IN_PROGRESS`` as
  AWS does; the next ``DescribeImages`` shows the result. An image pushed
  while no rule covered its repository has no scan: ``DescribeImages`` omits
  the scan fields and ``DescribeImageScanFindings`` raises
  ``ScanNotFoundException``, which is what lab 06 shows.

Fixture format (JSON object; keys are an image digest ``sha256:<64 hex>`` or
``<repository>:<tag>``, values a list of findings)::

    {
      "sha256:9f86d08...": [
        {"name": "CVE-2024-3094", "severity": "CRITICAL",
         "package": "xz-utils", "version": "5.6.0-0.2", "fixed_in": "5.6.1",
         "first_observed": "2024-03-29T00:00:00Z",
         "description": "Malicious code in the liblzma build.",
         "uri": "https://nvd.nist.gov/vuln/detail/CVE-2024-3094"}
      ],
      "team/api:v1.0": [{"name": "CVE-2023-4911", "severity": "HIGH", "package": "glibc"}]
    }

``name`` and ``severity`` (CRITICAL, HIGH, MEDIUM, LOW, INFORMATIONAL,
UNDEFINED or UNTRIAGED) are required; ``first_observed`` defaults to the scan
time. Loading replaces the findings of the references it names and keeps the
others; a moto reset forgets them all.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moto.core.responses import ActionResult
from moto.ecr.exceptions import (
    InvalidParameterException,
    LimitExceededException,
    ScanNotFoundException,
)
from moto.ecr.models import ECRBackend, Image
from moto.ecr.models import Repository as MotoRepository
from moto.ecr.responses import ECRResponse

from ecrguard.emulator.routes import add_route, request_json
from ecrguard.emulator.state import emulator_state
from ecrguard.emulator.validation import ValidationException, check_input, page
from ecrguard.model.filters import scan_filter_matches

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED", "UNTRIAGED")
# Basic scanning reports an unrated finding as UNDEFINED, Inspector as UNTRIAGED.
_UNRATED = {"BASIC": "UNDEFINED", "ENHANCED": "UNTRIAGED"}
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_REPOSITORY = re.compile(
    r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*"
)
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_SCAN_QUOTA = timedelta(hours=24)
_DEFAULT_PAGE = 100
_COMPLETE = "The scan was completed successfully."
_CONTINUOUS = "Continuous scan is selected for image."
# Attribute names on moto's Image objects; they vanish with the image or a reset.
_SCAN = "_ecrguard_scan"
_PUSHED = "_ecrguard_pushed"

_lock = threading.Lock()


class FixtureError(ValueError):
    """A scan-findings fixture that does not follow the documented format."""


@dataclass(frozen=True, slots=True)
class Vulnerability:
    name: str
    severity: str
    package: str | None = None
    version: str | None = None
    fixed_in: str | None = None
    first_observed: datetime | None = None
    description: str | None = None
    uri: str | None = None


@dataclass(frozen=True, slots=True)
class Scan:
    scan_type: str  # BASIC | ENHANCED
    frequency: str  # SCAN_ON_PUSH | CONTINUOUS_SCAN | MANUAL (a StartImageScan)
    completed_at: datetime
    findings: tuple[Vulnerability, ...]  # as known at scan time

    @property
    def continuous(self) -> bool:
        return self.frequency == "CONTINUOUS_SCAN"


def install() -> None:
    original_put_image = ECRBackend.put_image

    def put_image(self: ECRBackend, repository_name: str, *args: Any, **kwargs: Any) -> Image:
        image = original_put_image(self, repository_name, *args, **kwargs)
        _after_push(self, self.repositories[repository_name], image)
        return image

    ECRBackend.put_image = put_image  # type: ignore[method-assign]
    for name, method in _OPERATIONS.items():
        setattr(ECRResponse, name, method)
    add_route("scan-findings", _load_route)


# --- the fixture -----------------------------------------------------------------


def parse_fixture(data: Any) -> dict[str, tuple[Vulnerability, ...]]:
    if not isinstance(data, dict):
        raise FixtureError(
            "scan findings must be a JSON object mapping an image digest or "
            "'repository:tag' to a list of findings"
        )
    parsed = {}
    for ref, items in data.items():
        if not isinstance(ref, str) or not _is_reference(ref):
            raise FixtureError(
                f"{ref!r} is neither an image digest (sha256:<64 hex>) nor 'repository:tag'"
            )
        if not isinstance(items, list):
            raise FixtureError(f"the findings of {ref} must be a list")
        parsed[ref] = tuple(_vulnerability(item, f"{ref}[{i}]") for i, item in enumerate(items))
    return parsed


def _is_reference(ref: str) -> bool:
    if ref.startswith("sha256:"):
        return bool(_DIGEST.fullmatch(ref))
    repository, sep, tag = ref.rpartition(":")
    return bool(sep) and bool(_REPOSITORY.fullmatch(repository)) and bool(_TAG.fullmatch(tag))


def _vulnerability(item: Any, where: str) -> Vulnerability:
    if not isinstance(item, dict):
        raise FixtureError(f"{where} must be an object")
    unknown = set(item) - {
        "name",
        "severity",
        "package",
        "version",
        "fixed_in",
        "first_observed",
        "description",
        "uri",
    }
    if unknown:
        raise FixtureError(f"{where} has unknown fields: {', '.join(sorted(unknown))}")
    name, severity = item.get("name"), item.get("severity")
    if not isinstance(name, str) or not name:
        raise FixtureError(f"{where} needs a name (e.g. a CVE id)")
    if severity not in SEVERITIES:
        raise FixtureError(f"{where} severity must be one of {', '.join(SEVERITIES)}")
    text = {}
    for key in ("package", "version", "fixed_in", "description", "uri"):
        value = item.get(key)
        if value is not None and not isinstance(value, str):
            raise FixtureError(f"{where}.{key} must be a string")
        text[key] = value
    return Vulnerability(
        name=name,
        severity=severity,
        first_observed=_moment(item.get("first_observed"), f"{where}.first_observed"),
        **text,
    )


def _moment(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise FixtureError(f"{where} must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FixtureError(f"{where} {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def load_findings(data: Any) -> int:
    """Load a fixture (the documented JSON shape); returns how many findings it holds."""
    parsed = parse_fixture(data)
    state = emulator_state()
    with _lock:
        state.scan_findings.update(parsed)
        state.findings_updated_at = datetime.now(UTC)
    return sum(len(v) for v in parsed.values())


def _load_route(request: Any) -> tuple[int, Any]:
    try:
        loaded = load_findings(request_json(request))
    except ValueError as err:
        return 400, {"error": str(err)}
    return 200, {"loaded": loaded}


def _known_findings(repository: str, image: Image) -> tuple[Vulnerability, ...]:
    fixture = emulator_state().scan_findings
    refs = [image.get_image_digest(), *(f"{repository}:{tag}" for tag in image.image_tags)]
    found: dict[str, Vulnerability] = {}
    for ref in refs:
        for vulnerability in fixture.get(ref, ()):
            found.setdefault(vulnerability.name, vulnerability)
    return tuple(found.values())


# --- when scans happen -------------------------------------------------------------


def scan_policy(backend: ECRBackend, repository: MotoRepository) -> tuple[str, str] | None:
    """(scan type, frequency) a push to ``repository`` gets, or None for no scan."""
    config = backend.registry_scanning_configuration
    scan_type = config.get("scanType") or "BASIC"
    rules = config.get("rules") or []
    matched = {
        rule.get("scanFrequency")
        for rule in rules
        if any(
            scan_filter_matches(f.get("filter", ""), repository.name)
            for f in rule.get("repositoryFilters") or ()
        )
    }
    if scan_type == "ENHANCED":
        frequency = next((f for f in ("CONTINUOUS_SCAN", "SCAN_ON_PUSH") if f in matched), None)
        return (scan_type, frequency) if frequency else None
    if "SCAN_ON_PUSH" in matched:
        return scan_type, "SCAN_ON_PUSH"
    legacy_config: Any = repository.image_scanning_configuration or {}
    legacy = legacy_config.get("scanOnPush")
    if not rules and legacy:
        return scan_type, "SCAN_ON_PUSH"
    return None


def _after_push(backend: ECRBackend, repository: MotoRepository, image: Image) -> None:
    with _lock:
        # moto hands back the stored image when a push only adds a tag; that
        # is no new image, so it is not scanned again.
        if getattr(image, _PUSHED, False):
            return
        setattr(image, _PUSHED, True)
    # moto keeps whole seconds; the newest of two quick pushes must stay the newest.
    image.image_pushed_at = time.time()  # type: ignore[assignment]
    policy = scan_policy(backend, repository)
    if policy is not None:
        _scan(repository, image, *policy)


def _scan(repository: MotoRepository, image: Image, scan_type: str, frequency: str) -> Scan:
    scan = Scan(scan_type, frequency, datetime.now(UTC), _known_findings(repository.name, image))
    setattr(image, _SCAN, scan)
    return scan


def scan_of(image: Image) -> Scan | None:
    scan: Scan | None = getattr(image, _SCAN, None)
    return scan


def _findings(repository: str, image: Image, scan: Scan) -> tuple[Vulnerability, ...]:
    return _known_findings(repository, image) if scan.continuous else scan.findings


def _severity(vulnerability: Vulnerability, scan: Scan) -> str:
    if vulnerability.severity in _UNRATED.values():
        return _UNRATED[scan.scan_type]
    return vulnerability.severity


# --- the operations ---------------------------------------------------------------


def describe_images(self: ECRResponse) -> ActionResult:
    params = check_input(self, "DescribeImages")
    images = list(
        self.ecr_backend.describe_images(
            params["repositoryName"], params.get("registryId"), params.get("imageIds")
        )
    )
    tag_status = (params.get("filter") or {}).get("tagStatus", "ANY")
    if tag_status != "ANY":
        images = [i for i in images if bool(i.image_tags) == (tag_status == "TAGGED")]
    shown, token = page(
        images,
        params.get("maxResults", _DEFAULT_PAGE),
        params.get("nextToken"),
        InvalidParameterException,
    )
    result: dict[str, Any] = {"imageDetails": [image_detail(i) for i in shown]}
    if token:
        result["nextToken"] = token
    return ActionResult(result)


def image_detail(image: Image) -> dict[str, Any]:
    manifest = _manifest(image)
    detail: dict[str, Any] = {
        "registryId": image.registry_id,
        "repositoryName": image.repository_name,
        "imageDigest": image.get_image_digest(),
        "imageSizeInBytes": image.get_image_size_in_bytes(),
        "imagePushedAt": datetime.fromtimestamp(float(image.image_pushed_at), UTC),
        "imageManifestMediaType": image.image_manifest_media_type,
    }
    if image.image_tags:
        # AWS leaves an untagged image's imageTags out rather than sending [].
        detail["imageTags"] = list(image.image_tags)
    # The OCI artifact type: artifactType when the manifest sets one, else the
    # config's media type (an image index has neither).
    config = manifest.get("config")
    artifact = manifest.get("artifactType") or (
        config.get("mediaType") if isinstance(config, dict) else None
    )
    if artifact:
        detail["artifactMediaType"] = artifact
    subject = manifest.get("subject")
    if isinstance(subject, dict) and subject.get("digest"):
        detail["subjectManifestDigest"] = subject["digest"]
    scan = scan_of(image)
    if scan is not None:
        findings = _findings(image.repository_name, image, scan)
        detail["imageScanStatus"] = _status(scan)
        detail["imageScanFindingsSummary"] = {
            "imageScanCompletedAt": scan.completed_at,
            "vulnerabilitySourceUpdatedAt": emulator_state().findings_updated_at,
            "findingSeverityCounts": dict(Counter(_severity(v, scan) for v in findings)),
        }
    return detail


def _manifest(image: Image) -> dict[str, Any]:
    try:
        manifest = json.loads(image.image_manifest)
    except (TypeError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def _status(scan: Scan) -> dict[str, str]:
    if scan.continuous:
        return {"status": "ACTIVE", "description": _CONTINUOUS}
    return {"status": "COMPLETE", "description": _COMPLETE}


def describe_image_scan_findings(self: ECRResponse) -> ActionResult:
    params = check_input(self, "DescribeImageScanFindings")
    name, image_id = params["repositoryName"], params["imageId"]
    repository = self.ecr_backend._get_repository(name, params.get("registryId"))
    image = repository._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
    scan = scan_of(image)
    if scan is None:
        raise ScanNotFoundException(
            image_id=_image_id_text(image_id),
            repository_name=name,
            registry_id=repository.registry_id,
        )
    findings = _findings(name, image, scan)
    shown, token = page(
        findings,
        params.get("maxResults", _DEFAULT_PAGE),
        params.get("nextToken"),
        InvalidParameterException,
    )
    body: dict[str, Any] = {
        "imageScanCompletedAt": scan.completed_at,
        "vulnerabilitySourceUpdatedAt": emulator_state().findings_updated_at,
        "findingSeverityCounts": dict(Counter(_severity(v, scan) for v in findings)),
    }
    if scan.scan_type == "ENHANCED":
        body["enhancedFindings"] = [_enhanced(v, scan, repository, image) for v in shown]
    else:
        body["findings"] = [_basic(v, scan) for v in shown]
    result: dict[str, Any] = {
        "registryId": repository.registry_id,
        "repositoryName": name,
        "imageId": {"imageDigest": image.get_image_digest(), **_tag_of(image_id)},
        "imageScanStatus": _status(scan),
        "imageScanFindings": body,
    }
    if token:
        result["nextToken"] = token
    return ActionResult(result)


def _basic(v: Vulnerability, scan: Scan) -> dict[str, Any]:
    finding: dict[str, Any] = {"name": v.name, "severity": _severity(v, scan)}
    if v.description:
        finding["description"] = v.description
    if v.uri:
        finding["uri"] = v.uri
    attributes = [
        {"key": key, "value": value}
        for key, value in (("package_name", v.package), ("package_version", v.version))
        if value
    ]
    finding["attributes"] = attributes
    return finding


def _enhanced(
    v: Vulnerability, scan: Scan, repository: MotoRepository, image: Image
) -> dict[str, Any]:
    digest = image.get_image_digest()
    seen = v.first_observed or scan.completed_at
    package: dict[str, Any] = {"name": v.package or "unknown"}
    if v.version:
        package["version"] = v.version
    if v.fixed_in:
        package["fixedInVersion"] = v.fixed_in
    details: dict[str, Any] = {
        "vulnerabilityId": v.name,
        "vulnerablePackages": [package],
        "source": "NVD",
    }
    if v.uri:
        details["sourceUrl"] = v.uri
        details["referenceUrls"] = [v.uri]
    region = repository.region_name
    finding_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{repository.arn}@{digest}#{v.name}").hex
    finding: dict[str, Any] = {
        "awsAccountId": repository.registry_id,
        "findingArn": f"arn:aws:inspector2:{region}:{repository.registry_id}:finding/{finding_id}",
        "firstObservedAt": seen,
        "lastObservedAt": scan.completed_at if not scan.continuous else datetime.now(UTC),
        "updatedAt": scan.completed_at,
        "packageVulnerabilityDetails": details,
        "resources": [
            {
                "type": "AWS_ECR_CONTAINER_IMAGE",
                "id": f"{repository.arn}/{digest}",
                "details": {
                    "awsEcrContainerImage": {
                        "imageHash": digest,
                        "imageTags": list(image.image_tags),
                        "registry": repository.registry_id,
                        "repositoryName": repository.name,
                        "pushedAt": datetime.fromtimestamp(float(image.image_pushed_at), UTC),
                    }
                },
            }
        ],
        "severity": _severity(v, scan),
        "status": "ACTIVE",
        "title": f"{v.name} - {v.package}" if v.package else v.name,
        "type": "PACKAGE_VULNERABILITY",
    }
    if v.description:
        finding["description"] = v.description
    if v.fixed_in:
        finding["fixAvailable"] = "YES"
    return finding


def start_image_scan(self: ECRResponse) -> ActionResult:
    params = check_input(self, "StartImageScan")
    name, image_id = params["repositoryName"], params["imageId"]
    backend = self.ecr_backend
    repository = backend._get_repository(name, params.get("registryId"))
    image = repository._get_image(image_id.get("imageTag"), image_id.get("imageDigest"))
    if (backend.registry_scanning_configuration.get("scanType") or "BASIC") == "ENHANCED":
        raise ValidationException(
            "StartImageScan is not supported while the registry uses ENHANCED scanning: "
            "Amazon Inspector decides when images are scanned"
        )
    with _lock:
        last = scan_of(image)
        if last is not None and datetime.now(UTC) - last.completed_at < _SCAN_QUOTA:
            raise LimitExceededException()
        _scan(repository, image, "BASIC", "MANUAL")
    return ActionResult(
        {
            "registryId": repository.registry_id,
            "repositoryName": name,
            "imageId": {"imageDigest": image.get_image_digest(), **_tag_of(image_id)},
            "imageScanStatus": {"status": "IN_PROGRESS"},
        }
    )


def _tag_of(image_id: dict[str, Any]) -> dict[str, str]:
    return {"imageTag": image_id["imageTag"]} if image_id.get("imageTag") else {}


def _image_id_text(image_id: dict[str, Any]) -> str:
    digest = image_id.get("imageDigest") or "null"
    tag = image_id.get("imageTag") or "null"
    return f"{{imageDigest:'{digest}', imageTag:'{tag}'}}"


_OPERATIONS: dict[str, Callable[[ECRResponse], ActionResult]] = {
    "describe_images": describe_images,
    "describe_image_scan_findings": describe_image_scan_findings,
    "start_image_scan": start_image_scan,
}
