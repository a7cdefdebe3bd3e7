"""Crafted OCI layouts: digests checked before any path is built, blobs opened without
following symlinks, regular files only, bounded reads, digest selectors limited to the index."""

from __future__ import annotations

import hashlib
import json
import os
import time

import pytest

from runlayer_tf.errors import NotFoundError, RegistryError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._layout import OciLayoutRegistry

MANIFEST = b'{"schemaVersion": 2}'
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OTHER = b'{"schemaVersion": 2, "other": true}'
OTHER_DIGEST = "sha256:" + hashlib.sha256(OTHER).hexdigest()


def layout(root, digest=DIGEST, size=None, blob=MANIFEST):
    repo = root / "app"
    (repo / "blobs" / "sha256").mkdir(parents=True)
    (repo / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    entry = {
        "digest": digest,
        "size": size,
        "annotations": {"org.opencontainers.image.ref.name": "v1"},
    }
    (repo / "index.json").write_text(json.dumps({"manifests": [entry]}))
    if blob is not None:
        (repo / "blobs" / "sha256" / DIGEST[7:]).write_bytes(blob)
    return repo


def registry(root):
    return OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{root}"))


@pytest.mark.parametrize(
    "digest",
    ["sha256:../../../../etc/passwd", "../../secret", "sha256:" + "0" * 63, 'sha256:${file("x")}'],
)
def test_an_index_digest_that_is_not_a_digest_is_refused_before_any_path(tmp_path, digest):
    layout(tmp_path, digest=digest)
    with pytest.raises(RegistryError) as caught:
        registry(tmp_path).list_tags("app")
    assert str(caught.value) == (
        f"oci-layout:{tmp_path} ({tmp_path}/app/index.json manifests[0]) sent an invalid digest "
        f'"{digest}"'
    )


def test_a_blob_that_is_a_symlink_is_not_followed(tmp_path):
    repo = layout(tmp_path, blob=None)
    (tmp_path / "real").write_bytes(MANIFEST)
    (repo / "blobs" / "sha256" / DIGEST[7:]).symlink_to(tmp_path / "real")
    with pytest.raises(RegistryError) as caught:
        registry(tmp_path).digest_of("app", "v1")
    blob = repo / "blobs" / "sha256" / DIGEST[7:]
    assert str(caught.value) == (
        f"{blob}: not a readable regular file (Too many levels of symbolic links); "
        "layout blobs may not be symlinks"
    )


def test_a_blob_that_is_a_fifo_is_not_read(tmp_path):
    repo = layout(tmp_path, blob=None)
    blob = repo / "blobs" / "sha256" / DIGEST[7:]
    os.mkfifo(blob)
    with pytest.raises(RegistryError) as caught:
        registry(tmp_path).digest_of("app", "v1")
    assert str(caught.value) == f"{blob} is not a regular file: the layout is corrupt"


def test_a_blob_larger_than_its_descriptor_is_not_read_whole(tmp_path):
    """An 8 GiB (sparse) blob behind a 20-byte descriptor: refused after reading 21 bytes."""
    repo = layout(tmp_path)
    blob = repo / "blobs" / "sha256" / DIGEST[7:]
    os.truncate(blob, 8 * 1024**3)
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        registry(tmp_path).digest_of("app", "v1")
    assert str(caught.value) == f"{blob} does not hash to {DIGEST}: the layout is corrupt"
    assert time.monotonic() - started < 1


def test_a_digest_selector_reaches_only_manifests_the_index_names(tmp_path):
    repo = layout(tmp_path)
    (repo / "blobs" / "sha256" / OTHER_DIGEST[7:]).write_bytes(OTHER)  # a blob, not in the index
    reg = registry(tmp_path)
    assert reg.digest_of("app", DIGEST) == DIGEST
    with pytest.raises(NotFoundError) as caught:
        reg.digest_of("app", OTHER_DIGEST)
    assert str(caught.value) == f"app@{OTHER_DIGEST} not found in oci-layout:{tmp_path}"


def swap(path, how, tmp_path):
    """Replace the layout file ``path`` by a FIFO, a symlink (to a regular copy or a device),
    8 GiB of sparse bytes or JSON nested 200,000 levels deep."""
    content = path.read_bytes()
    path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    elif how == "symlink":
        (tmp_path / "copy").write_bytes(content)
        path.symlink_to(tmp_path / "copy")
    elif how == "device":
        path.symlink_to("/dev/zero")
    elif how == "huge":
        with open(path, "wb") as handle:
            handle.truncate(8 * 1024**3)
    else:
        path.write_bytes(b"[" * 200_000 + b"]" * 200_000)


LAYOUT_FILE_ROWS = [
    ("fifo", "{name} is not a regular file"),
    ("symlink", "{name} is a symlink; layout files may not be symlinks"),
    ("device", "{name} is a symlink; layout files may not be symlinks"),
    ("huge", "{name} is over 4194304 bytes"),
    ("deep", "JSON nested too deeply"),
]


@pytest.mark.parametrize("name", ["oci-layout", "index.json"])
@pytest.mark.parametrize(("how", "reason"), LAYOUT_FILE_ROWS, ids=[r[0] for r in LAYOUT_FILE_ROWS])
def test_the_layout_files_are_read_like_blobs(tmp_path, name, how, reason):
    """A FIFO was a hang, /dev/zero an endless read (3 GB in 9 s), deep JSON a RecursionError."""
    repo = layout(tmp_path)
    swap(repo / name, how, tmp_path)
    started = time.monotonic()
    with pytest.raises(RegistryError) as caught:
        registry(tmp_path).list_tags("app")
    assert str(caught.value) == f"{repo}: unreadable OCI layout ({reason.format(name=name)})"
    assert time.monotonic() - started < 5  # a bound on a hang, not a speed measurement


def test_a_layout_without_its_oci_layout_file_is_named(tmp_path):
    repo = layout(tmp_path)
    (repo / "oci-layout").unlink()
    with pytest.raises(RegistryError) as caught:
        registry(tmp_path).list_tags("app")
    assert str(caught.value) == f"{repo} is not an OCI image layout (no oci-layout file)"
