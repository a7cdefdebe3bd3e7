"""Platforms (``os/architecture[/variant]``) and which entry of an image index serves one.

The match rules are crane's and containerd's: the os and the architecture must
be equal; a variant matches when it is given, else any variant does.  arm64's
default variant is ``v8``: ``linux/arm64/v8`` matches an entry written
``linux/arm64`` and the other way round.  Entries for ``unknown/unknown``
(build attestations) are never chosen nor listed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from runlayer_tf import _values
from runlayer_tf.errors import NoMatchError, UsageError

__all__ = ["Platform", "choose_platform"]

_NAME = re.compile(r"[a-z0-9]{1,32}")
_OFFERED = re.compile(r"[A-Za-z0-9._-]{1,64}")  # what an index may name (shown in errors)
# Names other tools print (uname, Debian) and what the OCI spec calls them.
_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "aarch64": "arm64",
    "armv8": "arm64/v8",
    "armhf": "arm/v7",
    "armv7": "arm/v7",
    "armv7l": "arm/v7",
    "armel": "arm/v6",
    "armv6": "arm/v6",
    "i386": "386",
    "i686": "386",
    "x86": "386",
}
_DEFAULT_VARIANT = {"arm64": "v8"}
_EXAMPLE = "such as linux/amd64 or linux/arm64/v8"


@_values.frozen
class Platform:
    """One platform of an image: ``linux/amd64``, ``linux/arm64/v8``, ``linux/arm/v7``."""

    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def parse(cls, text: str) -> Platform:
        """Parse ``OS/ARCH[/VARIANT]`` (OCI names, lowercase); raises UsageError naming the problem."""
        shown = text if len(text) <= 80 else text[:80] + "..."
        shown = "".join(c if c.isprintable() else "?" for c in shown)
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f'invalid platform "{shown}": expected OS/ARCH[/VARIANT] {_EXAMPLE}')
        for number, part in enumerate(parts):
            if part.lower() != part and _NAME.fullmatch(part.lower()):
                raise UsageError(f'invalid platform "{shown}": write it in lowercase')
            if number == 1 and part in _ALIASES:
                raise UsageError(
                    f'invalid platform "{shown}": the OCI name of {part} is {_ALIASES[part]} '
                    f"({parts[0]}/{_ALIASES[part]})"
                )
            if not _NAME.fullmatch(part):
                raise UsageError(
                    f'invalid platform "{shown}": OS, ARCH and VARIANT are lowercase letters '
                    f"and digits, {_EXAMPLE}"
                )
        if parts[0] == "unknown" or parts[1] == "unknown":
            raise UsageError(
                f'invalid platform "{shown}": unknown/unknown marks build attestations, '
                "not a platform"
            )
        return cls(*parts)

    @classmethod
    def of(cls, value: object) -> Platform | None:
        """The platform an index entry's ``platform`` object (or an image config) names, or None."""
        if not isinstance(value, dict):
            return None
        os_, arch, variant = value.get("os"), value.get("architecture"), value.get("variant", "")
        if not (isinstance(os_, str) and isinstance(arch, str) and isinstance(variant, str)):
            return None
        if not all(_OFFERED.fullmatch(part) for part in (os_, arch, variant or "x")):
            return None  # not a name an index entry can match: not offered, nor printed
        return cls(os_, arch, variant or "")

    @property
    def attestation(self) -> bool:
        """``unknown/unknown``: the entries buildx writes for provenance and SBOMs."""
        return self.os == "unknown" and self.architecture == "unknown"

    def _effective_variant(self) -> str:
        variant = self.variant
        if variant.isdigit():
            variant = f"v{variant}"  # "8" is how some tools write arm64's v8
        return variant or _DEFAULT_VARIANT.get(self.architecture, "")

    def matches(self, offered: Platform) -> bool:
        """Whether an image for ``offered`` serves this (the wanted) platform."""
        if (self.os, self.architecture) != (offered.os, offered.architecture):
            return False
        return not self.variant or self._effective_variant() == offered._effective_variant()

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


def _shown(platforms: Sequence[Platform]) -> str:
    names = list(dict.fromkeys(str(p) for p in platforms if not p.attestation))
    text = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
    return "".join(c if c.isprintable() else "?" for c in text) or "none"


def choose_platform(
    entries: Sequence[tuple[str, Platform | None]], wanted: Platform, *, what: str
) -> tuple[str, Platform]:
    """The (digest, platform) of the entry of an index that serves ``wanted``.

    ``entries`` are the index's manifests in order, each ``(digest, platform or
    None)``.  The first matching entry wins, as with crane, unless the matches
    differ in variant (``linux/arm`` in an index with ``v6`` and ``v7``): then
    the variant must be named.  Raises NoMatchError naming the platforms the
    index has (``what`` names the index in the message).
    """
    offered = [(d, p) for d, p in entries if p is not None and not p.attestation]
    matches = [(d, p) for d, p in offered if wanted.matches(p)]
    if not matches:
        raise NoMatchError(
            f"{what} has no image for {wanted} (platforms: {_shown([p for _, p in offered])})"
        )
    variants = {p._effective_variant() for _, p in matches}
    if len(variants) > 1:
        raise NoMatchError(
            f"{what} has several images for {wanted} ({_shown([p for _, p in matches])}): "
            "name the variant"
        )
    return matches[0]
