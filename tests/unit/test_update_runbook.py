"""The update sequence end to end over hand-written fakes, with a fault injected at each step boundary."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from runlayer_tf.errors import ConfigError, PinError, UpdateError, UsageError
from runlayer_tf.tags import crosses_major
from runlayer_tf.update import _varfile as varfile
from runlayer_tf.update._health import urllib_get
from runlayer_tf.update._journal import hold_lock, read_journal
from runlayer_tf.update._runbook import (
    StepReport,
    UpdateDeps,
    UpdateReport,
    UpdateSpec,
    VersionChange,
    repository_of,
    run_update,
    tag_of,
    target_value,
)
from runlayer_tf.update._varfile import set_vars
from runlayer_tf.update._window import MaintenanceWindow
from tests.fakes.faults import FAULTS, Fault
from tests.fakes.update import (
    FakeClock,
    FakeEcs,
    FakeElbv2,
    FakeHealth,
    FakeRds,
    FakeTerraform,
    Killed,
    RecordingProgress,
    client_error,
    deployment,
    raw_http_server,
)

REPO = "170974506510.dkr.ecr.us-east-1.amazonaws.com/backend-production"
SNAPSHOT = "backup-before-update-20260301-053000"
VARS_OLD = '# production\nbackend_version = "v1.2.3"   # pinned\nregion          = "us-east-1"\n'
VARS_NEW = VARS_OLD.replace("v1.2.3", "v1.3.0")
RELEASES = ["v1.2.1", "v1.2.2", "v1.2.3", "v1.3.0", "v2.0.0"]


class World:
    """Every fake, wired together, plus the spec of a v1.2.3 -> v1.3.0 update."""

    def __init__(self, tmp_path: Path, *, mode: str = "set") -> None:
        self.workdir = tmp_path / "root"
        self.workdir.mkdir()
        self.var_file = self.workdir / "production.tfvars"
        self.var_file.write_text(VARS_OLD)
        self.var_file.chmod(0o640)
        self.clock = FakeClock()
        self.rds = FakeRds()
        self.ecs = FakeEcs().completed()
        self.tf = FakeTerraform(self.rds)
        self.health = FakeHealth(self.tf)
        self.progress = RecordingProgress()
        self.writes: list[tuple[str, str, bool]] = []
        self.set_pin_calls: list[dict[str, str]] = []
        self.var_file_contents: set[str] = set()
        self.spec = UpdateSpec(
            cluster="anysource-production",
            workdir=self.workdir,
            changes=(VersionChange("backend_version", "v1.3.0"),),
            mode=mode,  # type: ignore[arg-type]
            var_files=(self.var_file,),
            terraform="tofu",
            health_urls=(
                "https://app.example.com/api/v1/utils/health-check/",
                "https://app.example.com/",
            ),
            ecs_cluster="anysource-production",
            services=("backend-service", "frontend-service"),
            repositories=(("backend_version", REPO),),
            health_consecutive=2,
            health_deadline=30,
            health_interval=5,
            snapshot_interval=10,
        )

    def set_pin(self, var_file: Path, values: Mapping[str, str]) -> list[str]:
        changed = set_vars(var_file, values)
        self.writes += [(name, value, name in changed) for name, value in values.items()]
        self.set_pin_calls.append(dict(values))
        return changed

    def deps(self) -> UpdateDeps:
        return UpdateDeps(
            rds=self.rds,
            ecs=self.ecs,
            terraform_runner=self.tf,
            http_get=self.health,
            set_pin=self.set_pin,
            version_exists=lambda repository, tag: repository == REPO and tag in RELEASES,
            previous_release=lambda repository, current: _previous(current),
            crosses_major=lambda a, b: a.lstrip("v").split(".")[0] != b.lstrip("v").split(".")[0],
            clock=self.clock,
            sleep=self.clock.sleep,
            progress=self.progress,
        )

    def run(self, **changes: Any) -> UpdateReport:
        report = run_update(attrs.evolve(self.spec, **changes), self.deps())
        self.var_file_contents.add(self.var_file.read_text())
        return report

    def journal(self) -> list[tuple[str, str | None, str | None]]:
        """The step events (the ``child`` records of each Terraform started are in :meth:`children`)."""
        return [
            (r.event, r.step, r.result)
            for r in read_journal(self.workdir / ".runlayer" / "update.jsonl")
            if r.event != "child"
        ]

    def children(self) -> list[tuple[str | None, str]]:
        """``(step, verb)`` of every Terraform the journal says was started."""
        return [
            (r.step, r.detail["argv"][1])
            for r in read_journal(self.workdir / ".runlayer" / "update.jsonl")
            if r.event == "child"
        ]

    def inject(self, fault: str) -> None:
        """Make the next run meet ``fault`` (an id of :data:`tests.fakes.faults.FAULTS`)."""
        if fault == "snapshot-refused":
            self.rds.fail_create = client_error(
                "SnapshotQuotaExceeded", "too many snapshots", "CreateDBClusterSnapshot"
            )
        elif fault == "apply-fails":
            self.tf.fail_next("apply", True)
        elif fault == "health-fails":
            self.health.bad = {"v1.3.0"}
        elif fault == "rollback-apply-fails":
            self.tf.fail_next("apply", True, True)
        else:
            raise AssertionError(f"no such fault {fault!r}")

    def check_invariants(self) -> None:
        """The issue's invariants: no apply without an available snapshot; the var-file is whole; mode kept."""
        assert self.tf.applies_without_snapshot == []
        assert self.var_file.read_text() in (VARS_OLD, VARS_NEW)
        assert self.var_file.stat().st_mode & 0o777 == 0o640
        assert not (self.workdir / ".runlayer" / "update.lock").exists()
        assert [p.name for p in self.workdir.iterdir() if p.name.endswith(".tmp")] == []


