"""The one boundary between runlayer-tf and botocore.

Everything that talks to AWS gets its clients here and turns botocore's
exceptions into runlayer-tf's errors here:

* :class:`Session`: one botocore session for the clients of one command, so
  credentials are resolved once.  The region comes from the caller, else
  ``AWS_REGION`` (which botocore itself ignores but the AWS CLI v2 and the other
  SDKs honour), else botocore's own ``AWS_DEFAULT_REGION``/profile lookup.
* Typed client factories, :func:`ecr`, :func:`rds`, :func:`ecs` and
  :func:`elbv2`, whose results satisfy the :class:`EcrApi`, :class:`RdsApi`,
  :class:`EcsApi` and :class:`Elbv2Api` protocols (the seams the rest of the
  package and the unit tests' fakes use).  ``rds()``, ``ecs()`` and ``elbv2()``
  build their client on first use, so ``--dry-run`` needs no AWS configuration.
* :func:`translated`, a context manager that turns a botocore error raised
  inside it into one :class:`~runlayer_tf.errors.RunlayerError` line.

botocore is imported only when a client is built or an error is translated:
``import runlayer_tf.aws`` costs nothing, and the OCI and layout paths never
load it (``botocore.exceptions`` alone takes ~70 ms to import).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol, cast

from runlayer_tf.errors import AuthError, RunlayerError, UpdateError, UsageError

__all__ = [
    "AUTH_CODES",
    "MAX_ATTEMPTS",
    "EcrApi",
    "EcsApi",
    "Elbv2Api",
    "RdsApi",
    "Session",
    "Waiter",
    "WaiterFailed",
    "aws_code",
    "ecr",
    "ecs",
    "elbv2",
    "preload",
    "rds",
    "translated",
]

MAX_ATTEMPTS = 5
"""Requests per call, the first included (botocore's ``standard`` retry mode)."""

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
        # EC2-style codes some services answer with.
        "AuthFailure",
        "UnauthorizedOperation",
    }
)
"""Error codes that mean the credentials are missing, expired or not allowed."""

_THROTTLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
_NO_REGION = (
    "no AWS region: set region in the query, AWS_REGION or AWS_DEFAULT_REGION, "
    "or a profile's region"
)
_NO_CREDENTIALS = (
    "no AWS credentials found (set AWS_PROFILE, run 'aws sso login', or export AWS_ACCESS_KEY_ID)"
)


# --- the seams --------------------------------------------------------------------------------


class EcrApi(Protocol):
    """The ECR calls the resolver uses (a botocore ECR client satisfies this);
    ``batch_get_image`` only when a platform is asked for."""

    def list_images(self, **kwargs: Any) -> dict[str, Any]: ...

    def describe_images(self, **kwargs: Any) -> dict[str, Any]: ...

    def batch_get_image(self, **kwargs: Any) -> dict[str, Any]: ...


class RdsApi(Protocol):
    """The RDS calls the update uses; a botocore ``rds`` client satisfies it."""

    def describe_db_clusters(self, *, DBClusterIdentifier: str) -> Mapping[str, Any]: ...

    def create_db_cluster_snapshot(
        self,
        *,
        DBClusterSnapshotIdentifier: str,
        DBClusterIdentifier: str,
        Tags: Sequence[Mapping[str, str]],
    ) -> Mapping[str, Any]: ...

    def describe_db_cluster_snapshots(
        self, *, DBClusterSnapshotIdentifier: str
    ) -> Mapping[str, Any]: ...

    def add_tags_to_resource(
        self, *, ResourceName: str, Tags: Sequence[Mapping[str, str]]
    ) -> Mapping[str, Any]: ...


class Waiter(Protocol):
    def wait(
        self, *, cluster: str, services: list[str], WaiterConfig: Mapping[str, int]
    ) -> None: ...


class EcsApi(Protocol):
    """The ECS calls the update and the ``ecs`` command use; a botocore ``ecs`` client satisfies it."""

    def describe_services(self, *, cluster: str, services: list[str]) -> Mapping[str, Any]: ...

    def update_service(
        self,
        *,
        cluster: str,
        service: str,
        desiredCount: int = ...,
        forceNewDeployment: bool = ...,
    ) -> Mapping[str, Any]: ...

    def get_waiter(self, waiter_name: str) -> Waiter: ...


class Elbv2Api(Protocol):
    """The ELBv2 call verify uses (target health); a botocore ``elbv2`` client satisfies it."""

    def describe_target_health(self, *, TargetGroupArn: str) -> Mapping[str, Any]: ...


# --- errors -----------------------------------------------------------------------------------


class WaiterFailed(UpdateError):
    """A botocore waiter gave up (or met a failure state); the caller says what that means."""


def aws_code(err: BaseException) -> str:
    """The AWS error code a translated error came from ("" when it came from none)."""
    return str(getattr(err, "aws_code", ""))


def _with_code(err: RunlayerError, code: str) -> RunlayerError:
    err.aws_code = code  # type: ignore[attr-defined]
    return err


