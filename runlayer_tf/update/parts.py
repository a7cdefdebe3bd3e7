"""The update runbook's building blocks, for a script that runs its own sequence.

:func:`runlayer_tf.update.run_update` runs them all in order; a script (such
as ``examples/python/update_example.py``) or a command can use them one by
one: the DB snapshot (:func:`check_cluster_available`, :func:`snapshot_id`,
:func:`ensure_snapshot`, :func:`restore_command`), Terraform
(:class:`Terraform`, :func:`find_binary`, :func:`managing_tool`,
:func:`tool_of`), health checks (:func:`default_health_urls`,
:func:`wait_healthy`, :func:`urllib_get`), ECS (:func:`wait_stable` and the
emergency procedures :func:`force_new_deployment`, :func:`scale_bounce`), the
repositories variables follow (:func:`conventional_repository`,
:func:`repository_defaults`), the journal (:func:`read_journal`), what an interrupted run leaves
(:func:`interrupted_run`, :func:`interrupted_summary`) and secret
masking (:func:`redact`).
"""

from __future__ import annotations

from runlayer_tf.update._ecs import ServiceState, force_new_deployment, scale_bounce, wait_stable
from runlayer_tf.update._health import default_health_urls, urllib_get, wait_healthy
from runlayer_tf.update._interrupt import interrupted_run, interrupted_summary
from runlayer_tf.update._journal import read_journal
from runlayer_tf.update._registry import conventional_repository, repository_defaults
from runlayer_tf.update._secrets import redact
from runlayer_tf.update._signed import SignatureCheck
from runlayer_tf.update._snapshot import (
    DEFAULT_SNAPSHOT_TEMPLATE,
    check_cluster_available,
    ensure_snapshot,
    restore_command,
    snapshot_id,
)
from runlayer_tf.update._terraform import Terraform, find_binary, managing_tool, tool_of

__all__ = [
    "DEFAULT_SNAPSHOT_TEMPLATE",
    "ServiceState",
    "SignatureCheck",
    "Terraform",
    "check_cluster_available",
    "conventional_repository",
    "default_health_urls",
    "ensure_snapshot",
    "find_binary",
    "force_new_deployment",
    "interrupted_run",
    "interrupted_summary",
    "managing_tool",
    "read_journal",
    "redact",
    "repository_defaults",
    "restore_command",
    "scale_bounce",
    "snapshot_id",
    "tool_of",
    "urllib_get",
    "wait_healthy",
    "wait_stable",
]
