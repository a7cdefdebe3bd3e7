"""Hand-written fakes for the update runbook's seams (imported by tests/unit/test_update_*.py).

The AWS fakes raise real ``botocore.exceptions.ClientError``s, shaped like the
ones boto3 raises, so the translation at the boundary is exercised.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from runlayer_tf.errors import TerraformError
from runlayer_tf.update._child import Child, ChildLogs
from runlayer_tf.update._terraform import RunResult

START = datetime(2026, 3, 1, 5, 30, 0, tzinfo=timezone.utc)  # a Sunday


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class Killed(Exception):
    """Stands in for SIGKILL: not a RunlayerError, so it escapes run_update like a dying process."""


@contextlib.contextmanager
def raw_http_server(reply: bytes) -> Iterator[str]:
    """A loopback server answering every request with ``reply`` (any bytes, HTTP or not); yields its URL."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()


class FakeClock:
    def __init__(self, start: datetime = START) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += timedelta(seconds=seconds)


class FakeRds:
    """An Aurora cluster and its snapshots; a new snapshot needs ``polls_to_available`` polls."""

    def __init__(self, *, cluster: str = "anysource-production", status: str = "available") -> None:
        self.cluster = cluster
        self.cluster_status = status
        self.snapshots: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.polls_to_available = 2
        self.fail_create: ClientError | None = None
        self.kill_on_describe_snapshot_at: int | None = None
        self._describe_snapshot_calls = 0

    def describe_db_clusters(self, *, DBClusterIdentifier: str) -> Mapping[str, Any]:
        self.calls.append(("describe_db_clusters", {"DBClusterIdentifier": DBClusterIdentifier}))
        if DBClusterIdentifier != self.cluster:
            raise client_error(
                "DBClusterNotFoundFault",
                f"DBCluster {DBClusterIdentifier} not found.",
                "DescribeDBClusters",
            )
        return {
            "DBClusters": [
                {
                    "DBClusterIdentifier": self.cluster,
                    "Status": self.cluster_status,
                    "Engine": "aurora-postgresql",
                    "DBSubnetGroup": "anysource-db-subnets",
                    "VpcSecurityGroups": [{"VpcSecurityGroupId": "sg-0123", "Status": "active"}],
                }
            ]
        }

    def create_db_cluster_snapshot(
        self,
        *,
        DBClusterSnapshotIdentifier: str,
        DBClusterIdentifier: str,
        Tags: Sequence[Mapping[str, str]],
    ) -> Mapping[str, Any]:
        self.calls.append(
            (
                "create_db_cluster_snapshot",
                {"DBClusterSnapshotIdentifier": DBClusterSnapshotIdentifier, "Tags": list(Tags)},
            )
        )
        if self.fail_create is not None:
            raise self.fail_create
        if DBClusterSnapshotIdentifier in self.snapshots:
            raise client_error(
                "DBClusterSnapshotAlreadyExistsFault", "exists", "CreateDBClusterSnapshot"
            )
        snapshot = {
            "DBClusterSnapshotIdentifier": DBClusterSnapshotIdentifier,
            "DBClusterIdentifier": DBClusterIdentifier,
            "DBClusterSnapshotArn": (
                f"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:{DBClusterSnapshotIdentifier}"
            ),
            "Status": "creating",
            "PercentProgress": 0,
            "polls_left": self.polls_to_available,
            "Tags": {t["Key"]: t["Value"] for t in Tags},
        }
        self.snapshots[DBClusterSnapshotIdentifier] = snapshot
        return {"DBClusterSnapshot": self._public(snapshot)}

    def describe_db_cluster_snapshots(
        self, *, DBClusterSnapshotIdentifier: str
    ) -> Mapping[str, Any]:
        self.calls.append(
            (
                "describe_db_cluster_snapshots",
                {"DBClusterSnapshotIdentifier": DBClusterSnapshotIdentifier},
            )
        )
        self._describe_snapshot_calls += 1
        if self.kill_on_describe_snapshot_at == self._describe_snapshot_calls:
            raise Killed("killed while waiting for the snapshot")
        snapshot = self.snapshots.get(DBClusterSnapshotIdentifier)
        if snapshot is None:
            raise client_error(
                "DBClusterSnapshotNotFoundFault",
                f"DBClusterSnapshot {DBClusterSnapshotIdentifier} not found.",
                "DescribeDBClusterSnapshots",
            )
        if snapshot["Status"] == "creating":
            snapshot["polls_left"] -= 1
            if snapshot["polls_left"] <= 0:
                snapshot.update(Status="available", PercentProgress=100)
            else:
                snapshot["PercentProgress"] = 50
        return {"DBClusterSnapshots": [self._public(snapshot)]}

    def add_tags_to_resource(
        self, *, ResourceName: str, Tags: Sequence[Mapping[str, str]]
    ) -> Mapping[str, Any]:
        self.calls.append(
            ("add_tags_to_resource", {"ResourceName": ResourceName, "Tags": list(Tags)})
        )
        for snapshot in self.snapshots.values():
            if snapshot["DBClusterSnapshotArn"] == ResourceName:
                snapshot["Tags"].update({t["Key"]: t["Value"] for t in Tags})
        return {}

    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def snapshot_status(self, identifier: str) -> str | None:
        snapshot = self.snapshots.get(identifier)
        return None if snapshot is None else str(snapshot["Status"])

    @staticmethod
    def _public(snapshot: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in snapshot.items() if k not in ("polls_left", "Tags")}


