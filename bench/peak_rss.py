"""Run a command and report its own peak RSS: ``python peak_rss.py OUT -- COMMAND...``.

Linux keeps ``ru_maxrss`` across ``execve``: a child forked from a large process
(a pytest run, a benchmark driver that has imported boto3) starts with the
parent's peak and reports it as its own. Forking the command from this small
launcher instead keeps the figure to the command alone. The launcher waits for
the command, writes its peak RSS in KiB and its CPU seconds to OUT ("KIB
SECONDS"), and exits with its exit code.

Standard library only, and run with ``-S`` by callers, so the launcher itself
stays a few megabytes.
"""

from __future__ import annotations

import os
import signal
import sys


def main() -> int:
    out, separator, *command = sys.argv[1:]
    if separator != "--" or not command:
        print(__doc__, file=sys.stderr)
        return 2
    pid = os.fork()
    if pid == 0:  # the command, forked from this small process
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    # A kill of the launcher's process group reaches the command too; pass SIGTERM on.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, signal.SIGKILL))
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as fh:
        fh.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime:.3f}")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
