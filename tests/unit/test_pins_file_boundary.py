"""pins reads only regular files, follows symlinked directories once each, and never hangs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNLAYER_TF = str(Path(sys.executable).with_name("runlayer-tf"))
PIN = 'image = "registry.example.com/app:latest"\n'


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    # A subprocess with a timeout: the old code blocked forever opening a FIFO.
    return subprocess.run(
        [RUNLAYER_TF, *argv], capture_output=True, text=True, timeout=60, check=False
    )


def tree(tmp_path: Path) -> Path:
    shared = tmp_path / "shared" / "prod"
    shared.mkdir(parents=True)
    (shared / "main.tf").write_text(PIN)
    envs = tmp_path / "envs"
    envs.mkdir()
    (envs / "prod").symlink_to(shared)
    (envs / "loop").symlink_to(envs)  # a directory link back up: walked once
    os.mkfifo(envs / "pipe.tf")
    (envs / "null.tf").symlink_to(os.devnull)
    return envs


def test_fifos_and_devices_are_skipped_with_a_note_and_never_opened(tmp_path):
    envs = tree(tmp_path)
    proc = run("pins", "list", "--json", str(envs))
    assert proc.returncode == 0, proc.stderr
    assert [p["file"] for p in json.loads(proc.stdout)] == [f"{envs}/prod/main.tf"]
    assert proc.stderr.splitlines() == [
        f"runlayer-tf: note: {envs}/null.tf: a character device, not a regular file; skipped",
        f"runlayer-tf: note: {envs}/pipe.tf: a FIFO, not a regular file; skipped",
    ]


def test_a_symlinked_directory_gives_the_same_answer_however_it_is_named(tmp_path):
    """`pins check envs/` and `pins check envs/prod/` agree about a `latest` under the link."""
    envs = tree(tmp_path)
    (envs / "pipe.tf").unlink()
    (envs / "null.tf").unlink()
    whole, one = run("pins", "check", str(envs)), run("pins", "check", str(envs / "prod"))
    assert (whole.returncode, one.returncode) == (1, 1)
    assert whole.stdout.replace(str(envs), "X") == one.stdout.replace(str(envs), "X")
    assert "RTF" in whole.stdout


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("main.tf", PIN + "a = " + "[" * 20_000 + "]" * 20_000 + "\n"),
        ("main.tf", PIN + "locals { a = " + "(" * 20_000 + "1" + ")" * 20_000 + " }\n"),
        (
            "x.tfvars.json",
            '{"image": "registry.example.com/app:v1", "a": ' + "[" * 19_999 + "]" * 19_999 + "}",
        ),
    ],
)
def test_deep_nesting_is_rtf000_not_a_traceback(tmp_path, capsys, name, text):
    from runlayer_tf.cli import main

    path = tmp_path / name
    path.write_text(text)
    assert main(["pins", "check", str(path)]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == (f"{path}:1:1: RTF000 does not parse: nested too deeply\n", "")


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("pyproject.toml", "tool = 1\n# runlayer-tf\n", "[tool] must be a table"),
        (
            ".runlayer-tf.toml",
            "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
            "invalid TOML: nested too deeply",
        ),
        (
            "pyproject.toml",
            "# runlayer-tf\na = " + "{b = " * 50_000 + "1" + "}" * 50_000 + "\n",
            "invalid TOML: nested too deeply",
        ),
    ],
    ids=["tool-not-a-table", "deep-array", "deep-inline-table"],
)
def test_a_config_file_from_the_repository_is_one_line_not_a_traceback(
    tmp_path, monkeypatch, capsys, name, text, reason
):
    """A repository's pyproject.toml with `tool = 1` was an AttributeError, a deeply nested
    TOML a RecursionError."""
    from runlayer_tf.cli import main

    (tmp_path / name).write_text(text)
    (tmp_path / "main.tf").write_text(PIN)
    monkeypatch.chdir(tmp_path)
    assert main(["pins", "check", "."]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", f"runlayer-tf: error: {tmp_path / name}: {reason}\n")
