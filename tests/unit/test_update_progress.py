"""Operator output: redaction, timestamped lines off a terminal, a live line on one."""

from __future__ import annotations

import io

import pytest
from update_fakes import FakeClock

from runlayer_tf.update._progress import PlainProgress, TtyProgress, make_progress, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://admin:s3cret@app.example.com/health", "https://***@app.example.com/health"),
        ("key AKIAIOSFODNN7EXAMPLE used", "key AKIA**************** used"),
        ("ASIAABCDEFGHIJKLMNOP", "AKIA****************"),
        ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG"', 'aws_secret_access_key = "***"'),
        ("password: hunter2, user: bob", "password: ***, user: bob"),
        ("AWS_SESSION_TOKEN=abc", "AWS_SESSION_TOKEN=***"),
        ("plain v1.3.0 text", "plain v1.3.0 text"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_plain_progress_prints_timestamped_lines_and_dedups_status() -> None:
    out = io.StringIO()
    progress = PlainProgress(out, FakeClock())
    progress.step("snapshot", "started")
    progress.status("snapshot", "s creating 50%")
    progress.status("snapshot", "s creating 50%")
    progress.output("tofu", "password=abc")
    assert out.getvalue().splitlines() == [
        "2026-03-01T05:30:00Z [snapshot] started",
        "2026-03-01T05:30:00Z [snapshot] s creating 50%",
        "2026-03-01T05:30:00Z   tofu| password=***",
    ]


def test_tty_progress_keeps_a_live_line() -> None:
    out = io.StringIO()
    progress = TtyProgress(out)
    progress.status("verify", "http://u:p@x/ 200 (1/3)")
    progress.step("verify", "ok")
    progress.close()
    assert out.getvalue() == (
        "\r\x1b[K... verify: http://***@x/ 200 (1/3)"
        "\r\x1b[K[verify] ok\n... verify: http://***@x/ 200 (1/3)"
        "\r\x1b[K"
    )


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_progress_picks_by_terminal() -> None:
    assert isinstance(make_progress(FakeTty()), TtyProgress)
    assert isinstance(make_progress(io.StringIO()), PlainProgress)
