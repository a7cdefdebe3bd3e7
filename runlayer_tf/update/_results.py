"""What each step returns: frozen values, journalled as the ``end`` record's detail.

:meth:`StepResult.detail` is the journal form (the same keys the journal has
always had, ``summary`` included); :meth:`StepResult.from_detail` reads it
back on ``--resume``, old journals included (a key missing there gets its
default).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from runlayer_tf.update import _snapshot as snap

__all__ = [
    "Applied",
    "Checked",
    "Planned",
    "SnapshotTaken",
    "StepResult",
    "ValuesSet",
    "Verified",
]


@attrs.frozen
class StepResult:
    """A step's outcome; ``summary`` is its line in the report."""

    summary: str

    def detail(self) -> dict[str, Any]:
        """The journal's form of this result."""
        return {"summary": self.summary}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> StepResult:
        """Read back a journalled result (any step's: only ``summary`` is read here)."""
        return StepResult(_summary(detail))


def _summary(detail: Mapping[str, Any]) -> str:
    return str(detail.get("summary", "ok"))


@attrs.frozen
class Checked(StepResult):
    """preflight: the cluster is available (its details make the restore command)."""

    cluster: snap.ClusterInfo | None = None

    def detail(self) -> dict[str, Any]:
        if self.cluster is None:
            return super().detail()
        info = self.cluster
        return {
            "summary": self.summary,
            "cluster": info.identifier,
            "engine": info.engine,
            "subnet_group": info.subnet_group,
            "security_groups": list(info.security_groups),
        }

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> Checked:
        if "engine" not in detail:
            return cls(_summary(detail))
        return cls(
            _summary(detail),
            snap.ClusterInfo(
                identifier=str(detail.get("cluster", "")),
                status="available",
                engine=str(detail["engine"]),
                subnet_group=detail.get("subnet_group"),
                security_groups=tuple(detail.get("security_groups") or ()),
            ),
        )


@attrs.frozen
class SnapshotTaken(StepResult):
    """snapshot: the snapshot is available (``reused`` when it existed already)."""

    arn: str = ""
    reused: bool = False

    def detail(self) -> dict[str, Any]:
        return {"summary": self.summary, "arn": self.arn, "reused": self.reused}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> SnapshotTaken:
        return cls(_summary(detail), str(detail.get("arn", "")), bool(detail.get("reused")))


@attrs.frozen
class ValuesSet(StepResult):
    """set-version, restore-version: the var-file holds the values; ``changed`` were rewritten."""

    changed: tuple[str, ...] = ()

    def detail(self) -> dict[str, Any]:
        return {"summary": self.summary, "changed": list(self.changed)}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> ValuesSet:
        return cls(_summary(detail), tuple(str(n) for n in detail.get("changed") or ()))


@attrs.frozen
class Planned(StepResult):
    """plan, rollback-plan: the saved plan and whether it has changes."""

    plan_file: str = ""
    changes: bool = False

    def detail(self) -> dict[str, Any]:
        return {"summary": self.summary, "plan_file": self.plan_file, "changes": self.changes}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> Planned:
        return cls(_summary(detail), str(detail.get("plan_file", "")), bool(detail.get("changes")))


def _deployments(raw: Mapping[str, Any] | None) -> Mapping[str, tuple[str, ...]] | None:
    if raw is None:
        return None
    return {str(k): tuple(str(i) for i in v) for k, v in raw.items()}


@attrs.frozen
class Applied(StepResult):
    """apply, rollback-apply: applied; each named ECS service's deployment ids before it."""

    ecs_deployments: Mapping[str, tuple[str, ...]] | None = attrs.field(
        default=None, converter=_deployments
    )

    def detail(self) -> dict[str, Any]:
        if self.ecs_deployments is None:
            return super().detail()
        deployments = {k: list(v) for k, v in self.ecs_deployments.items()}
        return {"summary": self.summary, "ecs_deployments": deployments}

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> Applied:
        raw = detail.get("ecs_deployments")
        return cls(_summary(detail), raw if isinstance(raw, Mapping) else None)


@attrs.frozen
class Verified(StepResult):
    """verify, rollback-verify: what was found deployed and healthy."""

    @classmethod
    def from_detail(cls, detail: Mapping[str, Any]) -> Verified:
        return cls(_summary(detail))
