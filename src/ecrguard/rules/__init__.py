"""Every rule, listed explicitly. Nothing registers itself by import.

Rules live in modules named for their area: access (policies), network (VPC
endpoints), scanning, lifecycle (lifecycle policies, tags), encryption, audit.
"""

from __future__ import annotations

from ecrguard.rules import access, audit, encryption, lifecycle, network, scanning
from ecrguard.rules.base import Context, Result, Rule

RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        *access.RULES,
        *network.RULES,
        *scanning.RULES,
        *lifecycle.RULES,
        *encryption.RULES,
        *audit.RULES,
    )
}

__all__ = ["RULES", "Context", "Result", "Rule"]
