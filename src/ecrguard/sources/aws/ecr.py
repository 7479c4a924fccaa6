"""ECR: repositories, their newest image, the registry and repository creation templates.

``get_*`` functions call the API through an injected client and return the raw
response (pages merged into a list). ``transform_*`` functions are pure: raw
responses in, model objects out. A response may also be a
:class:`~ecrguard.sources.aws.calls.Failure`, which becomes an unresolved value.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ecrguard.model import (
    CreationTemplate,
    Image,
    ImageFinding,
    Inspector,
    Origin,
    PolicyDoc,
    Registry,
    ReplicationDestination,
    ReplicationRule,
    Repository,
    ScanningRule,
    Sourced,
)
from ecrguard.sources.aws.calls import Client, Failure, error_code

PAGE = {"PageSize": 1000}
RESPONSE = dict[str, Any]

# Service defaults, for fields a response leaves out.
DEFAULT_TAG_MUTABILITY = "MUTABLE"
DEFAULT_ENCRYPTION = "AES256"
DEFAULT_SCAN_TYPE = "BASIC"


# --- get -----------------------------------------------------------------------


def get_repositories(client: Client) -> list[RESPONSE]:
    pages = client.get_paginator("describe_repositories").paginate(PaginationConfig=PAGE)
    return [repo for page in pages for repo in page.get("repositories", [])]


def get_repository_policy(client: Client, registry_id: str, name: str) -> RESPONSE | None:
    return _absent_on(
        "RepositoryPolicyNotFoundException",
        lambda: client.get_repository_policy(registryId=registry_id, repositoryName=name),
    )


def get_lifecycle_policy(client: Client, registry_id: str, name: str) -> RESPONSE | None:
    return _absent_on(
        "LifecyclePolicyNotFoundException",
        lambda: client.get_lifecycle_policy(registryId=registry_id, repositoryName=name),
    )


def get_registry_policy(client: Client) -> RESPONSE | None:
    return _absent_on("RegistryPolicyNotFoundException", client.get_registry_policy)


def get_registry_policy_scope(client: Client) -> RESPONSE:
    return _strip(client.get_account_setting(name="REGISTRY_POLICY_SCOPE"))


def get_registry_scanning_configuration(client: Client) -> RESPONSE:
    return _strip(client.get_registry_scanning_configuration())


def get_registry(client: Client) -> RESPONSE:
    return _strip(client.describe_registry())


def get_creation_templates(client: Client) -> list[RESPONSE]:
    paginator = client.get_paginator("describe_repository_creation_templates")
    pages = paginator.paginate(PaginationConfig=PAGE)
    return [t for page in pages for t in page.get("repositoryCreationTemplates", [])]


def get_newest_image(client: Client, registry_id: str, name: str) -> RESPONSE | None:
    """The ``describe_images`` entry of the repository's newest image (see :func:`newest_image`).

    Untagged images are listed too: a repository pushed to by digest only
    still has a newest image, and the tag filter would not save a call.
    """
    pages = client.get_paginator("describe_images").paginate(
        registryId=registry_id, repositoryName=name, PaginationConfig=PAGE
    )
    # Only the newest entry is kept, not every page: repositories can hold thousands.
    newest: RESPONSE | None = None
    for page in pages:
        newest = newest_image([*page.get("imageDetails", []), *([newest] if newest else [])])
    return newest


def get_image_findings(client: Client, registry_id: str, name: str, digest: str) -> RESPONSE | None:
    """``imageScanFindings`` of one image, pages merged; None when it has no scan."""
    from botocore.exceptions import ClientError

    paginator = client.get_paginator("describe_image_scan_findings")
    pages = paginator.paginate(
        registryId=registry_id,
        repositoryName=name,
        imageId={"imageDigest": digest},
        PaginationConfig=PAGE,
    )
    merged: RESPONSE = {"findings": [], "enhancedFindings": []}
    try:
        for page in pages:
            found = page.get("imageScanFindings") or {}
            for key, value in found.items():
                if key in ("findings", "enhancedFindings"):
                    merged[key].extend(value)
                else:
                    merged[key] = value
    except ClientError as err:
        if error_code(err) == "ScanNotFoundException":
            return None
        raise
    return merged


def _absent_on(code: str, call: Any) -> RESPONSE | None:
    from botocore.exceptions import ClientError

    try:
        return _strip(call())
    except ClientError as err:
        if error_code(err) == code:
            return None
        raise


def _strip(response: RESPONSE) -> RESPONSE:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


# --- transform -----------------------------------------------------------------


def transform_repository(
    raw: RESPONSE,
    policy: RESPONSE | Failure | None,
    lifecycle: RESPONSE | Failure | None,
    newest: RESPONSE | Failure | None,
    findings: RESPONSE | Failure | None,
) -> Repository:
    """One ``describe_repositories`` item plus the responses about it.

    ``newest`` is the newest image's ``describe_images`` entry (None: the
    repository holds no image); ``findings`` that image's scan findings, which
    are only fetched when it has CRITICAL or HIGH ones (None otherwise).
    """
    arn = raw["repositoryArn"]
    origin = Origin(arn)
    region, account = _arn_region_account(arn)
    encryption = raw.get("encryptionConfiguration") or {}
    scanning = raw.get("imageScanningConfiguration") or {}
    exclusions = raw.get("imageTagMutabilityExclusionFilters")
    return Repository(
        id=arn,
        origin=origin,
        account=raw.get("registryId", account),
        region=region,
        name=Sourced.set(raw["repositoryName"], origin),
        policy=_policy(policy, "policyText", origin),
        tag_mutability=_field(raw, "imageTagMutability", DEFAULT_TAG_MUTABILITY, origin),
        mutability_exclusions=(
            Sourced.set(tuple(f["filter"] for f in exclusions), origin)
            if exclusions is not None
            else Sourced.default((), origin)
        ),
        encryption_type=_field(encryption, "encryptionType", DEFAULT_ENCRYPTION, origin),
        kms_key=_field(encryption, "kmsKey", None, origin),
        scan_on_push=_field(scanning, "scanOnPush", False, origin),
        lifecycle_policy=_policy(lifecycle, "lifecyclePolicyText", origin),
        # Not observable through the API: it is a Terraform/CloudFormation-side flag.
        force_delete=Sourced.default(False, origin),
        newest_image=transform_newest_image(newest, findings, origin),
    )


# Config media types of container images; anything else (a Helm chart, an
# SBOM, a signature) is an artifact stored beside the images.
_IMAGE_CONFIGS = frozenset(
    {
        "application/vnd.docker.container.image.v1+json",
        "application/vnd.oci.image.config.v1+json",
    }
)
# cosign stores signatures, attestations and SBOMs under these tags; they are
# pushed right after the image they describe, so they would always be "newest".
_COSIGN_TAG = re.compile(r"sha256-[0-9a-f]{64}\.(sig|att|sbom)")
SERIOUS = ("CRITICAL", "HIGH")


def newest_image(details: list[RESPONSE]) -> RESPONSE | None:
    """The most recently pushed image among ``describe_images`` entries.

    Non-image artifacts and cosign signature tags are skipped; an image
    without a push time sorts first. Ties keep the later entry.
    """
    candidates = [d for d in details if _is_image(d)]
    if not candidates:
        return None
    return max(reversed(candidates), key=lambda d: _iso(d.get("imagePushedAt")) or "")


def _is_image(detail: RESPONSE) -> bool:
    media = detail.get("artifactMediaType")
    if media is not None and media not in _IMAGE_CONFIGS:
        return False
    tags = detail.get("imageTags") or []
    return not tags or not all(_COSIGN_TAG.fullmatch(t) for t in tags)


def serious_findings(detail: RESPONSE) -> bool:
    """Whether an image's scan summary counts CRITICAL or HIGH findings."""
    counts = (detail.get("imageScanFindingsSummary") or {}).get("findingSeverityCounts") or {}
    return any(counts.get(s, 0) > 0 for s in SERIOUS)


