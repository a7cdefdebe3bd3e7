"""The preflight's signature check: with verify keys, the target release must be signed.

``update --verify-key PATH`` and ``rollback --verify-key PATH`` refuse, before the
snapshot and before anything is changed, a target release whose digest carries no
cosign signature by one of the keys (see docs/signatures.md).  The digest is the
one the target tag names in the registry the update's look-ups use; verdicts are
cached by digest and key fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from runlayer_tf.signatures import PublicKey, verify_cached
from runlayer_tf.update._registry import RegistryLookups

__all__ = ["ReleaseSigned", "SignatureCheck", "unchecked"]

# (repository, tag) -> the fingerprint of the key that signed it; "" when no key is configured.
# Raises SignatureError when it is not signed.
ReleaseSigned = Callable[[str, str], str]


def unchecked(repository: str, tag: str) -> str:
    """No verify key configured: nothing to check."""
    return ""


@attrs.frozen
class SignatureCheck:
    """A :data:`ReleaseSigned` verifying with ``keys`` through the update's registry look-ups."""

    lookups: RegistryLookups
    keys: tuple[PublicKey, ...]

    def __call__(self, repository: str, tag: str) -> str:
        address, path = self.lookups.locate(repository)
        digest = self.lookups.digest(repository, tag)
        verdict = verify_cached(lambda: self.lookups.registry(address), path, digest, self.keys)
        return verdict.signed_by
