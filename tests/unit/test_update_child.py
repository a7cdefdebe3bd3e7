"""Terraform as a child that cannot be orphaned or silently killed (``update/_child.py``).

Real child processes (the Python interpreter standing in for Terraform): log
files instead of pipes, its own session, signals forwarded once and acted on
after it exits, pid and start time, a zombie, waiting for a lost child.  Then
the runbook over the fakes: child records in the journal, a held state lock
and a failed plan after an interrupted apply leave the run unfinished.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from runlayer_tf.errors import StateLockedError, TerraformError, UpdateError
from runlayer_tf.update._child import (
    Child,
    ChildLogs,
    forwarding_signals,
    start_token,
    still_running,
    wait_for_exit,
)
from runlayer_tf.update._journal import Journal, last_run, read_journal
from runlayer_tf.update._runbook import run_update
from runlayer_tf.update._terraform import run_command
from tests.unit.test_update_runbook import VARS_NEW, World, steps


@pytest.fixture(autouse=True)
def _sigint_handled():
    """Python's own SIGINT handler, whatever the test process inherited.

    A process started in the background by a shell without job control inherits SIGINT
    ignored, and Python then leaves it ignored; runlayer-tf then rightly forwards nothing.
    These tests are about a SIGINT that is handled, so they install the handler themselves.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


