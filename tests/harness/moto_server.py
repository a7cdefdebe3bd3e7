"""A moto server on loopback: AWS's HTTP APIs (ECR, RDS, ECS, STS) for real boto3 clients.

boto3 reaches it through the standard ``AWS_ENDPOINT_URL`` variable, exactly as a
user's boto3 would reach a custom endpoint: no client is patched.

One deviation from stock moto is added on purpose: moto's ECR ``ListImages``
ignores ``maxResults``/``nextToken`` and returns every image in one page, while
real ECR pages (at most 1,000 ids a page).  ``enable_ecr_list_images_paging``
makes the server page like ECR, so our paginated client code is exercised over
the wire.  The token is opaque to clients, as in AWS.

``enable_ecs_rollouts`` adds the ECS and ELBv2 states moto cannot produce (moto
starts no tasks, and fixes a deployment's ``rolloutState`` and counts when the
service is created):

* **Rollouts follow the counts.**  At every DescribeServices the PRIMARY
  deployment's counts are the service's, and its ``rolloutState`` is
  ``COMPLETED`` once running reaches desired, else ``IN_PROGRESS`` (moto's own
  rule, applied at creation only; in stock moto a service created at 0 running
  stays ``IN_PROGRESS`` after ``update_service`` reports it running).
* **Forced rollout states.**  ``ECS_ROLLOUTS[(cluster, service)]`` is a
  callable asked at every DescribeServices; when it returns ``(state, reason)``
  the PRIMARY deployment reports that ``rolloutState`` and
  ``rolloutStateReason``: ``"FAILED"`` is a rollout the deployment circuit
  breaker stopped, ``"IN_PROGRESS"`` one that never finishes.  None: no override.
* **Target health.**  ``TARGET_HEALTH[target_group_arn]`` is a callable asked at
  every DescribeTargetHealth; when it returns ``(state, reason, description)``
  every registered target reports that ``TargetHealth`` (e.g. ``"unhealthy"``,
  ``"Target.ResponseCodeMismatch"``).  Stock moto reports every registered IP
  target ``healthy``.

``ECR_DIGESTS`` makes ECR lie about digests, as a compromised or broken
endpoint (or a proxy in front of it) could: ``ECR_DIGESTS[real] = reported``
makes every ``ListImages`` id and ``DescribeImages`` detail of the image whose
digest is ``real`` report ``reported`` as its ``imageDigest`` (any string, e.g.
``sha256:${file("x")}``).  Stock moto only reports the digests it computed.

The callables run in the server's threads, so a test can make the answer depend
on what is deployed (the health server's ``deployed-version`` file).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

import attrs

_LOCK = threading.Lock()
_PATCHED = False
LIST_IMAGES_CALLS: list[dict[str, Any]] = []  # one entry per ListImages request served

_ECS_PATCHED = False
ECS_ROLLOUTS: dict[tuple[str, str], Callable[[], tuple[str, str] | None]] = {}
TARGET_HEALTH: dict[str, Callable[[], tuple[str, str, str] | None]] = {}
ECR_DIGESTS: dict[str, str] = {}  # real digest -> the imageDigest ECR answers report

ECR_DEFAULT_PAGE = 100  # ECR's page size when the caller does not set maxResults
ECR_MAX_PAGE = 1000


def enable_ecr_list_images_paging() -> None:
    """Make moto's ECR ListImages honour maxResults and nextToken like AWS does."""
    global _PATCHED
    with _LOCK:
        if _PATCHED:
            return
        from moto.core.responses import ActionResult
        from moto.ecr.responses import ECRResponse

        original = ECRResponse.list_images

        def list_images(self: Any) -> Any:
            result = original(self)
            ids = (
                result.result["imageIds"]
                if hasattr(result, "result")
                else json.loads(result)["imageIds"]
            )
            max_results = int(self._get_param("maxResults") or ECR_DEFAULT_PAGE)
            max_results = max(1, min(max_results, ECR_MAX_PAGE))
            token = self._get_param("nextToken")
            start = int(json.loads(base64.b64decode(token))["offset"]) if token else 0
            page = [
                {**i, "imageDigest": ECR_DIGESTS.get(i["imageDigest"], i["imageDigest"])}
                for i in ids[start : start + max_results]
            ]
            body: dict[str, Any] = {"imageIds": page}
            if start + max_results < len(ids):
                body["nextToken"] = base64.b64encode(
                    json.dumps({"offset": start + max_results}).encode()
                ).decode()
            LIST_IMAGES_CALLS.append({"offset": start, "returned": len(page), "total": len(ids)})
            return ActionResult(body)

        describe_images = ECRResponse.describe_images

        def lying_describe_images(self: Any) -> Any:
            result = describe_images(self)
            for detail in result.result["imageDetails"]:  # copies, not moto's own images
                real = detail.get_image_digest()
                if real in ECR_DIGESTS:
                    detail._image_digest = ECR_DIGESTS[real]
            return result

        ECRResponse.list_images = list_images  # type: ignore[method-assign]
        ECRResponse.describe_images = lying_describe_images  # type: ignore[method-assign]
        _PATCHED = True


