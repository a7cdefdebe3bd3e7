"""How many examples the property-based (hypothesis) tests try: bounded in CI, many on demand.

Every hypothesis test is marked ``fuzz`` (tests/conftest.py), so ``scripts/fuzz``
(``pytest -m fuzz``) runs them all.  ``RUNLAYER_TF_FUZZ_EXAMPLES=N`` gives each
of them N examples: the hypothesis profile ``fuzz`` does so for tests that set
no count of their own, and :func:`examples` for the tests that do.  Unset, each
test keeps its CI count (the suite's fuzzing stays about a minute).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

VARIABLE = "RUNLAYER_TF_FUZZ_EXAMPLES"


def requested() -> int | None:
    """The example count asked for in the environment, or None (the CI run)."""
    raw = os.environ.get(VARIABLE, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000_000:
        raise ValueError(f"{VARIABLE} must be a number of examples (1 to 10000000), got {raw!r}")
    return int(raw)


def examples(ci: int) -> int:
    """``ci`` examples in the bounded run, or what ``RUNLAYER_TF_FUZZ_EXAMPLES`` asks for."""
    return requested() or ci


def register_profile() -> None:
    """Load the ``fuzz`` profile when a long run is asked for (called by tests/conftest.py)."""
    count = requested()
    if count is None:
        return
    settings.register_profile(
        "fuzz",
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    settings.load_profile("fuzz")
