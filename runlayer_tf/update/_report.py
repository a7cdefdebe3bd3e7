"""What a run reports: one line per step, the changes, the outcome and its message."""

from __future__ import annotations

from typing import Any

import attrs

from runlayer_tf.update._facts import Facts

__all__ = ["ChangeReport", "StepReport", "UpdateReport", "change_reports"]


@attrs.frozen
class StepReport:
    """One step's line in the report: ``ok``, ``failed``, ``done-before`` (resumed), ``planned`` or ``skipped``.

    ``name`` is the step's journal name (a :class:`runlayer_tf.update.Step` in
    the reports :func:`run_update` makes; it compares equal to its string).
    """

    name: str
    status: str
    message: str


@attrs.frozen
class ChangeReport:
    """One variable's move, as the report shows it."""

    name: str
    previous: str
    target: str
    var_file: str | None


@attrs.frozen
class UpdateReport:
    """The outcome of a run.

    ``outcome`` is ``succeeded``, ``unchanged``, ``dry-run``, ``failed`` (stopped
    before anything was applied), ``rolled-back`` (applied, failed, previous
    version restored and verified), ``rollback-failed`` or ``unfinished``
    (blocked by a state lock or an interrupted apply: left for ``--resume``).
    """

    run: str
    kind: str
    outcome: str
    message: str
    cluster: str
    snapshot: str | None
    changes: tuple[ChangeReport, ...]
    steps: tuple[StepReport, ...]
    restore_command: str | None = None
    journal: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.outcome in ("succeeded", "unchanged", "dry-run") else 1

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "exit_code": self.exit_code}


def change_reports(facts: Facts) -> tuple[ChangeReport, ...]:
    """The report's view of the facts' changes."""
    return tuple(ChangeReport(c.name, c.previous, c.target, c.var_file) for c in facts.changes)
