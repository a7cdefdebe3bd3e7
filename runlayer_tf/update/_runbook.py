"""The update runbook as one resumable sequence: preflight, snapshot, set, plan, apply, verify.

:func:`run_update` takes an :class:`UpdateSpec` (what to do) and an
:class:`UpdateDeps` (the seams: AWS clients, Terraform runner, HTTP, pin
rewriting, registry look-ups, clock) and returns an :class:`UpdateReport`.
It walks the step tables of :mod:`runlayer_tf.update._steps`: what a failed
step means (its :class:`OnFailure`) decides between stopping, restoring the
var-file and rolling back; the dry run prints each step's own description.

Invariants, whatever fails and wherever the process dies:

* no ``apply`` runs unless the run's snapshot is ``available`` (checked right
  before every apply, not only remembered);
* the var-file holds the old or the new content, never a mix (one atomic
  rewrite of each var-file for all its variables);
* ``resume=True`` continues from the journal: a completed step never runs
  again (no second snapshot, no second rewrite), except that a saved plan is
  re-made when its apply has not completed; before it goes on, the var-file
  is made to hold the journalled values again, and a var-file holding a third
  value is refused;
* the journal records each step's start and end as it happened;
* the report's ``exit_code`` is 0 only for success (or a dry run / no-op).

A failure after apply starts rolls back (previous value, plan, apply, verify);
the database is never restored automatically: the report carries the
``aws rds restore-db-cluster-from-snapshot`` command for a human.
"""

from __future__ import annotations

from pathlib import Path

from runlayer_tf.errors import RunlayerError, UpdateError
from runlayer_tf.update import _interrupted as lost
from runlayer_tf.update import _snapshot as snap
from runlayer_tf.update._child import Child, ChildLogs
from runlayer_tf.update._facts import Facts, PlannedChange, check_same_run, establish, moves
from runlayer_tf.update._journal import Journal, RunHistory, hold_lock, last_run, read_journal
from runlayer_tf.update._reassert import check_held_values, reassert
from runlayer_tf.update._report import ChangeReport, StepReport, UpdateReport, change_reports
from runlayer_tf.update._results import Checked, StepResult
from runlayer_tf.update._spec import (
    LOCK_NAME,
    UpdateDeps,
    UpdateSpec,
    VersionChange,
    repository_of,
    tag_of,
    target_value,
)
from runlayer_tf.update._steps import (
    FORWARD,
    NOTHING_TO_VERIFY,
    RESTORE,
    ROLLBACK,
    Context,
    OnFailure,
    Procedure,
    Step,
    StepDef,
    verifies,
)
from runlayer_tf.update._terraform import Terraform

# run_update and dry_run are this module's; the rest are re-exported for the modules that
# took them from here before the split.
__all__ = [
    "ChangeReport",
    "PlannedChange",
    "StepReport",
    "UpdateDeps",
    "UpdateReport",
    "UpdateSpec",
    "VersionChange",
    "dry_run",
    "repository_of",
    "run_update",
    "tag_of",
    "target_value",
]


class _StepFailed(Exception):
    def __init__(self, entry: StepDef, error: RunlayerError) -> None:
        super().__init__(f"{entry.step}: {error}")
        self.entry = entry
        self.step = entry.step
        self.error = error


def _completed(history: RunHistory | None) -> dict[Step, StepResult]:
    """The journal's completed steps as results, read by each table row's result type."""
    if history is None:
        return {}
    rows = {d.step.value: d for p in (FORWARD, RESTORE, ROLLBACK) for d in p.steps}
    return {
        rows[name].step: rows[name].result.from_detail(detail)
        for name, detail in history.completed.items()
        if name in rows
    }


