"""Terraform/OpenTofu: a pure argv builder and the one place that runs the binary.

:func:`build_argv` turns a typed command value into an argument vector and does
nothing else, so the exact command lines are tested by a table and shown by
``--dry-run``.  :func:`run_command` is the only place Terraform is started: no
shell, typed keyword-only arguments, output written to log files and followed
line by line to a callback (see :mod:`._child`: the child cannot be killed
through runlayer-tf), and a failure carries the tail of stderr (a held state
lock is a :class:`~runlayer_tf.errors.StateLockedError` naming the lock).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol

import attrs

from runlayer_tf.errors import ConfigError, StateLockedError, TerraformError
from runlayer_tf.update._child import (
    Child,
    ChildLogs,
    Follower,
    Forwarding,
    create_log,
    forwarding_signals,
    spawn,
    start_token,
)

__all__ = [
    "Apply",
    "Init",
    "Plan",
    "RunResult",
    "Runner",
    "Terraform",
    "TerraformCommand",
    "Tool",
    "build_argv",
    "find_binary",
    "managing_tool",
    "run_command",
    "tool_of",
]

STDERR_TAIL_LINES = 20


@attrs.frozen
class Init:
    """``init -input=false -no-color``."""


@attrs.frozen
class Plan:
    """``plan -out=FILE`` with variables and var-files, non-interactive, detailed exit code."""

    plan_file: str
    variables: tuple[tuple[str, str], ...] = ()
    var_files: tuple[str, ...] = ()


@attrs.frozen
class Apply:
    """``apply`` of a saved plan file (never an unreviewed, unsaved plan)."""

    plan_file: str


TerraformCommand = Init | Plan | Apply


def build_argv(binary: str, command: TerraformCommand) -> tuple[str, ...]:
    """The argument vector for ``command`` run with ``binary``; pure."""
    if isinstance(command, Init):
        return (binary, "init", "-input=false", "-no-color")
    if isinstance(command, Plan):
        args = [
            binary,
            "plan",
            "-input=false",
            "-no-color",
            "-detailed-exitcode",
            f"-out={command.plan_file}",
        ]
        args += [f"-var-file={path}" for path in command.var_files]
        args += [f"-var={name}={value}" for name, value in command.variables]
        return tuple(args)
    return (binary, "apply", "-input=false", "-no-color", "-auto-approve", command.plan_file)


def find_binary(name_or_path: str) -> str:
    """Resolve ``tofu``, ``terraform`` or a path to an executable; raises ConfigError."""
    if os.sep in name_or_path:
        path = Path(name_or_path)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        raise ConfigError(f"Terraform binary {name_or_path} is not an executable file")
    found = shutil.which(name_or_path)
    if found is None:
        raise ConfigError(
            f"Terraform binary {name_or_path!r} is not on PATH; pass --terraform PATH"
        )
    return found


ToolName = Literal["tofu", "terraform"]
_REGISTRY_TOOLS: Mapping[str, ToolName] = {
    "registry.opentofu.org": "tofu",
    "registry.terraform.io": "terraform",
}
_LOCKED_PROVIDER = re.compile(r'^\s*provider\s+"([^"/]+)/', re.MULTILINE)


@attrs.frozen
class Tool:
    """The binary that manages a root (``tofu`` or ``terraform``) and what says so."""

    name: ToolName
    evidence: str


def managing_tool(workdir: Path) -> Tool | None:
    """The binary that initialised ``workdir``, from its ``.terraform.lock.hcl`` provider hosts.

    ``init`` records each provider under the registry host it came from:
    ``registry.opentofu.org`` for OpenTofu, ``registry.terraform.io`` for
    Terraform; running the other binary rewrites the lock file (and the
    state's ``terraform_version``).  None when there is no lock file, it
    names no provider, or it names both hosts.
    """
    try:
        text = (workdir / ".terraform.lock.hcl").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    hosts = {h.lower() for h in _LOCKED_PROVIDER.findall(text)}
    tools = {_REGISTRY_TOOLS[h] for h in hosts if h in _REGISTRY_TOOLS}
    if len(tools) != 1:
        return None
    (name,) = tools
    host = next(h for h, t in _REGISTRY_TOOLS.items() if t == name)
    return Tool(name, f"{workdir / '.terraform.lock.hcl'} names providers from {host}")


def tool_of(binary: str) -> ToolName | None:
    """``tofu`` or ``terraform`` from a binary's name (``/opt/bin/terraform-1.9`` is terraform); None if unknown."""
    base = Path(binary).name.lower()
    if base.startswith(("tofu", "opentofu")):
        return "tofu"
    if base.startswith("terraform"):
        return "terraform"
    return None


@attrs.frozen
class RunResult:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr_tail: tuple[str, ...]


LineSink = Callable[[str, str], None]
"""Receives ``(stream, line)`` with ``stream`` in {"stdout", "stderr"}, without the newline."""

_FOLLOW_INTERVAL = 0.05


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    on_line: LineSink,
    ok_codes: frozenset[int] = frozenset({0}),
    env: Mapping[str, str] | None = None,
    logs: ChildLogs | None = None,
) -> RunResult:
    """Run ``argv`` in ``cwd`` without a shell, streaming each output line to ``on_line``.

    The child cannot be killed through runlayer-tf (see :mod:`._child`): its
    output goes to log files (in ``logs.directory``, else a private temporary
    directory removed afterwards) that are followed line by line, it runs in
    its own session, and SIGINT/SIGTERM are forwarded to it once while
    runlayer-tf waits for it; the held-back signal is acted on after it exits.

    Raises StateLockedError when Terraform could not acquire the state lock,
    TerraformError (carrying the tail of stderr) when the exit code is not in
    ``ok_codes`` or the binary cannot be started.
    """
    merged = dict(os.environ if env is None else env)
    merged.setdefault("TF_IN_AUTOMATION", "1")
    merged.setdefault("TF_INPUT", "0")
    with contextlib.ExitStack() as cleanup:
        if logs is None:
            temporary = Path(tempfile.mkdtemp(prefix="runlayer-tf-"))
            cleanup.callback(shutil.rmtree, temporary, ignore_errors=True)
            logs = ChildLogs(temporary, "run")
        verb = argv[1] if len(argv) > 1 and argv[1].isalnum() else "run"
        out_path, out_fd, err_path, err_fd = create_log(logs.directory, logs.prefix, verb)
        # Handlers first: no Ctrl-C can fall between the child's start and them.
        signals = cleanup.enter_context(forwarding_signals())
        proc: subprocess.Popen[bytes] | None = None
        try:
            if signals.received is None:  # interrupted before it started: do not start it
                proc = spawn(argv, cwd=cwd, env=merged, stdout=out_fd, stderr=err_fd)
        except OSError as err:
            raise TerraformError(f"cannot run {argv[0]}: {err.strerror or err}") from err
        finally:
            os.close(out_fd)
            os.close(err_fd)
        if proc is not None:
            signals.attach(proc.pid)
            result, lock = _follow(proc, tuple(argv), (out_path, err_path), on_line, logs, signals)
    signals.deliver()  # the handlers are restored: act on a held-back signal as runlayer-tf would
    if proc is None:
        raise TerraformError(f"{Path(argv[0]).name} {verb} was not started: interrupted")
    if lock.seen and result.returncode != 0:
        raise StateLockedError(lock.message(Path(argv[0]).name))
    if result.returncode not in ok_codes:
        raise TerraformError(_failure_message(result))
    return result


