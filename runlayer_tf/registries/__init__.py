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

__all__ = [
    "Registry",
    "RegistryAddress",
    "checked_digest",
    "open_registry",
    "printable",
    "validate_repository",
]


def open_registry(address: RegistryAddress) -> Registry:
    """The backend for ``address`` (clients are created lazily, on the first call)."""
    if address.kind == "ecr":
        from runlayer_tf.registries._ecr import EcrRegistry

        return EcrRegistry(address)
    if address.kind == "oci-layout":
        from runlayer_tf.registries._layout import OciLayoutRegistry

        return OciLayoutRegistry(address)
    from runlayer_tf.registries._oci import OciRegistry

    return OciRegistry(address)
