"""Semantic versions as the tag grammar reads them: ``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``.

:class:`Version` orders, compares and hashes as SemVer 2.0.0 section 11 says (and as the
``semver`` package's ``Version`` does, which it replaced on the resolve path; the property
test in ``tests/unit/test_tag_versions.py`` holds them to the same answers): numbers
numerically, a prerelease before its release, prerelease identifiers one by one (numeric
ones numerically and before alphanumeric ones, which compare in ASCII order, a shorter list
first when one is a prefix of the other); build metadata is kept and printed but never
compared or hashed.

Why not ``semver`` itself: importing it costs ``typing``, ``inspect``, ``ast``, ``dis`` and
``tokenize`` (its deprecation helpers), about a third of what a cold ``resolve`` imported once
attrs was gone (issue 12, ``benchmarks/README.md``).  Each version's sort key is computed once,
so comparing (``versions`` sorts hundreds) is a tuple comparison.
"""

from __future__ import annotations

__all__ = ["Version"]


def _identifier_key(identifier: str) -> tuple[int, int, str]:
    return (0, int(identifier), "") if identifier.isdigit() else (1, 0, identifier)


class Version:
    """An immutable semantic version; build the grammar's way with :func:`parse_version`."""

    __slots__ = ("_key", "build", "major", "minor", "patch", "prerelease")

    major: int
    minor: int
    patch: int
    prerelease: str | None
    build: str | None
    _key: tuple[object, ...]

    def __init__(
        self,
        major: int,
        minor: int = 0,
        patch: int = 0,
        prerelease: str | None = None,
        build: str | None = None,
    ) -> None:
        for name, number in (("major", major), ("minor", minor), ("patch", patch)):
            if type(number) is not int or number < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {number!r}")
        pre = prerelease or None
        key: tuple[object, ...] = (
            (major, minor, patch, 1, ())
            if pre is None
            else (major, minor, patch, 0, tuple(_identifier_key(i) for i in pre.split(".")))
        )
        setter = object.__setattr__
        setter(self, "major", major)
        setter(self, "minor", minor)
        setter(self, "patch", patch)
        setter(self, "prerelease", pre)
        setter(self, "build", build or None)
        setter(self, "_key", key)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a Version cannot be changed ({name})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Version cannot be changed ({name})")

    def __reduce__(self) -> tuple[object, ...]:
        return (Version, (self.major, self.minor, self.patch, self.prerelease, self.build))

    # --- comparison (build metadata ignored) -----------------------------------------------

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Version:
            return NotImplemented
        return self._key == other._key

    def __ne__(self, other: object) -> bool:
        if other.__class__ is not Version:
            return NotImplemented
        return self._key != other._key

    def __lt__(self, other: Version) -> bool:
        if other.__class__ is not Version:
            return NotImplemented
        return self._key < other._key

    def __le__(self, other: Version) -> bool:
        if other.__class__ is not Version:
            return NotImplemented
        return self._key <= other._key

    def __gt__(self, other: Version) -> bool:
        if other.__class__ is not Version:
            return NotImplemented
        return self._key > other._key

    def __ge__(self, other: Version) -> bool:
        if other.__class__ is not Version:
            return NotImplemented
        return self._key >= other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def compare(self, other: Version) -> int:
        """-1, 0 or 1 as ``self`` is before, the same as or after ``other`` (build ignored)."""
        return (self._key > other._key) - (self._key < other._key)

    # --- text and derived versions ---------------------------------------------------------

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += f"-{self.prerelease}"
        if self.build:
            text += f"+{self.build}"
        return text

    def __repr__(self) -> str:
        return (
            f"Version(major={self.major}, minor={self.minor}, patch={self.patch}, "
            f"prerelease={self.prerelease!r}, build={self.build!r})"
        )

    def to_tuple(self) -> tuple[int, int, int, str | None, str | None]:
        return (self.major, self.minor, self.patch, self.prerelease, self.build)

    def finalize_version(self) -> Version:
        """The release this is a prerelease of (``1.3.0-rc.1`` -> ``1.3.0``)."""
        return Version(self.major, self.minor, self.patch)

    def bump_major(self) -> Version:
        return Version(self.major + 1)

    def bump_minor(self) -> Version:
        return Version(self.major, self.minor + 1)

    def bump_patch(self) -> Version:
        return Version(self.major, self.minor, self.patch + 1)
