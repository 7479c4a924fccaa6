"""CloudTrail: which trails record the account's management events (lab 12)."""

from __future__ import annotations

from typing import Any

from ecrguard.model import Origin, Sourced, Trail
from ecrguard.sources.aws.calls import Client, Failure

RESPONSE = dict[str, Any]


def get_trails(client: Client) -> list[RESPONSE]:
    """This region's trails and other regions' multi-region ones (shadow trails)."""
    trails: list[RESPONSE] = client.describe_trails(includeShadowTrails=True)["trailList"]
    return trails


def get_trail_status(client: Client, arn: str) -> RESPONSE:
    return _strip(client.get_trail_status(Name=arn))


def get_event_selectors(client: Client, arn: str) -> RESPONSE:
    return _strip(client.get_event_selectors(TrailName=arn))


def _strip(response: RESPONSE) -> RESPONSE:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def records_management_writes(selectors: RESPONSE) -> bool:
    """Whether some selector records management events that change something."""
    for selector in selectors.get("EventSelectors") or ():
        if selector.get("IncludeManagementEvents", True) and selector.get(
            "ReadWriteType", "All"
        ) in ("All", "WriteOnly"):
            return True
    for selector in selectors.get("AdvancedEventSelectors") or ():
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors") or ()}
        if "Management" not in ((fields.get("eventCategory") or {}).get("Equals") or ()):
            continue
        read_only = (fields.get("readOnly") or {}).get("Equals") or ()
        if not read_only or "false" in [str(v).lower() for v in read_only]:
            return True
    return False


def transform_trail(
    raw: RESPONSE, status: RESPONSE | Failure, selectors: RESPONSE | Failure
) -> Trail:
    arn = raw["TrailARN"]
    origin = Origin(arn)
    return Trail(
        id=arn,
        origin=origin,
        account=arn.split(":")[4],
        region=raw.get("HomeRegion") or arn.split(":")[3],
        name=Sourced.set(raw["Name"], origin),
        multi_region=Sourced.set(bool(raw.get("IsMultiRegionTrail", False)), origin),
        logging=(
            Sourced.unresolved(origin, status.reason)
            if isinstance(status, Failure)
            else Sourced.set(bool(status.get("IsLogging", False)), origin)
        ),
        log_validation=Sourced.set(bool(raw.get("LogFileValidationEnabled", False)), origin),
        management_events=(
            Sourced.unresolved(origin, selectors.reason)
            if isinstance(selectors, Failure)
            else Sourced.set(records_management_writes(selectors), origin)
        ),
        bucket=(
            Sourced.set(raw["S3BucketName"], origin)
            if raw.get("S3BucketName")
            else Sourced.default(None, origin)
        ),
    )
