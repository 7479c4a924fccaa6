"""The two slow CLI runs start once, in the background, when the first lab test runs.

Each starts its own emulator in a child process, so they overlap the in-process
lab tests instead of adding to them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ecrguard.labs.base import LabEnv
from ecrguard.labs.runner import LabRun
from tests.conftest import Run

REGION = "us-east-1"

JOBS = {
    "lab-run-02": ("lab", "run", "02", "--format", "json"),
    "seeded-scan": (
        "scan",
        "--emulator",
        "--seed-labs",
        "--region",
        "us-east-1",
        "--format",
        "json",
        "--fail-on",
        "never",
    ),
}


@pytest.fixture(scope="session", autouse=True)
def background_cli() -> Iterator[Callable[[str], Run]]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    jobs = {
        name: subprocess.Popen(
            [sys.executable, "-m", "ecrguard", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, args in JOBS.items()
    }
    done: dict[str, Run] = {}

    def result(name: str) -> Run:
        if name not in done:
            out, err = jobs[name].communicate(timeout=300)
            done[name] = Run(jobs[name].returncode, out, err)
        return done[name]

    yield result
    for proc in jobs.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture(scope="module")
def fresh_env(emulator: Any) -> Callable[[], LabEnv]:
    """A factory of lab environments, each on a freshly reset emulator."""

    def make() -> LabEnv:
        emulator.reset()
        return LabEnv(emulator.session(REGION), REGION, emulator.account_id, emulator.endpoint_url)

    return make


def steps(run: LabRun) -> list[tuple[str, bool]]:
    """(name, ok) of each step a lab run took."""
    return [(s.name, s.ok) for s in run.steps]
