"""The emulator's own HTTP routes, beside moto's ``/moto-api/`` ones.

moto's server sends every ``/moto-api/...`` path to its management app, whose
URL map is read from ``moto.moto_api._internal.urls.url_paths`` when the app is
first built. Routes added there before a server starts are therefore served by
every emulator, in process or behind ``ecrguard emulator``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

API_PREFIX = "/moto-api/ecrguard"

Handler = Callable[[Any], tuple[int, Any]]  # request -> (status, JSON-able payload)


def add_route(name: str, handler: Handler) -> None:
    from moto.moto_api._internal import urls

    def view(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        if request.method != "POST":
            status, payload = 405, {"error": f"POST to {API_PREFIX}/{name}"}
        else:
            status, payload = handler(request)
        return status, {"Content-Type": "application/json"}, json.dumps(payload)

    # Flask names each view after its function; one name per route keeps them apart.
    view.__name__ = f"ecrguard_{name.replace('-', '_')}"
    urls.url_paths[f"{{0}}{API_PREFIX}/{name}$"] = view


def request_json(request: Any) -> Any:
    """The request body as JSON; raises ValueError with a one-line reason."""
    raw = request.get_data(cache=True) if hasattr(request, "get_data") else request.data
    text = raw.decode("utf-8") if isinstance(raw, bytes) else (raw or "")
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as err:
        raise ValueError(f"the body is not JSON: {err}") from None
