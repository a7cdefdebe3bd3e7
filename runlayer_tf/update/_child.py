"""Terraform as a child that runlayer-tf can lose without losing it.

runlayer-tf starts Terraform (:func:`spawn`) so that nothing the parent does,
or suffers, kills it by accident:

* its output goes to log files under ``.runlayer/`` (created exclusively,
  never through a symlink, mode 0600) that the parent follows line by line
  (:class:`Follower`), so a dying parent leaves no pipe for Terraform to get
  SIGPIPE/EPIPE on;
* it runs in its own session (no controlling terminal, its own process
  group), so a Ctrl-C on the terminal or a hang-up reaches runlayer-tf only;
  runlayer-tf forwards SIGINT (and SIGTERM, as SIGINT) to it once
  (:func:`forwarding_signals`), waits for it to stop gracefully, and only
  then acts on the signal itself;
* its pid and start time are journalled before the parent waits for it
  (:class:`Child`), so a ``--resume`` after the parent died can tell whether
  that Terraform is still running (:func:`still_running`) and wait for it
  (:func:`wait_for_exit`).

The start time is what makes a pid comparable later: on Linux the process's
``starttime`` (field 22 of ``/proc/PID/stat``, clock ticks since boot) with
the boot id, elsewhere ``ps -o lstart=`` (to the second).  A pid whose start
time differs is another process (the pid was reused).  When neither is
available the token is empty and a live pid counts as that Terraform.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import attrs

from runlayer_tf.errors import UpdateError
from runlayer_tf.update._journal import open_private

__all__ = [
    "Child",
    "ChildLogs",
    "Follower",
    "Forwarding",
    "create_log",
    "forwarding_signals",
    "spawn",
    "start_token",
    "still_running",
    "wait_for_exit",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_PROC = Path("/proc")


def _nothing(*_args: object) -> None:
    pass


@attrs.frozen
class Child:
    """One running Terraform as the journal records it (event ``child``)."""

    pid: int
    started: str  # the start token (see the module docstring); "" when unknown
    host: str
    argv: tuple[str, ...]
    log: str
    stderr_log: str

    @property
    def name(self) -> str:
        """``tofu apply (pid 123)``."""
        verb = f" {self.argv[1]}" if len(self.argv) > 1 else ""
        return f"{Path(self.argv[0]).name}{verb} (pid {self.pid})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "started": self.started,
            "host": self.host,
            "argv": list(self.argv),
            "log": self.log,
            "stderr_log": self.stderr_log,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Child:
        """The journal's ``child`` detail; raises ValueError saying what is wrong."""
        pid = raw.get("pid")
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            raise ValueError("child: 'pid' is not a positive integer")
        for key in ("started", "host", "log", "stderr_log"):
            if not isinstance(raw.get(key), str):
                raise ValueError(f"child: {key!r} is not a string")
        argv = raw.get("argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("child: 'argv' is not a non-empty list of strings")
        return cls(pid, raw["started"], raw["host"], tuple(argv), raw["log"], raw["stderr_log"])


@attrs.frozen
class ChildLogs:
    """Where :func:`run_command <runlayer_tf.update.run_command>` puts a child's output, and whom it tells.

    Log files are ``DIRECTORY/PREFIX.NN.VERB.log`` (stdout) and
    ``....stderr.log``, NN the first number free.  ``on_start`` gets the
    :class:`Child` once it runs (the runbook journals it); ``on_note`` gets
    runlayer-tf's own lines about it (a forwarded Ctrl-C).
    """

    directory: Path
    prefix: str
    on_start: Callable[[Child], None] = _nothing
    on_note: Callable[[str], None] = _nothing


def create_log(directory: Path, prefix: str, verb: str) -> tuple[Path, int, Path, int]:
    """Create a new pair of log files (stdout, stderr) for writing: exclusively, mode 0600, no symlink.

    Returns ``(stdout path, fd, stderr path, fd)``; raises UpdateError.
    """
    for number in range(1, 1000):
        base = directory / f"{prefix}.{number:02d}.{verb}"
        out_path, err_path = (
            base.with_name(base.name + ".log"),
            base.with_name(base.name + ".stderr.log"),
        )
        try:
            out = _create(out_path)
        except FileExistsError:
            continue
        try:
            err = _create(err_path)
        except FileExistsError:
            os.close(out)
            continue
        return out_path, out, err_path, err
    raise UpdateError(f"cannot create a log file in {directory}: 999 already exist for {prefix}")


def _create(path: Path) -> int:
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | _NOFOLLOW
    try:
        return os.open(path, flags, 0o600)
    except FileExistsError:
        raise
    except OSError as err:
        raise UpdateError(f"cannot create {path}: {err.strerror or err}") from err


class Follower:
    """Reads a growing log file line by line (what ``tail -f`` does), from where it was opened."""

    def __init__(
        self,
        path: Path,
        stream: str,
        on_line: Callable[[str, str], None],
        *,
        from_end: bool = False,
    ) -> None:
        self._fd = open_private(path, os.O_RDONLY)
        self._offset = os.fstat(self._fd).st_size if from_end else 0
        self._stream = stream
        self._on_line = on_line
        self._partial = b""

    def poll(self) -> None:
        """Hand every complete new line to ``on_line``."""
        while chunk := os.pread(self._fd, 65536, self._offset):
            self._offset += len(chunk)
            *lines, self._partial = (self._partial + chunk).split(b"\n")
            for line in lines:
                self._on_line(self._stream, line.decode("utf-8", errors="replace"))

    def close(self, *, emit: bool = True) -> None:
        """Read what is left, the last line even without its newline (unless not ``emit``), and close."""
        try:
            if emit:
                self.poll()
                if self._partial:
                    self._on_line(self._stream, self._partial.decode("utf-8", errors="replace"))
                    self._partial = b""
        finally:
            os.close(self._fd)


# --------------------------------------------------------------------------- identity


def start_token(pid: int) -> str:
    """What identifies ``pid``'s process over time: ``linux:BOOT_ID:TICKS``, ``ps:LSTART`` or ""."""
    fields = _proc_stat(pid)
    if fields is not None:
        try:
            boot = (_PROC / "sys/kernel/random/boot_id").read_text().strip()
        except OSError:
            boot = ""
        return f"linux:{boot}:{fields[19]}" if len(fields) > 19 else ""
    if _PROC.joinpath("self/stat").exists():
        return ""  # Linux, and the process is gone
    lstart = _ps(pid, "lstart=")
    return f"ps:{lstart}" if lstart else ""


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), None when missing."""
    try:
        text = (_PROC / str(pid) / "stat").read_text(errors="replace")
    except OSError:
        return None
    return text[text.rfind(")") + 1 :].split()


def _ps(pid: int, field: str) -> str:
    env = {**os.environ, "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["ps", "-o", field, "-p", str(pid)],
            capture_output=True,
            text=True,
            env=env,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return " ".join(done.stdout.split()) if done.returncode == 0 else ""


def still_running(child: Child) -> bool | None:
    """Whether ``child`` (the very process, not a reuse of its pid) still runs; None: another host."""
    if child.host != socket.gethostname():
        return None
    fields = _proc_stat(child.pid)
    if fields is not None:
        if fields[0] in ("Z", "X"):  # exited, not yet reaped (its parent is gone)
            return False
    else:
        try:
            os.kill(child.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        if _ps(child.pid, "stat=").startswith("Z"):
            return False
    if not child.started:
        return True
    return start_token(child.pid) == child.started


def wait_for_exit(
    child: Child,
    *,
    timeout: float,
    on_line: Callable[[str, str], None] = _nothing,
    on_status: Callable[[str], None] = _nothing,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    interval: float = 0.2,
) -> float:
    """Wait until ``child`` has exited, following its output; the seconds waited.

    Raises UpdateError naming the pid when it still runs after ``timeout``
    seconds (at once for 0).
    """
    followers = []
    for path, stream in ((child.log, "stdout"), (child.stderr_log, "stderr")):
        with contextlib.suppress(OSError, UpdateError):
            followers.append(Follower(Path(path), stream, on_line, from_end=True))
    start = monotonic()
    try:
        while still_running(child):
            waited = monotonic() - start
            if waited >= timeout:
                raise UpdateError(
                    f"{child.name}, started by the interrupted run, is still running"
                    + (f" after {waited:.0f}s" if timeout else "")
                    + f" (its output: {child.log}); wait for it to finish, or stop it with "
                    f"kill -INT {child.pid}, then --resume again"
                )
            on_status(
                f"waiting for {child.name} of the interrupted run to exit: "
                f"{waited:.0f}s of {timeout:.0f}s; its output: {child.log}"
            )
            for follower in followers:
                follower.poll()
            sleep(interval)
    finally:
        for follower in followers:
            follower.close()
    return monotonic() - start


# --------------------------------------------------------------------------- signals

_FORWARDED = (signal.SIGINT, signal.SIGTERM)
_Handler = Callable[[int, FrameType | None], Any] | int | None


@attrs.define
class Forwarding:
    """What :func:`forwarding_signals` saw: the first signal (held back) and how many came after."""

    pid: int | None = None
    received: int | None = None
    repeats: int = 0
    previous: dict[int, _Handler] = attrs.field(factory=dict)

    def attach(self, pid: int) -> None:
        """The child to forward to, once started (a signal that came before goes to it now)."""
        self.pid = pid
        if self.received is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)

    def deliver(self) -> None:
        """Act on the held-back signal as runlayer-tf would have: its previous handler, now."""
        if self.received is None:
            return
        handler = self.previous.get(self.received, signal.SIG_DFL)
        if callable(handler):
            handler(self.received, None)  # SIGINT: raises KeyboardInterrupt
        elif handler == signal.SIG_DFL:
            signal.signal(self.received, signal.SIG_DFL)
            os.kill(os.getpid(), self.received)


@contextlib.contextmanager
def forwarding_signals(pid: int | None = None) -> Iterator[Forwarding]:
    """While the block runs, SIGINT/SIGTERM are forwarded once to ``pid`` as SIGINT and held back.

    Entered before the child starts (``pid`` None), a signal is held until
    :meth:`Forwarding.attach` names the child, so none falls between the
    child's start and the handlers.

    Terraform stops gracefully on SIGINT (it finishes or cancels what it is
    doing and saves the state).  A second signal is not forwarded (a second
    SIGINT makes Terraform stop at once, losing state); the caller says so.
    Call :meth:`Forwarding.deliver` after the child has exited.  Outside the
    main thread signals cannot be handled, and nothing is changed.
    """
    state = Forwarding(pid)
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def forward(signum: int, _frame: FrameType | None) -> None:
        if state.received is None:
            state.received = signum
            if state.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(state.pid, signal.SIGINT)
        else:
            state.repeats += 1

    for signum in _FORWARDED:
        handler = signal.getsignal(signum)
        if handler in (signal.SIG_IGN, None):
            continue
        state.previous[signum] = handler
        signal.signal(signum, forward)
    try:
        yield state
    finally:
        for held, previous in state.previous.items():
            signal.signal(held, previous)


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdout: int, stderr: int
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session, output to the given fds, no stdin; raises OSError."""
    return subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
    )