class _Execution:
    def __init__(
        self,
        spec: UpdateSpec,
        deps: UpdateDeps,
        facts: Facts,
        journal: Journal,
        history: RunHistory | None,
    ) -> None:
        self.spec = spec
        self.deps = deps
        self.facts = facts
        self.journal = journal
        self.resumed = history is not None
        self.completed = _completed(history)
        self.notes = history.notes if history else ()
        self.steps: list[StepReport] = []
        self.history = history
        self.current = Step.PREFLIGHT  # the step a Terraform child is started for
        terraform = Terraform(
            binary=spec.terraform,
            workdir=spec.workdir,
            runner=deps.terraform_runner,
            on_line=self._tf_line,
            logs=ChildLogs(journal.path.parent, facts.run, self._child, self._child_note),
        )
        self.ctx = Context(spec, deps, facts, terraform, deps.clock(), self.completed, history)

    def _tf_line(self, stream: str, line: str) -> None:
        self.deps.progress.output(Path(self.spec.terraform).name, line)

    def _child(self, child: Child) -> None:
        # Journalled before it is waited for: a resume after a kill finds the pid.
        self.journal.append(self.facts.run, "child", step=self.current, detail=child.to_dict())

    def _child_note(self, note: str) -> None:
        self.deps.progress.step(self.current, note)

    # -- walking a table

    def _done_before(self, entry: StepDef) -> bool:
        if entry.step not in self.completed:
            return False
        return entry.redo_unless is None or entry.redo_unless in self.completed

    def _walk(self, procedure: Procedure) -> None:
        """Run ``procedure``'s steps in order; raises _StepFailed for the first that fails."""
        for entry in procedure.steps:
            if self._done_before(entry):
                self.steps.append(
                    StepReport(entry.step, "done-before", "completed by the interrupted run")
                )
                self.deps.progress.step(entry.step, "already done (resumed)")
                continue
            if self.resumed:
                self.resumed = False  # once: before the first step this resume runs
                if procedure.sets in self.completed:
                    self._reassert(procedure)
            self._run(entry)

    def _reassert(self, procedure: Procedure) -> None:
        written = reassert(self.facts, procedure.use, self.deps.read_pin, self.deps.set_pin)
        if written:
            self.journal.append(
                self.facts.run,
                "note",
                step=procedure.sets,
                detail={"action": "reassert", "values": written},
            )
            self.deps.progress.step(
                "resume", f"the var-file again holds the journalled {', '.join(written)}"
            )

    def _run(self, entry: StepDef) -> StepResult:
        name = entry.step
        self.journal.append(self.facts.run, "start", step=name)
        self.deps.progress.start(name)  # the live line follows the current step
        self.current = name
        try:
            result = entry.run(self.ctx)
        except RunlayerError as err:
            self.journal.append(
                self.facts.run, "end", step=name, result="failed", detail={"error": str(err)}
            )
            self.steps.append(StepReport(name, "failed", str(err)))
            self.deps.progress.step(name, f"FAILED: {err}")
            if lost.blocks(name, err, self.history):
                raise lost.StepBlocked(name, err) from err
            raise _StepFailed(entry, err) from err
        self.journal.append(self.facts.run, "end", step=name, result="ok", detail=result.detail())
        self.completed[name] = result
        self.steps.append(StepReport(name, "ok", result.summary))
        self.deps.progress.step(name, result.summary)
        return result

    # -- the sequence

    def run(self) -> UpdateReport:
        try:
            return self._sequence()
        except lost.StepBlocked as blocked:  # a held lock, a plan after an interrupted apply
            message = lost.unfinished_message(
                self._what(), blocked, self.history, self._var_file_state(), self._snapshot_note()
            )
            return self._finish("unfinished", message)

    def _sequence(self) -> UpdateReport:
        # A decision the interrupted run journalled is carried out, a roll-back first.
        for action, carry_on in (("rollback", self._roll_back), ("restore", self._restore)):
            note = next((n for n in self.notes if n.detail.get("action") == action), None)
            if note is not None:
                return carry_on(str(note.step), str(note.detail.get("cause", "")), noted=True)
        try:
            self._walk(FORWARD)
        except _StepFailed as failed:
            return self._failed(failed)
        return self._finish(
            "succeeded",
            # said once; the report adds the snapshot and its restore command
            f"{self._what()} succeeded",
        )

    def _failed(self, failed: _StepFailed) -> UpdateReport:
        """What the failed step's table row says its failure means."""
        step, cause = failed.step, str(failed.error)
        meaning = failed.entry.on_failure
        if meaning is OnFailure.ROLL_BACK:
            return self._roll_back(step, cause)
        if meaning is OnFailure.RESTORE_FILE:
            return self._restore(step, cause)
        if meaning is OnFailure.FIND_OUT:
            return self._finish(
                "failed",
                f"{self._what()} stopped at {step}: {cause}; what the Terraform state holds is "
                f"unknown: run plan to find out; {self._var_file_state()}{self._snapshot_note()}",
            )
        return self._finish(
            "failed",
            f"{self._what()} stopped at {step}: {cause}; nothing was changed{self._snapshot_note()}",
        )

    def _restore(self, step: str, cause: str, *, noted: bool = False) -> UpdateReport:
        if not noted:
            self.journal.append(
                self.facts.run, "note", step=step, detail={"action": "restore", "cause": cause}
            )
        try:
            self._walk(RESTORE)
        except _StepFailed as failed:
            return self._finish(
                "failed",
                f"{self._what()} stopped at {step}: {cause}; "
                f"restoring the previous value also failed ({failed.error}); "
                f"{self._var_file_state()}; nothing was applied{self._snapshot_note()}",
            )
        return self._finish(
            "failed",
            f"{self._what()} stopped at {step}: {cause}; nothing was applied; "
            f"{self._var_file_state()}{self._snapshot_note()}",
        )

    def _roll_back(self, step: str, cause: str, *, noted: bool = False) -> UpdateReport:
        if not noted:
            self.journal.append(
                self.facts.run, "note", step=step, detail={"action": "rollback", "cause": cause}
            )
            self.deps.progress.step(
                "rollback", f"{step} failed; rolling back to {moves(self.facts, 'previous')}"
            )
        try:
            self._walk(ROLLBACK)
        except _StepFailed as failed:
            return self._finish(
                "rollback-failed",
                f"{self._what()} failed at {step} ({cause}) and the roll-back failed at "
                f"{failed.step} ({failed.error}). "
                f"State: {self._var_file_state()}; the Terraform state may hold a partial apply of "
                f"{moves(self.facts, 'target')}; "
                f"DB snapshot {self.facts.snapshot} (taken before any apply) is available. "
                f"Fix and re-apply by hand; restore the database only if it was damaged: {self._restore_command()}",
            )
        return self._finish(
            "rolled-back",
            f"{self._what()} failed at {step} ({cause}); "
            f"rolled back to {moves(self.facts, 'previous')} and verified. "
            f"DB snapshot {self.facts.snapshot} is kept; "
            f"if the database was damaged restore it with: {self._restore_command()}",
        )

    # -- report

    def _what(self) -> str:
        return f"{self.facts.kind} {moves(self.facts, 'target')}"

    def _var_file_state(self) -> str:
        if self.facts.mode == "var":
            return "no var-file was changed (values passed with -var)"
        held = []
        for change in self.facts.changes:
            assert change.var_file is not None
            try:
                value = self.deps.read_pin(Path(change.var_file), [change.name]).get(change.name)
            except RunlayerError as err:
                value = f"unreadable ({err})"
            held.append(f"{change.var_file} holds {change.name}={value}")
        return "; ".join(held)

    def _snapshot_note(self) -> str:
        if Step.SNAPSHOT in self.completed:
            return f"; snapshot {self.facts.snapshot} was taken and is kept"
        return ""

    def _restore_command(self) -> str:
        checked = self.completed.get(Step.PREFLIGHT)
        info = checked.cluster if isinstance(checked, Checked) else None
        if info is None:
            info = snap.ClusterInfo(self.facts.cluster, "unknown", "")
        return snap.restore_command(self.facts.snapshot, info)

    def _finish(self, outcome: str, message: str) -> UpdateReport:
        snapshot_taken = Step.SNAPSHOT in self.completed
        # An unfinished run is noted, not finished: --resume continues it.
        event, note = ("note", {"action": "blocked"}) if outcome == "unfinished" else ("finish", {})
        self.journal.append(
            self.facts.run, event, result=outcome, detail={**note, "message": message}
        )
        # no "done" progress line: the report (printed once, by the caller) says it
        return UpdateReport(
            run=self.facts.run,
            kind=self.facts.kind,
            outcome=outcome,
            message=message,
            cluster=self.facts.cluster,
            snapshot=self.facts.snapshot if snapshot_taken else None,
            changes=change_reports(self.facts),
            steps=tuple(self.steps),
            restore_command=self._restore_command() if snapshot_taken else None,
            journal=str(self.journal.path),
        )


