"""`pins bump` levels against the demo layout, prereleases included: no level is crossed."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlayer_tf.cli import main

LAYOUT = Path(__file__).resolve().parents[2] / "examples" / "oci-layout"


@pytest.mark.parametrize(
    ("current", "level", "prerelease", "expected"),
    [
        ("v1.2.0", "patch", False, "v1.2.3"),
        ("v1.2.3", "patch", True, "v1.2.3"),  # v1.3.0-rc.1 is a prerelease of the next minor
        ("v1.2.0", "minor", False, "v1.3.0"),
        ("v1.3.0", "minor", True, "v1.3.0"),  # v2.0.0-beta.2 is a prerelease of the next major
        ("v1.3.0", "major", False, "v1.3.0"),
        ("v1.3.0", "major", True, "v2.0.0-beta.2"),
        ("v1.0.0", "major", False, "v1.3.0"),
    ],
)
def test_bump_levels_hold_with_prereleases(tmp_path, capsys, current, level, prerelease, expected):
    tfvars = tmp_path / "staging.tfvars"
    tfvars.write_text(f'backend_version = "{current}"\n')
    argv = [
        "pins",
        "bump",
        "--to",
        level,
        "--follow",
        "backend_version=backend-production",
        "--registry",
        f"oci-layout:{LAYOUT}",
        str(tfvars),
    ]
    if prerelease:
        argv.insert(2, "--allow-prerelease")
    assert main(argv) == 0
    capsys.readouterr()
    assert tfvars.read_text() == f'backend_version = "{expected}"\n'