def _previous(current: str) -> str | None:
    older = [
        r
        for r in RELEASES
        if tuple(map(int, r[1:].split("."))) < tuple(map(int, current[1:].split(".")))
    ]
    return older[-1] if older else None


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def steps(*names: str) -> list[tuple[str, str | None, str | None]]:
    out: list[tuple[str, str | None, str | None]] = []
    for name in names:
        out += [("start", name, None), ("end", name, "ok")]
    return out


FORWARD = ("preflight", "snapshot", "set-version", "plan", "apply", "verify")
ROLLBACK = ("restore-version", "rollback-plan", "rollback-apply", "rollback-verify")


def test_update_succeeds_in_runbook_order(world: World) -> None:
    report = world.run()
    assert (report.outcome, report.exit_code) == ("succeeded", 0)
    assert report.snapshot == SNAPSHOT
    assert world.var_file.read_text() == VARS_NEW
    assert world.tf.verbs() == ["init", "plan", "apply"]
    plan_file = str((world.workdir / ".runlayer" / f"{report.run}.tfplan").resolve())
    assert world.tf.argvs[1] == (
        "tofu",
        "plan",
        "-input=false",
        "-no-color",
        "-detailed-exitcode",
        f"-out={plan_file}",
        f"-var-file={world.var_file}",
    )
    assert world.tf.argvs[2] == (
        "tofu",
        "apply",
        "-input=false",
        "-no-color",
        "-auto-approve",
        plan_file,
    )
    assert world.journal() == [
        ("begin", None, None),
        *steps(*FORWARD),
        ("finish", None, "succeeded"),
    ]
    assert world.rds.snapshots[SNAPSHOT]["Tags"] == {
        "runlayer-tf:from-version": "v1.2.3",
        "runlayer-tf:to-version": "v1.3.0",
        "runlayer-tf:run": "update-20260301T053000Z",
    }
    assert [s.status for s in report.steps] == ["ok"] * 6
    assert "~snapshot~ backup-before-update-20260301-053000 creating 50%" in world.progress.lines
    world.check_invariants()


def test_var_mode_passes_var_and_leaves_var_file_alone(tmp_path: Path) -> None:
    world = World(tmp_path, mode="var")
    report = world.run()
    assert report.outcome == "succeeded"
    assert world.var_file.read_text() == VARS_OLD
    assert world.tf.argvs[1][-1] == "-var=backend_version=v1.3.0"
    assert world.writes == []
    world.check_invariants()


def test_image_reference_values_keep_their_repository(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.var_file.write_text(f'backend_image = "{REPO}:v1.2.3"\n')
    world.tf.name, world.tf.deployed = "backend_image", f"{REPO}:v1.2.3"
    report = world.run(changes=(VersionChange("backend_image", "v1.3.0"),), repositories=())
    assert report.outcome == "succeeded"
    assert world.var_file.read_text() == f'backend_image = "{REPO}:v1.3.0"\n'
    assert world.tf.deployed == f"{REPO}:v1.3.0"


BOTH_OLD = '# production\nbackend_version  = "v1.2.3"\nfrontend_version = "v1.2.3"\n'
BOTH_NEW = BOTH_OLD.replace("v1.2.3", "v1.3.0")


@pytest.fixture
def var_file_writes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Path, str]]:
    """Every write of a var-file (path and the content written), through the pins API's write."""
    written: list[tuple[Path, str]] = []
    real = varfile.write_if_changed

    def counting(path: Path, old: bytes, new: bytes) -> bool:
        changed = real(path, old, new)
        if changed:
            written.append((path, path.read_text()))
        return changed

    monkeypatch.setattr(varfile, "write_if_changed", counting)
    return written


TWO_CHANGES = {
    "changes": (
        VersionChange("backend_version", "v1.3.0"),
        VersionChange("frontend_version", "v1.3.0"),
    ),
    "repositories": (("backend_version", REPO), ("frontend_version", REPO)),
}


def test_two_variables_change_together_in_one_write(
    world: World, var_file_writes: list[tuple[Path, str]]
) -> None:
    """set-version parses and writes the var-file once for both variables: it never holds a mix."""
    world.var_file.write_text(BOTH_OLD)
    report = world.run(**TWO_CHANGES)
    assert (report.outcome, report.exit_code) == ("succeeded", 0)
    assert var_file_writes == [(world.var_file, BOTH_NEW)]
    assert world.set_pin_calls == [{"backend_version": "v1.3.0", "frontend_version": "v1.3.0"}]
    assert world.writes == [
        ("backend_version", "v1.3.0", True),
        ("frontend_version", "v1.3.0", True),
    ]
    set_version = [
        r
        for r in read_journal(world.workdir / ".runlayer" / "update.jsonl")
        if r.event == "end" and r.step == "set-version"
    ]
    assert [r.detail for r in set_version] == [
        {
            "summary": "var-file holds backend_version=v1.3.0, frontend_version=v1.3.0",
            "changed": ["backend_version", "frontend_version"],
        }
    ]


