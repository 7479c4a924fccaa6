"""Run pieces of CPU-bound work in forked processes, one piece kept in this one.

The Terraform reader spends its time in tree-sitter and the expression
evaluator, both holding the GIL, so threads do not help; a forked child starts
with everything the parent has already read (the root module, its variables)
and sends back only its results, pickled through a pipe.

Forking is used only where it is safe and cheap: on Linux (macOS forks are
unsafe once system frameworks are loaded, and Windows has none), and when
this process runs no other thread (a fork copies locks held by other threads
in whatever state they are). Anywhere else, or when a child fails for any
reason, the pieces run here one after another: the result is the same, only
slower.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ecrguard.runtime import lone_linux_thread

T = TypeVar("T")
R = TypeVar("R")

# Past a few processes the pickling and the memory of each child outweigh the gain.
MAX_JOBS = 4
_FAILED: Any = object()


def default_jobs() -> int:
    """Processes to use: the CPUs this process may run on, up to MAX_JOBS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_JOBS))


def can_fork() -> bool:
    return lone_linux_thread()


def split(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """``items`` cut into at most ``parts`` contiguous runs of near-equal length."""
    parts = max(1, min(parts, len(items)))
    size, extra = divmod(len(items), parts)
    out = []
    start = 0
    for i in range(parts):
        end = start + size + (1 if i < extra else 0)
        out.append(items[start:end])
        start = end
    return out


def fork_map(work: Callable[[T], R], pieces: Sequence[T]) -> list[R]:
    """``[work(p) for p in pieces]``, the pieces after the first in forked children.

    Results come back in order. A child that fails (an exception, a crash, a
    result that will not pickle) is not an error: its piece runs here instead.
    """
    if len(pieces) < 2 or not can_fork():
        return [work(p) for p in pieces]
    children: list[tuple[int, int] | None] = []
    try:
        for piece in pieces[1:]:
            children.append(_spawn(work, piece))
        results = [work(pieces[0])]
        for i, piece in enumerate(pieces[1:]):
            child, children[i] = children[i], None
            result = _collect(child) if child is not None else _FAILED
            results.append(work(piece) if result is _FAILED else result)
    finally:
        # An error (or Ctrl-C) here must not leave children behind, blocked on their pipes.
        for child in children:
            if child is not None:
                _stop(child)
    return results


def _spawn(work: Callable[[T], R], piece: T) -> tuple[int, int] | None:
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            os.close(read_fd)
            result = work(piece)
            with os.fdopen(write_fd, "wb") as out:
                pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
            code = 0
        finally:
            # No atexit handlers, no flushing of stdio buffers copied from the parent.
            os._exit(code)
    os.close(write_fd)
    return pid, read_fd


def _stop(child: tuple[int, int]) -> None:
    pid, read_fd = child
    os.close(read_fd)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except OSError:
        pass


def _collect(child: tuple[int, int]) -> Any:
    """The child's result, or _FAILED when it did not finish cleanly."""
    pid, read_fd = child
    # Unpickled as it arrives (no copy of the whole result in memory), and
    # before waiting: a result larger than the pipe's buffer blocks the child's
    # write until it is read.
    result: Any = _FAILED
    with os.fdopen(read_fd, "rb") as pipe:
        try:
            result = pickle.load(pipe)
        except Exception:  # a child that died mid-write: its piece is redone here
            result = _FAILED
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return _FAILED
    return result
