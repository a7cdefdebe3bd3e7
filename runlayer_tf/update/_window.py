"""RDS maintenance windows (``ddd:hh24:mi-ddd:hh24:mi``, UTC) and the gate that uses them."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import attrs

from runlayer_tf.errors import ConfigError, UpdateError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTES_PER_WEEK = 7 * 24 * 60
_POINT = re.compile(r"(?P<day>[a-z]{3}):(?P<hour>\d{2}):(?P<minute>\d{2})")


@attrs.frozen
class WeekTime:
    """A minute of the UTC week: ``day`` 0 is Monday, as in :meth:`datetime.weekday`."""

    day: int
    hour: int
    minute: int

    @classmethod
    def parse(cls, text: str) -> WeekTime:
        """Parse ``ddd:hh24:mi`` (``sun:05:00``); raises ConfigError."""
        match = _POINT.fullmatch(text.strip().lower())
        if match is None or match["day"] not in DAYS:
            raise ConfigError(
                f"bad maintenance window time {text!r}: expected ddd:hh24:mi such as sun:05:00"
            )
        hour, minute = int(match["hour"]), int(match["minute"])
        if hour > 23 or minute > 59:
            raise ConfigError(
                f"bad maintenance window time {text!r}: hour must be 00-23 and minute 00-59"
            )
        return cls(DAYS.index(match["day"]), hour, minute)

    @classmethod
    def of(cls, moment: datetime) -> WeekTime:
        """The week minute of an aware datetime, converted to UTC."""
        utc = moment.astimezone(timezone.utc)
        return cls(utc.weekday(), utc.hour, utc.minute)

    @property
    def minute_of_week(self) -> int:
        return (self.day * 24 + self.hour) * 60 + self.minute

    def __str__(self) -> str:
        return f"{DAYS[self.day]}:{self.hour:02d}:{self.minute:02d}"


@attrs.frozen
class MaintenanceWindow:
    """A weekly UTC window; ``end`` before ``start`` means it wraps past Sunday midnight."""

    start: WeekTime
    end: WeekTime

    @classmethod
    def parse(cls, text: str) -> MaintenanceWindow:
        """Parse the RDS format ``sun:05:00-sun:06:00``; raises ConfigError."""
        start, sep, end = text.strip().partition("-")
        if not sep:
            raise ConfigError(f"bad maintenance window {text!r}: expected ddd:hh24:mi-ddd:hh24:mi")
        window = cls(WeekTime.parse(start), WeekTime.parse(end))
        if window.start == window.end:
            raise ConfigError(f"bad maintenance window {text!r}: start and end are the same minute")
        return window

    @property
    def minutes(self) -> int:
        """The window's length in minutes."""
        return (self.end.minute_of_week - self.start.minute_of_week) % _MINUTES_PER_WEEK

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` falls in ``[start, end)``."""
        offset = (
            WeekTime.of(moment).minute_of_week - self.start.minute_of_week
        ) % _MINUTES_PER_WEEK
        return offset < self.minutes

    def __str__(self) -> str:
        return f"{self.start}-{self.end}"


def check_window(window: MaintenanceWindow | None, now: datetime, *, force: bool = False) -> str:
    """Refuse to start outside ``window`` unless ``force``; returns what was decided.

    Raises UpdateError when outside the window and not forced.  No window means
    no constraint.
    """
    if window is None:
        return "no maintenance window given"
    here = WeekTime.of(now)
    if window.contains(now):
        return f"inside maintenance window {window} (now {here} UTC)"
    if force:
        return f"outside maintenance window {window} (now {here} UTC), forced"
    raise UpdateError(
        f"outside maintenance window {window} (now {here} UTC); wait for it or pass --force-window"
    )