def _follow(
    proc: subprocess.Popen[bytes],
    argv: tuple[str, ...],
    paths: tuple[Path, Path],
    on_line: LineSink,
    logs: ChildLogs,
    signals: Forwarding,
) -> tuple[RunResult, _LockInfo]:
    """Follow the running child's logs until it exits; see :func:`run_command`."""
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    stdout_lines: list[str] = []
    lock = _LockInfo()
    child = Child(proc.pid, start_token(proc.pid), socket.gethostname(), argv, *map(str, paths))

    def line(stream: str, text: str) -> None:
        if stream == "stdout":
            stdout_lines.append(text)
        else:
            tail.append(text)
            lock.feed(text)
        on_line(stream, text)

    followers = [Follower(paths[0], "stdout", line), Follower(paths[1], "stderr", line)]
    failed = False
    try:
        logs.on_start(child)
        noted: tuple[int | None, int] = (None, 0)
        while proc.poll() is None:
            for follower in followers:
                follower.poll()
            if (signals.received, signals.repeats) != noted:
                noted = (signals.received, signals.repeats)
                logs.on_note(_signal_note(child, signals.repeats))
            time.sleep(_FOLLOW_INTERVAL)
    except BaseException:
        # Leaving for another reason (an error in a callback): never silently,
        # and never with the child still running.
        failed = True
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGINT)
            proc.wait()
        raise
    finally:
        for follower in followers:
            follower.close(emit=not failed)
    return RunResult(argv, proc.returncode, "\n".join(stdout_lines), tuple(tail)), lock


