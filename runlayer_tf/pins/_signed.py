"""RTF006 (``pins check --online`` with verify keys): a pinned image not signed by a trusted key.

A pin's digest is the one it carries (``repo:tag@sha256:...`` or
``repo@sha256:...``), else the digest its exact tag names today (a tag that does
not exist is RTF005's; a moving selector such as ``v1.2`` is left to the module,
which verifies what it resolves at plan time).  The digest must carry a cosign
signature by one of the keys of ``verify-keys`` (or ``--verify-key``); verdicts
come from, and go to, the cache (by digest and key fingerprint).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from runlayer_tf.errors import RunlayerError, SignatureError
from runlayer_tf.pins._checks import CheckContext, Rule, Violation, position_of
from runlayer_tf.pins._model import Pin
from runlayer_tf.pins._online import PinLookups, Target
from runlayer_tf.pins._rules import RULES
from runlayer_tf.signatures import PublicKey, verify_cached

__all__ = ["signature_rule"]


def _digest_of(pin: Pin, target: Target, lookups: PinLookups) -> str | None:
    if pin.digest is not None:
        return pin.digest
    if pin.tag is None:
        return None
    try:
        if pin.tag not in lookups.listing(target):
            return None  # RTF005 (or a selector the module resolves)
        return lookups.digest(target, pin.tag)
    except RunlayerError:
        return None  # RTF004/RTF005 report what the registry said


def signature_rule(lookups: PinLookups, keys: Sequence[PublicKey]) -> Rule:
    """RTF006, checking every pin's digest with ``keys`` through ``lookups``' registries."""

    def unsigned(ctx: CheckContext) -> Iterator[Violation]:
        for pin in ctx.pins:
            if not pin.rewritable:
                continue
            target = lookups.target_for(pin)
            if target is None:
                continue
            digest = _digest_of(pin, target, lookups)
            if digest is None:
                continue
            where = position_of(pin, pin.digest or pin.tag)
            try:
                verify_cached(
                    lambda t=target: lookups.session.registry(t.address),  # type: ignore[misc]
                    target.repository,
                    digest,
                    keys,
                )
            except SignatureError as err:
                yield Violation(pin.file, *where, "RTF006", f"{pin.path}: {err}")
            except RunlayerError as err:
                yield Violation(
                    pin.file,
                    *where,
                    "RTF006",
                    f"{pin.path}: cannot check the signature of {target.repository}@{digest}: {err}",
                )

    return Rule("RTF006", RULES["RTF006"].summary, unsigned, online=True)
