"""A run's facts: fixed at its start, journalled, read back by ``--resume``.

:func:`establish` turns a spec into :class:`Facts` (which variable moves from
what to what, in which var-file, the run id and the snapshot id);
:func:`check_same_run` holds a ``--resume`` to the journalled facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs

from runlayer_tf.errors import ConfigError, PinError, UpdateError, UsageError
from runlayer_tf.update import _snapshot as snap
from runlayer_tf.update._spec import (
    UpdateDeps,
    UpdateSpec,
    Use,
    repository_of,
    tag_of,
    target_value,
)

__all__ = [
    "Facts",
    "PlannedChange",
    "check_same_run",
    "establish",
    "moves",
    "passing",
    "plan_file",
    "variables",
]


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
class Facts:
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
    def from_dict(cls, run: str, raw: Mapping[str, Any]) -> Facts:
        return cls(
            run=run,
            kind=str(raw["kind"]),
            cluster=str(raw["cluster"]),
            mode=str(raw["mode"]),
            snapshot=str(raw["snapshot"]),
            changes=tuple(PlannedChange(**c) for c in raw["changes"]),
        )


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


def establish(spec: UpdateSpec, deps: UpdateDeps, now: datetime) -> Facts:
    """The facts of a new run of ``spec`` started at ``now``; raises for a spec that cannot run."""
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
    return Facts(run, spec.kind, spec.cluster, spec.mode, snapshot_id, tuple(planned))


def check_same_run(spec: UpdateSpec, facts: Facts) -> None:
    """Refuse a ``--resume`` whose cluster, variables, mode or versions differ from the journal's."""
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


def plan_file(spec: UpdateSpec, run: str) -> str:
    """Where the run's saved plan goes (next to the journal)."""
    # The directory resolved, not the file: a symlink planted at the file must stay visible.
    return str(spec.journal_path.parent.resolve() / f"{run}.tfplan")


def variables(facts: Facts, use: Use) -> tuple[tuple[str, str], ...]:
    """The ``-var`` pairs of plan: none in ``set`` mode (the var-file holds the values)."""
    if facts.mode != "var":
        return ()
    return tuple((c.name, c.value(use)) for c in facts.changes)


def passing(pairs: Sequence[tuple[str, str]]) -> str:
    """``pass -var=NAME=VALUE ...``"""
    return "pass " + " ".join(f"-var={n}={v}" for n, v in pairs)


def moves(facts: Facts, use: Use) -> str:
    """``NAME=TAG, ...`` of the previous or the target values."""
    return ", ".join(f"{c.name}={tag_of(c.value(use))}" for c in facts.changes)
