"""Hunt through CloudTrail logs for ECR events that expose or tamper with images.

- :mod:`ecrguard.hunt.logs` finds and reads log files (a directory, one file, or
  ``s3://bucket/prefix``) one at a time, with a decompression cap;
- :mod:`ecrguard.hunt.detect` turns ECR events into :class:`HuntFinding` values;
- :mod:`ecrguard.hunt.render` prints them (console or JSON).

A malformed file or record is skipped and counted, never fatal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ecrguard.hunt.detect import Event, Hunter, HuntFinding, Malformed, Trust
from ecrguard.hunt.logs import DEFAULT_MAX_BYTES, LogFile, load, local_files, s3_files


@dataclass(frozen=True, slots=True)
class HuntResult:
    findings: list[HuntFinding]
    events: int = 0
    ecr_events: int = 0
    files: int = 0
    malformed_records: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)

    def summary(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "ecr_events": self.ecr_events,
            "files": self.files,
            "findings": len(self.findings),
            "malformed_records": self.malformed_records,
            "files_skipped": len(self.skipped),
            "skipped": [{"file": f, "reason": r} for f, r in self.skipped],
            "by_detection": dict(sorted(Counter(f.detection for f in self.findings).items())),
        }


def run_hunt(
    files: Iterable[LogFile],
    trust: Trust,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    workers: int = 1,
) -> HuntResult:
    """Read every file once, in listing order, and run every detection."""
    hunter = Hunter(trust)
    events = ecr_events = files_read = malformed = 0
    skipped: list[tuple[str, str]] = []
    for loaded in load(files, max_bytes, workers):
        if loaded.records is None:
            skipped.append((loaded.file.name, loaded.reason))
            continue
        files_read += 1
        for raw in loaded.records:
            try:
                event = Event.parse(raw, loaded.file.name)
            except Malformed:
                malformed += 1
                continue
            events += 1
            ecr_events += event.source == "ecr.amazonaws.com"
            try:
                hunter.feed(event)
            except (Malformed, AttributeError, KeyError, TypeError, ValueError):
                # A record whose parameters are not shaped as the API writes them.
                malformed += 1
    return HuntResult(hunter.finish(), events, ecr_events, files_read, malformed, skipped)


__all__ = [
    "DEFAULT_MAX_BYTES",
    "HuntFinding",
    "HuntResult",
    "LogFile",
    "Trust",
    "local_files",
    "run_hunt",
    "s3_files",
]
