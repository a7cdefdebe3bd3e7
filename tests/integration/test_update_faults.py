"""`runlayer-tf update`/`rollback` against real parts, with a fault at each step boundary.

The parts: the moto server (an Aurora cluster and its snapshots), real
OpenTofu and real Terraform (each in turn, passed with ``--terraform``) applying
``tests/terraform/update_app`` (whose state and ``deployed-version`` file record
the deployed backend version), a local HTTP health server that answers 503 for versions the test marks bad, and the demo
OCI layout in ``examples/oci-layout`` as the registry.  The CLI runs as a
subprocess (``python -m runlayer_tf``), so killing it is a real SIGKILL.

Every case checks the same invariants (:func:`assert_invariants`): no apply
without an ``available`` snapshot, the var-file holds the old or the new
content, the journal matches what happened, the exit code matches the outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import pytest

from runlayer_tf.update._terraform import tool_of
from tests.fakes.faults import FAULTS, ROLLED_BACK, Fault
from tests.harness import moto_server as moto_harness
from tests.harness.moto_server import MotoServer
from tests.harness.tofu import TfBinary

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "tests" / "terraform" / "update_app"
LAYOUT = REPO / "examples" / "oci-layout"
OLD_VARS = '# Production pins (rewritten by runlayer-tf update)\nbackend_version = "v1.2.3" # keep this comment\n'
NEW_VARS = OLD_VARS.replace('"v1.2.3"', '"v1.3.0"')
APPLY_STEPS = ("apply", "rollback-apply")


class HealthServer:
    """Answers 200 unless the deployed version (``WORKDIR/deployed-version``) is marked bad (503).

    With ``hold`` set, requests wait (``holding`` tells the test one is waiting).
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.bad: set[str] = set()
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.answers: list[tuple[str, int]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if server.hold.is_set():
                    server.holding.set()
                    while server.hold.is_set():
                        time.sleep(0.02)
                version = server.deployed()
                code = 503 if version in server.bad else 200
                server.answers.append((version, code))
                body = json.dumps({"version": version}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/api/v1/utils/health-check/"

    def deployed(self) -> str:
        try:
            return (self.workdir / "deployed-version").read_text()
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        self.hold.clear()
        self.httpd.shutdown()
        self.httpd.server_close()


@attrs.frozen
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads(self.stdout))


@attrs.define
class World:
    """One deployed copy of the app: a Terraform root, an Aurora cluster, a health server."""

    workdir: Path
    cluster: str
    tf: TfBinary
    rds: Any
    health: HealthServer

    @property
    def var_file(self) -> Path:
        return self.workdir / "production.tfvars"

    @property
    def journal_path(self) -> Path:
        return self.workdir / ".runlayer" / "update.jsonl"

    def argv(self, command: str, target: Sequence[str], extra: Sequence[str]) -> list[str]:
        return [
            sys.executable,
            "-m",
            "runlayer_tf",
            command,
            "--cluster",
            self.cluster,
            "--workdir",
            str(self.workdir),
            "--var-file",
            "production.tfvars",
            *target,
            "--registry",
            f"oci-layout:{LAYOUT}",
            "--terraform",
            str(self.tf.binary),
            "--snapshot-template",
            "upd-{cluster}-{utc:%H%M%S}",
            "--snapshot-interval",
            "0.1",
            "--snapshot-timeout",
            "10",
            "--health-url",
            self.health.url,
            "--health-consecutive",
            "2",
            "--health-interval",
            "0.1",
            "--health-timeout",
            "2",
            "--json",
            *extra,
        ]

    def start(
        self,
        *extra: str,
        command: str = "update",
        target: Sequence[str] = ("--set", "backend_version=v1.3.0"),
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(command, target, extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # so the kill takes tofu/terraform and its hooks down too
        )

    def run(
        self,
        *extra: str,
        command: str = "update",
        target: Sequence[str] = ("--set", "backend_version=v1.3.0"),
    ) -> Result:
        proc = self.start(*extra, command=command, target=target)
        stdout, stderr = proc.communicate(timeout=120)
        return Result(proc.returncode, stdout, stderr)

    def inject(self, fault: str) -> tuple[str, ...]:
        """Arrange ``fault`` (an id of :data:`tests.fakes.faults.FAULTS`); the extra options to run with."""
        if fault == "snapshot-refused":
            other = f"{self.cluster}-other"
            _create_cluster(self.rds, other)
            self.rds.create_db_cluster_snapshot(
                DBClusterSnapshotIdentifier=f"taken-{self.cluster}", DBClusterIdentifier=other
            )
            return ("--snapshot-template", "taken-{cluster}")
        if fault == "apply-fails":
            self.fault("fail-apply-v1.3.0")
        elif fault == "health-fails":
            self.health.bad.add("v1.3.0")
        elif fault == "rollback-apply-fails":
            self.fault("fail-apply-v1.3.0")
            self.fault("fail-apply-v1.2.3")
        else:
            raise AssertionError(f"no such fault {fault!r}")
        return ()

    def fault(self, name: str) -> Path:
        path = self.workdir / "faults" / name
        path.touch()
        return path

    def journal(self) -> list[dict[str, Any]]:
        if not self.journal_path.exists():
            return []
        return [json.loads(line) for line in self.journal_path.read_text().splitlines()]

    def events(self) -> list[tuple[str, str | None, str | None]]:
        """The journal as ``(event, step, result)`` triples, without the ``child`` records.

        (Each Terraform started has one; ``test_update_child.py`` checks them.)
        """
        return [
            (r["event"], r.get("step"), r.get("result"))
            for r in self.journal()
            if r["event"] != "child"
        ]

    def terraform_pids(self) -> list[int]:
        """The pids of every Terraform the journal says was started."""
        return [int(r["detail"]["pid"]) for r in self.journal() if r["event"] == "child"]

    def applies(self) -> list[str]:
        """The versions tofu/terraform started applying (written by the apply hook)."""
        log = self.workdir / "applies.log"
        return log.read_text().split() if log.exists() else []

    def snapshots(self) -> list[dict[str, Any]]:
        """The manual snapshots of the cluster (moto also makes an automated one)."""
        answer = self.rds.describe_db_cluster_snapshots(
            DBClusterIdentifier=self.cluster, SnapshotType="manual"
        )
        return list(answer["DBClusterSnapshots"])

    def deployed(self) -> str:
        return self.health.deployed()

    def state_version(self) -> str:
        raw = self.tf.run(["output", "-json", "-no-color"], cwd=self.workdir).stdout
        return str(json.loads(raw)["backend_version"]["value"])


@pytest.fixture
def rds(moto_server: MotoServer) -> Any:
    import boto3

    return boto3.client("rds", region_name="us-east-1")


def _create_cluster(rds: Any, identifier: str) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier=identifier,
        Engine="aurora-postgresql",
        MasterUsername="runlayer",
        MasterUserPassword="not-a-secret-123",
    )


@pytest.fixture
def world(tmp_path: Path, tf: TfBinary, rds: Any) -> Iterator[World]:
    cluster = f"app-{uuid.uuid4().hex[:10]}"
    _create_cluster(rds, cluster)
    workspace = tf.workspace(MODULE, tmp_path / "infra")
    workspace.init()
    tf.run(
        ["apply", "-input=false", "-no-color", "-auto-approve", "-var-file=production.tfvars"],
        cwd=workspace.path,
    )
    (workspace.path / "applies.log").unlink()
    (workspace.path / "faults").mkdir()
    assert (workspace.path / "production.tfvars").read_text() == OLD_VARS
    health = HealthServer(workspace.path)
    try:
        yield World(workspace.path, cluster, tf, rds, health)
    finally:
        health.stop()


def _wait_for(path: Path, proc: subprocess.Popen[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(
                f"the update ended ({proc.returncode}) before {path.name}: {proc.communicate()}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} never appeared")
        time.sleep(0.02)


def _kill(proc: subprocess.Popen[str], world: World) -> None:
    """SIGKILL runlayer-tf's process group and the Terraform it runs (in a session of its own)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for pid in world.terraform_pids():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def assert_invariants(world: World, result: Result | None, *, new: str = NEW_VARS) -> None:
    """What must hold after every run, whatever failed."""
    # The var-file holds the old or the new content, never a mix.
    assert world.var_file.read_text() in (OLD_VARS, new)
    records = world.journal()
    begins = [r for r in records if r["event"] == "begin"]
    # No apply without an available snapshot: in the journal, the run's snapshot
    # step ended ok before any apply started; in moto, that snapshot is available.
    for run in {r["run"] for r in records}:
        events = [r for r in records if r["run"] == run]
        snapshot_ok = [
            i
            for i, r in enumerate(events)
            if (r["event"], r.get("step"), r.get("result")) == ("end", "snapshot", "ok")
        ]
        apply_starts = [
            i for i, r in enumerate(events) if r["event"] == "start" and r["step"] in APPLY_STEPS
        ]
        if apply_starts:
            assert snapshot_ok, events
            assert snapshot_ok[0] < apply_starts[0], events
            snapshot_id = next(r for r in begins if r["run"] == run)["detail"]["snapshot"]
            status = {s["DBClusterSnapshotIdentifier"]: s["Status"] for s in world.snapshots()}
            assert status.get(snapshot_id) == "available"
    if world.applies():
        assert begins, "tofu/terraform applied without any update run"
        assert any(
            r["event"] == "end" and r["step"] == "snapshot" and r["result"] == "ok" for r in records
        )
    # Every apply tofu/terraform started was started by an apply step.
    assert len(world.applies()) <= sum(
        1 for r in records if r["event"] == "start" and r["step"] in APPLY_STEPS
    )
    if result is None:
        return
    # The exit code says success or failure, and the journal's finish agrees with the report.
    report = result.report
    assert result.code == (0 if report["outcome"] in ("succeeded", "unchanged", "dry-run") else 1)
    assert report["exit_code"] == result.code
    if report["outcome"] == "unfinished":  # left for --resume: noted, not finished
        blocked = [r for r in records if r["detail"].get("action") == "blocked"]
        assert blocked[-1]["detail"]["message"] == report["message"]
        assert records[-1]["event"] != "finish"
    elif report["outcome"] not in ("unchanged", "dry-run"):
        finishes = [r for r in records if r["event"] == "finish"]
        assert finishes[-1]["result"] == report["outcome"]
        assert finishes[-1]["detail"]["message"] == report["message"]
        assert len(begins) == 1  # a resumed run continues the same run


def _steps(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["name"], s["status"]) for s in report["steps"]]


# --------------------------------------------------------------------------- the happy path


def test_update_succeeds_end_to_end(world: World) -> None:
    result = world.run()
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (0, "succeeded"), result.stderr
    assert _steps(report) == [
        ("preflight", "ok"),
        ("snapshot", "ok"),
        ("set-version", "ok"),
        ("plan", "ok"),
        ("apply", "ok"),
        ("verify", "ok"),
    ]
    assert world.var_file.read_text() == NEW_VARS
    assert (world.deployed(), world.state_version(), world.applies()) == (
        "v1.3.0",
        "v1.3.0",
        ["v1.3.0"],
    )
    [snapshot] = world.snapshots()
    assert snapshot["DBClusterSnapshotIdentifier"] == report["snapshot"]
    assert snapshot["Status"] == "available"
    tags = world.rds.list_tags_for_resource(ResourceName=snapshot["DBClusterSnapshotArn"])[
        "TagList"
    ]
    assert {t["Key"]: t["Value"] for t in tags if t["Key"].startswith("runlayer-tf:")} == {
        "runlayer-tf:from-version": "v1.2.3",
        "runlayer-tf:to-version": "v1.3.0",
        "runlayer-tf:run": report["run"],
    }
    assert world.health.answers[-2:] == [("v1.3.0", 200), ("v1.3.0", 200)]
    assert not list((world.workdir / ".runlayer").glob("*.tfplan"))


def test_rollback_goes_to_the_previous_release_in_the_registry(world: World) -> None:
    """`rollback --set NAME` asks the OCI layout for the newest release below v1.2.3: v1.2.1."""
    result = world.run(command="rollback", target=("--set", "backend_version"))
    rolled_back = OLD_VARS.replace('"v1.2.3"', '"v1.2.1"')
    assert_invariants(world, result, new=rolled_back)
    assert (result.code, result.report["outcome"]) == (0, "succeeded"), result.stderr
    assert result.report["changes"] == [
        {
            "name": "backend_version",
            "previous": "v1.2.3",
            "target": "v1.2.1",
            "var_file": str(world.var_file),
        }
    ]
    assert world.var_file.read_text() == rolled_back
    assert (world.deployed(), world.applies()) == ("v1.2.1", ["v1.2.1"])
    assert len(world.snapshots()) == 1


def test_dry_run_changes_nothing(world: World) -> None:
    result = world.run("--dry-run")
    assert_invariants(world, result)
    assert (result.code, result.report["outcome"]) == (0, "dry-run")
    assert [s["status"] for s in result.report["steps"]] == ["planned"] * 6
    assert (world.var_file.read_text(), world.snapshots(), world.journal(), world.applies()) == (
        OLD_VARS,
        [],
        [],
        [],
    )


# --------------------------------------------------------------------------- failures before apply


def test_missing_target_version_stops_in_preflight(world: World) -> None:
    result = world.run(target=("--set", "backend_version=v1.4.0"))
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "failed")
    assert _steps(report) == [("preflight", "failed")]
    assert report["message"] == (
        "update backend_version=v1.4.0 stopped at preflight: "
        "backend-production:v1.4.0 does not exist; nothing was changed"
    )
    assert (world.snapshots(), world.var_file.read_text(), world.applies()) == ([], OLD_VARS, [])


def test_major_jump_needs_allow_major(world: World) -> None:
    """v1.2.3 -> v2.0.0-beta.2 exists in the registry but crosses a major version."""
    result = world.run(target=("--set", "backend_version=v2.0.0-beta.2"))
    assert_invariants(world, result)
    assert (result.code, result.report["outcome"]) == (1, "failed")
    assert "crosses a major version; pass --allow-major" in result.report["message"]
    assert (world.snapshots(), world.var_file.read_text()) == ([], OLD_VARS)


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.id)
def test_the_fault_table(world: World, fault: Fault) -> None:
    """The shared fault table against the real parts: the same outcomes as with the fakes."""
    result = world.run(*world.inject(fault.id))
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (fault.exit_code, fault.outcome), result.stderr
    assert tuple(_steps(report)) == fault.steps
    assert (world.var_file.read_text() == OLD_VARS) is fault.var_file_restored


def test_snapshot_failure_stops_before_anything_changes(world: World) -> None:
    """The snapshot id is already taken by another cluster's snapshot: RDS refuses, nothing is written or applied."""
    other = f"{world.cluster}-other"
    _create_cluster(world.rds, other)
    world.rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=f"taken-{world.cluster}", DBClusterIdentifier=other
    )
    result = world.run("--snapshot-template", "taken-{cluster}")
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "failed")
    assert _steps(report) == [("preflight", "ok"), ("snapshot", "failed")]
    assert report["message"] == (
        f"update backend_version=v1.3.0 stopped at snapshot: snapshot taken-{world.cluster} already exists "
        f"for DB cluster {other}, not {world.cluster}; nothing was changed"
    )
    assert report["snapshot"] is None
    assert (world.snapshots(), world.var_file.read_text(), world.applies()) == ([], OLD_VARS, [])
    assert world.events()[-1] == ("finish", None, "failed")


def test_unknown_cluster_fails_preflight(world: World) -> None:
    result = world.run("--cluster", f"{world.cluster}-missing")
    assert_invariants(world, result)
    assert (result.code, result.report["outcome"]) == (1, "failed")
    assert f"DB cluster {world.cluster}-missing" in result.report["message"]
    assert (world.var_file.read_text(), world.applies()) == (OLD_VARS, [])


# --------------------------------------------------------------------------- failures after apply starts


def test_apply_failure_rolls_back(world: World) -> None:
    world.fault("fail-apply-v1.3.0")
    result = world.run()
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rolled-back"), result.stderr
    assert _steps(report) == [
        ("preflight", "ok"),
        ("snapshot", "ok"),
        ("set-version", "ok"),
        ("plan", "ok"),
        ("apply", "failed"),
        ("restore-version", "ok"),
        ("rollback-plan", "ok"),
        ("rollback-apply", "ok"),
        ("rollback-verify", "ok"),
    ]
    assert report["message"].startswith("update backend_version=v1.3.0 failed at apply (")
    assert f"DB snapshot {report['snapshot']} is kept" in report["message"]
    assert f"--snapshot-identifier {report['snapshot']}" in report["restore_command"]
    assert world.var_file.read_text() == OLD_VARS
    assert (world.deployed(), world.state_version(), world.applies()) == (
        "v1.2.3",
        "v1.2.3",
        ["v1.3.0", "v1.2.3"],
    )
    assert ("note", "apply", None) in world.events()


def test_health_failure_rolls_back(world: World) -> None:
    world.health.bad.add("v1.3.0")
    result = world.run()
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rolled-back"), result.stderr
    assert _steps(report)[-5:] == [("verify", "failed"), *ROLLED_BACK]
    assert ("v1.3.0", 503) in world.health.answers
    assert world.health.answers[-1] == ("v1.2.3", 200)
    assert (world.var_file.read_text(), world.deployed(), world.applies()) == (
        OLD_VARS,
        "v1.2.3",
        ["v1.3.0", "v1.2.3"],
    )


def test_failed_rollback_names_the_snapshot_and_the_state(world: World) -> None:
    """Apply fails and the roll-back apply fails too: the human report says where everything stands."""
    world.fault("fail-apply-v1.3.0")
    world.fault("fail-apply-v1.2.3")
    json_result = world.run()
    assert_invariants(world, json_result)
    report = json_result.report
    assert (json_result.code, report["outcome"]) == (1, "rollback-failed")
    snapshot = report["snapshot"]
    assert _steps(report)[-3:] == [
        ("restore-version", "ok"),
        ("rollback-plan", "ok"),
        ("rollback-apply", "failed"),
    ]
    message = report["message"]
    assert message.startswith("update backend_version=v1.3.0 failed at apply (")
    assert "and the roll-back failed at rollback-apply (" in message
    assert (
        f"State: {world.var_file} holds backend_version=v1.2.3; "
        "the Terraform state may hold a partial apply of backend_version=v1.3.0; " in message
    )
    assert f"DB snapshot {snapshot} (taken before any apply) is available." in message
    assert (
        f"restore-db-cluster-from-snapshot --db-cluster-identifier {world.cluster}-restored "
        f"--snapshot-identifier {snapshot}" in message
    )
    assert world.var_file.read_text() == OLD_VARS
    assert world.applies() == ["v1.3.0", "v1.2.3"]
    # The run is finished: a plain re-run starts afresh (not blocked by the journal).
    assert world.events()[-1] == ("finish", None, "rollback-failed")


def test_failed_rollback_human_report(world: World) -> None:
    world.fault("fail-apply-v1.3.0")
    world.fault("fail-apply-v1.2.3")
    argv = [
        a for a in world.argv("update", ("--set", "backend_version=v1.3.0"), ()) if a != "--json"
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    # The report says each thing once: the message (which names the snapshot and
    # the restore command) first, the failed step's row points at it.
    assert lines[0].startswith("update backend_version=v1.3.0 failed at apply (")
    assert "and the roll-back failed at rollback-apply (" in lines[0]
    [snapshot] = [s["DBClusterSnapshotIdentifier"] for s in world.snapshots()]
    assert snapshot.startswith(f"upd-{world.cluster}-")
    assert f"DB snapshot {snapshot} (taken before any apply) is available." in lines[0]
    assert (
        "aws rds restore-db-cluster-from-snapshot "
        f"--db-cluster-identifier {world.cluster}-restored --snapshot-identifier {snapshot} "
        "--engine aurora-postgresql"
    ) in lines[0]
    assert proc.stdout.count("restore-db-cluster-from-snapshot") == 1
    assert f"  {'rollback-apply':<16} {'failed':<12} (above)" in lines
    assert f"journal: {world.journal_path}" in lines
    assert [s["Status"] for s in world.snapshots()] == ["available"]


# --------------------------------------------------------------------------- killed, then --resume


@pytest.mark.parametrize(
    ("hold", "done_before"),
    [
        ("hold-plan", ["preflight", "snapshot", "set-version"]),
        ("hold-apply", ["preflight", "snapshot", "set-version"]),
    ],
)
def test_killed_in_terraform_then_resumed(world: World, hold: str, done_before: list[str]) -> None:
    """SIGKILL while tofu/terraform plans or applies; --resume repeats neither the snapshot nor the rewrite."""
    gate = world.fault(hold)
    proc = world.start()
    _wait_for(world.workdir / "faults" / hold.replace("hold-", "holding-"), proc)
    _kill(proc, world)
    gate.unlink()
    assert_invariants(world, None)
    assert world.var_file.read_text() == NEW_VARS  # set-version had completed
    assert ("finish", None, None) not in [(e, s, None) for e, s, _ in world.events()]
    stage = "plan" if hold == "hold-plan" else "apply"
    assert world.events()[-1] == ("start", stage, None)
    snapshots_before = world.snapshots()

    blocked = world.run()
    assert blocked.code == 1
    assert "holds the unfinished run" in blocked.stderr
    assert "pass --resume to continue it" in blocked.stderr

    result = world.run("--resume")
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (0, "succeeded"), result.stderr
    assert [name for name, status in _steps(report) if status == "done-before"] == done_before
    assert world.snapshots() == snapshots_before
    assert len(snapshots_before) == 1
    starts = [s for e, s, _ in world.events() if e == "start"]
    assert starts.count("snapshot") == 1
    assert starts.count("set-version") == 1
    assert (world.var_file.read_text(), world.deployed(), world.state_version()) == (
        NEW_VARS,
        "v1.3.0",
        "v1.3.0",
    )


def test_killed_while_verifying_then_resumed(world: World) -> None:
    """SIGKILL while the health check is in flight; --resume verifies again without re-applying."""
    world.health.hold.set()
    proc = world.start()
    deadline = time.monotonic() + 60
    while not world.health.holding.is_set():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    _kill(proc, world)
    world.health.hold.clear()
    assert_invariants(world, None)
    assert world.events()[-1] == ("start", "verify", None)
    assert (world.deployed(), world.applies()) == ("v1.3.0", ["v1.3.0"])

    result = world.run("--resume")
    assert_invariants(world, result)
    assert (result.code, result.report["outcome"]) == (0, "succeeded"), result.stderr
    assert _steps(result.report)[-2:] == [("apply", "done-before"), ("verify", "ok")]
    assert world.applies() == ["v1.3.0"]  # no second apply
    assert len(world.snapshots()) == 1


def test_killed_during_rollback_resumes_the_rollback(world: World) -> None:
    """Apply fails, the process dies inside the roll-back apply; --resume finishes the roll-back, not the update."""
    world.fault("fail-apply-v1.3.0")
    gate = world.fault("hold-apply-v1.2.3")  # the roll-back's apply, after the failed one of v1.3.0
    proc = world.start()
    _wait_for(world.workdir / "faults" / "holding-apply-v1.2.3", proc)
    _kill(proc, world)
    gate.unlink()
    assert_invariants(world, None)
    assert world.events()[-1] == ("start", "rollback-apply", None)
    assert world.var_file.read_text() == OLD_VARS

    result = world.run("--resume")
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rolled-back"), result.stderr
    assert _steps(report) == [
        ("restore-version", "done-before"),
        ("rollback-plan", "ok"),
        ("rollback-apply", "ok"),
        ("rollback-verify", "ok"),
    ]
    assert (world.deployed(), world.state_version(), world.var_file.read_text()) == (
        "v1.2.3",
        "v1.2.3",
        OLD_VARS,
    )


THIRD_VARS = OLD_VARS.replace('"v1.2.3"', '"v1.2.9"')


@pytest.mark.parametrize("edit", ["previous", "unchanged", "third"])
def test_resume_re_asserts_the_journalled_target(world: World, edit: str) -> None:
    """SIGKILL during apply; the var-file edited before --resume: the journalled target is what is applied."""
    gate = world.fault("hold-apply")
    proc = world.start()
    _wait_for(world.workdir / "faults" / "holding-apply", proc)
    _kill(proc, world)
    gate.unlink()
    assert world.var_file.read_text() == NEW_VARS
    if edit == "previous":
        world.var_file.write_text(OLD_VARS)
    elif edit == "third":
        world.var_file.write_text(THIRD_VARS)
    os.utime(world.var_file, ns=(1_000_000_000, 1_000_000_000))
    held = world.var_file.read_bytes()
    journalled = world.journal_path.read_bytes()

    result = world.run("--resume")
    if edit == "third":
        assert (result.code, result.stdout) == (1, "")
        assert result.stderr == (
            f"runlayer-tf: error: --resume refused: {world.var_file} holds backend_version=v1.2.9, "
            "neither the previous value v1.2.3 nor the target v1.3.0 of the interrupted run "
            f"{world.journal()[0]['run']}; put one of them back and resume again\n"
        )
        assert world.var_file.read_bytes() == held
        assert world.journal_path.read_bytes() == journalled
        assert world.state_version() == "v1.2.3"
        return
    assert_invariants(world, result)
    assert (result.code, result.report["outcome"]) == (0, "succeeded"), result.stderr
    assert (world.var_file.read_text(), world.deployed(), world.state_version()) == (
        NEW_VARS,
        "v1.3.0",
        "v1.3.0",
    )
    notes = [r["detail"] for r in world.journal() if r["event"] == "note"]
    if edit == "previous":
        assert notes == [{"action": "reassert", "values": ["backend_version=v1.3.0"]}]
    else:
        assert notes == []
        assert world.var_file.stat().st_mtime_ns == 1_000_000_000


# --------------------------------------------------------------------------- ECS services in verify


def _ecs_service(world: World, *, stable: bool, target_group: str | None = None) -> tuple[str, str]:
    """An ECS cluster and service in moto; moto reports tasks running only after update_service sets the count."""
    import boto3

    ecs = boto3.client("ecs", region_name="us-east-1")
    cluster = f"{world.cluster}-ecs"
    ecs.create_cluster(clusterName=cluster)
    ecs.register_task_definition(
        family=cluster,
        containerDefinitions=[{"name": "app", "image": "backend-production:v1.2.3", "memory": 128}],
    )
    balancers = (
        [{"targetGroupArn": target_group, "containerName": "app", "containerPort": 8000}]
        if target_group
        else []
    )
    ecs.create_service(
        cluster=cluster,
        serviceName="backend-service",
        taskDefinition=cluster,
        desiredCount=2,
        loadBalancers=balancers,
    )
    if stable:
        ecs.update_service(cluster=cluster, service="backend-service", desiredCount=2)
    return cluster, "backend-service"


def _target_group(world: World) -> str:
    """An IP target group in moto with two registered targets (stock moto reports them healthy)."""
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1")
    elbv2 = boto3.client("elbv2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    arn = elbv2.create_target_group(
        Name=world.cluster[-20:], Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(
        TargetGroupArn=arn,
        Targets=[{"Id": "10.0.0.11", "Port": 8000}, {"Id": "10.0.0.12", "Port": 8000}],
    )
    return str(arn)


def _primary(cluster: str, service: str) -> dict[str, Any]:
    import boto3

    ecs = boto3.client("ecs", region_name="us-east-1")
    answer = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    return dict(next(d for d in answer["deployments"] if d["status"] == "PRIMARY"))


ECS_FAST = ("--ecs-interval", "1", "--ecs-attempts", "2")


def test_stable_ecs_service_is_verified(world: World) -> None:
    cluster, service = _ecs_service(world, stable=True)
    result = world.run("--ecs-cluster", cluster, "--service", service, *ECS_FAST)
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (0, "succeeded"), result.stderr
    verify = next(s for s in report["steps"] if s["name"] == "verify")
    deployment = _primary(cluster, service)["id"]
    # The module under test does not manage the service: the apply started no deployment.
    assert verify["message"] == (
        f"backend-service: {deployment} COMPLETED 2/2 {cluster}:1 "
        "(no new deployment since the apply); 1 health URL(s) answered 2xx 2x"
    )
    apply = next(r for r in world.journal() if (r["event"], r.get("step")) == ("end", "apply"))
    assert apply["detail"]["ecs_deployments"] == {service: [deployment]}


def test_unstable_ecs_service_fails_verify_and_the_rollback(world: World) -> None:
    """The service never reaches its desired count: verify fails, the roll-back's verify fails too."""
    cluster, service = _ecs_service(world, stable=False)
    result = world.run("--ecs-cluster", cluster, "--service", service, *ECS_FAST)
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rollback-failed"), result.stderr
    assert _steps(report)[-6:] == [
        ("apply", "ok"),
        ("verify", "failed"),
        ("restore-version", "ok"),
        ("rollback-plan", "ok"),
        ("rollback-apply", "ok"),
        ("rollback-verify", "failed"),
    ]
    deployment = _primary(cluster, service)["id"]
    assert (
        f"the roll-back failed at rollback-verify (ECS services in {cluster} not deployed after "
        f"2 checks 1s apart: backend-service: {deployment} IN_PROGRESS 0/2 {cluster}:1 "
        "(no new deployment since the apply))"
    ) in report["message"], report["message"]
    assert (world.var_file.read_text(), world.deployed()) == (OLD_VARS, "v1.2.3")


def _when_new_deployed(world: World, answer: Any) -> Any:
    """A harness callable: ``answer`` while v1.3.0 is deployed, else no override."""
    return lambda: answer if world.deployed() == "v1.3.0" else None


def test_circuit_breaker_failure_fails_verify_at_once_and_rolls_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollout the circuit breaker stopped (FAILED) fails verify at its first check."""
    cluster, service = _ecs_service(world, stable=True)
    reason = "ECS deployment circuit breaker: tasks failed to start."
    monkeypatch.setitem(
        moto_harness.ECS_ROLLOUTS, (cluster, service), _when_new_deployed(world, ("FAILED", reason))
    )
    result = world.run("--ecs-cluster", cluster, "--service", service, "--ecs-interval", "30")
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rolled-back"), result.stderr
    assert _steps(report)[-5:] == [("verify", "failed"), *ROLLED_BACK]
    deployment = _primary(cluster, service)["id"]
    verify = next(s for s in report["steps"] if s["name"] == "verify")
    assert verify["message"] == (
        f"ECS service {service}: deployment {deployment} (task definition {cluster}:1) "
        f"FAILED: {reason}"
    )
    assert (world.var_file.read_text(), world.deployed()) == (OLD_VARS, "v1.2.3")


def test_rollout_stuck_in_progress_times_out_and_rolls_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All tasks running but the rollout never COMPLETED: what the services_stable waiter passed."""
    cluster, service = _ecs_service(world, stable=True)
    monkeypatch.setitem(
        moto_harness.ECS_ROLLOUTS,
        (cluster, service),
        _when_new_deployed(world, ("IN_PROGRESS", "ECS deployment in progress.")),
    )
    result = world.run("--ecs-cluster", cluster, "--service", service, *ECS_FAST)
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rolled-back"), result.stderr
    deployment = _primary(cluster, service)["id"]
    verify = next(s for s in report["steps"] if s["name"] == "verify")
    assert verify == {
        "name": "verify",
        "status": "failed",
        "message": f"ECS services in {cluster} not deployed after 2 checks 1s apart: "
        f"backend-service: {deployment} IN_PROGRESS 2/2 {cluster}:1 "
        "(no new deployment since the apply)",
    }
    assert _steps(report)[-1] == ("rollback-verify", "ok")
    assert world.deployed() == "v1.2.3"


def test_service_target_group_and_target_group_option_are_checked(world: World) -> None:
    group = _target_group(world)
    other = _target_group(attrs.evolve(world, cluster=f"{world.cluster}-b"))
    cluster, service = _ecs_service(world, stable=True, target_group=group)
    result = world.run(
        "--ecs-cluster", cluster, "--service", service, "--target-group", other, *ECS_FAST
    )
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (0, "succeeded"), result.stderr
    verify = next(s for s in report["steps"] if s["name"] == "verify")
    names = [arn.rsplit(":", 1)[-1] for arn in (other, group)]
    assert verify["message"].endswith(
        f"; target group {names[0]}: 2/2 healthy; target group {names[1]}: 2/2 healthy"
        "; 1 health URL(s) answered 2xx 2x"
    ), verify["message"]


def test_unhealthy_targets_fail_verify_and_roll_back(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = _target_group(world)
    cluster, service = _ecs_service(world, stable=True, target_group=group)
    monkeypatch.setitem(
        moto_harness.TARGET_HEALTH,
        group,
        _when_new_deployed(
            world,
            (
                "unhealthy",
                "Target.ResponseCodeMismatch",
                "Health checks failed with these codes: [502]",
            ),
        ),
    )
    result = world.run("--ecs-cluster", cluster, "--service", service, *ECS_FAST)
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rolled-back"), result.stderr
    verify = next(s for s in report["steps"] if s["name"] == "verify")
    why = "(Target.ResponseCodeMismatch Health checks failed with these codes: [502])"
    assert verify["message"].endswith(
        f"target group {group.rsplit(':', 1)[-1]}: 2/2 unhealthy: "
        f"10.0.0.11:8000 unhealthy {why}, 10.0.0.12:8000 unhealthy {why}"
    ), verify["message"]
    assert _steps(report)[-1] == ("rollback-verify", "ok")
    assert world.deployed() == "v1.2.3"


def test_a_target_group_option_alone_is_verified(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--target-group`` without ``--service``: its targets are checked, on update and rollback."""
    group = _target_group(world)
    monkeypatch.setitem(
        moto_harness.TARGET_HEALTH,
        group,
        lambda: ("draining", "Target.DeregistrationInProgress", ""),
    )
    result = world.run("--target-group", group, *ECS_FAST)
    assert_invariants(world, result)
    report = result.report
    assert (result.code, report["outcome"]) == (1, "rollback-failed"), result.stderr
    assert (
        "target groups not deployed after 2 checks 1s apart: "
        f"target group {group.rsplit(':', 1)[-1]}: 2/2 unhealthy: "
        "10.0.0.11:8000 draining (Target.DeregistrationInProgress), "
        "10.0.0.12:8000 draining (Target.DeregistrationInProgress)"
    ) in report["message"], report["message"]


def test_the_other_binary_is_refused_for_the_root_it_did_not_initialise(
    world: World, tmp_path: Path
) -> None:
    """The root's lock file names the registry of the binary that ran init: the other one is refused."""
    own = tool_of(str(world.tf.binary))
    name, host = {
        "tofu": ("terraform", "registry.opentofu.org"),
        "terraform": ("tofu", "registry.terraform.io"),
    }[own or "tofu"]
    other = tmp_path / "bin" / name
    other.parent.mkdir()
    other.symlink_to(world.tf.binary)
    lock = (world.workdir / ".terraform.lock.hcl").read_text()
    result = world.run("--terraform", str(other))
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == (
        f"runlayer-tf: error: --terraform {other} is {name}, but "
        f"{world.workdir / '.terraform.lock.hcl'} names providers from {host}: "
        f"{name} would rewrite it and the state for {name}; "
        f"use --terraform {own}, or pass --force-terraform\n"
    )
    assert (world.journal(), world.snapshots(), world.var_file.read_text()) == ([], [], OLD_VARS)
    assert (world.workdir / ".terraform.lock.hcl").read_text() == lock
