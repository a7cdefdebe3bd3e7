"""The human report says each thing once; the success report names the snapshot and its restore command."""

from __future__ import annotations

from pathlib import Path

import pytest

from runlayer_tf.cli._update_report import format_report
from tests.unit.test_update_runbook import SNAPSHOT, World

RESTORE = (
    "aws rds restore-db-cluster-from-snapshot --db-cluster-identifier "
    f"anysource-production-restored --snapshot-identifier {SNAPSHOT} --engine aurora-postgresql"
)


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_success_says_it_once_and_names_the_snapshot_and_its_restore_command(world: World) -> None:
    report = world.run()
    text = format_report(report)
    lines = text.splitlines()
    assert lines[0] == "update backend_version=v1.3.0 succeeded"
    assert [line.split()[:2] for line in lines[1:7]] == [
        ["preflight", "ok"],
        ["snapshot", "ok"],
        ["set-version", "ok"],
        ["plan", "ok"],
        ["apply", "ok"],
        ["verify", "ok"],
    ]
    assert lines[7:] == [
        f"snapshot {SNAPSHOT} is kept; restore the database from it only if it was damaged:",
        f"  {report.restore_command}",
        f"journal: {report.journal}",
    ]
    assert report.restore_command is not None
    assert report.restore_command.startswith(RESTORE)
    assert text.count("succeeded") == 1
    assert text.count("restore-db-cluster-from-snapshot") == 1


def test_a_failure_before_apply_gives_its_error_once(world: World) -> None:
    world.tf.fail_next("plan", True)
    report = world.run()
    text = format_report(report)
    [failed] = [s for s in report.steps if s.status == "failed"]
    assert failed.name == "plan"
    assert text.count(failed.message) == 1
    assert text.splitlines()[0] == report.message
    assert f"  {'plan':<16} {'failed':<12} (above)" in text.splitlines()
    assert text.count(SNAPSHOT) == 2  # the snapshot step's row and the message's "is kept"
    assert "restore-db-cluster-from-snapshot" not in text  # nothing was applied


def test_a_roll_back_names_the_restore_command_once(world: World) -> None:
    world.health.bad = {"v1.3.0"}
    report = world.run()
    assert report.outcome == "rolled-back"
    text = format_report(report)
    assert text.count("restore-db-cluster-from-snapshot") == 1
    [failed] = [s for s in report.steps if s.status == "failed"]
    assert text.count(failed.message) == 1
    assert text.splitlines()[0] == report.message


def test_the_dry_run_header_is_its_message(world: World) -> None:
    report = world.run(dry_run=True)
    lines = format_report(report).splitlines()
    assert lines[0] == "dry run of update backend_version=v1.3.0: nothing was changed"
    assert lines[-1] == f"snapshot: {SNAPSHOT}"
