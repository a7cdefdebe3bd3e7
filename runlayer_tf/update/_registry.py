"""The registry look-ups of an update: does the target tag exist, which release came before.

Both answers come from one tag listing per repository (cached for the run),
through :func:`runlayer_tf.registries.open_registry` and the tag grammar of
:mod:`runlayer_tf.tags`.  Which registry is asked:

* ``--registry`` (with ``--registry-id``/``--region``) when given;
* else the host of the repository itself when the variable holds a full image
  reference (``170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production``);
* else ECR of the current AWS account and region, like ``runlayer-tf resolve``.

Which repository a bare-tag variable follows (:func:`repository_defaults`):
``--repository NAME=REPO``, else ``[pins] follows`` in ``.runlayer-tf.toml``,
else what the workdir's ``.tf`` files say (``.../backend-production:${var.backend_version}``),
else the runbook's convention ``<app>_version`` -> ``<app>-production``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from runlayer_tf.errors import RunlayerError, TagError
from runlayer_tf.registries import Registry, RegistryAddress, RegistrySession, open_registry
from runlayer_tf.tags import ImageRef, parse_version, releases_newest_first

__all__ = [
    "RegistryLookups",
    "conventional_repository",
    "previous_release_in",
    "repository_defaults",
    "split_repository",
]

_CONVENTION = re.compile(r"(?P<app>[a-z0-9]+(?:[_-][a-z0-9]+)*)_version")


def split_repository(repository: str) -> tuple[str | None, str]:
    """``("host[:port]", "path")`` for ``host/path``; ``(None, repository)`` when it names no host.

    The first component is a host when it has a dot or a port, or is ``localhost``
    (Docker's rule), so ``team/app`` stays a repository path.
    """
    try:
        ref = ImageRef.parse(repository)
    except TagError:
        return None, repository
    return ref.registry, ref.repository


def previous_release_in(
    tags: Iterable[str], current: str, *, allow_prerelease: bool = False
) -> str | None:
    """The preferred tag of the newest release strictly below ``current``, or None.

    ``current`` is a version tag (``v1.3.0``, a build tag); raises TagError when
    it is not one (``latest`` has no "before").
    """
    try:
        below = parse_version(current)
    except TagError as err:
        raise TagError(f"cannot tell the release before {current!r}: {err}") from err
    for tag in releases_newest_first(tags, allow_prerelease=allow_prerelease):
        if tag.version is not None and tag.version < below:
            return tag.text
    return None


def conventional_repository(name: str) -> str | None:
    """The runbook's naming: ``backend_version`` -> ``backend-production``; None for other names."""
    match = _CONVENTION.fullmatch(name)
    if match is None:
        return None
    return match["app"].replace("_", "-") + "-production"


def repository_defaults(names: Sequence[str], workdir: Path) -> dict[str, str]:
    """The repository each of ``names`` follows when ``--repository`` does not say (see the module docstring).

    Reads ``.runlayer-tf.toml``/``pyproject.toml`` above ``workdir`` and the
    ``.tf`` files directly in ``workdir``; files that do not parse are ignored
    here (the update itself reports Terraform's errors).
    """
    from runlayer_tf.pins import load_config, scan_paths

    try:
        config = load_config(start=workdir)
        scans = scan_paths(sorted(workdir.glob("*.tf")), config=config)
    except RunlayerError:
        return {n: r for n in names if (r := conventional_repository(n)) is not None}
    follows = config.follows_for(pin for scan in scans for pin in scan.pins)
    found = {}
    for name in names:
        repository = follows.get(name) or conventional_repository(name)
        if repository is not None:
            found[name] = repository
    return found


@attrs.define
class RegistryLookups:
    """``version_exists`` and ``previous_release`` for :class:`~runlayer_tf.update.UpdateDeps`.

    ``address`` is where repositories without a host live; with ``explicit``
    (``--registry`` was given) it is used even for repositories that name a host
    (the host part is dropped).  Tag listings are cached per registry and
    repository for the life of the object (one run).
    """

    address: RegistryAddress
    explicit: bool = False
    allow_prerelease: bool = False
    opener: Callable[[RegistryAddress], Registry] = open_registry
    _session: RegistrySession = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._session = RegistrySession(self.opener)

    def locate(self, repository: str) -> tuple[RegistryAddress, str]:
        """The registry address and repository path to ask about ``repository``; raises UsageError."""
        host, path = split_repository(repository)
        if host is None or self.explicit:
            return self.address, path
        return RegistryAddress.parse(host), path

    def tags(self, repository: str) -> Mapping[str, str | None]:
        """Every tag of ``repository``; raises NotFoundError, AuthError, RegistryError."""
        return self._session.tags(*self.locate(repository))

    def digest(self, repository: str, tag: str) -> str:
        """The digest ``tag`` of ``repository`` names (asked once per run)."""
        return self._session.digest(*self.locate(repository), tag)

    def registry(self, address: RegistryAddress) -> Registry:
        """The run's registry client for ``address``."""
        return self._session.registry(address)

    def version_exists(self, repository: str, tag: str) -> bool:
        """True when ``repository`` has the tag ``tag``."""
        return tag in self.tags(repository)

    def previous_release(self, repository: str, current: str) -> str | None:
        """The newest release of ``repository`` below ``current`` (prereleases only when allowed)."""
        return previous_release_in(
            self.tags(repository), current, allow_prerelease=self.allow_prerelease
        )
