"""Resolve a tag selector to a concrete image digest, with the chosen image's build metadata.

:func:`resolve` is the pure-ish core: given a :class:`Query` and a
:class:`~runlayer_tf.registries._base.Registry`, it lists tags once, chooses with
:func:`runlayer_tf.tags.select`, and asks the registry only for what the answer
needs (the digest of the chosen tag when the listing lacks it, the digests of
the few tags that may share it, the push time).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from runlayer_tf import _values
from runlayer_tf.errors import NoMatchError, NotFoundError, UsageError
from runlayer_tf.registries import (
    Registry,
    RegistryAddress,
    checked_digest,
    open_registry,
    validate_repository,
)
from runlayer_tf.tags import (
    Platform,
    Selector,
    SelectorKind,
    Tag,
    TagKind,
    newest_release,
    releases_newest_first,
    select,
)

__all__ = ["QUERY_KEYS", "Query", "Resolution", "resolve", "resolve_query", "rfc3339", "tags_on"]

QUERY_KEYS = (
    "repository",
    "tag",
    "registry",
    "registry_id",
    "region",
    "allow_prerelease",
    "insecure",
    "platform",
)
_BOOL = {"true": True, "false": False, "": False}


def rfc3339(moment: datetime.datetime | None) -> str:
    """``2024-12-13T15:24:30Z``, or "" for None."""
    if moment is None:
        return ""
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@_values.frozen
class Query:
    """What to resolve: the external data source's query, validated.

    ``platform``: the image of that platform rather than the digest the tag
    names (an index's, for a multi-platform image); None for the tag's digest.
    """

    repository: str
    selector: Selector
    address: RegistryAddress
    allow_prerelease: bool = False
    platform: Platform | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> Query:
        """Validate a query object (all values strings); raises UsageError or TagError."""
        unknown = sorted(set(raw) - set(QUERY_KEYS))
        if unknown:
            raise UsageError(
                f"unknown query key {', '.join(repr(k) for k in unknown)}; allowed keys: {', '.join(QUERY_KEYS)}"
            )
        for key, value in raw.items():
            if not isinstance(value, str):
                raise UsageError(
                    f"query value {key!r} must be a string, got {type(value).__name__}"
                )
        values: dict[str, str] = {k: str(v) for k, v in raw.items()}
        for required in ("repository", "tag"):
            if not values.get(required, "").strip():
                raise UsageError(f"query key {required!r} is required")
        flags = {}
        for flag in ("allow_prerelease", "insecure"):
            text = values.get(flag, "").strip().lower()
            if text not in _BOOL:
                raise UsageError(
                    f'query value {flag!r} must be "true" or "false", got {values[flag]!r}'
                )
            flags[flag] = _BOOL[text]
        repository = validate_repository(values["repository"].strip())
        selector = Selector.parse(values["tag"])
        address = RegistryAddress.parse(
            values.get("registry", ""),
            registry_id=values.get("registry_id", "").strip(),
            region=values.get("region", "").strip(),
            insecure=flags["insecure"],
        )
        platform_text = values.get("platform", "").strip()
        platform = Platform.parse(platform_text) if platform_text else None
        return cls(repository, selector, address, flags["allow_prerelease"], platform)


@_values.frozen
class Resolution:
    """The answer: the digest a selector means today, and what is known about that image.

    With a platform, ``digest`` is that platform's manifest, ``platform`` how
    the index names it, and ``index_digest`` the index it came from ("" when
    the tag named a single-platform manifest); ``tags`` are the tags on the
    index.  Without one, both are "".
    """

    registry: str
    repository: str
    digest: str
    tag: str
    version: str
    tags: tuple[str, ...]
    build_timestamp: datetime.datetime | None = None
    commit: str = ""
    pushed_at: datetime.datetime | None = None
    platform: str = ""
    index_digest: str = ""

    @property
    def image(self) -> str:
        """``<registry host>/<repository>@<digest>``: the reference to deploy."""
        return f"{self.registry}/{self.repository}@{self.digest}"

    def to_external(self) -> dict[str, str]:
        """The external data source's result object: every value a string."""
        return {
            "digest": self.digest,
            "image": self.image,
            "tag": self.tag,
            "version": self.version,
            "tags": ",".join(self.tags),
            "build_timestamp": rfc3339(self.build_timestamp),
            "commit": self.commit,
            "pushed_at": rfc3339(self.pushed_at),
            "registry": self.registry,
            "repository": self.repository,
            "platform": self.platform,
            "index_digest": self.index_digest,
        }


def _stamp_text(s: datetime.datetime) -> str:
    """A timestamp tag's text from its moment (``YYYYmmdd-HHMMSS``, the year in four digits)."""
    return f"{s.year:04d}{s.month:02d}{s.day:02d}-{s.hour:02d}{s.minute:02d}{s.second:02d}"


def tags_on(
    registry: Registry,
    repository: str,
    digest: str,
    chosen: Tag | None,
    listing: Mapping[str, str | None],
    *,
    classified: Mapping[str, Tag] | None = None,
) -> tuple[str, ...]:
    """Every tag of ``repository`` that points at ``digest``.

    ECR's listing carries each tag's digest, so this is a filter.  An OCI tag
    listing carries names only, and a HEAD request per tag would be slow on a
    big repository, so only the tags that can share the image are looked up.
    The product's CI pushes ``latest``, ``vX.Y.Z``, a timestamp tag and a build
    tag for one image: once the image's version is known, its release and build
    tags, the timestamp tags of those builds, and ``latest`` are checked.  When
    the selector named no version (``latest``, a timestamp, a digest), the
    build tags of the same timestamp are tried first, then releases from the
    newest down until one shares the digest.  ``classified`` (every listed
    tag's :meth:`Tag.classify`) saves classifying the listing again when
    asking about many digests of one listing.
    """
    on = {t for t, d in listing.items() if d == digest}
    if chosen is not None:
        on.add(chosen.text)
    if all(d is not None for d in listing.values()):
        return tuple(sorted(on))
    # Classifying a big listing is the costly part of an exact answer (900 tags: ~10 ms), and
    # once the image's version is known only some tags can be checked below: those whose text
    # starts with "v<version>" (its release, build and prerelease tags), ``latest``, and later
    # the timestamp tags of its builds.  Classifying just those gives the same answer.
    partial = False
    table: Mapping[str, Tag]
    if classified is not None:
        table = classified
    else:
        mine = {t: Tag.classify(t) for t in on if t in listing}
        shown = {str(i.version) for i in mine.values() if i.version is not None}
        if shown:
            partial = True
            prefixes = tuple(f"v{v}" for v in shown)
            table = {t: Tag.classify(t) for t in listing if t == "latest" or t.startswith(prefixes)}
            table.update(mine)
        else:
            table = {t: Tag.classify(t) for t in listing}
    looked: set[str] = set(on)

    def check(tag: str) -> bool:
        if tag in looked or tag not in listing:
            return tag in on
        looked.add(tag)
        known = listing[tag]
        try:
            shares = (known or registry.digest_of(repository, tag)) == digest
        except NotFoundError:
            return False  # deleted between listing and look-up
        if shares:
            on.add(tag)
        return shares

    def versions() -> set[object]:
        return {table[t].version for t in on if t in table and table[t].version is not None}

    def stamps() -> set[datetime.datetime]:
        return {s for t in on if t in table and (s := table[t].timestamp) is not None}

    if not versions():
        for tag, info in table.items():
            if info.kind is TagKind.BUILD and info.timestamp in stamps():
                check(tag)
    if not versions():
        for release in releases_newest_first(
            listing, allow_prerelease=True, include_build_only=True
        ):
            if check(release.text):
                break
    found = versions()
    for tag, info in table.items():
        if info.version in found and info.kind in (
            TagKind.RELEASE,
            TagKind.BUILD,
            TagKind.PRERELEASE,
        ):
            check(tag)
    found_stamps = stamps()
    if partial and found_stamps:
        texts = {_stamp_text(stamp) for stamp in found_stamps}
        table = {**table, **{t: Tag.classify(t) for t in texts if t in listing}}
    for tag, info in table.items():
        if info.kind in (TagKind.TIMESTAMP, TagKind.LATEST) and (
            info.kind is TagKind.LATEST or info.timestamp in found_stamps
        ):
            check(tag)
    return tuple(sorted(on))


def resolve(query: Query, registry: Registry) -> Resolution:
    """Resolve ``query`` against ``registry``.

    Raises NoMatchError (naming the newest release) when no tag matches,
    NotFoundError for a missing repository or digest, AuthError/RegistryError
    from the backend.
    """
    repository, selector = query.repository, query.selector
    listing = registry.list_tags(repository)
    chosen: Tag | None
    if selector.kind is SelectorKind.DIGEST:
        digest = registry.digest_of(repository, str(selector.digest))
        chosen = None
    else:
        chosen = select(selector, listing, allow_prerelease=query.allow_prerelease)
        if chosen is None:
            newest = newest_release(listing)
            hint = (
                f"newest release: {newest.text}"
                if newest
                else ("no releases" if listing else "no tags")
            )
            prerelease = ""
            if (
                not query.allow_prerelease
                and select(selector, listing, allow_prerelease=True) is not None
            ):
                prerelease = "; a prerelease matches: set allow_prerelease"
            skipped = select(
                selector, listing, allow_prerelease=query.allow_prerelease, include_build_only=True
            )
            build_only = (
                f"; skipped build-only {skipped.text} (no plain v{skipped.version} tag)"
                if skipped is not None
                else ""
            )
            raise NoMatchError(
                f"no tag of {repository} matches {selector.text} ({hint}{prerelease}{build_only})"
            )
        # Asked even when the listing names the digest: ECR describes the image
        # here (once: its push time comes from the same answer), and a layout
        # checks that the manifest blob is present and intact.
        digest = registry.digest_of(repository, chosen.text)
    # Each backend checks its digests; this is the last gate before an answer.
    digest = checked_digest(digest, f"registry {registry.display_host}")
    tags = tags_on(registry, repository, digest, chosen, listing)
    on_digest = [Tag.classify(t) for t in tags]
    builds = sorted(
        (t for t in on_digest if t.kind is TagKind.BUILD), key=lambda t: (t.timestamp, t.text)
    )
    build = builds[-1] if builds else None
    if chosen is None:
        # A digest selector: report the image's preferred release tag, if any.
        releases = [t for t in on_digest if t.is_release or t.kind is TagKind.PRERELEASE]
        releases.sort(key=lambda t: (t.version, t.kind is TagKind.RELEASE))
        chosen = releases[-1] if releases else None
    version = chosen.version if chosen is not None and chosen.version is not None else None
    if version is None:
        versions = [t.version for t in on_digest if t.version is not None and t.is_release]
        version = max(versions) if versions else None
    stamp = build.timestamp if build else None
    if stamp is None:
        stamps = [t.timestamp for t in on_digest if t.kind is TagKind.TIMESTAMP and t.timestamp]
        stamp = max(stamps) if stamps else None
    pushed = registry.pushed_at(repository, digest)
    platform, index_digest = "", ""
    if query.platform is not None:
        from runlayer_tf.registries import platform_image

        what = f"{repository}:{chosen.text}" if chosen is not None else f"{repository}@{digest}"
        image = platform_image(registry, repository, digest, query.platform, what=what)
        digest, platform, index_digest = image.digest, str(image.platform), image.index_digest
    return Resolution(
        registry=registry.display_host,
        repository=repository,
        digest=digest,
        tag=chosen.text if chosen is not None else "",
        version=str(version) if version is not None else "",
        tags=tags,
        build_timestamp=stamp,
        commit=build.commit or "" if build else "",
        pushed_at=pushed,
        platform=platform,
        index_digest=index_digest,
    )


def resolve_query(raw: Mapping[str, object]) -> Resolution:
    """Validate a raw query and resolve it against the registry it names."""
    query = Query.from_mapping(raw)
    return resolve(query, open_registry(query.address))
