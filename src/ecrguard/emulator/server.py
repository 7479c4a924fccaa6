"""The embedded emulator: moto's threaded server on a loopback port, plus extensions.

boto3 and moto are imported inside functions: the CLI imports this module to
build its command table and must start in well under a second.

moto keeps its state in process-global backends, so every Emulator in one
process (and any ``mock_aws`` in it) shares the same accounts; ``reset()``
wipes them all.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ecrguard.errors import EmulatorError

if TYPE_CHECKING:
    import boto3
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

# moto maps any access key it has not issued to this account.
DEFAULT_ACCOUNT = "123456789012"
# An account unrelated to the default one, for labs that need an outsider.
OUTSIDER_ACCOUNT = "999999999999"
FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"


class Emulator:
    """An in-process moto server with ecrguard's ECR extensions.

    >>> with Emulator() as emu:                             # doctest: +SKIP
    ...     emu.client("ecr").create_repository(repositoryName="app")
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        quiet: bool = True,
        ec2_default_amis: bool = False,
    ) -> None:
        # Port 0 lets the kernel choose while the server binds, so two
        # emulators (or test workers) cannot race for the same port.
        self._host = host
        self._port = port
        self._quiet = quiet
        self._ec2_default_amis = ec2_default_amis
        self._server: ThreadedMotoServer | None = None
        self._endpoint_url: str | None = None

    def start(self) -> Emulator:
        if self._server is not None:
            return self
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        from ecrguard.emulator.extensions import install

        install()
        _isolate_moto_from_host()
        if not self._ec2_default_amis:
            # moto builds ~1,300 AMIs (and their volumes) for every region's
            # first EC2 call: 0.5 s each, and no ECR lab needs them. moto
            # reads this per backend, so it must be in the environment; an
            # explicit setting by the user wins.
            os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        if self._quiet:
            import logging

            # werkzeug logs every request at INFO to stderr unless its logger
            # already has a level; a scan would print thousands of lines.
            werkzeug_log = logging.getLogger("werkzeug")
            if werkzeug_log.level == logging.NOTSET:
                werkzeug_log.setLevel(logging.WARNING)
        if self._port:
            # ThreadedMotoServer binds inside its thread and waits forever if
            # that fails, so refuse a busy fixed port before starting it.
            _ensure_free(self._host, self._port)
        server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        server.start()
        _no_delay(server)
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint_url = f"http://{_url_host(host)}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._endpoint_url = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise EmulatorError("the emulator is not running; call start() or use it in a with")
        return self._endpoint_url

    @property
    def account_id(self) -> str:
        return DEFAULT_ACCOUNT

    def session(
        self,
        region: str = "us-east-1",
        access_key: str = FAKE_ACCESS_KEY,
        secret: str = FAKE_SECRET_KEY,
        token: str | None = None,
    ) -> boto3.Session:
        """A boto3 session with fake credentials that reads nothing from the host."""
        return hermetic_session(region, access_key, secret, token)

    def session_as(
        self,
        account: str = OUTSIDER_ACCOUNT,
        region: str = "us-east-1",
        role: str = "outsider",
        session_name: str = "outsider",
    ) -> boto3.Session:
        """A session acting as ``account``: an assumed-role session of ``role`` there.

        moto gives ``AssumeRole`` credentials the account named in the role ARN
        (the role need not exist), so every call made with this session is
        served from that account and recorded in CloudTrail as
        ``arn:aws:sts::<account>:assumed-role/<role>/<session_name>``.
        """
        sts = self.client("sts", region)
        credentials = sts.assume_role(
            RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName=session_name
        )["Credentials"]
        return self.session(
            region,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )

    def client(self, service: str, region: str = "us-east-1", **kwargs: Any) -> Any:
        """A client bound to this emulator; ``kwargs`` go to ``session.client``."""
        kwargs.setdefault("config", loopback_config())
        return self.session(region).client(
            service,  # type: ignore[call-overload]
            region_name=region,
            endpoint_url=self.endpoint_url,
            **kwargs,
        )

    def reset(self) -> None:
        reset_endpoint(self.endpoint_url)

    def load_scan_findings(self, findings: Mapping[str, Sequence[Mapping[str, Any]]]) -> int:
        """Load what image scans will find; see :func:`load_scan_findings`."""
        return load_scan_findings(self.endpoint_url, findings)

    def flush_trail_logs(self) -> list[dict[str, Any]]:
        """Deliver waiting CloudTrail records to the trails' buckets; see :func:`flush_trail_logs`."""
        return flush_trail_logs(self.endpoint_url)

    @contextmanager
    def iam_enforced(self) -> Iterator[None]:
        """Check every request against the caller's IAM policies while inside.

        Use keys from ``iam.create_access_key``; moto's default keys have no
        IAM user and are denied. Enforcement is process-wide in moto, hence a
        context manager that always switches it off again.
        """
        set_iam_enforcement(self.endpoint_url, True)
        try:
            yield
        finally:
            set_iam_enforcement(self.endpoint_url, False)


