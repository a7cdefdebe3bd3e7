"""One platform's image from a digest: the index's entry for it, or a single-platform manifest.

Every backend hands over manifest bodies already checked (at most 4 MiB, a
manifest or index media type, hashing to the digest asked for); this module
reads them.  The match rules are :meth:`runlayer_tf.tags.Platform.matches`.
"""

from __future__ import annotations

import json

from runlayer_tf import _values
from runlayer_tf.errors import NoMatchError, RegistryError
from runlayer_tf.registries._base import Registry, checked_digest, printable
from runlayer_tf.tags import Platform, choose_platform

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "PlatformImage",
    "index_entries",
    "index_platform",
    "manifest_object",
    "platform_image",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)


@_values.frozen
class PlatformImage:
    """The image one platform runs.

    ``digest`` is the platform's manifest; ``platform`` is how the index (or
    the image's config) names it; ``index_digest`` is the index it was chosen
    from, "" when the digest was a single-platform manifest already.
    """

    digest: str
    platform: Platform
    index_digest: str = ""


def manifest_object(body: bytes, source: str) -> dict[str, Any]:
    """A manifest or index body as a JSON object of a known media type, else RegistryError."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    media = data.get("mediaType") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not (
        media is None or (isinstance(media, str) and media in INDEX_TYPES + MANIFEST_TYPES)
    ):
        raise RegistryError(f"{source} is not an image manifest or index")
    return data


def _is_index(manifest: dict[str, Any]) -> bool:
    media = manifest.get("mediaType")
    return media in INDEX_TYPES or (media is None and "manifests" in manifest)


def index_entries(manifest: dict[str, Any], source: str) -> list[tuple[str, Platform | None]]:
    """``(digest, platform)`` of every image manifest an index lists, in order (digests checked).

    Entries that are not image manifests (a nested index, an artifact) get
    None as their platform, so they are never chosen; so do attestations
    (``vnd.docker.reference.type``).
    """
    listed = manifest.get("manifests")
    if not isinstance(listed, list):
        raise RegistryError(f"{source} is an index without a manifests list")
    entries: list[tuple[str, Platform | None]] = []
    for number, entry in enumerate(listed):
        if not isinstance(entry, dict):
            raise RegistryError(f"{source}: manifests[{number}] is not an object")
        digest = checked_digest(entry.get("digest"), f"{source} manifests[{number}]")
        media = entry.get("mediaType")
        annotations = entry.get("annotations")
        attestation = isinstance(annotations, dict) and "vnd.docker.reference.type" in annotations
        usable = (media is None or media in MANIFEST_TYPES) and not attestation
        entries.append((digest, Platform.of(entry.get("platform")) if usable else None))
    return entries


def platform_image(
    registry: Registry, repository: str, digest: str, wanted: Platform, *, what: str = ""
) -> PlatformImage:
    """The image of ``wanted`` that ``digest`` (an index or a manifest) stands for.

    An index: the digest of its entry for ``wanted`` (NoMatchError naming the
    index's platforms when it has none), after reading that manifest too.  A single-platform manifest: the
    digest itself, after checking the os and architecture its config names
    when the backend can read the config cheaply (an OCI registry or a layout;
    ECR cannot, and the manifest is accepted as it is).  ``what`` names the
    image in errors (default ``REPOSITORY@DIGEST``).
    """
    what = what or f"{repository}@{digest}"
    source = f"registry {registry.display_host}: {what}"
    manifest = manifest_object(registry.manifest(repository, digest), source)
    if _is_index(manifest):
        child, platform = choose_platform(index_entries(manifest, source), wanted, what=what)
        # The chosen manifest is read too: present, hashing to its digest, not an index.
        chosen = f"registry {registry.display_host}: {repository}@{child}"
        if _is_index(manifest_object(registry.manifest(repository, child), chosen)):
            raise RegistryError(f"{chosen} is listed for {platform} in {what} but is an index")
        return PlatformImage(child, platform, digest)
    config = manifest.get("config")
    config_digest = config.get("digest") if isinstance(config, dict) else None
    if config_digest is None:
        return PlatformImage(digest, wanted)
    body = registry.image_config(repository, checked_digest(config_digest, source))
    if body is None:
        return PlatformImage(digest, wanted)  # not cheap here (ECR): accepted
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise RegistryError(f"{source}: the image config is not JSON") from None
    offered = Platform.of(parsed)
    if offered is None:
        return PlatformImage(digest, wanted)  # the config names no platform: accepted
    if not wanted.matches(offered):
        raise NoMatchError(
            f"{what} is a single-platform image for {printable(offered, 60)}, not {wanted}"
        )
    return PlatformImage(digest, offered)


def index_platform(registry: Registry, repository: str, index: str, child: str) -> Platform | None:
    """The platform ``index`` lists ``child`` under, or None when ``index`` does not list it
    (or is not an index)."""
    source = f"registry {registry.display_host}: {repository}@{index}"
    manifest = manifest_object(registry.manifest(repository, index), source)
    if not _is_index(manifest):
        return None
    for digest, platform in index_entries(manifest, source):
        if digest == child and platform is not None:
            return platform
    return None