def test_two_variables_are_restored_together_in_one_write(
    world: World, var_file_writes: list[tuple[Path, str]]
) -> None:
    world.var_file.write_text(BOTH_OLD)
    world.tf.fail_next("plan", True)
    report = world.run(**TWO_CHANGES)
    assert report.outcome == "failed"
    assert report.message.endswith(
        f"nothing was applied; {world.var_file} holds backend_version=v1.2.3; "
        f"{world.var_file} holds frontend_version=v1.2.3; "
        "snapshot backup-before-update-20260301-053000 was taken and is kept"
    )
    assert var_file_writes == [(world.var_file, BOTH_NEW), (world.var_file, BOTH_OLD)]
    assert len(world.set_pin_calls) == 2


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_the_fault_table(world: World, fault: Fault) -> None:
    """Every fault of the shared table reports the same outcome and steps as with the real parts."""
    world.inject(fault.id)
    report = world.run()
    assert (report.outcome, report.exit_code) == (fault.outcome, fault.exit_code)
    assert tuple((step.name, step.status) for step in report.steps) == fault.steps
    assert (world.var_file.read_text() == VARS_OLD) is fault.var_file_restored
    world.check_invariants()


def test_snapshot_creation_fails_nothing_changes(world: World) -> None:
    world.rds.fail_create = client_error(
        "SnapshotQuotaExceeded",
        "Cannot create more than 100 manual snapshots",
        "CreateDBClusterSnapshot",
    )
    report = world.run()
    assert (report.outcome, report.exit_code) == ("failed", 1)
    assert report.message == (
        "update backend_version=v1.3.0 stopped at snapshot: creating snapshot "
        "backup-before-update-20260301-053000 of DB cluster anysource-production: SnapshotQuotaExceeded: "
        "Cannot create more than 100 manual snapshots; nothing was changed"
    )
    assert world.tf.verbs() == ["init"]
    assert world.var_file.read_text() == VARS_OLD
    assert world.journal() == [
        ("begin", None, None),
        *steps("preflight"),
        ("start", "snapshot", None),
        ("end", "snapshot", "failed"),
        ("finish", None, "failed"),
    ]
    assert report.restore_command is None
    world.check_invariants()


def test_apply_fails_rolls_back_and_names_snapshot(world: World) -> None:
    world.tf.fail_next("apply", True)
    report = world.run()
    assert (report.outcome, report.exit_code) == ("rolled-back", 1)
    assert world.var_file.read_text() == VARS_OLD
    assert world.tf.verbs() == ["init", "plan", "apply", "plan", "apply"]
    assert world.tf.applied == ["v1.2.3"]
    restore = (
        "aws rds restore-db-cluster-from-snapshot --db-cluster-identifier anysource-production-restored "
        "--snapshot-identifier backup-before-update-20260301-053000 --engine aurora-postgresql "
        "--db-subnet-group-name anysource-db-subnets --vpc-security-group-ids sg-0123"
    )
    assert report.restore_command == restore
    assert report.message == (
        "update backend_version=v1.3.0 failed at apply (tofu apply exited 1: Error: simulated apply failure); "
        "rolled back to backend_version=v1.2.3 and verified. DB snapshot backup-before-update-20260301-053000 "
        f"is kept; if the database was damaged restore it with: {restore}"
    )
    assert world.journal() == [
        ("begin", None, None),
        *steps(*FORWARD[:4]),
        ("start", "apply", None),
        ("end", "apply", "failed"),
        ("note", "apply", None),
        *steps(*ROLLBACK),
        ("finish", None, "rolled-back"),
    ]
    world.check_invariants()


def test_health_check_fails_rolls_back(world: World) -> None:
    world.health.bad = {"v1.3.0"}
    report = world.run()
    assert report.outcome == "rolled-back"
    assert (
        "failed at verify (health check failed after 30s: https://app.example.com/api/v1/utils/health-check/ (503)"
        in report.message
    )
    assert world.tf.applied == ["v1.3.0", "v1.2.3"]
    assert world.tf.deployed == "v1.2.3"
    assert world.var_file.read_text() == VARS_OLD
    assert world.journal()[-2:] == [
        ("end", "rollback-verify", "ok"),
        ("finish", None, "rolled-back"),
    ]
    world.check_invariants()


def test_a_non_http_health_answer_rolls_back(world: World) -> None:
    """A reply the stdlib cannot parse as HTTP fails verify (after the deadline) and rolls back."""

    def get(url: str, *, timeout: float) -> int:
        # The new version's proxy answers garbage; the old one is healthy again.
        return urllib_get(url, timeout=timeout) if world.tf.deployed == "v1.3.0" else 200

    with raw_http_server(b"garbage\r\n\r\n") as url:
        report = run_update(
            attrs.evolve(world.spec, health_urls=(url,)), attrs.evolve(world.deps(), http_get=get)
        )
    assert report.outcome == "rolled-back"
    assert (
        f"failed at verify (health check failed after 30s: {url} "
        "(no answer (not an HTTP answer: BadStatusLine: garbage)))" in report.message
    )
    assert world.tf.applied == ["v1.3.0", "v1.2.3"]
    assert world.var_file.read_text() == VARS_OLD
    assert world.journal()[-2:] == [
        ("end", "rollback-verify", "ok"),
        ("finish", None, "rolled-back"),
    ]
    world.check_invariants()


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_malformed_health_url_is_a_usage_error_before_anything_runs(
    world: World, dry_run: bool
) -> None:
    with pytest.raises(UsageError) as caught:
        world.run(health_urls=("runlayer.example.com/api/v1/utils/health-check/",), dry_run=dry_run)
    assert str(caught.value) == (
        "bad health URL 'runlayer.example.com/api/v1/utils/health-check/': "
        "expected http://HOST/... or https://HOST/..."
    )
    assert (world.rds.calls, world.tf.argvs, world.var_file.read_text()) == ([], [], VARS_OLD)
    assert not (world.workdir / ".runlayer").exists()


