"""Trusted public keys: PEM text or a file, parsed with the standard library only.

A key is identified by its fingerprint, ``sha256:`` and the hex SHA-256 of its
DER SubjectPublicKeyInfo (the bytes inside ``-----BEGIN PUBLIC KEY-----``), the
same as ``openssl pkey -pubin -in cosign.pub -outform DER | sha256sum``.  This
module only decodes the PEM: the key itself (its type and curve) is checked with
``cryptography`` when a signature is verified with it, so a warm plan (every
verdict cached) never imports ``cryptography``.
"""

from __future__ import annotations

import binascii
import hashlib
import os

from runlayer_tf.errors import UsageError

MAX_KEY_FILE = 64 * 1024  # a PEM public key is a few hundred bytes
_BEGIN = "-----BEGIN "
_PUBLIC = "PUBLIC KEY"
_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class PublicKey:
    """One trusted key: its DER SubjectPublicKeyInfo, fingerprint and where it came from."""

    __slots__ = ("der", "fingerprint", "source")
    der: bytes
    fingerprint: str
    source: str

    def __init__(self, der: bytes, source: str) -> None:
        object.__setattr__(self, "der", der)
        # A key's identity, not a content digest (tags.Digest would cost the hot path attrs).
        object.__setattr__(self, "fingerprint", f"sha256:{hashlib.sha256(der).hexdigest()}")
        object.__setattr__(self, "source", source)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"PublicKey is immutable (cannot set {name})")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.der == self.der

    def __hash__(self) -> int:
        return hash(self.der)

    def __repr__(self) -> str:
        return f"PublicKey({self.fingerprint}, source={self.source!r})"

    @property
    def short(self) -> str:
        """``sha256:`` and the first 12 hex digits: how errors name the key."""
        return self.fingerprint[:19]

    def pem(self) -> str:
        body = binascii.b2a_base64(self.der).decode("ascii").strip()
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


def parse_keys(text: str, source: str) -> tuple[PublicKey, ...]:
    """Every ``PUBLIC KEY`` PEM block of ``text`` (at least one); raises UsageError."""
    keys: list[PublicKey] = []
    rest = text
    while True:
        start = rest.find(_BEGIN)
        if start < 0:
            break
        label_end = rest.find("-----", start + len(_BEGIN))
        if label_end < 0:
            raise UsageError(f"{source}: a PEM block without its label's closing dashes")
        label = rest[start + len(_BEGIN) : label_end]
        if label != _PUBLIC:
            hint = (
                "that is a private key: give the public key (cosign.pub)"
                if "PRIVATE" in label
                else 'expected "-----BEGIN PUBLIC KEY-----" as cosign generate-key-pair writes it'
            )
            raise UsageError(f"{source}: a PEM block of type {label[:40]!r}; {hint}")
        end_marker = f"-----END {label}-----"
        end = rest.find(end_marker, label_end)
        if end < 0:
            raise UsageError(f"{source}: a PEM block without {end_marker}")
        body = "".join(rest[label_end + 5 : end].split())
        # Strict base64 by hand: the base64 module (and struct) cost the warm path an import.
        if len(body) % 4 or not set(body) <= _BASE64 or "=" in body.rstrip("="):
            raise UsageError(f"{source}: the PEM block is not valid base64")
        try:
            der = binascii.a2b_base64(body)
        except (binascii.Error, ValueError):
            raise UsageError(f"{source}: the PEM block is not valid base64") from None
        if not der:
            raise UsageError(f"{source}: an empty PEM block")
        keys.append(PublicKey(der, source))
        rest = rest[end + len(end_marker) :]
    if not keys:
        raise UsageError(
            f'{source}: no "-----BEGIN PUBLIC KEY-----" block (give a PEM public key or its path)'
        )
    return tuple(keys)


def load_keys(value: str, *, what: str = "verify key") -> tuple[PublicKey, ...]:
    """The keys in ``value``: PEM text (it contains ``-----BEGIN``) or the path of a PEM file."""
    if _BEGIN in value:
        return parse_keys(value, what)
    path = os.path.expanduser(value.strip())
    if not path:
        raise UsageError(f"{what}: empty (give a PEM public key or its path)")
    from runlayer_tf._files import NotRegularFile, read_regular

    try:
        # A path the user gave: a symlink to the key is followed, a FIFO never blocks.
        data = read_regular(path, MAX_KEY_FILE, follow_symlinks=True)
    except NotRegularFile:
        raise UsageError(f"{what} {path}: not a regular file") from None
    except OSError as err:
        raise UsageError(f"{what} {path}: cannot read ({err.strerror})") from None
    if len(data) > MAX_KEY_FILE:
        raise UsageError(f"{what} {path}: over {MAX_KEY_FILE} bytes, not a PEM public key")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} {path}: not a PEM file (not UTF-8 text)") from None
    return parse_keys(text, f"{what} {path}")


def signature_tag(digest: str) -> str:
    """cosign's tag for the signatures of ``digest``: ``sha256-<hex>.sig``."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}-{hexdigest}.sig"
