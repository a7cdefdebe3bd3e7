"""A reader that goes away (``| head -1``) ends the command quietly with status 141."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from runlayer_tf.cli import STDOUT_CLOSED

RUNLAYER_TF = str(Path(sys.executable).with_name("runlayer-tf"))


@pytest.mark.parametrize("argv", [["pins", "list", "--json"], ["pins", "list"]])
def test_a_closed_stdout_exits_141_without_a_traceback(tmp_path, argv):
    lines = [
        f'resource "x" "a{i}" {{ image = "registry.example.com/app:v1.2.{i}" }}'
        for i in range(5000)
    ]
    (tmp_path / "main.tf").write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen(
        [RUNLAYER_TF, *argv, str(tmp_path / "main.tf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read()
    assert (proc.wait(timeout=60), err) == (STDOUT_CLOSED, b"")
