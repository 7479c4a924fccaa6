"""The one IAM policy engine. Every policy rule asks it; none matches strings itself.

- :func:`parse_policy` reads a document (both versions, object or list Statement);
- :func:`evaluate` answers allow / explicit-deny / implicit-deny for one request;
- :func:`exposure` answers, per access level, the widest audience the policy admits.
"""

from ecrguard.policy.evaluate import Caller, Decision, Evaluation, Request, evaluate
from ecrguard.policy.exposure import Audience, Exposure, ServiceGrant, exposure
from ecrguard.policy.levels import (
    REGISTRY_V1_LEVELS,
    REGISTRY_V2_LEVELS,
    REPOSITORY_LEVELS,
    WRITE_LEVELS,
)
from ecrguard.policy.parse import Condition, Policy, Principal, Statement, parse_policy

__all__ = [
    "REGISTRY_V1_LEVELS",
    "REGISTRY_V2_LEVELS",
    "REPOSITORY_LEVELS",
    "WRITE_LEVELS",
    "Audience",
    "Caller",
    "Condition",
    "Decision",
    "Evaluation",
    "Exposure",
    "Policy",
    "Principal",
    "Request",
    "ServiceGrant",
    "Statement",
    "evaluate",
    "exposure",
    "parse_policy",
]
