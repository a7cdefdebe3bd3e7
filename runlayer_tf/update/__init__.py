"""The update runbook as code: snapshot, set the version, plan, apply, verify, roll back.

Build an :class:`UpdateSpec` and an :class:`UpdateDeps` and call
:func:`run_update`.  The building blocks a script can use on its own are here
too: the snapshot (:func:`check_cluster_available`, :func:`ensure_snapshot`,
:func:`restore_command`), Terraform (:class:`Terraform`), health checks
(:func:`wait_healthy`), ECS (:func:`wait_stable` and the emergency
procedures), the maintenance window, the var-file rewriter
(:func:`read_vars`/:func:`set_vars`) and the journal.  AWS clients come from
:mod:`runlayer_tf.aws` (``aws.rds()``, ``aws.ecs()``).
"""

from __future__ import annotations

from runlayer_tf._compat import moved_names
from runlayer_tf.update._ecs import ServiceState, force_new_deployment, scale_bounce, wait_stable
from runlayer_tf.update._health import default_health_urls, urllib_get, wait_healthy
from runlayer_tf.update._journal import read_journal
from runlayer_tf.update._progress import Progress, SilentProgress, make_progress, redact
from runlayer_tf.update._registry import (
    RegistryLookups,
    conventional_repository,
    repository_defaults,
)
from runlayer_tf.update._runbook import (
    UpdateDeps,
    UpdateReport,
    UpdateSpec,
    VersionChange,
    run_update,
)
from runlayer_tf.update._signed import SignatureCheck
from runlayer_tf.update._snapshot import (
    DEFAULT_SNAPSHOT_TEMPLATE,
    check_cluster_available,
    ensure_snapshot,
    restore_command,
    snapshot_id,
)
from runlayer_tf.update._terraform import Terraform, find_binary, managing_tool, tool_of
from runlayer_tf.update._varfile import read_vars, set_vars
from runlayer_tf.update._window import MaintenanceWindow

__all__ = [
    "DEFAULT_SNAPSHOT_TEMPLATE",
    "MaintenanceWindow",
    "Progress",
    "RegistryLookups",
    "ServiceState",
    "SignatureCheck",
    "SilentProgress",
    "Terraform",
    "UpdateDeps",
    "UpdateReport",
    "UpdateSpec",
    "VersionChange",
    "check_cluster_available",
    "conventional_repository",
    "default_health_urls",
    "ensure_snapshot",
    "find_binary",
    "force_new_deployment",
    "make_progress",
    "managing_tool",
    "read_journal",
    "read_vars",
    "redact",
    "repository_defaults",
    "restore_command",
    "run_update",
    "scale_bounce",
    "set_vars",
    "snapshot_id",
    "tool_of",
    "urllib_get",
    "wait_healthy",
    "wait_stable",
]

# Names this package exported before the layout change: importable for one more release.
_DEPRECATED = {
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
        "runlayer_tf.update._runbook",
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
        "runlayer_tf.update._runbook",
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
    "StepReport": (
        "runlayer_tf.update._runbook",
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
        "runlayer_tf.update._runbook",
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
    "tag_of": ("runlayer_tf.update._runbook", "the documented API (runlayer_tf.update.__all__)"),
    "target_value": (
        "runlayer_tf.update._runbook",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "validate_snapshot_id": (
        "runlayer_tf.update._snapshot",
        "the documented API (runlayer_tf.update.__all__)",
    ),
    "EcsApi": ("runlayer_tf.aws", "runlayer_tf.aws.EcsApi"),
    "RdsApi": ("runlayer_tf.aws", "runlayer_tf.aws.RdsApi"),
}

__getattr__ = moved_names(__name__, _DEPRECATED)
