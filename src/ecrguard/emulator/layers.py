"""Layer downloads: ``GetDownloadUrlForLayer`` and the URL it hands out.

moto keeps only each uploaded layer's size, and does not implement
GetDownloadUrlForLayer at all, so no image could be pulled. The extension keeps
the bytes of every completed layer upload on its repository (moto's reset
drops them with the repository) and answers GetDownloadUrlForLayer with a
loopback URL under ``/moto-api/ecrguard/layers`` that serves them, the way ECR
answers with a pre-signed S3 URL.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr.models import ECRBackend, ecr_backends
from moto.ecr.responses import ECRResponse

from ecrguard.emulator.routes import API_PREFIX
from ecrguard.emulator.validation import check_input

_BLOBS = "_ecrguard_blobs"
ROUTE = f"{API_PREFIX}/layers"


class LayersNotFoundException(ServiceException):
    code = "LayersNotFoundException"


def _blobs(repository: Any) -> dict[str, bytes]:
    store: dict[str, bytes] = repository.__dict__.setdefault(_BLOBS, {})
    return store


def install() -> None:
    original = ECRBackend.complete_layer_upload
    if getattr(original, "_ecrguard", False):
        return

    def complete_layer_upload(
        self: ECRBackend,
        repository_name: str,
        upload_id: str,
        layer_digests: list[str],
        registry_id: str | None = None,
    ) -> dict[str, Any]:
        repository = self._get_repository(repository_name, registry_id)
        upload = repository.uploads.get(upload_id)
        data = bytes(upload.layer_parts) if upload is not None else b""
        result: dict[str, Any] = original(
            self, repository_name, upload_id, layer_digests, registry_id
        )
        _blobs(repository)[result["layerDigest"]] = data
        return result

    complete_layer_upload._ecrguard = True  # type: ignore[attr-defined]
    ECRBackend.complete_layer_upload = complete_layer_upload  # type: ignore[method-assign]
    ECRResponse.get_download_url_for_layer = get_download_url_for_layer  # type: ignore[method-assign,assignment]
    _add_download_route()


def get_download_url_for_layer(self: ECRResponse) -> ActionResult:
    params = check_input(self, "GetDownloadUrlForLayer")
    repository = self.ecr_backend._get_repository(
        params["repositoryName"], params.get("registryId")
    )
    digest = params["layerDigest"]
    if digest not in _blobs(repository):
        raise LayersNotFoundException(
            f"The layer with digest '{digest}' does not exist in the repository with name "
            f"'{repository.name}' in the registry with id '{repository.registry_id}'"
        )
    host = self.headers.get("Host") or "127.0.0.1"
    query = (
        f"account={repository.registry_id}&region={self.region}"
        f"&repository={quote(repository.name, safe='')}&digest={quote(digest, safe='')}"
    )
    return ActionResult({"downloadUrl": f"http://{host}{ROUTE}?{query}", "layerDigest": digest})


def _add_download_route() -> None:
    from moto.moto_api._internal import urls

    def layer(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], bytes]:
        query = {k: v[0] for k, v in parse_qs(urlparse(full_url).query).items()}
        try:
            backend = ecr_backends[query["account"]][query["region"]]
            repository = backend._get_repository(query["repository"], query["account"])
            data = _blobs(repository)[query["digest"]]
        except Exception:  # any missing piece is the same answer to a client: not found
            return 404, {"Content-Type": "text/plain"}, b"no such layer"
        if "sha256:" + hashlib.sha256(data).hexdigest() != query["digest"]:
            return 500, {"Content-Type": "text/plain"}, b"stored layer does not match its digest"
        return 200, {"Content-Type": "application/octet-stream"}, data

    layer.__name__ = "ecrguard_layers"
    urls.url_paths[f"{{0}}{ROUTE}$"] = layer
