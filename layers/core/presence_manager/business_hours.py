"""Business hours: the deployment's daily window, or a Genesys Architect schedule group. No I/O of its own and no
clock: the instant is given, and a schedule group is read through the reader handed in (the Genesys client).

The policy asks a :class:`BusinessHoursSource`, implemented by

- :class:`presence_manager.timeutil.BusinessHours` - a daily window (``BusinessHoursStart``/``End``/``Days``) on the
  agent's own wall clock: the fallback when no schedule group is named;
- :class:`ScheduleGroupHours` - an Architect schedule group, judged in the *group's* time zone whatever the agent's
  (:class:`ArchitectBusinessHours` reads it on first use, so an Offline change never does).

Which one applies: :func:`business_hours_for` (a management unit's own group, else the deployment's
``BUSINESS_HOURS_SCHEDULE_GROUP_ID``, else the window).

Schedule group semantics (Architect's "Evaluate Schedule Group": holiday, then closed, then open; nothing is closed)
    Open at an instant when an occurrence of one of its open schedules covers it and no occurrence of a holiday or
    closed schedule does.

    A schedule's ``start`` and ``end`` are wall-clock date-times of the group's time zone (``LocalDateTime``, no
    offset). Its ``rrule`` (RFC 5545, expanded by ``dateutil.rrule`` with ``start`` as DTSTART) gives the wall-clock
    starts of its occurrences; without an ``rrule``, ``start`` is its only occurrence. Every occurrence lasts
    ``end - start`` of *wall-clock* time: 08:00-20:00 is 08:00 to 20:00 on every day, the 23- and 25-hour days of the
    DST changes included, and a holiday from 00:00 to 00:00 the next day covers that whole local date whatever its
    length. An occurrence may cross midnight (22:00 to 06:00 the next morning). Occurrences are half-open:
    ``[start, end)``. As in dateutil, a ``start`` that does not match its rule is not an extra occurrence (RFC 5545
    would count it once; Architect starts a repeating schedule on a day that matches).

    Wall-clock times become instants as RFC 5545 (3.3.5) says, which is what ``zoneinfo`` does with ``fold=0``:
    - a time that occurs twice (the hour repeated when clocks go back) is its *first* occurrence: 01:30 on
      1 November 2026 in New York is 01:30 EDT (05:30 UTC). An occurrence ending at 01:30 that day ends at the
      first 01:30; the repeated 01:00-01:30 EST is after it;
    - a time that does not exist (the hour skipped when clocks go forward) is read with the offset before the gap,
      i.e. moved forward by the gap: 02:30 on 8 March 2026 in New York is 03:30 EDT (07:30 UTC).
    Then everything is compared as UTC instants (aware datetimes sharing a ``tzinfo`` compare their wall clocks and
    ignore ``fold``: comparing those would get the repeated hour wrong).

    An ``UNTIL=...Z`` (UTC, as RFC 5545 requires with a zoned DTSTART) is turned into the group's wall clock first:
    dateutil refuses a UTC ``UNTIL`` beside a wall-clock DTSTART.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulebase, rrulestr

from presence_manager.errors import GenesysBadRequest, GenesysNotFound, InvalidRequest
from presence_manager.genesys.models import DomainEntityRef, Schedule, ScheduleGroup
from presence_manager.timeutil import BusinessHours, require_aware, resolve_time_zone

if TYPE_CHECKING:
    from presence_manager.config import AppSettings

__all__ = [
    "ArchitectBusinessHours",
    "BusinessHoursSource",
    "GroupStatus",
    "Occurrence",
    "RecurringSchedule",
    "ScheduleGroupHours",
    "ScheduleGroupReader",
    "business_hours_for",
    "load_schedule_group",
    "schedule_group_id_for",
    "window_business_hours",
]

ScheduleKind = Literal["open", "closed", "holiday"]
#: how far around an instant candidate occurrence starts are looked for, beyond the occurrence's length: more than
#: any UTC offset change, so the exact check on instants decides
_SEARCH_SLACK = timedelta(days=1)
_UNTIL_UTC = re.compile(r"UNTIL=(\d{8}T\d{6})Z", re.IGNORECASE)


# ---- the protocol the policy asks -------------------------------------------------------------------------------


@runtime_checkable
class BusinessHoursSource(Protocol):
    """Business hours as the policy asks them. ``zone`` is the agent's time zone: the window reads the agent's wall
    clock in it, a schedule group ignores it and uses its own."""

    def is_open(self, instant: datetime, zone: ZoneInfo) -> bool:
        """Whether ``instant`` is within business hours."""
        ...

    def closed_reason(self, instant: datetime, zone: ZoneInfo) -> str:
        """Why ``instant`` is outside business hours, in words, with the local time it was judged at (no final
        full stop): ``It is 21:14 in America/New_York; business hours are 08:00-20:00``."""
        ...

    def describe(self) -> str:
        """Business hours in a few words (``08:00-20:00``, ``schedule group 'Support hours' (Europe/London)``)."""
        ...


# ---- one schedule -----------------------------------------------------------------------------------------------


def _wall_clock(value: datetime, zone: ZoneInfo) -> datetime:
    """A schedule's date-time as a naive wall-clock time of ``zone`` (Genesys sends them without an offset; one
    with an offset is moved to ``zone`` first)."""
    if value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(zone).replace(tzinfo=None)
    return value.replace(tzinfo=None)


def _instant(wall_clock: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time of ``zone``: the first of a repeated time, a skipped time moved forward
    by the gap (RFC 5545 3.3.5; ``fold=0``)."""
    return wall_clock.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _local_until(rule: str, zone: ZoneInfo) -> str:
    """``rule`` with a UTC ``UNTIL=...Z`` rewritten as the wall-clock time of ``zone`` at that instant."""

    def local(match: re.Match[str]) -> str:
        until = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return f"UNTIL={until.astimezone(zone).replace(tzinfo=None):%Y%m%dT%H%M%S}"

    return _UNTIL_UTC.sub(local, rule)


