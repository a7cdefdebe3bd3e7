"""The update runbook as one resumable sequence: preflight, snapshot, set, plan, apply, verify.

:func:`run_update` takes an :class:`UpdateSpec` (what to do) and an
:class:`UpdateDeps` (the seams: AWS clients, Terraform runner, HTTP, pin
rewriting, registry look-ups, clock) and returns an :class:`UpdateReport`.

Invariants, whatever fails and wherever the process dies:

* no ``apply`` runs unless the run's snapshot is ``available`` (checked right
  before every apply, not only remembered);
* the var-file holds the old or the new content, never a mix (one atomic
  rewrite of each var-file for all its variables);
* ``resume=True`` continues from the journal: a completed step never runs
  again (no second snapshot, no second rewrite), except that a saved plan is
  re-made when its apply has not completed;
* the journal records each step's start and end as it happened;
* the report's ``exit_code`` is 0 only for success (or a dry run / no-op).

A failure after apply starts rolls back (previous value, plan, apply, verify);
the database is never restored automatically: the report carries the
``aws rds restore-db-cluster-from-snapshot`` command for a human.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import attrs

from runlayer_tf.errors import (
    ConfigError,
    PinError,
    RunlayerError,
    TagError,
    UpdateError,
    UsageError,
)
from runlayer_tf.tags import ImageRef, Selector, SelectorKind
from runlayer_tf.tags import crosses_major as tags_crosses_major
from runlayer_tf.update import _ecs as ecs_mod
from runlayer_tf.update import _interrupted as lost  # child: hooks H1-H7
from runlayer_tf.update import _snapshot as snap
from runlayer_tf.update._child import Child, ChildLogs
from runlayer_tf.update._clock import utc_now
from runlayer_tf.update._health import (
    HttpGet,
    UrlState,
    check_health_url,
    urllib_get,
    wait_healthy,
)
from runlayer_tf.update._journal import (
    DEFAULT_DIR,
    Journal,
    RunHistory,
    hold_lock,
    last_run,
    read_journal,
)
from runlayer_tf.update._progress import Progress, SilentProgress
from runlayer_tf.update._terraform import Apply, Init, Plan, Runner, Terraform, run_command
from runlayer_tf.update._varfile import read_vars, set_vars
from runlayer_tf.update._window import MaintenanceWindow, check_window

__all__ = [
    "ChangeReport",
    "PlannedChange",
    "StepReport",
    "UpdateDeps",
    "UpdateReport",
    "UpdateSpec",
    "VersionChange",
    "repository_of",
    "run_update",
    "tag_of",
    "target_value",
]

JOURNAL_NAME = "update.jsonl"
LOCK_NAME = "update.lock"

Mode = Literal["set", "var"]
Use = Literal["previous", "target"]
# Set several variables of one var-file in one write; the names whose value changed.
SetPin = Callable[[Path, Mapping[str, str]], Sequence[str]]
# The values one var-file assigns to those of the names it assigns (one read).
ReadPin = Callable[[Path, Sequence[str]], Mapping[str, str]]
# The repository each of the names follows by default, given the workdir.
RepositoryDefaults = Callable[[Sequence[str], Path], Mapping[str, str]]
VersionExists = Callable[[str, str], bool]
PreviousRelease = Callable[[str, str], "str | None"]
CrossesMajor = Callable[[str, str], bool]


# --------------------------------------------------------------------------- values


@attrs.frozen
class VersionChange:
    """``NAME=VERSION`` from the command line; ``version`` None means "the previous release"."""

    name: str
    version: str | None = None

    def __str__(self) -> str:
        return f"{self.name}={self.version}" if self.version is not None else self.name


def _split_ref(value: str) -> tuple[str | None, str]:
    # "host:5000/team/app:v1.2" -> ("host:5000/team/app", "v1.2"); "v1.2" -> (None, "v1.2")
    if "/" not in value and ":" not in value.partition("@")[0]:
        return None, value
    try:
        ref = ImageRef.parse(value)
    except TagError:
        return None, value
    return ref.name, ref.tag or ""


def tag_of(value: str) -> str:
    """The tag of an image reference value, or the value itself when it is a bare tag."""
    return _split_ref(value)[1]


def repository_of(value: str) -> str | None:
    """The repository of an image reference value; None for a bare tag."""
    return _split_ref(value)[0]


def target_value(previous: str, version: str) -> str:
    """The new variable value for ``version``.

    ``version`` as-is when it is a full reference, else the previous repository with the new tag.
    """
    repository = repository_of(previous)
    if repository is None or repository_of(version) is not None:
        return version
    return f"{repository}:{version}"


def _check_health_urls(_spec: object, _field: object, urls: Sequence[str]) -> None:
    for url in urls:
        check_health_url(url)


@attrs.frozen
class UpdateSpec:
    """What one update (or roll-back) run should do.  Paths are absolute or relative to the cwd."""

    cluster: str
    workdir: Path
    changes: tuple[VersionChange, ...]
    mode: Mode = "set"
    var_files: tuple[Path, ...] = ()
    terraform: str = "tofu"
    # Checked here, so a bad URL is a UsageError before anything runs (dry run included).
    health_urls: tuple[str, ...] = attrs.field(default=(), validator=_check_health_urls)
    ecs_cluster: str | None = None
    services: tuple[str, ...] = ()
    target_groups: tuple[str, ...] = ()
    snapshot_template: str = snap.DEFAULT_SNAPSHOT_TEMPLATE
    allow_major: bool = False
    window: MaintenanceWindow | None = None
    force_window: bool = False
    journal: Path | None = None
    resume: bool = False
    dry_run: bool = False
    repositories: tuple[tuple[str, str], ...] = ()
    current: tuple[tuple[str, str], ...] = ()
    # Used only when neither ``repositories`` nor the value itself names the repository
    # (a name missing here is asked of ``UpdateDeps.repository_defaults``).
    default_repositories: tuple[tuple[str, str], ...] = ()
    kind: Literal["update", "rollback"] = "update"
    health_consecutive: int = 3
    health_deadline: float = 300.0
    health_interval: float = 5.0
    snapshot_timeout: float = 3600.0
    snapshot_interval: float = 15.0
    ecs_delay: int = 15
    ecs_max_attempts: int = 40
    terraform_wait: float = 3600.0  # child: on --resume, wait this long for a lost Terraform

    @property
    def journal_path(self) -> Path:
        return (
            self.journal if self.journal is not None else self.workdir / DEFAULT_DIR / JOURNAL_NAME
        )


def _no_resolver(repository: str, tag: str) -> Any:
    raise ConfigError(f"no registry resolver configured to look up {repository}:{tag}")


def _no_repository_defaults(names: Sequence[str], workdir: Path) -> Mapping[str, str]:
    return {}


@attrs.frozen
class UpdateDeps:
    """The seams of an update run; every field has a real default except the AWS clients."""

    rds: snap.RdsApi
    ecs: ecs_mod.EcsApi | None = None
    elbv2: ecs_mod.Elbv2Api | None = None
    terraform_runner: Runner = run_command
    http_get: HttpGet = urllib_get
    set_pin: SetPin = set_vars
    read_pin: ReadPin = read_vars
    version_exists: VersionExists = _no_resolver
    previous_release: PreviousRelease = _no_resolver
    crosses_major: CrossesMajor = tags_crosses_major
    # Asked only for names whose repository nothing else names (the CLI reads the workdir).
    repository_defaults: RepositoryDefaults = _no_repository_defaults
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    progress: Progress = attrs.field(factory=SilentProgress)


@attrs.frozen
class PlannedChange:
    """One variable's move: where it lives, what it was, what it becomes."""

    name: str
    previous: str
    target: str
    var_file: str | None
    repository: str | None

    def value(self, use: Use) -> str:
        """The previous or the target value."""
        return self.previous if use == "previous" else self.target

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class _Facts:
    """Fixed at the start of a run and journalled, so a resumed run acts on the same values."""

    run: str
    kind: str
    cluster: str
    mode: str
    snapshot: str
    changes: tuple[PlannedChange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cluster": self.cluster,
            "mode": self.mode,
            "snapshot": self.snapshot,
            "changes": [c.to_dict() for c in self.changes],
        }

    @classmethod
    def from_dict(cls, run: str, raw: Mapping[str, Any]) -> _Facts:
        return cls(
            run=run,
            kind=str(raw["kind"]),
            cluster=str(raw["cluster"]),
            mode=str(raw["mode"]),
            snapshot=str(raw["snapshot"]),
            changes=tuple(PlannedChange(**c) for c in raw["changes"]),
        )


