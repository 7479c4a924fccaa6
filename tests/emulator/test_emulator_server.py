"""The Emulator's lifecycle, isolation from the host's AWS setup, and helpers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from ecrguard.emulator import Emulator, hermetic_session, reset_endpoint
from ecrguard.errors import EmulatorError


def test_listens_on_a_loopback_port_it_chose(emulator: Emulator) -> None:
    url = urlsplit(emulator.endpoint_url)

    assert url.scheme == "http"
    assert url.hostname == "127.0.0.1"
    assert url.port and url.port > 0
    assert emulator.client("sts").get_caller_identity()["Account"] == emulator.account_id


def test_importing_the_package_loads_neither_moto_nor_boto3() -> None:
    code = (
        "import sys, ecrguard.emulator; "
        "print(sorted(m for m in ('moto', 'boto3', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"


def test_sessions_ignore_the_hosts_aws_configuration(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "credential_process_ran"
    config = tmp_path / "config"
    config.write_text(
        "[profile elsewhere]\n"
        "region = ap-south-1\n"
        f"credential_process = sh -c 'touch {marker}'\n"
        "endpoint_url = http://192.0.2.1:9\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://192.0.2.1:9")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")

    session = hermetic_session("eu-central-1")
    ecr = emulator.client("ecr", "eu-central-1")

    assert session.region_name == "eu-central-1"
    assert session.get_credentials().access_key == "testing"  # type: ignore[union-attr]
    assert ecr.describe_repositories()["repositories"] == []
    assert not marker.exists()


def test_reset_wipes_moto_state(emulator: Emulator) -> None:
    ecr = emulator.client("ecr")
    ecr.create_repository(repositoryName="to-be-wiped")

    reset_endpoint(emulator.endpoint_url)

    assert ecr.describe_repositories()["repositories"] == []


def test_reset_of_an_unreachable_endpoint_is_an_emulator_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on a port we bound and released without listen().

    with pytest.raises(EmulatorError, match="cannot reset the emulator"):
        reset_endpoint(f"http://127.0.0.1:{port}", timeout=2)


def test_a_busy_fixed_port_is_refused(emulator: Emulator) -> None:
    busy = urlsplit(emulator.endpoint_url).port or 0

    with pytest.raises(EmulatorError, match="already in use"):
        Emulator(port=busy).start()


def test_endpoint_needs_a_running_emulator() -> None:
    with pytest.raises(EmulatorError, match="not running"):
        _ = Emulator().endpoint_url


def test_iam_enforcement_applies_inside_the_block_only(emulator: Emulator) -> None:
    emulator.reset()
    iam = emulator.client("iam")
    iam.create_user(UserName="reader")
    iam.put_user_policy(
        UserName="reader",
        PolicyName="list-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "ecr:DescribeRepositories", "Resource": "*"}
                ],
            }
        ),
    )
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    reader: Any = emulator.session(
        access_key=key["AccessKeyId"], secret=key["SecretAccessKey"]
    ).client("ecr", endpoint_url=emulator.endpoint_url)

    with emulator.iam_enforced():
        reader.describe_repositories()
        with pytest.raises(ClientError) as denied:
            reader.create_repository(repositoryName="nope")
    reader.create_repository(repositoryName="allowed-again")

    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_moto_enforces_tag_mutability_exclusions(emulator: Emulator) -> None:
    """Lab 10 relies on this: moto 5.2 implements *_WITH_EXCLUSION on push."""
    emulator.reset()
    ecr = emulator.client("ecr")
    ecr.create_repository(
        repositoryName="app",
        imageTagMutability="IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters=[{"filterType": "WILDCARD", "filter": "latest"}],
    )

    def push(tag: str, layer: str) -> None:
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"digest": f"sha256:{'c' * 64}", "size": 1, "mediaType": "x"},
            "layers": [{"digest": f"sha256:{layer * 64}", "size": 1, "mediaType": "x"}],
        }
        ecr.put_image(repositoryName="app", imageManifest=json.dumps(manifest), imageTag=tag)

    push("latest", "a")
    push("latest", "b")
    push("v1.0", "d")
    # AWS answers ImageTagAlreadyExistsException here; moto 5.2 uses another code.
    with pytest.raises(ecr.exceptions.ImageAlreadyExistsException):
        push("v1.0", "e")

    repo = ecr.describe_repositories()["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "latest"}
    ]