class FakeWaiter:
    def __init__(self, ecs: FakeEcs) -> None:
        self.ecs = ecs

    def wait(self, *, cluster: str, services: list[str], WaiterConfig: Mapping[str, int]) -> None:
        self.ecs.calls.append(("wait", {"cluster": cluster, "services": list(services)}))
        if self.ecs.unstable:
            raise WaiterError(
                name="ServicesStable",
                reason="Max attempts exceeded",
                last_response={"services": []},
            )
        for service in services:
            state = self.ecs.services[service]
            state["runningCount"] = state["desiredCount"]
            state["deployments"] = [
                {
                    "id": "ecs-svc/1",
                    "status": "PRIMARY",
                    "rolloutState": "COMPLETED",
                    "taskDefinition": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{service}:7",
                    "desiredCount": state["desiredCount"],
                    "runningCount": state["desiredCount"],
                }
            ]


def deployment(
    id: str, family_revision: str, rollout: str, *, status: str = "PRIMARY", reason: str = ""
) -> dict[str, Any]:
    """One deployment as describe_services reports it."""
    return {
        "id": id,
        "status": status,
        "rolloutState": rollout,
        "rolloutStateReason": reason or f"ECS deployment {id} {rollout.lower()}.",
        "taskDefinition": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{family_revision}",
        "desiredCount": 2,
        "runningCount": 2 if rollout == "COMPLETED" else 0,
    }


class FakeElbv2:
    """Target health per target group: successive answers (the last sticks); an unknown ARN has none."""

    def __init__(self) -> None:
        self.health: dict[str, list[list[tuple[str, str, str]]]] = {}
        self.calls: list[str] = []

    def describe_target_health(self, *, TargetGroupArn: str) -> Mapping[str, Any]:
        self.calls.append(TargetGroupArn)
        queue = self.health.get(TargetGroupArn, [[]])
        targets = queue.pop(0) if len(queue) > 1 else queue[0]
        return {
            "TargetHealthDescriptions": [
                {
                    "Target": {"Id": f"10.0.0.{i + 1}", "Port": 8000},
                    "TargetHealth": {"State": state, "Reason": reason, "Description": description}
                    if reason
                    else {"State": state},
                }
                for i, (state, reason, description) in enumerate(targets)
            ]
        }


class FakeEcs:
    def __init__(self, services: Mapping[str, int] | None = None) -> None:
        self.services: dict[str, dict[str, Any]] = {
            name: {
                "serviceName": name,
                "status": "ACTIVE",
                "desiredCount": count,
                "runningCount": count,
                "deployments": [],
            }
            for name, count in (services or {"backend-service": 2, "frontend-service": 2}).items()
        }
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # Per service, the deployments successive describe_services calls report (the last sticks).
        self.rollouts: dict[str, list[list[dict[str, Any]]]] = {}
        self.unstable = False
        self.fail_update: ClientError | None = None
        # Refuse only setting (service, desiredCount): a partial failure mid-procedure.
        self.fail_desired: dict[tuple[str, int], ClientError] = {}

    def completed(self) -> FakeEcs:
        """Give every service one PRIMARY deployment, COMPLETED (``ecs-svc/1`` on ``:7``)."""
        for name, state in self.services.items():
            state["deployments"] = [deployment("ecs-svc/1", f"{name}:7", "COMPLETED")]
        return self

    def describe_services(self, *, cluster: str, services: list[str]) -> Mapping[str, Any]:
        self.calls.append(("describe_services", {"cluster": cluster, "services": list(services)}))
        for name, queue in self.rollouts.items():
            if name in services and queue:
                self.services[name]["deployments"] = queue.pop(0) if len(queue) > 1 else queue[0]
        found = [dict(self.services[s]) for s in services if s in self.services]
        failures = [
            {
                "arn": f"arn:aws:ecs:us-east-1:123456789012:service/{cluster}/{s}",
                "reason": "MISSING",
            }
            for s in services
            if s not in self.services
        ]
        return {"services": found, "failures": failures}

    def update_service(
        self,
        *,
        cluster: str,
        service: str,
        desiredCount: int | None = None,
        forceNewDeployment: bool = False,
    ) -> Mapping[str, Any]:
        args: dict[str, Any] = {"cluster": cluster, "service": service}
        if desiredCount is not None:
            args["desiredCount"] = desiredCount
        if forceNewDeployment:
            args["forceNewDeployment"] = True
        self.calls.append(("update_service", args))
        if self.fail_update is not None:
            raise self.fail_update
        if (service, desiredCount) in self.fail_desired:
            raise self.fail_desired[(service, desiredCount)]
        if desiredCount is not None:
            self.services[service]["desiredCount"] = desiredCount
        return {"service": dict(self.services[service])}

    def get_waiter(self, waiter_name: str) -> FakeWaiter:
        assert waiter_name == "services_stable"
        return FakeWaiter(self)


