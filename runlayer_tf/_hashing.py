"""SHA-256 without loading OpenSSL: CPython's own ``_sha256`` (``_sha2`` from 3.12).

``hashlib`` loads ``_hashlib`` (OpenSSL) at import, a few milliseconds of every
process that hashes; the data source's cache key and a manifest's digest need
only SHA-256, which CPython also builds in.  Other interpreters fall back to
``hashlib``.
"""

from __future__ import annotations

__all__ = ["sha256"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from hashlib import sha256
else:
    try:
        from _sha256 import sha256
    except ImportError:  # pragma: no cover - CPython 3.12+ and other interpreters
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256
