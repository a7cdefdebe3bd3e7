"""Plan and apply pin edits: pure functions from pins and values to bytes.

:func:`apply_edits` replaces only the bytes of each edited literal's content;
every other byte of the file is kept as it was (comments, alignment, CRLF, a
BOM, heredocs, non-ASCII text).  :func:`plan_edits` decides which pins a
``NAME=VALUE`` assignment touches and what each one's new text is, refusing a
digest-carrying pin a new tag without its digest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, overload

import attrs

from runlayer_tf.errors import PinError, TagError
from runlayer_tf.pins._model import Edit, Pin, PinKind
from runlayer_tf.tags import Digest, Tag, crosses_major, is_digest, parse_version

__all__ = [
    "DigestLookup",
    "PinValue",
    "apply_edits",
    "follows_map",
    "plan_edits",
    "repository_matches",
    "rewrite",
    "select_pins",
]


class DigestLookup(Protocol):
    """Resolve ``tag`` of ``image`` (``registry/repository``) to the digest it points at."""

    def __call__(self, image: str, tag: str) -> Digest: ...


@attrs.frozen
class PinValue:
    """The right-hand side of ``NAME=VALUE``: a tag, a digest, or ``tag@digest``."""

    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> PinValue:
        """Parse and validate; raises :class:`TagError` for a malformed tag or digest."""
        if is_digest(text) or (":" in text and "@" not in text):
            return cls(None, str(Digest.parse(text)))
        tag, at, digest = text.partition("@")
        Tag.parse(tag)
        if at:
            return cls(tag, str(Digest.parse(digest)))
        return cls(tag, None)

    def __str__(self) -> str:
        if self.tag is None:
            return str(self.digest)
        return self.tag if self.digest is None else f"{self.tag}@{self.digest}"


def repository_matches(repository: str | None, name: str) -> bool:
    """True when ``repository`` is ``name`` or ends with ``/name``."""
    return repository is not None and (repository == name or repository.endswith("/" + name))


def follows_map(pins: Iterable[Pin], configured: Mapping[str, str] | None = None) -> dict[str, str]:
    """Version name -> repository it holds the tag of.

    From configuration, plus what templates say: ``.../backend-production:${var.backend_version}``
    means ``backend_version`` follows ``backend-production``.  Configuration wins.
    """
    inferred: dict[str, str] = {}
    for pin in pins:
        if pin.depends_on and pin.repository:
            head, _, rest = pin.depends_on.partition(".")
            if head in ("var", "local") and rest.replace("_", "").replace("-", "").isalnum():
                inferred.setdefault(rest, pin.repository.rsplit("/", 1)[-1])
    return {**inferred, **(configured or {})}


def select_pins(pins: Sequence[Pin], name: str, follows: Mapping[str, str]) -> list[Pin]:
    """The rewritable pins that ``NAME=...`` changes.

    ``name`` is a pin name (``backend_version``, ``image``) or a repository
    (``backend-production``).  Version pins following a repository move with it
    and image pins of a repository move with the version pin that follows it.
    """
    repositories = {name} | ({follows[name]} if name in follows else set())
    chosen = []
    for pin in pins:
        if not pin.rewritable:
            continue
        if (
            pin.name == name
            or (
                pin.kind is PinKind.IMAGE
                and any(repository_matches(pin.repository, r) for r in repositories)
            )
            or (pin.kind is PinKind.VERSION and follows.get(pin.name) == name)
        ):
            chosen.append(pin)
    return chosen


def _version_of(tag: str | None) -> str | None:
    if tag is None:
        return None
    try:
        parse_version(tag)
    except TagError:
        return None
    return tag


def new_text(pin: Pin, value: PinValue, *, digest_for: DigestLookup | None = None) -> str:
    """The text ``pin``'s literal gets for ``value``; raises :class:`PinError` when it cannot."""
    where = f"{pin.file}:{pin.line}:{pin.column}"
    if pin.kind is PinKind.VERSION:
        if value.tag is None:
            raise PinError(f"{where}: {pin.name} holds a tag, not a digest; give a tag")
        return value.tag
    image = pin.image
    if image is None:
        raise PinError(f"{where}: {pin.path} is a template; set the variable it depends on")
    if value.tag is None:
        return str(image.evolve(tag=None, digest=value.digest))
    digest = value.digest
    if digest is None and image.digest is not None:
        if digest_for is None:
            raise PinError(
                f"{where}: {pin.path} pins a digest; give {value.tag}@sha256:... so the digest is not left stale"
            )
        digest = str(digest_for(image.name, value.tag))
        Digest.parse(digest)
    return str(image.evolve(tag=value.tag, digest=digest))


