"""Who made a request to the emulator, as CloudTrail's ``userIdentity`` names it.

moto finds the account from the access key (keys it issued, including
``AssumeRole`` credentials, belong to their account; any other key, to the
default account) or from an ``x-moto-account-id`` header. The identity within
the account follows the same lookup moto's ``GetCallerIdentity`` does:

- keys from ``sts:AssumeRole`` are an ``AssumedRole`` session of that role;
- keys from ``iam:CreateAccessKey`` are that ``IAMUser``;
- any other key (the emulator's default ``testing`` keys) acts as the
  account's ``Root``.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import BaseResponse
from moto.utilities.utils import get_partition

from ecrguard.emulator.state import emulator_state


def user_identity(response: BaseResponse, account: str) -> dict[str, Any]:
    # A key names one user or role session for its whole life; looking it up
    # once per key keeps IAM's and STS's scans off every request.
    cache = emulator_state().identities
    key = response.get_access_key()
    found = cache.get((account, key))
    if found is None:
        found = cache[(account, key)] = _lookup(key, account, get_partition(response.region))
    return found


def _lookup(key: str, account: str, partition: str) -> dict[str, Any]:
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    role = sts_backends[account][partition].get_assumed_role_from_access_key(key)
    if role is not None:
        principal = role.user_id  # role id and session: AROA...:session
        return {
            "type": "AssumedRole",
            "principalId": principal,
            "arn": role.arn,
            "accountId": account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": principal.split(":", 1)[0],
                    "arn": role.role_arn,
                    "accountId": account,
                    "userName": role.role_arn.rsplit("/", 1)[-1],
                },
                "attributes": {"mfaAuthenticated": "false"},
            },
        }
    user = iam_backends[account][partition].get_user_from_access_key_id(key)
    if user is not None:
        return {
            "type": "IAMUser",
            "principalId": user.id,
            "arn": user.arn,
            "accountId": account,
            "accessKeyId": key,
            "userName": user.name,
        }
    return {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:{partition}:iam::{account}:root",
        "accountId": account,
        "accessKeyId": key,
    }


def organization_of(account: str) -> str | None:
    """The id of the emulated organisation ``account`` belongs to, if any."""
    from moto.organizations.models import organizations_backends

    # moto maps members to their management account; the management account
    # itself is known only by the organisation in its own backend.
    master, partition = organizations_backends.master_accounts.get(account, (account, "aws"))
    if master not in organizations_backends:
        return None  # moto keeps this map across resets; the organisation is gone
    organization = organizations_backends[master][partition].org
    return organization.id if organization is not None else None
