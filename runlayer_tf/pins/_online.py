"""Pins meet the registry: where a pin's image lives, the ``--online`` check rules, and ``bump``.

* :class:`PinLookups` works out which registry and repository a pin
  refers to and caches listings and digests, so a tree with many pins of one
  repository asks the registry once.
* :func:`online_rules` returns RTF004 (a pinned ``tag@digest`` whose tag now
  points at another digest: the tag was moved) and RTF005 (a pinned tag that
  does not exist).
* :func:`plan_bump` plans, for every pin holding a release, the newest allowed
  release (same minor, same major, or any) and, with ``digest=True``, its digest.

Which registry: an image pin names its own (``HOST/REPO:TAG``; a host written
as an interpolation cannot be looked up and is skipped).  A version pin
(``backend_version = "v1.2.3"``) follows a repository (configured, or inferred
from a template such as ``.../backend-production:${var.backend_version}``) and
uses the registry of an image pin of that repository in the scanned files,
else the default registry (the ``--registry`` option; ECR of the current
account when empty).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import attrs

from runlayer_tf.errors import NoMatchError, NotFoundError, RunlayerError
from runlayer_tf.pins._changes import FileChange, changes_for
from runlayer_tf.pins._checks import (
    RESERVED_ONLINE_RULES,
    CheckContext,
    Rule,
    Violation,
    position_of,
)
from runlayer_tf.pins._model import Edit, Pin, PinKind
from runlayer_tf.pins._rewrite import PinValue, follows_map, new_text, repository_matches
from runlayer_tf.registries import (
    PlatformImage,
    Registry,
    RegistryAddress,
    RegistrySession,
    index_platform,
    open_registry,
    platform_image,
)
from runlayer_tf.tags import (
    Digest,
    ImageRef,
    Platform,
    Selector,
    SelectorKind,
    Tag,
    TagKind,
    Version,
    newest_release,
    releases_newest_first,
    select,
)

__all__ = ["BUMP_LEVELS", "BumpPlan", "PinLookups", "Target", "online_rules", "plan_bump"]

BUMP_LEVELS = ("patch", "minor", "major")


@attrs.frozen
class Target:
    """A repository in a registry: what a pin's tag is looked up in."""

    address: RegistryAddress
    repository: str


def _literal_registry(text: str | None) -> RegistryAddress | None:
    if not text or "${" in text:
        return None
    try:
        return RegistryAddress.parse(text)
    except RunlayerError:
        return None


class PinLookups:
    """Where each pin of a set points (registry and repository), with cached look-ups."""

    def __init__(
        self,
        default: RegistryAddress,
        pins: Sequence[Pin] = (),
        follows: Mapping[str, str] | None = None,
        opener: Callable[[RegistryAddress], Registry] = open_registry,
    ) -> None:
        self.default = default
        self.pins = list(pins)
        self.follows = follows_map(self.pins, follows)
        self.session = RegistrySession(opener)
        # Many pins of one repository ask about the same indexes: each once.
        self._images: dict[tuple[Target, str, Platform], PlatformImage] = {}
        self._platforms: dict[tuple[Target, str, str], Platform | None] = {}

    def target_for(self, pin: Pin) -> Target | None:
        """Where ``pin``'s tag lives, or None when it cannot be known (see the module docs)."""
        if pin.kind is PinKind.IMAGE:
            address = _literal_registry(pin.registry)
            if address is None or pin.repository is None:
                return None
            return Target(address, pin.repository)
        repository = self.follows.get(pin.name)
        if repository is None:
            return None
        for other in self.pins:
            if other.kind is PinKind.IMAGE and repository_matches(other.repository, repository):
                address = _literal_registry(other.registry)
                if address is not None and other.repository is not None:
                    return Target(address, other.repository)
        return Target(self.default, repository)

    def listing(self, target: Target) -> Mapping[str, str | None]:
        return self.session.tags(target.address, target.repository)

    def digest(self, target: Target, tag: str) -> str:
        return self.session.digest(target.address, target.repository, tag)

    def platform_image(
        self, target: Target, digest: str, platform: Platform, *, what: str = ""
    ) -> PlatformImage:
        """The image of ``platform`` that ``digest`` (an index or a manifest) stands for."""
        key = (target, digest, platform)
        if key not in self._images:
            registry = self.session.registry(target.address)
            self._images[key] = platform_image(
                registry, target.repository, digest, platform, what=what
            )
        return self._images[key]

    def index_platform(self, target: Target, index: str, child: str) -> Platform | None:
        """The platform ``index`` lists ``child`` under, or None when it does not list it."""
        key = (target, index, child)
        if key not in self._platforms:
            registry = self.session.registry(target.address)
            self._platforms[key] = index_platform(registry, target.repository, index, child)
        return self._platforms[key]

    def digest_for(self, image: str, tag: str) -> Digest:
        """A :class:`~runlayer_tf.pins._rewrite.DigestLookup` for ``registry/repository`` names."""
        ref = ImageRef.parse(image)
        address = (_literal_registry(ref.registry) if ref.registry else None) or self.default
        return Digest.parse(self.digest(Target(address, ref.repository), tag))


