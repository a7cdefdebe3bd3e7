"""The package stays lint-clean (ruff) and fully typed (mypy --strict, configured in setup.cfg)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness.strict import missing

REPO = Path(__file__).resolve().parents[2]


def tool(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        missing(module, "install the test extra: pip install -e '.[test]'")


def test_ruff_finds_nothing():
    tool("ruff")
    paths = [
        "runlayer_tf",
        "tests",
        "benchmarks",
        "examples",
        "scripts/provision-tools",
        "scripts/build-example-layout",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (proc.returncode, proc.stdout.strip()) == (0, "All checks passed!"), (
        proc.stdout + proc.stderr
    )


@pytest.mark.parametrize("target", ["runlayer_tf"])
def test_mypy_strict_finds_nothing(target, tmp_path):
    tool("mypy")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy"), target],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("Success: no issues found in ")
