"""The runbook's step tables drive the run, the dry run and --resume; resume re-asserts the journal's values."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Any

import attrs
import pytest

from runlayer_tf.errors import UpdateError
from runlayer_tf.update import _runbook as runbook
from runlayer_tf.update import _snapshot as snap
from runlayer_tf.update._results import (
    Applied,
    Checked,
    Planned,
    SnapshotTaken,
    StepResult,
    ValuesSet,
    Verified,
)
from runlayer_tf.update._steps import FORWARD, RESTORE, ROLLBACK, OnFailure, Procedure, Step
from tests.fakes.faults import FAULTS, Fault
from tests.fakes.update import Killed
from tests.unit.test_update_runbook import SNAPSHOT, VARS_NEW, VARS_OLD, World

JOURNAL_NAMES = [
    "preflight",
    "snapshot",
    "set-version",
    "plan",
    "apply",
    "verify",
    "restore-version",
    "rollback-plan",
    "rollback-apply",
    "rollback-verify",
]


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def _rows(procedure: Procedure) -> list[str]:
    return [row.step.value for row in procedure.steps]


def test_the_step_names_are_the_journal_strings() -> None:
    assert [step.value for step in Step] == JOURNAL_NAMES
    assert [Step(name) for name in JOURNAL_NAMES] == list(Step)
    assert (Step.SET_VERSION == "set-version", str(Step.PLAN), f"{Step.APPLY:<7}|") == (
        True,
        "plan",
        "apply  |",
    )
    assert _rows(FORWARD) == JOURNAL_NAMES[:6]
    assert _rows(RESTORE) == ["restore-version"]
    assert _rows(ROLLBACK) == JOURNAL_NAMES[6:]


def test_what_a_failure_means_is_declared_per_step() -> None:
    meanings = {row.step.value: row.on_failure for p in (FORWARD, ROLLBACK) for row in p.steps}
    assert meanings == {
        "preflight": OnFailure.NOTHING_CHANGED,
        "snapshot": OnFailure.NOTHING_CHANGED,
        "set-version": OnFailure.RESTORE_FILE,
        "plan": OnFailure.RESTORE_FILE,
        "apply": OnFailure.ROLL_BACK,
        "verify": OnFailure.ROLL_BACK,
        "restore-version": OnFailure.FIND_OUT,
        "rollback-plan": OnFailure.FIND_OUT,
        "rollback-apply": OnFailure.FIND_OUT,
        "rollback-verify": OnFailure.FIND_OUT,
    }


# --------------------------------------------------------------------------- the dry run


def test_the_dry_run_lists_every_forward_step_in_order(world: World) -> None:
    report = world.run(dry_run=True)
    assert [(s.name, s.status) for s in report.steps] == [(n, "planned") for n in _rows(FORWARD)]


def test_the_dry_run_prints_each_rows_own_description(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change a row's description in the table and the dry run prints the new one."""
    rows = tuple(
        attrs.evolve(row, describe=lambda ctx, name=row.step.value: f"described by the {name} row")
        for row in FORWARD.steps
    )
    monkeypatch.setattr(runbook, "FORWARD", attrs.evolve(FORWARD, steps=rows))
    report = world.run(dry_run=True)
    assert [s.message for s in report.steps] == [
        f"described by the {name} row" for name in _rows(FORWARD)
    ]


def test_the_dry_runs_snapshot_command_is_the_request_the_run_sends(world: World) -> None:
    sent: list[dict[str, Any]] = []
    create = world.rds.create_db_cluster_snapshot

    def recording_create(**request: Any) -> Any:
        sent.append(request)
        return create(**request)

    world.rds.create_db_cluster_snapshot = recording_create  # type: ignore[method-assign]
    described = {s.name: s.message for s in world.run(dry_run=True).steps}["snapshot"]
    assert world.run().outcome == "succeeded"
    [request] = sent
    assert request == snap.create_request(
        "anysource-production", SNAPSHOT, {t["Key"]: t["Value"] for t in request["Tags"]}
    )
    command = shlex.split(described.partition("(like: ")[2].rstrip(")"))
    assert command == [
        "aws",
        "rds",
        "create-db-cluster-snapshot",
        "--db-cluster-identifier",
        request["DBClusterIdentifier"],
        "--db-cluster-snapshot-identifier",
        request["DBClusterSnapshotIdentifier"],
    ]


