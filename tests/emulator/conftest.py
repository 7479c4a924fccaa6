from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecrguard.emulator import Emulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def ecr(emulator: Emulator) -> object:
    """An ECR client on a freshly reset emulator."""
    emulator.reset()
    return emulator.client("ecr")
