"""Terraform/OpenTofu: a pure argv builder and the one place that runs the binary.

:func:`build_argv` turns a typed command value into an argument vector and does
nothing else, so the exact command lines are tested by a table and shown by
``--dry-run``.  :func:`run_command` is the only subprocess call: no shell, typed
keyword-only arguments, output streamed line by line to a callback, and a
failure carries the tail of stderr.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol

import attrs

from runlayer_tf.errors import ConfigError, TerraformError

__all__ = [
    "Apply",
    "Init",
    "Plan",
    "RunResult",
    "Runner",
    "Terraform",
    "TerraformCommand",
    "build_argv",
    "find_binary",
    "run_command",
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


@attrs.frozen
class RunResult:
    """What a finished command returned."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr_tail: tuple[str, ...]


LineSink = Callable[[str, str], None]
"""Receives ``(stream, line)`` with ``stream`` in {"stdout", "stderr"}, without the newline."""


def run_command(
    argv: Sequence[str],
    *,
    cwd: Path,
    on_line: LineSink,
    ok_codes: frozenset[int] = frozenset({0}),
    env: Mapping[str, str] | None = None,
) -> RunResult:
    """Run ``argv`` in ``cwd`` without a shell, streaming each output line to ``on_line``.

    Raises TerraformError (carrying the tail of stderr) when the exit code is
    not in ``ok_codes`` or the binary cannot be started.
    """
    merged = dict(os.environ if env is None else env)
    merged.setdefault("TF_IN_AUTOMATION", "1")
    merged.setdefault("TF_INPUT", "0")
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=merged,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as err:
        raise TerraformError(f"cannot run {argv[0]}: {err.strerror or err}") from err
    assert proc.stdout is not None
    assert proc.stderr is not None
    tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    stdout_lines: list[str] = []
    # stderr is drained on a thread so neither pipe can fill up and stall the child.
    reader = threading.Thread(
        target=_pump, args=(proc.stderr, "stderr", on_line, tail.append), daemon=True
    )
    reader.start()
    _pump(proc.stdout, "stdout", on_line, stdout_lines.append)
    reader.join()
    returncode = proc.wait()
    result = RunResult(tuple(argv), returncode, "\n".join(stdout_lines), tuple(tail))
    if returncode not in ok_codes:
        raise TerraformError(_failure_message(result))
    return result


def _pump(stream: IO[str], name: str, on_line: LineSink, keep: Callable[[str], None]) -> None:
    for raw in stream:
        line = raw.rstrip("\n")
        keep(line)
        on_line(name, line)
    stream.close()


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

    def argv(self, command: TerraformCommand) -> tuple[str, ...]:
        return build_argv(self.binary, command)

    def init(self) -> None:
        self.runner(self.argv(Init()), cwd=self.workdir, on_line=self.on_line)

    def plan(
        self,
        plan_file: str,
        *,
        variables: Iterable[tuple[str, str]] = (),
        var_files: Iterable[str] = (),
    ) -> bool:
        """Write a plan to ``plan_file``; True when it has changes (exit code 2)."""
        command = Plan(plan_file, tuple(variables), tuple(var_files))
        result = self.runner(
            self.argv(command), cwd=self.workdir, on_line=self.on_line, ok_codes=frozenset({0, 2})
        )
        return result.returncode == 2

    def apply(self, plan_file: str) -> None:
        self.runner(self.argv(Apply(plan_file)), cwd=self.workdir, on_line=self.on_line)
