"""A real pseudo-terminal for CLI tests, read through the pyte VT emulator.

:class:`Terminal` starts a command on the slave side of a fresh pty of a
given size, as its controlling terminal and foreground process group (so
writing ``\\x03`` to the master is a real Ctrl-C, delivered by the kernel's
line discipline), records every byte the command writes, and turns them into
what a user would see: :meth:`Terminal.rows` is the whole transcript (the
lines that scrolled off the top, then the screen), as a VT100 of that width
shows it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Mapping, Sequence

import pyte

# Runs in the child, after setsid: make the pty the controlling terminal, then exec the command.
_TAKE_TERMINAL = (
    "import fcntl, os, sys, termios; "
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


class Terminal:
    """One command running in a ``columns`` x ``lines`` pseudo-terminal."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        columns: int,
        lines: int = 24,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
    ) -> None:
        self.columns, self.lines = columns, lines
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
        self._master = master
        self._output = bytearray()
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _TAKE_TERMINAL, *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            close_fds=True,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 65536)
            except OSError:  # EIO: every slave descriptor is closed
                return
            if not chunk:
                return
            with self._lock:
                self._output += chunk

    @property
    def output(self) -> bytes:
        """Every byte written to the terminal so far."""
        with self._lock:
            return bytes(self._output)

    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")

    def type(self, keys: bytes) -> None:
        """Type ``keys`` (``b"\\x03"`` is Ctrl-C)."""
        os.write(self._master, keys)

    def wait_for(self, predicate: object, *, timeout: float = 60.0, what: str = "") -> None:
        """Wait until ``predicate(self)`` holds; AssertionError (with the screen) at the timeout."""
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                screen = "\n".join(self.rows())
                raise AssertionError(
                    f"never saw {what or predicate}; the terminal shows:\n{screen}"
                )
            if self.proc.poll() is not None and not predicate(self):
                time.sleep(0.2)  # the last bytes may still be in flight
                if predicate(self):
                    return
                screen = "\n".join(self.rows())
                raise AssertionError(
                    f"the command ended ({self.proc.returncode}) before {what or predicate}:\n{screen}"
                )
            time.sleep(0.02)

    def finish(self, timeout: float = 120.0) -> int:
        """Wait for the command to end and for its last output; its exit code."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        os.close(self._master)
        return code

    def rows(self) -> list[str]:
        """What the terminal shows, scrolled-off lines first, each right-stripped, trailing blanks cut."""
        screen = pyte.HistoryScreen(self.columns, self.lines, history=100_000)
        pyte.ByteStream(screen).feed(self.output)
        scrolled = ["".join(row[x].data for x in range(self.columns)) for row in screen.history.top]
        rows = [row.rstrip() for row in [*scrolled, *screen.display]]
        while rows and not rows[-1]:
            rows.pop()
        return rows


def wrapped(lines: Sequence[str], columns: int) -> list[str]:
    """``lines`` as a terminal ``columns`` wide shows them (hard wrap at the last column, right-stripped)."""
    rows = []
    for line in lines:
        rows += [line[i : i + columns].rstrip() for i in range(0, max(len(line), 1), columns)]
    return rows
