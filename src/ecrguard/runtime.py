"""Process-level switches shared by the readers and the engine."""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block; the previous state after it.

    For work that builds many long-lived objects and no reference cycles (a
    Terraform load, a parsed plan, a run's findings): the collector's full
    passes over them cost a tenth to a half of that work and find nothing.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def lone_linux_thread() -> bool:
    """Linux, and this process runs no other thread.

    What forking (a fork copies locks other threads hold) and capping the
    address space (another thread's allocation would fail under the cap) need.
    """
    return sys.platform.startswith("linux") and threading.active_count() == 1
