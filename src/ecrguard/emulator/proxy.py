"""A loopback HTTP proxy in front of an endpoint that adds latency and injects faults.

The embedded emulator answers in a few milliseconds and never throttles; real
AWS takes tens of milliseconds per call and does throttle. Putting this proxy
between a client and the emulator makes both true, so that the tests can prove
that throttling and server errors change no finding, and the benchmarks can
measure a scan under realistic latency.

It forwards every request unchanged (the Host header included, so SigV4
signatures still verify) over one keep-alive connection per proxy thread.
Faults are only injected into ECR's JSON API (``X-Amz-Target:
AmazonEC2ContainerRegistry_V20150921.*``) and are answered the way ECR answers
them, so botocore's retry logic sees exactly what it would see from AWS:

- throttling: HTTP 400 ``{"__type": "ThrottlingException"}``;
- server error: HTTP 500 ``{"__type": "ServerException"}``;
- a denied operation: HTTP 400 ``{"__type": "AccessDeniedException"}``.

The choice is drawn from a seeded random generator, so a run can be repeated.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own business.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class FaultProxy:
    """Serve on ``127.0.0.1``; forward to ``upstream``. Use as a context manager.

    ``latency`` is seconds added to every request; ``throttle`` and
    ``server_error`` are the shares of ECR requests answered with a fault
    instead of being forwarded; ECR operations named in ``deny`` (such as
    ``DescribeImages``) are always refused with ``AccessDeniedException``, as
    IAM would refuse them to a principal without the permission. ``injected`` counts the faults by code and
    ``forwarded`` the requests passed through.
    """

    def __init__(
        self,
        upstream: str,
        *,
        latency: float = 0.0,
        throttle: float = 0.0,
        server_error: float = 0.0,
        deny: Iterable[str] = (),
        seed: int = 0,
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        if not 0 <= throttle + server_error <= 1:
            raise ValueError("throttle + server_error must be between 0 and 1")
        self.upstream = (parts.hostname, parts.port or 80)
        self.latency = latency
        self.throttle = throttle
        self.server_error = server_error
        self.deny = frozenset(deny)
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ecrguard-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def fault_for(self, target: str | None) -> tuple[int, str] | None:
        """The fault to answer a request with, or None to forward it."""
        if not target or not target.startswith(ECR_TARGET_PREFIX):
            return None
        with self._lock:
            if target.removeprefix(ECR_TARGET_PREFIX) in self.deny:
                self.injected["AccessDeniedException"] += 1
                return (400, "AccessDeniedException")
            roll = self._rng.random()
            if roll < self.throttle:
                fault = (400, "ThrottlingException")
            elif roll < self.throttle + self.server_error:
                fault = (500, "ServerException")
            else:
                return None
            self.injected[fault[1]] += 1
            return fault

    def counted_forward(self) -> None:
        with self._lock:
            self.forwarded += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The default backlog of 5 drops connections when a scan opens dozens at once.
    request_queue_size = 128


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    def upstream() -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
            local.conn = conn
        return conn

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore expects

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if proxy.latency:
                time.sleep(proxy.latency)
            fault = proxy.fault_for(self.headers.get("X-Amz-Target"))
            if fault is not None:
                status, code = fault
                payload = json.dumps({"__type": code, "message": "injected by ecrguard's proxy"})
                self._answer(
                    status,
                    [
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("x-amzn-RequestId", "injected"),
                    ],
                    payload.encode(),
                )
                return
            proxy.counted_forward()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            status, reply_headers, data = _forward(upstream, self.command, self.path, body, headers)
            self._answer(status, reply_headers, data)

        def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
            self.send_response_only(status)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _relay

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scan makes thousands of calls; the proxy stays quiet

    return Handler


def _forward(
    upstream: Any, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send one request upstream on this thread's connection, reconnecting once if it went stale."""
    for tries_left in (1, 0):
        conn = upstream()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        except (ConnectionError, http.client.HTTPException):
            conn.close()
            if not tries_left:
                raise
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> None:
    """``python -m ecrguard.emulator.proxy --upstream URL [--latency-ms 50] ...``

    Runs the proxy in the foreground, in its own process, so that the
    benchmarks' proxy never competes with the emulator or the scanner for
    one interpreter's lock.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m ecrguard.emulator.proxy")
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT of the emulator")
    parser.add_argument("--port", type=int, default=0, help="loopback port (default: any free)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--throttle", type=float, default=0.0, help="share of ECR calls throttled")
    parser.add_argument("--server-errors", type=float, default=0.0, help="share answered 500")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    proxy = FaultProxy(
        args.upstream,
        latency=args.latency_ms / 1000,
        throttle=args.throttle,
        server_error=args.server_errors,
        seed=args.seed,
        port=args.port,
    )
    with proxy:
        print(f"proxy listening on {proxy.endpoint_url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
