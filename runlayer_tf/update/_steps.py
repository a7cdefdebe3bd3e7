"""The steps of the update runbook, declared once.

Each :class:`StepDef` says how its step runs, how it describes itself for
``--dry-run`` and what a failure in it means (:class:`OnFailure`).  The three
procedures (:data:`FORWARD`, :data:`RESTORE`, :data:`ROLLBACK`) are tables of
them; the runner (:mod:`runlayer_tf.update._runbook`), the dry run and
``--resume`` all walk those tables.  Step names (:class:`Step`) are the
journal's strings, so old journals still resume.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import attrs

from runlayer_tf.errors import UpdateError
from runlayer_tf.update import _ecs as ecs_mod
from runlayer_tf.update import _interrupted as lost
from runlayer_tf.update import _snapshot as snap
from runlayer_tf.update._checks import check_version, window_preview
from runlayer_tf.update._facts import Facts, passing, plan_file, variables
from runlayer_tf.update._health import UrlState, wait_healthy
from runlayer_tf.update._journal import RunHistory
from runlayer_tf.update._results import (
    Applied,
    Checked,
    Planned,
    SnapshotTaken,
    StepResult,
    ValuesSet,
    Verified,
)
from runlayer_tf.update._spec import UpdateDeps, UpdateSpec, Use, tag_of
from runlayer_tf.update._terraform import Apply, Init, Plan, Terraform
from runlayer_tf.update._window import check_window

__all__ = [
    "FORWARD",
    "NOTHING_TO_VERIFY",
    "RESTORE",
    "ROLLBACK",
    "Context",
    "OnFailure",
    "Procedure",
    "Step",
    "StepDef",
    "verifies",
]


class Step(str, enum.Enum):
    """A step's name; the value is the string the journal records."""

    PREFLIGHT = "preflight"
    SNAPSHOT = "snapshot"
    SET_VERSION = "set-version"
    PLAN = "plan"
    APPLY = "apply"
    VERIFY = "verify"
    RESTORE_VERSION = "restore-version"
    ROLLBACK_PLAN = "rollback-plan"
    ROLLBACK_APPLY = "rollback-apply"
    ROLLBACK_VERIFY = "rollback-verify"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class OnFailure(enum.Enum):
    """What a failure in a step means for the run."""

    NOTHING_CHANGED = "nothing changed"  # stop: nothing to undo
    RESTORE_FILE = "restore the file"  # the var-file may hold the target: put the previous back
    ROLL_BACK = "roll back"  # Terraform may have applied: re-apply the previous version
    FIND_OUT = "unknown: find out"  # stop; what the state holds must be found out by a human


@attrs.frozen
class Context:
    """What a step acts on: the run's spec, seams and facts, and the results so far."""

    spec: UpdateSpec
    deps: UpdateDeps
    facts: Facts
    terraform: Terraform
    started: datetime
    completed: Mapping[Step, StepResult] = attrs.field(factory=dict)
    history: RunHistory | None = None  # the interrupted run, on --resume


@attrs.frozen
class StepDef:
    """One row of a procedure."""

    step: Step
    run: Callable[[Context], StepResult]
    describe: Callable[[Context], str]
    on_failure: OnFailure
    result: type[StepResult]
    # A completed step runs again on resume unless this step completed too (a saved plan
    # is re-made when its apply has not completed).
    redo_unless: Step | None = None


@attrs.frozen
class Procedure:
    """A table of steps and the values it puts in place (``use``)."""

    name: str
    use: Use
    steps: tuple[StepDef, ...]

    @property
    def sets(self) -> Step:
        """The step that writes the procedure's values into the var-file."""
        return next(d.step for d in self.steps if d.result is ValuesSet)


NOTHING_TO_VERIFY = (
    "warning: nothing will be verified after apply (no --health-url, --backend-url, "
    "--frontend-url, --service or --target-group): success will mean only that apply exited 0"
)


def verifies(spec: UpdateSpec) -> bool:
    """Whether verify has anything to check."""
    return bool(spec.health_urls or ecs_mod.checks_rollouts(spec))


# --------------------------------------------------------------------------- preflight


def _preflight(ctx: Context) -> Checked:
    spec, deps = ctx.spec, ctx.deps
    window = check_window(spec.window, deps.clock(), force=spec.force_window)
    info = snap.check_cluster_available(deps.rds, ctx.facts.cluster)
    for change in ctx.facts.changes:
        check_version(ctx.spec, ctx.deps, change)
        ctx.deps.release_signed(str(change.repository), tag_of(change.target))
    ctx.terraform.init()
    return Checked(f"cluster {info.identifier} available; versions exist; {window}; init ok", info)


