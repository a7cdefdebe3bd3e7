"""One command's worth of registry look-ups: each registry opened once, each
repository listed once, each tag's digest looked up once.

Commands that ask about many pins or variables (``pins bump``, ``pins check
--online``, ``update``'s preflight) share this instead of caching on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from runlayer_tf.registries import Registry, RegistryAddress, open_registry

__all__ = ["RegistrySession"]


class RegistrySession:
    """Memoised :class:`~runlayer_tf.registries._base.Registry` calls for the life of one command."""

    def __init__(self, opener: Callable[[RegistryAddress], Registry] = open_registry) -> None:
        self._opener = opener
        self._registries: dict[RegistryAddress, Registry] = {}
        self._listings: dict[tuple[RegistryAddress, str], Mapping[str, str | None]] = {}
        self._digests: dict[tuple[RegistryAddress, str, str], str] = {}

    def registry(self, address: RegistryAddress) -> Registry:
        if address not in self._registries:
            self._registries[address] = self._opener(address)
        return self._registries[address]

    def tags(self, address: RegistryAddress, repository: str) -> Mapping[str, str | None]:
        """Every tag of ``repository`` (with digests where the listing has them)."""
        key = (address, repository)
        if key not in self._listings:
            self._listings[key] = self.registry(address).list_tags(repository)
        return self._listings[key]

    def digest(self, address: RegistryAddress, repository: str, tag: str) -> str:
        """The digest ``tag`` points at, from the listing when it says, else asked once."""
        key = (address, repository, tag)
        if key not in self._digests:
            known = self.tags(address, repository).get(tag)
            self._digests[key] = known or self.registry(address).digest_of(repository, tag)
        return self._digests[key]
