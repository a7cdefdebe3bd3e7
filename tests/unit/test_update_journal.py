"""The JSON-lines journal, its reading after a crash, and the working-dir lock."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from update_fakes import FakeClock

from runlayer_tf.errors import UpdateError
from runlayer_tf.update._journal import (
    Journal,
    LockHolder,
    Record,
    hold_lock,
    last_run,
    read_journal,
)


def test_records_round_trip(tmp_path: Path) -> None:
    journal = Journal(tmp_path / ".runlayer" / "update.jsonl", FakeClock())
    journal.append("r1", "begin", detail={"snapshot": "s"})
    journal.append("r1", "start", step="snapshot")
    journal.append("r1", "end", step="snapshot", result="ok", detail={"arn": "a"})
    lines = journal.path.read_text().splitlines()
    assert json.loads(lines[2]) == {
        "ts": "2026-03-01T05:30:00+00:00",
        "run": "r1",
        "event": "end",
        "step": "snapshot",
        "result": "ok",
        "detail": {"arn": "a"},
    }
    assert read_journal(journal.path) == [
        Record("2026-03-01T05:30:00+00:00", "r1", "begin", detail={"snapshot": "s"}),
        Record("2026-03-01T05:30:00+00:00", "r1", "start", step="snapshot"),
        Record(
            "2026-03-01T05:30:00+00:00",
            "r1",
            "end",
            step="snapshot",
            result="ok",
            detail={"arn": "a"},
        ),
    ]
    assert all(Record.parse(line).to_json() == line for line in lines)


def test_torn_last_line_is_ignored_but_a_corrupt_middle_is_not(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    good = Record("t", "r1", "start", step="plan").to_json()
    path.write_text(good + "\n" + '{"ts": "t", "run": "r1", "ev')
    assert read_journal(path) == [Record("t", "r1", "start", step="plan")]
    path.write_text('{"oops"\n' + good + "\n")
    with pytest.raises(UpdateError, match=r"j.jsonl line 1 is not a journal record$"):
        read_journal(path)


GOOD = Record("t", "r1", "start", step="plan").to_json()
NEW = Record("2026-03-01T05:30:00+00:00", "r1", "end", step="plan", result="ok")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", NEW.to_json() + "\n"),
        (GOOD + "\n", GOOD + "\n" + NEW.to_json() + "\n"),
        (GOOD + "\n" + '{"ts": "t", "run": "r1", "ev', GOOD + "\n" + NEW.to_json() + "\n"),
        ('{"ts": "t", "ru', NEW.to_json() + "\n"),
        (GOOD + "\n" + GOOD[:-1], GOOD + "\n" + NEW.to_json() + "\n"),
        # only the newline was lost: read_journal reads the record, so it is kept
        (GOOD + "\n" + GOOD, GOOD + "\n" + GOOD + "\n" + NEW.to_json() + "\n"),
    ],
    ids=["empty", "whole", "torn-after-record", "torn-only", "torn-at-brace", "newline-lost"],
)
def test_append_after_a_torn_last_line_keeps_the_journal_readable(
    tmp_path: Path, before: str, after: str
) -> None:
    """Appending first makes the file say what read_journal said: a torn fragment is cut off."""
    path = tmp_path / "j.jsonl"
    path.write_text(before)
    readable_before = read_journal(path)
    Journal(path, FakeClock()).append("r1", "end", step="plan", result="ok")
    assert path.read_text() == after
    assert read_journal(path) == [*readable_before, NEW]


def test_missing_journal_is_empty(tmp_path: Path) -> None:
    assert read_journal(tmp_path / "none.jsonl") == []
    assert last_run([]) is None


def test_last_run_history() -> None:
    records = [
        Record("t", "r0", "begin"),
        Record("t", "r0", "finish", result="succeeded"),
        Record("t", "r1", "begin", detail={"k": 1}),
        Record("t", "r1", "start", step="preflight"),
        Record("t", "r1", "end", step="preflight", result="ok", detail={"engine": "e"}),
        Record("t", "r1", "start", step="snapshot"),
        Record("t", "r1", "end", step="snapshot", result="failed"),
        Record("t", "r1", "note", step="snapshot", detail={"action": "restore"}),
    ]
    history = last_run(records)
    assert history is not None
    assert (history.run, history.finished, dict(history.completed), history.started) == (
        "r1",
        False,
        {"preflight": {"engine": "e"}},
        ("preflight", "snapshot"),
    )
    assert history.begin == records[2]
    assert history.notes == (records[7],)


def test_lock_is_taken_and_released(tmp_path: Path) -> None:
    lock = tmp_path / ".runlayer" / "update.lock"
    with hold_lock(lock, FakeClock()) as me:
        assert (
            LockHolder.parse(lock.read_text())
            == me
            == LockHolder(os.getpid(), socket.gethostname(), "2026-03-01T05:30:00+00:00")
        )
        with pytest.raises(UpdateError) as caught, hold_lock(lock):
            pass
        assert str(caught.value) == f"another update holds the lock {lock}: {me}"
    assert not lock.exists()


def test_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    lock = tmp_path / "update.lock"
    lock.write_text(
        LockHolder(int(dead.stdout), socket.gethostname(), "2026-01-01T00:00:00+00:00").to_json()
    )
    with hold_lock(lock) as me:
        assert me.pid == os.getpid()
    assert not lock.exists()


def test_a_lock_file_nobody_holds_is_free_whatever_it_names(tmp_path: Path) -> None:
    """The OS lock is the authority; the file's content only names the last holder."""
    lock = tmp_path / "update.lock"
    for stale in (LockHolder(1, "other-host", "2026-01-01T00:00:00+00:00").to_json(), "garbage"):
        lock.write_text(stale)
        with hold_lock(lock, FakeClock()) as me:
            assert LockHolder.parse(lock.read_text()) == me
        assert not lock.exists()


