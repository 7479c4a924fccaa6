"""Amazon Inspector: whether it scans ECR here, and for how long it re-scans (lab 07)."""

from __future__ import annotations

from typing import Any

from ecrguard.model import Inspector, Origin, Sourced
from ecrguard.sources.aws.calls import Client, Failure, error_code

RESPONSE = dict[str, Any]


def get_account_status(client: Client, account: str) -> RESPONSE:
    response: RESPONSE = client.batch_get_account_status(accountIds=[account])
    return response


def get_configuration(client: Client) -> RESPONSE | None:
    """``GetConfiguration``; None when the account never had a configuration."""
    from botocore.exceptions import ClientError

    try:
        response: RESPONSE = client.get_configuration()
    except ClientError as err:
        if error_code(err) == "ResourceNotFoundException":
            return None
        raise
    return response


def transform_inspector(
    account: str,
    status: RESPONSE | Failure,
    configuration: RESPONSE | Failure | None,
    origin: Origin,
) -> Sourced[Inspector]:
    # Either answer missing leaves the picture incomplete: a rule must not
    # pass "enabled" without knowing the re-scan durations, or the reverse.
    for response in (status, configuration):
        if isinstance(response, Failure):
            return Sourced.unresolved(origin, response.reason)
    assert not isinstance(status, Failure) and not isinstance(configuration, Failure)
    mine = next((a for a in status.get("accounts") or () if a.get("accountId") == account), None)
    if mine is None:
        failed: RESPONSE = next(
            (a for a in status.get("failedAccounts") or () if a.get("accountId") == account), {}
        )
        reason = failed.get("errorMessage") or "the account is missing from the answer"
        return Sourced.unresolved(origin, f"inspector2:BatchGetAccountStatus: {reason}")
    ecr = ((mine.get("resourceState") or {}).get("ecr") or {}).get("status") or "DISABLED"
    durations = ((configuration or {}).get("ecrConfiguration") or {}).get("rescanDurationState")
    durations = durations or {}
    return Sourced.set(
        Inspector(
            ecr_status=ecr,
            push_rescan=durations.get("rescanDuration"),
            pull_rescan=durations.get("pullDateRescanDuration"),
        ),
        origin,
    )
