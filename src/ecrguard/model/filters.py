"""ECR's repository-filter semantics, shared by the rules and the emulator."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(map(re.escape, text.split("*"))))


def scan_filter_matches(pattern: str, name: str) -> bool:
    """A registry scanning filter against a repository name.

    As the ECR user guide's "Filter wildcards" table says: a filter without a
    wildcard matches every name that *contains* it; ``*`` stands for zero or
    more characters, and then the whole name must match.
    """
    if "*" not in pattern:
        return pattern in name
    return _pattern(pattern).fullmatch(name) is not None
