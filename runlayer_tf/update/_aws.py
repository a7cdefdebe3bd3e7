"""The boundary between botocore and the runlayer-tf error hierarchy."""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from runlayer_tf.errors import AuthError, RunlayerError, UpdateError
from runlayer_tf.registries.ecr import AUTH_CODES

# ECR's auth-failure codes and the EC2-style ones other services answer with.
_AUTH_CODES = AUTH_CODES | {"AuthFailure", "UnauthorizedOperation"}


def error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def translate(err: BotoCoreError | ClientError, doing: str) -> RunlayerError:
    """A one-line runlayer-tf error for a botocore error met while ``doing`` something."""
    if isinstance(err, ClientError):
        code = error_code(err)
        message = str(err.response.get("Error", {}).get("Message", "")).strip()
        text = f"{doing}: {code}" + (f": {message}" if message else "")
        return AuthError(text) if code in _AUTH_CODES else UpdateError(text)
    if isinstance(err, NoCredentialsError):
        return AuthError(f"{doing}: no AWS credentials found")
    return UpdateError(f"{doing}: {err}")


class AwsSession:
    """One botocore session for the clients of one command, so credentials are resolved once.

    Built on first use (``--dry-run`` needs no AWS configuration), from the
    standard AWS configuration: env, profile, SSO, ``AWS_ENDPOINT_URL``.
    """

    def __init__(self) -> None:
        self._session: Any = None

    def client(self, service: str) -> Any:
        """A client for ``service``; raises BotoCoreError (no region, unknown profile, ...)."""
        import botocore.session

        if self._session is None:
            self._session = botocore.session.Session()
        # botocore reads AWS_DEFAULT_REGION but not AWS_REGION (which the AWS CLI v2 honours).
        region = os.environ.get("AWS_REGION") or None
        return self._session.create_client(service, region_name=region)


# Shared by the clients built without a session, like boto3's default session.
_DEFAULT_SESSION = AwsSession()


def client(service: str, session: AwsSession | None = None) -> Any:
    """A client from ``session`` (default: one session shared by every such call)."""
    return (session or _DEFAULT_SESSION).client(service)


class LazyClient:
    """Builds the client on first use, so ``--dry-run`` needs no AWS configuration."""

    def __init__(self, service: str, session: AwsSession | None = None) -> None:
        self._service = service
        self._session = session
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            try:
                self._client = client(self._service, self._session)
            except BotoCoreError as err:
                raise translate(err, f"creating the {self._service} client") from err
        return getattr(self._client, name)
