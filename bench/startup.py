"""Start-up: how long ecrguard takes to answer before doing any real work.

Budget (DESIGN.md): ``ecrguard --version`` and ``ecrguard rule`` under 0.3 s. The
console script answers both before importing Typer, boto3 or tree-sitter
(src/ecrguard/entry.py); ``--help`` loads Typer and is shown for reference.
Prowler's and Checkov's ``--version`` are measured beside them when installed.

    .venv/bin/python bench/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
from typing import Any

# Run as a script, so bench/ is first on sys.path.
from common import ECRGUARD, machine, measure, median, peer, save, verdict

BUDGET = 0.3


def main() -> int:
    parser = argparse.ArgumentParser(description="ecrguard start-up times")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    commands: dict[str, list[str]] = {
        "ecrguard --version": [str(ECRGUARD), "--version"],
        "ecrguard rule": [str(ECRGUARD), "rule"],
        "ecrguard rule EG001": [str(ECRGUARD), "rule", "EG001"],
        "ecrguard --help": [str(ECRGUARD), "--help"],
    }
    for tool in ("prowler", "checkov"):
        path = peer(tool)
        if path is not None:
            commands[f"{tool} --version"] = [str(path), "--version"]
    result: dict[str, Any] = {"benchmark": "startup", "machine": machine(), "commands": {}}
    for name, command in commands.items():
        measure(command)  # warm the page cache; the runs below are what counts
        runs = [measure(command) for _ in range(args.runs)]
        seconds = median([r.seconds for r in runs])
        result["commands"][name] = {
            "median_seconds": seconds,
            "median_peak_mb": median([r.peak_mb for r in runs]),
            "runs": len(runs),
        }
        budget = (
            f"  {verdict(seconds / BUDGET, 1.0)} of the 0.3 s budget"
            if name
            in (
                "ecrguard --version",
                "ecrguard rule",
            )
            else ""
        )
        print(f"{name:24} {seconds:6.3f} s{budget}")
    print(f"results: {save('startup', result)}")
    met = all(result["commands"][n]["median_seconds"] < BUDGET for n in list(commands)[:2])
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
