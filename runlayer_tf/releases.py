"""List a repository's releases, newest first, with digest, tags and push date."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping

from runlayer_tf import _values
from runlayer_tf.errors import NoMatchError, NotFoundError
from runlayer_tf.registries import PlatformImage, Registry
from runlayer_tf.resolve import rfc3339, tags_on
from runlayer_tf.tags import Platform, Tag, TagKind, releases_newest_first

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path

__all__ = ["Release", "list_versions"]


@_values.frozen
class Release:
    version: str
    tag: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime.datetime | None
    # True when the version exists only as build tags (no plain vX.Y.Z tag):
    # listed, but no range selector or ``pins bump`` chooses it.
    build_only: bool = False
    # With a platform: how the index names the platform's image ("" when the
    # release has none: then ``digest`` is "" too), and the index's digest.
    platform: str = ""
    index_digest: str = ""
    missing_platform: str = ""  # the platform asked for, when this release lacks it

    @property
    def pushed_at_text(self) -> str:
        return rfc3339(self.pushed_at) or "-"

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "tag": self.tag,
            "digest": self.digest,
            "tags": list(self.tags),
            "pushed_at": rfc3339(self.pushed_at),
            "build_only": self.build_only,
            "platform": self.platform,
            "index_digest": self.index_digest,
        }

    @property
    def note(self) -> str:
        notes = ["build only"] if self.build_only else []
        if self.missing_platform:
            notes.append(f"no {self.missing_platform}")
        return "; ".join(notes)


# Per-row digests are asked this many at a time (HEAD requests to one registry).
WORKERS = 8


class _Known:
    """A registry whose ``digest_of`` answers each tag once for the whole listing.

    ``versions`` asks about the same tags for many rows (``latest`` for every
    one); this keeps each of them to one request.
    """

    def __init__(self, registry: Registry, digests: dict[str, str]) -> None:
        self._registry = registry
        self._digests = digests

    def __getattr__(self, name: str) -> object:
        return getattr(self._registry, name)

    def digest_of(self, repository: str, reference: str) -> str:
        if reference not in self._digests:
            self._digests[reference] = self._registry.digest_of(repository, reference)
        return self._digests[reference]


def _wanted(releases: list[Tag], listing: Mapping[str, str | None]) -> list[str]:
    """The tags ``tags_on`` will look up for these rows: each row's own tag, the
    other tags of its version, the timestamp tags of those builds, and ``latest``."""
    versions = {tag.version for tag in releases}
    classified = [Tag.classify(t) for t in listing if listing[t] is None]
    same = [
        t
        for t in classified
        if t.version in versions and t.kind in (TagKind.RELEASE, TagKind.BUILD, TagKind.PRERELEASE)
    ]
    stamps = {t.timestamp for t in same if t.kind is TagKind.BUILD}
    wanted = [t.text for t in releases if listing.get(t.text) is None]
    wanted += [t.text for t in same]
    wanted += [
        t.text
        for t in classified
        if t.kind is TagKind.LATEST or (t.kind is TagKind.TIMESTAMP and t.timestamp in stamps)
    ]
    return list(dict.fromkeys(wanted))


if TYPE_CHECKING:
    from typing import TypeVar

    _T = TypeVar("_T")
    _R = TypeVar("_R")


def _each(function: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """``function`` over ``items``, up to WORKERS at a time, results in order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


class _Candidates:
    """A listing's classified tags grouped so that one row's candidates are found at once.

    For a row whose tag has a version (every row), :func:`tags_on` checks only the tags
    of that version (release, build, prerelease), the timestamp tags of its builds and
    ``latest``; the same subset of the listing gives it the same answer.
    """

    def __init__(self, classified: Mapping[str, Tag]) -> None:
        self._classified = classified
        self._by_version: dict[object, list[str]] = {}
        self._by_stamp: dict[object, list[str]] = {}
        self._latest: list[str] = []
        for text, info in classified.items():
            if info.kind in (TagKind.RELEASE, TagKind.BUILD, TagKind.PRERELEASE):
                self._by_version.setdefault(info.version, []).append(text)
            elif info.kind is TagKind.TIMESTAMP:
                self._by_stamp.setdefault(info.timestamp, []).append(text)
            elif info.kind is TagKind.LATEST:
                self._latest.append(text)

    def for_row(self, tag: Tag) -> dict[str, Tag]:
        texts = [tag.text, *self._by_version.get(tag.version, ())]
        stamps = {
            self._classified[t].timestamp
            for t in texts
            if self._classified[t].kind is TagKind.BUILD
        }
        for stamp in stamps:
            texts += self._by_stamp.get(stamp, ())
        texts += self._latest
        return {t: self._classified[t] for t in dict.fromkeys(texts)}


