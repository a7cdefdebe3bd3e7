"""The signature core: keys and fingerprints, payloads, and every verdict rule, offline.

Signatures here are made with ``cryptography`` in cosign's format
(tests/harness/cosign.py); tests/integration/test_signatures_cosign.py checks the
same rules against real cosign and the real registry.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from runlayer_tf.errors import RegistryError, SignatureError, UsageError
from runlayer_tf.signatures import load_keys, parse_keys, signature_tag
from runlayer_tf.signatures._payload import PayloadError, parse_payload
from runlayer_tf.signatures._verify import check_signatures
from tests.harness.cosign import (
    public_pem,
    sha256,
    sign_bytes,
    signature_manifest,
    simple_signing_payload,
)

DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
REF = "127.0.0.1:5000/backend-production"


def _ec() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _signed(private_key, digest=DIGEST, reference=REF, payload=None):
    payload = payload if payload is not None else simple_signing_payload(digest, reference)
    manifest, _config = signature_manifest([(payload, sign_bytes(private_key, payload))])
    return manifest, {sha256(payload): payload}


def _check(manifest, blobs, keys, digest=DIGEST, reference=None):
    return check_signatures(
        manifest,
        lambda d, limit: blobs[d],
        digest,
        keys,
        where=f"backend-production@{digest}",
        reference=reference,
    )


def test_the_fingerprint_is_the_sha256_of_the_der_subject_public_key_info():
    key = _ec()
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (loaded,) = parse_keys(public_pem(key), "test key")
    assert loaded.der == der
    assert loaded.fingerprint == "sha256:" + hashlib.sha256(der).hexdigest()
    assert loaded.pem() == public_pem(key)


def test_a_signed_digest_passes_and_names_the_key():
    key = _ec()
    manifest, blobs = _signed(key)
    keys = parse_keys(public_pem(key), "k")
    verdict = _check(manifest, blobs, keys)
    assert (verdict.digest, verdict.signed_by, verdict.cached) == (
        DIGEST,
        keys[0].fingerprint,
        False,
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()),
        ed25519.Ed25519PrivateKey.generate,
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["ecdsa-p384", "ed25519", "rsa-2048"],
)
def test_other_key_types_cosign_signs_with_verify(make):
    key = make()
    manifest, blobs = _signed(key)
    assert _check(manifest, blobs, parse_keys(public_pem(key), "k")).digest == DIGEST
    with pytest.raises(SignatureError):
        _check(manifest, blobs, parse_keys(public_pem(make()), "k"))


def test_any_of_several_keys_passes_and_the_signer_is_named():
    signer, other = _ec(), _ec()
    manifest, blobs = _signed(signer)
    keys = parse_keys(public_pem(other) + public_pem(signer), "two keys")
    assert len(keys) == 2
    assert _check(manifest, blobs, keys).signed_by == keys[1].fingerprint


def test_no_signature_tag_fails_naming_digest_key_and_tag():
    keys = parse_keys(public_pem(_ec()), "k")
    with pytest.raises(SignatureError) as err:
        _check(None, {}, keys)
    text = str(err.value)
    assert f"backend-production@{DIGEST} is not signed by key {keys[0].fingerprint}" in text
    assert signature_tag(DIGEST) in text
    assert "\n" not in text


def test_a_signature_by_another_key_fails():
    manifest, blobs = _signed(_ec())
    with pytest.raises(SignatureError, match="does not verify"):
        _check(manifest, blobs, parse_keys(public_pem(_ec()), "k"))


def test_a_signature_of_another_digest_replayed_onto_this_one_fails():
    key = _ec()
    manifest, blobs = _signed(key, digest=OTHER)  # valid, but for OTHER
    with pytest.raises(SignatureError, match=f"signs another image \\({OTHER}\\)"):
        _check(manifest, blobs, parse_keys(public_pem(key), "k"))


def test_a_payload_changed_after_signing_fails():
    key = _ec()
    payload = simple_signing_payload(DIGEST, REF)
    signature = sign_bytes(key, payload)
    tampered = payload.replace(b'"optional":null', b'"optional":{"x":"y"}')
    manifest, _ = signature_manifest([(tampered, signature)])
    with pytest.raises(SignatureError, match="does not verify"):
        _check(manifest, {sha256(tampered): tampered}, parse_keys(public_pem(key), "k"))


def test_one_valid_layer_among_others_passes():
    key, stranger = _ec(), _ec()
    theirs = simple_signing_payload(DIGEST, "elsewhere/x")
    ours = simple_signing_payload(DIGEST, REF)
    manifest, _ = signature_manifest(
        [(theirs, sign_bytes(stranger, theirs)), (ours, sign_bytes(key, ours))]
    )
    blobs = {sha256(theirs): theirs, sha256(ours): ours}
    assert _check(manifest, blobs, parse_keys(public_pem(key), "k")).digest == DIGEST


def test_the_docker_reference_is_checked_only_when_asked():
    key = _ec()
    manifest, blobs = _signed(key, reference="evil.example/other")
    keys = parse_keys(public_pem(key), "k")
    assert _check(manifest, blobs, keys).digest == DIGEST
    with pytest.raises(SignatureError, match=r"docker-reference 'evil\.example/other'"):
        _check(manifest, blobs, keys, reference=REF)
    manifest, blobs = _signed(key)
    assert _check(manifest, blobs, keys, reference=REF).digest == DIGEST


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"critical": 1}', "no critical object"),
        (b'{"critical": {"type": "something else"}}', "payload type"),
        (
            b'{"critical": {"type": "cosign container image signature", "image": {}}}',
            "docker-manifest-digest",
        ),
        (
            b'{"critical": {"type": "cosign container image signature",'
            b' "image": {"docker-manifest-digest": "sha256:XYZ"}}}',
            "not a sha256 digest",
        ),
        (
            b'{"critical": {"type": "cosign container image signature",'
            b' "image": {"docker-manifest-digest": "' + DIGEST.encode() + b'",'
            b' "docker-manifest-digest": "' + OTHER.encode() + b'"}}}',
            "duplicate key",
        ),
        (b"[" * 60_000, "not valid JSON"),
    ],
    ids=["noise", "array", "critical", "type", "no-digest", "bad-digest", "duplicate", "deep"],
)
def test_malformed_payloads_are_refused_with_the_reason(payload, reason):
    with pytest.raises(PayloadError, match=reason):
        parse_payload(payload)
    key = _ec()
    manifest, _ = signature_manifest([(payload, sign_bytes(key, payload))])
    with pytest.raises(SignatureError, match=reason):
        _check(manifest, {sha256(payload): payload}, parse_keys(public_pem(key), "k"))


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (b"{}", "no layers list"),
        (json.dumps({"layers": [{}] * 65}).encode(), "over 64 layers"),
        (
            json.dumps(
                {
                    "layers": [
                        {
                            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                            "digest": DIGEST,
                            "size": 10,
                            "annotations": {"dev.cosignproject.cosign/signature": "%%%"},
                        }
                    ]
                }
            ).encode(),
            "not base64",
        ),
        (
            json.dumps(
                {
                    "layers": [
                        {
                            "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                            "digest": DIGEST,
                            "size": 10**9,
                            "annotations": {"dev.cosignproject.cosign/signature": "AAAA"},
                        }
                    ]
                }
            ).encode(),
            "no size within",
        ),
    ],
    ids=["no-layers", "too-many", "bad-base64", "giant-size"],
)
def test_malformed_signature_manifests_are_a_registry_error(manifest, reason):
    with pytest.raises(RegistryError, match=reason):
        _check(manifest, {}, parse_keys(public_pem(_ec()), "k"))


def test_a_manifest_without_cosign_layers_is_unsigned():
    manifest = json.dumps({"layers": [{"mediaType": "application/octet-stream"}]}).encode()
    with pytest.raises(SignatureError, match="holds no cosign signature"):
        _check(manifest, {}, parse_keys(public_pem(_ec()), "k"))


def test_key_files_and_pem_text_load_the_same_key(tmp_path):
    pem = public_pem(_ec())
    path = tmp_path / "cosign.pub"
    path.write_text(pem)
    assert load_keys(str(path)) == load_keys(pem)
    assert load_keys(str(path))[0].source == f"verify key {path}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("/nonexistent/cosign.pub", "cannot read"),
        ("-----BEGIN PUBLIC KEY-----\n%%%\n-----END PUBLIC KEY-----\n", "not valid base64"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n", "without -----END PUBLIC KEY-----"),
        (
            "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n"
            "-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "that is a private key",
        ),
        ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "CERTIFICATE"),
    ],
    ids=["empty", "missing-file", "bad-base64", "no-end", "private", "certificate"],
)
def test_bad_keys_are_one_line_usage_errors(text, reason):
    with pytest.raises(UsageError, match=reason) as err:
        load_keys(text)
    assert "\n" not in str(err.value)


def test_a_key_that_is_not_a_key_is_refused_at_verification():
    garbage = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(b"x" * 40).decode()
    keys = parse_keys(garbage + "\n-----END PUBLIC KEY-----\n", "k")
    with pytest.raises(UsageError, match="not a valid public key"):
        _check(None, {}, keys)


def test_a_small_rsa_key_is_refused():
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UsageError, match="under 2048 bits"):
        _check(None, {}, parse_keys(public_pem(small), "k"))


def test_loading_keys_does_not_import_cryptography():
    code = (
        "import sys\n"
        "from runlayer_tf.signatures import parse_keys\n"
        f"parse_keys({public_pem(_ec())!r}, 'k')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cryptography', 'attrs')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "[]\n"), proc.stderr


# --- fuzzing: any payload or manifest is a value or a one-line error ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from runlayer_tf.errors import RunlayerError  # noqa: E402
from runlayer_tf.signatures._payload import Payload  # noqa: E402

fuzz = settings(
    max_examples=int(__import__("os").environ.get("RUNLAYER_TF_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(["cosign container image signature", DIGEST, OTHER, "sha256:", REF, ""])
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "critical",
                    "image",
                    "identity",
                    "type",
                    "docker-manifest-digest",
                    "docker-reference",
                    "optional",
                    "layers",
                    "mediaType",
                    "digest",
                    "size",
                    "annotations",
                    "dev.cosignproject.cosign/signature",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)
payload_like = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.builds(
        lambda d, t, r: json.dumps(
            {
                "critical": {
                    "identity": {"docker-reference": r},
                    "image": {"docker-manifest-digest": d},
                    "type": t,
                }
            }
        ).encode(),
        st.sampled_from([DIGEST, OTHER, "sha256:" + "A" * 64, "", "sha512:00"]),
        st.sampled_from(["cosign container image signature", "x", ""]),
        json_values,
    ),
)


@fuzz
@given(payload_like)
def test_fuzzed_payloads_parse_or_are_refused(body):
    try:
        said = parse_payload(body)
    except PayloadError as err:
        said = str(err)
    if isinstance(said, str):
        assert "\n" not in said
        return
    assert isinstance(said, Payload)
    assert said.digest in (DIGEST, OTHER)


_FUZZ_KEY = ec.generate_private_key(ec.SECP256R1())
_FUZZ_KEYS = parse_keys(public_pem(_FUZZ_KEY), "k")


@fuzz
@given(
    st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
    payload_like,
)
def test_fuzzed_signature_manifests_never_pass_and_never_crash(manifest, payload):
    def read_blob(digest, limit):
        return payload

    message = ""
    try:
        check_signatures(manifest, read_blob, DIGEST, _FUZZ_KEYS, where="r@" + DIGEST)
    except RunlayerError as err:
        message = str(err)
    assert message, "a manifest without a valid signature passed"
    assert "\n" not in message
