"""Signature manifests and payloads go through the hardened OCI client and layout reads:
digests checked, sizes capped, a missing tag is "not signed" (scripted transport, temp layouts)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from runlayer_tf.errors import RegistryError, SignatureError
from runlayer_tf.registries import RegistryAddress, fetch_blob, fetch_manifest
from runlayer_tf.registries._oci import OciRegistry, Response
from runlayer_tf.signatures import parse_keys, verify
from tests.harness.cosign import public_pem, sign_bytes, signature_manifest, simple_signing_payload

DIGEST = "sha256:" + "ab" * 32
TAG = "sha256-" + "ab" * 32 + ".sig"
BASE = "https://registry.example.com/v2/app"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def client(routes: dict[str, Response]) -> OciRegistry:
    def transport(method, url, headers):
        return routes.get(url, Response(404, {}, b""))

    return OciRegistry(RegistryAddress.parse("registry.example.com"), transport=transport)


def signed_routes(key, *, manifest_header: str | None = None, payload_body: bytes | None = None):
    payload = simple_signing_payload(DIGEST, "registry.example.com/app")
    manifest, _ = signature_manifest([(payload, sign_bytes(key, payload))])
    header = manifest_header if manifest_header is not None else digest_of(manifest)
    return {
        f"{BASE}/manifests/{TAG}": Response(200, {"docker-content-digest": header}, manifest),
        f"{BASE}/blobs/{digest_of(payload)}": Response(
            200, {}, payload if payload_body is None else payload_body
        ),
    }


def test_a_signed_digest_verifies_through_the_oci_client():
    key = ec.generate_private_key(ec.SECP256R1())
    keys = parse_keys(public_pem(key), "k")
    assert verify(client(signed_routes(key)), "app", DIGEST, keys).signed_by == keys[0].fingerprint


def test_no_signature_tag_is_not_signed():
    keys = parse_keys(public_pem(ec.generate_private_key(ec.SECP256R1())), "k")
    with pytest.raises(SignatureError, match=f"no tag {TAG}"):
        verify(client({}), "app", DIGEST, keys)


def test_a_manifest_not_hashing_to_its_header_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    routes = signed_routes(key, manifest_header="sha256:" + "00" * 32)
    with pytest.raises(RegistryError, match=r"hashes to sha256:.*not the sha256:0000"):
        verify(client(routes), "app", DIGEST, parse_keys(public_pem(key), "k"))


def test_a_payload_blob_not_hashing_to_its_digest_is_refused():
    key = ec.generate_private_key(ec.SECP256R1())
    routes = signed_routes(key, payload_body=b'{"other": "bytes"}')
    with pytest.raises(RegistryError, match="hashes to"):
        verify(client(routes), "app", DIGEST, parse_keys(public_pem(key), "k"))


def test_a_giant_signature_manifest_is_refused():
    body = b"{" + b" " * (64 * 1024) + b"}"
    routes = {f"{BASE}/manifests/{TAG}": Response(200, {}, body)}
    with pytest.raises(RegistryError, match="over 65536 bytes"):
        fetch_manifest(client(routes), "app", TAG)


def test_a_blob_over_its_limit_is_refused():
    data = b"x" * 100
    routes = {f"{BASE}/blobs/{digest_of(data)}": Response(200, {}, data)}
    assert fetch_blob(client(routes), "app", digest_of(data), 100) == data
    with pytest.raises(RegistryError, match="over 99 bytes"):
        fetch_blob(client(routes), "app", digest_of(data), 99)


def test_a_server_error_on_the_signature_tag_is_a_registry_error_not_unsigned():
    routes = {f"{BASE}/manifests/{TAG}": Response(500, {}, b"")}
    with pytest.raises(RegistryError, match="answered HTTP 500"):
        fetch_manifest(client(routes), "app", TAG)


def test_layout_blobs_are_read_safely(tmp_path):
    from runlayer_tf.registries import open_registry

    layout = tmp_path / "app"
    (layout / "blobs" / "sha256").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (layout / "index.json").write_text(json.dumps({"manifests": []}))
    data = b"payload"
    (layout / "blobs" / "sha256" / digest_of(data)[7:]).write_bytes(data)
    registry = open_registry(RegistryAddress.parse(f"oci-layout:{tmp_path}"))
    assert fetch_blob(registry, "app", digest_of(data), 64) == data
    assert fetch_manifest(registry, "app", TAG) is None
    link = layout / "blobs" / "sha256" / ("cd" * 32)
    os.symlink("/etc/passwd", link)
    with pytest.raises(RegistryError, match="may not be symlinks"):
        fetch_blob(registry, "app", "sha256:" + "cd" * 32, 64)
