"""SARIF 2.1.0 for GitHub code scanning (and any other SARIF consumer).

What GitHub requires, and why each choice below was made (GitHub docs, "SARIF
support for code scanning" and "SARIF results exceed one or more limits"):

- ``$schema`` and ``version: "2.1.0"``; ``tool.driver`` with ``name`` and
  ``rules``. Rules carry ``shortDescription``/``fullDescription`` (shown at the
  top of an alert), ``help`` (text and markdown), ``defaultConfiguration.level``
  and, in ``properties``, ``security-severity`` (a score as a string: over 9.0
  critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low) and ``tags``. GitHub only
  shows the security severity of rules tagged ``security``.
- Every result is an alert, so PASS results are left out; UNKNOWN results are
  kept as ``note`` so that a check nobody could judge stays visible.
- Every result needs a physical location: ``upload-sarif`` rejects the *whole
  file* ("locationFromSarifResult: expected at least one location" /
  "expected artifact location"; github/codeql-action#1738, #2459) when one result
  has no location or only a logical one. IaC findings point at their file,
  relative to the current directory (run ecrguard from the repository root, as
  GitHub resolves relative URIs against it). Live findings have no file, so they
  get a stable pseudo path ``aws/<account>/<region>/<service>/<resource>`` with
  line 1, and keep the ARN as a companion logical location.
- ``partialFingerprints`` keep one alert per problem across runs; without them
  the API upload may duplicate alerts. Ours hash rule, resource and file, not
  the line, so an edit above a resource does not reopen its alert.
- A run is capped at 25,000 results and a rule at 20 tags; ecrguard's rule set
  and tag list stay far below both.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ecrguard import __version__
from ecrguard.model import Finding, Severity, Status
from ecrguard.report import Report
from ecrguard.report.jsontext import dumps

if TYPE_CHECKING:
    from ecrguard.rules.base import Rule

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
# The project's home page; GitHub links the tool name to it.
INFORMATION_URI = "https://github.com/ecrguard/ecrguard"
FINGERPRINT_KEY = "ecrguard/v1"
SRCROOT = "%SRCROOT%"

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "warning",
    Severity.INFO: "note",
}
_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9._-]+")


def render(report: Report, root: Path | None = None) -> str:
    """The SARIF log for a report; file URIs are made relative to ``root`` (default: cwd)."""
    base = (root or Path.cwd()).resolve()
    descriptors = _descriptors(report.findings)
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    locator = _Locator(base)
    # Each result is laid out as text as soon as it is built: holding ten thousand
    # result dicts at once set off the collector's full passes over the heap.
    results = [
        dumps(_result(f, index[f.rule], locator), 4)
        for f in report.findings
        if f.status is not Status.PASS
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "ecrguard",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": descriptors,
            }
        },
        # Separates `scan` and `iac` uploads, which GitHub would otherwise treat as
        # one analysis and let each close the other's alerts.
        "automationDetails": {"id": f"ecrguard/{report.command}/"},
        "originalUriBaseIds": {SRCROOT: {"uri": base.as_uri().rstrip("/") + "/"}},
        "invocations": [_invocation(report)],
        "results": [],
    }
    doc = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    text = dumps(doc)
    if not results:
        return text + "\n"
    # "results" is the last key of the last run, so its [] is the last one.
    cut = text.rindex("[]")
    items = ",\n".join(f"        {r}" for r in results)
    return f"{text[:cut]}[\n{items}\n      ]{text[cut + 2 :]}\n"


# ---- rules -------------------------------------------------------------------------


def _descriptors(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    from ecrguard.rules import RULES

    first: dict[str, Finding] = {}
    for f in findings:
        first.setdefault(f.rule, f)
    out = []
    for rule_id in sorted(first):
        rule = RULES.get(rule_id)
        out.append(_descriptor(rule) if rule is not None else _bare_descriptor(first[rule_id]))
    return out


def _descriptor(rule: Rule) -> dict[str, Any]:
    from ecrguard.rules.docs import render_rule

    refs = rule.references
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _pascal(rule.title),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.docs.what},
        "help": {"text": render_rule(rule), "markdown": _help_markdown(rule)},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": _rule_properties(rule.severity, rule.labs),
    }
    if refs.docs:
        descriptor["helpUri"] = refs.docs[0]
    return descriptor


def _bare_descriptor(f: Finding) -> dict[str, Any]:
    """For a finding whose rule is not in RULES (e.g. from an older findings file)."""
    help_text = f.title + (f"\n\nRemediation:\n{f.remediation}" if f.remediation else "")
    return {
        "id": f.rule,
        "name": _pascal(f.title),
        "shortDescription": {"text": f.title},
        "fullDescription": {"text": f.title},
        "help": {"text": help_text, "markdown": help_text},
        "defaultConfiguration": {"level": _LEVEL[f.severity]},
        "properties": _rule_properties(f.severity, f.labs),
    }


def _rule_properties(severity: Severity, labs: Iterable[str]) -> dict[str, Any]:
    return {
        "security-severity": SECURITY_SEVERITY[severity],
        "tags": ["security", "aws", "ecr", *(f"lab-{lab}" for lab in labs)],
    }


def _help_markdown(rule: Rule) -> str:
    from ecrguard.rules.docs import sections

    parts = [f"**{rule.title}** (severity {rule.severity.value}; labs {', '.join(rule.labs)})"]
    for name, text in sections(rule).items():
        body = f"```\n{text}\n```" if name == "Example" else text
        parts.append(f"## {name}\n\n{body}")
    parts.append(f"## Remediation (AWS CLI)\n\n```sh\n{rule.remediation.cli}\n```")
    parts.append(f"## Remediation (Terraform)\n\n```hcl\n{rule.remediation.terraform}\n```")
    refs = rule.references
    pairs = [
        ("Prowler", refs.prowler),
        ("Checkov", refs.checkov),
        ("Trivy", refs.trivy),
        ("AWS Security Hub (FSBP)", refs.fsbp),
        ("AWS docs", refs.docs),
    ]
    ref_lines = [f"- {label}: {', '.join(v)}" for label, v in pairs if v]
    if ref_lines:
        parts.append("## References\n\n" + "\n".join(ref_lines))
    parts.append(f"Run `ecrguard rule {rule.id}` for these docs in a terminal.")
    return "\n\n".join(parts) + "\n"


def _pascal(title: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", title))


# ---- results -----------------------------------------------------------------------


def _result(f: Finding, rule_index: int, locator: _Locator) -> dict[str, Any]:
    uri, base_id = locator.artifact_uri(f)
    artifact: dict[str, Any] = {"uri": uri}
    if base_id:
        artifact["uriBaseId"] = base_id
    location: dict[str, Any] = {
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": {"startLine": f.line if f.line and f.line > 0 else 1},
        }
    }
    if f.resource:
        location["logicalLocations"] = [
            {"name": f.resource.rsplit("/", 1)[-1], "fullyQualifiedName": f.resource}
        ]
    if f.status is Status.UNKNOWN:
        level = "note"
        text = f"ecrguard could not judge this check (UNKNOWN): {f.message}"
    else:
        level = _LEVEL[f.severity]
        text = f.message
    if not f.file and f.resource:
        # The pseudo path is not a real file, so name the resource in the text users read.
        text += f" [resource: {f.resource}]"
    properties: dict[str, Any] = {"status": f.status.value, "resource": f.resource}
    if f.account:
        properties["account"] = f.account
    if f.region:
        properties["region"] = f.region
    if f.remediation:
        properties["remediation"] = f.remediation
    return {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: _fingerprint(f, uri)},
        "properties": properties,
    }


class _Locator:
    """Artifact URIs for one report.

    Resolving a path costs a system call per component, and findings repeat
    files and directories, so each file and each directory is resolved once.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self._files: dict[str, tuple[str, str | None]] = {}
        self._reals: dict[str, str] = {}

    def artifact_uri(self, f: Finding) -> tuple[str, str | None]:
        """A URI GitHub can place: relative to ``base``, else absolute, else a pseudo path."""
        if not f.file:
            return _pseudo_path(f), None
        found = self._files.get(f.file)
        if found is None:
            found = self._files[f.file] = self._file_uri(f.file)
        return found

    def _file_uri(self, file: str) -> tuple[str, str | None]:
        path = Path(file)
        resolved = Path(self._real(str(path if path.is_absolute() else self.base / path)))
        try:
            relative = resolved.relative_to(self.base)
        except ValueError:
            # Outside the checkout GitHub cannot show the file anyway; an absolute
            # URI at least stays truthful and stable.
            return resolved.as_uri(), None
        return quote(relative.as_posix()), SRCROOT

    def _real(self, path: str) -> str:
        """``str(Path(path).resolve())`` for an absolute path, remembering directories.

        POSIX ``realpath`` resolves one component at a time, and the answer for
        a directory is where it stands after that directory's components. So a
        path whose last component is no symbolic link resolves to its resolved
        directory plus that name; anything else is left to ``Path.resolve``
        (as is Windows, whose resolution also normalises each name's case).
        """
        known = self._reals.get(path)
        if known is not None:
            return known
        head, name = os.path.split(path)
        if name in ("", ".", "..") or os.name != "posix":
            return str(Path(path).resolve())
        candidate = os.path.join(self._real(head), name)
        try:
            link = stat.S_ISLNK(os.lstat(candidate).st_mode)
        except OSError:  # as realpath: a missing component stays as written
            link = False
        # Path.resolve also turns a symlink loop into RuntimeError.
        real = str(Path(path).resolve()) if link else candidate
        self._reals[path] = real
        return real