def plan_edits(
    pins: Sequence[Pin],
    assignments: Mapping[str, PinValue | str] | Sequence[tuple[str, PinValue | str]],
    *,
    follows: Mapping[str, str] | None = None,
    digest_for: DigestLookup | None = None,
    allow_major: bool = False,
) -> list[Edit]:
    """The edits that give each ``NAME`` its ``VALUE`` across ``pins``.

    Pins already holding the value produce no edit.  Raises :class:`PinError`
    when a name matches no pin, a change crosses a major version without
    ``allow_major``, a digest pin would get a tag without its digest, or two
    assignments disagree about one pin; :class:`TagError` for malformed values.
    """
    items = list(assignments.items()) if isinstance(assignments, Mapping) else list(assignments)
    follows = follows_map(pins, follows)
    planned: dict[tuple[str, int], Edit] = {}
    for name, raw in items:
        value = PinValue.parse(raw) if isinstance(raw, str) else raw
        chosen = select_pins(pins, name, follows)
        if not chosen:
            raise PinError(
                f"no pin named {name!r} (neither a variable, an attribute nor a repository)"
            )
        new_version = _version_of(value.tag)
        for pin in chosen:
            text = new_text(pin, value, digest_for=digest_for)
            old_version = _version_of(pin.tag)
            if (
                not allow_major
                and old_version is not None
                and new_version is not None
                and crosses_major(old_version, new_version)
            ):
                raise PinError(
                    f"{pin.file}:{pin.line}:{pin.column}: {pin.path} {old_version} -> {new_version} "
                    "crosses a major version; pass --allow-major"
                )
            key = (pin.file, pin.start)
            held = planned.get(key)
            if held is not None and held.new != text:
                raise PinError(
                    f"{pin.file}:{pin.line}:{pin.column}: {pin.path} set to both {held.new} and {text}"
                )
            if text != pin.value:
                planned[key] = Edit.of(pin, text)
    return sorted(planned.values(), key=lambda e: (e.file, e.start))


def apply_edits(data: bytes, edits: Iterable[Edit]) -> bytes:
    """``data`` with each edit's byte span replaced; bytes outside the spans are kept.

    Raises :class:`PinError` when spans overlap or a span no longer holds the
    edit's old text (the file changed since its pins were found).
    """
    ordered = sorted(edits, key=lambda e: e.start)
    out = []
    position = 0
    for edit in ordered:
        if edit.start < position:
            raise PinError(f"{edit.file}: overlapping edits at byte {edit.start}")
        if data[edit.start : edit.end] != edit.old.encode("utf-8"):
            raise PinError(
                f"{edit.file}: byte {edit.start} no longer holds {edit.old!r}; find pins again"
            )
        out.append(data[position : edit.start])
        out.append(edit.new.encode("utf-8"))
        position = edit.end
    out.append(data[position:])
    return b"".join(out)


@overload
def rewrite(text: str, edits: Iterable[Edit]) -> str: ...
@overload
def rewrite(text: bytes, edits: Iterable[Edit]) -> bytes: ...
def rewrite(text: str | bytes, edits: Iterable[Edit]) -> str | bytes:
    """:func:`apply_edits` for text or bytes: the same type comes back."""
    if isinstance(text, str):
        return apply_edits(text.encode("utf-8"), edits).decode("utf-8")
    return apply_edits(text, edits)
