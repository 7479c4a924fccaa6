"""Small helpers shared by the CloudFormation tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line containing ``text``, so tests survive fixture edits."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def by_id(items: tuple[Any, ...]) -> dict[str, Any]:
    return {item.id: item for item in items}


def template(path: Path, body: str) -> Path:
    """Write a YAML template whose Resources section is ``body``."""
    path.write_text('AWSTemplateFormatVersion: "2010-09-09"\nResources:\n' + body)
    return path
