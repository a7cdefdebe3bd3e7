"""RDS maintenance windows: parsing, membership (including the week wrap) and the gate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from runlayer_tf.errors import ConfigError, UpdateError
from runlayer_tf.update._window import MaintenanceWindow, WeekTime, check_window

SUNDAY = datetime(2026, 3, 1, tzinfo=timezone.utc)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """``day`` 0 is Monday 2026-02-23."""
    return SUNDAY - timedelta(days=6) + timedelta(days=day, hours=hour, minutes=minute)


@pytest.mark.parametrize(
    ("text", "start", "end", "minutes"),
    [
        ("sun:05:00-sun:06:00", WeekTime(6, 5, 0), WeekTime(6, 6, 0), 60),
        ("Mon:23:30-Tue:00:30", WeekTime(0, 23, 30), WeekTime(1, 0, 30), 60),
        ("sun:23:00-mon:01:00", WeekTime(6, 23, 0), WeekTime(0, 1, 0), 120),
        (" wed:10:00-wed:09:59 ", WeekTime(2, 10, 0), WeekTime(2, 9, 59), 7 * 24 * 60 - 1),
    ],
)
def test_parse(text: str, start: WeekTime, end: WeekTime, minutes: int) -> None:
    window = MaintenanceWindow.parse(text)
    assert (window.start, window.end, window.minutes) == (start, end, minutes)
    assert MaintenanceWindow.parse(str(window)) == window


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("sun:05:00", "expected ddd:hh24:mi-ddd:hh24:mi"),
        ("sun:05:00-xyz:06:00", "expected ddd:hh24:mi such as sun:05:00"),
        ("sun:24:00-sun:06:00", "hour must be 00-23 and minute 00-59"),
        ("sun:5:00-sun:06:00", "expected ddd:hh24:mi"),
        ("sun:05:00-sun:05:00", "start and end are the same minute"),
    ],
)
def test_parse_rejects(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        MaintenanceWindow.parse(text)


@pytest.mark.parametrize(
    ("window", "moment", "inside"),
    [
        ("sun:05:00-sun:06:00", at(6, 5, 0), True),
        ("sun:05:00-sun:06:00", at(6, 5, 59), True),
        ("sun:05:00-sun:06:00", at(6, 6, 0), False),
        ("sun:05:00-sun:06:00", at(6, 4, 59), False),
        ("sun:23:00-mon:01:00", at(6, 23, 30), True),
        ("sun:23:00-mon:01:00", at(0, 0, 30), True),
        ("sun:23:00-mon:01:00", at(0, 1, 0), False),
        ("sun:23:00-mon:01:00", at(5, 23, 30), False),
    ],
)
def test_contains(window: str, moment: datetime, inside: bool) -> None:
    assert MaintenanceWindow.parse(window).contains(moment) is inside


def test_contains_converts_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert MaintenanceWindow.parse("sun:05:00-sun:06:00").contains(
        datetime(2026, 3, 1, 7, 30, tzinfo=plus_two)
    )


def test_gate() -> None:
    window = MaintenanceWindow.parse("sun:05:00-sun:06:00")
    assert check_window(None, at(2, 12)) == "no maintenance window given"
    assert (
        check_window(window, at(6, 5, 30))
        == "inside maintenance window sun:05:00-sun:06:00 (now sun:05:30 UTC)"
    )
    assert check_window(window, at(2, 12), force=True) == (
        "outside maintenance window sun:05:00-sun:06:00 (now wed:12:00 UTC), forced"
    )
    with pytest.raises(UpdateError) as caught:
        check_window(window, at(2, 12))
    assert str(caught.value) == (
        "outside maintenance window sun:05:00-sun:06:00 (now wed:12:00 UTC); wait for it or pass --force-window"
    )