def test_rollback_apply_also_fails_names_snapshot_and_state(world: World) -> None:
    world.tf.fail_next("apply", True, True)
    report = world.run()
    assert (report.outcome, report.exit_code) == ("rollback-failed", 1)
    assert report.message.startswith(
        "update backend_version=v1.3.0 failed at apply (tofu apply exited 1: Error: simulated apply failure) "
        "and the roll-back failed at rollback-apply (tofu apply exited 1: Error: simulated apply failure). "
        f"State: {world.var_file} holds backend_version=v1.2.3; the Terraform state may hold a partial apply of "
        "backend_version=v1.3.0; DB snapshot backup-before-update-20260301-053000 "
        "(taken before any apply) is available."
    )
    assert "aws rds restore-db-cluster-from-snapshot" in report.message
    assert world.journal()[-3:] == [
        ("start", "rollback-apply", None),
        ("end", "rollback-apply", "failed"),
        ("finish", None, "rollback-failed"),
    ]
    world.check_invariants()


def test_plan_failure_restores_the_var_file_without_applying(world: World) -> None:
    world.tf.fail_next("plan", True)
    report = world.run()
    assert report.outcome == "failed"
    assert world.var_file.read_text() == VARS_OLD
    assert "apply" not in world.tf.verbs()
    assert report.message == (
        "update backend_version=v1.3.0 stopped at plan: tofu plan exited 1: Error: simulated plan failure; "
        f"nothing was applied; {world.var_file} holds backend_version=v1.2.3; "
        "snapshot backup-before-update-20260301-053000 was taken and is kept"
    )
    assert world.journal()[-4:] == [
        ("note", "plan", None),
        ("start", "restore-version", None),
        ("end", "restore-version", "ok"),
        ("finish", None, "failed"),
    ]
    world.check_invariants()


def _set_spec(**changes: Any) -> Any:
    return lambda w: setattr(w, "spec", attrs.evolve(w.spec, **changes))


@pytest.mark.parametrize(
    ("setup", "target", "reason"),
    [
        pytest.param(
            lambda w: setattr(w.rds, "cluster_status", "modifying"),
            "v1.3.0",
            "DB cluster anysource-production is modifying, not available",
            id="cluster-busy",
        ),
        pytest.param(
            _set_spec(changes=(VersionChange("backend_version", "v1.9.9"),)),
            "v1.9.9",
            f"{REPO}:v1.9.9 does not exist",
            id="missing-version",
        ),
        pytest.param(
            _set_spec(changes=(VersionChange("backend_version", "v2.0.0"),)),
            "v2.0.0",
            "backend_version v1.2.3 -> v2.0.0 crosses a major version; pass --allow-major",
            id="major-jump",
        ),
        pytest.param(
            _set_spec(window=MaintenanceWindow.parse("sat:05:00-sat:06:00")),
            "v1.3.0",
            "outside maintenance window sat:05:00-sat:06:00 (now sun:05:30 UTC); wait for it or pass --force-window",
            id="outside-window",
        ),
        pytest.param(
            lambda w: w.tf.fail_next("init", True),
            "v1.3.0",
            "tofu init exited 1: Error: simulated init failure",
            id="init-fails",
        ),
    ],
)
def test_preflight_refusals_change_nothing(
    world: World, setup: Any, target: str, reason: str
) -> None:
    setup(world)
    report = world.run()
    assert (report.outcome, report.exit_code) == ("failed", 1)
    assert (
        report.message
        == f"update backend_version={target} stopped at preflight: {reason}; nothing was changed"
    )
    assert "create_db_cluster_snapshot" not in world.rds.call_names()
    assert world.var_file.read_text() == VARS_OLD
    world.check_invariants()


def test_allow_major_and_forced_window_go_ahead(world: World) -> None:
    report = world.run(
        changes=(VersionChange("backend_version", "v2.0.0"),),
        allow_major=True,
        window=MaintenanceWindow.parse("sat:05:00-sat:06:00"),
        force_window=True,
    )
    assert report.outcome == "succeeded"
    assert world.tf.deployed == "v2.0.0"


