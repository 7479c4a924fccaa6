"""Emulator state that belongs to no AWS account, kept where moto's reset finds it.

The scan-findings fixture describes the world's vulnerabilities, not one
account's images; the identity behind an access key spans accounts too. It lives in a backend of its own in a moto ``BackendDict``:
moto resets and drops every ``BackendDict`` instance on ``/moto-api/reset``,
so this state is wiped with everything else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from moto.core.base_backend import BackendDict, BaseBackend

# One instance for the whole emulator; the account and region name nothing.
_ACCOUNT = "000000000000"
_SCOPE = "aws"


class EmulatorState(BaseBackend):
    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        # Image reference (digest or "repository:tag") -> the findings a scan reports.
        self.scan_findings: dict[str, tuple[Any, ...]] = {}
        # When the "vulnerability database" last changed: the fixture's load time.
        self.findings_updated_at = datetime.now(UTC)
        # (account, access key) -> CloudTrail userIdentity; a key's owner never changes.
        self.identities: dict[tuple[str, str], dict[str, Any]] = {}
        # (account, region) -> CloudTrail event history, oldest first, for LookupEvents.
        self.event_history: dict[tuple[str, str], list[Any]] = {}


_states = BackendDict(
    EmulatorState, "ecrguard", use_boto3_regions=False, additional_regions=[_SCOPE]
)


def emulator_state() -> EmulatorState:
    # Every recorded request asks for this; plain dict reads skip the lock
    # BackendDict takes on each lookup, and fall back to it after a reset.
    accounts = dict.get(_states, _ACCOUNT)
    state = dict.get(accounts, _SCOPE) if accounts is not None else None
    return state if state is not None else _states[_ACCOUNT][_SCOPE]