# --------------------------------------------------------------------------- failure meanings


AFTER_FAILURE = {
    OnFailure.NOTHING_CHANGED: [],
    OnFailure.RESTORE_FILE: _rows(RESTORE),
    OnFailure.ROLL_BACK: _rows(ROLLBACK),
    OnFailure.FIND_OUT: [],
}


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_the_fault_tables_steps_follow_from_the_failed_steps_meaning(fault: Fault) -> None:
    """What follows a fault's failed forward step is what that step's row says its failure means."""
    names = [name for name, _ in fault.steps]
    failed = next(i for i, (_, status) in enumerate(fault.steps) if status == "failed")
    row = next(r for r in FORWARD.steps if r.step == names[failed])
    expected = AFTER_FAILURE[row.on_failure]
    assert names[failed + 1 :] == expected[: len(names) - failed - 1]
    recovery_failed = any(status == "failed" for _, status in fault.steps[failed + 1 :])
    assert names[failed + 1 :] == expected or recovery_failed


@pytest.mark.parametrize(
    ("meaning", "outcome", "after", "var_file"),
    [
        (OnFailure.ROLL_BACK, "rolled-back", _rows(ROLLBACK), VARS_OLD),
        (OnFailure.RESTORE_FILE, "failed", ["restore-version"], VARS_OLD),
        (OnFailure.NOTHING_CHANGED, "failed", [], VARS_NEW),
        (OnFailure.FIND_OUT, "failed", [], VARS_NEW),
    ],
)
def test_the_failed_steps_row_decides_restore_or_roll_back(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    meaning: OnFailure,
    outcome: str,
    after: list[str],
    var_file: str,
) -> None:
    """The same failed apply, under each meaning its row could declare."""
    rows = tuple(
        attrs.evolve(row, on_failure=meaning) if row.step is Step.APPLY else row
        for row in FORWARD.steps
    )
    monkeypatch.setattr(runbook, "FORWARD", attrs.evolve(FORWARD, steps=rows))
    world.inject("apply-fails")
    report = world.run()
    names = [s.name for s in report.steps]
    assert (report.outcome, names[names.index("apply") + 1 :]) == (outcome, after)
    assert world.var_file.read_text() == var_file
    if meaning is OnFailure.FIND_OUT:
        assert "what the Terraform state holds is unknown: run plan to find out" in report.message


# --------------------------------------------------------------------------- results


@pytest.mark.parametrize(
    "result",
    [
        Checked(
            "cluster ok",
            snap.ClusterInfo("db", "available", "aurora-postgresql", "subnets", ("sg-1",)),
        ),
        Checked("cluster ok"),
        SnapshotTaken("snapshot taken", "arn:aws:rds:x", True),
        ValuesSet("var-file holds x=v2", ("x",)),
        Planned("plan has changes", "/w/.runlayer/r.tfplan", True),
        Applied("applied", {"backend-service": ("ecs-svc/1", "ecs-svc/2")}),
        Applied("applied"),
        Verified("2 health URL(s) answered 2xx 3x"),
    ],
    ids=lambda r: type(r).__name__,
)
def test_a_result_reads_back_from_its_journal_form(result: StepResult) -> None:
    detail = json.loads(json.dumps(result.detail()))
    assert detail["summary"] == result.summary
    assert type(result).from_detail(detail) == result
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        result.summary = "changed"  # type: ignore[misc]


