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
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from runlayer_tf.errors import UpdateError

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


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


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

    def __init__(self, path: Path, clock: Callable[[], datetime] = _utc_now) -> None:
        self.path = path
        self._clock = clock

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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _mend_torn_tail(self.path)
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
def hold_lock(path: Path, clock: Callable[[], datetime] = _utc_now) -> Iterator[LockHolder]:
    """Hold the lock file ``path`` for the duration of the block.

    A lock left by a dead process on this host is taken over.  Raises
    UpdateError naming the holder when another live update holds it.
    """
    me = LockHolder(
        os.getpid(),
        socket.gethostname(),
        clock().astimezone(timezone.utc).isoformat(timespec="seconds"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                holder = LockHolder.parse(path.read_text(encoding="utf-8"))
            except (OSError, ValueError, KeyError):
                raise UpdateError(
                    f"lock {path} exists but is unreadable; remove it if no update is running"
                ) from None
            if holder.host == me.host and not _alive(holder.pid):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                continue
            raise UpdateError(f"another update holds the lock {path}: {holder}") from None
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(me.to_json())
        break
    else:
        raise UpdateError(f"could not take the lock {path}")
    try:
        yield me
    finally:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if LockHolder.parse(path.read_text(encoding="utf-8")) == me:
                path.unlink()