# --------------------------------------------------------------------------- entry point


def run_update(spec: UpdateSpec, deps: UpdateDeps) -> UpdateReport:
    """Run (or, with ``spec.dry_run``, describe) the update sequence; see the module docstring.

    Returns the report for every outcome the sequence handles (its
    ``exit_code`` says success or failure).  Raises RunlayerError for problems
    found before anything starts (bad spec, lock held, unfinished run without
    ``resume``, a var-file that holds neither of the resumed run's values);
    any other exception escapes untouched and leaves the journal ready for
    ``resume``.
    """
    if spec.dry_run:
        return dry_run(spec, deps)
    journal_path = spec.journal_path
    with hold_lock(journal_path.parent / LOCK_NAME, deps.clock):
        history = last_run(read_journal(journal_path))
        journal = Journal(journal_path, deps.clock)
        if spec.resume:
            if history is None or history.finished or history.begin is None:
                raise UpdateError(
                    f"nothing to resume: journal {journal_path} has no unfinished run"
                )
            facts = Facts.from_dict(history.run, history.begin.detail)
            check_same_run(spec, facts)
            check_held_values(facts, deps.read_pin)
            deps.progress.step(
                "resume",
                f"continuing {facts.run}; done before: {', '.join(history.completed) or 'nothing'}",
            )
            lost.wait_for_children(
                history,
                journal,
                deps.progress,
                timeout=spec.terraform_wait,
                on_line=lambda _stream, line: deps.progress.output(Path(spec.terraform).name, line),
            )
            return _Execution(spec, deps, facts, journal, history).run()
        if history is not None and not history.finished:
            raise UpdateError(
                f"journal {journal_path} holds the unfinished run {history.run}; pass --resume to continue it"
            )
        facts = establish(spec, deps, deps.clock())
        if all(c.previous == c.target for c in facts.changes):
            return UpdateReport(
                run=facts.run,
                kind=facts.kind,
                outcome="unchanged",
                message=f"nothing to do: {', '.join(f'{c.name} is already {tag_of(c.target)}' for c in facts.changes)}",
                cluster=facts.cluster,
                snapshot=None,
                changes=change_reports(facts),
                steps=(),
            )
        journal.append(facts.run, "begin", detail=facts.to_dict())
        if not verifies(spec):
            deps.progress.step("verify", NOTHING_TO_VERIFY)
        return _Execution(spec, deps, facts, journal, None).run()


def dry_run(spec: UpdateSpec, deps: UpdateDeps) -> UpdateReport:
    """The forward table's steps, each described by its own row; nothing runs or changes."""
    now = deps.clock()
    facts = establish(spec, deps, now)
    terraform = Terraform(binary=spec.terraform, workdir=spec.workdir, runner=deps.terraform_runner)
    ctx = Context(spec, deps, facts, terraform, now)
    return UpdateReport(
        run=facts.run,
        kind=facts.kind,
        outcome="dry-run",
        message=f"dry run of {facts.kind} {moves(facts, 'target')}: nothing was changed",
        cluster=spec.cluster,
        snapshot=facts.snapshot,
        changes=change_reports(facts),
        steps=tuple(StepReport(d.step, "planned", d.describe(ctx)) for d in FORWARD.steps),
        journal=str(spec.journal_path),
    )
