"""The one IAM policy engine. Every policy rule asks it; none matches strings itself.

- :func:`parse_policy` reads a document (both versions, object or list Statement);
- :func:`evaluate` answers allow / explicit-deny / implicit-deny for one request;
- :func:`exposure` answers, per access level, the widest audience the policy admits.

The names below load their module on first use: importing a light submodule
(levels, audience, glob) must not load the engine, or ``ecrguard rule`` would
pay for it just to list rules.
"""

from __future__ import annotations

import sys
from importlib import import_module
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ecrguard.policy.audience import Audience
    from ecrguard.policy.evaluate import Caller, Decision, Evaluation, Request, evaluate
    from ecrguard.policy.exposure import Exposure, ServiceGrant, exposure
    from ecrguard.policy.levels import (
        REGISTRY_V1_LEVELS,
        REGISTRY_V2_LEVELS,
        REPOSITORY_LEVELS,
        WRITE_LEVELS,
    )
    from ecrguard.policy.parse import Condition, Policy, Principal, Statement, parse_policy

_HOMES = {
    "REGISTRY_V1_LEVELS": "levels",
    "REGISTRY_V2_LEVELS": "levels",
    "REPOSITORY_LEVELS": "levels",
    "WRITE_LEVELS": "levels",
    "Audience": "audience",
    "Caller": "evaluate",
    "Condition": "parse",
    "Decision": "evaluate",
    "Evaluation": "evaluate",
    "Exposure": "exposure",
    "Policy": "parse",
    "Principal": "parse",
    "Request": "evaluate",
    "ServiceGrant": "exposure",
    "Statement": "parse",
    "evaluate": "evaluate",
    "exposure": "exposure",
    "parse_policy": "parse",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


class _Package(ModuleType):
    """Keeps ``ecrguard.policy.exposure`` and ``.evaluate`` naming the functions.

    Importing a submodule binds it on the package under its own name; two of
    them share that name with the function they define, which the package has
    always exported. Eager imports used to rebind the function afterwards.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("evaluate", "exposure") and isinstance(value, ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