@pytest.mark.parametrize(
    "content",
    ["", LockHolder(2**22 + 1, socket.gethostname(), "2026-01-01T00:00:00+00:00").to_json()],
    ids=["empty", "dead-predecessor"],
)
def test_a_held_lock_that_names_nobody_yet(tmp_path: Path, content: str) -> None:
    """The loser can look between the winner's lock and its write of its name."""
    lock = tmp_path / "update.lock"
    lock.write_text(content)
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with pytest.raises(UpdateError) as caught, hold_lock(lock):
            pass
    finally:
        os.close(fd)
    assert str(caught.value) == (
        f"another update holds the lock {lock} (the lock file does not name its holder yet)"
    )


CONTENDER = """
import sys, time
from pathlib import Path
from runlayer_tf.errors import UpdateError
from runlayer_tf.update._journal import hold_lock

lock, go = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
try:
    with hold_lock(lock) as me:
        print("won", me.pid, flush=True)
        sys.stdin.read()  # hold until the test closes stdin
except UpdateError as err:
    print("refused:", err, flush=True)
"""


def _contender(lock: Path, go: Path) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CONTENDER, str(lock), str(go)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    return child


def _answer(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    return child.stdout.readline().rstrip("\n")


def _release(*children: subprocess.Popen[str]) -> None:
    for child in children:
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=30) == 0


@pytest.mark.parametrize("contenders", [2, 6])
def test_processes_racing_for_a_stale_lock_only_one_wins(tmp_path: Path, contenders: int) -> None:
    """All see a lock file left by a dead process; exactly one holds the lock, the others are told who does."""
    lock = tmp_path / "update.lock"
    lock.write_text(
        LockHolder(2**22 + 1, socket.gethostname(), "2026-01-01T00:00:00+00:00").to_json()
    )
    go = tmp_path / "go"
    children = [_contender(lock, go) for _ in range(contenders)]
    go.touch()
    answers = [_answer(child) for child in children]
    try:
        won = [a for a in answers if a.startswith("won ")]
        assert len(won) == 1, answers
        winner = LockHolder.parse(lock.read_text())
        assert won == [f"won {winner.pid}"]
        refusals = {
            f"refused: another update holds the lock {lock}: {winner}",
            f"refused: another update holds the lock {lock} (the lock file does not name its holder yet)",
        }
        assert [a for a in answers if a not in won and a not in refusals] == []
    finally:
        _release(*children)
    assert not lock.exists()


def test_the_loser_is_told_the_holder_and_a_killed_holder_frees_the_lock(tmp_path: Path) -> None:
    lock = tmp_path / "update.lock"
    go = tmp_path / "go"
    go.touch()
    holder = _contender(lock, go)
    loser = _contender(lock, go)
    try:
        assert _answer(holder) == f"won {holder.pid}"
        named = LockHolder.parse(lock.read_text())
        assert (named.pid, named.host) == (holder.pid, socket.gethostname())
        assert _answer(loser) == f"refused: another update holds the lock {lock}: {named}"
        assert loser.wait(timeout=30) == 0
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with hold_lock(lock, FakeClock()) as me:  # the kernel dropped the dead holder's lock
        assert LockHolder.parse(lock.read_text()) == me
    assert not lock.exists()


def test_without_fcntl_the_lock_is_an_exclusively_created_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The non-POSIX fallback: no take-over; the error says whether the holder is gone."""
    monkeypatch.setattr("runlayer_tf.update._journal.fcntl", None)
    lock = tmp_path / "update.lock"
    with hold_lock(lock, FakeClock()) as me:
        assert LockHolder.parse(lock.read_text()) == me
        with pytest.raises(UpdateError) as caught, hold_lock(lock):
            pass
        assert str(caught.value) == (
            f"another update holds the lock {lock}: {me}; remove it if no update is running"
        )
    assert not lock.exists()
    dead = LockHolder(2**22 + 1, socket.gethostname(), "2026-01-01T00:00:00+00:00")
    lock.write_text(dead.to_json())
    with pytest.raises(UpdateError) as caught, hold_lock(lock):
        pass
    assert str(caught.value) == (
        f"another update holds the lock {lock}: {dead}; that process is gone: remove the lock"
    )
