"""One agent's day: the schedule's shifts and activities beside the presence over the day, our changes and outside
ones merged in time order (``GET /agents/{userId}/timeline``, ``presence-manager timeline``).

The *day* is a local date in a time zone - the agent's business unit's, unless the request names one - from its
local midnight to the next, as UTC instants ``[dayStart, dayEnd)``; so it is 23 or 25 hours long on a DST change.

- **Schedule**: one schedule search for the agent. For a day the search Validate caches covers (the hour's window,
  24 h back and 25 h ahead: today, in practice) it is that cached search (``workflow.validate.schedule_searches``),
  else a search of the day itself, from 24 h before its start (to reach a shift that began the day before and runs
  into it) to its end. Shifts and activities that overlap the day are kept whole, each with UTC and local times and
  its activity code's name and category; full-day time off markers on the date too. A search Genesys answers
  ``Processing`` leaves the schedule ``unknown``; an agent of no management unit has none (``not_in_wfm``).
- **Presence**: every audit record whose change started within the day (all pages): ours (``source: workflow``,
  any outcome) and outside changes seen in Genesys events (``source: external``), oldest first. A change is placed
  at the ``modifiedDate`` of the presence it set (for a change that set none, at its start). The presence at the start
  of the day is the first change's previous presence when that was set before the day (it was then still in force),
  else the newest record before the day says it (the presence it set, or the one it saw). ``presence`` lays the day
  out as spans of one presence each, up to the end of the day or now, whichever is first: from each change that set
  one, and from the presence a change saw when that was set after what was known before (a change not on record).

Pure but for :func:`agent_timeline`, which reads Genesys and the audit table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from presence_manager.api.inputs import QueryText, problem
from presence_manager.audit import AuditRecord
from presence_manager.errors import GenesysScheduleProcessing, InvalidRequest
from presence_manager.genesys.models import (
    AgentManagementUnitReference,
    BuAgentScheduleSearchResponse,
    BuAgentSchedulesSearchResponse,
    BusinessUnitActivityCode,
)
from presence_manager.schedules import activity_end, find_agent_schedule, schedule_window, shift_end
from presence_manager.timeutil import parse_instant, resolve_time_zone, to_utc_iso
from presence_manager.validation import TimeZoneText
from presence_manager.workflow.models import PresenceSnapshot, PresenceTarget, validation_details
from presence_manager.workflow.validate import ScheduleSearches, management_unit, schedule_searches

if TYPE_CHECKING:
    from presence_manager.audit import AuditStore
    from presence_manager.genesys.client import GenesysClient

__all__ = [
    "PresenceAtStart",
    "PresenceSpan",
    "Timeline",
    "TimelineActivity",
    "TimelineChange",
    "TimelineQuery",
    "TimelineSchedule",
    "TimelineShift",
    "TimelineTimeOff",
    "agent_timeline",
    "build_timeline",
    "changes_of_day",
    "day_bounds",
    "presence_at_start",
    "presence_spans",
    "schedule_of_day",
]

#: The window Validate's cached schedule search covers around the hour (``ScheduleSearches.search``).
CACHED_HOURS_BEFORE, CACHED_HOURS_AFTER = 24, 25
#: How far before the day a search of the day reaches: a shift that began the day before and runs into it.
SHIFT_LOOKBACK = timedelta(hours=24)
#: Audit records read per page, and at most for one day (an agent's day never comes near it; a bound all the same).
PAGE_SIZE = 100
MAX_DAY_RECORDS = 5000
#: Records read back from the start of the day looking for the presence then.
BEFORE_DAY_PAGE_SIZE = 10
BEFORE_DAY_MAX_PAGES = 5
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 2000, 2099

ScheduleStatus = Literal["known", "unknown", "not_in_wfm"]
TimeZoneSource = Literal["request", "businessUnit", "utc"]


# ---- the query ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineRequest:
    day: date | None
    time_zone: str | None


class TimelineQuery(BaseModel):
    """``GET /agents/{userId}/timeline``'s query: ``date`` (``YYYY-MM-DD``) and ``timeZone``, nothing else."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    day: QueryText | None = Field(default=None, alias="date")
    time_zone: TimeZoneText | None = Field(default=None, alias="timeZone")

    @classmethod
    def parse(cls, params: dict[str, str] | None) -> TimelineRequest:
        try:
            query = cls.model_validate(params or {})
        except ValidationError as exc:
            raise InvalidRequest("invalid query", details=validation_details(exc)) from exc
        if query.time_zone is not None:
            resolve_time_zone(query.time_zone)  # invalid_time_zone
        return TimelineRequest(day=_date(query.day), time_zone=query.time_zone)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if DATE_PATTERN.fullmatch(value) is None:
            raise ValueError(value)
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            "date must be a calendar date as YYYY-MM-DD",
            code="invalid_time",
            details=problem("date", "not a YYYY-MM-DD date"),
        ) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidRequest(
            f"date must be within {FIRST_YEAR}-{LAST_YEAR}",
            code="invalid_time",
            details=problem("date", f"outside {FIRST_YEAR}-{LAST_YEAR}"),
        )
    return day


