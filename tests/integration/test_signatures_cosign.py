"""Real cosign (v2.6.5, built by provision-tools) signing images in the real distribution
registry, and runlayer-tf's verdict on each, cross-checked with `cosign verify`.

Every case asserts both verdicts: runlayer-tf's (signatures.verify through the hardened OCI
client) and cosign's own (`cosign verify --key --insecure-ignore-tlog=true`), so the two agree
on signed, unsigned, another key's, tampered, replayed and multi-platform images.
"""

from __future__ import annotations

import json

import pytest

from runlayer_tf.errors import SignatureError
from runlayer_tf.registries import RegistryAddress, open_registry
from runlayer_tf.signatures import load_keys, verify
from tests.harness.cosign import SIGNATURE_ANNOTATION, KeyPair, sha256, signature_tag
from tests.harness.registry import OCI_MANIFEST, DistributionRegistry

NO_CACHE = {"RUNLAYER_TF_CACHE_TTL": "0"}


@pytest.fixture(scope="module")
def keys(cosign, tmp_path_factory) -> KeyPair:
    return cosign.generate_key_pair(tmp_path_factory.mktemp("cosign-keys"))


@pytest.fixture(scope="module")
def other_keys(cosign, tmp_path_factory) -> KeyPair:
    return cosign.generate_key_pair(tmp_path_factory.mktemp("cosign-other-keys"))


@pytest.fixture(autouse=True)
def _no_verdict_cache(monkeypatch):
    # Every verdict from the registry itself, never from an earlier test's cache entry.
    monkeypatch.setenv("RUNLAYER_TF_CACHE_TTL", "0")


def ours(registry: DistributionRegistry, repository: str, digest: str, keys: KeyPair) -> str | None:
    """runlayer-tf's verdict: the signer's fingerprint, or None (and the reason is one line)."""
    client = open_registry(RegistryAddress.parse(registry.host))
    try:
        return verify(client, repository, digest, load_keys(str(keys.pub))).signed_by
    except SignatureError as err:
        message = str(err)
    assert "\n" not in message
    assert digest in message
    return None


def cosigns(
    cosign, registry: DistributionRegistry, repository: str, digest: str, keys: KeyPair
) -> bool:
    return cosign.verify(keys, f"{registry.host}/{repository}@{digest}")


def both(cosign, registry, repository, digest, keys) -> tuple[bool, bool]:
    return ours(registry, repository, digest, keys) is not None, cosigns(
        cosign, registry, repository, digest, keys
    )


def push(registry: DistributionRegistry, repository: str, seed: str) -> str:
    return registry.pusher().push_image(repository, [f"v-{seed}"], seed=seed).digest


def test_a_signed_image_passes(cosign, oci_registry, keys):
    digest = push(oci_registry, "sig/signed", "signed")
    cosign.sign(keys, f"{oci_registry.host}/sig/signed@{digest}")
    assert both(cosign, oci_registry, "sig/signed", digest, keys) == (True, True)
    (key,) = load_keys(str(keys.pub))
    assert ours(oci_registry, "sig/signed", digest, keys) == key.fingerprint


