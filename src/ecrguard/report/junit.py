"""JUnit XML: one test case per result, so CI dashboards show each check."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from ecrguard.model import Status
from ecrguard.report import Report


def render(report: Report) -> str:
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name=f"ecrguard {report.command}",
        tests=str(len(report.findings)),
        failures=str(counts["FAIL"]),
        skipped=str(counts["UNKNOWN"]),
    )
    for f in report.findings:
        case = ET.SubElement(suite, "testcase", classname=f.rule, name=f"{f.resource}")
        if f.status is Status.FAIL:
            node = ET.SubElement(case, "failure", message=f.message, type=f.severity.value)
            node.text = f.remediation
        elif f.status is Status.UNKNOWN:
            ET.SubElement(case, "skipped", message=f.message)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
