"""ECS: stability with rollout states, and the runbook's emergency procedures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from runlayer_tf.errors import AuthError, UpdateError
from runlayer_tf.update._ecs import (
    Deployed,
    EcsApi,
    ServiceState,
    describe_services,
    force_new_deployment,
    scale_bounce,
    wait_deployed,
    wait_stable,
)
from tests.fakes.update import FakeEcs, FakeElbv2, client_error, deployment

SERVICES = ["backend-service", "frontend-service"]


def test_wait_stable_reports_rollout_states() -> None:
    ecs = FakeEcs()
    states = wait_stable(ecs, "prod", SERVICES)
    assert [str(s) for s in states] == [
        "backend-service: 2/2 running, primary COMPLETED 2/2 backend-service:7",
        "frontend-service: 2/2 running, primary COMPLETED 2/2 frontend-service:7",
    ]
    assert all(len(s.deployments) == 1 and s.running == s.desired for s in states)
    assert ecs.calls[0] == ("wait", {"cluster": "prod", "services": SERVICES})


def test_wait_stable_failure_names_deployments() -> None:
    ecs = FakeEcs({"backend-service": 2})
    ecs.services["backend-service"].update(
        runningCount=1,
        deployments=[
            {
                "id": "d2",
                "status": "PRIMARY",
                "rolloutState": "IN_PROGRESS",
                "taskDefinition": "td/backend:8",
                "desiredCount": 2,
                "runningCount": 0,
            },
            {
                "id": "d1",
                "status": "ACTIVE",
                "rolloutState": "COMPLETED",
                "taskDefinition": "td/backend:7",
                "desiredCount": 2,
                "runningCount": 1,
            },
        ],
    )
    ecs.unstable = True
    with pytest.raises(UpdateError) as caught:
        wait_stable(ecs, "prod", ["backend-service"])
    assert str(caught.value) == (
        "ECS services in prod did not become stable: backend-service: 1/2 running, "
        "primary IN_PROGRESS 0/2 backend:8; active COMPLETED 1/2 backend:7"
    )


def test_missing_service() -> None:
    with pytest.raises(
        UpdateError,
        match=(
            r"^ECS services not found in cluster prod: "
            r"arn:aws:ecs:us-east-1:123456789012:service/prod/nope \(MISSING\)$"
        ),
    ):
        describe_services(FakeEcs(), "prod", ["nope"])


def test_force_new_deployment() -> None:
    ecs = FakeEcs()
    states = force_new_deployment(ecs, "prod", SERVICES)
    assert [call for call in ecs.calls if call[0] == "update_service"] == [
        (
            "update_service",
            {"cluster": "prod", "service": "backend-service", "forceNewDeployment": True},
        ),
        (
            "update_service",
            {"cluster": "prod", "service": "frontend-service", "forceNewDeployment": True},
        ),
    ]
    assert len(states) == 2


def test_scale_bounce_returns_to_previous_counts() -> None:
    ecs = FakeEcs({"backend-service": 3, "frontend-service": 2})
    bounced = scale_bounce(ecs, "prod", SERVICES)
    assert [(b.service, b.previous) for b in bounced] == [
        ("backend-service", 3),
        ("frontend-service", 2),
    ]
    assert [c[1].get("desiredCount") for c in ecs.calls if c[0] == "update_service"] == [0, 0, 3, 2]
    assert [c[0] for c in ecs.calls] == [
        "describe_services",
        "update_service",
        "update_service",
        "wait",
        "describe_services",
        "update_service",
        "update_service",
        "wait",
        "describe_services",
    ]
    assert ecs.services["backend-service"]["desiredCount"] == 3


def test_scale_bounce_failure_says_what_to_scale_back_to() -> None:
    ecs = FakeEcs({"backend-service": 3})
    ecs.fail_update = client_error("AccessDeniedException", "no ecs:UpdateService", "UpdateService")
    with pytest.raises(AuthError) as caught:
        scale_bounce(ecs, "prod", ["backend-service"])
    assert str(caught.value) == (
        "setting desired count of backend-service in prod to 0 (previous counts: backend-service=3): "
        "AWS refused the credentials "
        "(AccessDeniedException: no ecs:UpdateService)"
    )


def _desired(ecs: FakeEcs) -> dict[str, int]:
    return {name: state["desiredCount"] for name, state in ecs.services.items()}


def _counts_set(ecs: FakeEcs) -> list[tuple[str, int]]:
    return [(c[1]["service"], c[1]["desiredCount"]) for c in ecs.calls if c[0] == "update_service"]


def test_scale_bounce_scales_back_when_the_wait_at_zero_fails() -> None:
    ecs = FakeEcs({"backend-service": 4, "frontend-service": 2})
    ecs.unstable = True
    with pytest.raises(UpdateError) as caught:
        scale_bounce(ecs, "prod", SERVICES)
    assert str(caught.value) == (
        "ECS services in prod did not become stable: backend-service: 4/0 running, no deployments; "
        "frontend-service: 2/0 running, no deployments; "
        "scaled back to the previous desired counts backend-service=4, frontend-service=2"
    )
    assert _counts_set(ecs) == [
        ("backend-service", 0),
        ("frontend-service", 0),
        ("backend-service", 4),
        ("frontend-service", 2),
    ]
    assert _desired(ecs) == {"backend-service": 4, "frontend-service": 2}


def test_scale_bounce_names_the_counts_when_scaling_back_fails_too() -> None:
    """Each service is still tried; the message says what to scale back to by hand."""
    ecs = FakeEcs({"backend-service": 4, "frontend-service": 2})
    ecs.unstable = True
    ecs.fail_desired[("backend-service", 4)] = client_error(
        "ThrottlingException", "Rate exceeded", "UpdateService"
    )
    with pytest.raises(UpdateError) as caught:
        scale_bounce(ecs, "prod", SERVICES)
    assert str(caught.value) == (
        "ECS services in prod did not become stable: backend-service: 4/0 running, no deployments; "
        "frontend-service: 2/0 running, no deployments; "
        "scaling back failed too (setting backend-service to 4: throttled the request and 5 attempts failed "
        "(ThrottlingException)); "
        "scale back with: desired counts backend-service=4, frontend-service=2"
    )
    assert _desired(ecs) == {"backend-service": 0, "frontend-service": 2}


def test_scale_bounce_scales_back_on_an_interrupt_and_lets_it_go_on() -> None:
    ecs = FakeEcs({"backend-service": 4})

    def interrupted(ecs: EcsApi, cluster: str, services: Sequence[str]) -> tuple[ServiceState, ...]:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        scale_bounce(ecs, "prod", ["backend-service"], wait=interrupted)
    assert _counts_set(ecs) == [("backend-service", 0), ("backend-service", 4)]
    assert _desired(ecs) == {"backend-service": 4}


def test_scale_bounce_interrupt_with_a_failed_scale_back_names_the_counts() -> None:
    ecs = FakeEcs({"backend-service": 4})
    ecs.fail_desired[("backend-service", 4)] = client_error(
        "AccessDeniedException", "no ecs:UpdateService", "UpdateService"
    )

    def interrupted(ecs: EcsApi, cluster: str, services: Sequence[str]) -> tuple[ServiceState, ...]:
        raise KeyboardInterrupt

    with pytest.raises(UpdateError) as caught:
        scale_bounce(ecs, "prod", ["backend-service"], wait=interrupted)
    assert str(caught.value) == (
        "interrupted (KeyboardInterrupt); scaling back failed too "
        "(setting backend-service to 4: AWS refused the credentials "
        "(AccessDeniedException: no ecs:UpdateService)); "
        "scale back with: desired counts backend-service=4"
    )
    assert isinstance(caught.value.__cause__, KeyboardInterrupt)


def test_scale_bounce_refused_half_way_down_scales_the_first_back() -> None:
    ecs = FakeEcs({"backend-service": 4, "frontend-service": 2})
    ecs.fail_desired[("frontend-service", 0)] = client_error(
        "ThrottlingException", "Rate exceeded", "UpdateService"
    )
    with pytest.raises(UpdateError) as caught:
        scale_bounce(ecs, "prod", SERVICES)
    assert str(caught.value) == (
        "setting desired count of frontend-service in prod to 0 "
        "(previous counts: backend-service=4, frontend-service=2): throttled the request "
        "and 5 attempts failed (ThrottlingException); "
        "scaled back to the previous desired counts backend-service=4, frontend-service=2"
    )
    assert _counts_set(ecs) == [
        ("backend-service", 0),
        ("frontend-service", 0),
        ("backend-service", 4),
    ]
    assert _desired(ecs) == {"backend-service": 4, "frontend-service": 2}


def test_scale_bounce_failing_to_scale_up_names_the_counts() -> None:
    ecs = FakeEcs({"backend-service": 4, "frontend-service": 2})
    ecs.fail_desired[("backend-service", 4)] = client_error(
        "ThrottlingException", "Rate exceeded", "UpdateService"
    )
    with pytest.raises(UpdateError) as caught:
        scale_bounce(ecs, "prod", SERVICES)
    assert str(caught.value) == (
        "scaling back in prod failed (setting backend-service to 4: throttled the request and 5 attempts failed "
        "(ThrottlingException)); "
        "scale back with: desired counts backend-service=4, frontend-service=2"
    )
    assert _desired(ecs) == {"backend-service": 0, "frontend-service": 2}


# --------------------------------------------------------------------------- verify: deployed, not stable

TG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/backend/0123456789abcdef"


def _wait(
    ecs: FakeEcs,
    elbv2: FakeElbv2 | None = None,
    *,
    before: dict[str, list[str]] | None = None,
    target_groups: Sequence[str] = (),
    services: Sequence[str] | None = None,
    attempts: int = 3,
) -> tuple[Deployed, list[float]]:
    sleeps: list[float] = []
    result = wait_deployed(
        ecs,
        elbv2,
        "prod",
        list(ecs.services) if services is None else list(services),
        target_groups=target_groups,
        before=before,
        interval=2,
        attempts=attempts,
        sleep=sleeps.append,
    )
    return result, sleeps


def test_a_new_primary_passes_once_completed() -> None:
    ecs = FakeEcs({"backend-service": 2})
    old = deployment("ecs-svc/1", "backend:7", "COMPLETED", status="ACTIVE")
    ecs.rollouts["backend-service"] = [
        [deployment("ecs-svc/2", "backend:8", "IN_PROGRESS"), old],
        [deployment("ecs-svc/2", "backend:8", "COMPLETED")],
    ]
    result, sleeps = _wait(ecs, before={"backend-service": ["ecs-svc/1"]})
    assert str(result) == "backend-service: ecs-svc/2 COMPLETED 2/2 backend:8"
    assert sleeps == [2]


def test_a_primary_in_progress_on_the_old_task_definition_is_not_deployed() -> None:
    """The case the services_stable waiter let through: counts full, PRIMARY still IN_PROGRESS."""
    ecs = FakeEcs({"backend-service": 2})
    stuck = deployment("ecs-svc/1", "backend:7", "IN_PROGRESS")
    stuck["runningCount"] = 2
    ecs.rollouts["backend-service"] = [[stuck]]
    with pytest.raises(UpdateError) as caught:
        _wait(ecs, before={"backend-service": ["ecs-svc/1"]})
    assert str(caught.value) == (
        "ECS services in prod not deployed after 3 checks 2s apart: "
        "backend-service: ecs-svc/1 IN_PROGRESS 2/2 backend:7 (no new deployment since the apply)"
    )


def test_a_circuit_breaker_failure_fails_at_once() -> None:
    ecs = FakeEcs({"backend-service": 2})
    reason = "ECS deployment circuit breaker: tasks failed to start."
    ecs.rollouts["backend-service"] = [
        [
            deployment("ecs-svc/1", "backend:7", "IN_PROGRESS"),  # the roll-back, now PRIMARY
            deployment("ecs-svc/2", "backend:8", "FAILED", status="ACTIVE", reason=reason),
        ]
    ]
    sleeps: list[float] = []
    with pytest.raises(UpdateError) as caught:
        wait_deployed(
            ecs, None, "prod", ["backend-service"], before={"backend-service": ["ecs-svc/1"]},
            interval=2, attempts=5, sleep=sleeps.append,
        )  # fmt: skip
    assert str(caught.value) == (
        "ECS service backend-service: deployment ecs-svc/2 (task definition backend:8) "
        f"FAILED: {reason}"
    )
    assert sleeps == []


def test_an_old_failed_deployment_does_not_fail_a_completed_rollout() -> None:
    ecs = FakeEcs({"backend-service": 2})
    ecs.rollouts["backend-service"] = [
        [
            deployment("ecs-svc/3", "backend:9", "COMPLETED"),
            deployment("ecs-svc/2", "backend:8", "FAILED", status="ACTIVE"),
        ]
    ]
    result, _ = _wait(ecs, before={"backend-service": ["ecs-svc/2"]})
    assert str(result) == "backend-service: ecs-svc/3 COMPLETED 2/2 backend:9"


def test_an_unchanged_service_keeps_its_completed_primary_and_says_so() -> None:
    ecs = FakeEcs({"backend-service": 2}).completed()
    result, _ = _wait(ecs, before={"backend-service": ["ecs-svc/1"]})
    assert str(result) == (
        "backend-service: ecs-svc/1 COMPLETED 2/2 backend-service:7 "
        "(no new deployment since the apply)"
    )


def test_load_balancer_targets_must_all_be_healthy() -> None:
    ecs = FakeEcs({"backend-service": 2}).completed()
    ecs.services["backend-service"]["loadBalancers"] = [{"targetGroupArn": TG}]
    elbv2 = FakeElbv2()
    elbv2.health[TG] = [
        [
            ("healthy", "", ""),
            ("initial", "Elb.RegistrationInProgress", "Target registration is in progress"),
        ],
        [("healthy", "", ""), ("healthy", "", "")],
    ]
    result, sleeps = _wait(ecs, elbv2)
    assert str(result) == (
        "backend-service: ecs-svc/1 COMPLETED 2/2 backend-service:7; "
        "target group targetgroup/backend/0123456789abcdef: 2/2 healthy"
    )
    assert (elbv2.calls, sleeps) == ([TG, TG], [2])


def test_unhealthy_targets_fail_with_state_and_reason() -> None:
    elbv2 = FakeElbv2()
    elbv2.health[TG] = [
        [
            (
                "unhealthy",
                "Target.ResponseCodeMismatch",
                "Health checks failed with these codes: [502]",
            )
        ]
    ]
    with pytest.raises(UpdateError) as caught:
        _wait(FakeEcs(), elbv2, target_groups=[TG], services=[], attempts=2)
    assert str(caught.value) == (
        "target groups not deployed after 2 checks 2s apart: "
        "target group targetgroup/backend/0123456789abcdef: 1/1 unhealthy: 10.0.0.1:8000 unhealthy "
        "(Target.ResponseCodeMismatch Health checks failed with these codes: [502])"
    )


def test_a_target_group_without_targets_is_not_healthy() -> None:
    with pytest.raises(UpdateError, match=r"no registered targets$"):
        _wait(FakeEcs(), FakeElbv2(), target_groups=[TG], services=[], attempts=1)