# ---- the answer --------------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class TimelineActivity(_Model):
    start: str = Field(description="UTC")
    end: str
    start_local: str = Field(description="the day's time zone, with its offset")
    end_local: str
    length_minutes: int
    activity_code_id: str | None = None
    name: str | None = Field(default=None, description="the activity code's name")
    category: str | None = Field(default=None, description="the activity code's category, e.g. Break")
    description: str | None = None
    paid: bool | None = None


class TimelineShift(_Model):
    shift_id: str | None = None
    start: str
    end: str
    start_local: str
    end_local: str
    length_minutes: int
    activities: list[TimelineActivity] = Field(default_factory=list)


class TimelineTimeOff(_Model):
    business_unit_date: str
    length_minutes: int | None = None
    activity_code_id: str | None = None
    name: str | None = None
    category: str | None = None
    description: str | None = None
    paid: bool | None = None


class TimelineSchedule(_Model):
    status: ScheduleStatus
    management_unit_id: str | None = None
    business_unit_id: str | None = None
    cached: bool = Field(default=False, description="from the schedule search Validate caches (today)")
    search_start: str | None = None
    search_end: str | None = None
    shifts: list[TimelineShift] = Field(default_factory=list)
    time_off: list[TimelineTimeOff] = Field(default_factory=list)


class TimelineChange(_Model):
    at: str = Field(description="UTC: the modifiedDate of the presence the change set, else when it started")
    at_local: str
    started_at: str
    source: Literal["workflow", "external"]
    change_id: str
    outcome: str
    presence_changed: bool = Field(description="whether the change set a presence (applied, or an outside change)")
    requested_by: str | None = None
    requested_presence: PresenceTarget | None = None
    previous_presence: PresenceSnapshot | None = None
    new_presence: PresenceSnapshot | None = None
    message: str | None = None
    reason: str | None = None
    bulk_id: str | None = None


class PresenceAtStart(_Model):
    presence: PresenceSnapshot
    change_id: str = Field(description="the record it is known from")
    basis: Literal["first_change", "before_day"] = Field(
        description="first_change: the first change of the day saw it, set before the day; before_day: the newest "
        "record before the day set (or saw) it"
    )


class PresenceSpan(_Model):
    start: str
    end: str
    start_local: str
    end_local: str
    system_presence: str | None = None
    definition_id: str | None = None
    message: str | None = None
    change_id: str | None = Field(default=None, description="the change of ours or outside change that set it")
    source: Literal["workflow", "external"] | None = None
    seen_by: str | None = Field(
        default=None,
        description="set by no change on record: the change that saw it in force (its previousPresence, set at the "
        "span's start); neither this nor changeId: the presence at the start of the day",
    )


class Timeline(_Model):
    user_id: str
    date: str
    time_zone: str
    time_zone_source: TimeZoneSource
    day_start: str
    day_end: str
    day_start_local: str
    day_end_local: str
    day_minutes: int = Field(description="1440, or 1380/1500 on a DST change")
    generated_at: str
    schedule: TimelineSchedule
    presence_at_start: PresenceAtStart | None = None
    changes: list[TimelineChange] = Field(default_factory=list)
    presence: list[PresenceSpan] = Field(default_factory=list)
    truncated: bool = Field(default=False, description=f"more than {MAX_DAY_RECORDS} records: the oldest are left out")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


