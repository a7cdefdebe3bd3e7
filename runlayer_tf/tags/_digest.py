"""Content digests (``sha256:<64 lowercase hex>``)."""

from __future__ import annotations

import re

from runlayer_tf import _values
from runlayer_tf.errors import TagError
from runlayer_tf.tags._grammar import _DIGEST, _DIGEST_ALGORITHM


@_values.frozen
class Digest:
    """A content digest ``sha256:<64 lowercase hex>``."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``sha256:<64 lowercase hex>``; raise :class:`TagError` naming the problem."""
        if _DIGEST.fullmatch(text):
            return cls("sha256", text[7:])
        algorithm, sep, encoded = text.partition(":")
        if not sep:
            raise TagError(f'invalid digest "{text}": expected sha256:<64 hex digits>')
        if algorithm != "sha256":
            if _DIGEST_ALGORITHM.fullmatch(algorithm):
                raise TagError(
                    f'invalid digest "{text}": unsupported algorithm {algorithm!r} (only sha256)'
                )
            raise TagError(f'invalid digest "{text}": expected sha256:<64 hex digits>')
        if re.fullmatch(r"[0-9a-fA-F]*", encoded) and encoded != encoded.lower():
            raise TagError(f'invalid digest "{text}": hex digits must be lowercase')
        raise TagError(
            f'invalid digest "{text}": sha256 needs 64 hex digits, got {len(encoded)} characters'
        )

    @staticmethod
    def of_bytes(data: bytes) -> Digest:
        """The sha256 digest of ``data``."""
        from runlayer_tf._hashing import sha256  # not hashlib: no OpenSSL to load

        return Digest("sha256", sha256(data).hexdigest())

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


def is_digest(text: str) -> bool:
    """True when ``text`` is a well-formed ``sha256:<64 lowercase hex>`` digest."""
    return _DIGEST.fullmatch(text) is not None