@attrs.frozen
class StepReport:
    """One step's line in the report: ``ok``, ``failed``, ``done-before`` (resumed), ``planned`` or ``skipped``."""

    name: str
    status: str
    message: str


@attrs.frozen
class ChangeReport:
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


# --------------------------------------------------------------------------- facts


def _pin_locations(spec: UpdateSpec, deps: UpdateDeps) -> dict[str, tuple[Path, str]]:
    """The var-file assigning each change's variable, and the value: one read per var-file for all names."""
    # Terraform lets the last var-file win, so that is the one to rewrite.
    found: dict[str, tuple[Path, str]] = {}
    missing = list(dict.fromkeys(c.name for c in spec.changes))
    for var_file in reversed(spec.var_files):
        if not missing:
            break
        values = deps.read_pin(var_file, missing)
        found.update((name, (var_file, values[name])) for name in missing if name in values)
        missing = [name for name in missing if name not in found]
    return found


def _default_repositories(
    spec: UpdateSpec, deps: UpdateDeps, previous: Mapping[str, str]
) -> dict[str, str]:
    """``spec.default_repositories``, completed (in one call) for every name nothing else gives a repository."""
    defaults = dict(spec.default_repositories)
    given = dict(spec.repositories)
    needed = [
        name
        for name in dict.fromkeys(c.name for c in spec.changes)
        if name in previous
        and name not in defaults
        and not (given.get(name) or repository_of(previous[name]))
    ]
    if needed:
        defaults.update(deps.repository_defaults(needed, spec.workdir))
    return defaults


