"""The pre-update cluster snapshot: identifiers, create/reuse/wait, error translation, the restore command."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from update_fakes import FakeClock, FakeRds, client_error

from runlayer_tf.errors import AuthError, ConfigError, UpdateError
from runlayer_tf.update._snapshot import (
    DEFAULT_SNAPSHOT_TEMPLATE,
    ClusterInfo,
    check_cluster_available,
    describe_cluster,
    ensure_snapshot,
    restore_command,
    snapshot_id,
    validate_snapshot_id,
)

TAGS = {"runlayer-tf:from-version": "v1.2.3", "runlayer-tf:to-version": "v1.3.0"}


def snapshot(
    rds: FakeRds,
    clock: FakeClock,
    *,
    cluster: str = "anysource-production",
    tags: dict[str, str] | None = None,
    **options: Any,
) -> Any:
    """``ensure_snapshot`` of ``snap-1`` on the fake RDS with the fake clock (tags default to none)."""
    return ensure_snapshot(
        rds,
        cluster=cluster,
        identifier="snap-1",
        tags=tags or {},
        clock=clock,
        sleep=clock.sleep,
        **options,
    )


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ("a", "a"),
        ("Backup-Before-Update-20241213", "backup-before-update-20241213"),
        ("x" * 255, "x" * 255),
        ("s1-2-3", "s1-2-3"),
    ],
)
def test_valid_identifiers(identifier: str, expected: str) -> None:
    assert validate_snapshot_id(identifier) == expected


@pytest.mark.parametrize(
    ("identifier", "problem"),
    [
        ("", "must be 1 to 255 characters"),
        ("x" * 256, "must be 1 to 255 characters"),
        ("1backup", "must start with a letter"),
        ("backup_1", "hold only letters, digits and hyphens"),
        ("backup.v1", "hold only letters, digits and hyphens"),
        ("backup-", "must not end with a hyphen"),
        ("backup--1", "must not contain two consecutive hyphens"),
    ],
)
def test_invalid_identifiers(identifier: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        validate_snapshot_id(identifier)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (DEFAULT_SNAPSHOT_TEMPLATE, "backup-before-update-20241213-152430"),
        ("{cluster}-pre-{utc:%Y%m%d}", "anysource-production-pre-20241213"),
    ],
)
def test_snapshot_id_from_template(template: str, expected: str) -> None:
    now = datetime(2024, 12, 13, 15, 24, 30, tzinfo=timezone.utc)
    assert snapshot_id(template, now=now, cluster="anysource-production") == expected


def test_snapshot_id_unknown_field() -> None:
    with pytest.raises(ConfigError, match=r"only \{utc:FORMAT\} and \{cluster\} are known"):
        snapshot_id("snap-{version}", now=datetime(2024, 1, 1, tzinfo=timezone.utc), cluster="c")


def test_creates_waits_and_reports_progress() -> None:
    rds, clock = FakeRds(), FakeClock()
    rds.polls_to_available = 3
    seen: list[tuple[str, int]] = []
    result = snapshot(
        rds,
        clock,
        tags=TAGS,
        interval=10,
        on_progress=lambda status, pct: seen.append((status, pct)),
    )
    assert (result.identifier, result.reused) == ("snap-1", False)
    assert result.arn == "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:snap-1"
    assert seen == [("creating", 0), ("creating", 50), ("creating", 50), ("available", 100)]
    assert clock.slept == [10, 10, 10]
    assert rds.snapshots["snap-1"]["Tags"] == TAGS
    assert (
        rds.call_names()
        == ["describe_db_cluster_snapshots", "create_db_cluster_snapshot"]
        + ["describe_db_cluster_snapshots"] * 3
    )


def test_reuses_an_available_snapshot_and_tags_it() -> None:
    rds, clock = FakeRds(), FakeClock()
    snapshot(rds, clock)
    rds.calls.clear()
    result = snapshot(rds, clock, tags=TAGS)
    assert result.reused is True
    assert rds.call_names() == ["describe_db_cluster_snapshots", "add_tags_to_resource"]
    assert rds.snapshots["snap-1"]["Tags"] == TAGS


def test_refuses_a_snapshot_of_another_cluster() -> None:
    rds, clock = FakeRds(), FakeClock()
    snapshot(rds, clock)
    with pytest.raises(
        UpdateError,
        match=r"^snapshot snap-1 already exists for DB cluster anysource-production, not staging$",
    ):
        snapshot(rds, clock, cluster="staging")


def test_times_out() -> None:
    rds, clock = FakeRds(), FakeClock()
    rds.polls_to_available = 100
    with pytest.raises(UpdateError, match=r"^snapshot snap-1 still creating after 60s$"):
        snapshot(rds, clock, timeout=60, interval=15)
    assert clock.slept == [15, 15, 15, 15]


def test_failed_snapshot() -> None:
    rds, clock = FakeRds(), FakeClock()
    snapshot(rds, clock)
    rds.snapshots["snap-1"]["Status"] = "failed"
    with pytest.raises(UpdateError, match=r"^snapshot snap-1 is failed$"):
        snapshot(rds, clock)


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        (
            "AccessDenied",
            AuthError,
            "creating snapshot snap-1 of DB cluster anysource-production: "
            "AWS refused the credentials (AccessDenied: not allowed)",
        ),
        (
            "InvalidDBClusterStateFault",
            UpdateError,
            "creating snapshot snap-1 of DB cluster anysource-production: InvalidDBClusterStateFault: not allowed",
        ),
    ],
)
def test_client_errors_are_translated(code: str, error: type[Exception], message: str) -> None:
    rds, clock = FakeRds(), FakeClock()
    rds.fail_create = client_error(code, "not allowed", "CreateDBClusterSnapshot")
    with pytest.raises(error) as caught:
        snapshot(rds, clock)
    assert type(caught.value) is error
    assert str(caught.value) == message


def test_cluster_checks() -> None:
    rds = FakeRds()
    assert describe_cluster(rds, "anysource-production") == ClusterInfo(
        "anysource-production",
        "available",
        "aurora-postgresql",
        "anysource-db-subnets",
        ("sg-0123",),
    )
    with pytest.raises(
        UpdateError,
        match=r"^describing DB cluster nope: DBClusterNotFoundFault: DBCluster nope not found.$",
    ):
        check_cluster_available(rds, "nope")
    rds.cluster_status = "backing-up"
    with pytest.raises(
        UpdateError, match=r"^DB cluster anysource-production is backing-up, not available$"
    ):
        check_cluster_available(rds, "anysource-production")


@pytest.mark.parametrize(
    ("cluster", "new_name", "command"),
    [
        (
            ClusterInfo("prod", "available", "aurora-postgresql", "subnets", ("sg-1", "sg-2")),
            None,
            "aws rds restore-db-cluster-from-snapshot --db-cluster-identifier prod-restored "
            "--snapshot-identifier snap-1 "
            "--engine aurora-postgresql --db-subnet-group-name subnets --vpc-security-group-ids sg-1 sg-2",
        ),
        (
            ClusterInfo("prod", "available", "aurora-mysql"),
            "prod-b",
            (
                "aws rds restore-db-cluster-from-snapshot --db-cluster-identifier prod-b "
                "--snapshot-identifier snap-1 --engine aurora-mysql"
            ),
        ),
    ],
)
def test_restore_command(cluster: ClusterInfo, new_name: str | None, command: str) -> None:
    assert restore_command("snap-1", cluster, new_cluster=new_name) == command
