"""The runbook's "Automated Versioning System": conventional commits -> next version.

Pure functions; ``runlayer-tf next-version`` is the shell around them.

Which bump a commit implies (first line ``type[(scope)][!]: description``, type
case-insensitive):

* MAJOR: a ``!`` before the colon (``feat!:``, ``fix(api)!:``, any type), or a
  ``BREAKING CHANGE:`` / ``BREAKING-CHANGE:`` line anywhere in the message.  The
  footer counts even when the first line is not conventional, because missing a
  breaking change is worse than over-announcing one.
* MINOR: ``feat``.
* PATCH: ``fix``; ``docs`` (the runbook: "Patch bump: Bug fixes, documentation
  updates"); ``perf`` and ``revert`` (behaviour users see, as in semantic-release's
  defaults).
* NONE: every other type (``chore``, ``refactor``, ``build``, ``ci``, ``style``,
  ``test``, unknown types) and any message that is not a conventional commit.

Versions follow semver without a 0.x special case: a major bump of 0.4.2 gives
1.0.0, a minor bump gives 0.5.0.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable

from runlayer_tf.errors import TagError
from runlayer_tf.tags import parse_version

__all__ = ["Bump", "bump_for_message", "bump_for_messages", "next_version", "split_messages"]


class Bump(enum.IntEnum):
    """How far a set of changes moves the version; ordered, so ``max`` combines them."""

    NONE = 0
    PATCH = 1
    MINOR = 2
    MAJOR = 3

    def __str__(self) -> str:
        return self.name.lower()


_HEADER = re.compile(r"(?P<type>[A-Za-z][A-Za-z0-9-]*)(?:\([^()\r\n]+\))?(?P<bang>!)?: \S")
_BREAKING_FOOTER = re.compile(r"^BREAKING[ -]CHANGE:[ \t]*\S", re.MULTILINE)
_TYPE_BUMPS = {
    "feat": Bump.MINOR,
    "fix": Bump.PATCH,
    "docs": Bump.PATCH,
    "perf": Bump.PATCH,
    "revert": Bump.PATCH,
}
_DASHES = re.compile(r"^---[ \t]*$", re.MULTILINE)


def bump_for_message(message: str) -> Bump:
    """The bump one commit message implies (see the module docstring for the rules)."""
    text = message.strip()
    if _BREAKING_FOOTER.search(text):
        return Bump.MAJOR
    header = _HEADER.match(text)
    if header is None:
        return Bump.NONE
    if header["bang"]:
        return Bump.MAJOR
    return _TYPE_BUMPS.get(header["type"].lower(), Bump.NONE)


def bump_for_messages(messages: Iterable[str]) -> Bump:
    """The largest bump any of ``messages`` implies (NONE for no messages)."""
    return max((bump_for_message(m) for m in messages), default=Bump.NONE)


def split_messages(text: str) -> list[str]:
    """Split a stream of commit messages into messages, stripped, empty ones dropped.

    Separators, first that occurs wins:

    * NUL bytes: ``git log --format=%B%x00`` or ``git log -z --format=%B``
      (recommended: bodies and footers stay with their subject);
    * lines holding only ``---``;
    * otherwise one message per non-empty line (``git log --format=%s``).
    """
    if "\0" in text:
        parts = text.split("\0")
    elif _DASHES.search(text):
        parts = _DASHES.split(text)
    else:
        parts = text.splitlines()
    return [p.strip() for p in parts if p.strip()]


def next_version(current: str, bump: Bump) -> str:
    """The version after ``current`` given ``bump``; keeps a leading ``v`` if ``current`` had one.

    ``current`` is ``vX.Y.Z``, ``X.Y.Z`` or a build tag (which means its version).
    Bump.NONE gives ``current``'s version back.  Raises :class:`TagError` for a
    malformed or prerelease ``current``.
    """
    version = parse_version(current)
    if version.prerelease:
        raise TagError(
            f'invalid current version "{current}": a prerelease; give the last release (vX.Y.Z)'
        )
    if bump is Bump.MAJOR:
        version = version.bump_major()
    elif bump is Bump.MINOR:
        version = version.bump_minor()
    elif bump is Bump.PATCH:
        version = version.bump_patch()
    prefix = "v" if current.startswith("v") else ""
    return f"{prefix}{version}"
