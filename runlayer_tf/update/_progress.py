"""What the operator sees: a live line on a terminal, timestamped lines elsewhere.

Everything printed goes through :func:`redact`, so neither URL passwords nor
AWS keys that show up in Terraform output or in a health URL reach the screen.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Protocol, TextIO

from runlayer_tf.update._clock import utc_now

__all__ = ["PlainProgress", "Progress", "SilentProgress", "TtyProgress", "make_progress", "redact"]

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_ACCESS_KEY = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_SECRET_ASSIGN = re.compile(
    r"(?i)(?P<key>aws_secret_access_key|aws_session_token|secret_access_key|session_token|password|secret|token)"
    r"(?P<sep>\s*[=:]\s*\"?)[^\s\",]+"
)


def redact(text: str) -> str:
    """``text`` with URL credentials, AWS access key ids and ``secret=...`` values masked."""
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    text = _ACCESS_KEY.sub("AKIA****************", text)
    return _SECRET_ASSIGN.sub(r"\g<key>\g<sep>***", text)


class Progress(Protocol):
    """Where the runbook reports; every method gets plain text and redacts it."""

    def step(self, name: str, message: str) -> None:
        """A lasting line: a step started, ended or decided something."""

    def status(self, name: str, message: str) -> None:
        """A passing state (percent done, a poll round); may be overwritten by the next one."""

    def output(self, prefix: str, line: str) -> None:
        """One line of a child program's output."""

    def close(self) -> None: ...


class SilentProgress:
    """Prints nothing (for ``--json`` callers and tests)."""

    def step(self, name: str, message: str) -> None:
        pass

    def status(self, name: str, message: str) -> None:
        pass

    def output(self, prefix: str, line: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """Timestamped lines for logs and CI; passing states are printed only when they change."""

    def __init__(self, stream: TextIO, clock: Callable[[], datetime] = utc_now) -> None:
        self._stream = stream
        self._clock = clock
        self._last_status: tuple[str, str] | None = None

    def _line(self, text: str) -> None:
        stamp = self._clock().astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} {redact(text)}", file=self._stream, flush=True)

    def step(self, name: str, message: str) -> None:
        self._line(f"[{name}] {message}")

    def status(self, name: str, message: str) -> None:
        if self._last_status != (name, message):
            self._last_status = (name, message)
            self._line(f"[{name}] {message}")

    def output(self, prefix: str, line: str) -> None:
        self._line(f"  {prefix}| {line}")

    def close(self) -> None:
        pass


class TtyProgress:
    """A live bottom line (current step and state) above which lasting lines scroll."""

    _CLEAR = "\r\x1b[K"

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._live = ""

    def _permanent(self, text: str) -> None:
        self._stream.write(f"{self._CLEAR}{redact(text)}\n")
        if self._live:
            self._stream.write(self._live)
        self._stream.flush()

    def step(self, name: str, message: str) -> None:
        self._permanent(f"[{name}] {message}")

    def status(self, name: str, message: str) -> None:
        self._live = redact(f"... {name}: {message}")
        self._stream.write(f"{self._CLEAR}{self._live}")
        self._stream.flush()

    def output(self, prefix: str, line: str) -> None:
        self._permanent(f"  {prefix}| {line}")

    def close(self) -> None:
        if self._live:
            self._stream.write(self._CLEAR)
            self._stream.flush()
            self._live = ""


def make_progress(stream: TextIO | None = None) -> Progress:
    """A :class:`TtyProgress` on a terminal, else a :class:`PlainProgress`."""
    out = sys.stderr if stream is None else stream
    return TtyProgress(out) if out.isatty() else PlainProgress(out)
