"""What every benchmark here shares: measuring a command, medians, the machine, results.

Standard library only, so that the scripts run from ecrguard's own virtual
environment while the peers (Prowler, Checkov) run from theirs
(bench/.venv-peers/<tool>, see bench/README.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
PEERS = BENCH / ".venv-peers"
ECRGUARD = Path(sys.executable).with_name("ecrguard")


@dataclass(frozen=True)
class Measured:
    """One run of one command: wall seconds, its own peak RSS and CPU seconds, exit code."""

    seconds: float
    peak_mb: float
    code: int
    cpu_seconds: float = 0.0


def measure(
    command: list[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    stdout: Path | None = None,
) -> Measured:
    """Run ``command`` to completion; its output goes to ``stdout`` (a file) or /dev/null.

    The command is forked from bench/peak_rss.py, which reaps it with
    ``os.wait4`` and reports exactly its peak RSS and CPU time: forked from this
    driver, it would inherit the driver's peak (Linux keeps ``ru_maxrss`` across
    exec), and the drivers import boto3 or generate corpora in memory.
    """
    with tempfile.NamedTemporaryFile() as peak, contextlib.ExitStack() as stack:
        out = stack.enter_context(stdout.open("wb")) if stdout else subprocess.DEVNULL
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-S", str(BENCH / "peak_rss.py"), peak.name, "--", *command],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            check=False,
        )
        seconds = time.perf_counter() - started
        kib, cpu = (Path(peak.name).read_text() or "0 0").split()
    return Measured(round(seconds, 3), round(int(kib) / 1024, 1), done.returncode, float(cpu))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def summary(runs: list[Measured]) -> dict[str, Any]:
    return {
        "median_seconds": median([r.seconds for r in runs]),
        "median_peak_mb": median([r.peak_mb for r in runs]),
        "runs": [asdict(r) for r in runs],
    }


def machine() -> dict[str, Any]:
    """Enough to tell whether two result files came from comparable machines."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        memory_gb = None
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg(),
    }


def tool_version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return (done.stdout or done.stderr).strip().splitlines()[-1] if done.returncode == 0 else "?"


def peer(tool: str) -> Path | None:
    """A peer's executable in its own virtual environment, if it is installed."""
    path = PEERS / tool / "bin" / tool
    return path if path.exists() else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def fake_aws_env(**extra: str) -> dict[str, str]:
    """The environment for a tool that must talk to the emulator and nothing else."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in ("HTTP_PROXY", "HTTPS_PROXY")
    }
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        NO_PROXY="127.0.0.1,localhost",
        CI="true",
    )
    env.update(extra)
    return env


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def verdict(ratio: float, budget: float) -> str:
    return f"{ratio:.3f} (budget <= {budget}: {'met' if ratio <= budget else 'MISSED'})"
