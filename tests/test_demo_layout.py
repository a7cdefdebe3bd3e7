"""The shipped demo registry (examples/oci-layout): rebuilt identically, and resolved exactly."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runlayer_tf.errors import NotFoundError, RegistryError
from runlayer_tf.registries._base import RegistryAddress
from runlayer_tf.registries._layout import OciLayoutRegistry
from runlayer_tf.resolve import Query, resolve

REPO_ROOT = Path(__file__).resolve().parent.parent
LAYOUT = REPO_ROOT / "examples" / "oci-layout"


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_committed_layout_is_what_the_script_builds(tmp_path):
    out = tmp_path / "layout"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "build-example-layout"), str(out)],
        check=True,
        capture_output=True,
    )
    assert tree(out) == tree(LAYOUT)
    mismatched = [
        p
        for p in tree(out)
        if (out / p).is_file() and not filecmp.cmp(out / p, LAYOUT / p, shallow=False)
    ]
    assert mismatched == []


def resolve_demo(repository: str, selector: str, **extra: str):
    query = Query.from_mapping(
        {"repository": repository, "tag": selector, "registry": f"oci-layout:{LAYOUT}", **extra}
    )
    return resolve(query, OciLayoutRegistry(query.address))


CASES = [
    ("backend-production", "v1.2", "v1.2.3", "1.2.3", "a1b2c3d4", "2024-12-13T15:24:30Z"),
    (
        "backend-production",
        "v1",
        "v1.3.0",
        "1.3.0",
        "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5",
        "2025-01-14T09:00:00Z",
    ),
    (
        "backend-production",
        "latest",
        "latest",
        "1.3.0",
        "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5",
        "2025-01-14T09:00:00Z",
    ),
    (
        "backend-production",
        "~> 1.1",
        "v1.3.0",
        "1.3.0",
        "b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5",
        "2025-01-14T09:00:00Z",
    ),
    ("backend-production", "~> 1.2.0", "v1.2.3", "1.2.3", "a1b2c3d4", "2024-12-13T15:24:30Z"),
    (
        "backend-production",
        ">= 1.0.0, < 1.2.0",
        "v1.1.0",
        "1.1.0",
        "5e6f7a8b",
        "2024-10-15T09:30:00Z",
    ),
    (
        "backend-production",
        "20241202-111500",
        "20241202-111500",
        "1.2.1",
        "3a4b5c6d",
        "2024-12-02T11:15:00Z",
    ),
    ("frontend-production", "v1.2", "v1.2.3", "1.2.3", "a1b2c3d4", "2024-12-13T15:30:00Z"),
    ("frontend-production", "latest", "latest", "1.3.0", "feedface", "2025-01-14T09:15:00Z"),
]


@pytest.mark.parametrize(("repository", "selector", "tag", "version", "commit", "stamp"), CASES)
def test_demo_resolutions(repository, selector, tag, version, commit, stamp):
    result = resolve_demo(repository, selector).to_external()
    assert (result["tag"], result["version"], result["commit"], result["build_timestamp"]) == (
        tag,
        version,
        commit,
        stamp,
    )
    assert result["image"] == f"oci-layout:{LAYOUT}/{repository}@{result['digest']}"


def test_latest_and_v1_3_0_share_the_multi_platform_index():
    latest = resolve_demo("backend-production", "latest")
    release = resolve_demo("backend-production", "v1.3.0")
    assert latest.digest == release.digest
    index = (
        LAYOUT / "backend-production" / "blobs" / "sha256" / latest.digest.split(":")[1]
    ).read_text()
    assert '"application/vnd.oci.image.index.v1+json"' in index


def test_prereleases_in_the_demo():
    assert resolve_demo("backend-production", "v2", allow_prerelease="true").tag == "v2.0.0-beta.2"
    assert resolve_demo("backend-production", "v1.3", allow_prerelease="true").tag == "v1.3.0"


def test_missing_layout_and_repository(tmp_path):
    with pytest.raises(NotFoundError) as info:
        OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{tmp_path / 'nope'}")).list_tags(
            "backend-production"
        )
    assert str(info.value) == f"OCI layout directory {tmp_path / 'nope'} does not exist"
    with pytest.raises(NotFoundError, match="repository nothing not found in oci-layout:"):
        OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{LAYOUT}")).list_tags("nothing")


def test_corrupt_blob_is_detected(tmp_path):
    import shutil

    copy = tmp_path / "layout"
    shutil.copytree(LAYOUT, copy)
    registry = OciLayoutRegistry(RegistryAddress.parse(f"oci-layout:{copy}"))
    index = json.loads((copy / "backend-production" / "index.json").read_text())
    digest = next(
        m["digest"]
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "v1.2.3"
    )
    blob = copy / "backend-production" / "blobs" / "sha256" / digest.split(":")[1]
    blob.write_bytes(blob.read_bytes() + b" ")
    with pytest.raises(RegistryError) as info:
        registry.digest_of("backend-production", "v1.2.3")
    assert str(info.value) == f"{blob} does not hash to {digest}: the layout is corrupt"


def test_a_missing_manifest_blob_is_not_resolved_by_tag(tmp_path):
    """index.json alone is not trusted: the chosen tag's manifest blob must be there."""
    import shutil

    copy = tmp_path / "layout"
    shutil.copytree(LAYOUT, copy)
    index = json.loads((copy / "backend-production" / "index.json").read_text())
    digest = next(
        m["digest"]
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "v1.2.3"
    )
    (copy / "backend-production" / "blobs" / "sha256" / digest.split(":")[1]).unlink()
    query = Query.from_mapping(
        {"repository": "backend-production", "tag": "v1.2", "registry": f"oci-layout:{copy}"}
    )
    with pytest.raises(NotFoundError) as info:
        resolve(query, OciLayoutRegistry(query.address))
    assert str(info.value) == f"backend-production@{digest} not found in oci-layout:{copy}"


