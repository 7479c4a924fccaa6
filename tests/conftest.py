"""Shared fixtures: the CLI as a user runs it, and one embedded emulator per session."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Tests talk only to loopback: no real AWS credentials, no metadata service.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("AWS_PROFILE", None)


@dataclass
class Run:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: str | None = None) -> Run:
    """Run ``ecrguard`` in a child process, exactly as a user would."""
    proc = subprocess.run(
        [sys.executable, "-m", "ecrguard", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def emulator() -> Iterator[object]:
    from ecrguard.emulator import Emulator

    with Emulator() as emu:
        yield emu
