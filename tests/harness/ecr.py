"""Push small images to ECR (on the moto server) with the ECR API, as CI pipelines do."""

from __future__ import annotations

import hashlib
import json
from typing import Any

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def image_manifest(seed: str) -> str:
    """A Docker v2 manifest whose layer digests derive from ``seed``.

    moto derives an image's digest from its layer digests (not from the
    manifest bytes), so distinct seeds give distinct images.
    """
    layer = "sha256:" + hashlib.sha256(f"layer {seed}".encode()).hexdigest()
    config = "sha256:" + hashlib.sha256(f"config {seed}".encode()).hexdigest()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 1470,
                "digest": config,
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": 2811478,
                    "digest": layer,
                }
            ],
        }
    )


def moto_digest(seed: str) -> str:
    """The digest moto assigns to ``image_manifest(seed)``: sha256 of the joined layer digests."""
    manifest = json.loads(image_manifest(seed))
    joined = "".join(layer["digest"] for layer in manifest["layers"])
    return "sha256:" + hashlib.sha256(joined.encode()).hexdigest()


def push(ecr: Any, repository: str, tags: list[str] | tuple[str, ...], *, seed: str) -> str:
    """``put_image`` one manifest under each tag; returns the digest ECR reports."""
    manifest = image_manifest(seed)
    digest = ""
    for tag in tags:
        resp = ecr.put_image(
            repositoryName=repository,
            imageManifest=manifest,
            imageTag=tag,
            imageManifestMediaType=DOCKER_MANIFEST,
        )
        digest = resp["image"]["imageId"]["imageDigest"]
    return digest