def _describe_preflight(ctx: Context) -> str:
    spec = ctx.spec
    checks = [window_preview(spec, ctx.started)]
    checks += [
        f"check that {c.repository or '(repository unknown)'}:{tag_of(c.target)} exists"
        + (
            ""
            if spec.allow_major
            else f"; check that {tag_of(c.previous)} -> {tag_of(c.target)} is not a major jump"
        )
        for c in ctx.facts.changes
    ]
    return (
        f"check that DB cluster {spec.cluster} is available; "
        + "; ".join(checks)
        + f"; run: {shlex.join(ctx.terraform.argv(Init()))} (in {spec.workdir})"
    )


# --------------------------------------------------------------------------- snapshot


def _snapshot(ctx: Context) -> SnapshotTaken:
    facts, deps = ctx.facts, ctx.deps
    tags = {
        snap.TAG_FROM: ",".join(c.previous for c in facts.changes)[:256],
        snap.TAG_TO: ",".join(c.target for c in facts.changes)[:256],
        snap.TAG_RUN: facts.run,
    }
    result = snap.ensure_snapshot(
        deps.rds,
        cluster=facts.cluster,
        identifier=facts.snapshot,
        tags=tags,
        clock=deps.clock,
        sleep=deps.sleep,
        timeout=ctx.spec.snapshot_timeout,
        interval=ctx.spec.snapshot_interval,
        on_progress=lambda status, pct: deps.progress.status(
            "snapshot", f"{facts.snapshot} {status} {pct}%"
        ),
    )
    verb = "reused" if result.reused else "created"
    return SnapshotTaken(
        f"snapshot {result.identifier} {verb}, available", result.arn, result.reused
    )


def _describe_snapshot(ctx: Context) -> str:
    command = snap.create_command(ctx.facts.cluster, ctx.facts.snapshot)
    return f"create snapshot {ctx.facts.snapshot} and wait until available (like: {command})"


# --------------------------------------------------------------------------- var-file


def set_values(ctx: Context, use: Use) -> ValuesSet:
    """Write the ``use`` values (one write per var-file, so it never holds a mix)."""
    facts = ctx.facts
    if facts.mode == "var":
        return ValuesSet(passing(variables(facts, use)), ())
    by_file: dict[str, dict[str, str]] = {}
    for change in facts.changes:
        assert change.var_file is not None
        by_file.setdefault(change.var_file, {})[change.name] = change.value(use)
    changed: set[tuple[str, str]] = set()
    for var_file, values in by_file.items():
        changed.update((var_file, name) for name in ctx.deps.set_pin(Path(var_file), values))
    names = ", ".join(f"{c.name}={c.value(use)}" for c in facts.changes)
    return ValuesSet(
        f"var-file holds {names}",
        tuple(c.name for c in facts.changes if (c.var_file, c.name) in changed),
    )


def _describe_set(use: Use) -> Callable[[Context], str]:
    def describe(ctx: Context) -> str:
        facts = ctx.facts
        if facts.mode != "set":
            return passing(variables(facts, use))
        other: Use = "previous" if use == "target" else "target"
        return "; ".join(
            f"rewrite {c.name} in {c.var_file}: {c.value(other)} -> {c.value(use)}"
            for c in facts.changes
        )

    return describe


# --------------------------------------------------------------------------- terraform


def _plan_command(ctx: Context, use: Use) -> Plan:
    return Plan(
        plan_file(ctx.spec, ctx.facts.run),
        variables(ctx.facts, use),
        tuple(str(f) for f in ctx.spec.var_files),
    )


def _plan(use: Use) -> Callable[[Context], Planned]:
    def run(ctx: Context) -> Planned:
        command = _plan_command(ctx, use)
        # Terraform writes -out through a symlink; one planted there must not redirect it.
        if Path(command.plan_file).is_symlink():
            raise UpdateError(f"refusing to follow the symlink {command.plan_file}")
        changes = ctx.terraform.plan(
            command.plan_file, variables=command.variables, var_files=list(command.var_files)
        )
        step = Step.PLAN if use == "target" else Step.ROLLBACK_PLAN
        # The first plan after an interrupted apply says what the state was found to hold.
        fresh = lost.fresh_plan_summary(step, ctx.history, changes)
        summary = fresh or ("plan has changes" if changes else "plan has no changes")
        return Planned(summary, command.plan_file, changes)

    return run


def _describe_plan(use: Use) -> Callable[[Context], str]:
    return lambda ctx: f"run: {shlex.join(ctx.terraform.argv(_plan_command(ctx, use)))}"


