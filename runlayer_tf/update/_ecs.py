"""ECS services: verify a rollout is deployed, wait until stable, and the two emergency procedures.

:func:`wait_deployed` is what ``update`` verifies with.  "Stable" (the
``services_stable`` waiter: running == desired, one deployment) is not
"deployed": a rollout the circuit breaker rolled back, or a PRIMARY still
``IN_PROGRESS`` on the old task definition, can look stable.  So a service
passes only when:

* its PRIMARY deployment's ``rolloutState`` is ``COMPLETED``;
* no deployment is ``FAILED`` (the deployment circuit breaker): that fails at
  once, naming the service, deployment, task definition and reason;
* the PRIMARY is a deployment that started after the apply (its id was not
  among the service's deployments recorded before apply).  When the apply did
  not change the service (an unchanged task definition, a ``--var`` that no
  resource of the service reads) there is no new deployment: then the existing
  PRIMARY must be ``COMPLETED`` and the report says "no new deployment since
  the apply";
* every target of each of its load balancers' target groups (and of each
  ``--target-group``) is ``healthy`` (``elbv2 describe-target-health``).

Anything not met after the last check fails verify, naming what is still
waiting and each unhealthy target with its state and reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs

from runlayer_tf import aws
from runlayer_tf.aws import EcsApi, Elbv2Api, Waiter
from runlayer_tf.errors import ConfigError, RunlayerError, UpdateError

__all__ = [
    "Deployed",
    "Deployment",
    "EcsApi",
    "Elbv2Api",
    "RolloutChecks",
    "ScaleBounce",
    "ServiceState",
    "Waiter",
    "checks_rollouts",
    "deployment_ids",
    "describe_services",
    "force_new_deployment",
    "planned_checks",
    "record_deployments",
    "scale_bounce",
    "target_health",
    "verify_rollouts",
    "wait_deployed",
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
    reason: str = ""

    @property
    def family_revision(self) -> str:
        """``family:revision`` of the task definition (its ARN's last part)."""
        return self.task_definition.rsplit("/", 1)[-1]

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
    target_groups: tuple[str, ...] = ()

    @property
    def primary(self) -> Deployment | None:
        return next((d for d in self.deployments if d.status == "PRIMARY"), None)

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
            reason=str(d.get("rolloutStateReason", "")),
        )
        for d in raw.get("deployments") or []
    )
    target_groups = tuple(
        str(lb["targetGroupArn"])
        for lb in raw.get("loadBalancers") or []
        if lb.get("targetGroupArn")
    )
    return ServiceState(
        name=str(raw.get("serviceName", "")),
        status=str(raw.get("status", "")),
        desired=int(raw.get("desiredCount", 0)),
        running=int(raw.get("runningCount", 0)),
        deployments=deployments,
        target_groups=target_groups,
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


def deployment_ids(ecs: EcsApi, cluster: str, services: Sequence[str]) -> dict[str, list[str]]:
    """Each service's deployment ids now (recorded before apply, so verify knows which are new)."""
    return {
        s.name: [d.id for d in s.deployments] for s in describe_services(ecs, cluster, services)
    }


@attrs.frozen
class Deployed:
    """What :func:`wait_deployed` found: one line per service and per target group."""

    services: tuple[str, ...]
    target_groups: tuple[str, ...]

    def __str__(self) -> str:
        return "; ".join(self.services + self.target_groups)


def _rollout(state: ServiceState, before: Sequence[str] | None) -> tuple[str, bool]:
    """One service's rollout: (what it is, whether it is done); raises UpdateError on FAILED."""
    known = set(before or ())
    for d in state.deployments:
        if d.rollout_state == "FAILED" and (d.status == "PRIMARY" or d.id not in known):
            raise UpdateError(
                f"ECS service {state.name}: deployment {d.id} (task definition "
                f"{d.family_revision}) FAILED: {d.reason or 'no reason given'}"
            )
    primary = state.primary
    if primary is None:
        return f"{state.name}: no PRIMARY deployment", False
    counts = f"{primary.running}/{primary.desired}"
    line = f"{state.name}: {primary.id} {primary.rollout_state} {counts} {primary.family_revision}"
    if before is not None and primary.id in known:
        line += " (no new deployment since the apply)"
    return line, primary.rollout_state == "COMPLETED"


def target_health(elbv2: Elbv2Api, arn: str) -> tuple[str, bool]:
    """A target group's health: (what it is, whether every registered target is healthy)."""
    with aws.translated(f"describing target health of {arn}", service="ELBv2"):
        answer = elbv2.describe_target_health(TargetGroupArn=arn)
    name = arn.rsplit(":", 1)[-1]
    descriptions = answer.get("TargetHealthDescriptions") or []
    bad = []
    for d in descriptions:
        health = d.get("TargetHealth") or {}
        target = d.get("Target") or {}
        state = str(health.get("State", "unknown"))
        if state != "healthy":
            where = f"{target.get('Id', '?')}:{target.get('Port', '?')}"
            why = " ".join(str(health.get(k, "")) for k in ("Reason", "Description")).strip()
            bad.append(f"{where} {state}" + (f" ({why})" if why else ""))
    if not descriptions:
        return f"target group {name}: no registered targets", False
    if bad:
        return (
            f"target group {name}: {len(bad)}/{len(descriptions)} unhealthy: {', '.join(bad)}",
            False,
        )
    return f"target group {name}: {len(descriptions)}/{len(descriptions)} healthy", True


def wait_deployed(
    ecs: EcsApi | None,
    elbv2: Elbv2Api | None,
    cluster: str | None,
    services: Sequence[str],
    *,
    target_groups: Sequence[str] = (),
    before: Mapping[str, Sequence[str]] | None = None,
    interval: float = 15,
    attempts: int = 40,
    sleep: Callable[[float], None],
    on_poll: Callable[[str], None] = lambda line: None,
) -> Deployed:
    """Check up to ``attempts`` times, ``interval`` s apart, that every service is deployed.

    ``before`` maps a service to its deployment ids before the apply (None: not
    recorded, so every PRIMARY counts as new).  A FAILED rollout raises at once;
    anything else not met at the last check raises UpdateError naming it.
    """
    if services and (ecs is None or not cluster):
        raise ConfigError("ECS services named but no ECS cluster or client configured")
    lines: list[str] = []
    for attempt in range(attempts):
        waiting: list[str] = []
        service_lines: list[str] = []
        arns = list(dict.fromkeys(target_groups))
        if services and ecs is not None and cluster:
            for state in describe_services(ecs, cluster, services):
                line, done = _rollout(state, None if before is None else before.get(state.name, ()))
                service_lines.append(line)
                if not done:
                    waiting.append(line)
                arns += [a for a in state.target_groups if a not in arns]
        group_lines: list[str] = []
        if arns:
            if elbv2 is None:
                raise ConfigError("target groups to check but no ELBv2 client configured")
            for arn in arns:
                line, healthy = target_health(elbv2, arn)
                group_lines.append(line)
                if not healthy:
                    waiting.append(line)
        if not waiting:
            return Deployed(tuple(service_lines), tuple(group_lines))
        lines = waiting
        on_poll("; ".join(waiting))
        if attempt + 1 < attempts:
            sleep(interval)
    where = f"ECS services in {cluster}" if services else "target groups"
    raise UpdateError(
        f"{where} not deployed after {attempts} checks {interval:g}s apart: {'; '.join(lines)}"
    )


class RolloutChecks(Protocol):
    """What verify checks of ECS and ELBv2 (the update's spec satisfies it)."""

    @property
    def ecs_cluster(self) -> str | None: ...
    @property
    def services(self) -> tuple[str, ...]: ...
    @property
    def target_groups(self) -> tuple[str, ...]: ...
    @property
    def ecs_delay(self) -> int: ...
    @property
    def ecs_max_attempts(self) -> int: ...


def checks_rollouts(spec: RolloutChecks) -> bool:
    """Whether verify has any ECS service or target group to check."""
    return bool((spec.ecs_cluster and spec.services) or spec.target_groups)


def record_deployments(spec: RolloutChecks, ecs: EcsApi | None) -> dict[str, list[str]] | None:
    """The services' deployment ids before apply; None when no service is named or ECS cannot
    say (verify then meets the same error after the apply, where a failure rolls back; failing
    here would fail the apply step before Terraform ran)."""
    if not (spec.ecs_cluster and spec.services):
        return None
    if ecs is None:
        raise ConfigError("ECS services named but no ECS client configured")
    try:
        return deployment_ids(ecs, spec.ecs_cluster, spec.services)
    except RunlayerError:
        return None


def verify_rollouts(
    spec: RolloutChecks,
    ecs: EcsApi | None,
    elbv2: Elbv2Api | None,
    recorded: object,
    sleep: Callable[[float], None],
    on_poll: Callable[[str], None],
) -> Deployed:
    """:func:`wait_deployed` for ``spec``; ``recorded`` is what the apply step journalled."""
    return wait_deployed(
        ecs,
        elbv2,
        spec.ecs_cluster,
        spec.services,
        target_groups=spec.target_groups,
        before=recorded if isinstance(recorded, Mapping) else None,
        interval=spec.ecs_delay,
        attempts=spec.ecs_max_attempts,
        sleep=sleep,
        on_poll=on_poll,
    )


def planned_checks(spec: RolloutChecks) -> list[str]:
    """What verify will check of ECS and ELBv2, for ``--dry-run``."""
    checks = []
    if spec.ecs_cluster and spec.services:
        checks.append(
            f"wait for the PRIMARY deployment of ECS services {', '.join(spec.services)} in "
            f"{spec.ecs_cluster} to be COMPLETED (FAILED stops at once) and their load "
            "balancers' targets healthy"
        )
    if spec.target_groups:
        checks.append(f"wait for every target of {', '.join(spec.target_groups)} to be healthy")
    return checks


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
