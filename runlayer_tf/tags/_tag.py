"""One tag of a repository: its kind, version, build timestamp and commit."""

from __future__ import annotations

import datetime
import re

from runlayer_tf import _values
from runlayer_tf.errors import TagError
from runlayer_tf.tags._grammar import (
    _BUILD,
    _BUILD_SHAPED,
    _COMMIT_SHAPED,
    _LEADING_ZERO,
    _OCI_TAG,
    _PRERELEASE,
    _RELEASE,
    _SEL_VERSION,
    _TIMESTAMP,
    _VERSION_SHAPED,
    TagKind,
)
from runlayer_tf.tags._version import Version


def _version(m: re.Match[str]) -> Version:
    return Version(
        int(m["major"]),
        int(m["minor"]),
        int(m["patch"]),
        m["pre"] if "pre" in m.re.groupindex else None,
    )


def _timestamp(date: str, time: str) -> datetime.datetime:
    """Build the UTC datetime of ``YYYYMMDD``/``HHMMSS``; ValueError when it is no real date or time."""
    return datetime.datetime(
        int(date[:4]),
        int(date[4:6]),
        int(date[6:]),
        int(time[:2]),
        int(time[2:4]),
        int(time[4:]),
        tzinfo=datetime.timezone.utc,
    )


def _version_problem(text: str) -> str:
    """Say why a version-shaped string is not a valid version."""
    zero = _LEADING_ZERO.search(text.replace(".", " . "))
    if zero:
        return f"leading zero in {zero.group()!r}"
    if (
        text.endswith("-")
        or "--" in text
        or ".." in text
        or "-." in text
        or ".-" in text
        or text.endswith(".")
    ):
        return "empty version or prerelease component"
    if "x" in text.lower().split("-")[0] or "*" in text:
        return "wildcards are not supported (write v1.2 or ~> 1.2)"
    return "not a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]"


@_values.frozen
class Tag:
    """One registry tag and what it means (see the module docstring for the forms)."""

    text: str
    kind: TagKind
    version: Version | None = None
    timestamp: datetime.datetime | None = None
    commit: str | None = None

    @classmethod
    def parse(cls, text: str) -> Tag:
        """Parse a tag strictly.

        Returns an OTHER tag for a valid OCI tag of no known form.  Raises
        :class:`TagError` with a one-line reason when ``text`` is no valid OCI tag,
        or looks like one of the forms but is malformed (bad date, uppercase or
        short commit, leading zero, bad prerelease).
        """
        if not _OCI_TAG.fullmatch(text):
            raise TagError(
                f'invalid tag "{text}": not a valid OCI tag ([A-Za-z0-9_][A-Za-z0-9._-]{{0,127}})'
            )
        if text == "latest":
            return cls(text, TagKind.LATEST)
        if m := _RELEASE.fullmatch(text):
            return cls(text, TagKind.RELEASE, version=_version(m))
        if text[0] == "v":
            return cls._parse_v(text)
        if m := _TIMESTAMP.fullmatch(text):
            try:
                ts = _timestamp(m["date"], m["time"])
            except ValueError as err:
                raise TagError(f'invalid tag "{text}": bad timestamp ({err})') from None
            return cls(text, TagKind.TIMESTAMP, timestamp=ts)
        return cls(text, TagKind.OTHER)

    @classmethod
    def _parse_v(cls, text: str) -> Tag:
        if m := _BUILD.fullmatch(text):
            try:
                ts = _timestamp(m["date"], m["time"])
            except ValueError as err:
                raise TagError(f'invalid tag "{text}": bad build timestamp ({err})') from None
            return cls(text, TagKind.BUILD, version=_version(m), timestamp=ts, commit=m["commit"])
        if _BUILD_SHAPED.match(text):
            raise TagError(f'invalid tag "{text}": {_build_problem(text)}')
        if m := _PRERELEASE.fullmatch(text):
            return cls(text, TagKind.PRERELEASE, version=_version(m))
        if _VERSION_SHAPED.match(text):
            raise TagError(f'invalid tag "{text}": {_version_problem(text[1:])}')
        return cls(text, TagKind.OTHER)

    @classmethod
    def classify(cls, text: str) -> Tag:
        """Classify any registry tag; never raises (malformed or unknown forms are OTHER)."""
        try:
            return cls.parse(text)
        except TagError:
            return cls(text, TagKind.OTHER)

    @property
    def is_release(self) -> bool:
        """True for ``vX.Y.Z`` and build tags, the tags that name a released version."""
        return self.kind is TagKind.RELEASE or self.kind is TagKind.BUILD

    def __str__(self) -> str:
        return self.text


def _build_problem(text: str) -> str:
    version, date_time = text.split("-", 1)
    if not _RELEASE.fullmatch(version):
        return f"bad version in build tag ({_version_problem(version[1:])})"
    m = _TIMESTAMP.match(date_time)
    assert m is not None  # guaranteed by _BUILD_SHAPED
    try:
        _timestamp(m["date"], m["time"])
    except ValueError as err:
        return f"bad build timestamp ({err})"
    c = _COMMIT_SHAPED.fullmatch(text)
    commit = c["commit"] if c else ""
    if not commit:
        return "build tag needs a commit after the timestamp (7-40 lowercase hex digits)"
    if re.fullmatch(r"[0-9a-fA-F]+", commit) and commit != commit.lower():
        return f"commit {commit!r} must be lowercase hex"
    if re.fullmatch(r"[0-9a-f]+", commit):
        return f"commit {commit!r} must be 7 to 40 hex digits, got {len(commit)}"
    return f"commit {commit!r} is not hex"


def parse_version(text: str) -> Version:
    """Parse ``v1.2.3``/``1.2.3`` (optionally ``-prerelease``) into a Version.

    A build tag ``v1.2.3-<timestamp>-<commit>`` means its version, 1.2.3.
    Raises :class:`TagError` naming the problem.
    """
    if m := _BUILD.fullmatch(text if text.startswith("v") else "v" + text):
        return _version(m)
    if m := _SEL_VERSION.fullmatch(text):
        return _version(m)
    body = text[1:] if text.startswith("v") else text
    if not re.match(r"[0-9]+\.[0-9]+\.[0-9]+", body):
        raise TagError(
            f'invalid version "{text}": expected MAJOR.MINOR.PATCH with an optional leading v'
        )
    raise TagError(f'invalid version "{text}": {_version_problem(body)}')


def _as_version(value: str | Version) -> Version:
    return value if isinstance(value, Version) else parse_version(value)


def crosses_major(current: str | Version, target: str | Version) -> bool:
    """True when going from ``current`` to ``target`` changes the major version (either direction).

    Versions are strings :func:`parse_version` accepts, or Versions.  0.x is not
    special: 0.1.0 -> 0.2.0 does not cross a major, 0.9.0 -> 1.0.0 does.
    """
    return _as_version(current).major != _as_version(target).major
