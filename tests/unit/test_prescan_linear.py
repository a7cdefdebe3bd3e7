"""The byte-level pre-scan answers right on long single lines, and does not hang on them.

The shapes are the ones that made the old scan quadratic (a 120 KB line took 232 s; a 1 MB
one would take hours). Its speed is measured in ``benchmarks/prescan.py`` (linear growth at
100 KB, 1 MB and 10 MB); here a 30 s deadline only turns a hang into a failure.
"""

from __future__ import annotations

import signal

import pytest

from runlayer_tf.pins._prescan import may_hold_pins

SHAPES = [
    (b"a/b:", True),  # many candidates: past the first few, the parser decides
    (b"a.b.c.d/", False),
    (b"x" * 50 + b"/", False),
    (b"/a:", False),
    (b"/" * 8, False),
    (b"a/" * 4, False),
    (b"${a}:", True),
    (b"registry.example.com/app:v1 ", True),
]


@pytest.mark.parametrize("size", [100_000, 1_000_000])
@pytest.mark.parametrize(("unit", "expected"), SHAPES, ids=[repr(u[:12]) for u, _ in SHAPES])
def test_the_pre_scan_of_one_long_line_answers_without_hanging(unit, expected, size):
    data = b'x = "' + unit * (size // len(unit)) + b'"\n'

    def hung(_signum: int, _frame: object) -> None:
        raise AssertionError("the pre-scan did not answer within 30 s: quadratic again?")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(30)
    try:
        assert may_hold_pins(data) is expected
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_reference_after_a_long_host_run_is_still_seen():
    """A registry longer than the confirmation window: the file is kept for the parser."""
    host = b"a" * 400 + b".example.com"
    assert may_hold_pins(b'image = "' + host + b'/app:v1"\n') is True
