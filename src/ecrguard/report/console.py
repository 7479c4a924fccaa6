"""Console: a rich table grouped by lab and severity, then one summary line."""

from __future__ import annotations

import io

from ecrguard.model import Finding, Status
from ecrguard.report import Report

_STYLE = {Status.FAIL: "bold red", Status.UNKNOWN: "yellow", Status.PASS: "green"}
_SEV_STYLE = {
    "critical": "bold magenta",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def _key(f: Finding) -> tuple[str, int, str, str]:
    return (f.labs[0] if f.labs else "--", -f.severity.rank, f.rule, f.resource)


def render(report: Report, color: bool = True) -> str:
    from rich.console import Console
    from rich.table import Table

    buf = io.StringIO()
    console = Console(
        file=buf, force_terminal=color, no_color=not color, width=160 if not color else None
    )
    shown = sorted((f for f in report.findings if f.status is not Status.PASS), key=_key)
    if shown:
        table = Table(title=f"ecrguard {report.command}", show_lines=False, expand=False)
        for col in ("Lab", "Severity", "Status", "Rule", "Resource", "Finding"):
            table.add_column(col, overflow="fold")
        last_lab = None
        for f in shown:
            lab = ",".join(f.labs)
            if last_lab is not None and lab != last_lab:
                table.add_section()
            last_lab = lab
            where = f.resource + (f"\n{f.file}:{f.line}" if f.file else "")
            table.add_row(
                lab,
                f"[{_SEV_STYLE[f.severity.value]}]{f.severity.value}[/]",
                f"[{_STYLE[f.status]}]{f.status.value}[/]",
                f.rule,
                where,
                f.message,
            )
        console.print(table)
    for issue in report.issues:
        console.print(
            f"[yellow]could not read[/] {issue['scope']}: {issue['operation']}: {issue['reason']}"
        )
    c = report.counts()
    resources = len({f.resource for f in report.findings})
    style = "bold red" if c["FAIL"] else ("yellow" if c["UNKNOWN"] else "bold green")
    console.print(
        f"[{style}]{c['FAIL']} failed[/], {c['UNKNOWN']} unknown, {c['PASS']} passed "
        f"— {len(report.findings)} checks on {resources} resources"
        + (f" ({report.stats['api_calls']} API calls)" if "api_calls" in report.stats else "")
    )
    return buf.getvalue()
