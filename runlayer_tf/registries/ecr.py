"""Amazon ECR through boto3, with the standard AWS configuration.

Profiles, environment variables, SSO and ``AWS_ENDPOINT_URL`` all work because
boto3 reads them itself.  Tags come from ``ListImages`` (tagged images only,
every page, 1,000 ids a page), which also gives each tag's digest; only the
image the answer needs is described (``DescribeImages``) for its push time and
registry id.  Throttling and transient errors are retried by botocore's
``standard`` retry mode, then reported.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar, cast

from runlayer_tf.errors import AuthError, NotFoundError, RegistryError, RunlayerError, UsageError
from runlayer_tf.registries.base import RegistryAddress

T = TypeVar("T")

MAX_ATTEMPTS = 5
AUTH_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "ExpiredToken",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
_THROTTLE_CODES = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}


class EcrApi(Protocol):
    """The two ECR calls the resolver uses (a boto3 ECR client satisfies this)."""

    def list_images(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_images(self, **kwargs: Any) -> dict[str, Any]: ...


def make_client(region: str) -> EcrApi:
    """A boto3 ECR client with standard retries; the region may be empty (from AWS config)."""
    import botocore.config
    import botocore.exceptions
    import botocore.session

    config = botocore.config.Config(
        # total_max_attempts counts the first request; botocore's max_attempts would count retries only.
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="runlayer-tf",
    )
    try:
        # botocore alone: boto3 adds nothing an ECR client uses, and importing
        # it (with s3transfer) costs ~15-45 ms on every cold resolve.
        session = botocore.session.Session()
        # botocore reads AWS_DEFAULT_REGION but not AWS_REGION, which the AWS CLI
        # v2 and the other SDKs honour; accept both.
        region = region or os.environ.get("AWS_REGION", "")
        client = cast(
            EcrApi, session.create_client("ecr", region_name=region or None, config=config)
        )
    except botocore.exceptions.NoRegionError:
        raise UsageError(
            "no AWS region: set region in the query, AWS_REGION or AWS_DEFAULT_REGION, or a profile's region"
        ) from None
    except botocore.exceptions.ProfileNotFound as err:
        raise UsageError(f"AWS profile not found: {err}") from None
    return client


def translate(err: Exception, *, what: str) -> RunlayerError:
    """Map a botocore exception to runlayer-tf's errors (one line, no traceback)."""
    import botocore.exceptions

    if isinstance(err, botocore.exceptions.ClientError):
        code = err.response.get("Error", {}).get("Code", "")
        message = " ".join(str(err.response.get("Error", {}).get("Message", "")).split())
        if code == "RepositoryNotFoundException":
            return NotFoundError(f"{what}: repository not found ({message})")
        if code in ("ImageNotFoundException", "ImageNotFound"):
            return NotFoundError(f"{what}: image not found ({message})")
        if code in AUTH_CODES:
            return AuthError(f"{what}: AWS refused the credentials ({code}: {message})")
        if code in _THROTTLE_CODES:
            return RegistryError(
                f"{what}: ECR throttled the request and {MAX_ATTEMPTS} attempts failed ({code})"
            )
        return RegistryError(f"{what}: ECR error {code}: {message}")
    if isinstance(err, botocore.exceptions.NoCredentialsError):
        return AuthError(
            f"{what}: no AWS credentials found (set AWS_PROFILE, run 'aws sso login', or export AWS_ACCESS_KEY_ID)"
        )
    if isinstance(err, botocore.exceptions.TokenRetrievalError | botocore.exceptions.SSOError):
        return AuthError(
            f"{what}: AWS SSO credentials are missing or expired ({err}); run 'aws sso login'"
        )
    if isinstance(err, botocore.exceptions.NoRegionError):
        return UsageError(
            "no AWS region: set region in the query, AWS_REGION or AWS_DEFAULT_REGION, or a profile's region"
        )
    if isinstance(
        err, botocore.exceptions.EndpointConnectionError | botocore.exceptions.ConnectionError
    ):
        return RegistryError(f"{what}: cannot reach ECR ({err})")
    if isinstance(err, botocore.exceptions.BotoCoreError):
        return RegistryError(f"{what}: {err}")
    raise err


class EcrRegistry:
    """A :class:`~runlayer_tf.registries.base.Registry` backed by ECR."""

    def __init__(self, address: RegistryAddress, client: EcrApi | None = None) -> None:
        self.address = address
        self._client = client
        self._registry_id = address.registry_id
        self._region = address.region
        self._details: dict[tuple[str, str], dict[str, Any]] = {}

    @property
    def client(self) -> EcrApi:
        if self._client is None:
            self._client = make_client(self._region)
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

    def _call(self, what: str, call: Callable[[], T]) -> T:
        import botocore.exceptions

        try:
            return call()
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as err:
            raise translate(err, what=what) from None

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
            page = self._call(
                f"listing {repository}", lambda kw=kwargs: self.client.list_images(**kw)
            )  # type: ignore[misc]
            yield page
            token = page.get("nextToken")
            if not token:
                return

    def list_tags(self, repository: str) -> Mapping[str, str | None]:
        tags: dict[str, str | None] = {}
        for page in self._pages(repository):
            for image_id in page.get("imageIds", []):
                if image_id.get("imageTag"):
                    tags[image_id["imageTag"]] = image_id["imageDigest"]
        return tags

    def _describe(self, repository: str, image_id: dict[str, str]) -> dict[str, Any]:
        key = (repository, image_id.get("imageDigest") or image_id.get("imageTag", ""))
        if key not in self._details:
            resp = self._call(
                f"describing {repository}",
                lambda: self.client.describe_images(
                    repositoryName=repository, imageIds=[image_id], **self._id_args()
                ),
            )
            details = resp.get("imageDetails") or []
            if not details:
                raise NotFoundError(f"{repository}: no image {key[1]}")
            detail = details[0]
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

    def describe_many(self, repository: str, digests: list[str]) -> dict[str, dict[str, Any]]:
        """Describe several images at once (100 a call), for ``runlayer-tf versions``."""
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(digests), 100):
            chunk = [{"imageDigest": d} for d in digests[start : start + 100]]
            resp = self._call(
                f"describing {repository}",
                lambda c=chunk: self.client.describe_images(
                    repositoryName=repository, imageIds=c, **self._id_args()
                ),  # type: ignore[misc]
            )
            for detail in resp.get("imageDetails", []):
                self._registry_id = self._registry_id or str(detail.get("registryId", ""))
                out[detail["imageDigest"]] = detail
                self._details[(repository, detail["imageDigest"])] = detail
        return out
