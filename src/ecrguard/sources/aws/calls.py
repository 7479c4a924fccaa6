"""Clients, call counting and failure handling shared by the AWS collectors.

A denied or failing call never raises out of a collector: :func:`attempt`
turns it into a :class:`Failure` that the transform step records as an
unresolved value, and the collector as a :class:`~ecrguard.model.CollectionIssue`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")

Client = Any  # a botocore client; the per-service stubs are not installed

# Codes AWS services use for "IAM said no"; they all mean a missing permission.
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "UnauthorizedException",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
    }
)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class Failure:
    """A call that did not answer: denied, or still failing after retries."""

    operation: str  # IAM action name, e.g. ecr:GetRepositoryPolicy
    reason: str  # one line naming the operation, e.g. "AccessDenied: ecr:GetRepositoryPolicy"


def attempt(operation: str, call: Callable[[], T]) -> T | Failure:
    """Run ``call``; an AWS error becomes a :class:`Failure` instead of raising."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except ClientError as err:
        return failure_from(operation, err)
    except BotoCoreError as err:
        return Failure(operation, f"{type(err).__name__}: {operation} failed: {err}")


def failure_from(operation: str, err: Any) -> Failure:
    error = err.response.get("Error", {})
    code = str(error.get("Code") or "Unknown")
    message = str(error.get("Message") or "").strip()
    if code.isdigit():
        # botocore could not parse the body and fell back to the HTTP status;
        # moto's IAM enforcement answers JSON services with an XML error.
        code = _xml_tag(message, "Code") or code
        message = _xml_tag(message, "Message") or message
    if code in ACCESS_DENIED_CODES:
        return Failure(operation, f"AccessDenied: {operation}")
    detail = f": {message}" if message else ""
    return Failure(operation, f"{code}: {operation} failed{detail}")


def _xml_tag(text: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>", text)
    return match.group(1) if match else None


def error_code(err: Any) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


@dataclass
class CallStats:
    """API calls made by one collection, by IAM action name (``ecr:DescribeRepositories``).

    Each logical call counts once, however many retries and pages it took
    (every page is its own call).
    """

    calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def record(self, operation: str) -> None:
        with self._lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1


class Clients:
    """One client per (service, region), created on first use and shared by threads.

    A boto3 Session is not thread-safe but its clients are, so creation is
    serialized by a lock and everything after that runs in parallel.
    """

    def __init__(
        self,
        session: Any,
        *,
        endpoint_url: str | None,
        max_pool_connections: int,
        stats: CallStats,
    ) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._stats = stats
        self._config = client_config(endpoint_url, max_pool_connections)
        self._clients: dict[tuple[str, str], Client] = {}
        self._lock = threading.Lock()

    def get(self, service: str, region: str) -> Client:
        key = (service, region)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=self._endpoint_url,
                    config=self._config,
                )
                # before-parameter-build fires once per API call (and page),
                # before any handler can short-circuit the request.
                client.meta.events.register("before-parameter-build", self._count)
                self._clients[key] = client
            return client

    def _count(self, model: Any, **_: Any) -> None:
        self._stats.record(f"{model.service_model.signing_name}:{model.name}")


def client_config(endpoint_url: str | None, max_pool_connections: int) -> Any:
    from botocore.config import Config

    options: dict[str, Any] = {
        "retries": {"mode": "adaptive", "max_attempts": 8},
        "max_pool_connections": max_pool_connections,
    }
    if endpoint_url and urlsplit(endpoint_url).hostname in _LOOPBACK:
        # An HTTP(S)_PROXY from the environment must not capture loopback traffic.
        options["proxies"] = {}
    return Config(**options)