def transform_newest_image(
    detail: RESPONSE | Failure | None, findings: RESPONSE | Failure | None, origin: Origin
) -> Sourced[Image | None]:
    if isinstance(detail, Failure):
        return _unresolved(detail, origin)
    if detail is None:
        return Sourced.set(None, origin)
    if isinstance(findings, Failure):
        # The counts alone would hide how old the findings are; rules must not
        # judge a half-read image.
        return _unresolved(findings, origin)
    summary = detail.get("imageScanFindingsSummary") or {}
    completed = _iso(summary.get("imageScanCompletedAt"))
    counts = summary.get("findingSeverityCounts") or {}
    image = Image(
        digest=detail["imageDigest"],
        tags=tuple(detail.get("imageTags") or ()),
        pushed_at=_iso(detail.get("imagePushedAt")),
        scan_status=(detail.get("imageScanStatus") or {}).get("status"),
        severity_counts=tuple(sorted((k, int(v)) for k, v in counts.items())),
        findings=transform_findings(findings) if findings is not None else (),
        scan_completed_at=completed,
    )
    return Sourced.set(image, origin)


def transform_findings(response: RESPONSE) -> tuple[ImageFinding, ...]:
    """The CRITICAL and HIGH findings of merged ``imageScanFindings`` pages."""
    # Basic scans date no finding; the scan that found it is the best first sighting.
    completed = _iso(response.get("imageScanCompletedAt"))
    found = []
    for raw in response.get("findings") or ():
        if raw.get("severity") in SERIOUS:
            attributes = {a.get("key"): a.get("value") for a in raw.get("attributes") or ()}
            found.append(
                ImageFinding(
                    severity=raw["severity"],
                    name=raw.get("name") or "unnamed finding",
                    first_observed=completed,
                    package=attributes.get("package_name"),
                )
            )
    for raw in response.get("enhancedFindings") or ():
        if raw.get("severity") in SERIOUS:
            details = raw.get("packageVulnerabilityDetails") or {}
            packages = details.get("vulnerablePackages") or [{}]
            found.append(
                ImageFinding(
                    severity=raw["severity"],
                    name=details.get("vulnerabilityId") or raw.get("title") or "unnamed finding",
                    first_observed=_iso(raw.get("firstObservedAt")) or completed,
                    package=packages[0].get("name"),
                )
            )
    return tuple(sorted(found, key=lambda f: (SERIOUS.index(f.severity), f.name)))


