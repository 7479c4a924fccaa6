"""JSON: every result (PASS, FAIL and UNKNOWN) with the DESIGN.md fields."""

from __future__ import annotations

import json

from ecrguard import __version__
from ecrguard.report import Report


def render(report: Report) -> str:
    doc = {
        "tool": "ecrguard",
        "version": __version__,
        "command": report.command,
        "summary": {**report.counts(), "total": len(report.findings), **report.stats},
        "issues": list(report.issues),
        "findings": [f.to_dict() for f in report.findings],
    }
    return json.dumps(doc, indent=2) + "\n"
