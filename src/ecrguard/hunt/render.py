"""Hunt output: a rich table with one summary line, or JSON."""

from __future__ import annotations

import io
import json

from ecrguard.hunt import HuntResult

_SEV_STYLE = {
    "critical": "bold magenta",
    "high": "red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def summary_line(result: HuntResult) -> str:
    line = (
        f"{result.events} events read from {result.files} files, {len(result.findings)} "
        f"findings, {result.malformed_records} malformed records skipped"
    )
    return line + (f", {len(result.skipped)} files skipped" if result.skipped else "")


def render_json(result: HuntResult) -> str:
    doc = {"summary": result.summary(), "findings": [f.to_dict() for f in result.findings]}
    return json.dumps(doc, indent=2) + "\n"


def render_console(result: HuntResult, color: bool = True) -> str:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf, force_terminal=color, no_color=not color, width=160 if not color else None
    )
    if result.findings:
        table = Table(title="ecrguard hunt", expand=False)
        for col in ("Time", "Severity", "Detection", "Principal", "Source IP", "Finding"):
            table.add_column(col, overflow="fold")
        for f in result.findings:
            # Log values are attacker-influenced: Text() never interprets rich markup
            # and strips terminal control codes.
            who = f.principal_arn or f.principal_account or "?"
            table.add_row(
                Text(f.event_time),
                Text(f.severity.value, style=_SEV_STYLE[f.severity.value]),
                Text(f.detection),
                Text(who),
                Text(f.source_ip or ""),
                Text(f.message + (f" [{f.count} events]" if f.count > 1 else "")),
            )
        console.print(table)
    for name, reason in result.skipped:
        console.print(Text.assemble(("skipped ", "yellow"), f"{name}: {reason}"))
    style = "bold red" if result.findings else "bold green"
    console.print(Text(summary_line(result), style=style))
    return buf.getvalue()
