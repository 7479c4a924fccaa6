"""Reporters turn findings into output. None of them knows where a finding came from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ecrguard.errors import UsageError
from ecrguard.model import Finding, Status


@dataclass(frozen=True)
class Report:
    findings: Sequence[Finding]
    command: str
    issues: Sequence[dict[str, str]] = ()
    stats: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        # By member, not .value: the enum descriptor was most of the cost.
        c = Counter(f.status for f in self.findings)
        return {"PASS": c[Status.PASS], "FAIL": c[Status.FAIL], "UNKNOWN": c[Status.UNKNOWN]}


FORMATS = ("console", "json", "sarif", "ocsf", "asff", "junit", "html")
AVAILABLE = ("console", "json", "sarif", "junit")


def renderer(fmt: str) -> Callable[[Report, bool], str]:
    """The function for a format; ``color`` only matters to the console."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt not in AVAILABLE:
        raise UsageError(
            f"format {fmt!r} is planned but not available in this version; use one of {', '.join(AVAILABLE)}"
        )
    if fmt == "console":
        from ecrguard.report.console import render as console

        return console
    if fmt == "junit":
        from ecrguard.report.junit import render as junit

        return lambda report, color: junit(report)
    if fmt == "sarif":
        from ecrguard.report.sarif import render as sarif

        return lambda report, color: sarif(report)
    from ecrguard.report.jsonout import render as as_json

    return lambda report, color: as_json(report)


__all__ = ["AVAILABLE", "FORMATS", "Report", "renderer"]
