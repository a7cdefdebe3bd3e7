"""An OCI image layout on disk: the embedded default, no server and no account.

``oci-layout:PATH`` means ``PATH/<repository>/`` is an OCI image layout
(``oci-layout``, ``index.json``, ``blobs/sha256/...``).  A tag is the
``org.opencontainers.image.ref.name`` annotation of an ``index.json`` entry.
Blobs are checked against their digest when read.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Mapping
from pathlib import Path

from runlayer_tf._files import NotRegularFile, SymlinkRefused, read_regular
from runlayer_tf.errors import NotFoundError, RegistryError
from runlayer_tf.registries._base import RegistryAddress, checked_digest, printable
from runlayer_tf.registries._platform import manifest_object
from runlayer_tf.tags import Digest

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Any

MAX_BLOB = 4 * 1024 * 1024  # a manifest or index blob (the distribution spec's manifest limit)

REF_NAME = "org.opencontainers.image.ref.name"


class OciLayoutRegistry:
    """A :class:`~runlayer_tf.registries._base.Registry` reading OCI layouts from a directory."""

    def __init__(self, address: RegistryAddress) -> None:
        self.address = address
        self.root = Path(address.path).expanduser()
        self._ref_cache: dict[str, dict[str, str]] = {}
        self._sizes: dict[tuple[str, str], int] = {}

    @property
    def display_host(self) -> str:
        return f"oci-layout:{self.address.path}"

    def _layout(self, repository: str) -> Path:
        if not self.root.is_dir():
            raise NotFoundError(f"OCI layout directory {self.root} does not exist")
        layout = self.root / repository
        if not os.path.lexists(layout / "index.json"):  # present but odd: _read_regular says why
            raise NotFoundError(
                f"repository {repository} not found in {self.display_host} (no {layout / 'index.json'})"
            )
        return layout

    def _index(self, repository: str) -> list[dict[str, Any]]:
        layout = self._layout(repository)
        try:
            marker = json.loads(_read_regular(layout / "oci-layout"))
            index = json.loads(_read_regular(layout / "index.json"))
        except FileNotFoundError:
            raise RegistryError(
                f"{layout} is not an OCI image layout (no oci-layout file)"
            ) from None
        except RecursionError:
            raise RegistryError(
                f"{layout}: unreadable OCI layout (JSON nested too deeply)"
            ) from None
        except (OSError, ValueError) as err:
            raise RegistryError(f"{layout}: unreadable OCI layout ({printable(err)})") from None
        if not isinstance(marker, dict) or "imageLayoutVersion" not in marker:
            raise RegistryError(f"{layout}/oci-layout has no imageLayoutVersion")
        manifests = index.get("manifests") if isinstance(index, dict) else None
        if not isinstance(manifests, list):
            raise RegistryError(f"{layout}/index.json has no manifests list")
        entries = [m for m in manifests if isinstance(m, dict)]
        for number, entry in enumerate(entries):
            entry["digest"] = checked_digest(
                entry.get("digest"),
                f"{self.display_host} ({layout}/index.json manifests[{number}])",
            )
        return entries

    def _refs(self, repository: str) -> dict[str, str]:
        if repository not in self._ref_cache:
            refs: dict[str, str] = {}
            for number, entry in enumerate(self._index(repository)):
                annotations = entry.get("annotations")
                if annotations is None:
                    continue
                if not isinstance(annotations, dict):
                    raise RegistryError(
                        f"{self._layout(repository)}/index.json: manifests[{number}].annotations is not an object"
                    )
                name = annotations.get(REF_NAME)
                if name is None:
                    continue
                if not isinstance(name, str) or not name:
                    raise RegistryError(
                        f"{self._layout(repository)}/index.json: manifests[{number}] has a {REF_NAME} "
                        "that is not a tag name"
                    )
                refs[name] = str(entry["digest"])
                size = entry.get("size")
                if isinstance(size, int) and not isinstance(size, bool) and 0 <= size <= MAX_BLOB:
                    self._sizes[(repository, refs[name])] = size
            self._ref_cache[repository] = refs
        return self._ref_cache[repository]

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        # Each tag with the digest index.json names for it, so every tag of a
        # digest is known.  The blob of a digest the answer uses is checked by
        # digest_of (the resolver asks it for the chosen tag).
        return dict(self._refs(repository))

    def _verify_blob(self, repository: str, digest: str) -> bytes:
        # ``digest`` went through checked_digest: "sha256:" and 64 hex digits, no path.
        algorithm, _, hexdigest = checked_digest(digest, self.display_host).partition(":")
        blob = self._layout(repository) / "blobs" / algorithm / hexdigest
        limit = self._sizes.get((repository, digest), MAX_BLOB)
        data = read_blob_file(blob, limit, f"{repository}@{digest}", self.display_host)
        # Read at most the descriptor's size (+1 to see a longer file): a longer
        # blob cannot be the one the index names.
        if len(data) > limit or str(Digest.of_bytes(data)) != digest:
            raise RegistryError(f"{blob} does not hash to {digest}: the layout is corrupt")
        return data

    def digest_of(self, repository: str, reference: str) -> str:
        if reference.startswith("sha256:"):
            reference = checked_digest(reference, self.display_host)
            if reference not in {str(e["digest"]) for e in self._index(repository)}:
                raise NotFoundError(f"{repository}@{reference} not found in {self.display_host}")
            self._verify_blob(repository, reference)
            return reference
        digest = self._refs(repository).get(reference)
        if digest is None:
            raise NotFoundError(f"{repository}:{reference} not found in {self.display_host}")
        self._verify_blob(repository, digest)
        return digest

    def pushed_at(self, repository: str, digest: str) -> datetime.datetime | None:
        return None  # a layout records no push time

    def manifest(self, repository: str, digest: str) -> bytes:
        # Any blob by its digest (a platform's manifest is listed by its index,
        # not by index.json); read as _verify_blob reads, then its media type checked.
        body = self._verify_blob(repository, digest)
        manifest_object(body, f"{self.display_host}: {repository}@{digest}")
        return body

    def image_config(self, repository: str, digest: str) -> bytes | None:
        return self._verify_blob(repository, digest)


def read_blob_file(blob: Path, limit: int, what: str, registry: str) -> bytes:
    """At most ``limit + 1`` bytes of a layout's blob file (:func:`read_regular`'s rules);
    NotFoundError naming ``what`` when it is absent, RegistryError when it cannot be used."""
    try:
        return read_regular(blob, limit)
    except FileNotFoundError:
        raise NotFoundError(f"{what} not found in {registry}") from None
    except NotRegularFile:
        raise RegistryError(f"{blob} is not a regular file: the layout is corrupt") from None
    except OSError as err:
        raise RegistryError(
            f"{blob}: not a readable regular file ({printable(err.strerror)}); "
            "layout blobs may not be symlinks"
        ) from None


def _read_regular(path: Path) -> bytes:
    """``path``'s bytes, read as the blobs are: never through a symlink, never a FIFO or a
    device (no hang, no endless read), at most :data:`MAX_BLOB` bytes (an index is a manifest).

    Raises FileNotFoundError when it is absent, OSError (with the reason) otherwise.
    """
    try:
        data = read_regular(path, MAX_BLOB)
    except FileNotFoundError:
        raise
    except SymlinkRefused:
        raise OSError(f"{path.name} is a symlink; layout files may not be symlinks") from None
    except NotRegularFile:
        raise OSError(f"{path.name} is not a regular file") from None
    except OSError as err:
        raise OSError(f"{path.name}: {err.strerror}") from None
    if len(data) > MAX_BLOB:
        raise OSError(f"{path.name} is over {MAX_BLOB} bytes")
    return data