def _apply(ctx: Context) -> Applied:
    status = snap.snapshot_status(ctx.deps.rds, ctx.facts.snapshot)
    state = "missing" if status is None else str(status.get("Status", "unknown"))
    if state != "available":
        raise UpdateError(
            f"refusing to apply: snapshot {ctx.facts.snapshot} is {state}, not available"
        )
    saved = Path(plan_file(ctx.spec, ctx.facts.run))
    before = ecs_mod.record_deployments(ctx.spec, ctx.deps.ecs)  # journalled, for verify
    ctx.terraform.apply(str(saved))
    # A saved plan can hold sensitive values; once applied it has no further use.
    saved.unlink(missing_ok=True)
    return Applied("applied", before)


def _describe_apply(ctx: Context) -> str:
    command = Apply(plan_file(ctx.spec, ctx.facts.run))
    return (
        f"check snapshot {ctx.facts.snapshot} is available, "
        f"then run: {shlex.join(ctx.terraform.argv(command))}"
    )


# --------------------------------------------------------------------------- verify


def _verify(after: Step) -> Callable[[Context], Verified]:
    def run(ctx: Context) -> Verified:
        spec, deps = ctx.spec, ctx.deps
        parts = []
        if ecs_mod.checks_rollouts(spec):
            applied = ctx.completed.get(after)
            recorded = applied.ecs_deployments if isinstance(applied, Applied) else None
            deployed = ecs_mod.verify_rollouts(
                spec,
                deps.ecs,
                deps.elbv2,
                recorded,
                deps.sleep,
                lambda line: deps.progress.status("verify", f"waiting: {line}"),
            )
            parts.append(str(deployed))
        if spec.health_urls:
            result = wait_healthy(
                spec.health_urls,
                get=deps.http_get,
                clock=deps.clock,
                sleep=deps.sleep,
                consecutive=spec.health_consecutive,
                deadline=spec.health_deadline,
                interval=spec.health_interval,
                on_poll=lambda states: deps.progress.status(
                    "verify", _poll_line(states, spec.health_consecutive)
                ),
            )
            parts.append(
                f"{len(result.urls)} health URL(s) answered 2xx {spec.health_consecutive}x"
            )
        return Verified("; ".join(parts) or "nothing to verify")

    return run


def _poll_line(states: Sequence[UrlState], needed: int) -> str:
    return ", ".join(f"{s.url} {s.last} ({min(s.streak, needed)}/{needed})" for s in states)


def _describe_verify(ctx: Context) -> str:
    spec = ctx.spec
    checks = ecs_mod.planned_checks(spec)
    if spec.health_urls:
        checks.append(
            f"poll {', '.join(spec.health_urls)} until {spec.health_consecutive} consecutive 2xx "
            f"within {spec.health_deadline:.0f}s"
        )
    return "; ".join(checks) or NOTHING_TO_VERIFY


# --------------------------------------------------------------------------- the tables

_RESTORE_VERSION = StepDef(
    Step.RESTORE_VERSION,
    lambda ctx: set_values(ctx, "previous"),
    _describe_set("previous"),
    OnFailure.FIND_OUT,
    ValuesSet,
)

FORWARD = Procedure(
    "update",
    "target",
    (
        StepDef(
            Step.PREFLIGHT, _preflight, _describe_preflight, OnFailure.NOTHING_CHANGED, Checked
        ),
        StepDef(
            Step.SNAPSHOT,
            _snapshot,
            _describe_snapshot,
            OnFailure.NOTHING_CHANGED,
            SnapshotTaken,
        ),
        StepDef(
            Step.SET_VERSION,
            lambda ctx: set_values(ctx, "target"),
            _describe_set("target"),
            OnFailure.RESTORE_FILE,
            ValuesSet,
        ),
        StepDef(
            Step.PLAN,
            _plan("target"),
            _describe_plan("target"),
            OnFailure.RESTORE_FILE,
            Planned,
            redo_unless=Step.APPLY,
        ),
        StepDef(Step.APPLY, _apply, _describe_apply, OnFailure.ROLL_BACK, Applied),
        StepDef(Step.VERIFY, _verify(Step.APPLY), _describe_verify, OnFailure.ROLL_BACK, Verified),
    ),
)

# Before anything was applied: put the previous value back in the var-file.
RESTORE = Procedure("restore", "previous", (_RESTORE_VERSION,))

# After apply started: re-apply the previous version.
ROLLBACK = Procedure(
    "rollback",
    "previous",
    (
        _RESTORE_VERSION,
        StepDef(
            Step.ROLLBACK_PLAN,
            _plan("previous"),
            _describe_plan("previous"),
            OnFailure.FIND_OUT,
            Planned,
            redo_unless=Step.ROLLBACK_APPLY,
        ),
        StepDef(Step.ROLLBACK_APPLY, _apply, _describe_apply, OnFailure.FIND_OUT, Applied),
        StepDef(
            Step.ROLLBACK_VERIFY,
            _verify(Step.ROLLBACK_APPLY),
            _describe_verify,
            OnFailure.FIND_OUT,
            Verified,
        ),
    ),
)
