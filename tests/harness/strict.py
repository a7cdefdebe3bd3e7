"""Missing tools fail under CI and skip elsewhere, with the same message."""

from __future__ import annotations

import os

import pytest

PROVISION_HINT = "run 'bash scripts/test' (or 'scripts/provision-tools') to provision it"


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(what: str, hint: str = PROVISION_HINT) -> None:
    """Stop the current test because ``what`` is unavailable: fail under CI, skip otherwise."""
    message = f"{what} is not available: {hint}"
    if under_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message)