def _prefetch(registry: Registry, repository: str, tags: list[str]) -> dict[str, str]:
    """The digests of ``tags``, asked concurrently; a tag deleted meanwhile is left out."""

    def one(tag: str) -> tuple[str, str | None]:
        try:
            return tag, registry.digest_of(repository, tag)
        except NotFoundError:
            return tag, None

    return {tag: digest for tag, digest in _each(one, tags) if digest is not None}


def _platform_images(
    registry: Registry, repository: str, digests: list[str], platform: Platform
) -> dict[str, PlatformImage | None]:
    """Each digest's image for ``platform`` (None when it has none), asked concurrently."""
    from runlayer_tf.registries import platform_image

    def one(digest: str) -> tuple[str, PlatformImage | None]:
        try:
            return digest, platform_image(registry, repository, digest, platform)
        except NoMatchError:
            return digest, None

    return dict(_each(one, digests))


def list_versions(
    registry: Registry,
    repository: str,
    *,
    limit: int = 20,
    allow_prerelease: bool = False,
    platform: Platform | None = None,
) -> list[Release]:
    """The newest ``limit`` versions (0: all), one row per version, build-only ones marked.

    With ``platform``, each row's digest is that platform's image (its index
    fetched once per distinct digest); a release without it has digest "" and
    ``missing_platform`` set.
    """
    listing = registry.list_tags(repository)
    releases = releases_newest_first(
        listing, allow_prerelease=allow_prerelease, include_build_only=True
    )
    if limit:
        releases = releases[:limit]
    # Without digests in the listing (OCI), every tag the rows need is asked
    # once, up to WORKERS at a time; the rows then answer from what came back.
    fetched = _prefetch(registry, repository, _wanted(releases, listing))
    registry = _Known(registry, fetched)  # type: ignore[assignment]
    digests = {
        tag.text: listing.get(tag.text) or registry.digest_of(repository, tag.text)
        for tag in releases
    }
    details: dict[str, dict[str, object]] = {}
    describe_many = getattr(registry, "describe_many", None)
    if describe_many is not None and digests:
        details = describe_many(repository, sorted(set(digests.values())))
    # Classified once for all rows (tags_on needs it when the listing lacks digests).
    classified = {t: Tag.classify(t) for t in listing} if None in listing.values() else None
    images = (
        _platform_images(registry, repository, sorted(set(digests.values())), platform)
        if platform is not None
        else {}
    )
    candidates = _Candidates(classified) if classified is not None else None
    rows = []
    for tag in releases:
        digest = digests[tag.text]
        # ECR's pushed_at answers from what describe_many fetched; an image it
        # did not return (deleted meanwhile) has no push time.
        pushed = (
            registry.pushed_at(repository, digest) if not details or digest in details else None
        )
        if candidates is None:
            same = tags_on(registry, repository, digest, tag, listing, classified=classified)
        else:
            # Only the tags tags_on can check for this row: the whole listing for every row
            # made `versions --limit 0` quadratic (semver hashing, ~45% of its time at 300 rows).
            mine = candidates.for_row(tag)
            row_listing = {t: listing[t] for t in mine}
            same = tags_on(registry, repository, digest, tag, row_listing, classified=mine)
        build_only = tag.kind is TagKind.BUILD
        row = Release(str(tag.version), tag.text, digest, same, pushed, build_only)
        if platform is not None:
            image = images[digest]
            row = (
                _values.evolve(row, digest="", missing_platform=str(platform))
                if image is None
                else _values.evolve(
                    row,
                    digest=image.digest,
                    platform=str(image.platform),
                    index_digest=image.index_digest,
                )
            )
        rows.append(row)
    return rows
