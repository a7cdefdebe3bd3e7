"""``runlayer-tf next-version``: messages on stdin, next version on stdout."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from runlayer_tf.cli import main

RUNLAYER_TF = Path(sys.executable).parent / "runlayer-tf"

CASES = [
    # argv after the command, stdin, exit code, stdout, stderr
    (["--current", "v1.2.3"], "feat: a\0fix: b\0", 0, "v1.3.0\n", ""),
    (["--current", "v1.2.3"], "fix: a\n---\ndocs: b\n", 0, "v1.2.4\n", ""),
    (["--current", "v1.2.3"], "fix: a\n\nBREAKING CHANGE: gone\n\0", 0, "v2.0.0\n", ""),
    (["--current", "1.2.3"], "feat: a\n", 0, "1.3.0\n", ""),
    (
        ["--current", "v1.2.3"],
        "chore: a\nci: b\n",
        0,
        "v1.2.3\n",
        "runlayer-tf next-version: no commit implies a release (2 read); version stays v1.2.3\n",
    ),
    (
        ["--current", "v1.2.3"],
        "",
        0,
        "v1.2.3\n",
        "runlayer-tf next-version: no commit implies a release (0 read); version stays v1.2.3\n",
    ),
    (
        ["--current", "v1.2.3", "--json"],
        "feat!: x\0",
        0,
        '{"current": "v1.2.3", "next": "v2.0.0", "bump": "major"}\n',
        "",
    ),
    (
        ["--current", "v1.2", "--json"],
        "fix: x\n",
        2,
        "",
        (
            'runlayer-tf: error: --current: invalid version "v1.2": '
            "expected MAJOR.MINOR.PATCH with an optional leading v\n"
        ),
    ),
    (
        ["--current", "v1.3.0-rc.1"],
        "fix: x\n",
        2,
        "",
        (
            'runlayer-tf: error: --current: invalid current version "v1.3.0-rc.1": '
            "a prerelease; give the last release (vX.Y.Z)\n"
        ),
    ),
]


@pytest.mark.parametrize(("argv", "stdin", "code", "out", "err"), CASES)
def test_next_version_main(monkeypatch, capsys, argv, stdin, code, out, err):
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["next-version", *argv]) == code
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (out, err)


def test_next_version_requires_current(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("fix: x\n"))
    assert main(["next-version"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("error: the following arguments are required: --current\n")


@pytest.mark.parametrize(
    ("argv", "stdin", "code", "out", "err"), [CASES[0], CASES[4], CASES[6], CASES[7]]
)
def test_next_version_subprocess(argv, stdin, code, out, err):
    """The installed console script behaves like main()."""
    proc = subprocess.run(
        [str(RUNLAYER_TF), "next-version", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (code, out, err)


def test_next_version_subprocess_reads_git_log(tmp_path):
    """Fed by a real ``git log --format=%B%x00``, it sees bodies and footers."""
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    for message in ["fix: first", "feat: second\n\nBREAKING CHANGE: renamed", "docs: third"]:
        subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", message], check=True)
    log = subprocess.run([*git, "log", "--format=%B%x00"], check=True, capture_output=True).stdout
    proc = subprocess.run(
        [str(RUNLAYER_TF), "next-version", "--current", "v1.9.4", "--json"],
        input=log,
        capture_output=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"current": "v1.9.4", "next": "v2.0.0", "bump": "major"}