# ---- pure parts --------------------------------------------------------------------------------------------------


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of the local ``day`` in ``zone`` as UTC instants (23 or 25 hours apart on a DST change)."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, end


def _local(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat(timespec="milliseconds")


def _overlaps(start: datetime, end: datetime, day_start: datetime, day_end: datetime) -> bool:
    return start < day_end and end > day_start


def schedule_of_day(
    agent_schedule: BuAgentScheduleSearchResponse | None,
    day: date,
    day_start: datetime,
    day_end: datetime,
    zone: ZoneInfo,
    codes: Iterable[BusinessUnitActivityCode],
) -> tuple[list[TimelineShift], list[TimelineTimeOff]]:
    """The shifts and activities overlapping ``[day_start, day_end)`` (whole, in time order) and the full-day time
    off markers on ``day``, each named after its activity code."""
    if agent_schedule is None:
        return [], []
    by_id = {code.id: code for code in codes}
    shifts = []
    for shift in sorted(agent_schedule.shifts, key=lambda s: s.start_date):
        end = shift_end(shift)
        if not _overlaps(shift.start_date, end, day_start, day_end):
            continue
        activities = []
        for activity in sorted(shift.activities, key=lambda a: a.start_date):
            activity_stop = activity_end(activity)
            if not _overlaps(activity.start_date, activity_stop, day_start, day_end):
                continue
            code = by_id.get(activity.activity_code_id or "")
            activities.append(
                TimelineActivity(
                    start=to_utc_iso(activity.start_date),
                    end=to_utc_iso(activity_stop),
                    start_local=_local(activity.start_date, zone),
                    end_local=_local(activity_stop, zone),
                    length_minutes=activity.length_minutes,
                    activity_code_id=activity.activity_code_id,
                    name=code.name if code else None,
                    category=code.category if code else None,
                    description=activity.description,
                    paid=activity.paid,
                )
            )
        shifts.append(
            TimelineShift(
                shift_id=shift.id,
                start=to_utc_iso(shift.start_date),
                end=to_utc_iso(end),
                start_local=_local(shift.start_date, zone),
                end_local=_local(end, zone),
                length_minutes=shift.length_minutes,
                activities=activities,
            )
        )
    time_off = []
    for marker in agent_schedule.full_day_time_off_markers:
        if (marker.business_unit_date or "")[:10] != day.isoformat():
            continue
        code = by_id.get(marker.activity_code_id or "")
        time_off.append(
            TimelineTimeOff(
                business_unit_date=day.isoformat(),
                length_minutes=marker.length_minutes,
                activity_code_id=marker.activity_code_id,
                name=code.name if code else None,
                category=code.category if code else None,
                description=marker.description,
                paid=marker.paid,
            )
        )
    return shifts, time_off


def _change_instant(record: AuditRecord) -> datetime:
    if record.new_presence is not None and record.new_presence.modified_date:
        return parse_instant(record.new_presence.modified_date)
    return parse_instant(record.started_at)


def changes_of_day(records: Iterable[AuditRecord], zone: ZoneInfo) -> list[TimelineChange]:
    """Ours and outside changes in one list, oldest first (ties: by start, then change id)."""
    placed = sorted(
        ((_change_instant(r), r) for r in records),
        key=lambda item: (item[0], item[1].started_at, item[1].change_id),
    )
    return [
        TimelineChange(
            at=to_utc_iso(at),
            at_local=_local(at, zone),
            started_at=record.started_at,
            source=record.source,
            change_id=record.change_id,
            outcome=record.outcome,
            presence_changed=record.new_presence is not None,
            requested_by=record.requested_by,
            requested_presence=record.requested_presence,
            previous_presence=record.previous_presence,
            new_presence=record.new_presence,
            message=record.message,
            reason=record.reason,
            bulk_id=record.bulk_id,
        )
        for at, record in placed
    ]


def presence_at_start(
    changes: list[TimelineChange], day_start: datetime, before_day: Iterable[AuditRecord]
) -> PresenceAtStart | None:
    """The presence in force at ``day_start``: what the first change of the day saw, when it was set before the day;
    else what the newest record before the day (``before_day``, newest first) set or saw. None when unknown."""
    if changes:
        first = changes[0]
        seen = first.previous_presence
        if seen is not None and seen.modified_date and parse_instant(seen.modified_date) < day_start:
            return PresenceAtStart(presence=seen, change_id=first.change_id, basis="first_change")
    for record in before_day:
        known = record.new_presence or record.previous_presence
        if known is not None and (known.definition_id or known.system_presence):
            return PresenceAtStart(presence=known, change_id=record.change_id, basis="before_day")
    return None


def presence_spans(
    start: PresenceAtStart | None,
    changes: list[TimelineChange],
    day_start: datetime,
    until: datetime,
    zone: ZoneInfo,
) -> list[PresenceSpan]:
    """The day ``[day_start, until)`` as spans of one presence each: from the presence at the start (if known), then
    from each change that set a presence to the next one. A change that saw a presence (its previous presence) other
    than the one last known, set after it, tells of a change not on record (made while nothing observed): that
    presence is laid from its ``modifiedDate``."""
    marks: list[tuple[datetime, PresenceSnapshot, TimelineChange | None, str | None]] = []
    if start is not None:
        marks.append((day_start, start.presence, None, None))
    for change in changes:
        seen, at = change.previous_presence, parse_instant(change.at)
        if seen is not None and seen.modified_date and (not marks or marks[-1][1].etag != seen.etag):
            since = parse_instant(seen.modified_date)
            if (marks[-1][0] if marks else day_start) <= since < at:
                marks.append((since, seen, None, change.change_id))
        if change.presence_changed and change.new_presence is not None:
            marks.append((max(at, day_start), change.new_presence, change, None))
    spans = []
    for index, (begin, presence, change, seen_by) in enumerate(marks):
        end = marks[index + 1][0] if index + 1 < len(marks) else until
        end = min(end, until)
        if begin >= end:
            continue
        spans.append(
            PresenceSpan(
                start=to_utc_iso(begin),
                end=to_utc_iso(end),
                start_local=_local(begin, zone),
                end_local=_local(end, zone),
                system_presence=presence.system_presence,
                definition_id=presence.definition_id,
                message=presence.message,
                change_id=change.change_id if change else None,
                source=change.source if change else None,
                seen_by=seen_by,
            )
        )
    return spans


@dataclass(frozen=True)
class ScheduleFound:
    """What was read of the schedule (for :func:`build_timeline`)."""

    status: ScheduleStatus
    management_unit_id: str | None = None
    business_unit_id: str | None = None
    response: BuAgentSchedulesSearchResponse | None = None
    codes: tuple[BusinessUnitActivityCode, ...] = ()
    cached: bool = False
    search_start: datetime | None = None
    search_end: datetime | None = None


def build_timeline(
    *,
    user_id: str,
    day: date,
    zone_name: str,
    zone_source: TimeZoneSource,
    found: ScheduleFound,
    records: Iterable[AuditRecord],
    before_day: Iterable[AuditRecord],
    now: datetime,
    truncated: bool = False,
) -> Timeline:
    """The timeline from what was read (pure). ``before_day`` is read lazily: only when the day's first change does
    not already say the presence at its start."""
    zone = resolve_time_zone(zone_name)
    day_start, day_end = day_bounds(day, zone)
    shifts, time_off = schedule_of_day(
        find_agent_schedule(found.response, user_id), day, day_start, day_end, zone, found.codes
    )
    changes = changes_of_day(records, zone)
    at_start = presence_at_start(changes, day_start, before_day)
    until = min(day_end, max(now, day_start))
    return Timeline(
        user_id=user_id,
        date=day.isoformat(),
        time_zone=zone_name,
        time_zone_source=zone_source,
        day_start=to_utc_iso(day_start),
        day_end=to_utc_iso(day_end),
        day_start_local=_local(day_start, zone),
        day_end_local=_local(day_end, zone),
        day_minutes=int((day_end - day_start).total_seconds() // 60),
        generated_at=to_utc_iso(now),
        schedule=TimelineSchedule(
            status=found.status,
            management_unit_id=found.management_unit_id,
            business_unit_id=found.business_unit_id,
            cached=found.cached,
            search_start=to_utc_iso(found.search_start) if found.search_start else None,
            search_end=to_utc_iso(found.search_end) if found.search_end else None,
            shifts=shifts,
            time_off=time_off,
        ),
        presence_at_start=at_start,
        changes=changes,
        presence=presence_spans(at_start, changes, day_start, until, zone),
        truncated=truncated,
    )


# ---- reading it --------------------------------------------------------------------------------------------------


def _day_records(audit: AuditStore, user_id: str, since: str, until: str) -> tuple[list[AuditRecord], bool]:
    records: list[AuditRecord] = []
    token: str | None = None
    while True:
        page, token = audit.history(user_id, since=since, until=until, limit=PAGE_SIZE, next_token=token)
        records.extend(page)
        if not token:
            return records, False
        if len(records) >= MAX_DAY_RECORDS:
            return records[:MAX_DAY_RECORDS], True


def _records_before(audit: AuditStore, user_id: str, until: str) -> Iterable[AuditRecord]:
    """Records before the day, newest first, read a page at a time as they are asked for."""
    token: str | None = None
    for _ in range(BEFORE_DAY_MAX_PAGES):
        page, token = audit.history(user_id, until=until, limit=BEFORE_DAY_PAGE_SIZE, next_token=token)
        yield from page
        if not token:
            return


def _schedule(
    genesys: GenesysClient,
    user_id: str,
    day_start: datetime,
    day_end: datetime,
    now: datetime,
    searches: ScheduleSearches,
    unit: AgentManagementUnitReference | None,
) -> ScheduleFound:
    if unit is None:
        return ScheduleFound(status="not_in_wfm")
    unit_id, business_unit_id = unit.management_unit.id, unit.business_unit.id
    hour = now.replace(minute=0, second=0, microsecond=0)
    cached_start, cached_end = schedule_window(hour, CACHED_HOURS_BEFORE, CACHED_HOURS_AFTER)
    if cached_start <= day_start and cached_end >= day_end:
        response = searches.search(genesys, unit_id, [user_id], now)
        start, end, cached = cached_start, cached_end, True
    else:
        start, end, cached = day_start - SHIFT_LOOKBACK, day_end, False
        try:
            response = genesys.search_agent_schedules(unit_id, start, end, [user_id])
        except GenesysScheduleProcessing:
            response = None
    if response is None:
        return ScheduleFound("unknown", unit_id, business_unit_id, cached=cached, search_start=start, search_end=end)
    codes = tuple(genesys.get_activity_codes(business_unit_id))
    return ScheduleFound("known", unit_id, business_unit_id, response, codes, cached, start, end)


def agent_timeline(
    user_id: str,
    request: TimelineRequest,
    *,
    genesys: GenesysClient,
    audit: AuditStore,
    now: datetime,
    searches: ScheduleSearches = schedule_searches,
) -> Timeline:
    """Read and build one agent's day: the agent's management unit (cached), its business unit's time zone (cached)
    unless the request names one, one schedule search, the activity codes (cached) and the audit records."""
    now = now.astimezone(UTC)  # the cached search is keyed by the UTC hour
    unit = management_unit(genesys, user_id)
    zone_source: TimeZoneSource
    if request.time_zone is not None:
        zone_name, zone_source = request.time_zone, "request"
    elif unit is not None:
        zone_name, zone_source = genesys.get_business_unit_time_zone(unit.business_unit.id), "businessUnit"
    else:
        zone_name, zone_source = "UTC", "utc"
    zone = resolve_time_zone(zone_name)
    day = request.day or now.astimezone(zone).date()
    day_start, day_end = day_bounds(day, zone)
    found = _schedule(genesys, user_id, day_start, day_end, now, searches, unit)
    records, truncated = _day_records(
        audit, user_id, to_utc_iso(day_start), to_utc_iso(day_end - timedelta(milliseconds=1))
    )
    before = _records_before(audit, user_id, to_utc_iso(day_start - timedelta(milliseconds=1)))
    return build_timeline(
        user_id=user_id,
        day=day,
        zone_name=zone_name,
        zone_source=zone_source,
        found=found,
        records=records,
        before_day=before,
        now=now,
        truncated=truncated,
    )
