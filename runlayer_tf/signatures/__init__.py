"""cosign signatures of image digests, verified offline with trusted public keys.

* :func:`load_keys` reads PEM public keys (text or a path); each has a
  ``fingerprint``: ``sha256:`` and the hex SHA-256 of its DER SubjectPublicKeyInfo.
* :func:`verify` reads ``sha256-<hex>.sig`` from the image's repository and
  checks its signatures (see :mod:`runlayer_tf.signatures._verify`); it returns a
  :class:`Verdict` or raises :class:`~runlayer_tf.errors.SignatureError`.
* :func:`verify_cached` does the same, answering from the cache's positive
  verdicts (by digest and key fingerprint) first; :func:`cached_signer` is its
  standard-library-only first half, so a warm data source never imports
  ``cryptography`` or ``attrs``.

The digest verified is the one resolution returned: for a multi-platform image
the index's (what an ECS task definition deploys).
"""

from __future__ import annotations

from runlayer_tf import cache
from runlayer_tf.signatures._keys import PublicKey, load_keys, parse_keys, signature_tag

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the external program's hot path imports this
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from runlayer_tf.registries import Registry
    from runlayer_tf.signatures._verify import Verdict

__all__ = [
    "PublicKey",
    "Verdict",
    "cached_signer",
    "load_keys",
    "parse_keys",
    "signature_tag",
    "verify",
    "verify_cached",
    "verify_image_cached",
]


def cached_signer(
    digest: str, keys: Sequence[PublicKey], reference: str | None = None
) -> str | None:
    """The fingerprint of the first key with a cached positive verdict for ``digest``, or None."""
    for key in keys:
        if cache.verdict_known(digest, key.fingerprint, reference or ""):
            return key.fingerprint
    return None


def verify(
    registry: Registry,
    repository: str,
    digest: str,
    keys: Sequence[PublicKey],
    *,
    reference: str | None = None,
) -> Verdict:
    """Check ``digest``'s cosign signatures in ``registry`` (uncached); SignatureError if unsigned."""
    from runlayer_tf.signatures._verify import verify_image

    return verify_image(registry, repository, digest, keys, reference=reference)


def verify_cached(
    registry: Registry | Callable[[], Registry],
    repository: str,
    digest: str,
    keys: Sequence[PublicKey],
    *,
    reference: str | None = None,
) -> Verdict:
    """:func:`verify`, answered from the cache when a verdict for ``digest`` and a key is kept.

    ``registry`` may be a function that opens it, called only on a miss.
    """
    from runlayer_tf.signatures._verify import Verdict

    signer = cached_signer(digest, keys, reference)
    if signer is not None:
        return Verdict(digest, signer, cached=True)
    opened = registry() if callable(registry) else registry
    verdict = verify(opened, repository, digest, keys, reference=reference)
    cache.store_verdict(digest, verdict.signed_by, reference or "")
    return verdict


def verify_image_cached(
    registry: Registry | Callable[[], Registry],
    repository: str,
    digest: str,
    keys: Sequence[PublicKey],
    *,
    index_digest: str = "",
    reference: str | None = None,
) -> Verdict:
    """:func:`verify_cached` of a resolved image, which may be one platform's manifest.

    With ``--platform`` the answer is a platform manifest chosen from an index
    (``index_digest``).  Either signature vouches for it: its own, or the
    index's (the index names the manifest by digest, and resolution checked
    that the chosen digest is listed in an index whose bytes hash to
    ``index_digest``).  The platform manifest is tried first; when neither is
    signed the error names both.
    """
    if not index_digest or index_digest == digest:
        return verify_cached(registry, repository, digest, keys, reference=reference)
    opened: list[Registry] = []

    def once() -> Registry:
        if not opened:
            opened.append(registry() if callable(registry) else registry)
        return opened[0]

    from runlayer_tf.errors import SignatureError

    try:
        return verify_cached(once, repository, digest, keys, reference=reference)
    except SignatureError as own:
        try:
            return verify_cached(once, repository, index_digest, keys, reference=reference)
        except SignatureError as of_index:
            raise SignatureError(f"{own}; nor is its index: {of_index}") from None


def __getattr__(name: str) -> object:
    if name == "Verdict":
        from runlayer_tf.signatures._verify import Verdict

        return Verdict
    raise AttributeError(f"module 'runlayer_tf.signatures' has no attribute {name!r}")
