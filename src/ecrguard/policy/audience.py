"""Audience classes, ordered from nobody to anyone.

Apart from :mod:`ecrguard.policy.exposure` so that rule definitions can name
them without loading the policy engine (``ecrguard rule`` only lists rules).
"""

from __future__ import annotations

from enum import StrEnum


class Audience(StrEnum):
    NONE = "none"
    TRUSTED = "trusted"
    ORGANIZATION = "organization"
    EXTERNAL = "external"
    PUBLIC = "public"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {a: i for i, a in enumerate(Audience)}