class Seen:
    """The callbacks of one run_command: lines, children started, notes."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.children: list[Child] = []
        self.notes: list[str] = []
        self.ready = threading.Event()

    def line(self, stream: str, text: str) -> None:
        self.lines.append((stream, text))
        if text == "ready":
            self.ready.set()

    def logs(self, directory: Path) -> ChildLogs:
        return ChildLogs(directory, "run-1", self.children.append, self.notes.append)


def test_output_goes_to_private_log_files_followed_line_by_line(tmp_path: Path) -> None:
    seen = Seen()
    code = (
        "import os, stat, sys\n"
        "print('regular' if stat.S_ISREG(os.fstat(1).st_mode) else 'a pipe', flush=True)\n"
        "print('err1', file=sys.stderr)\n"
        "sys.stdout.write('no newline at the end')\n"
    )
    result = run_command(
        [*_python(code)], cwd=tmp_path, on_line=seen.line, logs=seen.logs(tmp_path)
    )
    assert result.stdout == "regular\nno newline at the end"
    assert result.stderr_tail == ("err1",)
    assert sorted(seen.lines) == [
        ("stderr", "err1"),
        ("stdout", "no newline at the end"),
        ("stdout", "regular"),
    ]
    [child] = seen.children
    assert (Path(child.log), Path(child.stderr_log)) == (
        tmp_path / "run-1.01.run.log",
        tmp_path / "run-1.01.run.stderr.log",
    )
    assert Path(child.log).read_text() == "regular\nno newline at the end"
    assert Path(child.stderr_log).read_text() == "err1\n"
    for path in (child.log, child.stderr_log):
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    assert (child.argv, child.host) == (tuple(_python(code)), socket.gethostname())
    assert child.started.startswith("linux:")  # this suite runs on Linux
    # The next command gets new files, never the old ones.
    run_command(_python("print(1)"), cwd=tmp_path, on_line=seen.line, logs=seen.logs(tmp_path))
    assert Path(seen.children[1].log).name == "run-1.02.run.log"


def test_a_symlink_planted_at_a_log_name_is_never_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (tmp_path / "run-1.01.apply.log").symlink_to(victim)
    tofu = tmp_path / "tofu"
    tofu.write_text(f"#!{sys.executable}\nprint('x')\n")
    tofu.chmod(0o755)
    seen = Seen()
    run_command([str(tofu), "apply"], cwd=tmp_path, on_line=seen.line, logs=seen.logs(tmp_path))
    assert victim.read_text() == "keep me\n"
    assert Path(seen.children[0].log).name == "run-1.02.apply.log"


def test_the_child_runs_in_its_own_session_without_a_terminal(tmp_path: Path) -> None:
    code = "import os; print(os.getpid(), os.getsid(0), os.getpgrp())"
    result = run_command(_python(code), cwd=tmp_path, on_line=lambda s, line: None)
    pid, session, group = map(int, result.stdout.split())
    assert session == group == pid
    assert session != os.getsid(0)
    assert group != os.getpgrp()


def test_without_logs_the_temporary_log_directory_is_removed(tmp_path: Path) -> None:
    seen = Seen()
    run_command(
        _python("print(1)"),
        cwd=tmp_path,
        on_line=seen.line,
        logs=None,
    )
    assert seen.lines == [("stdout", "1")]
    assert list(tmp_path.iterdir()) == []


_TRAPS_SIGINT = (
    "import signal, sys, time\n"
    "got = []\n"
    "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
    "print('ready', flush=True)\n"
    "deadline = time.monotonic() + 2\n"
    "while time.monotonic() < deadline: time.sleep(0.01)\n"
    "print(f'SIGINT x{len(got)}', flush=True)\n"
    "sys.exit(1)\n"
)


def _signal_when_ready(seen: Seen, *signums: int) -> threading.Thread:
    def send() -> None:
        assert seen.ready.wait(30)
        for signum in signums:
            os.kill(os.getpid(), signum)
            time.sleep(0.2)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_is_forwarded_once_and_raised_after_the_child_exits(tmp_path: Path) -> None:
    """Two Ctrl-C: the child gets one SIGINT; KeyboardInterrupt comes after it exited, not a failure."""
    seen = Seen()
    sender = _signal_when_ready(seen, signal.SIGINT, signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_command(
            [*_python(_TRAPS_SIGINT), "apply"],
            cwd=tmp_path,
            on_line=seen.line,
            logs=seen.logs(tmp_path),
        )
    sender.join()
    assert ("stdout", "SIGINT x1") in seen.lines  # it ran to its end: the exception waited
    [child] = seen.children
    assert not still_running(child)
    assert seen.notes == [
        f"interrupted: forwarded SIGINT once to {child.name}; waiting for it to stop "
        f"gracefully (it saves its state); its output: {child.log}",
        f"still waiting for {child.name} to stop; another Ctrl-C is not forwarded "
        f"(a second SIGINT makes it stop at once and may lose state): kill -INT {child.pid}",
    ]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_before_the_child_started_is_forwarded_when_it_is_attached() -> None:
    with forwarding_signals() as signals:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 10
        while signals.received is None:  # the handler runs in this (the main) thread
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc = subprocess.Popen(_python(_TRAPS_SIGINT), stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        signals.attach(proc.pid)
        assert proc.stdout.read() == "SIGINT x1\n"
        proc.wait()
    with pytest.raises(KeyboardInterrupt):
        signals.deliver()


class Terminated(Exception):
    pass


def test_sigterm_is_forwarded_as_sigint_and_handed_to_the_previous_handler(
    tmp_path: Path,
) -> None:
    def on_term(signum: int, frame: Any) -> None:
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        seen = Seen()
        sender = _signal_when_ready(seen, signal.SIGTERM)
        with pytest.raises(Terminated):
            run_command(_python(_TRAPS_SIGINT), cwd=tmp_path, on_line=seen.line)
        sender.join()
        assert ("stdout", "SIGINT x1") in seen.lines
        assert signal.getsignal(signal.SIGTERM) is on_term
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_default_sigterm_kills_runlayer_tf_only_after_the_child_stopped(tmp_path: Path) -> None:
    """Without a SIGTERM handler (Python's default), runlayer-tf still dies of SIGTERM, but last."""
    marker = tmp_path / "child-finished"
    child = _TRAPS_SIGINT.replace("sys.exit(1)", f"open({str(marker)!r}, 'w').write('x')")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from runlayer_tf.update._terraform import run_command\n"
        f"run_command([sys.executable, '-c', {child!r}], cwd=Path({str(tmp_path)!r}),\n"
        "    on_line=lambda s, line: print(line, flush=True))\n"
        "print('not reached', flush=True)\n"
    )
    proc = subprocess.Popen(_python(code), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    rest = proc.stdout.read()
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert rest == "SIGINT x1\n"  # the child got SIGINT once and ran to its end first
    assert marker.exists()


def test_an_error_in_a_callback_stops_the_child_and_waits(tmp_path: Path) -> None:
    def explode(stream: str, line: str) -> None:
        raise RuntimeError("display broke")

    seen = Seen()
    with pytest.raises(RuntimeError, match="display broke"):
        run_command(_python(_TRAPS_SIGINT), cwd=tmp_path, on_line=explode, logs=seen.logs(tmp_path))
    [child] = seen.children
    assert not still_running(child)
    assert Path(child.log).read_text() == "ready\nSIGINT x1\n"


_LOCKED = """
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        0de38cc3-43de-f4cc-5a69-372a5336a562
  Path:      terraform.tfstate
  Operation: OperationTypeApply
  Who:       ops@bastion
  Version:   1.12.6
  Created:   2026-12-02 00:28:35.247391781 +0000 UTC
  Info:

OpenTofu acquires a state lock to protect the state from being written
by multiple users at the same time. Please resolve the issue above and try
again. For most commands, you can disable locking with the "-lock=false"
flag, but this is not recommended.
"""


def test_a_held_state_lock_is_its_own_error_naming_the_lock(tmp_path: Path) -> None:
    tofu = tmp_path / "tofu"
    tofu.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write({_LOCKED!r})\nsys.exit(1)\n")
    tofu.chmod(0o755)
    with pytest.raises(StateLockedError) as caught:
        run_command([str(tofu), "plan"], cwd=tmp_path, on_line=lambda s, line: None)
    assert str(caught.value) == (
        "the Terraform state is locked (lock 0de38cc3-43de-f4cc-5a69-372a5336a562 on "
        "terraform.tfstate held by ops@bastion for apply since 2026-12-02 00:28:35.247391781 "
        "+0000 UTC): another Terraform holds it; wait for it to finish, and run "
        "`tofu force-unlock 0de38cc3-43de-f4cc-5a69-372a5336a562` only if you are sure no "
        "Terraform is running on this state"
    )
    assert isinstance(caught.value, TerraformError)


# --------------------------------------------------------------------------- identity and waiting


def _child(pid: int, **changes: Any) -> Child:
    fields: dict[str, Any] = {
        "pid": pid,
        "started": start_token(pid),
        "host": socket.gethostname(),
        "argv": ("tofu", "apply"),
        "log": "/nonexistent/a.log",
        "stderr_log": "/nonexistent/a.stderr.log",
    }
    fields.update(changes)
    return Child(**fields)


def test_pid_and_start_time_tell_a_running_child_from_a_reused_pid() -> None:
    me = _child(os.getpid())
    assert still_running(me) is True
    assert still_running(attrs.evolve(me, started="linux:other-boot:1")) is False
    assert still_running(attrs.evolve(me, started="")) is True  # unknown: the pid alone
    assert still_running(_child(2**22 + 1)) is False  # above any pid_max
    assert still_running(attrs.evolve(me, host="another-host")) is None


def test_an_exited_child_nobody_reaped_is_not_running() -> None:
    proc = subprocess.Popen(_python("print(1)"), stdout=subprocess.DEVNULL)
    child = _child(proc.pid)
    deadline = time.monotonic() + 30
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    try:
        assert still_running(child) is False  # a zombie: exited, its parent has not waited yet
    finally:
        proc.wait()


def test_waiting_for_a_lost_child_follows_its_log_and_ends_when_it_exits(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("old line\n")
    log.chmod(0o600)
    err = tmp_path / "x.stderr.log"
    err.write_text("")
    code = f"import time\ntime.sleep(0.5)\nopen({str(log)!r}, 'a').write('new line\\n')\n"
    proc = subprocess.Popen(_python(code))
    lines: list[tuple[str, str]] = []
    statuses: list[str] = []
    try:
        child = _child(proc.pid, log=str(log), stderr_log=str(err))
        waited = wait_for_exit(
            child, timeout=60, on_line=lambda s, t: lines.append((s, t)), on_status=statuses.append
        )
    finally:
        proc.wait()
    assert waited >= 0.4
    assert lines == [("stdout", "new line")]
    assert statuses[0] == (
        f"waiting for {child.name} of the interrupted run to exit: 0s of 60s; its output: {log}"
    )


def test_waiting_refuses_naming_the_pid_after_the_timeout() -> None:
    proc = subprocess.Popen(_python("import time; time.sleep(30)"))
    try:
        child = _child(proc.pid)
        with pytest.raises(UpdateError) as at_once:
            wait_for_exit(child, timeout=0)
        started = time.monotonic()
        with pytest.raises(UpdateError) as later:
            wait_for_exit(child, timeout=0.3, interval=0.05)
        assert time.monotonic() - started >= 0.3
    finally:
        proc.kill()
        proc.wait()
    assert str(at_once.value) == (
        f"tofu apply (pid {proc.pid}), started by the interrupted run, is still running "
        f"(its output: /nonexistent/a.log); wait for it to finish, or stop it with "
        f"kill -INT {proc.pid}, then --resume again"
    )
    assert "is still running after 0s (its output: " in str(later.value)


# --------------------------------------------------------------------------- the journal


def _journal_with(tmp_path: Path, detail: dict[str, Any]) -> Path:
    path = tmp_path / "update.jsonl"
    record = {"ts": "t", "run": "r", "event": "child", "step": "apply", "detail": detail}
    path.write_text(json.dumps(record) + "\n")
    path.chmod(0o600)
    return path


def test_child_records_are_checked_and_old_journals_have_none(tmp_path: Path) -> None:
    good = _child(4242).to_dict()
    [record] = read_journal(_journal_with(tmp_path, good))
    assert Child.from_dict(record.detail) == _child(4242)
    history = last_run([record])
    assert history is not None
    assert history.children == (record,)
    for broken, why in [
        ({**good, "pid": "4242"}, "'pid' is not a positive integer"),
        ({**good, "pid": True}, "'pid' is not a positive integer"),
        ({**good, "argv": []}, "'argv' is not a non-empty list of strings"),
        ({k: v for k, v in good.items() if k != "log"}, "'log' is not a string"),
    ]:
        path = _journal_with(tmp_path, broken)
        with pytest.raises(UpdateError) as caught:
            read_journal(path)
        assert str(caught.value) == f"journal {path} line 1 is not a journal record: child: {why}"
    journal = Journal(tmp_path / "old.jsonl")
    journal.append("r", "start", step="apply")
    old = last_run(read_journal(journal.path))
    assert old is not None
    assert (old.children, old.interrupted("apply"), old.interrupted("plan")) == ((), True, False)


# --------------------------------------------------------------------------- the runbook


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _records(world: World) -> list[Any]:
    return read_journal(world.workdir / ".runlayer" / "update.jsonl")


def test_every_terraform_is_journalled_with_its_step(world: World) -> None:
    report = world.run()
    assert report.outcome == "succeeded"
    children = [r for r in _records(world) if r.event == "child"]
    assert [(r.step, r.detail["argv"][1]) for r in children] == [
        ("preflight", "init"),
        ("plan", "plan"),
        ("apply", "apply"),
    ]
    # Each right after its step's start: before runlayer-tf waits for it.
    events = [(r.event, r.step) for r in _records(world)]
    for record in children:
        assert events[events.index(("child", record.step)) - 1] == ("start", record.step)


def _locked_once(world: World, verb: str) -> Any:
    locked = [True]

    def runner(argv: Any, **kw: Any) -> Any:
        if argv[1] == verb and locked:
            locked.pop()
            raise StateLockedError("the Terraform state is locked (lock L1): another Terraform")
        return world.tf(argv, **kw)

    return runner


@pytest.mark.parametrize("verb", ["plan", "apply"])
def test_a_held_state_lock_leaves_the_run_unfinished_and_resumable(world: World, verb: str) -> None:
    deps = attrs.evolve(world.deps(), terraform_runner=_locked_once(world, verb))
    report = run_update(world.spec, deps)
    assert (report.outcome, report.exit_code) == ("unfinished", 1)
    assert report.steps[-1].name == verb
    assert report.steps[-1].status == "failed"
    assert report.message.startswith(
        f"update backend_version=v1.3.0 is unfinished: stopped at {verb}: the Terraform state is "
        "locked (lock L1): another Terraform; nothing was restored or rolled back; "
    )
    assert report.message.endswith("once that is resolved, run the same command with --resume")
    assert world.var_file.read_text() == VARS_NEW  # not restored
    assert ("finish", None) not in [(e, s) for e, s, _ in world.journal()]
    assert world.tf.applied == []
    resumed = run_update(attrs.evolve(world.spec, resume=True), deps)
    assert resumed.outcome == "succeeded"
    assert world.tf.applied == ["v1.3.0"]


def test_a_failed_plan_after_an_interrupted_apply_is_unknown_never_nothing_applied(
    world: World,
) -> None:
    """Killed in apply; the resumed plan fails: the outcome is unknown, the var-file is kept."""
    world.tf.kill_on.add("apply")
    with pytest.raises(Exception, match="killed during apply"):
        world.run()
    world.tf.fail_next("plan", True)
    report = world.run(resume=True)
    assert (report.outcome, report.exit_code) == ("unfinished", 1)
    assert "the interrupted apply's outcome is unknown until a plan succeeds" in report.message
    assert "nothing was applied" not in report.message
    assert world.var_file.read_text() == VARS_NEW
    messages = [str(r.detail.get("message", "")) for r in _records(world)]
    assert not any("nothing was applied" in m for m in messages)
    report = world.run(resume=True)
    assert report.outcome == "succeeded"
    plan = next(s for s in report.steps if s.name == "plan")
    assert plan.message == (
        "the interrupted apply's outcome was unknown until this plan; "
        "plan has changes: the interrupted apply did not finish them"
    )
    assert world.journal()[-len(steps("apply", "verify")) - 1 :] == [
        *steps("apply", "verify"),
        ("finish", None, "succeeded"),
    ]
