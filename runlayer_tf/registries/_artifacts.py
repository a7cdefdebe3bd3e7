"""Reading artifacts stored beside images: a manifest by tag, a blob by digest.

Signature verification (:mod:`runlayer_tf.signatures`) reads cosign's
``sha256-<hex>.sig`` manifest and its payload blobs through here, with the same
hardened clients as resolution: the OCI client's transport (deadlines, body cap,
credential-safe redirects, auth) and the layout's safe blob reads.  Every blob is
checked to hash to its digest and to fit ``limit`` bytes; a manifest fetched by
tag is checked against the registry's ``Docker-Content-Digest`` when it sends one.

ECR is not served here yet (see docs/signatures.md): moto, the only ECR the tests
can reach, serves ``BatchGetImage`` but neither ``GetDownloadUrlForLayer`` nor the
registry API on the ECR host.
"""

from __future__ import annotations

from runlayer_tf.errors import NotFoundError, RegistryError, UsageError
from runlayer_tf.registries._base import Registry, checked_digest
from runlayer_tf.registries._http import OCI_MANIFEST
from runlayer_tf.tags import Digest

__all__ = ["MAX_MANIFEST", "fetch_blob", "fetch_manifest"]

MAX_MANIFEST = 64 * 1024  # a signature manifest: a few hundred bytes a signature


def fetch_manifest(registry: Registry, repository: str, tag: str) -> bytes | None:
    """The OCI manifest ``tag`` names in ``repository``, or None when the tag does not exist."""
    from runlayer_tf.registries._layout import OciLayoutRegistry
    from runlayer_tf.registries._oci import OciRegistry

    if isinstance(registry, OciRegistry):
        return _oci_manifest(registry, repository, tag)
    if isinstance(registry, OciLayoutRegistry):
        try:
            digest = registry.digest_of(repository, tag)  # checks the blob's hash
        except NotFoundError:
            return None
        return _layout_blob(registry, repository, digest, MAX_MANIFEST)
    raise UsageError(
        f"signature verification is not available for registry {registry.display_host} "
        "(OCI registries and OCI layouts only; see docs/signatures.md)"
    )


def fetch_blob(registry: Registry, repository: str, digest: str, limit: int) -> bytes:
    """The blob ``digest`` of ``repository``: at most ``limit`` bytes, hashing to ``digest``."""
    from runlayer_tf.registries._layout import OciLayoutRegistry
    from runlayer_tf.registries._oci import OciRegistry

    digest = checked_digest(digest, f"registry {registry.display_host}")
    if isinstance(registry, OciRegistry):
        return _oci_blob(registry, repository, digest, limit)
    if isinstance(registry, OciLayoutRegistry):
        return _layout_blob(registry, repository, digest, limit)
    raise UsageError(f"cannot read blobs from registry {registry.display_host}")


def _oci_manifest(registry: object, repository: str, tag: str) -> bytes | None:
    from runlayer_tf.registries._oci import OciRegistry

    assert isinstance(registry, OciRegistry)
    name = registry._api_name(repository)
    url = f"{registry.base}/v2/{name}/manifests/{tag}"
    with registry._call():
        resp = registry._request(
            "GET",
            url,
            scope=f"repository:{name}:pull",
            accept=OCI_MANIFEST,
            what=f"{repository}:{tag}",
        )
    if resp.status == 404:
        return None
    if resp.status != 200:
        raise RegistryError(
            f"registry {registry.display_host}: manifest {repository}:{tag} answered HTTP {resp.status}"
        )
    if len(resp.body) > MAX_MANIFEST:
        raise RegistryError(
            f"registry {registry.display_host}: manifest {repository}:{tag} is over "
            f"{MAX_MANIFEST} bytes; refused"
        )
    claimed = resp.headers.get("docker-content-digest", "")
    if claimed:
        claimed = checked_digest(claimed, f"registry {registry.display_host}")
        actual = str(Digest.of_bytes(resp.body))
        if actual != claimed:
            raise RegistryError(
                f"registry {registry.display_host}: manifest {repository}:{tag} hashes to "
                f"{actual}, not the {claimed} it claims"
            )
    return resp.body


def _oci_blob(registry: object, repository: str, digest: str, limit: int) -> bytes:
    from runlayer_tf.registries._oci import OciRegistry

    assert isinstance(registry, OciRegistry)
    name = registry._api_name(repository)
    what = f"blob {digest} of {repository}"
    with registry._call():
        resp = registry._request(
            "GET",
            f"{registry.base}/v2/{name}/blobs/{digest}",
            scope=f"repository:{name}:pull",
            accept="*/*",
            what=what,
        )
    if resp.status == 404:
        raise NotFoundError(f"{what} not found in registry {registry.display_host}")
    if resp.status != 200:
        raise RegistryError(f"registry {registry.display_host}: {what} answered HTTP {resp.status}")
    return _checked_blob(resp.body, digest, limit, f"registry {registry.display_host}: {what}")


def _layout_blob(registry: object, repository: str, digest: str, limit: int) -> bytes:
    """Read a layout blob as the layout backend does: no symlinks, regular files, capped."""
    from runlayer_tf.registries._layout import OciLayoutRegistry, read_blob_file

    assert isinstance(registry, OciLayoutRegistry)
    algorithm, _, hexdigest = digest.partition(":")
    blob = registry._layout(repository) / "blobs" / algorithm / hexdigest
    data = read_blob_file(blob, limit, f"blob {digest} of {repository}", registry.display_host)
    return _checked_blob(data, digest, limit, str(blob))


def _checked_blob(data: bytes, digest: str, limit: int, what: str) -> bytes:
    if len(data) > limit:
        raise RegistryError(f"{what} is over {limit} bytes; refused")
    actual = str(Digest.of_bytes(data))
    if actual != digest:
        raise RegistryError(f"{what} hashes to {actual}, not {digest}")
    return data