def hermetic_session(
    region: str = "us-east-1",
    access_key: str = FAKE_ACCESS_KEY,
    secret: str = FAKE_SECRET_KEY,
    token: str | None = None,
) -> boto3.Session:
    """A boto3 session that ignores ~/.aws, AWS_* variables and instance metadata.

    Explicit keys alone keep boto3 off IMDS, but it would still read the config
    file and fail on an ``AWS_PROFILE`` that names a missing profile. Giving
    every session variable no environment name and no file makes the session
    depend on its arguments only.
    """
    import boto3
    from botocore.session import Session

    variables = {
        name: (None, None, default, cast)
        for name, (_key, _env, default, cast) in Session.SESSION_VARIABLES.items()
    }
    variables["config_file"] = (None, None, os.devnull, None)
    variables["credentials_file"] = (None, None, os.devnull, None)
    # AWS_ENDPOINT_URL* would otherwise redirect a client created without one.
    variables["ignore_configured_endpoint_urls"] = (None, None, True, None)
    core = Session(session_vars=variables)
    # A fresh loader re-reads the service models (~0.1-0.3 s per service);
    # sharing one makes a new session's clients cheap.
    core.register_component("data_loader", _shared_loader())
    session = boto3.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=region,
        botocore_session=core,
    )
    # boto3 appends its data path to the loader on every session.
    paths = core.get_component("data_loader").search_paths
    paths[:] = list(dict.fromkeys(paths))
    return session


_loader: Any = None
_loader_lock = threading.Lock()


def _shared_loader() -> Any:
    global _loader
    with _loader_lock:
        if _loader is None:
            from botocore.loaders import create_loader

            _loader = create_loader()
        return _loader


def loopback_config(**overrides: Any) -> Any:
    """A botocore Config for a loopback endpoint: no proxies, quick failure."""
    from botocore.config import Config

    options: dict[str, Any] = {
        "proxies": {},
        "retries": {"mode": "standard", "max_attempts": 2},
        "connect_timeout": 5,
        "read_timeout": 60,
    }
    options.update(overrides)
    return Config(**options)


def reset_endpoint(url: str, timeout: float = 10.0) -> None:
    """Wipe every account and region of an emulator that is already running."""
    _post(f"{url.rstrip('/')}/moto-api/reset", b"", timeout, "reset the emulator at")


def load_scan_findings(
    url: str, findings: Mapping[str, Sequence[Mapping[str, Any]]], timeout: float = 10.0
) -> int:
    """Tell a running emulator what image scans find; returns the number of findings loaded.

    ``findings`` maps an image digest (``sha256:<64 hex>``) or
    ``"<repository>:<tag>"`` to a list of findings, each with ``name`` and
    ``severity`` and optionally ``package``, ``version``, ``fixed_in``,
    ``first_observed`` (ISO 8601), ``description`` and ``uri``. Images nobody
    loaded findings for scan clean. The format is documented in
    :mod:`ecrguard.emulator.scanning`; a malformed fixture raises
    :class:`EmulatorError` with the reason.
    """
    body = json.dumps(findings, default=_json_default).encode()
    answer = _post(
        f"{url.rstrip('/')}/moto-api/ecrguard/scan-findings",
        body,
        timeout,
        "load scan findings into",
    )
    loaded: int = json.loads(answer)["loaded"]
    return loaded


