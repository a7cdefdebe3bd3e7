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
from runlayer_tf.update._snapshot import (
    DEFAULT_SNAPSHOT_TEMPLATE,
    check_cluster_available,
    ensure_snapshot,
    restore_command,
    snapshot_id,
)
from runlayer_tf.update._terraform import Terraform, find_binary
from runlayer_tf.update._varfile import read_vars, set_vars
from runlayer_tf.update._window import MaintenanceWindow

__all__ = [
    "DEFAULT_SNAPSHOT_TEMPLATE",
    "MaintenanceWindow",
    "Progress",
    "RegistryLookups",
    "ServiceState",
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
    "read_journal",
    "read_vars",
    "redact",
    "repository_defaults",
    "restore_command",
    "run_update",
    "scale_bounce",
    "set_vars",
    "snapshot_id",
    "urllib_get",
    "wait_healthy",
    "wait_stable",
]