def _establish(spec: UpdateSpec, deps: UpdateDeps, now: datetime) -> _Facts:
    if not spec.changes:
        raise UsageError("nothing to update: give at least one NAME=VERSION")
    if spec.mode == "set" and not spec.var_files:
        raise UsageError("--set rewrites a var-file: give --var-file")
    locations = _pin_locations(spec, deps)
    previous_values = {name: value for name, (_, value) in locations.items()}
    previous_values.update(spec.current)
    repositories = dict(spec.repositories)
    defaults: dict[str, str] | None = None  # computed on first need: it reads the workdir
    planned = []
    for change in spec.changes:
        var_file = locations[change.name][0] if change.name in locations else None
        if spec.mode == "set" and var_file is None:
            files = ", ".join(str(f) for f in spec.var_files)
            raise PinError(f"no var-file assigns {change.name} (looked in {files})")
        previous = previous_values.get(change.name)
        if previous is None:
            raise ConfigError(
                f"cannot tell the current value of {change.name}: pass --current {change.name}=VALUE"
            )
        repository = repositories.get(change.name) or repository_of(previous)
        if repository is None:
            if defaults is None:
                defaults = _default_repositories(spec, deps, previous_values)
            repository = defaults.get(change.name)
        version = change.version
        if version is None:
            if repository is None:
                raise ConfigError(
                    f"cannot look up the release before {previous}: pass --repository {change.name}=REPO"
                )
            version = deps.previous_release(repository, tag_of(previous))
            if version is None:
                raise UpdateError(f"no release older than {tag_of(previous)} in {repository}")
        planned.append(
            PlannedChange(
                name=change.name,
                previous=previous,
                target=target_value(previous, version),
                var_file=str(var_file) if (spec.mode == "set" and var_file is not None) else None,
                repository=repository,
            )
        )
    run = f"{spec.kind}-{now.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}"
    snapshot_id = snap.snapshot_id(spec.snapshot_template, now=now, cluster=spec.cluster)
    return _Facts(run, spec.kind, spec.cluster, spec.mode, snapshot_id, tuple(planned))


# --------------------------------------------------------------------------- shared by the run and the dry run


def _plan_file(spec: UpdateSpec, run: str) -> str:
    # The directory resolved, not the file: a symlink planted at the file must stay visible.
    return str(spec.journal_path.parent.resolve() / f"{run}.tfplan")


def _variables(facts: _Facts, use: Use) -> tuple[tuple[str, str], ...]:
    """The ``-var`` pairs of plan: none in ``set`` mode (the var-file holds the values)."""
    if facts.mode != "var":
        return ()
    return tuple((c.name, c.value(use)) for c in facts.changes)


