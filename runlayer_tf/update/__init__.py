"""The update runbook as code: snapshot, set the version, plan, apply, verify, roll back.

Build an :class:`UpdateSpec` (what to change, how to verify it) and an
:class:`UpdateDeps` (the AWS clients, registry look-ups, progress and the other
seams) and call :func:`run_update`; its :class:`UpdateReport` names the
outcome and every step (:class:`StepReport`, whose names are :class:`Step`).
The default var-file seams are :func:`read_vars`/:func:`set_vars`.  AWS clients
come from :mod:`runlayer_tf.aws` (``aws.rds()``, ``aws.ecs()``).

The building blocks the sequence is made of (the snapshot, Terraform, health
checks, ECS, the journal) are in :mod:`runlayer_tf.update.parts`, for a
script that runs its own sequence.
"""

from __future__ import annotations

from runlayer_tf._compat import moved_names
from runlayer_tf.update._progress import Progress, SilentProgress, make_progress
from runlayer_tf.update._registry import RegistryLookups
from runlayer_tf.update._report import StepReport, UpdateReport
from runlayer_tf.update._runbook import run_update
from runlayer_tf.update._spec import UpdateDeps, UpdateSpec, VersionChange
from runlayer_tf.update._steps import Step
from runlayer_tf.update._varfile import read_vars, set_vars
from runlayer_tf.update._window import MaintenanceWindow

__all__ = [
    "MaintenanceWindow",
    "Progress",
    "RegistryLookups",
    "SilentProgress",
    "Step",
    "StepReport",
    "UpdateDeps",
    "UpdateReport",
    "UpdateSpec",
    "VersionChange",
    "make_progress",
    "read_vars",
    "run_update",
    "set_vars",
]

# The building blocks, public in runlayer_tf.update.parts since the step tables (issue 11):
# importable from here for one more release (the list is parts.__all__, not a copy of it).
from runlayer_tf.update import parts as _parts

# Names this package exported before the layout change: importable for one more release.
_DEPRECATED: dict[str, tuple[str, str]] = {
    "BACKEND_HEALTH_PATH": (
        "runlayer_tf.update._health",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "FRONTEND_HEALTH_PATH": (
        "runlayer_tf.update._health",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "Apply": ("runlayer_tf.update._terraform", "the documented API (runlayer_tf.update.__all__)"),
    "ChangeReport": (
        "runlayer_tf.update._report",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "ClusterInfo": (
        "runlayer_tf.update._snapshot",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "Deployment": ("runlayer_tf.update._ecs", "the documented API (runlayer_tf.update.__all__)"),
    "HealthResult": (
        "runlayer_tf.update._health",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "HttpGet": ("runlayer_tf.update._health", "the documented API (runlayer_tf.update.__all__)"),
    "Init": ("runlayer_tf.update._terraform", "the documented API (runlayer_tf.update.__all__)"),
    "Journal": ("runlayer_tf.update._journal", "the documented API (runlayer_tf.update.__all__)"),
    "LockHolder": (
        "runlayer_tf.update._journal",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "PlainProgress": (
        "runlayer_tf.update._progress",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "Plan": ("runlayer_tf.update._terraform", "the documented API (runlayer_tf.update.__all__)"),
    "PlannedChange": (
        "runlayer_tf.update._facts",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "Record": ("runlayer_tf.update._journal", "the documented API (runlayer_tf.update.__all__)"),
    "RunResult": (
        "runlayer_tf.update._terraform",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "ScaleBounce": ("runlayer_tf.update._ecs", "the documented API (runlayer_tf.update.__all__)"),
    "SnapshotResult": (
        "runlayer_tf.update._snapshot",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "TtyProgress": (
        "runlayer_tf.update._progress",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "WeekTime": ("runlayer_tf.update._window", "the documented API (runlayer_tf.update.__all__)"),
    "build_argv": (
        "runlayer_tf.update._terraform",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "check_window": (
        "runlayer_tf.update._window",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "describe_services": (
        "runlayer_tf.update._ecs",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "hold_lock": ("runlayer_tf.update._journal", "the documented API (runlayer_tf.update.__all__)"),
    "last_run": ("runlayer_tf.update._journal", "the documented API (runlayer_tf.update.__all__)"),
    "previous_release_in": (
        "runlayer_tf.update._registry",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "repository_of": (
        "runlayer_tf.update._spec",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "run_command": (
        "runlayer_tf.update._terraform",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "split_repository": (
        "runlayer_tf.update._registry",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "tag_of": ("runlayer_tf.update._spec", "the documented API (runlayer_tf.update.__all__)"),
    "target_value": (
        "runlayer_tf.update._spec",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "validate_snapshot_id": (
        "runlayer_tf.update._snapshot",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "EcsApi": ("runlayer_tf.aws", "runlayer_tf.aws.EcsApi"),
    "RdsApi": ("runlayer_tf.aws", "runlayer_tf.aws.RdsApi"),
}

_DEPRECATED.update(
    (name, ("runlayer_tf.update.parts", f"runlayer_tf.update.parts.{name}"))
    for name in _parts.__all__
)

__getattr__ = moved_names(__name__, _DEPRECATED)
