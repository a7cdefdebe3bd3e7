"""The update journal (JSON lines, one record per step event) and the working-dir lock.

The journal is appended to and fsynced record by record, so after a crash it
says exactly which steps ended; ``--resume`` reads it back.  A torn last line
(the process died mid-write) is ignored, and cut off before the next append.

The working dir may be hostile (a shared workdir or a repository can carry a
symlink at ``.runlayer/update.jsonl``): every file here is opened with
``O_NOFOLLOW``, created with ``O_EXCL`` when new, mode 0600, and must be a
regular file.  Every record is checked against the schema on reading (a
damaged line is a one-line UpdateError naming the file and line) and has its
secrets masked (:func:`redact_data`) on writing.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from runlayer_tf.errors import UpdateError
from runlayer_tf.update._clock import utc_now
from runlayer_tf.update._secrets import redact_data

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
    "open_private",
    "read_journal",
]

DEFAULT_DIR = ".runlayer"
EVENTS = ("begin", "start", "end", "note", "finish", "child")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_PRIVATE = 0o600


def open_private(path: Path, flags: int) -> int:
    """Open ``path`` (``flags`` without O_CREAT) as a private regular file, never through a symlink.

    With ``create`` semantics (``os.O_CREAT`` in ``flags``) a missing file is
    made with ``O_EXCL`` and mode 0600; an existing one is opened with
    ``O_NOFOLLOW`` and made 0600.  Raises UpdateError for a symlink or
    anything not a regular file, FileNotFoundError when it is missing and not
    created.
    """
    create = bool(flags & os.O_CREAT)
    flags &= ~os.O_CREAT
    fd = -1
    if create:
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | _NOFOLLOW, _PRIVATE)
        except FileExistsError:
            fd = -1
    try:
        if fd < 0:
            fd = os.open(path, flags | _NOFOLLOW | os.O_NONBLOCK)
    except OSError as err:
        if os.path.islink(path):
            raise UpdateError(f"refusing to follow the symlink {path}") from None
        if isinstance(err, FileNotFoundError):
            raise
        raise UpdateError(f"cannot open {path}: {err.strerror or err}") from err
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise UpdateError(f"refusing {path}: not a regular file")
    if stat.S_IMODE(info.st_mode) != _PRIVATE and info.st_uid == os.getuid():
        os.fchmod(fd, _PRIVATE)
    os.set_blocking(fd, True)
    return fd


def private_dir(path: Path) -> None:
    """Make the directory ``path`` (0700 when new); refuse a ``.runlayer`` that is a symlink."""
    if path.name == DEFAULT_DIR and path.is_symlink():
        raise UpdateError(f"refusing to follow the symlink {path}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


@attrs.frozen
class Record:
    """One journal line.

    ``event`` is ``begin`` (a run's facts), ``start``/``end`` of a ``step``
    (``end`` carries ``result`` ``ok`` or ``failed``), ``note`` (a decision,
    such as starting a roll-back), ``child`` (a Terraform the step started:
    pid, start time, argv and log files, see :class:`._child.Child`; journals
    written before it existed simply have none) or ``finish`` (the run's
    outcome).
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
        """Parse one journal line against the schema; raises ValueError saying what is wrong."""
        try:
            raw = json.loads(line)
        except RecursionError:
            raise ValueError("nested too deeply") from None
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
        for key in ("ts", "run", "event"):
            if not isinstance(raw.get(key), str):
                raise ValueError(f"{key!r} is not a string")
        if raw["event"] not in EVENTS:
            raise ValueError(f"unknown event {raw['event']!r}")
        for key in ("step", "result"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise ValueError(f"{key!r} is not a string")
        detail = raw.get("detail") or {}
        if not isinstance(detail, dict):
            raise ValueError("'detail' is not an object")
        if raw["event"] in ("start", "end", "child") and not raw.get("step"):
            raise ValueError(f"a {raw['event']} record without a step")
        if raw["event"] == "begin":
            _check_facts(detail)
        if raw["event"] == "child":
            from runlayer_tf.update._child import Child  # _child opens files with this module

            Child.from_dict(detail)
        return cls(
            ts=raw["ts"],
            run=raw["run"],
            event=raw["event"],
            step=raw.get("step"),
            result=raw.get("result"),
            detail=detail,
        )


_FACT_FIELDS = ("kind", "cluster", "mode", "snapshot")
_CHANGE_FIELDS = {
    "name": False,
    "previous": False,
    "target": False,
    "var_file": True,
    "repository": True,
}


def _check_facts(detail: Mapping[str, Any]) -> None:
    """The ``begin`` record's facts: what ``--resume`` acts on, so every field is checked."""
    for key in _FACT_FIELDS:
        if not isinstance(detail.get(key), str):
            raise ValueError(f"begin: {key!r} is not a string")
    changes = detail.get("changes")
    if not isinstance(changes, list) or not changes:
        raise ValueError("begin: 'changes' is not a non-empty list")
    for number, change in enumerate(changes, 1):
        if not isinstance(change, dict) or set(change) != set(_CHANGE_FIELDS):
            raise ValueError(
                f"begin: change {number} does not have the fields {', '.join(_CHANGE_FIELDS)}"
            )
        for key, optional in _CHANGE_FIELDS.items():
            value = change[key]
            if not (isinstance(value, str) or (optional and value is None)):
                raise ValueError(f"begin: change {number} {key!r} is not a string")


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
            detail=redact_data(dict(detail or {})),
        )
        if not self._ready:
            # Once: every record this object appends is whole (written and
            # fsynced before append returns), so only a tail torn before it
            # started can need mending.
            private_dir(self.path.parent)
            _mend_torn_tail(self.path)
            self._ready = True
        fd = open_private(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
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
        with os.fdopen(open_private(path, os.O_RDWR), "r+b") as journal:
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
            except ValueError:  # UnicodeDecodeError, JSONDecodeError and the schema's
                journal.truncate(start)
            else:
                journal.seek(size)
                journal.write(b"\n")
            journal.flush()
            os.fsync(journal.fileno())
    except FileNotFoundError:
        return


def read_journal(path: Path) -> list[Record]:
    """Every record of ``path`` (none when it does not exist).

    A last line without its newline was torn by a crash and is ignored; any
    other line that is not a valid record raises UpdateError naming the file
    and the line.
    """
    try:
        with os.fdopen(open_private(path, os.O_RDONLY), "rb") as journal:
            data = journal.read()
    except FileNotFoundError:
        return []
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(Record.parse(line.decode("utf-8")))
        except UnicodeDecodeError:
            raise UpdateError(
                f"journal {path} line {number} is not a journal record: not UTF-8"
            ) from None
        except ValueError as err:
            raise UpdateError(
                f"journal {path} line {number} is not a journal record: {err}"
            ) from None
    if torn.strip():
        with contextlib.suppress(ValueError):
            records.append(Record.parse(torn.decode("utf-8")))
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
    # The Terraform processes the run started (``child`` records), oldest first.
    children: tuple[Record, ...] = ()
    # The steps whose last start has an end record (ok or failed).
    ended: frozenset[str] = frozenset()

    @property
    def finished(self) -> bool:
        return self.finish is not None

    def interrupted(self, step: str) -> bool:
        """Whether ``step`` started and never ended (its process died in it)."""
        return step in self.started and step not in self.ended


def last_run(records: list[Record]) -> RunHistory | None:
    """The history of the journal's last run, or None for an empty journal."""
    if not records:
        return None
    run = records[-1].run
    mine = [r for r in records if r.run == run]
    begin = next((r for r in mine if r.event == "begin"), None)
    completed: dict[str, Mapping[str, Any]] = {}
    started: list[str] = []
    ended: set[str] = set()
    for record in mine:
        if record.event == "start" and record.step:
            started.append(record.step)
            ended.discard(record.step)
        elif record.event == "end" and record.step:
            ended.add(record.step)
            if record.result == "ok":
                completed[record.step] = record.detail
    finish = next((r for r in reversed(mine) if r.event == "finish"), None)
    notes = tuple(r for r in mine if r.event == "note")
    children = tuple(r for r in mine if r.event == "child")
    return RunHistory(
        run, begin, completed, tuple(started), notes, finish, children, frozenset(ended)
    )


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
    private_dir(path.parent)
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
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
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
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, _PRIVATE)
    except FileExistsError:
        try:
            with os.fdopen(open_private(path, os.O_RDONLY), "rb") as held:
                text = held.read(4096)
        except (OSError, UpdateError):
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
