"""Registry backends behind one small interface: ECR, OCI distribution registries, OCI layouts.

Backends are imported on first use: choosing an OCI registry or a layout never
imports boto3.
"""

from __future__ import annotations

from runlayer_tf.registries._base import (
    Registry,
    RegistryAddress,
    checked_digest,
    printable,
    validate_repository,
)

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: the external program imports this on a miss
if TYPE_CHECKING:
    from runlayer_tf.aws import EcrApi
    from runlayer_tf.registries._platform import PlatformImage, index_platform, platform_image
    from runlayer_tf.registries._session import RegistrySession

__all__ = [
    "PlatformImage",
    "Registry",
    "RegistryAddress",
    "RegistrySession",
    "checked_digest",
    "fetch_blob",
    "fetch_manifest",
    "index_platform",
    "open_registry",
    "platform_image",
    "printable",
    "validate_repository",
]


def open_registry(address: RegistryAddress, *, ecr_client: EcrApi | None = None) -> Registry:
    """The backend for ``address`` (clients are created lazily, on the first call).

    ``ecr_client``: an ECR client to use instead of a new one (the shared resolver
    keeps one per registry).
    """
    if address.kind == "ecr":
        from runlayer_tf.registries._ecr import EcrRegistry

        return EcrRegistry(address, client=ecr_client)
    if address.kind == "oci-layout":
        from runlayer_tf.registries._layout import OciLayoutRegistry

        return OciLayoutRegistry(address)
    from runlayer_tf.registries._oci import OciRegistry

    return OciRegistry(address)


def fetch_manifest(registry: Registry, repository: str, tag: str) -> bytes | None:
    """The OCI manifest ``tag`` names (None when absent), through the hardened client."""
    from runlayer_tf.registries._artifacts import fetch_manifest as fetch

    return fetch(registry, repository, tag)


def fetch_blob(registry: Registry, repository: str, digest: str, limit: int) -> bytes:
    """The blob ``digest``: at most ``limit`` bytes, checked to hash to ``digest``."""
    from runlayer_tf.registries._artifacts import fetch_blob as fetch

    return fetch(registry, repository, digest, limit)


def __getattr__(name: str) -> object:
    # Loaded on first use: _session imports open_registry from this module.
    if name == "RegistrySession":
        from runlayer_tf.registries._session import RegistrySession

        return RegistrySession
    if name in ("PlatformImage", "index_platform", "platform_image"):
        # Loaded when a platform is asked for: the plain path does not pay for it.
        from runlayer_tf.registries import _platform

        return getattr(_platform, name)
    raise AttributeError(f"module 'runlayer_tf.registries' has no attribute {name!r}")
