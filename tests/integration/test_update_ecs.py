"""`runlayer-tf ecs` (the runbook's emergency ECS procedures) against moto's ECS over HTTP.

moto launches no tasks for a service: a new service reports 0 running until
``update_service`` sets its desired count, after which moto reports that many
running.  Registering an EC2 container instance (tried) does not change this,
so "stable" here means moto's bookkeeping, not real tasks.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from runlayer_tf import cli
from tests.harness import moto_server as moto_harness
from tests.harness.moto_server import MotoServer


@pytest.fixture
def ecs(moto_server: MotoServer) -> Any:
    import boto3

    return boto3.client("ecs", region_name="us-east-1")


@pytest.fixture
def cluster(ecs: Any) -> str:
    """A cluster with two services of desired count 2 and 1, both reported running."""
    name = f"prod-{uuid.uuid4().hex[:8]}"
    ecs.create_cluster(clusterName=name)
    ecs.register_task_definition(
        family=name, containerDefinitions=[{"name": "app", "image": "app:v1.2.3", "memory": 128}]
    )
    for service, count in (("backend-service", 2), ("frontend-service", 1)):
        ecs.create_service(
            cluster=name, serviceName=service, taskDefinition=name, desiredCount=count
        )
        ecs.update_service(cluster=name, service=service, desiredCount=count)
    return name


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def _services(ecs: Any, cluster: str) -> dict[str, tuple[int, int]]:
    answer = ecs.describe_services(
        cluster=cluster, services=["backend-service", "frontend-service"]
    )
    return {s["serviceName"]: (s["desiredCount"], s["runningCount"]) for s in answer["services"]}


def test_scale_bounce_returns_to_the_previous_counts(
    ecs: Any, cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["ecs", "scale-bounce", "--cluster", cluster, "--json"]
    argv += ["--service", "backend-service", "--service", "frontend-service"]
    code, rows, err = _run(argv, capsys)
    assert (code, err) == (0, "")
    assert [(r["service"], r["previous_desired"]) for r in rows] == [
        ("backend-service", 2),
        ("frontend-service", 1),
    ]
    assert rows[0]["state"].startswith("backend-service: 2/2 running, primary ")
    assert _services(ecs, cluster) == {"backend-service": (2, 2), "frontend-service": (1, 1)}


def test_force_deploy_starts_a_new_deployment(
    ecs: Any, cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = ecs.describe_services(cluster=cluster, services=["backend-service"])["services"][0]
    code, rows, err = _run(
        ["ecs", "force-deploy", "--cluster", cluster, "--service", "backend-service", "--json"],
        capsys,
    )
    assert (code, err) == (0, "")
    assert [r["service"] for r in rows] == ["backend-service"]
    after = ecs.describe_services(cluster=cluster, services=["backend-service"])["services"][0]
    assert after["deployments"][0]["id"] != before["deployments"][0]["id"]
    assert rows[0]["state"].startswith("backend-service: 2/2 running, primary ")


def test_status_of_a_missing_service_is_one_error_line(
    cluster: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, rows, err = _run(
        ["ecs", "status", "--cluster", cluster, "--service", "nope-service"], capsys
    )
    assert (code, rows) == (1, None)
    assert err.startswith(f"runlayer-tf: error: ECS services not found in cluster {cluster}: ")
    assert err.count("\n") == 1


# --------------------------------------------------------------------------- the harness's extensions


def _primary(ecs: Any, cluster: str, service: str) -> dict[str, Any]:
    answer = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    return dict(next(d for d in answer["deployments"] if d["status"] == "PRIMARY"))


def test_the_harness_rollouts_follow_the_counts_and_can_be_forced(
    ecs: Any, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over HTTP: COMPLETED once running reaches desired; ECS_ROLLOUTS forces FAILED or IN_PROGRESS."""
    ecs.create_service(
        cluster=cluster, serviceName="new-service", taskDefinition=cluster, desiredCount=2
    )
    first = _primary(ecs, cluster, "new-service")
    assert (first["rolloutState"], first["runningCount"], first["desiredCount"]) == (
        "IN_PROGRESS",
        0,
        2,
    )
    ecs.update_service(cluster=cluster, service="new-service", desiredCount=2)
    done = _primary(ecs, cluster, "new-service")
    assert (done["rolloutState"], done["runningCount"]) == ("COMPLETED", 2)
    answer = ("FAILED", "ECS deployment circuit breaker: tasks failed to start.")
    monkeypatch.setitem(moto_harness.ECS_ROLLOUTS, (cluster, "new-service"), lambda: answer)
    failed = _primary(ecs, cluster, "new-service")
    assert (failed["rolloutState"], failed["rolloutStateReason"]) == answer
    assert _primary(ecs, cluster, "backend-service")["rolloutState"] == "COMPLETED"


def test_the_harness_target_health_can_be_forced(
    moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    ec2 = boto3.client("ec2", region_name="us-east-1")
    elbv2 = boto3.client("elbv2", region_name="us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    arn = elbv2.create_target_group(
        Name=f"tg-{uuid.uuid4().hex[:8]}", Protocol="HTTP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.1.0.5", "Port": 80}])

    def states() -> list[dict[str, Any]]:
        answer = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
        return [d["TargetHealth"] for d in answer]

    assert states() == [{"State": "healthy"}]
    forced = ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    monkeypatch.setitem(moto_harness.TARGET_HEALTH, arn, lambda: forced)
    assert states() == [
        {
            "State": "unhealthy",
            "Reason": "Target.FailedHealthChecks",
            "Description": "Health checks failed",
        }
    ]
