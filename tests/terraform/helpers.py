"""Small helpers shared by the Terraform tests."""

from __future__ import annotations

from pathlib import Path

from ecrguard.model import Inventory, Repository

FIXTURES = Path(__file__).parent / "fixtures"


def line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line containing ``text``, so tests survive fixture edits."""
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def repo(inventory: Inventory, address: str) -> Repository:
    found = {r.id: r for r in inventory.repositories}
    assert address in found, f"{address} not in {sorted(found)}"
    return found[address]