@pytest.mark.parametrize(
    ("fault", "done_before"),
    [
        ("snapshot-wait", ["preflight"]),
        ("plan", ["preflight", "snapshot", "set-version"]),
        # the saved plan is re-made because its apply did not complete
        ("apply", ["preflight", "snapshot", "set-version"]),
        ("verify", ["preflight", "snapshot", "set-version", "plan", "apply"]),
    ],
)
def test_killed_then_resume_repeats_no_completed_step(
    world: World, fault: str, done_before: list[str]
) -> None:
    """A process killed mid-step resumes from the journal: one snapshot, one rewrite, the right exit code."""
    if fault == "snapshot-wait":
        world.rds.kill_on_describe_snapshot_at = 2
    elif fault == "verify":
        world.health.kill_at = 1
    else:
        world.tf.kill_on.add(fault)
    with pytest.raises(Killed):
        world.run()
    world.check_invariants()
    interrupted = world.journal()
    assert interrupted[-1] == ("start", {"snapshot-wait": "snapshot"}.get(fault, fault), None)
    (world.workdir / ".runlayer" / "update.lock").unlink(missing_ok=True)

    report = world.run(resume=True)
    assert (report.outcome, report.exit_code) == ("succeeded", 0)
    assert [s.name for s in report.steps if s.status == "done-before"] == done_before
    assert world.rds.call_names().count("create_db_cluster_snapshot") == 1
    assert [w for w in world.writes if w[2]] == [("backend_version", "v1.3.0", True)]
    assert world.var_file.read_text() == VARS_NEW
    assert world.journal()[-1] == ("finish", None, "succeeded")
    assert world.tf.applied[-1] == "v1.3.0"
    world.check_invariants()


def test_resume_after_a_torn_journal_line_leaves_a_readable_journal(world: World) -> None:
    """The process died mid-write of a record: resume cuts the fragment off, and later runs read the journal."""
    world.tf.kill_on.add("plan")
    with pytest.raises(Killed):
        world.run()
    journal = world.workdir / ".runlayer" / "update.jsonl"
    with journal.open("a") as out:
        out.write('{"ts": "2026-03-01T05:31:00+00:00", "run": "upd')
    interrupted = world.journal()

    report = world.run(resume=True)
    assert report.outcome == "succeeded"
    assert world.journal()[: len(interrupted)] == interrupted
    assert world.journal()[-1] == ("finish", None, "succeeded")
    assert journal.read_text().endswith("}\n")
    assert "upd{" not in journal.read_text()
    assert world.run(changes=(VersionChange("backend_version", "v1.3.0"),)).outcome == "unchanged"
    world.check_invariants()


def test_killed_during_rollback_resumes_the_rollback(world: World) -> None:
    """Health fails, the roll-back starts, the process dies in the roll-back plan; resume finishes the roll-back."""
    world.health.bad = {"v1.3.0"}
    plans: list[Any] = []

    def runner(argv: Any, **kw: Any) -> Any:
        if argv[1] == "plan":
            plans.append(argv)
            if len(plans) == 2:
                raise Killed("killed during the roll-back plan")
        return world.tf(argv, **kw)

    deps = attrs.evolve(world.deps(), terraform_runner=runner)
    with pytest.raises(Killed):
        run_update(world.spec, deps)
    assert world.journal()[-5:] == [
        ("end", "verify", "failed"),
        ("note", "verify", None),
        *steps("restore-version"),
        ("start", "rollback-plan", None),
    ]
    report = run_update(attrs.evolve(world.spec, resume=True), deps)
    assert report.outcome == "rolled-back"
    assert [(s.name, s.status) for s in report.steps] == [
        ("restore-version", "done-before"),
        ("rollback-plan", "ok"),
        ("rollback-apply", "ok"),
        ("rollback-verify", "ok"),
    ]
    assert world.tf.deployed == "v1.2.3"
    assert world.var_file.read_text() == VARS_OLD
    assert [r for r in world.journal() if r[0] == "note"] == [("note", "verify", None)]
    world.check_invariants()


def test_resume_without_unfinished_run_is_refused(world: World) -> None:
    with pytest.raises(
        UpdateError, match=r"^nothing to resume: journal .*update.jsonl has no unfinished run$"
    ):
        world.run(resume=True)
    world.run()
    with pytest.raises(UpdateError, match="nothing to resume"):
        world.run(resume=True)


def test_unfinished_run_blocks_a_fresh_one(world: World) -> None:
    world.tf.kill_on.add("apply")
    with pytest.raises(Killed):
        world.run()
    with pytest.raises(
        UpdateError,
        match=r"holds the unfinished run update-20260301T053000Z; pass --resume to continue it$",
    ):
        world.run()


def test_resume_must_repeat_the_same_target(world: World) -> None:
    world.tf.kill_on.add("apply")
    with pytest.raises(Killed):
        world.run()
    with pytest.raises(
        UsageError,
        match=re.escape("the interrupted run sets backend_version to v1.3.0, not v1.4.0"),
    ):
        world.run(resume=True, changes=(VersionChange("backend_version", "v1.4.0"),))


def test_apply_refused_when_snapshot_is_gone(world: World) -> None:
    """The snapshot is re-checked right before apply, not merely remembered."""
    world.tf.kill_on.add("apply")
    with pytest.raises(Killed):
        world.run()
    world.rds.snapshots.clear()
    report = world.run(resume=True)
    assert report.outcome == "rollback-failed"
    assert report.steps[-1].message == (
        "refusing to apply: snapshot backup-before-update-20260301-053000 is missing, not available"
    )
    assert world.tf.applies_without_snapshot == []


