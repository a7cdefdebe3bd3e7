"""Verify an image digest's cosign signatures with trusted public keys.

:func:`check_signatures` is the pure part: the ``.sig`` manifest's bytes, a way
to read its payload blobs, the digest and the keys in; a :class:`Verdict` or a
:class:`~runlayer_tf.errors.SignatureError` out.  :func:`verify_image` reads the
manifest and blobs from a registry through the hardened registry client.

A layer counts when all of these hold:

* its payload is a simple-signing payload of type ``cosign container image
  signature`` naming *this* digest (a signature of another image copied onto
  this one's tag names the other digest, and fails);
* with ``reference`` given, the payload's ``docker-reference`` equals it;
* the annotation's signature verifies over the payload's exact bytes with one
  of the keys (ECDSA P-256/P-384/P-521 with SHA-256 as cosign signs, Ed25519,
  or RSA PKCS#1 v1.5 with SHA-256).

The image is signed when at least one layer counts; layers that do not count
are ignored (another key's signature may sit beside the trusted one), and are
named in the error when none counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from runlayer_tf import _values
from runlayer_tf.errors import NotFoundError, SignatureError, UsageError
from runlayer_tf.registries import Registry, fetch_blob, fetch_manifest
from runlayer_tf.signatures._keys import PublicKey, signature_tag
from runlayer_tf.signatures._payload import (
    MAX_PAYLOAD,
    PayloadError,
    parse_payload,
    parse_signature_manifest,
)

__all__ = ["Verdict", "check_signatures", "loaded_key", "verify_image"]


@_values.frozen
class Verdict:
    """A positive verdict: ``digest`` carries a valid signature by the key ``signed_by``.

    ``signed_by`` is the key's fingerprint (``sha256:`` + hex SHA-256 of its DER
    SubjectPublicKeyInfo); ``cached`` says the verdict came from the cache.
    """

    digest: str
    signed_by: str
    cached: bool = False


def loaded_key(key: PublicKey) -> Any:
    """The key as a ``cryptography`` public key; UsageError for a type cosign does not sign with."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    try:
        loaded = load_der_public_key(key.der)
    except (ValueError, TypeError):
        raise UsageError(f"{key.source}: not a valid public key") from None
    if isinstance(loaded, ec.EllipticCurvePublicKey):
        if loaded.curve.name not in ("secp256r1", "secp384r1", "secp521r1"):
            raise UsageError(f"{key.source}: unsupported elliptic curve {loaded.curve.name}")
    elif isinstance(loaded, rsa.RSAPublicKey):
        if loaded.key_size < 2048:
            raise UsageError(f"{key.source}: an RSA key under 2048 bits")
    elif not isinstance(loaded, ed25519.Ed25519PublicKey):
        raise UsageError(
            f"{key.source}: unsupported key type (ECDSA, Ed25519 or RSA public keys only)"
        )
    return loaded


def _signature_valid(loaded: Any, signature: bytes, payload: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        if isinstance(loaded, ec.EllipticCurvePublicKey):
            loaded.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(loaded, rsa.RSAPublicKey):
            loaded.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            loaded.verify(signature, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


def _keys_text(keys: Sequence[PublicKey]) -> str:
    if len(keys) == 1:
        return f"key {keys[0].fingerprint}"
    return "any of keys " + ", ".join(k.fingerprint for k in keys)


def check_signatures(
    manifest: bytes | None,
    read_blob: Callable[[str, int], bytes],
    digest: str,
    keys: Sequence[PublicKey],
    *,
    where: str,
    reference: str | None = None,
) -> Verdict:
    """The verdict for ``digest`` from its signature manifest (None: there is none).

    ``read_blob(digest, limit)`` returns a payload blob's verified bytes;
    ``where`` names the image in errors (``REPO@DIGEST``).
    """
    if not keys:
        raise UsageError("no verify key given")
    loaded = [(key, loaded_key(key)) for key in keys]
    failing = f"{where} is not signed by {_keys_text(keys)}"
    if manifest is None:
        raise SignatureError(f"{failing}: no signature (no tag {signature_tag(digest)})")
    layers = parse_signature_manifest(manifest, f"signature manifest of {where}")
    if not layers:
        raise SignatureError(f"{failing}: the signature manifest holds no cosign signature")
    reasons: list[str] = []
    for number, layer in enumerate(layers):
        payload = read_blob(layer.payload_digest, min(layer.payload_size, MAX_PAYLOAD))
        try:
            said = parse_payload(payload)
        except PayloadError as err:
            reasons.append(f"signature {number}: {err}")
            continue
        if said.digest != digest:
            reasons.append(f"signature {number} signs another image ({said.digest})")
            continue
        if reference is not None and said.docker_reference != reference:
            reasons.append(
                f"signature {number} names docker-reference {said.docker_reference[:200]!r}, "
                f"not {reference!r}"
            )
            continue
        for key, public in loaded:
            if _signature_valid(public, layer.signature, payload):
                return Verdict(digest, key.fingerprint)
        reasons.append(f"signature {number} does not verify with the key")
    raise SignatureError(f"{failing}: {'; '.join(reasons)}")


def verify_image(
    registry: Registry,
    repository: str,
    digest: str,
    keys: Sequence[PublicKey],
    *,
    reference: str | None = None,
) -> Verdict:
    """Read ``digest``'s signatures from ``registry`` and check them (see the module docs).

    Costs one manifest request and one blob request per signature layer.
    """
    where = f"{repository}@{digest}"
    manifest = fetch_manifest(registry, repository, signature_tag(digest))

    def read_blob(blob: str, limit: int) -> bytes:
        try:
            return fetch_blob(registry, repository, blob, limit)
        except NotFoundError:
            raise SignatureError(
                f"{where}: the payload {blob} of its signature is missing from the registry"
            ) from None

    return check_signatures(manifest, read_blob, digest, keys, where=where, reference=reference)