def _where(target: Target) -> str:
    return f"{target.repository} ({target.address})"


def _checked_pins(ctx: CheckContext, lookups: PinLookups) -> Iterator[tuple[Pin, Target]]:
    for pin in ctx.pins:
        if pin.tag is None or not pin.rewritable:
            continue
        target = lookups.target_for(pin)
        if target is not None:
            yield pin, target


def _platform_of(lookups: PinLookups, target: Target, index: str, pinned: str) -> bool:
    """Whether ``pinned`` is one platform's image in the index ``index`` (not a moved tag)."""
    try:
        return lookups.index_platform(target, index, pinned) is not None
    except NotFoundError:
        return False


def online_rules(lookups: PinLookups) -> tuple[Rule, ...]:
    """RTF004 (tag moved) and RTF005 (tag missing), asking the registry through ``lookups``."""

    def tag_moved(ctx: CheckContext) -> Iterator[Violation]:
        for pin, target in _checked_pins(ctx, lookups):
            if pin.digest is None or pin.tag is None:
                continue
            try:
                current = lookups.digest(target, pin.tag)
                # A platform's manifest digest in the tag's index is not a moved tag.
                if current != pin.digest and _platform_of(lookups, target, current, pin.digest):
                    current = pin.digest
            except NotFoundError:
                continue  # RTF005 reports a missing tag
            except RunlayerError as err:
                yield Violation(
                    pin.file,
                    pin.line,
                    pin.column,
                    "RTF004",
                    f"{pin.path}: cannot check {_where(target)}: {err}",
                )
                continue
            if current != pin.digest:
                yield Violation(
                    pin.file,
                    *position_of(pin, pin.digest),
                    "RTF004",
                    f'{pin.path}: tag "{pin.tag}" of {target.repository} now points at {current}, '
                    f"not the pinned {pin.digest}: the tag was moved",
                )

    def tag_missing(ctx: CheckContext) -> Iterator[Violation]:
        for pin, target in _checked_pins(ctx, lookups):
            assert pin.tag is not None
            try:
                listing = lookups.listing(target)
            except RunlayerError as err:
                yield Violation(
                    pin.file,
                    pin.line,
                    pin.column,
                    "RTF005",
                    f"{pin.path}: cannot check {_where(target)}: {err}",
                )
                continue
            if pin.tag in listing:
                continue
            try:
                selector = Selector.parse(pin.tag)
            except RunlayerError:
                continue  # malformed: RTF001
            # A version variable may hold a selector that a module resolves (v1.2, ~> 1.2).
            moving = pin.kind is PinKind.VERSION and selector.kind in (
                SelectorKind.PARTIAL,
                SelectorKind.CONSTRAINT,
            )
            if moving and select(selector, listing) is not None:
                continue
            newest = newest_release(listing)
            hint = f"newest release: {newest.text}" if newest else "no releases"
            yield Violation(
                pin.file,
                *position_of(pin, pin.tag),
                "RTF005",
                f'{pin.path}: tag "{pin.tag}" does not exist in {_where(target)} ({hint})',
            )

    return (
        Rule("RTF004", RESERVED_ONLINE_RULES["RTF004"], tag_moved, online=True),
        Rule("RTF005", RESERVED_ONLINE_RULES["RTF005"], tag_missing, online=True),
    )


@attrs.frozen
class BumpPlan:
    """What :func:`plan_bump` decided: file changes, and a note per pin it left alone."""

    changes: tuple[FileChange, ...]
    notes: tuple[str, ...]


