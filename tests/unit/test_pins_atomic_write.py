"""Atomic writes: a writer killed at any moment leaves the old or the new file, never a mix."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from runlayer_tf.pins._files import atomic_write

SIZE = 16 * 1024 * 1024
WRITER = """
import sys
from runlayer_tf.pins._files import atomic_write
path, size = sys.argv[1], int(sys.argv[2])
print("ready", flush=True)
atomic_write(path, b"N" * (size - 1) + b"\\n")
print("done", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize("seed", range(8))
def test_killed_writer_leaves_old_or_new(tmp_path, seed):
    target = tmp_path / "big.tf"
    old = b"O" * (SIZE // 2 - 1) + b"\n"
    target.write_bytes(old)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target), str(SIZE)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(random.Random(seed).uniform(0, 0.15))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    content = target.read_bytes()
    new = b"N" * (SIZE - 1) + b"\n"
    assert content in (old, new)


def test_atomic_write_keeps_mode_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "prod.tfvars"
    target.write_bytes(b'a_version = "v1.0.0"\n')
    target.chmod(0o600)
    atomic_write(target, b'a_version = "v1.0.1"\n')
    assert target.read_bytes() == b'a_version = "v1.0.1"\n'
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prod.tfvars"]