def _signal_note(child: Child, repeats: int) -> str:
    if repeats == 0:
        return (
            f"interrupted: forwarded SIGINT once to {child.name}; waiting for it to stop "
            f"gracefully (it saves its state); its output: {child.log}"
        )
    return (
        f"still waiting for {child.name} to stop; another Ctrl-C is not forwarded "
        f"(a second SIGINT makes it stop at once and may lose state): kill -INT {child.pid}"
    )


class _LockInfo:
    """Reads Terraform's "Error acquiring the state lock" report and its ``Lock Info:`` block."""

    _FIELDS = ("ID", "Path", "Operation", "Who", "Created")

    def __init__(self) -> None:
        self.seen = False
        self.fields: dict[str, str] = {}

    def feed(self, line: str) -> None:
        if "Error acquiring the state lock" in line:
            self.seen = True
            return
        if self.seen:
            key, colon, value = line.strip().partition(":")
            if colon and key in self._FIELDS and key not in self.fields and value.strip():
                self.fields[key] = value.strip()

    def message(self, binary: str) -> str:
        info = self.fields
        lock_id = info.get("ID")
        operation = info.get("Operation", "").removeprefix("OperationType").lower()
        held = [
            f"lock {lock_id}" if lock_id else "a lock",
            f"on {info['Path']}" if "Path" in info else "",
            f"held by {info['Who']}" if "Who" in info else "",
            f"for {operation}" if operation else "",
            f"since {info['Created']}" if "Created" in info else "",
        ]
        unlock = f"{binary} force-unlock {lock_id or 'LOCK_ID'}"
        return (
            f"the Terraform state is locked ({' '.join(h for h in held if h)}): another "
            f"Terraform holds it; wait for it to finish, and run `{unlock}` only if you are "
            "sure no Terraform is running on this state"
        )


def _failure_message(result: RunResult) -> str:
    verb = " ".join(result.argv[1:2])
    tail = " | ".join(line.strip() for line in result.stderr_tail if line.strip())
    return f"{Path(result.argv[0]).name} {verb} exited {result.returncode}" + (
        f": {tail}" if tail else ""
    )


class Runner(Protocol):
    """The seam :class:`Terraform` runs commands through; :func:`run_command` is the real one."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        on_line: LineSink,
        ok_codes: frozenset[int] = frozenset({0}),
        env: Mapping[str, str] | None = None,
        logs: ChildLogs | None = None,
    ) -> RunResult: ...


def _ignore(stream: str, line: str) -> None:
    pass


@attrs.frozen
class Terraform:
    """One Terraform root directory driven with one binary."""

    binary: str
    workdir: Path
    runner: Runner = run_command
    on_line: LineSink = _ignore
    # Where each command's output goes and who hears of the child (None: a temporary place).
    logs: ChildLogs | None = None

    def argv(self, command: TerraformCommand) -> tuple[str, ...]:
        return build_argv(self.binary, command)

    def init(self) -> None:
        self._run(Init())

    def _run(self, command: TerraformCommand, ok_codes: frozenset[int] = frozenset({0})) -> int:
        result = self.runner(
            self.argv(command),
            cwd=self.workdir,
            on_line=self.on_line,
            ok_codes=ok_codes,
            logs=self.logs,
        )
        return result.returncode

    def plan(
        self,
        plan_file: str,
        *,
        variables: Iterable[tuple[str, str]] = (),
        var_files: Iterable[str] = (),
    ) -> bool:
        """Write a plan to ``plan_file``; True when it has changes (exit code 2)."""
        command = Plan(plan_file, tuple(variables), tuple(var_files))
        return self._run(command, frozenset({0, 2})) == 2

    def apply(self, plan_file: str) -> None:
        self._run(Apply(plan_file))
