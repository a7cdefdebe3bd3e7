"""A moto server on loopback: AWS's HTTP APIs (ECR, RDS, ECS, STS) for real boto3 clients.

boto3 reaches it through the standard ``AWS_ENDPOINT_URL`` variable, exactly as a
user's boto3 would reach a custom endpoint: no client is patched.

One deviation from stock moto is added on purpose: moto's ECR ``ListImages``
ignores ``maxResults``/``nextToken`` and returns every image in one page, while
real ECR pages (at most 1,000 ids a page).  ``enable_ecr_list_images_paging``
makes the server page like ECR, so our paginated client code is exercised over
the wire.  The token is opaque to clients, as in AWS.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.request
from typing import Any

import attrs

_LOCK = threading.Lock()
_PATCHED = False
LIST_IMAGES_CALLS: list[dict[str, Any]] = []  # one entry per ListImages request served

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
            page = ids[start : start + max_results]
            body: dict[str, Any] = {"imageIds": page}
            if start + max_results < len(ids):
                body["nextToken"] = base64.b64encode(
                    json.dumps({"offset": start + max_results}).encode()
                ).decode()
            LIST_IMAGES_CALLS.append({"offset": start, "returned": len(page), "total": len(ids)})
            return ActionResult(body)

        ECRResponse.list_images = list_images  # type: ignore[method-assign]
        _PATCHED = True


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
        """Forget every resource (moto's own reset API)."""
        req = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