def translate(
    err: BaseException,
    doing: str,
    *,
    error: type[RunlayerError] = UpdateError,
    service: str = "",
    codes: Mapping[str, tuple[type[RunlayerError], str]] | None = None,
) -> RunlayerError | None:
    """The one-line runlayer-tf error for a botocore error met while ``doing`` something.

    ``error`` is the class of an error the service answered; ``service`` (e.g.
    "ECR") names it in the message; ``codes`` maps an error code to the class
    and words that say what it means (``RepositoryNotFoundException`` ->
    ``NotFoundError, "repository not found"``).  Returns None for an exception
    that is not botocore's.
    """
    import botocore.exceptions as bce

    label = f"{service} " if service else ""
    if isinstance(err, bce.ClientError):
        code = str(err.response.get("Error", {}).get("Code", ""))
        message = " ".join(str(err.response.get("Error", {}).get("Message", "")).split())
        if codes and code in codes:
            cls, words = codes[code]
            return _with_code(cls(f"{doing}: {words} ({message})"), code)
        if code in AUTH_CODES:
            return _with_code(
                AuthError(f"{doing}: AWS refused the credentials ({code}: {message})"), code
            )
        if code in _THROTTLE_CODES:
            text = (
                f"{doing}: {label}throttled the request and {MAX_ATTEMPTS} attempts failed ({code})"
            )
            return _with_code(error(text), code)
        detail = f"{code}: {message}" if message else code
        return _with_code(
            error(f"{doing}: {label}error {detail}" if service else f"{doing}: {detail}"), code
        )
    if isinstance(err, bce.WaiterError):
        return WaiterFailed(f"{doing}: {err}")
    if isinstance(err, bce.NoCredentialsError):
        return AuthError(f"{doing}: {_NO_CREDENTIALS}")
    if isinstance(err, bce.TokenRetrievalError | bce.SSOError):
        return AuthError(
            f"{doing}: AWS SSO credentials are missing or expired ({err}); run 'aws sso login'"
        )
    if isinstance(err, bce.NoRegionError):
        return UsageError(_NO_REGION)
    if isinstance(err, bce.ProfileNotFound):
        return UsageError(f"AWS profile not found: {err}")
    if isinstance(err, bce.EndpointConnectionError | bce.ConnectionError):
        return error(f"{doing}: cannot reach {service or 'AWS'} ({err})")
    if isinstance(err, bce.BotoCoreError):
        return error(f"{doing}: {err}")
    return None


@contextlib.contextmanager
def translated(
    doing: str,
    *,
    error: type[RunlayerError] = UpdateError,
    service: str = "",
    codes: Mapping[str, tuple[type[RunlayerError], str]] | None = None,
) -> Iterator[None]:
    """Run the block; a botocore error raised in it becomes one runlayer-tf error.

    The arguments are :func:`translate`'s.  Other exceptions pass unchanged.
    The translated error keeps the AWS error code (:func:`aws_code`).
    """
    try:
        yield
    except RunlayerError:
        raise
    except Exception as err:
        if type(err).__module__.partition(".")[0] != "botocore":
            raise
        mapped = translate(err, doing, error=error, service=service, codes=codes)
        if mapped is None:
            raise
        raise mapped from err


# --- sessions and clients ---------------------------------------------------------------------


def _config() -> Any:
    import botocore.config

    return botocore.config.Config(
        # total_max_attempts counts the first request; max_attempts would count retries only.
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="runlayer-tf",
    )


class Session:
    """One botocore session for the clients of one command, so credentials are resolved once.

    Built on first use, from the standard AWS configuration: environment,
    profile, SSO, ``AWS_ENDPOINT_URL``.  botocore alone, not boto3: boto3 adds
    nothing these clients use, and importing it (with s3transfer) costs
    ~15-45 ms.
    """

    def __init__(self) -> None:
        self._session: Any = None

    def client(self, service: str, *, region: str = "") -> Any:
        """A client for ``service`` in ``region`` (default: ``AWS_REGION``, then botocore's)."""
        with translated(f"creating the {service} client", service=service.upper()):
            import botocore.session

            if self._session is None:
                self._session = botocore.session.Session()
            region = region or os.environ.get("AWS_REGION", "")
            return self._session.create_client(
                service, region_name=region or None, config=_config()
            )


# Shared by clients built without a session, as boto3's default session is.
_DEFAULT_SESSION = Session()


class _LazyClient:
    """Builds its client on first use, so ``--dry-run`` needs no AWS configuration."""

    def __init__(self, service: str, session: Session) -> None:
        self._service = service
        self._session = session
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._session.client(self._service)
        return getattr(self._client, name)


def ecr(region: str = "", session: Session | None = None) -> EcrApi:
    """An ECR client (built now: a missing region or profile is a UsageError here)."""
    return cast(EcrApi, (session or _DEFAULT_SESSION).client("ecr", region=region))


def rds(session: Session | None = None) -> RdsApi:
    """An RDS client, built on its first call."""
    return cast(RdsApi, _LazyClient("rds", session or _DEFAULT_SESSION))


def ecs(session: Session | None = None) -> EcsApi:
    """An ECS client, built on its first call."""
    return cast(EcsApi, _LazyClient("ecs", session or _DEFAULT_SESSION))


def elbv2(session: Session | None = None) -> Elbv2Api:
    """An ELBv2 (load balancing) client, built on its first call."""
    return cast(Elbv2Api, _LazyClient("elbv2", session or _DEFAULT_SESSION))


def preload() -> None:
    """Import botocore now (a long-lived process pays the import once, before it serves)."""
    import botocore.session  # noqa: F401
