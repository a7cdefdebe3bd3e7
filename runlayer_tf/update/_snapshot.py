"""The Aurora cluster snapshot taken before an update, and the command that restores it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from runlayer_tf import aws
from runlayer_tf.aws import RdsApi
from runlayer_tf.errors import ConfigError, UpdateError

__all__ = [
    "DEFAULT_SNAPSHOT_TEMPLATE",
    "ClusterInfo",
    "RdsApi",
    "SnapshotResult",
    "check_cluster_available",
    "create_command",
    "create_request",
    "describe_cluster",
    "ensure_snapshot",
    "restore_command",
    "snapshot_id",
    "snapshot_status",
    "validate_snapshot_id",
]

DEFAULT_SNAPSHOT_TEMPLATE = "backup-before-update-{utc:%Y%m%d-%H%M%S}"
TAG_FROM = "runlayer-tf:from-version"
TAG_TO = "runlayer-tf:to-version"
TAG_RUN = "runlayer-tf:run"


_ID_CHARS = re.compile(r"[A-Za-z][A-Za-z0-9-]*")


def validate_snapshot_id(identifier: str) -> str:
    """Check the RDS rules for a DB cluster snapshot identifier; returns it lower-cased.

    1-255 letters, digits or hyphens, starting with a letter, not ending with a
    hyphen, no two hyphens in a row.  RDS stores identifiers lower-case, so the
    journal and the report use that form.  Raises ConfigError.
    """
    problem = None
    if not 1 <= len(identifier) <= 255:
        problem = "must be 1 to 255 characters"
    elif not _ID_CHARS.fullmatch(identifier):
        problem = "must start with a letter and hold only letters, digits and hyphens"
    elif identifier.endswith("-"):
        problem = "must not end with a hyphen"
    elif "--" in identifier:
        problem = "must not contain two consecutive hyphens"
    if problem:
        raise ConfigError(f"bad DB cluster snapshot identifier {identifier!r}: {problem}")
    return identifier.lower()


def snapshot_id(template: str, *, now: datetime, cluster: str) -> str:
    """Expand ``template`` (fields ``{utc:...}`` and ``{cluster}``) and validate the result."""
    try:
        text = template.format(utc=now.astimezone(timezone.utc), cluster=cluster)
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"bad snapshot template {template!r}: only {{utc:FORMAT}} and {{cluster}} are known"
        ) from err
    return validate_snapshot_id(text)


@attrs.frozen
class ClusterInfo:
    """What the update needs to know about the Aurora cluster."""

    identifier: str
    status: str
    engine: str
    subnet_group: str | None = None
    security_groups: tuple[str, ...] = ()


def describe_cluster(rds: RdsApi, cluster: str) -> ClusterInfo:
    """Describe ``cluster``; raises UpdateError (or AuthError) when it cannot."""
    with aws.translated(f"describing DB cluster {cluster}"):
        answer = rds.describe_db_clusters(DBClusterIdentifier=cluster)
    clusters = answer.get("DBClusters") or []
    if not clusters:
        raise UpdateError(f"DB cluster {cluster} not found")
    found = clusters[0]
    return ClusterInfo(
        identifier=str(found.get("DBClusterIdentifier", cluster)),
        status=str(found.get("Status", "unknown")),
        engine=str(found.get("Engine", "")),
        subnet_group=found.get("DBSubnetGroup") or None,
        security_groups=tuple(
            str(group["VpcSecurityGroupId"])
            for group in found.get("VpcSecurityGroups", [])
            if "VpcSecurityGroupId" in group
        ),
    )


def check_cluster_available(rds: RdsApi, cluster: str) -> ClusterInfo:
    """Describe ``cluster`` and insist it is ``available``; raises UpdateError."""
    info = describe_cluster(rds, cluster)
    if info.status != "available":
        raise UpdateError(f"DB cluster {cluster} is {info.status}, not available")
    return info


@attrs.frozen
class SnapshotResult:
    """A snapshot that is ``available``; ``reused`` when it existed before this call."""

    identifier: str
    cluster: str
    arn: str
    reused: bool


def snapshot_status(rds: RdsApi, identifier: str) -> Mapping[str, Any] | None:
    """The snapshot's description, or None when no snapshot has that id."""
    try:
        with aws.translated(f"describing snapshot {identifier}"):
            answer = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)
    except UpdateError as err:
        if aws.aws_code(err) == "DBClusterSnapshotNotFoundFault":
            return None
        raise
    snapshots = answer.get("DBClusterSnapshots") or []
    return snapshots[0] if snapshots else None


