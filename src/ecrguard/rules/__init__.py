"""Every rule, listed explicitly. Nothing registers itself by import."""

from __future__ import annotations

from ecrguard.rules import access, network
from ecrguard.rules.base import Context, Result, Rule

RULES: dict[str, Rule] = {r.id: r for r in (*access.RULES, *network.RULES)}

__all__ = ["RULES", "Context", "Result", "Rule"]
