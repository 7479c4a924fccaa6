"""`ecrguard hunt` as a user runs it: files and S3, bad input, output and exit codes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from ecrguard.hunt import Trust, run_hunt, s3_files
from ecrguard.hunt.logs import LogFile, local_files
from tests.conftest import run_cli
from tests.hunt.cloudtrail import (
    ACCESS_KEY,
    MANIFEST_MARKER,
    ORG,
    OUTSIDER,
    OWNER,
    PARTNER,
    PULL_ACTIONS,
    document,
    log_name,
    log_prefix,
    pull,
    push,
    set_policy,
    statement,
    tag_mutability,
    write_log,
)

DAY = [
    pull("payments-api", time="2024-05-01T09:01:00Z", caller=PARTNER),
    pull("payments-api", time="2024-05-01T09:02:00Z", caller=OUTSIDER),
    push("payments-api", "latest", "v1", time="2024-05-01T09:03:00Z"),
    push("payments-api", "latest", "evil", time="2024-05-01T09:04:00Z"),
    set_policy(
        "payments-api",
        statement("*", PULL_ACTIONS, {"StringEquals": {"aws:PrincipalOrgID": ORG}}),
        time="2024-05-01T09:05:00Z",
    ),
]
TRUST_ARGS = ("--trusted-account", PARTNER, "--org-id", ORG)


def _json(r: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(r.out)
    return doc


def test_a_day_of_logs_plain_and_gzipped(tmp_path: Path) -> None:
    logs = tmp_path / "AWSLogs"
    write_log(logs / log_prefix() / log_name("20240501T0900Z"), DAY[:3])
    write_log(logs / log_prefix() / log_name("20240501T0905Z").removesuffix(".gz"), DAY[3:])
    r = run_cli("hunt", str(tmp_path), *TRUST_ARGS, "--format", "json")
    assert r.code == 1, r.err
    doc = _json(r)
    assert doc["summary"] | {"skipped": None} == {
        "events": 5,
        "ecr_events": 5,
        "files": 2,
        "findings": 2,
        "malformed_records": 0,
        "files_skipped": 0,
        "skipped": None,
        "by_detection": {"external-pull": 1, "tag-overwrite": 1},
    }
    pulled, moved = doc["findings"]
    assert pulled["detection"] == "external-pull" and pulled["principal_account"] == OUTSIDER
    assert pulled["principal_arn"].startswith(f"arn:aws:sts::{OUTSIDER}:assumed-role/")
    assert pulled["source_ip"] == "203.0.113.77" and pulled["event_name"] == "BatchGetImage"
    assert pulled["event_time"] == "2024-05-01T09:02:00Z" and pulled["region"] == "us-east-1"
    assert moved["detection"] == "tag-overwrite" and moved["event_name"] == "PutImage"
    assert moved["file"].endswith("20240501T0905Z_a1b2c3.json")
    assert set(pulled) == {
        "detection",
        "severity",
        "event_time",
        "event_name",
        "region",
        "principal_arn",
        "principal_account",
        "source_ip",
        "resource",
        "message",
        "count",
        "event_id",
        "file",
    }


def test_console_shows_a_table_and_the_summary(tmp_path: Path) -> None:
    write_log(tmp_path / log_name("20240501T0900Z"), DAY)
    r = run_cli("hunt", str(tmp_path), *TRUST_ARGS)
    assert r.code == 1
    assert "external-pull" in r.out and "tag-overwrite" in r.out and OUTSIDER in r.out
    assert "5 events read from 1 files, 2 findings, 0 malformed records skipped" in r.out


def test_nothing_found_exits_0(tmp_path: Path) -> None:
    write_log(tmp_path / log_name("20240501T0900Z"), [DAY[0], DAY[2], DAY[4]])
    r = run_cli("hunt", str(tmp_path / log_name("20240501T0900Z")), *TRUST_ARGS)
    assert r.code == 0, r.out + r.err
    assert "3 events read from 1 files, 0 findings, 0 malformed records skipped" in r.out


def test_output_never_echoes_keys_manifests_or_policies(tmp_path: Path) -> None:
    public = set_policy("payments-api", statement("*", PULL_ACTIONS), time="2024-05-01T09:06:00Z")
    write_log(tmp_path / log_name("20240501T0900Z"), [*DAY, public])
    for fmt in ("console", "json"):
        r = run_cli("hunt", str(tmp_path), *TRUST_ARGS, "--format", fmt)
        assert r.code == 1
        assert "policy-public" in r.out
        for secret in (ACCESS_KEY, MANIFEST_MARKER, '"Statement"', "imageManifest"):
            assert secret not in r.out + r.err


def test_malformed_files_and_records_are_skipped_and_counted(tmp_path: Path) -> None:
    broken_record = tag_mutability("payments-api", "MUTABLE", time="2024-05-01T09:09:00Z")
    broken_record["requestParameters"] = ["not", "an", "object"]
    no_time = tag_mutability("payments-api", "MUTABLE", time="2024-05-01T09:09:00Z")
    del no_time["eventTime"]
    good = tag_mutability("payments-api", "MUTABLE", time="2024-05-01T09:10:00Z")
    write_log(tmp_path / "a" / log_name("20240501T0900Z"), [good, broken_record, no_time, "x"])
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "truncated.json").write_text('{"Records": [{"eventName": "Put')
    (tmp_path / "b" / "not-cloudtrail.json").write_text('{"digestStartTime": "2024-05-01"}')
    (tmp_path / "b" / "cut.json.gz").write_bytes(gzip.compress(document([good]))[:40])
    (tmp_path / "b" / "notes.txt").write_text("not a log file name, never read")
    r = run_cli("hunt", str(tmp_path), "--format", "json")
    assert r.code == 1, r.err
    summary = _json(r)["summary"]
    assert (summary["events"], summary["files"], summary["findings"]) == (1, 1, 1)
    assert summary["malformed_records"] == 3
    reasons = {Path(s["file"]).name: s["reason"] for s in summary["skipped"]}
    assert set(reasons) == {"truncated.json", "not-cloudtrail.json", "cut.json.gz"}
    assert reasons["truncated.json"].startswith("not JSON")
    assert reasons["not-cloudtrail.json"].startswith("not a CloudTrail log file")
    assert reasons["cut.json.gz"].startswith("corrupt gzip")
    console = run_cli("hunt", str(tmp_path))
    assert (
        "1 events read from 1 files, 1 findings, 3 malformed records skipped, 3 files skipped"
        in console.out
    )


def test_a_gzip_bomb_is_skipped_not_inflated(tmp_path: Path) -> None:
    bomb = tmp_path / log_name("20240501T0900Z", "bomb")
    # 8 MB of zeros squeeze into about 8 KB; the cap below stops at 1 MB.
    bomb.write_bytes(gzip.compress(b"0" * (8 * 1024 * 1024), compresslevel=9))
    write_log(tmp_path / log_name("20240501T0901Z"), DAY[:2])
    result = run_hunt(local_files(tmp_path), Trust((), (PARTNER,)), max_bytes=1024 * 1024)
    assert result.files == 1 and len(result.findings) == 1
    ((name, reason),) = result.skipped
    assert name == str(bomb) and "possible gzip bomb" in reason
    r = run_cli("hunt", str(tmp_path), "--max-file-bytes", "1048576", "--format", "json")
    assert r.code == 1
    assert _json(r)["summary"]["skipped"][0]["reason"].startswith("more than 1048576 bytes")


def test_the_cap_applies_to_plain_files_too(tmp_path: Path) -> None:
    path = write_log(tmp_path / "big.json", DAY)
    streamed = LogFile(str(path), lambda: path.open("rb"))  # size unknown, as for a stream
    result = run_hunt([streamed], Trust(), max_bytes=100)
    assert result.files == 0 and "more than 100 bytes long" in result.skipped[0][1]


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for args, words in [
        (("hunt", str(tmp_path / "missing")), "no such file or directory"),
        (("hunt", str(tmp_path), "--format", "sarif"), "choose console or json"),
        (("hunt", str(tmp_path), "--trusted-account", "1234"), "12-digit"),
        (("hunt", "s3://"), "expected s3://BUCKET/PREFIX"),
    ]:
        r = run_cli(*args)
        assert r.code == 2, args
        assert r.err.strip().count("\n") == 0 and words in r.err, r.err


def _upload(s3: Any, bucket: str, records_by_name: dict[str, list[dict[str, Any]]]) -> None:
    for name, records in records_by_name.items():
        s3.put_object(Bucket=bucket, Key=name, Body=gzip.compress(document(records)))


def test_s3_prefix_through_the_emulator(emulator: Any) -> None:
    emulator.reset()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="org-trail")
    prefix = log_prefix()
    _upload(
        s3,
        "org-trail",
        {
            prefix + log_name("20240501T0900Z"): DAY[:3],
            prefix + log_name("20240501T0905Z"): DAY[3:],
            # Digests sit beside the logs and hold no Records.
            f"AWSLogs/{OWNER}/CloudTrail-Digest/us-east-1/2024/05/01/digest.json.gz": [],
            "elsewhere/" + log_name("20240501T0900Z"): DAY,
        },
    )
    args = ("--endpoint-url", emulator.endpoint_url, "--region", "us-east-1")
    r = run_cli("hunt", "s3://org-trail/AWSLogs/", *args, *TRUST_ARGS, "--format", "json")
    assert r.code == 1, r.err
    doc = _json(r)
    assert (doc["summary"]["files"], doc["summary"]["events"]) == (2, 5)
    assert [f["detection"] for f in doc["findings"]] == ["external-pull", "tag-overwrite"]
    assert doc["findings"][1]["file"] == f"s3://org-trail/{prefix}{log_name('20240501T0905Z')}"
    missing = run_cli("hunt", "s3://no-such-bucket/AWSLogs/", *args)
    assert missing.code == 2 and "NoSuchBucket" in missing.err
    assert missing.err.strip().count("\n") == 0


def test_s3_listing_follows_every_page(emulator: Any) -> None:
    emulator.reset()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="trail")
    names = {log_prefix() + log_name(f"20240501T09{i:02d}Z"): [DAY[1]] for i in range(5)}
    _upload(s3, "trail", names)
    files = list(s3_files(s3, "trail", "AWSLogs/", page_size=2))
    assert [f.name for f in files] == [f"s3://trail/{n}" for n in sorted(names)]
    result = run_hunt(files, Trust(), workers=3)
    assert result.files == 5 and result.findings[0].count == 5
