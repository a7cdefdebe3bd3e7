"""Amazon ECR through botocore (clients and errors from :mod:`runlayer_tf.aws`).

Profiles, environment variables, SSO and ``AWS_ENDPOINT_URL`` all work because
botocore reads them itself.  Tags come from ``ListImages`` (tagged images only,
every page, 1,000 ids a page), which also gives each tag's digest; only the
image the answer needs is described (``DescribeImages``) for its push time and
registry id.  Throttling and transient errors are retried by botocore's
``standard`` retry mode, then reported.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator, Mapping

from runlayer_tf import aws
from runlayer_tf.aws import EcrApi
from runlayer_tf.errors import NotFoundError, RegistryError
from runlayer_tf.registries._base import TAG_NAME, RegistryAddress, checked_digest
from runlayer_tf.registries._platform import INDEX_TYPES, MANIFEST_TYPES, manifest_object
from runlayer_tf.tags import Digest

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: typing is not imported on the resolve path
if TYPE_CHECKING:
    from typing import Any

MAX_MANIFEST = 4 * 1024 * 1024  # as for every registry: the distribution spec's manifest limit

# ECR error codes that mean the thing asked for does not exist.
_ECR_CODES = {
    "RepositoryNotFoundException": (NotFoundError, "repository not found"),
    "ImageNotFoundException": (NotFoundError, "image not found"),
    "ImageNotFound": (NotFoundError, "image not found"),
}


class EcrRegistry:
    """A :class:`~runlayer_tf.registries._base.Registry` backed by ECR."""

    def __init__(self, address: RegistryAddress, client: EcrApi | None = None) -> None:
        self.address = address
        self._client = client
        self._registry_id = address.registry_id
        self._region = address.region
        self._details: dict[tuple[str, str], dict[str, Any]] = {}

    @property
    def client(self) -> EcrApi:
        if self._client is None:
            self._client = aws.ecr(self._region)
        return self._client

    @property
    def display_host(self) -> str:
        region = self._region or str(
            getattr(getattr(self.client, "meta", None), "region_name", "") or ""
        )
        if self._registry_id and region:
            return f"{self._registry_id}.dkr.ecr.{region}.amazonaws.com"
        return "ecr"

    def _id_args(self) -> dict[str, str]:
        return {"registryId": self._registry_id} if self._registry_id else {}

    @staticmethod
    def _translated(what: str) -> contextlib.AbstractContextManager[None]:
        return aws.translated(what, error=RegistryError, service="ECR", codes=_ECR_CODES)

    def _pages(self, repository: str) -> Iterator[dict[str, Any]]:
        token = None
        while True:
            kwargs: dict[str, Any] = {
                "repositoryName": repository,
                "filter": {"tagStatus": "TAGGED"},
                "maxResults": 1000,
                **self._id_args(),
            }
            if token:
                kwargs["nextToken"] = token
            with aws.translated(
                f"listing {repository}", error=RegistryError, service="ECR", codes=_ECR_CODES
            ):
                page = self.client.list_images(**kwargs)
            yield page
            token = page.get("nextToken")
            if not token:
                return

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        tags: dict[str, str | None] = {}
        for page in self._pages(repository):
            for image_id in page.get("imageIds", []):
                tag = image_id.get("imageTag")
                if isinstance(tag, str) and TAG_NAME.fullmatch(tag):
                    tags[tag] = checked_digest(image_id.get("imageDigest"), f"ECR ({repository})")
        return tags

    def _describe(self, repository: str, image_id: dict[str, str]) -> dict[str, Any]:
        key = (repository, image_id.get("imageDigest") or image_id.get("imageTag", ""))
        if key not in self._details:
            with self._translated(f"describing {repository}"):
                resp = self.client.describe_images(
                    repositoryName=repository, imageIds=[image_id], **self._id_args()
                )
            details = resp.get("imageDetails") or []
            if not details:
                raise NotFoundError(f"{repository}: no image {key[1]}")
            detail = details[0]
            # Checked before it is kept: a refused answer must not be served from memory later.
            detail["imageDigest"] = checked_digest(detail.get("imageDigest"), f"ECR ({repository})")
            self._registry_id = self._registry_id or str(detail.get("registryId", ""))
            self._details[key] = detail
            self._details[(repository, detail["imageDigest"])] = detail
        return self._details[key]

    def digest_of(self, repository: str, reference: str) -> str:
        image_id = (
            {"imageDigest": reference}
            if reference.startswith("sha256:")
            else {"imageTag": reference}
        )
        return str(self._describe(repository, image_id)["imageDigest"])

    def pushed_at(self, repository: str, digest: str) -> datetime.datetime | None:
        pushed = self._describe(repository, {"imageDigest": digest}).get("imagePushedAt")
        if isinstance(pushed, datetime.datetime):
            return pushed.astimezone(datetime.timezone.utc)
        return None

    def manifest(self, repository: str, digest: str) -> bytes:
        with self._translated(f"reading a manifest of {repository}"):
            resp = self.client.batch_get_image(
                repositoryName=repository,
                imageIds=[{"imageDigest": digest}],
                acceptedMediaTypes=list(INDEX_TYPES + MANIFEST_TYPES),
                **self._id_args(),
            )
        images = resp.get("images") or []
        body = images[0].get("imageManifest") if images else None
        if not isinstance(body, str):
            raise NotFoundError(f"{repository}@{digest} not found in ECR")
        data = body.encode("utf-8")
        if len(data) > MAX_MANIFEST or str(Digest.of_bytes(data)) != digest:
            raise RegistryError(f"ECR ({repository}): the manifest of {digest} does not hash to it")
        manifest_object(data, f"ECR ({repository}@{digest})")
        return data

    def image_config(self, repository: str, digest: str) -> bytes | None:
        return None  # a layer download URL and a second request: not cheap; accepted

    def describe_many(self, repository: str, digests: list[str]) -> dict[str, dict[str, Any]]:
        """Describe several images at once (100 a call), for ``runlayer-tf versions``."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(digests), 100):
            chunk = [{"imageDigest": d} for d in digests[start : start + 100]]
            with self._translated(f"describing {repository}"):
                resp = self.client.describe_images(
                    repositoryName=repository, imageIds=chunk, **self._id_args()
                )
            for detail in resp.get("imageDetails", []):
                self._registry_id = self._registry_id or str(detail.get("registryId", ""))
                detail["imageDigest"] = checked_digest(
                    detail.get("imageDigest"), f"ECR ({repository})"
                )
                out[detail["imageDigest"]] = detail
                self._details[(repository, detail["imageDigest"])] = detail
        return out
