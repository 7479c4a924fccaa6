from __future__ import annotations

from collections.abc import Iterator

import pytest

from ecrguard.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    # One server for every module here: starting one costs about a second, and
    # each test that needs a clean slate resets it.
    with Emulator() as emu:
        yield emu


@pytest.fixture
def ecr(emulator: Emulator) -> object:
    """An ECR client on a freshly reset emulator."""
    emulator.reset()
    return emulator.client("ecr")
