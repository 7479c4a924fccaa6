"""JSON: every result (PASS, FAIL and UNKNOWN) with the DESIGN.md fields."""

from __future__ import annotations

import io
import json
from typing import TextIO

from ecrguard import __version__
from ecrguard.model import Finding, Severity, Status
from ecrguard.report import Report
from ecrguard.report.jsontext import dumps

# Findings per write: one write per finding cost as much as laying it out, and
# a batch of a few hundred still keeps memory flat.
_BATCH = 512


def render(report: Report) -> str:
    out = io.StringIO()
    write(report, out)
    return out.getvalue()


def write(report: Report, out: TextIO) -> None:
    """Write the document a batch of findings at a time, exactly as ``json.dumps(doc, indent=2)``.

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
    findings = report.findings
    for start in range(0, len(findings), _BATCH):
        if start:
            out.write(",\n")
        out.write(",\n".join([_finding_text(f) for f in findings[start : start + _BATCH]]))
    out.write("\n  ]\n}\n")


# json.dumps with indent runs the pure-Python encoder; 35,000 findings of an IaC
# scan made it most of the report's time. A finding's fields are flat and fixed,
# so they are laid out here, byte for byte as json.dumps(to_dict(), indent=2).
_string = json.encoder.encode_basestring_ascii
_STR_OR_NONE = (str, type(None))
# Enum .value is a descriptor call; these are looked up once per finding.
_SEVERITY_TEXT = {s: _string(s.value) for s in Severity}
_STATUS_TEXT = {s: _string(s.value) for s in Status}
# Rules share one labs tuple among all their findings.
_labs_text: dict[tuple[str, ...], str] = {}


def _finding_text(finding: Finding) -> str:
    """One finding as json.dumps(finding.to_dict(), indent=2), indented 4 more spaces."""
    f = finding
    severity, status, labs, line = f.severity, f.status, f.labs, f.line
    region, account, file = f.region, f.account, f.file
    if not (
        type(f) is Finding
        and type(severity) is Severity
        and type(status) is Status
        and type(labs) is tuple
        and type(f.rule) is str
        and type(f.title) is str
        and type(f.resource) is str
        and type(f.message) is str
        and type(f.remediation) is str
        and type(region) in _STR_OR_NONE
        and type(account) in _STR_OR_NONE
        and type(file) in _STR_OR_NONE
        and (line is None or type(line) is int)
    ):
        # Anything unusual takes the general path.
        return "    " + dumps(f.to_dict(), 2)
    try:
        labs_text = _labs_text[labs]
    except (KeyError, TypeError):  # TypeError: labs that cannot be a key
        labs_text = dumps(list(labs), 3)
        if len(_labs_text) < 1024 and all(type(lab) is str for lab in labs):
            _labs_text[labs] = labs_text
    return (
        f'    {{\n      "rule": {_string(f.rule)},\n'
        f'      "title": {_string(f.title)},\n'
        f'      "severity": {_SEVERITY_TEXT[severity]},\n'
        f'      "status": {_STATUS_TEXT[status]},\n'
        f'      "labs": {labs_text},\n'
        f'      "resource": {_string(f.resource)},\n'
        f'      "region": {"null" if region is None else _string(region)},\n'
        f'      "account": {"null" if account is None else _string(account)},\n'
        f'      "file": {"null" if file is None else _string(file)},\n'
        f'      "line": {"null" if line is None else int.__repr__(line)},\n'
        f'      "message": {_string(f.message)},\n'
        f'      "remediation": {_string(f.remediation)}\n'
        "    }"
    )
