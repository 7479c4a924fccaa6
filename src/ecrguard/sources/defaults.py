"""What AWS does when infrastructure code leaves a setting out.

Terraform (HCL and plan JSON) and CloudFormation both fall back to these, so
the sources agree on every default and a rule sees the same model whichever
format declared the resource. The live collector needs none of them: the API
reports the value in effect.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# ECR repositories and creation templates.
TAG_MUTABILITY = "MUTABLE"
ENCRYPTION_TYPE = "AES256"
SCAN_ON_PUSH = False
FORCE_DELETE = False

# The private registry.
POLICY_SCOPE = "V2"  # account setting REGISTRY_POLICY_SCOPE
SCAN_TYPE = "BASIC"

# VPC endpoints.
ENDPOINT_TYPE = "Gateway"

# KMS keys declared in code are customer managed; rotation is off until enabled.
KEY_MANAGER = "CUSTOMER"
KEY_ROTATION = False

# CloudTrail trails (CloudFormation requires IsLogging; Terraform starts logging).
TRAIL_MULTI_REGION = False
TRAIL_LOGGING = True
TRAIL_LOG_VALIDATION = False
SELECTOR_MANAGEMENT_EVENTS = True
SELECTOR_READ_WRITE = "All"

# EventBridge rules.
EVENT_RULE_STATE = "ENABLED"


def records_management_writes(
    selectors: Sequence[tuple[bool, str]],
    advanced: Sequence[Iterable[tuple[str, Sequence[str]]]],
) -> bool:
    """Whether a trail's selectors record management *write* events.

    ``selectors`` are the basic event selectors as (include management events,
    read/write type); ``advanced`` are advanced selectors as (field, equals)
    pairs. A trail with neither logs every management event, which is the
    CloudTrail default. An advanced selector counts when it selects the
    Management category and does not narrow it to read-only events.
    """
    if not selectors and not advanced:
        return True
    for include, read_write in selectors:
        if include and read_write in ("All", "WriteOnly"):
            return True
    for fields in advanced:
        equals: Mapping[str, Sequence[str]] = dict(fields)
        if "Management" in equals.get("eventCategory", ()) and list(equals.get("readOnly", ())) != [
            "true"
        ]:
            return True
    return False
