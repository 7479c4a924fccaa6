"""JSON: every result (PASS, FAIL and UNKNOWN) with the DESIGN.md fields."""

from __future__ import annotations

import io
import json
from typing import Any, TextIO

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
        item = _finding_text(finding.to_dict())
        out.write(f"{item}{',' if i < last else ''}\n")
    out.write("  ]\n}\n")


# json.dumps with indent runs the pure-Python encoder: a third of an IaC scan's
# report time for 35,000 findings. A finding's fields are flat, so they are laid
# out here with the C string encoder, byte for byte as json.dumps(indent=2) would.
_string = json.encoder.encode_basestring_ascii


def _finding_text(doc: dict[str, Any]) -> str:
    """One finding as json.dumps(doc, indent=2), indented 4 more spaces."""
    fields = []
    for key, value in doc.items():
        text = _scalar(value)
        if text is None:
            if not isinstance(value, list) or not all(_scalar(v) is not None for v in value):
                # Anything else takes the general path.
                return "    " + json.dumps(doc, indent=2).replace("\n", "\n    ")
            if value:
                items = ",\n".join(f"        {_scalar(v)}" for v in value)
                text = f"[\n{items}\n      ]"
            else:
                text = "[]"
        fields.append(f"      {_string(key)}: {text}")
    if not fields:
        return "    {}"
    return "    {\n" + ",\n".join(fields) + "\n    }"


def _scalar(value: Any) -> str | None:
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int:
        return int.__repr__(value)
    return None
