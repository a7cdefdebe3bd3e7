"""What the operator sees: a live line on a terminal, timestamped lines elsewhere.

Everything printed goes through :func:`redact`, so neither URL passwords nor
AWS keys that show up in Terraform output or in a health URL reach the screen.

On a terminal (:class:`TtyProgress`) lasting lines scroll and one live line
stays at the bottom: the step running now, how long it has run, and its latest
passing state (snapshot percentage, health poll).  A ticker thread redraws it
every second, so the time moves while a step waits.  The live line is cut to
the terminal's width as it is at each redraw: a line that wrapped could not be
erased by ``\\r`` + clear-line, and each redraw would leave a copy behind.
A step's passing state ends with the step.  Off a terminal
(:class:`PlainProgress`) every event is one timestamped line, without control
codes.  Both may be called from several threads (Terraform's stdout and stderr
are read by two).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol, TextIO

from runlayer_tf.update._clock import utc_now
from runlayer_tf.update._secrets import redact

__all__ = [
    "PlainProgress",
    "Progress",
    "SilentProgress",
    "TtyProgress",
    "cut_to_width",
    "elapsed",
    "make_progress",
    "redact",
]


class Progress(Protocol):
    """Where the runbook reports; every method gets plain text and redacts it."""

    def start(self, name: str) -> None:
        """Step ``name`` started (it is the current step until its ``step`` line)."""

    def step(self, name: str, message: str) -> None:
        """A lasting line: a step ended or decided something."""

    def status(self, name: str, message: str) -> None:
        """A passing state (percent done, a poll round); may be overwritten by the next one."""

    def output(self, prefix: str, line: str) -> None:
        """One line of a child program's output."""

    def close(self) -> None:
        """The run is over: stop the live line; a child's later output is not shown.

        (An interrupted Terraform can still write while the report or the
        interruption summary is printed; its lines would land in the middle.)
        """


class SilentProgress:
    """Prints nothing (for ``--json`` callers and tests)."""

    def start(self, name: str) -> None:
        pass

    def step(self, name: str, message: str) -> None:
        pass

    def status(self, name: str, message: str) -> None:
        pass

    def output(self, prefix: str, line: str) -> None:
        pass

    def close(self) -> None:
        pass


def _printable(text: str, *, keep: str = "\n") -> str:
    """``text`` with control characters (escape codes, tabs, carriage returns) made spaces."""
    return "".join(" " if unicodedata.category(c) == "Cc" and c not in keep else c for c in text)


class PlainProgress:
    """Timestamped lines for logs and CI; passing states are printed only when they change."""

    def __init__(self, stream: TextIO, clock: Callable[[], datetime] = utc_now) -> None:
        self._stream = stream
        self._clock = clock
        self._last_status: tuple[str, str] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _line(self, text: str) -> None:
        stamp = self._clock().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._lock:
            print(f"{stamp} {_printable(redact(text))}", file=self._stream, flush=True)

    def start(self, name: str) -> None:
        self._line(f"[{name}] started")

    def step(self, name: str, message: str) -> None:
        self._line(f"[{name}] {message}")

    def status(self, name: str, message: str) -> None:
        if self._last_status != (name, message):
            self._last_status = (name, message)
            self._line(f"[{name}] {message}")

    def output(self, prefix: str, line: str) -> None:
        if not self._closed:
            self._line(f"  {prefix}| {line}")

    def close(self) -> None:
        self._closed = True


def _columns(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cut_to_width(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` terminal columns (wide characters count 2)."""
    used = 0
    for index, char in enumerate(text):
        used += _columns(char)
        if used > width:
            return text[:index]
    return text


def elapsed(seconds: float) -> str:
    """``42s``, ``3m05s``, ``1h02m``: a step's running time for the live line."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def _terminal_width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns or 80
    except (AttributeError, OSError, ValueError):
        return 80


class TtyProgress:
    """A live bottom line (current step, its running time, its state) above which lasting lines scroll."""

    _CLEAR = "\r\x1b[K"

    def __init__(
        self,
        stream: TextIO,
        *,
        width: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick: float | None = 1.0,
    ) -> None:
        self._stream = stream
        self._width = width if width is not None else lambda: _terminal_width(stream)
        self._clock = clock
        self._tick = tick
        self._lock = threading.RLock()
        self._current: str | None = None
        self._since = 0.0
        self._state = ""
        self._shown = ""
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # -- drawing (callers hold the lock)

    def _live(self) -> str:
        if self._current is None:
            return ""
        text = f"... {self._current} {elapsed(self._clock() - self._since)}"
        if self._state:
            text += f": {self._state}"
        # One column spare: a line filling the last column leaves the cursor in
        # the wrap-pending state, where some terminals wrap on the next write.
        return cut_to_width(_printable(text, keep=""), max(1, self._width() - 1))

    def _redraw(self) -> None:
        self._shown = self._live()
        self._stream.write(f"{self._CLEAR}{self._shown}")
        self._stream.flush()

    def _permanent(self, text: str) -> None:
        with self._lock:
            self._stream.write(f"{self._CLEAR}{_printable(redact(text))}\n")
            self._redraw()

    # -- the protocol

    def start(self, name: str) -> None:
        with self._lock:
            self._current, self._since, self._state = name, self._clock(), ""
            self._permanent(f"[{name}] started")
            self._start_ticker()

    def step(self, name: str, message: str) -> None:
        with self._lock:
            if name == self._current:  # the step ended: its live line goes with it
                self._current, self._state = None, ""
            self._permanent(f"[{name}] {message}")

    def status(self, name: str, message: str) -> None:
        # The state belongs to the running step, whatever it calls itself
        # (rollback-verify reports as verify); with none running, ``name`` is one.
        with self._lock:
            if self._current is None:
                self._current, self._since = name, self._clock()
            self._state = redact(message)
            self._redraw()

    def output(self, prefix: str, line: str) -> None:
        if not self._stop.is_set():
            self._permanent(f"  {prefix}| {line}")

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            self._current, self._state = None, ""
            if self._shown:
                self._stream.write(self._CLEAR)
                self._stream.flush()
                self._shown = ""

    # -- the ticker

    def _start_ticker(self) -> None:
        if self._ticker is not None or self._tick is None or self._stop.is_set():
            return
        self._ticker = threading.Thread(target=self._tick_loop, name="progress-ticker", daemon=True)
        self._ticker.start()

    def _tick_loop(self) -> None:
        assert self._tick is not None
        while not self._stop.wait(self._tick):
            with self._lock:
                if self._current is not None and not self._stop.is_set():
                    try:
                        self._redraw()
                    except (OSError, ValueError):  # the terminal went away
                        return


def make_progress(stream: TextIO | None = None) -> Progress:
    """A :class:`TtyProgress` on a terminal, else a :class:`PlainProgress`."""
    out = sys.stderr if stream is None else stream
    return TtyProgress(out) if out.isatty() else PlainProgress(out)
