"""Debian's ``docker-registry`` (CNCF distribution v2.8) on loopback, and a pusher.

``DistributionRegistry`` runs the real server with filesystem storage in a temp
dir, optionally behind htpasswd basic auth.  ``RegistryPusher`` pushes small
images over the OCI distribution HTTP API (blob uploads, manifests, indexes,
tags), the way ``docker push`` or ``crane`` would.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import attrs
import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def htpasswd_line(user: str, password: str) -> str:
    import bcrypt

    # distribution's htpasswd reader takes bcrypt hashes only; cost 4 keeps start-up fast.
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    return f"{user}:{hashed.replace('$2b$', '$2y$', 1)}\n"


@attrs.define
class DistributionRegistry:
    """One registry process on 127.0.0.1; ``url`` is ``http://127.0.0.1:PORT``."""

    binary: Path
    workdir: Path
    credentials: tuple[str, str] | None = None
    token_auth: str = ""  # an ``auth: token`` YAML block (see token_server.py)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def _config(self) -> str:
        auth = self.token_auth
        if self.credentials and not auth:
            htpasswd = self.workdir / "htpasswd"
            htpasswd.write_text(htpasswd_line(*self.credentials))
            auth = f"auth:\n  htpasswd:\n    realm: runlayer-tf-test\n    path: {htpasswd}\n"
        return (
            "version: 0.1\n"
            "log:\n  level: error\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.workdir / 'storage'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n" + auth
        )

    def start(self, timeout: float = 20.0) -> DistributionRegistry:
        self.workdir.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):
            self.port = free_port()
            config = self.workdir / "config.yml"
            config.write_text(self._config())
            log = (self.workdir / "registry.log").open("wb")
            self.process = subprocess.Popen(
                [str(self.binary), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                try:
                    resp = requests.get(f"{self.url}/v2/", timeout=1)
                    if resp.status_code in (200, 401):
                        return self
                except requests.ConnectionError:
                    pass
                time.sleep(0.05)
            last_error = (self.workdir / "registry.log").read_text(errors="replace")[-2000:]
            self.stop()
        raise RuntimeError(f"docker-registry did not start: {last_error}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def pusher(self) -> RegistryPusher:
        return RegistryPusher(self.url, auth=self.credentials)


@attrs.define
class PushedImage:
    repository: str
    digest: str
    media_type: str
    manifest: bytes
    tags: tuple[str, ...]


@attrs.define
class RegistryPusher:
    """Pushes blobs, manifests and indexes with the OCI distribution API."""

    base_url: str
    auth: tuple[str, str] | None = None
    session: requests.Session = attrs.field(factory=requests.Session)

    def __attrs_post_init__(self) -> None:
        if self.auth:
            self.session.auth = self.auth
        self.session.hooks["response"].append(self._bearer_retry)

    def _bearer_retry(
        self, resp: requests.Response, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """On a Bearer challenge, fetch a token with our credentials and replay the request."""
        challenge = resp.headers.get("WWW-Authenticate", "")
        if (
            resp.status_code != 401
            or not challenge.startswith("Bearer ")
            or resp.request.headers.get("X-Retried")
        ):
            return resp
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        token = requests.get(params.pop("realm"), params=params, auth=self.auth, timeout=10).json()[
            "token"
        ]
        request = resp.request.copy()
        request.headers["Authorization"] = f"Bearer {token}"
        request.headers["X-Retried"] = "1"
        return self.session.send(request, timeout=30)

    def push_blob(self, repository: str, data: bytes) -> str:
        digest = sha256(data)
        head = self.session.head(f"{self.base_url}/v2/{repository}/blobs/{digest}", timeout=10)
        if head.status_code == 200:
            return digest
        start = self.session.post(f"{self.base_url}/v2/{repository}/blobs/uploads/", timeout=10)
        start.raise_for_status()
        location = urljoin(self.base_url + "/", start.headers["Location"])
        sep = "&" if "?" in location else "?"
        put = self.session.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        put.raise_for_status()
        if put.headers.get("Docker-Content-Digest") not in (None, digest):
            raise AssertionError(
                f"registry stored blob as {put.headers['Docker-Content-Digest']}, expected {digest}"
            )
        return digest

    def push_manifest(self, repository: str, reference: str, body: bytes, media_type: str) -> str:
        resp = self.session.put(
            f"{self.base_url}/v2/{repository}/manifests/{reference}",
            data=body,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        if resp.status_code >= 400:
            raise AssertionError(
                f"manifest push {repository}:{reference} failed: {resp.status_code} {resp.text}"
            )
        return resp.headers.get("Docker-Content-Digest", sha256(body))

    def push_image(
        self,
        repository: str,
        tags: list[str] | tuple[str, ...],
        *,
        seed: str,
        created: str = "2024-12-13T15:24:30Z",
        labels: dict[str, str] | None = None,
        platform: tuple[str, ...] = ("linux", "amd64"),
        docker_media_types: bool = False,
        annotations: dict[str, str] | None = None,
    ) -> PushedImage:
        """Push a one-layer image whose layer bytes derive from ``seed``, under every tag.

        ``platform`` is (os, architecture) or (os, architecture, variant), written
        into the image's config."""
        layer = f"layer for {repository} {seed}\n".encode() * 4
        config: dict[str, Any] = {
            "architecture": platform[1],
            "os": platform[0],
            **({"variant": platform[2]} if len(platform) > 2 else {}),
            "created": created,
            "config": {"Labels": labels or {}},
            "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
        }
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = self.push_blob(repository, config_bytes)
        layer_digest = self.push_blob(repository, layer)
        media_type = DOCKER_MANIFEST if docker_media_types else OCI_MANIFEST
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {
                "mediaType": DOCKER_CONFIG if docker_media_types else OCI_CONFIG,
                "digest": config_digest,
                "size": len(config_bytes),
            },
            "layers": [
                {
                    "mediaType": DOCKER_LAYER if docker_media_types else OCI_LAYER,
                    "digest": layer_digest,
                    "size": len(layer),
                }
            ],
        }
        if annotations:
            manifest["annotations"] = annotations
        body = json.dumps(manifest, indent=2).encode()
        digest = sha256(body)
        for tag in tags or [digest]:
            pushed = self.push_manifest(repository, tag, body, media_type)
            assert pushed == digest, (pushed, digest)
        return PushedImage(repository, digest, media_type, body, tuple(tags))

    def push_index(
        self,
        repository: str,
        tags: list[str] | tuple[str, ...],
        *,
        seed: str,
        platforms: tuple[tuple[str, ...], ...] = (("linux", "amd64"), ("linux", "arm64")),
        created: str = "2024-12-13T15:24:30Z",
        docker_media_types: bool = False,
        attestations: bool = False,
    ) -> tuple[PushedImage, list[PushedImage]]:
        """Push one image per platform (untagged) and an index over them under ``tags``.

        A platform is (os, architecture) or (os, architecture, variant).
        ``attestations`` adds, per image, an ``unknown/unknown`` attestation
        manifest entry as buildx writes them (not among the returned children)."""
        children = [
            self.push_image(
                repository,
                [],
                seed=f"{seed}-{'-'.join(platform)}",
                created=created,
                platform=platform,
                docker_media_types=docker_media_types,
            )
            for platform in platforms
        ]
        media_type = DOCKER_LIST if docker_media_types else OCI_INDEX
        entries: list[dict[str, Any]] = []
        for child, platform in zip(children, platforms, strict=True):
            described: dict[str, str] = {"os": platform[0], "architecture": platform[1]}
            if len(platform) > 2:
                described["variant"] = platform[2]
            entries.append(
                {
                    "mediaType": child.media_type,
                    "digest": child.digest,
                    "size": len(child.manifest),
                    "platform": described,
                }
            )
        for child in children if attestations else []:
            attestation = self.push_image(
                repository, [], seed=f"{seed}-attestation-{child.digest}", created=created
            )
            entries.append(
                {
                    "mediaType": attestation.media_type,
                    "digest": attestation.digest,
                    "size": len(attestation.manifest),
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": child.digest,
                    },
                }
            )
        index = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
        body = json.dumps(index, indent=2).encode()
        digest = sha256(body)
        for tag in tags:
            pushed = self.push_manifest(repository, tag, body, media_type)
            assert pushed == digest, (pushed, digest)
        return PushedImage(repository, digest, media_type, body, tuple(tags)), children
