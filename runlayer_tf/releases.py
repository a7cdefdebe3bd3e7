"""List a repository's releases, newest first, with digest, tags and push date."""

from __future__ import annotations

import datetime

import attrs

from runlayer_tf.registries import Registry
from runlayer_tf.resolve import rfc3339, tags_on
from runlayer_tf.tags import Tag, TagKind, releases_newest_first

__all__ = ["Release", "list_versions"]


@attrs.frozen
class Release:
    version: str
    tag: str
    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime.datetime | None
    # True when the version exists only as build tags (no plain vX.Y.Z tag):
    # listed, but no range selector or ``pins bump`` chooses it.
    build_only: bool = False

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
        }


def list_versions(
    registry: Registry, repository: str, *, limit: int = 20, allow_prerelease: bool = False
) -> list[Release]:
    """The newest ``limit`` versions (0: all), one row per version, build-only ones marked."""
    listing = registry.list_tags(repository)
    releases = releases_newest_first(
        listing, allow_prerelease=allow_prerelease, include_build_only=True
    )
    if limit:
        releases = releases[:limit]
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
    rows = []
    for tag in releases:
        digest = digests[tag.text]
        # ECR's pushed_at answers from what describe_many fetched; an image it
        # did not return (deleted meanwhile) has no push time.
        pushed = (
            registry.pushed_at(repository, digest) if not details or digest in details else None
        )
        same = tags_on(registry, repository, digest, tag, listing, classified=classified)
        build_only = tag.kind is TagKind.BUILD
        rows.append(Release(str(tag.version), tag.text, digest, same, pushed, build_only))
    return rows