def test_what_cosign_writes_is_the_sig_tag_with_a_simple_signing_layer(cosign, oci_registry, keys):
    import requests

    digest = push(oci_registry, "sig/format", "format")
    cosign.sign(keys, f"{oci_registry.host}/sig/format@{digest}")
    resp = requests.get(
        f"{oci_registry.url}/v2/sig/format/manifests/{signature_tag(digest)}",
        headers={"Accept": OCI_MANIFEST},
        timeout=10,
    )
    assert resp.status_code == 200
    (layer,) = resp.json()["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert SIGNATURE_ANNOTATION in layer["annotations"]
    payload = requests.get(
        f"{oci_registry.url}/v2/sig/format/blobs/{layer['digest']}", timeout=10
    ).json()
    assert payload["critical"]["image"]["docker-manifest-digest"] == digest
    assert payload["critical"]["type"] == "cosign container image signature"
    assert payload["critical"]["identity"]["docker-reference"] == f"{oci_registry.host}/sig/format"


def test_an_unsigned_image_fails(cosign, oci_registry, keys):
    digest = push(oci_registry, "sig/unsigned", "unsigned")
    assert both(cosign, oci_registry, "sig/unsigned", digest, keys) == (False, False)


def test_an_image_signed_by_another_key_fails(cosign, oci_registry, keys, other_keys):
    digest = push(oci_registry, "sig/other", "other")
    cosign.sign(other_keys, f"{oci_registry.host}/sig/other@{digest}")
    assert both(cosign, oci_registry, "sig/other", digest, keys) == (False, False)
    assert both(cosign, oci_registry, "sig/other", digest, other_keys) == (True, True)


def _sig_manifest(registry: DistributionRegistry, repository: str, digest: str) -> dict:
    import requests

    resp = requests.get(
        f"{registry.url}/v2/{repository}/manifests/{signature_tag(digest)}",
        headers={"Accept": OCI_MANIFEST},
        timeout=10,
    )
    resp.raise_for_status()
    return resp.json()


def test_a_payload_tampered_after_signing_fails(cosign, oci_registry, keys):
    import requests

    repository = "sig/tampered"
    digest = push(oci_registry, repository, "tampered")
    cosign.sign(keys, f"{oci_registry.host}/{repository}@{digest}")
    assert both(cosign, oci_registry, repository, digest, keys) == (True, True)
    manifest = _sig_manifest(oci_registry, repository, digest)
    layer = manifest["layers"][0]
    payload = requests.get(
        f"{oci_registry.url}/v2/{repository}/blobs/{layer['digest']}", timeout=10
    ).content
    tampered = payload.replace(b'"optional":null', b'"optional":{"approved":"yes"}')
    assert tampered != payload
    pusher = oci_registry.pusher()
    layer["digest"], layer["size"] = pusher.push_blob(repository, tampered), len(tampered)
    body = json.dumps(manifest).encode()
    pusher.push_manifest(repository, signature_tag(digest), body, OCI_MANIFEST)
    assert both(cosign, oci_registry, repository, digest, keys) == (False, False)


def test_a_signature_copied_from_another_image_fails(cosign, oci_registry, keys):
    repository = "sig/replayed"
    signed = push(oci_registry, repository, "replay-signed")
    target = push(oci_registry, repository, "replay-target")
    cosign.sign(keys, f"{oci_registry.host}/{repository}@{signed}")
    body = json.dumps(_sig_manifest(oci_registry, repository, signed)).encode()
    oci_registry.pusher().push_manifest(repository, signature_tag(target), body, OCI_MANIFEST)
    assert both(cosign, oci_registry, repository, target, keys) == (False, False)
    assert both(cosign, oci_registry, repository, signed, keys) == (True, True)


def test_a_multi_platform_index_signed_at_the_index_passes(cosign, oci_registry, keys, cli):
    repository = "sig/multi"
    index, children = oci_registry.pusher().push_index(repository, ["v3.0.0"], seed="multi")
    cosign.sign(keys, f"{oci_registry.host}/{repository}@{index.digest}")
    assert both(cosign, oci_registry, repository, index.digest, keys) == (True, True)
    # Resolution returns the index digest, and that is what is verified end to end.
    code, out, err = cli(
        "resolve", "--json", "--registry", oci_registry.host, "--verify-key", str(keys.pub),
        repository, "v3.0.0",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert (json.loads(out)["digest"], json.loads(out)["verified"]) == (index.digest, "true")
    # Only the index is signed: a platform manifest is not (cosign agrees).
    assert both(cosign, oci_registry, repository, children[0].digest, keys) == (False, False)


def test_the_cli_refuses_an_unsigned_image_from_a_registry(cosign, oci_registry, keys, cli):
    digest = push(oci_registry, "sig/cli-unsigned", "cli-unsigned")
    code, out, err = cli(
        "resolve", "--registry", oci_registry.host, "--verify-key", str(keys.pub),
        "sig/cli-unsigned", "v-cli-unsigned",
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert f"sig/cli-unsigned@{digest} is not signed by key sha256:" in err
    assert sha256(b"") not in err


def test_the_provisioned_cosign_is_the_recorded_v2_6_build(cosign, provisioned_tools):
    import subprocess

    entry = provisioned_tools.manifest["cosign"]
    version = json.loads(
        subprocess.run(
            [str(cosign.binary), "version", "--json"], capture_output=True, text=True, check=True
        ).stdout
    )
    assert version["gitVersion"] == entry["version"]
    assert entry["version"].startswith("v2.6.")
    if entry["source"] == "go-module-proxy":
        assert (entry["module"], entry["module_version"]) == (
            "github.com/sigstore/cosign/v2",
            entry["version"],
        )
        assert entry["module_sum"].startswith("h1:")
        assert any(
            d["path"] == "github.com/google/go-containerregistry" for d in entry["dependencies"]
        )


def test_cosign_accepts_the_demo_layouts_signatures(cosign, oci_registry, tmp_path):
    """The demo layout, pushed as is into the registry: cosign verifies what its build signed."""
    from tests.conftest import REPO

    layout = REPO / "examples" / "oci-layout" / "backend-production"
    demo = KeyPair(
        tmp_path / "unused.key", REPO / "examples" / "demo-signing" / "DEMO-ONLY-cosign.pub"
    )
    pusher = oci_registry.pusher()
    repository = "demo/backend-production"
    for blob in sorted((layout / "blobs" / "sha256").iterdir()):
        pusher.push_blob(repository, blob.read_bytes())
    entries = json.loads((layout / "index.json").read_text())["manifests"]
    for entry in entries:
        body = (layout / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_bytes()
        tag = entry["annotations"]["org.opencontainers.image.ref.name"]
        pusher.push_manifest(repository, tag, body, entry["mediaType"])
    by_tag = {e["annotations"]["org.opencontainers.image.ref.name"]: e["digest"] for e in entries}
    for tag, signed in (("v1.2.3", True), ("v1.3.0", True), ("v1.2.1", False)):
        assert both(cosign, oci_registry, repository, by_tag[tag], demo) == (signed, signed), tag


def test_cold_verification_costs_two_requests_beyond_resolution(cosign, oci_registry, keys):
    from runlayer_tf.resolve import Query, resolve

    repository = "sig/requests"
    digest = push(oci_registry, repository, "requests")
    cosign.sign(keys, f"{oci_registry.host}/{repository}@{digest}")
    client = open_registry(RegistryAddress.parse(oci_registry.host))
    sent: list[tuple[str, str]] = []
    transport = client._transport

    def counting(method, url, headers):
        sent.append((method, url.split("/v2/", 1)[-1]))
        return transport(method, url, headers)

    client._transport = counting
    query = Query.from_mapping(
        {"repository": repository, "tag": "v-requests", "registry": oci_registry.host}
    )
    assert resolve(query, client).digest == digest
    resolved = len(sent)
    verify(client, repository, digest, load_keys(str(keys.pub)))
    assert sent[resolved:] == [
        ("GET", f"{repository}/manifests/{signature_tag(digest)}"),
        (
            "GET",
            f"{repository}/blobs/{_sig_manifest(oci_registry, repository, digest)['layers'][0]['digest']}",
        ),
    ]


def test_verification_with_ecr_is_refused_on_one_line(ecr, cli, keys):
    """ECR is not served yet (docs/signatures.md says why): a clear refusal, not a pass."""
    from tests.harness import ecr as ecr_push

    ecr.create_repository(repositoryName="sig/ecr")
    try:
        ecr_push.push(ecr, "sig/ecr", ["v1.0.0"], seed="sig-ecr")
        code, out, err = cli(
            "resolve", "--registry", "123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "--verify-key", str(keys.pub), "sig/ecr", "v1.0.0",
        )  # fmt: skip
    finally:
        ecr.delete_repository(repositoryName="sig/ecr", force=True)
    assert (code, out) == (2, "")
    assert err == (
        "runlayer-tf: error: signature verification is not available for registry "
        "123456789012.dkr.ecr.us-east-1.amazonaws.com (OCI registries and OCI layouts only; "
        "see docs/signatures.md)\n"
    )