def test_an_old_journal_still_parses_and_resumes(world: World) -> None:
    """Lines as the runbook wrote them before the step tables (killed during apply) resume."""
    world.tf.kill_on.add("apply")
    with pytest.raises(Killed):
        world.run()
    plan_file = world.workdir.resolve() / ".runlayer" / "update-20260301T053000Z.tfplan"
    run = '"run": "update-20260301T053000Z", "ts": "2026-03-01T05:30:00+00:00"'
    old = [
        '{"detail": {"changes": [{"name": "backend_version", "previous": "v1.2.3", "repository": '
        '"170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production", "target": "v1.3.0", '
        f'"var_file": "{world.var_file}"}}], "cluster": "anysource-production", "kind": "update", '
        f'"mode": "set", "snapshot": "{SNAPSHOT}"}}, "event": "begin", {run}}}',
        f'{{"detail": {{}}, "event": "start", {run}, "step": "preflight"}}',
        '{"detail": {"cluster": "anysource-production", "engine": "aurora-postgresql", '
        '"security_groups": ["sg-0123"], "subnet_group": "anysource-db-subnets", "summary": '
        '"cluster anysource-production available; versions exist; no maintenance window; init ok"}, '
        f'"event": "end", "result": "ok", {run}, "step": "preflight"}}',
        f'{{"detail": {{}}, "event": "start", {run}, "step": "snapshot"}}',
        '{"detail": {"arn": "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:'
        f'{SNAPSHOT}", "reused": false, "summary": "snapshot {SNAPSHOT} created, available"}}, '
        f'"event": "end", "result": "ok", {run}, "step": "snapshot"}}',
        f'{{"detail": {{}}, "event": "start", {run}, "step": "set-version"}}',
        '{"detail": {"changed": ["backend_version"], "summary": "var-file holds '
        f'backend_version=v1.3.0"}}, "event": "end", "result": "ok", {run}, "step": "set-version"}}',
        f'{{"detail": {{}}, "event": "start", {run}, "step": "plan"}}',
        f'{{"detail": {{"changes": true, "plan_file": "{plan_file}", "summary": "plan has changes"}}, '
        f'"event": "end", "result": "ok", {run}, "step": "plan"}}',
        f'{{"detail": {{}}, "event": "start", {run}, "step": "apply"}}',
    ]
    journal = world.workdir / ".runlayer" / "update.jsonl"
    journal.write_text("".join(line + "\n" for line in old))
    (world.workdir / ".runlayer" / "update.lock").unlink(missing_ok=True)

    report = world.run(resume=True)
    assert (report.outcome, report.exit_code) == ("succeeded", 0)
    assert [(s.name, s.status) for s in report.steps] == [
        ("preflight", "done-before"),
        ("snapshot", "done-before"),
        ("set-version", "done-before"),
        ("plan", "ok"),
        ("apply", "ok"),
        ("verify", "ok"),
    ]
    assert journal.read_text().startswith("".join(line + "\n" for line in old))
    assert report.restore_command is not None
    assert "--db-subnet-group-name anysource-db-subnets" in report.restore_command
    assert world.tf.applied[-1] == "v1.3.0"


# --------------------------------------------------------------------------- resume re-asserts


def _interrupted_at_apply(world: World) -> Path:
    world.tf.kill_on.add("apply")
    with pytest.raises(Killed):
        world.run()
    assert world.var_file.read_text() == VARS_NEW
    journal = world.workdir / ".runlayer" / "update.jsonl"
    (world.workdir / ".runlayer" / "update.lock").unlink(missing_ok=True)
    return journal