def _iso(value: Any) -> str | None:
    """A timestamp as ISO 8601: boto3 gives datetimes, recorded responses strings."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def registry_arn(partition: str, region: str, account: str) -> str:
    # ECR has no registry ARN; this follows the repository ARN's shape so
    # findings about a registry point at something recognisable.
    return f"arn:{partition}:ecr:{region}:{account}:registry/{account}"


def transform_registry(
    account: str,
    region: str,
    partition: str,
    *,
    policy: RESPONSE | Failure | None,
    policy_scope: RESPONSE | Failure,
    scanning: RESPONSE | Failure,
    registry: RESPONSE | Failure,
    inspector: Sourced[Inspector] | None = None,
) -> Registry:
    arn = registry_arn(partition, region, account)
    origin = Origin(arn)
    return Registry(
        id=arn,
        origin=origin,
        account=account,
        region=region,
        policy=_policy(policy, "policyText", origin),
        policy_scope=(
            _unresolved(policy_scope, origin)
            if isinstance(policy_scope, Failure)
            else Sourced.set(policy_scope["value"], origin)
        ),
        scan_type=(
            _unresolved(scanning, origin)
            if isinstance(scanning, Failure)
            else _field(
                scanning.get("scanningConfiguration") or {}, "scanType", DEFAULT_SCAN_TYPE, origin
            )
        ),
        scanning_rules=(
            _unresolved(scanning, origin)
            if isinstance(scanning, Failure)
            else _scanning_rules(scanning, origin)
        ),
        replication_rules=(
            _unresolved(registry, origin)
            if isinstance(registry, Failure)
            else _replication_rules(registry, origin)
        ),
        inspector=inspector,
    )


def template_arn(partition: str, region: str, account: str, prefix: str) -> str:
    # Templates have no ARN either; the prefix identifies one within a registry.
    return f"arn:{partition}:ecr:{region}:{account}:repository-creation-template/{prefix}"


def transform_creation_template(
    raw: RESPONSE, account: str, region: str, partition: str
) -> CreationTemplate:
    arn = template_arn(partition, region, account, raw["prefix"])
    origin = Origin(arn)
    encryption = raw.get("encryptionConfiguration") or {}
    return CreationTemplate(
        id=arn,
        origin=origin,
        account=account,
        region=region,
        prefix=Sourced.set(raw["prefix"], origin),
        applied_for=Sourced.set(tuple(raw.get("appliedFor", ())), origin),
        policy=_policy_text(raw.get("repositoryPolicy"), origin),
        tag_mutability=_field(raw, "imageTagMutability", DEFAULT_TAG_MUTABILITY, origin),
        encryption_type=_field(encryption, "encryptionType", DEFAULT_ENCRYPTION, origin),
        kms_key=_field(encryption, "kmsKey", None, origin),
        lifecycle_policy=_policy_text(raw.get("lifecyclePolicy"), origin),
    )


def _scanning_rules(response: RESPONSE, origin: Origin) -> Sourced[tuple[ScanningRule, ...]]:
    config = response.get("scanningConfiguration") or {}
    if "rules" not in config:
        return Sourced.default((), origin)
    rules = tuple(
        ScanningRule(
            frequency=rule["scanFrequency"],
            filters=tuple(f["filter"] for f in rule.get("repositoryFilters", ())),
        )
        for rule in config["rules"]
    )
    return Sourced.set(rules, origin)


def _replication_rules(response: RESPONSE, origin: Origin) -> Sourced[tuple[ReplicationRule, ...]]:
    config = response.get("replicationConfiguration")
    if config is None:
        return Sourced.default((), origin)
    rules = tuple(
        ReplicationRule(
            destinations=tuple(
                ReplicationDestination(region=d["region"], registry_id=d["registryId"])
                for d in rule.get("destinations", ())
            ),
            filters=tuple(f["filter"] for f in rule.get("repositoryFilters", ())),
        )
        for rule in config.get("rules", ())
    )
    return Sourced.set(rules, origin)


def _policy(
    response: RESPONSE | Failure | None, key: str, origin: Origin
) -> Sourced[PolicyDoc | None]:
    if isinstance(response, Failure):
        return _unresolved(response, origin)
    if response is None:
        return Sourced.default(None, origin)
    return _policy_text(response.get(key), origin)


def _policy_text(text: str | None, origin: Origin) -> Sourced[PolicyDoc | None]:
    if not text:
        return Sourced.default(None, origin)
    try:
        document = json.loads(text)
    except ValueError as err:
        return Sourced.unresolved(origin, f"policy is not valid JSON: {err}")
    if not isinstance(document, dict):
        return Sourced.unresolved(origin, "policy is not a JSON object")
    return Sourced.set(document, origin)


def _field(raw: RESPONSE, key: str, default: Any, origin: Origin) -> Sourced[Any]:
    if key in raw:
        return Sourced.set(raw[key], origin)
    return Sourced.default(default, origin)


def _unresolved(failure: Failure, origin: Origin) -> Sourced[Any]:
    return Sourced.unresolved(origin, failure.reason)


def _arn_region_account(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    return parts[3], parts[4]
