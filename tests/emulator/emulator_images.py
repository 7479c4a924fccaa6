"""Image manifests for pushing through the emulator's ECR."""

from __future__ import annotations

import hashlib
import json


def manifest(name: str, **extra: object) -> str:
    """A docker v2 image manifest whose one layer is named after ``name``.

    moto derives the image digest from the layer digests, so distinct names
    give distinct images.
    """
    layer = hashlib.sha256(name.encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1469,
                "digest": f"sha256:{'c' * 64}",
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2048,
                    "digest": f"sha256:{layer}",
                }
            ],
            **extra,
        }
    )
