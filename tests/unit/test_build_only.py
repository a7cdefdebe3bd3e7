"""Build-only versions (build tags, no plain vX.Y.Z tag) are listed and marked, never chosen by a range."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runlayer_tf.cli import main

DEMO = Path(__file__).resolve().parents[2] / "examples" / "oci-layout"
BUILD = "v1.4.0-20250201-120500-7d60ec49"


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """The demo layout plus 1.4.0 as a build tag only (on v1.3.0's manifest)."""
    root = tmp_path / "layout"
    shutil.copytree(DEMO, root)
    index_path = root / "backend-production" / "index.json"
    index = json.loads(index_path.read_text())
    base = next(
        m
        for m in index["manifests"]
        if m["annotations"]["org.opencontainers.image.ref.name"] == "v1.3.0"
    )
    extra = {**base, "annotations": {"org.opencontainers.image.ref.name": BUILD}}
    index["manifests"].append(extra)
    index_path.write_text(json.dumps(index))
    return root


@pytest.mark.parametrize(
    ("current", "level", "expected"),
    [
        ("v1.2.3", "minor", "v1.3.0"),
        ("v1.2.3", "major", "v1.3.0"),
        ("v1.3.0", "minor", "v1.3.0"),
    ],
)
def test_pins_bump_never_writes_a_build_only_version(
    layout, tmp_path, capsys, current, level, expected
):
    tfvars = tmp_path / "staging.tfvars"
    tfvars.write_text(f'backend_version = "{current}"\n')
    argv = ["pins", "bump", "--to", level, "--follow", "backend_version=backend-production"]
    assert main([*argv, "--registry", f"oci-layout:{layout}", str(tfvars)]) == 0
    capsys.readouterr()
    assert tfvars.read_text() == f'backend_version = "{expected}"\n'


@pytest.mark.parametrize(
    ("selector", "tag"),
    [("v1", "v1.3.0"), ("~> 1.3", "v1.3.0"), ("v1.4.0", BUILD), (BUILD, BUILD)],
)
def test_resolve_skips_build_only_for_ranges_only(layout, capsys, selector, tag):
    argv = ["resolve", "--json", "--registry", f"oci-layout:{layout}", "backend-production"]
    assert main([*argv, selector]) == 0
    assert json.loads(capsys.readouterr().out)["tag"] == tag


def test_no_match_says_a_build_only_version_was_skipped(layout, capsys):
    argv = ["resolve", "--registry", f"oci-layout:{layout}", "backend-production", "v1.4"]
    assert main(argv) == 1
    assert capsys.readouterr().err == (
        "runlayer-tf: error: no tag of backend-production matches v1.4 (newest release: v1.3.0; "
        f"skipped build-only {BUILD} (no plain v1.4.0 tag))\n"
    )


def test_versions_marks_build_only_rows(layout, capsys):
    argv = ["versions", "--registry", f"oci-layout:{layout}", "--limit", "2", "backend-production"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["VERSION", "1.4.0", "1.3.0"]
    assert lines[0].split() == ["VERSION", "TAG", "DIGEST", "PUSHED", "TAGS", "NOTE"]
    assert lines[1].endswith("  build only")
    assert not lines[2].endswith("build only")


def test_versions_json_adds_build_only(layout, capsys):
    argv = ["versions", "--json", "--limit", "2", "--registry", f"oci-layout:{layout}"]
    assert main([*argv, "backend-production"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["version"], r["tag"], r["build_only"]) for r in rows] == [
        ("1.4.0", BUILD, True),
        ("1.3.0", "v1.3.0", False),
    ]
    assert sorted(rows[1]) == [
        "build_only",
        "digest",
        "index_digest",
        "platform",
        "pushed_at",
        "tag",
        "tags",
        "version",
    ]


def test_demo_versions_has_no_note_column(capsys):
    assert main(["versions", "--registry", f"oci-layout:{DEMO}", "backend-production"]) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == [
        "VERSION",
        "TAG",
        "DIGEST",
        "PUSHED",
        "TAGS",
    ]
