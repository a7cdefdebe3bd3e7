"""The boundary between botocore and the runlayer-tf error hierarchy."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from runlayer_tf.errors import AuthError, RunlayerError, UpdateError

_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)


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


def client(service: str) -> Any:
    """A boto3 client from the standard AWS configuration (env, profile, AWS_ENDPOINT_URL)."""
    import os

    import boto3

    # boto3 reads AWS_DEFAULT_REGION but not AWS_REGION (which the AWS CLI v2 honours).
    region = os.environ.get("AWS_REGION") or None
    return boto3.client(service, region_name=region)  # type: ignore[call-overload]


class LazyClient:
    """Builds the boto3 client on first use, so ``--dry-run`` needs no AWS configuration."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            try:
                self._client = client(self._service)
            except BotoCoreError as err:
                raise translate(err, f"creating the {self._service} client") from err
        return getattr(self._client, name)
