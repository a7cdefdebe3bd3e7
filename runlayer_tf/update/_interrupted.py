"""What the runbook does about a Terraform it lost and a state lock it cannot take.

* On ``--resume``, every Terraform the interrupted run started (its ``child``
  records) that still runs is waited for, with progress, up to
  ``--wait-timeout`` (:func:`wait_for_children`); past it (or at once with
  ``--no-wait``) the resume refuses, naming the pid.
* A step that failed on a held state lock, or a plan after an interrupted
  apply, *blocks* the run (:class:`StepBlocked`): nothing is restored or
  rolled back, the run stays unfinished in the journal, and the report says
  what to do before ``--resume``.  A held lock is not a failed plan (another
  Terraform is running); after an interrupted apply the outcome is unknown
  until a plan succeeds, so "nothing was applied" would be a guess.
"""

from __future__ import annotations

from collections.abc import Callable

from runlayer_tf.errors import RunlayerError, StateLockedError
from runlayer_tf.update._child import Child, still_running, wait_for_exit
from runlayer_tf.update._journal import Journal, RunHistory
from runlayer_tf.update._progress import Progress

__all__ = [
    "StepBlocked",
    "blocks",
    "fresh_plan_summary",
    "unfinished_message",
    "wait_for_children",
]

# The apply whose outcome a plan step finds out after it was interrupted.
APPLY_AFTER = {"plan": "apply", "rollback-plan": "rollback-apply"}


class StepBlocked(Exception):
    """A step failed in a way that leaves the run unfinished (see the module docstring)."""

    def __init__(self, step: str, error: RunlayerError) -> None:
        super().__init__(f"{step}: {error}")
        self.step = step
        self.error = error


def blocks(step: str, error: RunlayerError, history: RunHistory | None) -> bool:
    """Whether ``error`` in ``step`` blocks the run instead of failing it."""
    if isinstance(error, StateLockedError):
        return True
    apply = APPLY_AFTER.get(step)
    return apply is not None and history is not None and history.interrupted(apply)


def fresh_plan_summary(step: str, history: RunHistory | None, changes: bool) -> str | None:
    """The plan step's summary when it is the first plan after an interrupted apply, else None."""
    apply = APPLY_AFTER.get(step)
    if apply is None or history is None or not history.interrupted(apply):
        return None
    found = (
        "plan has changes: the interrupted apply did not finish them"
        if changes
        else "plan has no changes: the interrupted apply had finished"
    )
    return f"the interrupted {apply}'s outcome was unknown until this plan; {found}"


def unfinished_message(
    what: str, blocked: StepBlocked, history: RunHistory | None, state: str, snapshot: str
) -> str:
    """The report of a blocked run: where it stopped, why, what holds what, how to go on."""
    apply = APPLY_AFTER.get(blocked.step)
    why = "nothing was restored or rolled back"
    if apply is not None and history is not None and history.interrupted(apply):
        why = (
            f"the interrupted {apply}'s outcome is unknown until a plan succeeds "
            f"(it may have changed the infrastructure); {why}"
        )
    return (
        f"{what} is unfinished: stopped at {blocked.step}: {blocked.error}; {why}; "
        f"{state}{snapshot}; once that is resolved, run the same command with --resume"
    )


def wait_for_children(
    history: RunHistory,
    journal: Journal,
    progress: Progress,
    *,
    timeout: float,
    on_line: Callable[[str, str], None],
) -> None:
    """Wait for every Terraform of ``history`` that still runs; UpdateError past ``timeout``."""
    for record in history.children:
        child = Child.from_dict(record.detail)
        running = still_running(child)
        if running is None:
            progress.step(
                "resume",
                f"warning: {child.name} of the interrupted run ran on {child.host}, and whether "
                "it still runs cannot be told from here; if it does, the plan will find the state "
                "locked",
            )
            continue
        if not running:
            continue
        progress.step(
            "resume",
            f"{child.name}, started by the interrupted run's {record.step} step, is still "
            f"running: waiting for it to exit (up to {timeout:.0f}s, --wait-timeout)",
        )
        waited = wait_for_exit(
            child,
            timeout=timeout,
            on_line=on_line,
            on_status=lambda message: progress.status("resume", message),
        )
        journal.append(
            history.run,
            "note",
            step=record.step,
            detail={"action": "waited", "pid": child.pid, "seconds": round(waited, 1)},
        )
        progress.step(
            "resume",
            f"{child.name} exited after {waited:.0f}s of waiting; what it did is not known to "
            "this run until a fresh plan",
        )
