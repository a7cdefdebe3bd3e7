"""What an interrupted update says: the step it was in, the snapshot, the var-file, how to resume.

Ctrl-C (SIGINT) or SIGTERM stops a run between two journal records.  The
journal already says everything the summary needs (the run's facts, which
steps started and ended), so :func:`interrupted_run` reads it back together
with what the var-files hold now, and :func:`interrupted_summary` is a pure
function of that state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import attrs

from runlayer_tf.errors import RunlayerError
from runlayer_tf.update._journal import Record, read_journal
from runlayer_tf.update._secrets import redact
from runlayer_tf.update._varfile import read_vars

__all__ = ["InterruptedRun", "interrupted_run", "interrupted_summary"]

ReadPin = Callable[[Path, Sequence[str]], Mapping[str, str]]
APPLY_STEPS = ("apply", "rollback-apply")


@attrs.frozen
class InterruptedRun:
    """Where the journal's last run stood when the command was interrupted.

    ``run`` is None when no run of this command had begun (nothing was
    changed).  ``step`` is the step that had started and not ended, None
    between steps (``last`` then names the step that ended last).
    ``snapshot`` is the run's snapshot id once its step started (``completed``
    says whether it ended).  ``var_files`` holds ``(file, name, value now)``;
    empty in ``-var`` mode.
    """

    journal: str
    run: str | None = None
    kind: str = "update"
    finished: str | None = None  # the outcome, when the run had just finished
    step: str | None = None
    last: str | None = None
    started: tuple[str, ...] = ()
    completed: tuple[str, ...] = ()
    rolling_back: str | None = None  # the step whose failure started a roll-back
    snapshot: str | None = None
    mode: str = "set"
    var_files: tuple[tuple[str, str, str], ...] = ()
    unreadable: str | None = None  # why the journal could not be read


def _ts(record: Record) -> datetime | None:
    try:
        return datetime.fromisoformat(record.ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def interrupted_run(
    journal: Path, *, since: datetime, read_pin: ReadPin = read_vars
) -> InterruptedRun:
    """The state of ``journal``'s last run, for a command interrupted after starting at ``since``.

    An unfinished last run is reported whoever began it (``--resume`` is what
    continues it); a finished one only if it finished after ``since``.
    Problems reading the journal or a var-file become part of the state, never
    an exception: this runs while the process is being stopped.
    """
    try:
        records = read_journal(journal)
    except (OSError, RunlayerError) as err:
        return InterruptedRun(str(journal), unreadable=str(err))
    if not records:
        return InterruptedRun(str(journal))
    run = records[-1].run
    mine = [r for r in records if r.run == run]
    begin = next((r for r in mine if r.event == "begin"), None)
    finish = next((r for r in reversed(mine) if r.event == "finish"), None)
    if begin is None:
        return InterruptedRun(str(journal))
    if finish is not None:
        at = _ts(finish)
        if at is None or at < since.replace(microsecond=0):  # the journal keeps whole seconds
            return InterruptedRun(str(journal))
    step: str | None = None
    last: str | None = None
    started: list[str] = []
    completed: list[str] = []
    rolling_back: str | None = None
    for record in mine:
        if record.event == "start" and record.step:
            step = record.step
            started.append(record.step)
        elif record.event == "end" and record.step:
            step, last = None, record.step
            if record.result == "ok":
                completed.append(record.step)
        elif record.event == "note" and record.detail.get("action") == "rollback":
            rolling_back = record.step
    facts = begin.detail
    mode = str(facts.get("mode", "set"))
    return InterruptedRun(
        journal=str(journal),
        run=run,
        kind=str(facts.get("kind", "update")),
        finished=None if finish is None else str(finish.result),
        step=step,
        last=last,
        started=tuple(started),
        completed=tuple(completed),
        rolling_back=rolling_back,
        # Named only once its step started: before that, no snapshot exists.
        snapshot=str(facts["snapshot"])
        if facts.get("snapshot") and "snapshot" in started
        else None,
        mode=mode,
        var_files=_var_files(facts.get("changes") or (), mode, read_pin),
    )


def _var_files(changes: object, mode: str, read_pin: ReadPin) -> tuple[tuple[str, str, str], ...]:
    if mode != "set" or not isinstance(changes, (list, tuple)):
        return ()
    held = []
    for change in changes:
        if not isinstance(change, Mapping) or not change.get("var_file"):
            continue
        path, name = str(change["var_file"]), str(change.get("name", ""))
        try:
            value = read_pin(Path(path), [name]).get(name, "(not assigned)")
        except (OSError, RunlayerError) as err:
            value = f"(unreadable: {err})"
        held.append((path, name, value))
    return tuple(held)


def _snapshot_line(run: InterruptedRun) -> str | None:
    if run.snapshot is None:
        return None
    if "snapshot" in run.completed:
        return f"snapshot: {run.snapshot} (available, taken before any apply)"
    return f"snapshot: {run.snapshot} was being created; --resume reuses it"


def _what_happened(run: InterruptedRun) -> str:
    applies = [s for s in run.started if s in APPLY_STEPS]
    if run.step in APPLY_STEPS:
        return (
            f"{run.step} was interrupted: what Terraform changed is unknown until a fresh plan; "
            "--resume plans again before it applies"
        )
    if run.rolling_back is not None:
        return f"the roll-back (after {run.rolling_back} failed) was interrupted; --resume continues it"
    if "apply" in run.completed:
        return "apply had completed: the new version is deployed but not yet verified"
    if applies:
        return "an apply was interrupted: what Terraform changed is unknown until a fresh plan"
    return "nothing was applied"


def interrupted_summary(run: InterruptedRun, *, signal: str, resume_command: str) -> str:
    """The lines printed when ``signal`` (``SIGINT``, ``SIGTERM``) stopped a run (pure)."""
    if run.unreadable is not None:
        return redact(
            f"interrupted ({signal}); the journal {run.journal} cannot be read ({run.unreadable}), "
            "so where the run stopped is unknown"
        )
    if run.run is None:
        return f"interrupted ({signal}) before the {run.kind} began: nothing was changed"
    if run.finished is not None:
        return (
            f"interrupted ({signal}) as {run.run} finished ({run.finished}); journal: {run.journal}"
        )
    where = (
        f"during {run.step}" if run.step else f"after {run.last}" if run.last else "at the start"
    )
    lines = [f"interrupted ({signal}) {where} of {run.kind} run {run.run}"]
    if (snapshot := _snapshot_line(run)) is not None:
        lines.append(f"  {snapshot}")
    if run.mode == "var":
        lines.append("  var-file: none changed (values passed with -var)")
    lines += [f"  var-file: {path} holds {name}={value}" for path, name, value in run.var_files]
    lines.append(f"  {_what_happened(run)}")
    lines.append(f"  journal: {run.journal} (resumable)")
    lines.append("  resume with:")
    lines.append(f"    {resume_command}")
    return redact("\n".join(lines))
