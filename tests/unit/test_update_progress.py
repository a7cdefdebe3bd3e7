"""Operator output: redaction, timestamped lines off a terminal, a live line on one (read through pyte)."""

from __future__ import annotations

import io
import time

import pyte
import pytest

from runlayer_tf.update._progress import (
    PlainProgress,
    Progress,
    TtyProgress,
    cut_to_width,
    elapsed,
    make_progress,
    redact,
)
from tests.fakes.update import FakeClock


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


class Monotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def screen_of(text: str, width: int, height: int = 24) -> list[str]:
    """The screen a VT100 terminal ``width`` columns wide shows after ``text`` (lines right-stripped)."""
    screen = pyte.Screen(width, height)
    screen.set_mode(pyte.modes.LNM)  # "\n" also returns the carriage, as a tty's onlcr does
    pyte.Stream(screen).feed(text)
    return [line.rstrip() for line in screen.display]


def tty(width: int) -> tuple[io.StringIO, TtyProgress, Monotonic]:
    out, clock = io.StringIO(), Monotonic()
    return out, TtyProgress(out, width=lambda: width, clock=clock, tick=None), clock


@pytest.mark.parametrize("width", [60, 120])
def test_a_live_line_wider_than_the_terminal_leaves_no_copies(width: int) -> None:
    """The issue's six stale copies at 80 columns: a wrapped live line could not be erased."""
    out, progress, clock = tty(width)
    url = "https://runlayer.example.com/api/v1/utils/health-check/" + "x" * 80
    progress.start("verify")
    for poll in range(6):
        clock.now += 5
        progress.status("verify", f"{url} 503 ({poll}/3)")
        progress.output("tofu", f"line {poll}")
    screen = [line for line in screen_of(out.getvalue(), width) if line]
    assert screen == [
        "[verify] started",
        *(f"  tofu| line {poll}" for poll in range(6)),
        f"... verify 30s: {url} 503 (5/3)"[: width - 1],
    ]


def test_the_live_line_shows_the_current_step_and_its_time_not_the_last_steps_state() -> None:
    """After the snapshot, the live line follows set-version, plan and apply (no "available 100%")."""
    out, progress, clock = tty(80)
    progress.start("snapshot")
    progress.status("snapshot", "backup-1 creating 40%")
    clock.now += 95
    progress.status("snapshot", "backup-1 available 100%")
    assert screen_of(out.getvalue(), 80)[1] == "... snapshot 1m35s: backup-1 available 100%"
    progress.step("snapshot", "snapshot backup-1 created, available")
    for step in ("set-version", "plan", "apply"):
        progress.start(step)
        clock.now += 12
        progress.output("tofu", f"{step} output")
        lines = [line for line in screen_of(out.getvalue(), 80) if line]
        assert lines[-1] == f"... {step} 12s"
    assert "100%" not in lines[-1]
    progress.step("apply", "applied")
    progress.close()
    assert [line for line in screen_of(out.getvalue(), 80) if line][-2:] == [
        "  tofu| apply output",
        "[apply] applied",
    ]


def test_a_state_reported_under_another_name_belongs_to_the_running_step() -> None:
    """rollback-verify polls as "verify": its live line, and its end, are still rollback-verify's."""
    out, progress, clock = tty(80)
    progress.start("rollback-verify")
    clock.now += 3
    progress.status("verify", "https://app/ 503 (0/2)")
    assert screen_of(out.getvalue(), 80)[1] == "... rollback-verify 3s: https://app/ 503 (0/2)"
    progress.step("rollback-verify", "1 health URL(s) answered 2xx 2x")
    clock.now += 60
    progress.output("tofu", "later")
    assert [line for line in screen_of(out.getvalue(), 80) if line][-1] == "  tofu| later"


@pytest.mark.parametrize("kind", ["tty", "plain"])
def test_after_close_a_childs_output_is_not_shown(kind: str) -> None:
    """An interrupted Terraform's last lines must not land inside the summary printed after close."""
    out = io.StringIO()
    progress: Progress = (
        TtyProgress(out, width=lambda: 80, tick=None)
        if kind == "tty"
        else PlainProgress(out, FakeClock())
    )
    progress.output("tofu", "before")
    progress.close()
    progress.output("tofu", "Interrupt received.")
    progress.step("done", "a lasting line is still shown")
    assert "before" in out.getvalue()
    assert "Interrupt received." not in out.getvalue()
    assert "a lasting line is still shown" in out.getvalue()


def test_the_ticker_moves_the_time_while_a_step_waits() -> None:
    out, clock = io.StringIO(), Monotonic()
    progress = TtyProgress(out, width=lambda: 80, clock=clock, tick=0.01)
    progress.start("apply")
    clock.now += 75
    deadline = time.monotonic() + 10
    while "apply 1m15s" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    progress.close()
    assert "... apply 1m15s" in out.getvalue()
    shown = out.getvalue()
    time.sleep(0.05)
    assert out.getvalue() == shown  # closed: the ticker draws no more
    assert screen_of(shown, 80)[:2] == ["[apply] started", ""]


def test_the_live_line_is_cut_by_columns_and_holds_no_control_codes() -> None:
    out, progress, _ = tty(40)
    progress.status("verify", "password=hunter2\r\tdone\x1b[2J")
    live = out.getvalue().rsplit("\r\x1b[K", 1)[1]
    assert live == "... verify 0s: password=***  done [2J"
    progress.status("verify", "\u65e5\u672c\u8a9e" * 10)
    live = out.getvalue().rsplit("\r\x1b[K", 1)[1]
    # 15 columns of prefix, then 12 wide characters (24 columns) of the 39 there are
    assert live == "... verify 0s: " + ("\u65e5\u672c\u8a9e" * 4)


@pytest.mark.parametrize(
    ("text", "width", "cut"),
    [
        ("abcdef", 4, "abcd"),
        ("abc", 10, "abc"),
        ("\u65e5\u672c\u8a9e", 5, "\u65e5\u672c"),
        ("e\u0301e", 1, "e\u0301"),
    ],
)
def test_cut_to_width(text: str, width: int, cut: str) -> None:
    assert cut_to_width(text, width) == cut


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0s"), (59.9, "59s"), (60, "1m00s"), (3599, "59m59s"), (3725, "1h02m")],
)
def test_elapsed(seconds: float, shown: str) -> None:
    assert elapsed(seconds) == shown


def test_plain_progress_prints_no_control_codes() -> None:
    out = io.StringIO()
    progress = PlainProgress(out, FakeClock())
    progress.start("plan")
    progress.output("tofu", "\x1b[31mred\x1b[0m\rback")
    assert out.getvalue().splitlines() == [
        "2026-03-01T05:30:00Z [plan] started",
        "2026-03-01T05:30:00Z   tofu|  [31mred [0m back",
    ]


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_make_progress_picks_by_terminal() -> None:
    assert isinstance(make_progress(FakeTty()), TtyProgress)
    assert isinstance(make_progress(io.StringIO()), PlainProgress)
