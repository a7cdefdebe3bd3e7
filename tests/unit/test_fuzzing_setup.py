"""The fuzzing knob: RUNLAYER_TF_FUZZ_EXAMPLES reaches every hypothesis test; scripts/fuzz runs them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

from tests import fuzzing

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_ci_run_keeps_each_tests_own_count(monkeypatch):
    monkeypatch.delenv(fuzzing.VARIABLE, raising=False)
    assert fuzzing.examples(150) == 150


def test_the_long_run_gives_every_test_the_count_asked_for(monkeypatch):
    monkeypatch.setenv(fuzzing.VARIABLE, "20000")
    assert fuzzing.examples(150) == 20000
    before = (
        settings.get_current_profile_name()
        if hasattr(settings, "get_current_profile_name")
        else None
    )
    try:
        fuzzing.register_profile()
        assert settings.default.max_examples == 20000
        assert settings.default.deadline is None
    finally:
        settings.load_profile(before or "default")


@pytest.mark.parametrize("raw", ["many", "0", "99999999"])
def test_a_bad_count_is_a_usage_error_naming_the_variable(raw):
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "tests/unit/test_versioning.py"],
        cwd=ROOT,
        env={**os.environ, fuzzing.VARIABLE: raw},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4  # pytest's usage error
    assert (
        f"RUNLAYER_TF_FUZZ_EXAMPLES must be a number of examples (1 to 10000000), got {raw!r}"
        in proc.stderr
    )
    assert "Traceback" not in proc.stderr


def test_every_hypothesis_test_is_marked_fuzz():
    """scripts/fuzz selects `-m fuzz`: each file using @given contributes its tests."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-m", "fuzz", "tests/unit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    selected = {line.split("::")[0] for line in proc.stdout.splitlines() if "::" in line}
    using = {
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "tests" / "unit").glob("test_*.py"))
        if re.search(r"^@given\(", p.read_text(), re.MULTILINE)
    }
    assert using >= {"tests/unit/test_fuzz_boundaries.py", "tests/unit/test_tags.py"}
    assert selected == using
    assert "scripts/test -m fuzz" in (ROOT / "scripts" / "fuzz").read_text()