def _passing(variables: Sequence[tuple[str, str]]) -> str:
    return "pass " + " ".join(f"-var={n}={v}" for n, v in variables)


def _moves(facts: _Facts, use: Use) -> str:
    return ", ".join(f"{c.name}={tag_of(c.value(use))}" for c in facts.changes)


# --------------------------------------------------------------------------- execution


class _StepFailed(Exception):
    def __init__(self, step: str, error: RunlayerError) -> None:
        super().__init__(f"{step}: {error}")
        self.step = step
        self.error = error


class _Execution:
    def __init__(
        self,
        spec: UpdateSpec,
        deps: UpdateDeps,
        facts: _Facts,
        journal: Journal,
        history: RunHistory | None,
    ) -> None:
        self.spec = spec
        self.deps = deps
        self.facts = facts
        self.journal = journal
        self.completed: dict[str, Mapping[str, Any]] = dict(history.completed) if history else {}
        self.notes = history.notes if history else ()
        self.steps: list[StepReport] = []
        self.history, self.current = history, "preflight"  # child: H3
        logs = ChildLogs(journal.path.parent, facts.run, self._child, self._child_note)
        self.terraform = Terraform(
            binary=spec.terraform,
            workdir=spec.workdir,
            runner=deps.terraform_runner,
            on_line=self._tf_line,
            logs=logs,
        )
        self.cluster_info: snap.ClusterInfo | None = None
        if "preflight" in self.completed:
            self.cluster_info = _cluster_from(self.completed["preflight"])

    # -- plumbing

    def _tf_line(self, stream: str, line: str) -> None:
        self.deps.progress.output(Path(self.spec.terraform).name, line)

    def _child(self, child: Child) -> None:  # child: H3, journalled before it is waited for
        self.journal.append(self.facts.run, "child", step=self.current, detail=child.to_dict())

    def _child_note(self, note: str) -> None:
        self.deps.progress.step(self.current, note)

    def _step(
        self, name: str, action: Callable[[], Mapping[str, Any]], *, redo: bool = False
    ) -> Mapping[str, Any]:
        if name in self.completed and not redo:
            self.steps.append(StepReport(name, "done-before", "completed by the interrupted run"))
            self.deps.progress.step(name, "already done (resumed)")
            return self.completed[name]
        self.journal.append(self.facts.run, "start", step=name)
        self.deps.progress.step(name, "started")
        self.current = name  # child: H4
        try:
            detail = action()
        except RunlayerError as err:
            self.journal.append(
                self.facts.run, "end", step=name, result="failed", detail={"error": str(err)}
            )
            self.steps.append(StepReport(name, "failed", str(err)))
            self.deps.progress.step(name, f"FAILED: {err}")
            if lost.blocks(name, err, self.history):  # child: H4
                raise lost.StepBlocked(name, err) from err
            raise _StepFailed(name, err) from err
        self.journal.append(self.facts.run, "end", step=name, result="ok", detail=detail)
        self.completed[name] = detail
        summary = str(detail.get("summary", "ok"))
        self.steps.append(StepReport(name, "ok", summary))
        self.deps.progress.step(name, summary)
        return detail

    # -- steps

    def preflight(self) -> Mapping[str, Any]:
        spec, deps = self.spec, self.deps
        window = check_window(spec.window, deps.clock(), force=spec.force_window)
        info = snap.check_cluster_available(deps.rds, self.facts.cluster)
        self.cluster_info = info
        for change in self.facts.changes:
            self._check_version(change)
        self.terraform.init()
        return {
            "summary": f"cluster {info.identifier} available; versions exist; {window}; init ok",
            "cluster": info.identifier,
            "engine": info.engine,
            "subnet_group": info.subnet_group,
            "security_groups": list(info.security_groups),
        }

    def _check_version(self, change: PlannedChange) -> None:
        target_tag, previous_tag = tag_of(change.target), tag_of(change.previous)
        if change.repository is None:
            raise ConfigError(
                f"cannot check that {target_tag} exists: {change.name} is a bare tag; "
                f"pass --repository {change.name}=REPO"
            )
        if not self.deps.version_exists(change.repository, target_tag):
            raise UpdateError(f"{change.repository}:{target_tag} does not exist")
        if self.spec.allow_major:
            return
        try:
            major = self.deps.crosses_major(previous_tag, target_tag)
        except TagError as err:
            raise UpdateError(_not_comparable(change, previous_tag, target_tag, err)) from err
        if major:
            raise UpdateError(
                f"{change.name} {previous_tag} -> {target_tag} crosses a major version; pass --allow-major"
            )

    def snapshot(self) -> Mapping[str, Any]:
        facts = self.facts
        tags = {
            snap.TAG_FROM: ",".join(c.previous for c in facts.changes)[:256],
            snap.TAG_TO: ",".join(c.target for c in facts.changes)[:256],
            snap.TAG_RUN: facts.run,
        }
        result = snap.ensure_snapshot(
            self.deps.rds,
            cluster=facts.cluster,
            identifier=facts.snapshot,
            tags=tags,
            clock=self.deps.clock,
            sleep=self.deps.sleep,
            timeout=self.spec.snapshot_timeout,
            interval=self.spec.snapshot_interval,
            on_progress=lambda status, pct: self.deps.progress.status(
                "snapshot", f"{facts.snapshot} {status} {pct}%"
            ),
        )
        verb = "reused" if result.reused else "created"
        return {
            "summary": f"snapshot {result.identifier} {verb}, available",
            "arn": result.arn,
            "reused": result.reused,
        }

    def set_values(self, use: Use) -> Mapping[str, Any]:
        if self.facts.mode == "var":
            return {"summary": _passing(_variables(self.facts, use)), "changed": []}
        # One write per var-file for all of its variables: the file never holds a mix.
        by_file: dict[str, dict[str, str]] = {}
        for change in self.facts.changes:
            assert change.var_file is not None
            by_file.setdefault(change.var_file, {})[change.name] = change.value(use)
        changed: set[tuple[str, str]] = set()
        for var_file, values in by_file.items():
            changed.update((var_file, name) for name in self.deps.set_pin(Path(var_file), values))
        names = ", ".join(f"{c.name}={c.value(use)}" for c in self.facts.changes)
        return {
            "summary": f"var-file holds {names}",
            "changed": [c.name for c in self.facts.changes if (c.var_file, c.name) in changed],
        }

    def plan(self, use: Use) -> Mapping[str, Any]:
        plan_file = _plan_file(self.spec, self.facts.run)
        # Terraform writes -out through a symlink; one planted there must not redirect it.
        if Path(plan_file).is_symlink():
            raise UpdateError(f"refusing to follow the symlink {plan_file}")
        changes = self.terraform.plan(
            plan_file,
            variables=_variables(self.facts, use),
            var_files=[str(f) for f in self.spec.var_files],
        )
        step = "plan" if use == "target" else "rollback-plan"  # child: H5
        fresh = lost.fresh_plan_summary(step, self.history, changes)
        return {
            "summary": fresh or ("plan has changes" if changes else "plan has no changes"),
            "plan_file": plan_file,
            "changes": changes,
        }

    def apply(self) -> Mapping[str, Any]:
        status = snap.snapshot_status(self.deps.rds, self.facts.snapshot)
        state = "missing" if status is None else str(status.get("Status", "unknown"))
        if state != "available":
            raise UpdateError(
                f"refusing to apply: snapshot {self.facts.snapshot} is {state}, not available"
            )
        plan_file = Path(_plan_file(self.spec, self.facts.run))
        before = ecs_mod.record_deployments(self.spec, self.deps.ecs)  # journalled, for verify
        self.terraform.apply(str(plan_file))
        # A saved plan can hold sensitive values; once applied it has no further use.
        plan_file.unlink(missing_ok=True)
        return {"summary": "applied"} | ({} if before is None else {"ecs_deployments": before})

    def verify(self, after: str = "apply") -> Mapping[str, Any]:
        spec, deps = self.spec, self.deps
        parts = []
        if ecs_mod.checks_rollouts(spec):
            recorded = self.completed.get(after, {}).get("ecs_deployments")
            on_poll = lambda line: deps.progress.status("verify", f"waiting: {line}")  # noqa: E731
            deployed = ecs_mod.verify_rollouts(
                spec, deps.ecs, deps.elbv2, recorded, deps.sleep, on_poll
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
        return {"summary": "; ".join(parts) or "nothing to verify"}

    # -- the sequence

    def run(self) -> UpdateReport:
        try:  # child: H6, a blocked step leaves the run unfinished
            return self._run()
        except lost.StepBlocked as blocked:
            state = self._var_file_state()
            message = lost.unfinished_message(
                self._what(), blocked, self.history, state, self._snapshot_note()
            )
            return self._finish("unfinished", message)

    def _run(self) -> UpdateReport:
        rollback_note = next((n for n in self.notes if n.detail.get("action") == "rollback"), None)
        restore_note = next((n for n in self.notes if n.detail.get("action") == "restore"), None)
        if rollback_note is not None:
            return self._roll_back(
                str(rollback_note.step), str(rollback_note.detail.get("cause", "")), noted=True
            )
        if restore_note is not None:
            return self._restore(
                str(restore_note.step), str(restore_note.detail.get("cause", "")), noted=True
            )
        try:
            self._step("preflight", self.preflight)
            self._step("snapshot", self.snapshot)
            self._step("set-version", lambda: self.set_values("target"))
            self._step("plan", lambda: self.plan("target"), redo="apply" not in self.completed)
        except _StepFailed as failed:
            if "set-version" in self.completed or failed.step == "set-version":
                return self._restore(failed.step, str(failed.error))
            return self._finish(
                "failed",
                f"{self._what()} stopped at {failed.step}: {failed.error}; nothing was changed{self._snapshot_note()}",
            )
        try:
            self._step("apply", self.apply)
            self._step("verify", self.verify)
        except _StepFailed as failed:
            return self._roll_back(failed.step, str(failed.error))
        return self._finish(
            "succeeded",
            f"{self._what()} succeeded: {_moves(self.facts, 'target')}; snapshot {self.facts.snapshot}",
        )

    def _restore(self, step: str, cause: str, *, noted: bool = False) -> UpdateReport:
        if not noted:
            self.journal.append(
                self.facts.run, "note", step=step, detail={"action": "restore", "cause": cause}
            )
        try:
            self._step("restore-version", lambda: self.set_values("previous"))
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
                "rollback", f"{step} failed; rolling back to {_moves(self.facts, 'previous')}"
            )
        try:
            self._step("restore-version", lambda: self.set_values("previous"))
            self._step(
                "rollback-plan",
                lambda: self.plan("previous"),
                redo="rollback-apply" not in self.completed,
            )
            self._step("rollback-apply", self.apply)
            self._step("rollback-verify", lambda: self.verify("rollback-apply"))
        except _StepFailed as failed:
            return self._finish(
                "rollback-failed",
                f"{self._what()} failed at {step} ({cause}) and the roll-back failed at "
                f"{failed.step} ({failed.error}). "
                f"State: {self._var_file_state()}; the Terraform state may hold a partial apply of "
                f"{_moves(self.facts, 'target')}; "
                f"DB snapshot {self.facts.snapshot} (taken before any apply) is available. "
                f"Fix and re-apply by hand; restore the database only if it was damaged: {self._restore_command()}",
            )
        return self._finish(
            "rolled-back",
            f"{self._what()} failed at {step} ({cause}); "
            f"rolled back to {_moves(self.facts, 'previous')} and verified. "
            f"DB snapshot {self.facts.snapshot} is kept; "
            f"if the database was damaged restore it with: {self._restore_command()}",
        )

    # -- report

    def _what(self) -> str:
        return f"{self.facts.kind} {_moves(self.facts, 'target')}"

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
        if "snapshot" in self.completed:
            return f"; snapshot {self.facts.snapshot} was taken and is kept"
        return ""

    def _restore_command(self) -> str:
        info = self.cluster_info or snap.ClusterInfo(self.facts.cluster, "unknown", "")
        return snap.restore_command(self.facts.snapshot, info)

    def _finish(self, outcome: str, message: str) -> UpdateReport:
        snapshot_taken = "snapshot" in self.completed
        # child: H6, an unfinished run is noted, not finished (--resume continues it)
        event, note = ("note", {"action": "blocked"}) if outcome == "unfinished" else ("finish", {})
        self.journal.append(
            self.facts.run, event, result=outcome, detail={**note, "message": message}
        )
        self.deps.progress.step("done", message)
        return UpdateReport(
            run=self.facts.run,
            kind=self.facts.kind,
            outcome=outcome,
            message=message,
            cluster=self.facts.cluster,
            snapshot=self.facts.snapshot if snapshot_taken else None,
            changes=_change_reports(self.facts),
            steps=tuple(self.steps),
            restore_command=self._restore_command() if snapshot_taken else None,
            journal=str(self.journal.path),
        )


