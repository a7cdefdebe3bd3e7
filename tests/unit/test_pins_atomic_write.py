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


def test_a_second_writer_never_loses_the_first_writers_update(tmp_path):
    """Both read the same bytes; the first writes; the second is refused, the first's edit stays."""

    from runlayer_tf.errors import PinError
    from runlayer_tf.pins import write_if_changed

    path = tmp_path / "main.tf"
    old = b'image = "registry.example.com/app:v1.0.0"\n'
    path.write_bytes(old)
    first = b'image = "registry.example.com/app:v1.1.0"\n'
    second = b'image = "registry.example.com/app:v1.2.0"\n'
    assert write_if_changed(path, old, first) is True
    with pytest.raises(PinError) as caught:
        write_if_changed(path, old, second)
    assert str(caught.value) == (
        f"{path}: changed by another writer since it was read; not written (run again)"
    )
    assert path.read_bytes() == first


def test_writers_of_one_file_serialise_on_its_lock(tmp_path):
    """While another process holds the file's lock, a write waits for it."""
    import fcntl
    import threading
    import time

    from runlayer_tf.pins import write_if_changed

    path = tmp_path / "main.tf"
    path.write_bytes(b"a = 1\n")
    fd = os.open(path, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = threading.Event()
    worker = threading.Thread(
        target=lambda: (write_if_changed(path, b"a = 1\n", b"a = 2\n"), done.set()), daemon=True
    )
    worker.start()
    time.sleep(0.3)
    assert not done.is_set()
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    worker.join(5)
    assert (done.is_set(), path.read_bytes()) == (True, b"a = 2\n")