def flush_trail_logs(url: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Write the CloudTrail records waiting in a running emulator's trails to their buckets.

    Returns one entry per log file written: ``trail`` (ARN), ``bucket``,
    ``key``, ``records`` (how many), and ``error`` when the bucket refused it.
    """
    answer = _post(
        f"{url.rstrip('/')}/moto-api/ecrguard/flush-trail-logs", b"", timeout, "flush trail logs of"
    )
    delivered: list[dict[str, Any]] = json.loads(answer)["delivered"]
    return delivered


def _json_default(value: Any) -> Any:
    import datetime as dt

    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return moment.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to the emulator")


def _post(url: str, body: bytes, timeout: float, doing: str) -> bytes:
    import urllib.error
    import urllib.request

    # moto reads these bodies raw; a form content type would make Flask eat them.
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "text/plain"}
    )
    # Loopback traffic must never go through an HTTP(S)_PROXY from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    base = url.rsplit("/moto-api/", 1)[0]
    try:
        with opener.open(request, timeout=timeout) as response:
            answer: bytes = response.read()
            return answer
    except urllib.error.HTTPError as err:
        # The emulator's own routes explain a refusal in the body.
        try:
            reason = json.loads(err.read())["error"]
        except (ValueError, KeyError, TypeError):
            reason = f"HTTP {err.code}"
        raise EmulatorError(f"cannot {doing} {base}: {reason}") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise EmulatorError(f"cannot {doing} {base}: {reason}") from None


def set_iam_enforcement(url: str, enabled: bool, timeout: float = 10.0) -> None:
    """Turn moto's IAM policy enforcement on or off for a running emulator."""
    # moto enforces IAM after this many unauthenticated requests; 0 means at once.
    body = b"0" if enabled else b"inf"
    _post(f"{url.rstrip('/')}/moto-api/reset-auth", body, timeout, "change IAM enforcement at")


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Run the emulator in the foreground until interrupted (Ctrl-C)."""
    import logging

    # Show each request, as `moto_server` does: that is what a foreground
    # emulator is for.
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    emulator = Emulator(host=host, port=port, quiet=False).start()
    print(f"ecrguard emulator listening on {emulator.endpoint_url} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


def _isolate_moto_from_host() -> None:
    """Give moto's own region and service lookups a hermetic session.

    moto builds a default boto3/botocore Session to list partitions, regions
    and services. That reads the host's AWS config, and an ``AWS_PROFILE``
    naming a profile that does not exist makes every request fail with a 500.
    """
    from moto.core import base_backend, utils

    session = hermetic_session()
    backend = base_backend.AccountSpecificBackend
    if "get_session" in vars(backend):
        backend.get_session = classmethod(lambda cls: session)  # type: ignore[assignment,method-assign]
    if hasattr(utils, "Session"):
        utils.Session = lambda: session._session  # type: ignore[assignment,misc]


def _no_delay(server: Any) -> None:
    """Turn off Nagle on the listening socket (accepted sockets inherit it).

    werkzeug writes a response's headers and body separately; with Nagle on,
    the body waits for the client's delayed ACK, which doubled every call's
    latency (about 20 ms to 10 ms per call here).
    """
    inner = getattr(server, "_server", None)
    sock = getattr(inner, "socket", None)
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _ensure_free(host: str, port: int) -> None:
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # The server sets SO_REUSEADDR too; without it a port in TIME_WAIT
        # would look busy here but bind fine there.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise EmulatorError(f"port {port} on {host} is already in use") from None
            raise EmulatorError(f"cannot listen on {host}:{port}: {err.strerror}") from None


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
