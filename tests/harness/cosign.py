"""Real cosign (built by provision-tools) and a small cosign-format signer in Python.

``CosignCli`` runs the real binary offline: ``generate-key-pair`` (password from
``COSIGN_PASSWORD``), ``sign --key --tlog-upload=false`` and ``verify --key
--insecure-ignore-tlog=true``, always with ``--allow-insecure-registry`` (the
test registries are plain http on loopback).

``simple_signing_payload`` and ``signature_manifest`` write what ``cosign sign``
writes, for tests that sign with keys cosign cannot make (Ed25519, RSA) or craft
replays, and for the demo layout.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import attrs

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
PASSWORD = "cosign-test-password"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def signature_tag(digest: str) -> str:
    return digest.replace(":", "-") + ".sig"


def simple_signing_payload(digest: str, reference: str) -> bytes:
    """The payload cosign signs (its field order and compact JSON)."""
    return json.dumps(
        {
            "critical": {
                "identity": {"docker-reference": reference},
                "image": {"docker-manifest-digest": digest},
                "type": "cosign container image signature",
            },
            "optional": None,
        },
        separators=(",", ":"),
    ).encode()


def signature_config(payload_digests: list[str]) -> bytes:
    return json.dumps(
        {
            "architecture": "",
            "created": "0001-01-01T00:00:00Z",
            "history": [{"created": "0001-01-01T00:00:00Z"}],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": payload_digests},
            "config": {},
        },
        separators=(",", ":"),
    ).encode()


def signature_manifest(layers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    """(manifest, config) for ``layers`` of (payload, signature bytes)."""
    config = signature_config([sha256(p) for p, _ in layers])
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha256(config)},
        "layers": [
            {
                "mediaType": SIMPLE_SIGNING,
                "size": len(payload),
                "digest": sha256(payload),
                "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(sig).decode()},
            }
            for payload, sig in layers
        ],
    }
    return json.dumps(manifest, separators=(",", ":")).encode(), config


def sign_bytes(private_key: Any, payload: bytes) -> bytes:
    """Sign as cosign does: ECDSA with SHA-256, Ed25519, or RSA PKCS#1 v1.5 with SHA-256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(payload, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(private_key, ed25519.Ed25519PrivateKey)
    return private_key.sign(payload)


def public_pem(private_key: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@attrs.frozen
class KeyPair:
    key: Path  # cosign.key (encrypted with PASSWORD)
    pub: Path  # cosign.pub


@attrs.frozen
class CosignCli:
    binary: Path

    def _env(self, workdir: Path) -> dict[str, str]:
        return dict(
            os.environ,
            COSIGN_PASSWORD=PASSWORD,
            COSIGN_YES="true",
            HOME=str(workdir),  # cosign keeps ~/.sigstore: never the user's
            SIGSTORE_NO_CACHE="true",
            TUF_ROOT=str(workdir / "tuf"),
        )

    def run(
        self, workdir: Path, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(self.binary), *args],
            cwd=workdir,
            env=self._env(workdir),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"cosign {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc

    def generate_key_pair(self, workdir: Path) -> KeyPair:
        workdir.mkdir(parents=True, exist_ok=True)
        self.run(workdir, "generate-key-pair")
        return KeyPair(workdir / "cosign.key", workdir / "cosign.pub")

    def sign(self, keys: KeyPair, reference: str) -> None:
        self.run(
            keys.key.parent,
            "sign",
            "--key",
            str(keys.key),
            "--tlog-upload=false",
            "--allow-insecure-registry",
            reference,
        )

    def verify(self, keys: KeyPair, reference: str) -> bool:
        proc = self.run(
            keys.key.parent,
            "verify",
            "--key",
            str(keys.pub),
            "--insecure-ignore-tlog=true",
            "--allow-insecure-registry",
            reference,
            check=False,
        )
        return proc.returncode == 0
