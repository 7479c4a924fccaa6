"""CloudTrail log files: where they are and how to read one without trusting it.

CloudTrail delivers one JSON document per file, ``{"Records": [...]}``, usually
gzipped, under ``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/``. A file is
read into memory one at a time, never extracted to disk, and never beyond
``max_bytes`` decompressed: a gzip bomb or an oversized file is skipped with a
reason instead of exhausting memory.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_SUFFIXES = (".json", ".json.gz")
# CloudTrail's integrity digests sit beside the logs but hold no Records.
_DIGEST_DIR = "CloudTrail-Digest"


class Skipped(Exception):
    """A whole file that cannot be used; ``str(err)`` says why."""


@dataclass(frozen=True, slots=True)
class LogFile:
    name: str  # a path or s3:// URI, as users should see it
    open: Callable[[], BinaryIO]
    size: int | None = None  # stored size when known up front (S3 listing)


@dataclass(frozen=True, slots=True)
class Loaded:
    file: LogFile
    records: list[Any] | None  # None when skipped
    reason: str = ""


def is_log_name(name: str) -> bool:
    low = name.lower()
    path = "/" + low.replace("\\", "/")
    return low.endswith(_SUFFIXES) and f"/{_DIGEST_DIR.lower()}/" not in path


def local_files(path: Path) -> Iterator[LogFile]:
    """The file itself, or every ``*.json``/``*.json.gz`` below a directory, in name order."""
    if path.is_file():
        yield _local(path)
        return
    # os.walk does not follow directory symlinks, so a link loop cannot trap the hunt.
    for folder, dirs, names in os.walk(path):
        dirs.sort()
        for name in sorted(names):
            full = Path(folder, name)
            if is_log_name(full.as_posix()) and full.is_file():
                yield _local(full)


def _local(path: Path) -> LogFile:
    return LogFile(str(path), lambda: path.open("rb"), path.stat().st_size)


def s3_files(client: Any, bucket: str, prefix: str, page_size: int = 1000) -> Iterator[LogFile]:
    """Objects under ``s3://bucket/prefix``, listed page by page (nothing is read yet)."""
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        for obj in page.get("Contents", ()):
            key = obj["Key"]
            if is_log_name(key):
                yield LogFile(
                    f"s3://{bucket}/{key}",
                    _s3_opener(client, bucket, key),
                    obj.get("Size"),
                )


def _s3_opener(client: Any, bucket: str, key: str) -> Callable[[], BinaryIO]:
    def open_object() -> BinaryIO:
        body: BinaryIO = client.get_object(Bucket=bucket, Key=key)["Body"]
        return body

    return open_object


def read_records(file: LogFile, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Any]:
    """The ``Records`` list of one file, or :class:`Skipped`."""
    if file.size is not None and file.size > max_bytes:
        raise Skipped(f"larger than the {max_bytes}-byte limit ({file.size} bytes stored)")
    try:
        stream = file.open()
    except Exception as err:  # an unreadable file or object is one skipped file, not a crash
        raise Skipped(f"cannot read: {_why(err)}") from None
    try:
        data = _read_capped(stream, max_bytes)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise Skipped(f"not JSON: {_why(err)}") from None
    records = doc.get("Records") if isinstance(doc, dict) else None
    if not isinstance(records, list):
        raise Skipped('not a CloudTrail log file (no "Records" list)')
    return records


def _read_capped(stream: BinaryIO, max_bytes: int) -> bytes:
    head = stream.read(2)
    try:
        if head == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=_Prefixed(head, stream), mode="rb") as gz:
                # GzipFile inflates lazily, so reading one byte past the cap costs at
                # most the cap, however large the file claims to be.
                data = gz.read(max_bytes + 1)
            what = "decompressed"
        else:
            data = head + stream.read(max_bytes + 1 - len(head))
            what = "long"
    except (OSError, EOFError, zlib.error) as err:
        raise Skipped(f"corrupt gzip: {_why(err)}") from None
    except Exception as err:  # a dropped S3 stream is one skipped file, not a crash
        raise Skipped(f"cannot read: {_why(err)}") from None
    if len(data) > max_bytes:
        raise Skipped(f"more than {max_bytes} bytes {what} (possible gzip bomb); not read")
    return data


class _Prefixed:
    """A read-only stream that replays the bytes already taken from ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size is None or size < 0:
            out, self._head = self._head + self._stream.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        if len(out) < size:
            out += self._stream.read(size - len(out))
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        # GzipFile only seeks to rewind, which a forward-only read never asks for.
        raise io.UnsupportedOperation("a log stream is read once, front to back")


def load(files: Iterable[LogFile], max_bytes: int, workers: int = 1) -> Iterator[Loaded]:
    """Each file's records in listing order, reading at most ``workers`` files at once.

    Network sources gain from a few reads in flight; the window keeps memory at
    ``workers`` files, never the whole listing.
    """
    if workers <= 1:
        for f in files:
            yield _load_one(f, max_bytes)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window: deque[Future[Loaded]] = deque()
        for f in files:
            window.append(pool.submit(_load_one, f, max_bytes))
            if len(window) >= workers:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def _load_one(file: LogFile, max_bytes: int) -> Loaded:
    try:
        return Loaded(file, read_records(file, max_bytes))
    except Skipped as err:
        return Loaded(file, None, str(err))


def _why(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:200]
