"""Time zones, UTC timestamps, agent-local views and business hours. Pure: no I/O, no clock.

Conventions used everywhere in the project:

- An *instant* is a timezone-aware ``datetime``. Naive datetimes are refused (``ValueError``): a naive value is a bug
  waiting for a server in another time zone.
- On the wire an instant is ISO-8601 UTC with milliseconds and ``Z`` (``2026-03-08T07:00:00.000Z``).
- Agent-local reasoning (business hours, messages) uses the *wall-clock* time of the instant in the agent's IANA
  time zone, so it is correct across DST changes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from presence_manager.errors import InvalidRequest

__all__ = [
    "ALL_WEEKDAYS",
    "BusinessHours",
    "LocalTimeView",
    "format_hhmm",
    "format_offset",
    "is_dst",
    "local_view",
    "parse_hhmm",
    "parse_instant",
    "require_aware",
    "resolve_time_zone",
    "to_utc_iso",
]

ALL_WEEKDAYS: frozenset[int] = frozenset(range(1, 8))
WEEKDAY_NAMES: dict[int, str] = {1: "Mon", 2: "Tue", 3: "Wed", 4: "Thu", 5: "Fri", 6: "Sat", 7: "Sun"}
MINUTES_PER_DAY = 24 * 60

# Files under the zoneinfo directory that load but are not IANA zone names an agent can be in: ``localtime`` is the
# host's own zone (UTC on Lambda: exactly the silent fallback we refuse), the others are tooling placeholders.
_NOT_AGENT_ZONES: frozenset[str] = frozenset({"localtime", "posixrules", "Factory", "posix/localtime"})
_MAX_ZONE_NAME_LENGTH = 64
_HHMM = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")


# ---- Time zones ------------------------------------------------------------------------------------------------


def resolve_time_zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name`` (e.g. ``America/New_York``), exactly as spelled.

    Anything else - empty, blank, padded, unknown, a path, the host's ``localtime`` - raises
    ``InvalidRequest(code="invalid_time_zone")``. There is never a silent fallback to UTC."""
    if not isinstance(name, str) or not name or name != name.strip() or len(name) > _MAX_ZONE_NAME_LENGTH:
        raise _invalid_zone(name)
    if name in _NOT_AGENT_ZONES:
        raise _invalid_zone(name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # unknown key, path-like key, not a TZif file
        raise _invalid_zone(name) from exc


def _invalid_zone(name: object) -> InvalidRequest:
    return InvalidRequest(
        f"{name!r} is not an IANA time zone name (for example 'America/New_York' or 'Europe/London')",
        code="invalid_time_zone",
        timeZone=name if isinstance(name, str) else repr(name),
    )


# ---- Instants -------------------------------------------------------------------------------------------------


def require_aware(dt: datetime, what: str = "datetime") -> datetime:
    """``dt`` itself when it is timezone-aware; ``ValueError`` when naive."""
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {dt.isoformat()}")
    return dt


def to_utc_iso(dt: datetime) -> str:
    """ISO-8601 in UTC with milliseconds and ``Z``: ``2026-03-08T07:00:00.000Z``. Sub-millisecond digits are
    truncated. Naive datetimes raise ``ValueError``."""
    utc = require_aware(dt).astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_instant(value: datetime | str) -> datetime:
    """An aware datetime in UTC from an aware datetime or an ISO-8601 string with ``Z`` or an offset
    (``2026-03-08T09:00:00+02:00``). Strings without an offset and naive datetimes raise ``ValueError``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO-8601 timestamp") from exc
        return require_aware(parsed, f"timestamp {value!r}").astimezone(UTC)
    return require_aware(value).astimezone(UTC)


# ---- Agent-local views -----------------------------------------------------------------------------------------


class LocalTimeView(BaseModel):
    """One instant seen from UTC and from the agent's wall clock. JSON names are camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    utc: str = Field(description="ISO-8601 UTC with milliseconds and Z")
    local: str = Field(description="ISO-8601 local wall-clock time with its offset, e.g. 2026-03-08T03:00:00.000-04:00")
    time_zone: str
    utc_offset: str = Field(description="+HH:MM or -HH:MM")
    utc_offset_minutes: int
    is_dst: bool

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def format_offset(offset: timedelta) -> str:
    """``timedelta(hours=-4)`` → ``"-04:00"``; ``timedelta(hours=5, minutes=30)`` → ``"+05:30"``."""
    minutes = _offset_minutes(offset)
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _offset_minutes(offset: timedelta) -> int:
    return int(offset.total_seconds() / 60)  # truncates toward zero; modern zones are whole minutes


def is_dst(instant: datetime, zone: ZoneInfo) -> bool:
    """Whether the zone's clocks are advanced at ``instant`` (summer time).

    Defined as: the offset at ``instant`` is greater than the smaller of the offsets on 1 January and 1 July of
    that local year. ``datetime.dst()`` is not used because it follows the tz database's ``isdst`` flag, which says
    the opposite of what people mean for Europe/Dublin (its winter time is the "negative DST" one)."""
    local = require_aware(instant).astimezone(zone)
    january = datetime(local.year, 1, 1, 12, tzinfo=zone).utcoffset()
    july = datetime(local.year, 7, 1, 12, tzinfo=zone).utcoffset()
    offset = local.utcoffset()
    assert january is not None and july is not None and offset is not None  # ZoneInfo always answers
    return offset > min(january, july)


def local_view(instant: datetime, zone: ZoneInfo) -> LocalTimeView:
    """``instant`` in UTC and on the agent's wall clock in ``zone``, with the offset in force at that instant."""
    local = require_aware(instant, "instant").astimezone(zone)
    offset = local.utcoffset()
    assert offset is not None
    return LocalTimeView(
        utc=to_utc_iso(instant),
        local=local.isoformat(timespec="milliseconds"),
        time_zone=zone.key or str(zone),
        utc_offset=format_offset(offset),
        utc_offset_minutes=_offset_minutes(offset),
        is_dst=is_dst(instant, zone),
    )


# ---- Business hours --------------------------------------------------------------------------------------------


def parse_hhmm(value: str) -> int:
    """``"HH:MM"`` (24-hour clock, two digits each) → minutes after midnight, 0..1440. ``"24:00"`` (= 1440) is the
    end of the day and only makes sense as the end of a window. Anything else raises ``ValueError``."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 24:00)")
    hours, minutes = (match.group(1), match.group(2)) if match.group(1) is not None else (match.group(3), "00")
    return int(hours) * 60 + int(minutes)


def format_hhmm(minutes: int) -> str:
    """Minutes after midnight (0..1440) → ``"HH:MM"``."""
    if not 0 <= minutes <= MINUTES_PER_DAY:
        raise ValueError(f"{minutes} is not a number of minutes within a day")
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class BusinessHours(BaseModel):
    """A daily window of wall-clock time in the agent's own time zone, half-open: ``[start, end)``.

    - ``08:00``-``20:00``: 08:00:00 is inside, 07:59:59 and 20:00:00 are outside.
    - ``end`` may be ``24:00`` (until midnight); ``00:00``-``24:00`` is the whole day.
    - ``end`` before ``start`` wraps past midnight: ``22:00``-``06:00`` is 22:00 to 06:00 the next morning.
      A wrapping window belongs to the day it *starts* on: with weekdays Mon-Fri, Friday 22:00 to Saturday 06:00
      is inside, Monday 02:00 (Sunday's night) is outside.
    - ``weekdays`` are ISO day numbers (1 = Monday .. 7 = Sunday); default every day.
    - ``start == end`` is refused as ambiguous (say ``00:00``-``24:00`` for the whole day).
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    start: str = "08:00"
    end: str = "20:00"
    weekdays: frozenset[int] = ALL_WEEKDAYS

    @field_validator("start")
    @classmethod
    def _start_is_a_time_of_day(cls, value: str) -> str:
        if parse_hhmm(value) == MINUTES_PER_DAY:
            raise ValueError("start must be before 24:00")
        return value

    @field_validator("end")
    @classmethod
    def _end_is_a_time_of_day(cls, value: str) -> str:
        parse_hhmm(value)
        return value

    @field_validator("weekdays")
    @classmethod
    def _weekdays_are_iso_days(cls, value: frozenset[int]) -> frozenset[int]:
        if not value:
            raise ValueError("weekdays must name at least one ISO day (1 = Monday .. 7 = Sunday)")
        unknown = sorted(day for day in value if not 1 <= day <= 7)
        if unknown:
            raise ValueError(f"weekdays are ISO day numbers 1 (Monday) to 7 (Sunday), got {unknown}")
        return value

    @model_validator(mode="after")
    def _window_is_not_empty(self) -> BusinessHours:
        if self.start_minute == self.end_minute:
            raise ValueError(f"business hours {self.start}-{self.end} are empty or ambiguous; use 00:00-24:00")
        return self

    @property
    def start_minute(self) -> int:
        return parse_hhmm(self.start)

    @property
    def end_minute(self) -> int:
        return parse_hhmm(self.end)

    @property
    def wraps_midnight(self) -> bool:
        return self.end_minute < self.start_minute

    def contains(self, instant: datetime, zone: ZoneInfo) -> bool:
        """Whether ``instant`` falls within business hours on the wall clock of ``zone``."""
        local = require_aware(instant, "instant").astimezone(zone)
        minute = local.hour * 60 + local.minute  # boundaries are whole minutes, so seconds cannot change the answer
        day = local.isoweekday()
        start, end = self.start_minute, self.end_minute
        if not self.wraps_midnight:
            return day in self.weekdays and start <= minute < end
        previous_day = 7 if day == 1 else day - 1
        return (day in self.weekdays and minute >= start) or (previous_day in self.weekdays and minute < end)

    def is_open(self, instant: datetime, zone: ZoneInfo) -> bool:
        """``contains``, as ``presence_manager.business_hours.BusinessHoursSource`` asks it."""
        return self.contains(instant, zone)

    def closed_reason(self, instant: datetime, zone: ZoneInfo) -> str:
        """``"It is 21:14 in America/New_York; business hours are 08:00-20:00"`` (the day too when business hours
        are not every day: ``"It is Sat 10:00 in ..."``)."""
        local = require_aware(instant, "instant").astimezone(zone)
        when = (
            f"{local:%H:%M}" if self.weekdays == ALL_WEEKDAYS else f"{WEEKDAY_NAMES[local.isoweekday()]} {local:%H:%M}"
        )
        return f"It is {when} in {zone.key or zone}; business hours are {self.describe()}"

    def describe(self) -> str:
        """``"08:00-20:00"``, plus the days when not every day: ``"08:00-20:00 on Mon, Tue, Wed, Thu, Fri"``."""
        window = f"{self.start}-{self.end}"
        if self.weekdays == ALL_WEEKDAYS:
            return window
        return f"{window} on " + ", ".join(WEEKDAY_NAMES[day] for day in sorted(self.weekdays))
