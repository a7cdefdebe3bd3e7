"""Hand-written fakes shared by the unit tests: one registry, and the update's AWS and Terraform
fakes (:mod:`tests.fakes.update`).  Integration tests use the real parts instead."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from runlayer_tf.errors import NotFoundError

__all__ = ["FakeRegistry"]


class FakeRegistry:
    """A :class:`runlayer_tf.registries.Registry` over fixed ``{repository: {tag: digest}}``.

    ``listing_digests=False`` hides the digests in listings, as an OCI registry's
    tag list does; ``pushed`` gives push times by digest.  ``calls`` records the
    repositories listed, ``lookups`` the references looked up.
    """

    def __init__(
        self,
        repositories: Mapping[str, Mapping[str, str | None]],
        *,
        listing_digests: bool = True,
        host: str = "registry.example.com",
        pushed: Mapping[str, datetime.datetime] | None = None,
    ) -> None:
        self.repositories = repositories
        self.listing_digests = listing_digests
        self.display_host = host
        self.pushed = dict(pushed or {})
        self.calls: list[str] = []
        self.lookups: list[str] = []

    def _tags(self, repository: str) -> Mapping[str, str | None]:
        if repository not in self.repositories:
            raise NotFoundError(f"repository {repository} not found")
        return self.repositories[repository]

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        self.calls.append(repository)
        tags = self._tags(repository)
        return {t: (d if self.listing_digests else None) for t, d in tags.items()}

    def digest_of(self, repository: str, reference: str) -> str:
        self.lookups.append(reference)
        tags = self._tags(repository)
        if reference.startswith("sha256:"):
            if reference in tags.values():
                return reference
            raise NotFoundError(f"{repository}@{reference} not found")
        digest = tags.get(reference)
        if digest is None:
            raise NotFoundError(f"{repository}:{reference} not found")
        return digest

    def pushed_at(self, repository: str, digest: str) -> datetime.datetime | None:
        return self.pushed.get(digest)
