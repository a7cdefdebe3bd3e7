"""The update journal (JSON lines, one record per step event) and the working-dir lock.

The journal is appended to and fsynced record by record, so after a crash it
says exactly which steps ended; ``--resume`` reads it back.  A torn last line
(the process died mid-write) is ignored, and cut off before the next append.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from runlayer_tf.errors import UpdateError
from runlayer_tf.update._clock import utc_now

try:
    import fcntl
except ImportError:  # not POSIX: hold_lock falls back to an exclusively created file
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "DEFAULT_DIR",
    "Journal",
    "LockHolder",
    "Record",
    "RunHistory",
    "hold_lock",
    "last_run",
    "read_journal",
]

DEFAULT_DIR = ".runlayer"


@attrs.frozen
class Record:
    """One journal line.

    ``event`` is ``begin`` (a run's facts), ``start``/``end`` of a ``step``
    (``end`` carries ``result`` ``ok`` or ``failed``), ``note`` (a decision,
    such as starting a roll-back) or ``finish`` (the run's outcome).
    """

    ts: str
    run: str
    event: str
    step: str | None = None
    result: str | None = None
    detail: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> str:
        fields = {"ts": self.ts, "run": self.run, "event": self.event}
        if self.step is not None:
            fields["step"] = self.step
        if self.result is not None:
            fields["result"] = self.result
        return json.dumps({**fields, "detail": dict(self.detail)}, sort_keys=True)

    @classmethod
    def parse(cls, line: str) -> Record:
        """Parse one journal line; raises ValueError."""
        raw = json.loads(line)
        if not isinstance(raw, dict) or not {"ts", "run", "event"} <= raw.keys():
            raise ValueError("not a journal record")
        return cls(
            ts=str(raw["ts"]),
            run=str(raw["run"]),
            event=str(raw["event"]),
            step=raw.get("step"),
            result=raw.get("result"),
            detail=dict(raw.get("detail") or {}),
        )


class Journal:
    """Appends records to a JSON-lines file, durably, one at a time."""

    def __init__(self, path: Path, clock: Callable[[], datetime] = utc_now) -> None:
        self.path = path
        self._clock = clock
        self._ready = False

    def append(
        self,
        run: str,
        event: str,
        *,
        step: str | None = None,
        result: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> Record:
        record = Record(
            ts=self._clock().astimezone(timezone.utc).isoformat(timespec="seconds"),
            run=run,
            event=event,
            step=step,
            result=result,
            detail=dict(detail or {}),
        )
        if not self._ready:
            # Once: every record this object appends is whole (written and
            # fsynced before append returns), so only a tail torn before it
            # started can need mending.
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _mend_torn_tail(self.path)
            self._ready = True
        with self.path.open("a", encoding="utf-8") as out:
            out.write(record.to_json() + "\n")
            out.flush()
            os.fsync(out.fileno())
        return record


def _mend_torn_tail(path: Path) -> None:
    """End ``path`` with a newline the way :func:`read_journal` sees it, before appending.

    A last line without its newline was torn by a crash mid-write: unreadable,
    it is a record that never happened and is cut off; readable (only the
    newline was lost), it is kept and ended.  Otherwise the next record would
    be glued to it, making a corrupt middle line that blocks every later run.
    """
    try:
        with path.open("r+b") as journal:
            size = journal.seek(0, os.SEEK_END)
            if size == 0:
                return
            journal.seek(size - 1)
            if journal.read(1) == b"\n":
                return
            journal.seek(0)
            data = journal.read()
            start = data.rfind(b"\n") + 1
            try:
                Record.parse(data[start:].decode("utf-8"))
            except ValueError:  # UnicodeDecodeError and JSONDecodeError included
                journal.truncate(start)
            else:
                journal.seek(size)
                journal.write(b"\n")
            journal.flush()
            os.fsync(journal.fileno())
    except FileNotFoundError:
        return


def read_journal(path: Path) -> list[Record]:
    """Every readable record of ``path`` (none when it does not exist); raises UpdateError on a corrupt middle line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(Record.parse(line))
        except ValueError as err:
            if number == len(lines):
                break  # torn by a crash mid-write: that record never happened
            raise UpdateError(f"journal {path} line {number} is not a journal record") from err
    return records


@attrs.frozen
class RunHistory:
    """What the journal says about one run."""

    run: str
    begin: Record | None
    completed: Mapping[str, Mapping[str, Any]]
    started: tuple[str, ...]
    notes: tuple[Record, ...]
    finish: Record | None

    @property
    def finished(self) -> bool:
        return self.finish is not None


def last_run(records: list[Record]) -> RunHistory | None:
    """The history of the journal's last run, or None for an empty journal."""
    if not records:
        return None
    run = records[-1].run
    mine = [r for r in records if r.run == run]
    begin = next((r for r in mine if r.event == "begin"), None)
    completed: dict[str, Mapping[str, Any]] = {}
    started: list[str] = []
    for record in mine:
        if record.event == "start" and record.step:
            started.append(record.step)
        elif record.event == "end" and record.step and record.result == "ok":
            completed[record.step] = record.detail
    finish = next((r for r in reversed(mine) if r.event == "finish"), None)
    notes = tuple(r for r in mine if r.event == "note")
    return RunHistory(run, begin, completed, tuple(started), notes, finish)


@attrs.frozen
class LockHolder:
    """Who holds the working-dir lock."""

    pid: int
    host: str
    started: str

    @classmethod
    def parse(cls, text: str) -> LockHolder:
        """Parse the lock file's JSON; raises ValueError."""
        raw = json.loads(text)
        return cls(int(raw["pid"]), str(raw["host"]), str(raw["started"]))

    def to_json(self) -> str:
        return json.dumps(
            {"pid": self.pid, "host": self.host, "started": self.started}, sort_keys=True
        )

    def __str__(self) -> str:
        return f"pid {self.pid} on {self.host} since {self.started}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def hold_lock(path: Path, clock: Callable[[], datetime] = utc_now) -> Iterator[LockHolder]:
    """Hold the lock file ``path`` for the duration of the block.

    The lock is an OS advisory lock (``flock``) on ``path``, so the kernel
    releases it when its holder dies: a dead holder's lock is free, with no
    take-over to race on.  The file's content only names the holder for the
    error.  Raises UpdateError naming the holder when another update holds it.
    Without ``fcntl`` (not POSIX) the lock is the file's existence instead,
    and a stale one must be removed by hand.
    """
    me = LockHolder(
        os.getpid(),
        socket.gethostname(),
        clock().astimezone(timezone.utc).isoformat(timespec="seconds"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _flock(path) if fcntl is not None else _create_exclusively(path)
    try:
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, me.to_json().encode("utf-8"))
        yield me
    finally:
        # Unlink while still holding the lock: a waiter that opened this file
        # sees that it is no longer at ``path`` and starts over (see _flock).
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(fd), os.stat(path)):
                path.unlink()
        os.close(fd)


def _flock(path: Path) -> int:
    assert fcntl is not None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder_of_held(fd)
            os.close(fd)
            raise UpdateError(f"another update holds the lock {path}{holder}") from None
        except OSError as err:
            os.close(fd)
            raise UpdateError(f"cannot lock {path}: {err.strerror or err}") from err
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder released and removed it between our open and flock


def _create_exclusively(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        try:
            text = path.read_bytes()[:4096]
        except OSError:
            text = b""
    named = _named(text)
    hint = "; remove it if no update is running"
    if named is not None and named.host == socket.gethostname() and not _alive(named.pid):
        hint = "; that process is gone: remove the lock"
    raise UpdateError(f"another update holds the lock {path}{_holder(named)}{hint}")


_UNNAMED = " (the lock file does not name its holder yet)"


def _named(text: bytes) -> LockHolder | None:
    try:
        return LockHolder.parse(text.decode("utf-8"))
    except (ValueError, KeyError, TypeError):
        return None


def _holder(named: LockHolder | None) -> str:
    """``: pid ... on ... since ...`` for the lock file's holder, or why none is named."""
    return _UNNAMED if named is None else f": {named}"


def _holder_of_held(fd: int) -> str:
    # The holder names itself just after taking the lock; until then the file
    # is empty or still names a dead predecessor, so give it a moment.
    for _attempt in range(50):
        named = _named(os.pread(fd, 4096, 0))
        if named is not None and (named.host != socket.gethostname() or _alive(named.pid)):
            return f": {named}"
        time.sleep(0.01)
    return _UNNAMED