def _within(level: str, current: Version, candidate: Version) -> bool:
    """Whether ``candidate`` stays inside what ``level`` allows (prereleases of the next minor or major do not)."""
    if level == "patch":
        return (candidate.major, candidate.minor) == (current.major, current.minor)
    if level == "minor":
        return candidate.major == current.major
    return True


class _LeftAlone(Exception):
    """Why a pin's digest cannot be carried over (a note, not an error)."""


def _new_digest(
    lookups: PinLookups, target: Target, pin: Pin, tag: str, platform: Platform | None
) -> str:
    """The digest to pin for ``tag``: of the kind ``pin``'s digest is, or ``platform``'s."""
    digest = lookups.digest(target, tag)
    if platform is None and pin.digest is not None and pin.tag is not None:
        try:
            old_index = lookups.digest(target, pin.tag)
        except NotFoundError:
            raise _LeftAlone(
                f'"{pin.tag}" is gone, so the platform of the pinned digest is unknown'
            ) from None
        if old_index != pin.digest:
            platform = lookups.index_platform(target, old_index, pin.digest)
            if platform is None:
                raise _LeftAlone(
                    f"the pinned digest is neither \"{pin.tag}\"'s nor one of its platforms' "
                    "(the tag was moved?)"
                )
    if platform is None:
        return digest
    try:
        what = f"{target.repository}:{tag}"
        return lookups.platform_image(target, digest, platform, what=what).digest
    except NoMatchError as err:
        raise _LeftAlone(str(err)) from None


def plan_bump(
    pins: Sequence[Pin],
    lookups: PinLookups,
    *,
    level: str = "minor",
    digest: bool = False,
    allow_prerelease: bool = False,
    platform: Platform | None = None,
) -> BumpPlan:
    """Plan moving every pin that holds a release to the newest release allowed by ``level``.

    ``patch`` stays within the minor version, ``minor`` (the default) within the
    major, ``major`` takes the newest release.  Pins holding ``latest``, partial
    versions, timestamps or templates are left alone (each with a note).  A pin
    that carries a digest, or every image pin with ``digest=True``, gets the new
    release's digest, of the same kind as the old one: a platform's manifest
    digest (found in the old tag's index) stays that platform's, an index
    digest stays the index's.  ``platform`` makes every digest written that
    platform's.  A pin whose kind cannot be kept is left alone with a note.
    Raises RunlayerError when a registry cannot answer.
    """
    if level not in BUMP_LEVELS:
        raise ValueError(level)
    notes: list[str] = []
    edits: list[Edit] = []
    releases: dict[Target, list[Tag]] = {}  # per target: classifying a listing is not free
    for pin in pins:
        where = f"{pin.file}:{pin.line}:{pin.column}: {pin.path}"
        if pin.tag is None or not pin.rewritable:
            continue
        current = Tag.classify(pin.tag)
        if (
            not (current.is_release or current.kind is TagKind.PRERELEASE)
            or current.version is None
        ):
            notes.append(f'{where}: "{pin.tag}" is not a release; left alone')
            continue
        target = lookups.target_for(pin)
        if target is None:
            notes.append(
                f"{where}: no registry known for {pin.name}; configure which repository it follows"
            )
            continue
        known = releases.get(target)
        if known is None:
            known = releases[target] = releases_newest_first(
                lookups.listing(target), allow_prerelease=allow_prerelease
            )
        newer = [
            release
            for release in known
            if release.version is not None
            and release.version > current.version
            and _within(level, current.version, release.version)
        ]
        if not newer:
            continue
        chosen = newer[0]
        new_digest = None
        if pin.digest is not None or (digest and pin.kind is PinKind.IMAGE):
            try:
                new_digest = _new_digest(lookups, target, pin, chosen.text, platform)
            except _LeftAlone as reason:
                notes.append(f"{where}: {reason}; left alone")
                continue
        elif digest:
            notes.append(
                f"{where}: a version variable holds no digest; pin the image reference to keep one"
            )
        text = new_text(pin, PinValue(chosen.text, new_digest))
        if text != pin.value:
            edits.append(Edit.of(pin, text))
    return BumpPlan(tuple(changes_for(edits)), tuple(notes))
