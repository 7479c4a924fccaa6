"""Pulling layers from the emulator: GetDownloadUrlForLayer and the URL it returns."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ecrguard.emulator import Emulator
from ecrguard.labs.base import LabEnv, push_image

LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _pushed(emulator: Emulator) -> tuple[Any, dict[str, Any]]:
    emulator.reset()
    env = LabEnv(emulator.session(), "us-east-1", emulator.account_id, emulator.endpoint_url)
    ecr = env.client("ecr")
    ecr.create_repository(repositoryName="pull-me")
    push_image(env, "pull-me", "v1", "layer bytes of v1")
    image = ecr.batch_get_image(repositoryName="pull-me", imageIds=[{"imageTag": "v1"}])
    return ecr, json.loads(image["images"][0]["imageManifest"])


def test_every_blob_of_a_pushed_image_downloads_with_its_digest(emulator: Emulator) -> None:
    ecr, manifest = _pushed(emulator)
    for blob in (manifest["config"], *manifest["layers"]):
        answer = ecr.get_download_url_for_layer(
            repositoryName="pull-me", layerDigest=blob["digest"]
        )
        assert answer["layerDigest"] == blob["digest"]
        assert answer["downloadUrl"].startswith(emulator.endpoint_url)
        data = LOOPBACK.open(answer["downloadUrl"]).read()
        assert "sha256:" + hashlib.sha256(data).hexdigest() == blob["digest"]
        assert len(data) == blob["size"]


def test_an_unknown_layer_is_layers_not_found(emulator: Emulator) -> None:
    ecr, _ = _pushed(emulator)
    with pytest.raises(ClientError) as err:
        ecr.get_download_url_for_layer(repositoryName="pull-me", layerDigest="sha256:" + "0" * 64)
    assert err.value.response["Error"]["Code"] == "LayersNotFoundException"


def test_reset_forgets_the_layers(emulator: Emulator) -> None:
    ecr, manifest = _pushed(emulator)
    url = ecr.get_download_url_for_layer(
        repositoryName="pull-me", layerDigest=manifest["layers"][0]["digest"]
    )["downloadUrl"]
    emulator.reset()
    with pytest.raises(urllib.error.HTTPError) as err:
        LOOPBACK.open(url)
    assert err.value.code == 404