def enable_ecs_rollouts() -> None:
    """Make DescribeServices report rollouts that follow the counts or ECS_ROLLOUTS, and
    DescribeTargetHealth report TARGET_HEALTH (see the module docstring)."""
    global _ECS_PATCHED
    with _LOCK:
        if _ECS_PATCHED:
            return
        from moto.ecs.responses import EC2ContainerServiceResponse
        from moto.elbv2.models import FakeHealthStatus
        from moto.elbv2.responses import ELBV2Response

        describe_services = EC2ContainerServiceResponse.describe_services

        def rollouts(self: Any) -> Any:
            result = describe_services(self)
            cluster = str(self._get_param("cluster", "default")).rsplit("/", 1)[-1]
            for service in result.result["services"]:
                forced = ECS_ROLLOUTS.get((cluster, service.name), lambda: None)()
                for deployment in service.deployments:
                    if deployment.get("status") != "PRIMARY":
                        continue
                    deployment["desiredCount"] = service.desired_count
                    deployment["runningCount"] = service.running_count
                    done = service.running_count >= service.desired_count
                    state = "COMPLETED" if done else "IN_PROGRESS"
                    reason = f"ECS deployment {deployment['id']} {'completed' if done else 'in progress'}."
                    if forced is not None:
                        state, reason = forced
                    deployment["rolloutState"] = state
                    deployment["rolloutStateReason"] = reason
            return result

        describe_target_health = ELBV2Response.describe_target_health

        def target_health(self: Any) -> Any:
            result = describe_target_health(self)
            forced = TARGET_HEALTH.get(str(self._get_param("TargetGroupArn")), lambda: None)()
            if forced is not None:
                result.result["TargetHealthDescriptions"] = [
                    FakeHealthStatus(h.instance_id, h.port, h.health_check_port, *forced)
                    for h in result.result["TargetHealthDescriptions"]
                ]
            return result

        EC2ContainerServiceResponse.describe_services = rollouts  # type: ignore[method-assign]
        ELBV2Response.describe_target_health = target_health  # type: ignore[method-assign]
        _ECS_PATCHED = True


@attrs.define
class MotoServer:
    """A ``ThreadedMotoServer`` on 127.0.0.1 with an ephemeral port and quiet logs."""

    _server: Any = None
    endpoint_url: str = ""

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        for name in ("werkzeug", "moto", "botocore"):
            logging.getLogger(name).setLevel(logging.ERROR)
        enable_ecr_list_images_paging()
        enable_ecs_rollouts()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def reset(self) -> None:
        """Forget every resource (moto's own reset API) and every forced ECS/ELBv2 state."""
        ECS_ROLLOUTS.clear()
        TARGET_HEALTH.clear()
        ECR_DIGESTS.clear()
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
