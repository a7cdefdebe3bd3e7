"""cosign's signature manifest and simple-signing payload, parsed (pure: bytes in, values out).

The signatures of an image ``sha256:<hex>`` live in the same repository under
the tag ``sha256-<hex>.sig``: an OCI manifest whose layers each hold one
*simple signing* payload (media type
``application/vnd.dev.cosign.simplesigning.v1+json``) and carry the base64
signature of the payload's exact bytes in the annotation
``dev.cosignproject.cosign/signature``.  The payload::

    {"critical": {"identity": {"docker-reference": "HOST/REPO"},
                  "image": {"docker-manifest-digest": "sha256:..."},
                  "type": "cosign container image signature"},
     "optional": null}
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from runlayer_tf import _values
from runlayer_tf.errors import RegistryError, TagError
from runlayer_tf.tags import Digest

__all__ = [
    "MAX_LAYERS",
    "MAX_PAYLOAD",
    "PAYLOAD_TYPE",
    "SIGNATURE_ANNOTATION",
    "SIMPLE_SIGNING",
    "Payload",
    "PayloadError",
    "SignatureLayer",
    "parse_payload",
    "parse_signature_manifest",
]

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
PAYLOAD_TYPE = "cosign container image signature"
MAX_PAYLOAD = 64 * 1024  # a payload is ~250 bytes; annotations in ``optional`` stay far below
MAX_LAYERS = 64  # signatures in one .sig manifest (one per signing)
MAX_SIGNATURE = 16 * 1024  # base64 text of one signature (RSA-4096: 684 characters)


class PayloadError(ValueError):
    """A payload or signature manifest that is not what cosign writes (the reason, one line)."""


@_values.frozen
class Payload:
    """What a simple-signing payload says: the digest it signs and the reference it names."""

    digest: str
    docker_reference: str


@_values.frozen
class SignatureLayer:
    """One layer of a signature manifest: the payload's descriptor and the decoded signature."""

    payload_digest: str
    payload_size: int
    signature: bytes


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise PayloadError("a JSON object with a duplicate key")
    return dict(pairs)


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body, object_pairs_hook=_no_duplicates)
    except PayloadError as err:
        raise PayloadError(f"{what}: {err}") from None
    except (ValueError, RecursionError):
        raise PayloadError(f"{what} is not valid JSON") from None
    if not isinstance(data, dict):
        raise PayloadError(f"{what} is not a JSON object")
    return data


def parse_payload(body: bytes) -> Payload:
    """The payload's digest and docker-reference; raises PayloadError naming what is wrong."""
    if len(body) > MAX_PAYLOAD:
        raise PayloadError(f"payload over {MAX_PAYLOAD} bytes")
    data = _object(body, "payload")
    critical = data.get("critical")
    if not isinstance(critical, dict):
        raise PayloadError("payload has no critical object")
    if critical.get("type") != PAYLOAD_TYPE:
        raise PayloadError(f'payload type is not "{PAYLOAD_TYPE}"')
    image = critical.get("image")
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(digest, str):
        raise PayloadError("payload names no critical.image.docker-manifest-digest")
    try:
        digest = str(Digest.parse(digest))
    except TagError:
        raise PayloadError("payload's docker-manifest-digest is not a sha256 digest") from None
    identity = critical.get("identity")
    reference = identity.get("docker-reference", "") if isinstance(identity, dict) else ""
    if not isinstance(reference, str):
        raise PayloadError("payload's docker-reference is not a string")
    return Payload(digest, reference)


def parse_signature_manifest(body: bytes, source: str) -> tuple[SignatureLayer, ...]:
    """The signature layers of a ``.sig`` manifest; layers of other media types are ignored.

    Raises RegistryError (naming ``source``) for a manifest that is not one.
    """
    try:
        manifest = _object(body, "signature manifest")
        layers = manifest.get("layers")
        if not isinstance(layers, list):
            raise PayloadError("signature manifest has no layers list")
        if len(layers) > MAX_LAYERS:
            raise PayloadError(f"signature manifest has over {MAX_LAYERS} layers")
        found = []
        for number, layer in enumerate(layers):
            if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLE_SIGNING:
                continue
            found.append(_layer(layer, number))
        return tuple(found)
    except PayloadError as err:
        raise RegistryError(f"{source}: {err}") from None


def _layer(layer: dict[str, Any], number: int) -> SignatureLayer:
    digest, size = layer.get("digest"), layer.get("size")
    try:
        digest = str(Digest.parse(digest)) if isinstance(digest, str) else None
    except TagError:
        digest = None
    if digest is None:
        raise PayloadError(f"layer {number} has no valid digest")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD:
        raise PayloadError(f"layer {number} has no size within 0-{MAX_PAYLOAD} bytes")
    annotations = layer.get("annotations")
    text = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(text, str) or not text or len(text) > MAX_SIGNATURE:
        raise PayloadError(f"layer {number} has no {SIGNATURE_ANNOTATION} annotation")
    try:
        signature = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise PayloadError(f"layer {number}'s signature is not base64") from None
    return SignatureLayer(digest, size, signature)
