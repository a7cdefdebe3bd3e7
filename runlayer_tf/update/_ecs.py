"""ECS services: wait until stable, and the runbook's two emergency procedures."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from runlayer_tf import aws
from runlayer_tf.aws import EcsApi, Waiter
from runlayer_tf.errors import RunlayerError, UpdateError

__all__ = [
    "Deployment",
    "EcsApi",
    "ScaleBounce",
    "ServiceState",
    "Waiter",
    "describe_services",
    "force_new_deployment",
    "scale_bounce",
    "wait_stable",
]


@attrs.frozen
class Deployment:
    """One deployment of a service, as ``describe-services`` reports it."""

    id: str
    status: str
    rollout_state: str
    task_definition: str
    desired: int
    running: int

    def __str__(self) -> str:
        family_revision = self.task_definition.rsplit("/", 1)[-1]
        return f"{self.status.lower()} {self.rollout_state} {self.running}/{self.desired} {family_revision}"


@attrs.frozen
class ServiceState:
    """A service's counts and deployments."""

    name: str
    status: str
    desired: int
    running: int
    deployments: tuple[Deployment, ...]

    def __str__(self) -> str:
        rollouts = "; ".join(str(d) for d in self.deployments) or "no deployments"
        return f"{self.name}: {self.running}/{self.desired} running, {rollouts}"


def describe_services(
    ecs: EcsApi, cluster: str, services: Sequence[str]
) -> tuple[ServiceState, ...]:
    """Describe ``services`` of ``cluster``; raises UpdateError when one is missing."""
    with aws.translated(f"describing ECS services in {cluster}"):
        answer = ecs.describe_services(cluster=cluster, services=list(services))
    failures = answer.get("failures") or []
    if failures:
        missing = ", ".join(f"{f.get('arn', '?')} ({f.get('reason', '?')})" for f in failures)
        raise UpdateError(f"ECS services not found in cluster {cluster}: {missing}")
    return tuple(_service_state(raw) for raw in answer.get("services") or [])


def _service_state(raw: Mapping[str, Any]) -> ServiceState:
    deployments = tuple(
        Deployment(
            id=str(d.get("id", "")),
            status=str(d.get("status", "")),
            rollout_state=str(d.get("rolloutState", "UNKNOWN")),
            task_definition=str(d.get("taskDefinition", "")),
            desired=int(d.get("desiredCount", 0)),
            running=int(d.get("runningCount", 0)),
        )
        for d in raw.get("deployments") or []
    )
    return ServiceState(
        name=str(raw.get("serviceName", "")),
        status=str(raw.get("status", "")),
        desired=int(raw.get("desiredCount", 0)),
        running=int(raw.get("runningCount", 0)),
        deployments=deployments,
    )


def wait_stable(
    ecs: EcsApi,
    cluster: str,
    services: Sequence[str],
    *,
    delay: int = 15,
    max_attempts: int = 40,
) -> tuple[ServiceState, ...]:
    """Wait with boto3's ``services_stable`` waiter, then report every deployment's rollout state.

    Raises UpdateError naming each service's deployments and rollout states when
    the services do not settle.
    """
    if not services:
        return ()
    try:
        with aws.translated(f"waiting for ECS services in {cluster}"):
            ecs.get_waiter("services_stable").wait(
                cluster=cluster,
                services=list(services),
                WaiterConfig={"Delay": delay, "MaxAttempts": max_attempts},
            )
    except aws.WaiterFailed as err:
        # A missing service fails the waiter at once; say that, not "not stable".
        states = "; ".join(str(s) for s in describe_services(ecs, cluster, services))
        raise UpdateError(f"ECS services in {cluster} did not become stable: {states}") from err
    return describe_services(ecs, cluster, services)


def force_new_deployment(
    ecs: EcsApi,
    cluster: str,
    services: Sequence[str],
    *,
    wait: Callable[[EcsApi, str, Sequence[str]], tuple[ServiceState, ...]] = wait_stable,
) -> tuple[ServiceState, ...]:
    """The security-patch procedure: redeploy each service with the same task definition, then wait."""
    for service in services:
        with aws.translated(f"forcing a new deployment of {service} in {cluster}"):
            ecs.update_service(cluster=cluster, service=service, forceNewDeployment=True)
    return wait(ecs, cluster, services)


@attrs.frozen
class ScaleBounce:
    """A service scaled to zero and back to its ``previous`` desired count."""

    service: str
    previous: int
    after: ServiceState | None


def scale_bounce(
    ecs: EcsApi,
    cluster: str,
    services: Sequence[str],
    *,
    wait: Callable[[EcsApi, str, Sequence[str]], tuple[ServiceState, ...]] = wait_stable,
) -> tuple[ScaleBounce, ...]:
    """The emergency roll-back: stop every task, then scale back up to the previous desired count.

    The counts are read first.  Whatever goes wrong once a service is at zero
    (a failed wait, an interrupt), every service scaled down is scaled back to
    its previous count before the error goes on; an error that leaves any
    service short names the counts to scale back to.  Raises UpdateError (or
    the translated AWS error when the first scale-down is refused).
    """
    before = describe_services(ecs, cluster, services)
    previous = {state.name: state.desired for state in before}
    counts = ", ".join(f"{name}={n}" for name, n in previous.items())
    at_zero: list[str] = []
    try:
        for name in previous:
            _update_count(
                ecs,
                cluster,
                name,
                0,
                f"setting desired count of {name} in {cluster} to 0 (previous counts: {counts})",
            )
            at_zero.append(name)
        wait(ecs, cluster, services)
    except BaseException as err:
        if not at_zero:
            raise  # nothing changed: the error already names the previous counts
        problems = _scale_back(ecs, cluster, at_zero, previous)
        what = str(err) if isinstance(err, RunlayerError) else f"interrupted ({type(err).__name__})"
        if problems:
            raise UpdateError(
                f"{what}; scaling back failed too ({problems}); "
                f"scale back with: desired counts {counts}"
            ) from err
        if isinstance(err, RunlayerError):
            raise UpdateError(
                f"{what}; scaled back to the previous desired counts {counts}"
            ) from err
        raise
    problems = _scale_back(ecs, cluster, list(previous), previous)
    if problems:
        raise UpdateError(
            f"scaling back in {cluster} failed ({problems}); scale back with: desired counts {counts}"
        )
    after = {state.name: state for state in wait(ecs, cluster, services)}
    return tuple(ScaleBounce(name, count, after.get(name)) for name, count in previous.items())


def _scale_back(
    ecs: EcsApi, cluster: str, names: Sequence[str], previous: Mapping[str, int]
) -> str:
    """Set every one of ``names`` back to its previous count; the failures, joined, or ""."""
    problems = []
    for name in names:
        try:
            _update_count(ecs, cluster, name, previous[name], f"setting {name} to {previous[name]}")
        except RunlayerError as err:
            problems.append(str(err))
    return "; ".join(problems)


def _update_count(ecs: EcsApi, cluster: str, service: str, count: int, doing: str) -> None:
    """Set ``service``'s desired count; raises the AWS error translated, naming ``doing``."""
    with aws.translated(doing):
        ecs.update_service(cluster=cluster, service=service, desiredCount=count)
