"""What ``update``/``rollback`` print at the end: the report, or where a signal stopped the run.

The report says each thing once (:func:`format_report`).  SIGINT and SIGTERM
raise :class:`Stopped` in the main thread (:func:`stopping_on_signals`), which
unwinds the run like Ctrl-C, leaving the journal resumable; :func:`interrupted`
then reads the journal back and prints the step, the snapshot, what the
var-file holds and the ``--resume`` command.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import attrs

from runlayer_tf.update import UpdateReport, UpdateSpec
from runlayer_tf.update.parts import interrupted_run, interrupted_summary, redact


def format_report(report: UpdateReport) -> str:
    """The human report printed at the end of a run: each thing said once.

    The first line is the run's message (it names the command, the change and
    the outcome); a failed step's row does not repeat an error the message
    already gives; the snapshot and its restore command follow once, for
    every outcome after which the database could need them.
    """
    lines = [report.message]
    for step in report.steps:
        said = step.status == "failed" and step.message in report.message
        text = "(above)" if said else step.message
        lines.append(f"  {step.name:<16} {step.status:<12} {text}".rstrip())
    if report.snapshot and report.outcome != "dry-run":
        if report.restore_command and report.outcome in RESTORABLE:
            if report.restore_command not in report.message:
                lines.append(
                    f"snapshot {report.snapshot} is kept; restore the database from it "
                    "only if it was damaged:"
                )
                lines.append(f"  {report.restore_command}")
        elif report.snapshot not in report.message:
            lines.append(f"snapshot {report.snapshot} is kept")
    elif report.snapshot and report.snapshot not in report.message:
        lines.append(f"snapshot: {report.snapshot}")
    if report.journal and report.outcome != "dry-run":
        lines.append(f"journal: {report.journal}")
    return redact("\n".join(lines))


# Outcomes after an apply ran: the database may need the snapshot.
RESTORABLE = ("succeeded", "rolled-back", "rollback-failed")


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: unwinds the run like Ctrl-C, remembering which signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, _frame: object) -> None:
    # A second signal while the first unwinds ends the process at once (the default).
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_DFL)
    raise Stopped(signum)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Stopped` in the block (main thread only); restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def resume_command(args: argparse.Namespace) -> str:
    """The command that continues this run: the same arguments with ``--resume``."""
    given = list(getattr(args, "raw_arguments", None) or ())
    if not args.resume:
        given.append("--resume")
    return shlex.join(["runlayer-tf", args.command, *given])


def interrupted(
    spec: UpdateSpec, resume: str, since: datetime, signum: int
) -> tuple[str, dict[str, Any]]:
    """What to print when ``signum`` stopped the run of ``spec`` begun at ``since``.

    The summary lines (for stderr) and the same as a JSON-able report (for
    ``--json``: ``outcome`` ``interrupted``, the signal, the exit code, the
    journal's state and the ``--resume`` command when there is a run to resume).
    """
    name = signal.Signals(signum).name
    data: dict[str, Any] = {"outcome": "interrupted", "signal": name, "exit_code": 128 + signum}
    if spec.dry_run:
        summary = f"interrupted ({name}) during the dry run: nothing was changed"
        return summary, {**data, "message": summary}
    state = interrupted_run(spec.journal_path, since=since)
    summary = interrupted_summary(state, signal=name, resume_command=resume)
    resumable = state.run is not None and state.finished is None and state.unreadable is None
    fields = attrs.asdict(state)
    fields["var_files"] = [
        {"var_file": path, "name": name_, "value": value} for path, name_, value in state.var_files
    ]
    return summary, {
        **data,
        **fields,
        "message": summary,
        "resume_command": resume if resumable else None,
    }