def test_lock_held_by_live_process_names_holder(world: World) -> None:
    lock = world.workdir / ".runlayer" / "update.lock"
    with hold_lock(lock, FakeClock()) as holder, pytest.raises(UpdateError) as caught:
        world.run()
    assert str(caught.value) == (
        f"another update holds the lock {lock}: pid {os.getpid()} on {socket.gethostname()} "
        "since 2026-03-01T05:30:00+00:00"
    )
    assert holder.pid == os.getpid()
    assert world.rds.calls == []


def test_rollback_kind_targets_previous_release(world: World) -> None:
    report = world.run(changes=(VersionChange("backend_version"),), kind="rollback")
    assert report.outcome == "succeeded"
    assert report.run == "rollback-20260301T053000Z"
    assert world.var_file.read_text() == VARS_OLD.replace("v1.2.3", "v1.2.2")


def test_nothing_to_do_when_already_at_target(world: World) -> None:
    report = world.run(changes=(VersionChange("backend_version", "v1.2.3"),))
    assert (report.outcome, report.exit_code, report.message) == (
        "unchanged",
        0,
        "nothing to do: backend_version is already v1.2.3",
    )
    assert world.rds.calls == []


def test_dry_run_shows_exact_commands_and_changes_nothing(world: World) -> None:
    report = world.run(dry_run=True)
    assert (report.outcome, report.exit_code) == ("dry-run", 0)
    assert world.rds.calls == []
    assert world.tf.argvs == []
    assert world.health.requests == []
    assert world.var_file.read_text() == VARS_OLD
    assert not (world.workdir / ".runlayer").exists()
    plan_file = str((world.workdir / ".runlayer" / "update-20260301T053000Z.tfplan").resolve())
    by_name = {s.name: s.message for s in report.steps}
    assert by_name["snapshot"] == (
        f"create snapshot {SNAPSHOT} and wait until available (like: aws rds create-db-cluster-snapshot "
        f"--db-cluster-identifier anysource-production --db-cluster-snapshot-identifier {SNAPSHOT})"
    )
    assert (
        by_name["set-version"] == f"rewrite backend_version in {world.var_file}: v1.2.3 -> v1.3.0"
    )
    assert by_name["plan"] == (
        f"run: tofu plan -input=false -no-color -detailed-exitcode -out={plan_file} -var-file={world.var_file}"
    )
    assert by_name["apply"] == (
        f"check snapshot {SNAPSHOT} is available, then run: tofu apply -input=false -no-color -auto-approve {plan_file}"
    )
    assert by_name["preflight"].endswith(
        f"run: tofu init -input=false -no-color (in {world.workdir})"
    )


