"""The console script's first stop: answer the quick questions before loading the CLI.

``ecrguard --version`` and ``ecrguard rule [ID]`` are what scripts and people
run most often to check a tool; they must not pay for Typer, rich's table
layout or the command table (DESIGN.md budget: 0.3 s). Everything else goes
to :func:`ecrguard.cli.main`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from ecrguard import __version__

        print(f"ecrguard {__version__}")
        return
    if args[:1] == ["rule"] and len(args) <= 2 and not any(a.startswith("-") for a in args[1:]):
        from ecrguard.errors import EcrguardError
        from ecrguard.rules.docs import rule_text

        try:
            sys.stdout.write(rule_text(args[1] if len(args) == 2 else None))
        except EcrguardError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)
        return
    from ecrguard.cli import main as full

    full(args)
