"""Everything the emulator adds to moto, installed once per process.

Each extension patches moto's classes (its responses, backends and URL maps),
so installing must happen before a server builds its apps, and only once.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_installed = False


def install() -> None:
    global _installed
    with _lock:
        if _installed:
            return
        from moto.core.responses import BaseResponse
        from moto.ecr.responses import ECRResponse
        from moto.iam.responses import IamResponse

        from ecrguard.emulator import (
            cloudtrail,
            cross_account,
            ecr_extensions,
            inspector,
            layers,
            managed_keys,
            scanning,
        )

        ecr_extensions.install()
        scanning.install()
        managed_keys.install()
        layers.install()
        inspector.install()
        cloudtrail.install()
        # The audit record wraps the cross-account routing, so it sees both
        # the caller's account and the registry that answered.
        base = BaseResponse.call_action
        ECRResponse.call_action = cloudtrail.recorded(cross_account.routed(base))  # type: ignore[method-assign,assignment]
        IamResponse.call_action = cloudtrail.recorded(base)  # type: ignore[method-assign,assignment]
        _installed = True