def _pseudo_path(f: Finding) -> str:
    """``aws/<account>/<region>/<service>/<resource...>`` from the finding's ARN or id."""
    account, region, tail = f.account or "unknown-account", f.region or "global", f.resource
    parts = f.resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn":
        service, region, account = parts[2], parts[3] or region, parts[4] or account
        tail = f"{service}/{parts[5].replace(':', '/')}"
    head = [_segment(account), _segment(region)]
    segments = [_segment(x) for x in tail.split("/") if x]
    if segments[:2] == head:  # a scope id such as "<account>/<region>" names itself once
        segments = segments[2:]
    return "/".join(["aws", *head, *segments])


def _segment(text: str) -> str:
    return _UNSAFE_SEGMENT.sub("_", text).strip("._") or "_"


def _fingerprint(f: Finding, uri: str) -> str:
    # The line is left out on purpose: alerts should survive edits above them.
    key = "\0".join((f.rule, f.resource, uri))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _invocation(report: Report) -> dict[str, Any]:
    invocation: dict[str, Any] = {"executionSuccessful": True}
    notes = [
        {
            "level": "warning",
            "message": {
                "text": f"could not read {i.get('scope', '?')}: {i.get('operation', '?')}: "
                f"{i.get('reason', '?')}"
            },
        }
        for i in report.issues
    ]
    if notes:
        invocation["toolExecutionNotifications"] = notes
    return invocation


__all__ = ["FINGERPRINT_KEY", "SECURITY_SEVERITY", "render"]
