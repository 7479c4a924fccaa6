"""Amazon Inspector's account configuration: ``GetConfiguration`` and ``UpdateConfiguration``.

moto 5.2 routes neither; both are added on moto's inspector2 responses, with
state on its per-account, per-region ``Inspector2Backend`` so a reset wipes it.
``BatchGetAccountStatus`` is replaced too: moto fails without ``accountIds``
(AWS then reports the caller) and leaves out accounts it never enabled (AWS
reports them ``DISABLED``).

Defaults (an account that never called ``UpdateConfiguration``) follow the
Inspector user guide: ECR images are re-scanned for 14 days after push and 14
days after they were last in use (``DAYS_14``, ``DAYS_14``, ``LAST_IN_USE_AT``);
EC2 scanning is agent based. Only the caller's own account can be configured;
a delegated administrator configuring a member is not emulated.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from moto.core.responses import ActionResult
from moto.inspector2 import urls
from moto.inspector2.models import AccountStatus, Inspector2Backend
from moto.inspector2.responses import Inspector2Response

from ecrguard.emulator.validation import ValidationException, check_input

ECR_DEFAULTS = {
    "rescanDuration": "DAYS_14",
    "pullDateRescanDuration": "DAYS_14",
    "pullDateRescanMode": "LAST_IN_USE_AT",
}
EC2_DEFAULT = "EC2_SSM_AGENT_BASED"
_STATE = "_ecrguard_configuration"


def install() -> None:
    urls.url_paths["{0}/configuration/get$"] = Inspector2Response.dispatch
    urls.url_paths["{0}/configuration/update$"] = Inspector2Response.dispatch
    Inspector2Response.get_configuration = get_configuration  # type: ignore[attr-defined]
    Inspector2Response.update_configuration = update_configuration  # type: ignore[attr-defined]
    Inspector2Response.batch_get_account_status = batch_get_account_status  # type: ignore[method-assign,assignment]
    Inspector2Response.enable = _for_caller(Inspector2Response.enable)  # type: ignore[method-assign]
    Inspector2Response.disable = _for_caller(Inspector2Response.disable)  # type: ignore[method-assign]


def _for_caller(action: Any) -> Any:
    """Enable/Disable without ``accountIds`` mean the caller's account, as in AWS;
    moto fails on the missing list."""
    if getattr(action, "_ecrguard_for_caller", False):
        return action

    def wrapped(self: Inspector2Response) -> Any:
        if self._get_param("accountIds") is None:
            body = json.loads(self.body or "{}")
            body["accountIds"] = [self.current_account]
            self.body = json.dumps(body)
            self._body_json = None  # type: ignore[attr-defined]  # moto caches the parsed body
        return action(self)

    wrapped._ecrguard_for_caller = True  # type: ignore[attr-defined]
    return wrapped


def _configuration(backend: Inspector2Backend) -> dict[str, Any]:
    # Set on the backend's __dict__, which moto replaces on reset.
    state: dict[str, Any] = backend.__dict__.setdefault(
        _STATE,
        {"ecr": dict(ECR_DEFAULTS), "ec2": EC2_DEFAULT, "updated_at": None},
    )
    return state


def _own_account(self: Inspector2Response, params: dict[str, Any]) -> None:
    account = params.get("accountId")
    if account is not None and account != self.current_account:
        raise ValidationException(
            f"The emulator configures only the caller's own account ({self.current_account}), "
            f"not {account}"
        )


def get_configuration(self: Inspector2Response) -> ActionResult:
    params = check_input(self, "GetConfiguration", "inspector2")
    _own_account(self, params)
    state = _configuration(self.inspector2_backend)
    ecr: dict[str, Any] = {**state["ecr"], "status": "SUCCESS"}
    if state["updated_at"] is not None:
        ecr["updatedAt"] = state["updated_at"]
    return ActionResult(
        {
            "ecrConfiguration": {"rescanDurationState": ecr},
            "ec2Configuration": {
                "scanModeState": {"scanMode": state["ec2"], "scanModeStatus": "SUCCESS"}
            },
        }
    )


def update_configuration(self: Inspector2Response) -> ActionResult:
    params = check_input(self, "UpdateConfiguration", "inspector2")
    _own_account(self, params)
    ecr, ec2 = params.get("ecrConfiguration"), params.get("ec2Configuration")
    if ecr is None and ec2 is None and params.get("amiConfiguration") is None:
        raise ValidationException(
            "At least one of ecrConfiguration, ec2Configuration or amiConfiguration is required"
        )
    state = _configuration(self.inspector2_backend)
    if ecr is not None:
        # Members left out keep their value, as an update of one duration should.
        state["ecr"].update({k: v for k, v in ecr.items() if k in ECR_DEFAULTS})
    if ec2 is not None:
        state["ec2"] = ec2["scanMode"]
    state["updated_at"] = datetime.now(UTC)
    return ActionResult({})


def batch_get_account_status(self: Inspector2Response) -> ActionResult:
    params = check_input(self, "BatchGetAccountStatus", "inspector2")
    known = self.inspector2_backend.account_status
    accounts = [
        (known.get(account) or AccountStatus(account)).to_batch_json()
        for account in params.get("accountIds") or [self.current_account]
    ]
    return ActionResult({"accounts": accounts, "failedAccounts": []})
