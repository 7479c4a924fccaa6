"""The progress bar: on a terminal's stderr only, never under CI or over machine output."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def _scan_on_a_terminal(endpoint_url: str, *args: str, ci: bool = False) -> tuple[int, str, str]:
    """Run a scan whose stderr is a pseudo-terminal, as in an interactive shell."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    command = [
        "scan",
        "--endpoint-url",
        endpoint_url,
        "--region",
        "us-east-1",
        "--fail-on",
        "never",
    ]
    master, slave = pty.openpty()
    # stdout goes to a file: a full pipe would block the child while we read the terminal.
    with tempfile.TemporaryFile() as stdout:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecrguard", *command, *args],
            stdout=stdout,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        terminal = bytearray()
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            terminal += data
        os.close(master)
        code = proc.wait(timeout=120)
        stdout.seek(0)
        return code, stdout.read().decode(), terminal.decode(errors="replace")


def _seed(emu: Any) -> None:
    emu.reset()
    ecr = emu.client("ecr")
    for i in range(5):
        ecr.create_repository(repositoryName=f"progress-{i}")


def test_a_terminal_sees_the_bar_and_the_report_file_is_clean(
    emulator: Any, tmp_path: Path
) -> None:
    _seed(emulator)
    report = tmp_path / "report.json"

    code, _, terminal = _scan_on_a_terminal(
        emulator.endpoint_url, "--format", "json", "--output", str(report)
    )

    assert code == 0
    assert "scanning" in terminal and "tasks" in terminal
    assert json.loads(report.read_text())["summary"]["api_calls"] > 0


def test_no_bar_under_ci(emulator: Any, tmp_path: Path) -> None:
    _seed(emulator)

    code, _, terminal = _scan_on_a_terminal(
        emulator.endpoint_url, "--format", "json", "--output", str(tmp_path / "r.json"), ci=True
    )

    assert code == 0 and "scanning" not in terminal and "wrote" in terminal


def test_no_bar_when_stdout_carries_a_machine_format(emulator: Any) -> None:
    _seed(emulator)

    code, out, terminal = _scan_on_a_terminal(emulator.endpoint_url, "--format", "json")

    assert code == 0 and "scanning" not in terminal
    assert json.loads(out)["summary"]["api_calls"] > 0