_SELECTORS = {
    SelectorKind.PARTIAL: "a partial version",
    SelectorKind.CONSTRAINT: "a version constraint",
    SelectorKind.LATEST: "the latest tag",
}


def _selector(tag: str) -> str | None:
    """What kind of selector ``tag`` is (``a partial version``...), None for a version or a plain tag."""
    try:
        return _SELECTORS.get(Selector.parse(tag).kind)
    except TagError:
        return None


def _not_comparable(change: PlannedChange, previous: str, target: str, err: TagError) -> str:
    """Why ``previous -> target`` cannot be checked for a major jump: selectors first, else the parse error."""
    if kind := _selector(previous):
        return (
            f"{change.name} holds the selector {previous} ({kind}), not a version, so there is no "
            f"current version to compare {target} with; pin {change.name} to the version it runs "
            "(a full MAJOR.MINOR.PATCH tag) first, or pass --allow-major to skip the comparison"
        )
    if kind := _selector(target):
        return (
            f"{change.name}: {target} is a selector ({kind}), not a version; "
            "give the exact version to deploy (a full MAJOR.MINOR.PATCH tag)"
        )
    return f"cannot compare {previous} and {target} ({err}); pass --allow-major to go ahead"


def _cluster_from(detail: Mapping[str, Any]) -> snap.ClusterInfo | None:
    if "engine" not in detail:
        return None
    return snap.ClusterInfo(
        identifier=str(detail.get("cluster", "")),
        status="available",
        engine=str(detail["engine"]),
        subnet_group=detail.get("subnet_group"),
        security_groups=tuple(detail.get("security_groups") or ()),
    )


