"""AWS Organizations: the organization id and its member accounts, when readable.

Both tell rules which principals count as "inside": ``aws:PrincipalOrgID``
conditions and cross-account grants are judged against them.
"""

from __future__ import annotations

from typing import Any

from ecrguard.model import Organization, Origin, Sourced
from ecrguard.sources.aws.calls import Client, Failure, error_code

RESPONSE = dict[str, Any]


def get_organization(client: Client) -> RESPONSE | None:
    """``describe_organization``'s Organization, or None when the account is in none."""
    from botocore.exceptions import ClientError

    try:
        response = client.describe_organization()
    except ClientError as err:
        if error_code(err) == "AWSOrganizationsNotInUseException":
            return None
        raise
    organization: RESPONSE = response["Organization"]
    return organization


def get_accounts(client: Client) -> list[RESPONSE]:
    pages = client.get_paginator("list_accounts").paginate()
    return [account for page in pages for account in page.get("Accounts", [])]


def transform_organization(
    organization: RESPONSE, accounts: list[RESPONSE] | Failure
) -> Organization:
    origin = Origin(organization["Arn"])
    return Organization(
        id=Sourced.set(organization["Id"], origin),
        accounts=(
            Sourced.unresolved(origin, accounts.reason)
            if isinstance(accounts, Failure)
            else Sourced.set(tuple(sorted(a["Id"] for a in accounts)), origin)
        ),
    )