@pytest.mark.parametrize(
    ("spec_change", "error", "message"),
    [
        ({"var_files": ()}, UsageError, "--set rewrites a var-file: give --var-file"),
        (
            {"changes": (VersionChange("frontend_version", "v1.3.0"),)},
            PinError,
            "no var-file assigns frontend_version",
        ),
        (
            {"mode": "var", "var_files": (), "changes": (VersionChange("x", "v1"),)},
            ConfigError,
            "cannot tell the current value of x: pass --current x=VALUE",
        ),
        (
            {"snapshot_template": "snap--{utc:%Y}"},
            ConfigError,
            "must not contain two consecutive hyphens",
        ),
    ],
)
def test_bad_specs_raise_before_anything_runs(
    world: World, spec_change: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        world.run(**spec_change)
    assert world.rds.calls == []


@pytest.mark.parametrize(
    ("value", "tag", "repository"),
    [
        ("v1.2.3", "v1.2.3", None),
        (f"{REPO}:v1.2.3", "v1.2.3", REPO),
        ("localhost:5000/team/app:v2", "v2", "localhost:5000/team/app"),
        ("localhost:5000/team/app", "", "localhost:5000/team/app"),
        ("ghcr.io/o/app:v1@sha256:" + "a" * 64, "v1", "ghcr.io/o/app"),
    ],
)
def test_tag_and_repository_of_values(value: str, tag: str, repository: str | None) -> None:
    assert (tag_of(value), repository_of(value)) == (tag, repository)


@pytest.mark.parametrize(
    ("previous", "version", "expected"),
    [
        ("v1.2.3", "v1.3.0", "v1.3.0"),
        (f"{REPO}:v1.2.3", "v1.3.0", f"{REPO}:v1.3.0"),
        (f"{REPO}:v1.2.3", "other.io/app:v9", "other.io/app:v9"),
    ],
)
def test_target_value(previous: str, version: str, expected: str) -> None:
    assert target_value(previous, version) == expected


@pytest.mark.parametrize(
    ("window", "force", "expected"),
    [
        (
            "sat:05:00-sat:06:00",
            False,
            (
                "window gate would refuse: outside maintenance window sat:05:00-sat:06:00 "
                "(now sun:05:30 UTC); wait for it or pass --force-window"
            ),
        ),
        (
            "sat:05:00-sat:06:00",
            True,
            "window gate: outside maintenance window sat:05:00-sat:06:00 (now sun:05:30 UTC), forced",
        ),
        (
            "sun:05:00-sun:06:00",
            False,
            "window gate: inside maintenance window sun:05:00-sun:06:00 (now sun:05:30 UTC)",
        ),
    ],
)
def test_dry_run_previews_the_window_gate_truthfully(
    world: World, window: str, force: bool, expected: str
) -> None:
    """A dry run outside the window says the real run would refuse (it used to say 'forced')."""
    report = world.run(dry_run=True, window=MaintenanceWindow.parse(window), force_window=force)
    assert (report.outcome, report.exit_code) == ("dry-run", 0)
    preflight = {s.name: s.message for s in report.steps}["preflight"]
    assert preflight.startswith(
        f"check that DB cluster anysource-production is available; {expected}; "
    )


def test_a_symlink_at_the_plan_file_is_refused_and_the_var_file_restored(world: World) -> None:
    """Terraform would write the saved plan through the link; the run stops at plan instead."""
    victim = world.workdir / "main.tf"
    victim.write_text("keep me\n")
    runlayer = world.workdir / ".runlayer"
    runlayer.mkdir()
    link = runlayer / "update-20260301T053000Z.tfplan"
    link.symlink_to(victim)
    report = world.run()
    assert (report.outcome, world.tf.verbs()) == ("failed", ["init"])
    assert report.message == (
        "update backend_version=v1.3.0 stopped at plan: "
        f"refusing to follow the symlink {link.parent.resolve() / link.name}; "
        f"nothing was applied; {world.var_file} holds backend_version=v1.2.3; "
        "snapshot backup-before-update-20260301-053000 was taken and is kept"
    )
    assert victim.read_text() == "keep me\n"
    world.check_invariants()


def test_secrets_in_terraform_errors_are_masked_in_journal_and_report(world: World) -> None:
    leak = 'Error: AKIAIOSFODNN7EXAMPLE rejected; {"password": "p@ss word"} for postgres://app:p@w@db/x'
    world.tf.fail_message = leak
    world.tf.fail_next("plan", True)
    report = world.run()
    journal = (world.workdir / ".runlayer" / "update.jsonl").read_text()
    for secret in ("AKIAIOSFODNN7EXAMPLE", "p@ss word", "app:p@w"):
        assert secret not in journal
    failed = [
        r
        for r in read_journal(world.workdir / ".runlayer" / "update.jsonl")
        if r.result == "failed"
    ]
    assert failed[0].detail == {
        "error": 'Error: AKIA**************** rejected; {"password": "***"} for postgres://***@db/x'
    }
    assert (world.workdir / ".runlayer" / "update.jsonl").stat().st_mode & 0o777 == 0o600
    assert report.outcome == "failed"


@pytest.mark.parametrize(
    ("held", "reason"),
    [
        (
            "v1.2",
            "backend_version holds the selector v1.2 (a partial version), not a version, so there is "
            "no current version to compare v1.3.0 with; pin backend_version to the version it runs "
            "(a full MAJOR.MINOR.PATCH tag) first, or pass --allow-major to skip the comparison",
        ),
        (
            "~> 1.2",
            "backend_version holds the selector ~> 1.2 (a version constraint), not a version, so there "
            "is no current version to compare v1.3.0 with; pin backend_version to the version it runs "
            "(a full MAJOR.MINOR.PATCH tag) first, or pass --allow-major to skip the comparison",
        ),
        (
            "latest",
            "backend_version holds the selector latest (the latest tag), not a version, so there is "
            "no current version to compare v1.3.0 with; pin backend_version to the version it runs "
            "(a full MAJOR.MINOR.PATCH tag) first, or pass --allow-major to skip the comparison",
        ),
        (
            "release-7",
            'cannot compare release-7 and v1.3.0 (invalid version "release-7": expected '
            "MAJOR.MINOR.PATCH with an optional leading v); pass --allow-major to go ahead",
        ),
    ],
)
def test_a_selector_in_the_var_file_gets_a_message_about_selectors(
    world: World, held: str, reason: str
) -> None:
    world.var_file.write_text(VARS_OLD.replace("v1.2.3", held))
    deps = attrs.evolve(world.deps(), crosses_major=crosses_major)
    report = run_update(world.spec, deps)
    assert report.message == (
        f"update backend_version=v1.3.0 stopped at preflight: {reason}; nothing was changed"
    )
    assert world.var_file.read_text() == VARS_OLD.replace("v1.2.3", held)


def test_a_run_with_nothing_to_verify_warns_first(world: World) -> None:
    warning = (
        "warning: nothing will be verified after apply (no --health-url, --backend-url, "
        "--frontend-url, --service or --target-group): success will mean only that apply exited 0"
    )
    dry = world.run(health_urls=(), ecs_cluster=None, services=(), dry_run=True)
    assert dry.steps[-1] == StepReport("verify", "planned", warning)
    report = world.run(health_urls=(), ecs_cluster=None, services=())
    assert report.outcome == "succeeded"
    assert world.progress.lines[0] == f"[verify] {warning}"


# --------------------------------------------------------------------------- verify: ECS deployed


def _d(id: str, family_revision: str, rollout: str, **kw: Any) -> dict[str, Any]:
    return deployment(id, family_revision, rollout, **kw)


def test_verify_waits_for_the_deployment_the_apply_started(world: World) -> None:
    """The deployments before apply are journalled; the new PRIMARY must reach COMPLETED."""
    world.ecs.rollouts["backend-service"] = [
        [_d("ecs-svc/1", "backend:7", "COMPLETED")],  # recorded before apply
        [
            _d("ecs-svc/2", "backend:8", "IN_PROGRESS"),
            _d("ecs-svc/1", "backend:7", "COMPLETED", status="ACTIVE"),
        ],
        [_d("ecs-svc/2", "backend:8", "COMPLETED")],
    ]
    report = world.run()
    assert (report.outcome, report.exit_code) == ("succeeded", 0), report.message
    verify = next(s for s in report.steps if s.name == "verify")
    assert verify.message == (
        "backend-service: ecs-svc/2 COMPLETED 2/2 backend:8; "
        "frontend-service: ecs-svc/1 COMPLETED 2/2 frontend-service:7 (no new deployment since the apply); "
        "2 health URL(s) answered 2xx 2x"
    )
    applied = next(
        r for r in read_journal(world.workdir / ".runlayer" / "update.jsonl")
        if (r.event, r.step) == ("end", "apply")
    )  # fmt: skip
    assert applied.detail["ecs_deployments"] == {
        "backend-service": ["ecs-svc/1"],
        "frontend-service": ["ecs-svc/1"],
    }
    assert "waiting: backend-service: ecs-svc/2 IN_PROGRESS 0/2 backend:8" in " ".join(
        world.progress.lines
    )


def test_a_circuit_breaker_rollout_fails_verify_at_once_and_rolls_back(world: World) -> None:
    reason = "ECS deployment circuit breaker: tasks failed to start."
    world.ecs.rollouts["backend-service"] = [
        [_d("ecs-svc/1", "backend:7", "COMPLETED")],
        [
            _d("ecs-svc/3", "backend:7", "IN_PROGRESS", reason="rolling back"),
            _d("ecs-svc/2", "backend:8", "FAILED", status="ACTIVE", reason=reason),
        ],
        [_d("ecs-svc/3", "backend:7", "COMPLETED")],
    ]
    report = world.run()
    assert (report.outcome, report.exit_code) == ("rolled-back", 1), report.message
    verify = next(s for s in report.steps if s.name == "verify")
    assert (verify.status, verify.message) == (
        "failed",
        f"ECS service backend-service: deployment ecs-svc/2 (task definition backend:8) FAILED: {reason}",
    )
    assert (report.steps[-1].name, report.steps[-1].status) == ("rollback-verify", "ok")
    assert report.steps[-1].message.startswith(
        "backend-service: ecs-svc/3 COMPLETED 2/2 backend:7 (no new deployment since the apply); "
    )
    assert world.var_file.read_text() == VARS_OLD


def test_a_rollout_that_never_completes_fails_verify_after_the_attempts(world: World) -> None:
    stuck = _d("ecs-svc/1", "backend:7", "IN_PROGRESS")
    stuck["runningCount"] = 2  # all tasks running: the services_stable waiter passed this
    world.ecs.rollouts["backend-service"] = [[stuck]]
    report = world.run(ecs_delay=3, ecs_max_attempts=4)
    assert report.outcome == "rollback-failed", report.message
    verify = next(s for s in report.steps if s.name == "verify")
    assert verify.message == (
        "ECS services in anysource-production not deployed after 4 checks 3s apart: "
        "backend-service: ecs-svc/1 IN_PROGRESS 2/2 backend:7 (no new deployment since the apply)"
    )


def test_a_resumed_verify_uses_the_deployments_journalled_before_apply(world: World) -> None:
    world.ecs.rollouts["backend-service"] = [[_d("ecs-svc/1", "backend:7", "COMPLETED")]]
    world.health.kill_at = 1
    with pytest.raises(Killed):
        world.run()
    (world.workdir / ".runlayer" / "update.lock").unlink(missing_ok=True)
    report = world.run(resume=True)
    assert report.outcome == "succeeded", report.message
    verify = next(s for s in report.steps if s.name == "verify")
    # Not re-recorded after the apply: the old PRIMARY is known as the one from before it.
    assert verify.message.startswith(
        "backend-service: ecs-svc/1 COMPLETED 2/2 backend:7 (no new deployment since the apply); "
    )


def test_target_groups_alone_are_verified_and_named_in_the_dry_run(world: World) -> None:
    tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
    elbv2 = FakeElbv2()
    elbv2.health[tg] = [[("unhealthy", "Target.Timeout", "Request timed out")]]
    spec = attrs.evolve(
        world.spec, ecs_cluster=None, services=(), health_urls=(), target_groups=(tg,)
    )
    dry = run_update(attrs.evolve(spec, dry_run=True), world.deps())
    assert dry.steps[-1].message == f"wait for every target of {tg} to be healthy"
    report = run_update(spec, attrs.evolve(world.deps(), elbv2=elbv2))
    assert report.outcome == "rollback-failed", report.message
    verify = next(s for s in report.steps if s.name == "verify")
    assert verify.message == (
        "target groups not deployed after 40 checks 15s apart: target group "
        "targetgroup/web/0123456789abcdef: 1/1 unhealthy: 10.0.0.1:8000 unhealthy "
        "(Target.Timeout Request timed out)"
    )


def test_a_missing_service_fails_verify_not_the_apply(world: World) -> None:
    """Recording the deployments before apply must not fail the apply: verify reports it."""
    world.ecs.services.pop("frontend-service")
    report = world.run()
    assert report.outcome == "rollback-failed", report.message
    assert [(s.name, s.status) for s in report.steps][4:6] == [
        ("apply", "ok"),
        ("verify", "failed"),
    ]
    verify = next(s for s in report.steps if s.name == "verify")
    assert verify.message.startswith("ECS services not found in cluster anysource-production: ")
