"""The embedded AWS emulator: moto's server on a loopback port, plus ECR extensions.

Importing this package imports neither moto nor boto3; starting an
:class:`Emulator` does.
"""

from ecrguard.emulator.server import (
    DEFAULT_ACCOUNT,
    OUTSIDER_ACCOUNT,
    Emulator,
    flush_trail_logs,
    hermetic_session,
    load_scan_findings,
    loopback_config,
    reset_endpoint,
    serve,
    set_iam_enforcement,
)

__all__ = [
    "DEFAULT_ACCOUNT",
    "OUTSIDER_ACCOUNT",
    "Emulator",
    "flush_trail_logs",
    "hermetic_session",
    "load_scan_findings",
    "loopback_config",
    "reset_endpoint",
    "serve",
    "set_iam_enforcement",
]
