"""JSON: every result (PASS, FAIL and UNKNOWN) with the DESIGN.md fields."""

from __future__ import annotations

import io
import json
from typing import TextIO

from ecrguard import __version__
from ecrguard.report import Report


def render(report: Report) -> str:
    out = io.StringIO()
    write(report, out)
    return out.getvalue()


def write(report: Report, out: TextIO) -> None:
    """Write the document one finding at a time, exactly as ``json.dumps(doc, indent=2)``.

    A scan of thousands of repositories has tens of thousands of findings; a
    single string of all of them would set the scan's peak memory.
    """
    head = {
        "tool": "ecrguard",
        "version": __version__,
        "command": report.command,
        "summary": {**report.counts(), "total": len(report.findings), **report.stats},
        "issues": list(report.issues),
        "findings": [],
    }
    text = json.dumps(head, indent=2)
    out.write(text[: text.rindex("[]")])
    if not report.findings:
        out.write("[]\n}\n")
        return
    out.write("[\n")
    last = len(report.findings) - 1
    for i, finding in enumerate(report.findings):
        item = json.dumps(finding.to_dict(), indent=2).replace("\n", "\n    ")
        out.write(f"    {item}{',' if i < last else ''}\n")
    out.write("  ]\n}\n")