def _poll_line(states: Sequence[UrlState], needed: int) -> str:
    return ", ".join(f"{s.url} {s.last} ({min(s.streak, needed)}/{needed})" for s in states)


def _change_reports(facts: _Facts) -> tuple[ChangeReport, ...]:
    return tuple(ChangeReport(c.name, c.previous, c.target, c.var_file) for c in facts.changes)


# --------------------------------------------------------------------------- entry point


def run_update(spec: UpdateSpec, deps: UpdateDeps) -> UpdateReport:
    """Run (or, with ``spec.dry_run``, describe) the update sequence; see the module docstring.

    Returns the report for every outcome the sequence handles (its
    ``exit_code`` says success or failure).  Raises RunlayerError for problems
    found before anything starts (bad spec, lock held, unfinished run without
    ``resume``); any other exception escapes untouched and leaves the journal
    ready for ``resume``.
    """
    if spec.dry_run:
        return _dry_run(spec, deps)
    journal_path = spec.journal_path
    with hold_lock(journal_path.parent / LOCK_NAME, deps.clock):
        history = last_run(read_journal(journal_path))
        journal = Journal(journal_path, deps.clock)
        if spec.resume:
            if history is None or history.finished or history.begin is None:
                raise UpdateError(
                    f"nothing to resume: journal {journal_path} has no unfinished run"
                )
            facts = _Facts.from_dict(history.run, history.begin.detail)
            _check_same_run(spec, facts)
            deps.progress.step(
                "resume",
                f"continuing {facts.run}; done before: {', '.join(history.completed) or 'nothing'}",
            )
            lost.wait_for_children(  # child: H7
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
        facts = _establish(spec, deps, deps.clock())
        if all(c.previous == c.target for c in facts.changes):
            return UpdateReport(
                run=facts.run,
                kind=facts.kind,
                outcome="unchanged",
                message=f"nothing to do: {', '.join(f'{c.name} is already {tag_of(c.target)}' for c in facts.changes)}",
                cluster=facts.cluster,
                snapshot=None,
                changes=_change_reports(facts),
                steps=(),
            )
        journal.append(facts.run, "begin", detail=facts.to_dict())
        if not _verifies(spec):
            deps.progress.step("verify", NOTHING_TO_VERIFY)
        return _Execution(spec, deps, facts, journal, None).run()


NOTHING_TO_VERIFY = (
    "warning: nothing will be verified after apply (no --health-url, --backend-url, "
    "--frontend-url, --service or --target-group): success will mean only that apply exited 0"
)


def _verifies(spec: UpdateSpec) -> bool:
    return bool(spec.health_urls or ecs_mod.checks_rollouts(spec))


def _check_same_run(spec: UpdateSpec, facts: _Facts) -> None:
    names = tuple(c.name for c in spec.changes)
    journalled = tuple(c.name for c in facts.changes)
    if spec.cluster != facts.cluster or names != journalled or spec.mode != facts.mode:
        raise UsageError(
            f"--resume must repeat the interrupted run's cluster and variables "
            f"({facts.cluster}, {', '.join(journalled)}, {facts.mode} mode)"
        )
    for change, planned in zip(spec.changes, facts.changes, strict=True):
        if (
            change.version is not None
            and target_value(planned.previous, change.version) != planned.target
        ):
            raise UsageError(
                f"--resume: the interrupted run sets {planned.name} to {planned.target}, not {change.version}"
            )


def _window_preview(spec: UpdateSpec, now: datetime) -> str:
    """What the window gate would decide now, without refusing (a dry run only reports)."""
    if spec.window is None:
        return "no maintenance window"
    try:
        return "window gate: " + check_window(spec.window, now, force=spec.force_window)
    except UpdateError as err:
        return f"window gate would refuse: {err}"


def _dry_run(spec: UpdateSpec, deps: UpdateDeps) -> UpdateReport:
    now = deps.clock()
    facts = _establish(spec, deps, now)
    tf = Terraform(binary=spec.terraform, workdir=spec.workdir, runner=deps.terraform_runner)
    plan_file = _plan_file(spec, facts.run)
    var_files = tuple(str(f) for f in spec.var_files)
    target_vars = _variables(facts, "target")

    def cmd(argv: Sequence[str]) -> str:
        return shlex.join(argv)

    checks = [_window_preview(spec, now)]
    checks += [
        f"check that {c.repository or '(repository unknown)'}:{tag_of(c.target)} exists"
        + (
            ""
            if spec.allow_major
            else f"; check that {tag_of(c.previous)} -> {tag_of(c.target)} is not a major jump"
        )
        for c in facts.changes
    ]
    if facts.mode == "set":
        setting = "; ".join(
            f"rewrite {c.name} in {c.var_file}: {c.previous} -> {c.target}" for c in facts.changes
        )
    else:
        setting = _passing(target_vars)
    verify = ecs_mod.planned_checks(spec)
    if spec.health_urls:
        verify.append(
            f"poll {', '.join(spec.health_urls)} until {spec.health_consecutive} consecutive 2xx "
            f"within {spec.health_deadline:.0f}s"
        )
    snapshot_cmd = cmd(
        [
            "aws",
            "rds",
            "create-db-cluster-snapshot",
            "--db-cluster-identifier",
            spec.cluster,
            "--db-cluster-snapshot-identifier",
            facts.snapshot,
        ]
    )
    steps = (
        StepReport(
            "preflight",
            "planned",
            f"check that DB cluster {spec.cluster} is available; "
            + "; ".join(checks)
            + f"; run: {cmd(tf.argv(Init()))} (in {spec.workdir})",
        ),
        StepReport(
            "snapshot",
            "planned",
            f"create snapshot {facts.snapshot} and wait until available (like: {snapshot_cmd})",
        ),
        StepReport("set-version", "planned", setting),
        StepReport(
            "plan", "planned", f"run: {cmd(tf.argv(Plan(plan_file, target_vars, var_files)))}"
        ),
        StepReport(
            "apply",
            "planned",
            f"check snapshot {facts.snapshot} is available, then run: {cmd(tf.argv(Apply(plan_file)))}",
        ),
        StepReport("verify", "planned", "; ".join(verify) or NOTHING_TO_VERIFY),
    )
    return UpdateReport(
        run=facts.run,
        kind=facts.kind,
        outcome="dry-run",
        message=f"dry run of {facts.kind} {_moves(facts, 'target')}: nothing was changed",
        cluster=spec.cluster,
        snapshot=facts.snapshot,
        changes=_change_reports(facts),
        steps=steps,
        journal=str(spec.journal_path),
    )
