"""The update package's public API: what a caller of run_update needs, the building blocks in ``parts``."""

from __future__ import annotations

import subprocess
import sys

import pytest

import runlayer_tf.update as update
from runlayer_tf.update import parts


def test_the_package_exports_the_run_update_api_only() -> None:
    assert len(update.__all__) <= 15
    assert sorted(update.__all__) == update.__all__
    for name in update.__all__:
        assert getattr(update, name) is not None


def test_the_building_blocks_moved_to_parts_still_import_from_the_package() -> None:
    assert not set(parts.__all__) & set(update.__all__)
    for name in parts.__all__:
        with pytest.warns(DeprecationWarning, match=f"use runlayer_tf.update.parts.{name}$"):
            assert getattr(update, name) is getattr(parts, name)


def test_the_cli_takes_only_public_names() -> None:
    """The commands import the update API from the package and ``parts``, without a warning."""
    code = "import runlayer_tf.cli._update, runlayer_tf.cli._ecs"
    proc = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