class FakeTerraform:
    """Plays Terraform: a plan reads the version from the var-file (or -var), an apply deploys it.

    It also checks the central invariant on every apply: the run's snapshot is
    available in the fake RDS.
    """

    def __init__(
        self, rds: FakeRds, *, name: str = "backend_version", deployed: str = "v1.2.3"
    ) -> None:
        self.rds = rds
        self.name = name
        self.deployed = deployed
        self.planned: str | None = None
        self.argvs: list[tuple[str, ...]] = []
        self.fail: dict[str, list[bool]] = {}
        self.kill_on: set[str] = set()
        self.applies_without_snapshot: list[str] = []
        self.applied: list[str] = []
        self.fail_message: str | None = None

    def fail_next(self, verb: str, *outcomes: bool) -> None:
        """Queue outcomes for the next runs of ``verb``: True fails that run."""
        self.fail.setdefault(verb, []).extend(outcomes)

    def __call__(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        on_line: Any,
        ok_codes: frozenset[int] = frozenset({0}),
        env: Mapping[str, str] | None = None,
        logs: ChildLogs | None = None,
    ) -> RunResult:
        argv = tuple(argv)
        self.argvs.append(argv)
        verb = argv[1]
        if logs is not None:  # a pid no process has (above pid_max), so never "still running"
            log = str(logs.directory / f"{logs.prefix}.{len(self.argvs):02d}.{verb}.log")
            logs.on_start(Child(2**22 + 1, "", socket.gethostname(), argv, log, log))
        on_line("stdout", f"{verb} running")
        if verb in self.kill_on:
            self.kill_on.discard(verb)
            raise Killed(f"killed during {verb}")
        queue = self.fail.get(verb) or []
        if queue and queue.pop(0):
            raise TerraformError(
                self.fail_message or f"tofu {verb} exited 1: Error: simulated {verb} failure"
            )
        if verb == "plan":
            self.planned = self._version_from(argv)
            return RunResult(argv, 2 if self.planned != self.deployed else 0, "", ())
        if verb == "apply":
            snapshots = [s for s in self.rds.snapshots.values() if s["Status"] == "available"]
            if not snapshots:
                self.applies_without_snapshot.append(str(self.planned))
            assert self.planned is not None
            self.deployed = self.planned
            self.applied.append(self.planned)
        return RunResult(argv, 0, "{}", ())

    def _version_from(self, argv: tuple[str, ...]) -> str:
        value = None
        for arg in argv:
            if arg.startswith("-var-file="):
                for line in Path(arg.split("=", 1)[1]).read_text().splitlines():
                    key, _, raw = line.partition("=")
                    if key.strip() == self.name:
                        value = raw.split('"')[1]
        for arg in argv:
            if arg.startswith(f"-var={self.name}="):
                value = arg.split("=", 2)[2]
        assert value is not None, argv
        return value

    def verbs(self) -> list[str]:
        return [argv[1] for argv in self.argvs]


class FakeHealth:
    """Answers 200 unless the deployed version is a bad one (503), like the issue's health server."""

    def __init__(self, terraform: FakeTerraform, bad: set[str] | None = None) -> None:
        self.terraform = terraform
        self.bad = bad or set()
        self.requests: list[str] = []
        self.kill_at: int | None = None

    def __call__(self, url: str, *, timeout: float) -> int:
        self.requests.append(url)
        if self.kill_at is not None and len(self.requests) >= self.kill_at:
            self.kill_at = None
            raise Killed("killed while polling health")
        return 503 if self.terraform.deployed.rsplit(":", 1)[-1] in self.bad else 200


class RecordingProgress:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def start(self, name: str) -> None:
        self.lines.append(f"[{name}] started")

    def step(self, name: str, message: str) -> None:
        self.lines.append(f"[{name}] {message}")

    def status(self, name: str, message: str) -> None:
        self.lines.append(f"~{name}~ {message}")

    def output(self, prefix: str, line: str) -> None:
        self.lines.append(f"{prefix}| {line}")

    def close(self) -> None:
        pass
