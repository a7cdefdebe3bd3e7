"""Selectors: what a user asks for (a tag, a version, a constraint, a digest)."""

from __future__ import annotations

import re

from runlayer_tf import _values
from runlayer_tf.errors import TagError
from runlayer_tf.tags._digest import Digest
from runlayer_tf.tags._grammar import (
    _BUILD_SHAPED,
    _CONSTRAINT_CLAUSE,
    _SEL_PARTIAL,
    _SEL_VERSION,
    _TIMESTAMP,
    SelectorKind,
    TagKind,
)
from runlayer_tf.tags._tag import Tag, _version, _version_problem
from runlayer_tf.tags._version import Version


@_values.frozen
class Constraint:
    """One clause of a Terraform-style version constraint, e.g. ``>= 1.3`` or ``~> 1.2.0``.

    ``precision`` is how many components were written (1-3); missing ones are 0.
    """

    operator: str
    version: Version
    precision: int

    def allows(self, version: Version) -> bool:
        """True when ``version`` satisfies this clause (semver precedence for prereleases)."""
        op, bound = self.operator, self.version
        if op == "=":
            return version == bound
        if op == "!=":
            return version != bound
        if op == ">":
            return version > bound
        if op == ">=":
            return version >= bound
        if op == "<":
            return version < bound
        if op == "<=":
            return version <= bound
        # "~>": at least the bound, and only the right-most written component may
        # grow (``~> 1`` and ``~> 1.2`` keep the major, ``~> 1.2.0`` keeps the minor).
        keep = max(1, self.precision - 1)
        same = (version.major, version.minor)[:keep] == (bound.major, bound.minor)[:keep]
        return same and version >= bound

    def __str__(self) -> str:
        parts = (self.version.major, self.version.minor, self.version.patch)[: self.precision]
        pre = f"-{self.version.prerelease}" if self.version.prerelease else ""
        return f"{self.operator} {'.'.join(map(str, parts))}{pre}"


def _parse_constraints(text: str) -> tuple[Constraint, ...]:
    clauses = []
    for raw in text.split(","):
        clause = raw.strip()
        if not clause:
            raise TagError(f'invalid selector "{text}": empty constraint clause')
        m = _CONSTRAINT_CLAUSE.fullmatch(clause)
        if not m:
            raise TagError(
                f'invalid selector "{text}": cannot read constraint {clause!r} (expected e.g. ">= 1.2", "~> 1.2.0")'
            )
        precision = 1 + (m["minor"] is not None) + (m["patch"] is not None)
        op = m["op"] or "="
        if m["pre"] is not None and precision < 3:
            raise TagError(
                f'invalid selector "{text}": a prerelease needs a full version in {clause!r}'
            )
        if m["pre"] is not None and op == "~>":
            raise TagError(
                f'invalid selector "{text}": ~> does not take a prerelease in {clause!r}'
            )
        version = Version(int(m["major"]), int(m["minor"] or 0), int(m["patch"] or 0), m["pre"])
        clauses.append(Constraint(op, version, precision))
    return tuple(clauses)


def _candidate(tag: Tag, allow_prerelease: bool) -> bool:
    return tag.is_release or (allow_prerelease and tag.kind is TagKind.PRERELEASE)


@_values.frozen
class Selector:
    """What a user asks for: a tag, a (partial) version, a constraint or a digest.

    Only the field for its kind is set: ``version`` (VERSION), ``components``
    (PARTIAL: ``(1,)`` or ``(1, 2)``), ``constraints`` (CONSTRAINT), ``digest``
    (DIGEST).
    """

    text: str
    kind: SelectorKind
    version: Version | None = None
    components: tuple[int, ...] = ()
    constraints: tuple[Constraint, ...] = ()
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str) -> Selector:
        """Parse a selector (surrounding whitespace ignored); raise :class:`TagError` naming the problem."""
        text = text.strip()
        if not text:
            raise TagError('invalid selector "": empty')
        if text == "latest":
            return cls(text, SelectorKind.LATEST)
        if "*" in text:
            raise TagError(
                f'invalid selector "{text}": wildcards are not supported (write v1.2 or ~> 1.2)'
            )
        if ":" in text:
            try:
                return cls(text, SelectorKind.DIGEST, digest=Digest.parse(text))
            except TagError as err:
                raise TagError(f'invalid selector "{text}": {_reason(err)}') from None
        if text[0] in "=!<>~" or "," in text:
            return cls(text, SelectorKind.CONSTRAINT, constraints=_parse_constraints(text))
        if re.match(r"v?[0-9]", text):
            return cls._parse_versionish(text)
        try:
            Tag.parse(text)
        except TagError as err:
            raise TagError(f'invalid selector "{text}": {_reason(err)}') from None
        return cls(text, SelectorKind.EXACT)

    @classmethod
    def _parse_versionish(cls, text: str) -> Selector:
        if _TIMESTAMP.fullmatch(text) or _BUILD_SHAPED.match(text):
            try:
                Tag.parse(text)
            except TagError as err:
                raise TagError(f'invalid selector "{text}": {_reason(err)}') from None
            return cls(text, SelectorKind.EXACT)
        if _BUILD_SHAPED.match("v" + text):
            raise TagError(f'invalid selector "{text}": build tags start with "v" (v{text})')
        if m := _SEL_VERSION.fullmatch(text):
            return cls(text, SelectorKind.VERSION, version=_version(m))
        if m := _SEL_PARTIAL.fullmatch(text):
            parts = (int(m["major"]),) if m["minor"] is None else (int(m["major"]), int(m["minor"]))
            return cls(text, SelectorKind.PARTIAL, components=parts)
        body = text[1:] if text.startswith("v") else text
        raise TagError(f'invalid selector "{text}": {_version_problem(body)}')

    def matches(self, tag: Tag, *, allow_prerelease: bool = False) -> bool:
        """True when ``tag`` is one this selector may choose.

        Prerelease tags match only with ``allow_prerelease``, or when the selector
        names that exact prerelease (``v1.3.0-rc.1`` or ``= 1.3.0-rc.1``).
        """
        kind = self.kind
        if kind is SelectorKind.LATEST:
            return tag.kind is TagKind.LATEST
        if kind is SelectorKind.EXACT:
            return tag.text == self.text
        if kind is SelectorKind.DIGEST or tag.version is None:
            return False
        version = tag.version
        if kind is SelectorKind.VERSION:
            return tag.kind is not TagKind.OTHER and version == self.version
        if not _candidate(tag, allow_prerelease or self._names_prerelease(version)):
            return False
        if kind is SelectorKind.PARTIAL:
            return (version.major, version.minor)[: len(self.components)] == self.components
        return all(c.allows(version) for c in self.constraints)

    def _names_prerelease(self, version: Version) -> bool:
        return bool(version.prerelease) and any(
            c.operator == "=" and c.version == version for c in self.constraints
        )

    def __str__(self) -> str:
        return self.text


def _reason(err: TagError) -> str:
    """The part of a ``invalid tag "x": reason`` message after the quoted text."""
    message = str(err)
    return message.split('": ', 1)[1] if '": ' in message else message