def test_resume_writes_the_journalled_target_back_before_planning(world: World) -> None:
    journal = _interrupted_at_apply(world)
    world.var_file.write_text(VARS_OLD)  # someone put the old version back
    plans_before = world.tf.verbs().count("plan")
    report = world.run(resume=True)
    assert (report.outcome, report.exit_code) == ("succeeded", 0)
    assert world.var_file.read_text() == VARS_NEW
    assert world.tf.applied[-1] == "v1.3.0"
    assert world.tf.verbs().count("plan") == plans_before + 1
    assert world.set_pin_calls[-1] == {"backend_version": "v1.3.0"}
    assert "[resume] the var-file again holds the journalled backend_version=v1.3.0" in (
        world.progress.lines
    )
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    notes = [r for r in records if r["event"] == "note"]
    assert [(n["step"], n["detail"]) for n in notes] == [
        ("set-version", {"action": "reassert", "values": ["backend_version=v1.3.0"]})
    ]
    # The note comes before the re-plan starts.
    events = [(r["event"], r.get("step")) for r in records]
    assert events.index(("note", "set-version")) < len(events) - 1 - events[::-1].index(
        ("start", "plan")
    )
    world.check_invariants()


def test_resume_refuses_a_var_file_holding_a_third_value(world: World) -> None:
    journal = _interrupted_at_apply(world)
    third = VARS_OLD.replace("v1.2.3", "v1.2.9")
    world.var_file.write_text(third)
    journalled = journal.read_bytes()
    terraform_runs = len(world.tf.argvs)
    with pytest.raises(UpdateError) as caught:
        world.run(resume=True)
    assert str(caught.value) == (
        f"--resume refused: {world.var_file} holds backend_version=v1.2.9, neither the previous "
        "value v1.2.3 nor the target v1.3.0 of the interrupted run update-20260301T053000Z; "
        "put one of them back and resume again"
    )
    assert "\n" not in str(caught.value)
    assert world.var_file.read_text() == third
    assert journal.read_bytes() == journalled
    assert len(world.tf.argvs) == terraform_runs

    world.var_file.write_text(VARS_NEW)  # put the target back: the resume goes ahead
    assert world.run(resume=True).outcome == "succeeded"


def test_resume_refuses_a_var_file_that_no_longer_assigns_the_variable(world: World) -> None:
    _interrupted_at_apply(world)
    world.var_file.write_text('region = "us-east-1"\n')
    with pytest.raises(UpdateError, match=r"no longer assigns backend_version, neither the"):
        world.run(resume=True)


def test_resume_with_the_target_in_place_writes_nothing(world: World) -> None:
    _interrupted_at_apply(world)
    before = world.var_file.read_bytes()
    os.utime(world.var_file, ns=(1_000_000_000, 1_000_000_000))
    calls = len(world.set_pin_calls)
    report = world.run(resume=True)
    assert report.outcome == "succeeded"
    assert world.var_file.read_bytes() == before
    assert world.var_file.stat().st_mtime_ns == 1_000_000_000
    assert len(world.set_pin_calls) == calls
    assert not [line for line in world.progress.lines if "again holds" in line]


def test_a_resumed_roll_back_writes_the_previous_value_back(world: World) -> None:
    """Killed in the roll-back plan; the var-file edited back to the target; resume restores it."""
    world.health.bad = {"v1.3.0"}
    plans: list[Any] = []
    runner = world.tf

    def killing(argv: Any, **kw: Any) -> Any:
        if argv[1] == "plan":
            plans.append(argv)
            if len(plans) == 2:
                raise Killed("killed during the roll-back plan")
        return runner(argv, **kw)

    deps = attrs.evolve(world.deps(), terraform_runner=killing)
    with pytest.raises(Killed):
        runbook.run_update(world.spec, deps)
    assert world.var_file.read_text() == VARS_OLD
    world.var_file.write_text(VARS_NEW)
    report = runbook.run_update(attrs.evolve(world.spec, resume=True), deps)
    assert report.outcome == "rolled-back"
    assert world.var_file.read_text() == VARS_OLD
    assert world.tf.deployed == "v1.2.3"
    assert world.set_pin_calls[-1] == {"backend_version": "v1.2.3"}
