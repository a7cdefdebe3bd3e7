"""ECS: stability with rollout states, and the runbook's emergency procedures."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from update_fakes import FakeEcs, client_error

from runlayer_tf.errors import AuthError, UpdateError
from runlayer_tf.update._ecs import (
    EcsApi,
    ServiceState,
    describe_services,
    force_new_deployment,
    scale_bounce,
    wait_stable,
)

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
