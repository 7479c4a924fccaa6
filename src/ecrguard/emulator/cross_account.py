"""ECR requests into another account's registry, decided by its repository policy.

moto serves every request from the caller's own account and ignores
``registryId``, so an outsider's pull from a victim's repository fails with
``RepositoryNotFoundException`` even when the repository policy lets anyone
pull. AWS routes such a request to the named registry and lets it through when
the repository policy grants the caller the action. The emulator does the
same for repository operations (``registryId`` of another emulated account and
a ``repositoryName``):

- the request is served by the owner's registry;
- it is allowed only when the repository policy, judged by ecrguard's policy
  engine (the one that decides every lab), allows the caller's principal the
  ``ecr:<Operation>`` action on the repository ARN; otherwise it fails with
  ``AccessDeniedException``, as AWS words it.

The caller's identity policies are not consulted, as moto does not consult them
unless IAM enforcement is on. A ``registryId`` naming an account the emulator
has never seen is left to moto.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from moto.ecr.models import ecr_backends
from moto.ecr.responses import ECRResponse

from ecrguard.emulator.identity import organization_of, user_identity

Served = tuple[int, dict[str, Any], Any]


def routed(call_action: Callable[[ECRResponse], Served]) -> Callable[[ECRResponse], Served]:
    def call(self: ECRResponse) -> Served:
        try:
            body = json.loads(self.body) if self.body else {}
        except ValueError:
            body = {}
        owner = body.get("registryId") if isinstance(body, dict) else None
        name = body.get("repositoryName") if isinstance(body, dict) else None
        caller = self.current_account
        if (
            not isinstance(owner, str)
            or not isinstance(name, str)
            or owner == caller
            or owner not in ecr_backends
        ):
            return call_action(self)
        repository = ecr_backends[owner][self.region].repositories.get(name)
        # The owner's registry answers, whatever it answers: its repository,
        # its RepositoryNotFoundException, or a refusal.
        self.current_account = owner
        if repository is not None:
            action = f"ecr:{self._get_action()}"
            principal = user_identity(self, caller)["arn"]
            if not _allowed(repository.policy, principal, caller, action, repository.arn):
                return _access_denied(self, principal, action, repository.arn)
        return call_action(self)

    return call


def _allowed(policy_text: str | None, principal: str, account: str, action: str, arn: str) -> bool:
    from ecrguard.errors import PolicyParseError, UsageError
    from ecrguard.policy import Decision, Request, evaluate, parse_policy

    if not policy_text:
        return False
    context: dict[str, list[str]] = {}
    organization = organization_of(account)
    if organization is not None:
        context["aws:PrincipalOrgID"] = [organization]
    try:
        policy = parse_policy(policy_text)
        request = Request.build(principal, action, arn, context)
    except (PolicyParseError, UsageError):
        return False  # a policy AWS would not store, or a caller it cannot name
    return evaluate(policy, request).decision is Decision.ALLOW


def _access_denied(self: ECRResponse, principal: str, action: str, arn: str) -> Served:
    message = (
        f"User: {principal} is not authorized to perform: {action} on resource: {arn} "
        f"because no resource-based policy allows the {action} action"
    )
    headers: dict[str, Any] = {"Content-Type": "application/x-amz-json-1.1", "status": 400}
    body = json.dumps({"__type": "AccessDeniedException", "message": message})
    headers, body = self._enrich_response(headers, body)
    return 400, headers, body
