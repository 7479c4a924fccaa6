from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecrguard.emulator import Emulator

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def recorded() -> Callable[[str], Any]:
    """A recorded API response from tests/aws/fixtures, by operation name."""

    def load(operation: str) -> Any:
        return json.loads((FIXTURES / f"{operation}.json").read_text())

    return load