# The request's identifiers and their aws CLI options, in the order the CLI line names them.
_CREATE_OPTIONS = (
    ("DBClusterIdentifier", "--db-cluster-identifier"),
    ("DBClusterSnapshotIdentifier", "--db-cluster-snapshot-identifier"),
)


def create_request(cluster: str, identifier: str, tags: Mapping[str, str]) -> dict[str, Any]:
    """The ``CreateDBClusterSnapshot`` request :func:`ensure_snapshot` sends."""
    return {
        "DBClusterSnapshotIdentifier": identifier,
        "DBClusterIdentifier": cluster,
        "Tags": [{"Key": key, "Value": value} for key, value in tags.items()],
    }


def create_command(cluster: str, identifier: str) -> str:
    """The ``aws rds create-db-cluster-snapshot`` line of that request (without its tags)."""
    request = create_request(cluster, identifier, {})
    argv = ["aws", "rds", "create-db-cluster-snapshot"]
    for key, option in _CREATE_OPTIONS:
        argv += [option, str(request[key])]
    return shlex.join(argv)


def ensure_snapshot(
    rds: RdsApi,
    *,
    cluster: str,
    identifier: str,
    tags: Mapping[str, str],
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    timeout: float = 3600.0,
    interval: float = 15.0,
    on_progress: Callable[[str, int], None] = lambda status, percent: None,
) -> SnapshotResult:
    """Make sure snapshot ``identifier`` of ``cluster`` exists and is ``available``.

    Reuses a snapshot that already has the id (tagging it), creates one
    otherwise, then polls until it is ``available``, calling ``on_progress``
    with its status and PercentProgress.  Raises UpdateError on failure, on a
    snapshot of another cluster, or after ``timeout`` seconds.
    """
    tag_list = [{"Key": key, "Value": value} for key, value in tags.items()]
    existing = snapshot_status(rds, identifier)
    reused = existing is not None
    if existing is None:
        with aws.translated(f"creating snapshot {identifier} of DB cluster {cluster}"):
            created = rds.create_db_cluster_snapshot(**create_request(cluster, identifier, tags))
        current: Mapping[str, Any] = created.get("DBClusterSnapshot") or {}
    else:
        current = existing
        owner = str(existing.get("DBClusterIdentifier", cluster))
        if owner.lower() != cluster.lower():
            raise UpdateError(
                f"snapshot {identifier} already exists for DB cluster {owner}, not {cluster}"
            )
        arn = str(existing.get("DBClusterSnapshotArn", ""))
        if arn:
            with aws.translated(f"tagging snapshot {identifier}"):
                rds.add_tags_to_resource(ResourceName=arn, Tags=tag_list)
    deadline = clock().timestamp() + timeout
    while True:
        status = str(current.get("Status", "creating"))
        on_progress(status, int(current.get("PercentProgress", 0) or 0))
        if status == "available":
            return SnapshotResult(
                identifier, cluster, str(current.get("DBClusterSnapshotArn", "")), reused
            )
        if status in ("failed", "deleting", "incompatible-restore"):
            raise UpdateError(f"snapshot {identifier} is {status}")
        if clock().timestamp() >= deadline:
            raise UpdateError(f"snapshot {identifier} still {status} after {timeout:.0f}s")
        sleep(interval)
        polled = snapshot_status(rds, identifier)
        if polled is None:
            raise UpdateError(f"snapshot {identifier} disappeared while being created")
        current = polled


def restore_command(
    snapshot: str,
    cluster: ClusterInfo,
    *,
    new_cluster: str | None = None,
) -> str:
    """The ``aws rds restore-db-cluster-from-snapshot`` command a human runs to restore ``snapshot``.

    Restoring creates a new cluster (``<cluster>-restored`` unless named); it is
    printed, never run.
    """
    argv = [
        "aws",
        "rds",
        "restore-db-cluster-from-snapshot",
        "--db-cluster-identifier",
        new_cluster or f"{cluster.identifier}-restored",
        "--snapshot-identifier",
        snapshot,
        "--engine",
        cluster.engine or "ENGINE",
    ]
    if cluster.subnet_group:
        argv += ["--db-subnet-group-name", cluster.subnet_group]
    if cluster.security_groups:
        argv += ["--vpc-security-group-ids", *cluster.security_groups]
    return shlex.join(argv)
