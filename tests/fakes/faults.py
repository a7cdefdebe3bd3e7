"""The update's fault scenarios, one table for both worlds.

The unit tests' ``World`` (fakes) and the integration tests' ``World`` (OpenTofu
or Terraform, moto, a loopback health server) each know how to *inject* a fault
by its id; the table says what every run must then report.  A new fault is one
row here and one branch in each world's ``inject``.
"""

from __future__ import annotations

import attrs

__all__ = ["FAULTS", "Fault"]

OK_BEFORE_APPLY = (("preflight", "ok"), ("snapshot", "ok"), ("set-version", "ok"), ("plan", "ok"))
ROLLED_BACK = (
    ("restore-version", "ok"),
    ("rollback-plan", "ok"),
    ("rollback-apply", "ok"),
    ("rollback-verify", "ok"),
)


@attrs.frozen
class Fault:
    """What the run reports after fault ``id``: its outcome, exit code and every step's result.

    ``var_file_restored``: the var-file holds the old version again afterwards.
    """

    id: str
    outcome: str
    exit_code: int
    steps: tuple[tuple[str, str], ...]
    var_file_restored: bool = True


FAULTS = (
    Fault("snapshot-refused", "failed", 1, (("preflight", "ok"), ("snapshot", "failed"))),
    Fault(
        "apply-fails",
        "rolled-back",
        1,
        (*OK_BEFORE_APPLY, ("apply", "failed"), *ROLLED_BACK),
    ),
    Fault(
        "health-fails",
        "rolled-back",
        1,
        (*OK_BEFORE_APPLY, ("apply", "ok"), ("verify", "failed"), *ROLLED_BACK),
    ),
    Fault(
        "rollback-apply-fails",
        "rollback-failed",
        1,
        (
            *OK_BEFORE_APPLY,
            ("apply", "failed"),
            ("restore-version", "ok"),
            ("rollback-plan", "ok"),
            ("rollback-apply", "failed"),
        ),
    ),
)
