"""The one exception hierarchy of runlayer-tf.

Every error a user can cause or meet derives from :class:`RunlayerError`.  Its
``str()`` is a single line meant for a terminal or for Terraform's error
display; ``exit_code`` is what the command line returns for it.  Errors from
boto3/botocore, HTTP and the parser are translated into these at the boundary,
so no traceback reaches a user (set ``RUNLAYER_TF_DEBUG=1`` to see one).
"""

from __future__ import annotations

import os

__all__ = [
    "AuthError",
    "ConfigError",
    "NoMatchError",
    "NotFoundError",
    "ParseError",
    "PinError",
    "RegistryError",
    "RunlayerError",
    "SignatureError",
    "StateLockedError",
    "TagError",
    "TerraformError",
    "UpdateError",
    "UsageError",
    "debug_enabled",
]


def debug_enabled() -> bool:
    """True when ``RUNLAYER_TF_DEBUG`` asks for tracebacks (any value but "", 0, false, no)."""
    return os.environ.get("RUNLAYER_TF_DEBUG", "") not in ("", "0", "false", "no")


class RunlayerError(Exception):
    """Base of every runlayer-tf error; ``str(err)`` is one line."""

    exit_code: int = 1

    def __str__(self) -> str:
        text = super().__str__()
        # One line, always: Terraform shows stderr verbatim and pre-commit
        # prints one line per problem.
        return " ".join(text.split()) if "\n" in text else text


class UsageError(RunlayerError):
    """The command line or query was malformed."""

    exit_code = 2


class ConfigError(RunlayerError):
    """A configuration file or setting is invalid."""

    exit_code = 2


class TagError(RunlayerError):
    """A tag, selector, digest or version string is malformed."""


class RegistryError(RunlayerError):
    """A registry could not answer (network, protocol or server error)."""


class AuthError(RegistryError):
    """Credentials are missing or were refused."""


class NotFoundError(RegistryError):
    """A repository, tag or digest does not exist."""


class NoMatchError(RegistryError):
    """No tag of a repository matches a selector."""


class PinError(RunlayerError):
    """A pin could not be found, planned or rewritten."""


class ParseError(PinError):
    """A Terraform file does not parse."""


class TerraformError(RunlayerError):
    """A Terraform/OpenTofu command failed."""


class StateLockedError(TerraformError):
    """Terraform could not acquire the state lock: another Terraform holds it (or held it and died)."""


class UpdateError(RunlayerError):
    """The update sequence stopped; the message says where and what state remains."""


class SignatureError(RunlayerError):
    """An image is not signed by any trusted key (or its signature does not verify)."""