def _layout_copy(tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "layout"
    shutil.copytree(LAYOUT, copy)
    return copy


def test_every_tag_on_the_digest_is_reported(tmp_path):
    """A layout's index names each tag's digest, so tags beyond the product's naming scheme are found too."""
    copy = _layout_copy(tmp_path)
    path = copy / "backend-production" / "index.json"
    index = json.loads(path.read_text())
    v123 = next(
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "v1.2.3"
    )
    for extra in ("stable", "prod-2024-12"):
        index["manifests"].append(
            {**v123, "annotations": {"org.opencontainers.image.ref.name": extra}}
        )
    path.write_text(json.dumps(index))
    for selector in ("v1.2", v123["digest"], "stable"):
        query = Query.from_mapping(
            {"repository": "backend-production", "tag": selector, "registry": f"oci-layout:{copy}"}
        )
        result = resolve(query, OciLayoutRegistry(query.address)).to_external()
        assert result["digest"] == v123["digest"]
        assert (
            result["tags"]
            == "20241213-152430,prod-2024-12,stable,v1.2.3,v1.2.3-20241213-152430-a1b2c3d4"
        )


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        (
            ["org.opencontainers.image.ref.name", "v9.9.9"],
            "manifests[{n}].annotations is not an object",
        ),
        (
            {"org.opencontainers.image.ref.name": 7},
            "manifests[{n}] has a org.opencontainers.image.ref.name that is not a tag name",
        ),
        (
            {"org.opencontainers.image.ref.name": ""},
            "manifests[{n}] has a org.opencontainers.image.ref.name that is not a tag name",
        ),
    ],
)
def test_a_malformed_index_entry_is_named(tmp_path, annotations, message):
    copy = _layout_copy(tmp_path)
    path = copy / "backend-production" / "index.json"
    index = json.loads(path.read_text())
    index["manifests"].append({**index["manifests"][0], "annotations": annotations})
    path.write_text(json.dumps(index))
    proc = subprocess.run(
        [sys.executable, "-m", "runlayer_tf.external"],
        input=json.dumps(
            {"repository": "backend-production", "tag": "v1.2", "registry": f"oci-layout:{copy}"}
        ),
        capture_output=True,
        text=True,
        env=dict(os.environ, RUNLAYER_TF_CACHE_TTL="0"),
        timeout=60,
        check=False,
    )
    expected = (
        f"runlayer-tf external: {path}: " + message.format(n=len(index["manifests"]) - 1) + "\n"
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", expected)