@lru_cache(maxsize=512)
def _compiled_rule(rule: str, dtstart: datetime, zone: ZoneInfo) -> rrulebase:
    """The rule expanded from ``dtstart`` (naive wall clock), its occurrences cached as they are computed (a schedule
    that started years ago is expanded from then once per process, not per question)."""
    try:
        compiled = rrulestr(_local_until(rule, zone), dtstart=dtstart, cache=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"rrule {rule!r} is not an RFC 5545 recurrence rule dateutil can read: {exc}") from exc
    if not isinstance(compiled, rrulebase):  # pragma: no cover - rrulestr returns an rrule or an rruleset
        raise ValueError(f"rrule {rule!r} did not parse to a recurrence rule")
    return compiled


def _span(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a schedule: wall-clock ``start``/``end`` in the group's zone and the UTC instants."""

    schedule: RecurringSchedule
    start: datetime
    end: datetime
    start_instant: datetime
    end_instant: datetime

    def describe(self) -> str:
        """``holiday schedule 'Thanksgiving' (2026-11-26 00:00 to 2026-11-27 00:00)``."""
        return f"{self.schedule.kind} schedule '{self.schedule.name}' ({_span(self.start, self.end)})"


@dataclass(frozen=True)
class RecurringSchedule:
    """An Architect schedule, compiled for one time zone."""

    id: str
    name: str
    kind: ScheduleKind
    start: datetime  # naive wall clock of ``zone``
    end: datetime
    rrule: str | None
    zone: ZoneInfo

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("a schedule's start and end are wall-clock times without a time zone")
        if self.end <= self.start:
            raise ValueError(f"schedule '{self.name}' ends ({self.end:%Y-%m-%dT%H:%M}) before it starts")
        if self.rrule:
            _compiled_rule(self.rrule, self.start, self.zone)  # refuse a rule that does not parse now, not later

    @classmethod
    def from_genesys(cls, schedule: Schedule, kind: ScheduleKind, zone: ZoneInfo) -> RecurringSchedule:
        return cls(
            id=schedule.id,
            name=schedule.name or schedule.id,
            kind=kind,
            start=_wall_clock(schedule.start, zone),
            end=_wall_clock(schedule.end, zone),
            rrule=(schedule.rrule or "").strip() or None,
            zone=zone,
        )

    @property
    def length(self) -> timedelta:
        """How long every occurrence lasts, in wall-clock time: ``end - start`` of the first."""
        return self.end - self.start

    def _starts_near(self, wall_clock: datetime) -> Iterable[datetime]:
        if not self.rrule:
            return (self.start,)
        rule = _compiled_rule(self.rrule, self.start, self.zone)
        return rule.between(wall_clock - self.length - _SEARCH_SLACK, wall_clock + _SEARCH_SLACK, inc=True)

    def occurrence_at(self, instant: datetime) -> Occurrence | None:
        """The occurrence covering ``instant`` (the latest-starting one when several overlap), or ``None``."""
        at = require_aware(instant, "instant").astimezone(UTC)
        wall_clock = at.astimezone(self.zone).replace(tzinfo=None)
        for start in sorted(self._starts_near(wall_clock), reverse=True):
            end = start + self.length
            begins, ends = _instant(start, self.zone), _instant(end, self.zone)
            if begins <= at < ends:
                return Occurrence(self, start, end, begins, ends)
        return None

    def describe(self) -> str:
        """``'Weekdays' 2026-01-05 08:00 to 2026-01-05 20:00, FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR``."""
        repeats = f", {self.rrule}" if self.rrule else ""
        return f"'{self.name}' {_span(self.start, self.end)}{repeats}"


# ---- a schedule group -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupStatus:
    """What covers an instant: ``open`` is the answer, the occurrences say why."""

    open: bool
    holiday: Occurrence | None
    closed: Occurrence | None
    open_by: Occurrence | None


@dataclass(frozen=True)
class ScheduleGroupHours:
    """The business hours of an Architect schedule group (see the module docstring)."""

    id: str
    name: str
    zone: ZoneInfo
    open_schedules: tuple[RecurringSchedule, ...]
    closed_schedules: tuple[RecurringSchedule, ...] = ()
    holiday_schedules: tuple[RecurringSchedule, ...] = ()

    @classmethod
    def from_genesys(cls, group: ScheduleGroup, schedules: Mapping[str, Schedule]) -> ScheduleGroupHours:
        """The group with its schedules (by id; every schedule the group references must be there). A group without
        a time zone, a zone that is not IANA, a schedule ending before it starts or an ``rrule`` that does not
        parse is a ``ValueError``."""
        if not group.time_zone:
            raise ValueError(f"schedule group '{group.name or group.id}' has no time zone")
        try:
            zone = resolve_time_zone(group.time_zone)
        except InvalidRequest as exc:
            raise ValueError(exc.message) from exc

        def compiled(refs: Iterable[DomainEntityRef], kind: ScheduleKind) -> tuple[RecurringSchedule, ...]:
            return tuple(RecurringSchedule.from_genesys(schedules[ref.id], kind, zone) for ref in refs)

        return cls(
            id=group.id,
            name=group.name or group.id,
            zone=zone,
            open_schedules=compiled(group.open_schedules, "open"),
            closed_schedules=compiled(group.closed_schedules, "closed"),
            holiday_schedules=compiled(group.holiday_schedules, "holiday"),
        )

    @property
    def zone_name(self) -> str:
        return self.zone.key or str(self.zone)

    def status(self, instant: datetime) -> GroupStatus:
        """Holiday first, then closed, then open, as Architect evaluates a schedule group."""

        def first(schedules: tuple[RecurringSchedule, ...]) -> Occurrence | None:
            return next((o for s in schedules if (o := s.occurrence_at(instant)) is not None), None)

        holiday = first(self.holiday_schedules)
        closed = None if holiday else first(self.closed_schedules)
        open_by = None if holiday or closed else first(self.open_schedules)
        return GroupStatus(open=open_by is not None, holiday=holiday, closed=closed, open_by=open_by)

    def is_open(self, instant: datetime, zone: ZoneInfo | None = None) -> bool:
        """Whether the group is open at ``instant`` (``zone``, the agent's, is not used: the group has its own)."""
        return self.status(instant).open

    def closed_reason(self, instant: datetime, zone: ZoneInfo | None = None) -> str:
        """``It is Thu 2026-11-26 10:00 in America/New_York; business hours follow schedule group 'Support',
        which is closed: holiday schedule 'Thanksgiving' (2026-11-26 00:00 to 2026-11-27 00:00) covers it``."""
        local = require_aware(instant, "instant").astimezone(self.zone)
        status = self.status(instant)
        closing = status.holiday or status.closed
        if closing is not None:
            why = f"which is closed: {closing.describe()} covers it"
        elif status.open_by is not None:
            why = f"which is open: {status.open_by.describe()} covers it"
        else:
            names = ", ".join(f"'{s.name}'" for s in self.open_schedules) or "none"
            why = f"which is closed: none of its open schedules ({names}) covers it"
        return f"It is {local:%a %Y-%m-%d %H:%M} in {self.zone_name}; business hours follow {self.describe()}, {why}"

    def describe(self) -> str:
        return f"schedule group '{self.name}' ({self.zone_name})"

    def explain(self) -> str:
        """Every schedule of the group, one per line (for people: the CLI, logs)."""
        lines = [f"{self.describe()}:"]
        for kind, schedules in (
            ("open", self.open_schedules),
            ("closed", self.closed_schedules),
            ("holiday", self.holiday_schedules),
        ):
            lines.extend(f"  {kind:<7} {s.describe()}" for s in schedules)
        return "\n".join(lines)


# ---- reading a group through the Genesys client ----------------------------------------------------------------


class ScheduleGroupReader(Protocol):
    """What reads Architect schedule groups: :class:`presence_manager.genesys.client.GenesysClient` (cached)."""

    def get_schedule_group(self, schedule_group_id: str) -> ScheduleGroup: ...

    def get_schedule(self, schedule_id: str) -> Schedule: ...


def load_schedule_group(reader: ScheduleGroupReader, schedule_group_id: str) -> ScheduleGroupHours:
    """The group and each schedule it references, read through ``reader``. A group Genesys does not know is
    ``GenesysNotFound`` naming it; a group that cannot be evaluated (no time zone, a bad ``rrule``, ...) is
    ``GenesysBadRequest``. Neither falls back to the window: a deployment that names a group has business hours
    only from it (a missing group must not open the holidays)."""
    try:
        group = reader.get_schedule_group(schedule_group_id)
    except GenesysNotFound as exc:
        raise GenesysNotFound(
            f"the business hours schedule group {schedule_group_id} is not found in Genesys Cloud",
            status=exc.status,
            error_body=exc.error_body,
            correlation_id=exc.correlation_id,
            scheduleGroupId=schedule_group_id,
        ) from exc
    refs = [*group.open_schedules, *group.closed_schedules, *group.holiday_schedules]
    schedules = {ref.id: reader.get_schedule(ref.id) for ref in refs}
    try:
        return ScheduleGroupHours.from_genesys(group, schedules)
    except ValueError as exc:
        raise GenesysBadRequest(
            f"the business hours schedule group {schedule_group_id} cannot be evaluated: {exc}",
            scheduleGroupId=schedule_group_id,
        ) from exc


class ArchitectBusinessHours:
    """A schedule group read on the first question (so a change that needs no business hours, such as Offline,
    never reads it), then asked as :class:`ScheduleGroupHours`."""

    def __init__(self, schedule_group_id: str, reader: ScheduleGroupReader) -> None:
        self.schedule_group_id = schedule_group_id
        self._reader = reader
        self._hours: ScheduleGroupHours | None = None

    @property
    def hours(self) -> ScheduleGroupHours:
        if self._hours is None:
            self._hours = load_schedule_group(self._reader, self.schedule_group_id)
        return self._hours

    def is_open(self, instant: datetime, zone: ZoneInfo) -> bool:
        return self.hours.is_open(instant, zone)

    def closed_reason(self, instant: datetime, zone: ZoneInfo) -> str:
        return self.hours.closed_reason(instant, zone)

    def describe(self) -> str:
        return self.hours.describe()


# ---- which business hours apply --------------------------------------------------------------------------------


def window_business_hours(settings: AppSettings) -> BusinessHours:
    """The deployment's daily window (``BUSINESS_HOURS_START``/``END``/``BUSINESS_DAYS``): the fallback."""
    return BusinessHours(
        start=settings.business_hours_start,
        end=settings.business_hours_end,
        weekdays=settings.business_weekdays,
    )


def schedule_group_id_for(
    management_unit_id: str | None,
    settings: AppSettings,
    unit_schedule_group: Callable[[str], str | None] | None = None,
) -> str | None:
    """The schedule group whose hours apply to an agent of ``management_unit_id``: the unit's own (asked of
    ``unit_schedule_group``, e.g. the per-unit automation configuration), else the deployment's
    (``BUSINESS_HOURS_SCHEDULE_GROUP_ID``), else ``None`` (the window applies)."""
    if management_unit_id and unit_schedule_group is not None:
        own = unit_schedule_group(management_unit_id)
        if own:
            return own
    return settings.business_hours_schedule_group_id or None


def business_hours_for(
    management_unit_id: str | None,
    *,
    settings: AppSettings,
    genesys: ScheduleGroupReader,
    unit_schedule_group: Callable[[str], str | None] | None = None,
) -> BusinessHoursSource:
    """The business hours of an agent of ``management_unit_id`` (``None``: an agent outside WFM): a schedule group
    (read through ``genesys`` when first asked, cached there for ``GENESYS_DEFINITIONS_CACHE_SECONDS``) when one is
    named for the unit or the deployment, else the window."""
    group_id = schedule_group_id_for(management_unit_id, settings, unit_schedule_group)
    if group_id:
        return ArchitectBusinessHours(group_id, genesys)
    return window_business_hours(settings)
