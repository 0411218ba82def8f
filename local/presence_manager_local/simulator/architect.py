"""Architect schedule groups and schedules: business hours as the org's flows see them.

``GET /api/v2/architect/schedulegroups/{scheduleGroupId}`` answers a ``ScheduleGroup`` (its IANA ``timeZone`` and
``DomainEntityRef``s of its open, closed and holiday schedules), ``GET /api/v2/architect/schedules/{scheduleId}`` a
``Schedule`` (``start``/``end`` as local date-times without an offset, ``2026-11-26T08:00:00.000``, and an ``rrule``);
an unknown id is a 404 ``ErrorBody``.

The org has one schedule group per time zone of its business units (the default org: America/New_York; the
``--agents N`` org: New York, London and Tokyo). A group's id depends on its time zone only
(:func:`schedule_group_id`), so the default org's New York group and the generated org's have the same id. Every
reset builds each group around *now* on its own wall clock, so a run that starts at any hour is within business
hours for the next 8 hours at least:

- open "Open around now": every day (``FREQ=DAILY``) from the hour 4 hours before now to the end of the hour 8 hours
  after now (13 hours of wall-clock time, 12 or 14 when a DST change falls in between; it may run past local
  midnight: one occurrence spans it);
- closed "Daily huddle": every day, 30 minutes starting an hour after the open one (3-4 hours before now: today's
  is over, tomorrow's is inside tomorrow's open hours);
- holiday "Company holiday": every year (``FREQ=YEARLY``) the whole local date 10 days from now.

``POST /__sim/schedulegroups/{scheduleGroupId}`` changes a group for tests (``name``, ``timeZone``, and any of
``openSchedules``/``closedSchedules``/``holidaySchedules``: lists of ``{"name", "start", "end", "rrule"}`` that
replace that kind's schedules with new ones); a new id creates a group (``timeZone`` needed). ``GET
/__sim/schedulegroups`` shows the groups with their schedules. ``POST /__sim/reset`` rebuilds them around now.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from presence_manager_local.simulator.common import iso_ms
from presence_manager_local.simulator.errors import not_found
from presence_manager_local.simulator.org import OrgBase

ARCHITECT_NAMESPACE = uuid.UUID("5d0f8c61-2b7e-4f38-9a51-7c3e1d2a9b40")
SCHEDULE_KINDS = ("open", "closed", "holiday")
#: the fixture's schedules, relative to now on the group's wall clock
OPEN_HOURS_BEFORE_NOW = 4
OPEN_HOURS_AFTER_NOW = 8
HOLIDAY_DAYS_AHEAD = 10


def schedule_group_id(time_zone: str) -> str:
    """The id of the simulator's schedule group for ``time_zone`` (the same in every org the simulator serves)."""
    return str(uuid.uuid5(ARCHITECT_NAMESPACE, f"schedulegroup/{time_zone}"))


def local_date_time(value: datetime) -> str:
    """``2026-11-26T08:00:00.000``: the SDK's ``LocalDateTime`` (no offset)."""
    return f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}"


def _parse_local(value: str, field_name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{field_name} must be a local date-time such as 2026-11-26T08:00:00.000") from exc
    if parsed.tzinfo is not None:
        raise ValueError(f"{field_name} is a local date-time: no offset or Z (the group's time zone applies)")
    return parsed


@dataclass(slots=True)
class ArchitectSchedule:
    id: str
    name: str
    start: datetime  # naive: the wall clock of the group using it
    end: datetime
    rrule: str | None
    created: datetime
    version: int = 1


@dataclass(slots=True)
class ArchitectScheduleGroup:
    id: str
    name: str
    time_zone: str
    created: datetime
    modified: datetime
    schedules: dict[str, list[str]] = field(default_factory=lambda: {kind: [] for kind in SCHEDULE_KINDS})
    version: int = 1


class ScheduleInput(BaseModel):
    """One schedule of ``POST /__sim/schedulegroups/{id}``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    start: str
    end: str
    rrule: str | None = None

    @field_validator("start", "end")
    @classmethod
    def _local(cls, value: str, info: ValidationInfo) -> str:
        _parse_local(value, info.field_name)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ScheduleInput:
        start, end = _parse_local(self.start, "start"), _parse_local(self.end, "end")
        if end <= start:
            raise ValueError(f"schedule {self.name!r}: end must be after start")
        if self.rrule:
            try:
                rrulestr(self.rrule, dtstart=start)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"schedule {self.name!r}: rrule {self.rrule!r} does not parse: {exc}") from exc
        return self


class ScheduleGroupInput(BaseModel):
    """The body of ``POST /__sim/schedulegroups/{id}``: what is given replaces, what is left out stays."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    time_zone: str | None = None
    open_schedules: list[ScheduleInput] | None = None
    closed_schedules: list[ScheduleInput] | None = None
    holiday_schedules: list[ScheduleInput] | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"timeZone {value!r} is not an IANA time zone") from exc
        return value


class ArchitectMixin(OrgBase):
    schedule_groups: dict[str, ArchitectScheduleGroup]
    architect_schedules: dict[str, ArchitectSchedule]
    _schedule_ids: itertools.count[int]

    def reset_architect(self) -> None:
        """One schedule group per business-unit time zone, built around now (call with :attr:`lock` held)."""
        now = self.now()
        self.schedule_groups = {}
        self.architect_schedules = {}
        self._schedule_ids = itertools.count(1)
        names: dict[str, str] = {}
        for unit in self.business_units.values():
            names.setdefault(unit.time_zone, f"{unit.name} hours")
        for time_zone, name in names.items():
            self._add_fixture_group(time_zone, name, now)

    def _add_fixture_group(self, time_zone: str, name: str, now: datetime) -> None:
        zone = ZoneInfo(time_zone)

        def wall_clock_hour(instant: datetime) -> datetime:
            return instant.astimezone(zone).replace(tzinfo=None, minute=0, second=0, microsecond=0)

        # From the wall-clock hour 4 hours before now to the one after now + 8 hours, both taken from *instants*:
        # on a DST day the wall-clock length (the occurrence's length every day) is then an hour more or less than
        # the elapsed time, and now is still covered for 8 hours and more.
        opens = wall_clock_hour(now - timedelta(hours=OPEN_HOURS_BEFORE_NOW))
        closes = wall_clock_hour(now + timedelta(hours=OPEN_HOURS_AFTER_NOW)) + timedelta(hours=1)
        huddle = opens + timedelta(hours=1)
        wall_clock = now.astimezone(zone)
        holiday = datetime.combine(wall_clock.date() + timedelta(days=HOLIDAY_DAYS_AHEAD), datetime.min.time())
        group = ArchitectScheduleGroup(
            id=schedule_group_id(time_zone), name=name, time_zone=time_zone, created=now, modified=now
        )
        group.schedules["open"] = [self._new_schedule("Open around now", opens, closes, "FREQ=DAILY", now)]
        group.schedules["closed"] = [
            self._new_schedule("Daily huddle", huddle, huddle + timedelta(minutes=30), "FREQ=DAILY", now)
        ]
        group.schedules["holiday"] = [
            self._new_schedule("Company holiday", holiday, holiday + timedelta(days=1), "FREQ=YEARLY", now)
        ]
        self.schedule_groups[group.id] = group

    def _new_schedule(self, name: str, start: datetime, end: datetime, rrule: str | None, now: datetime) -> str:
        schedule_id = str(uuid.uuid5(ARCHITECT_NAMESPACE, f"schedule/{next(self._schedule_ids)}"))
        self.architect_schedules[schedule_id] = ArchitectSchedule(schedule_id, name, start, end, rrule, now)
        return schedule_id

    # ---- the API ------------------------------------------------------------------------------------------------

    def _division(self) -> dict[str, str]:
        division = self.fixture.organization.home_division_id
        return {"id": division, "name": "Home", "selfUri": f"/api/v2/authorization/divisions/{division}"}

    def _schedule_ref(self, schedule_id: str) -> dict[str, str]:
        return {
            "id": schedule_id,
            "name": self.architect_schedules[schedule_id].name,
            "selfUri": f"/api/v2/architect/schedules/{schedule_id}",
        }

    def get_schedule_group(self, schedule_group_id: str) -> dict[str, Any]:
        """``ScheduleGroup`` (SDK JSON names)."""
        with self.lock:
            group = self.schedule_groups.get(schedule_group_id)
            if group is None:
                raise not_found(
                    f"The schedule group {schedule_group_id} could not be found.", entity_id=schedule_group_id
                )
            return {
                "id": group.id,
                "name": group.name,
                "division": self._division(),
                "version": group.version,
                "dateCreated": iso_ms(group.created),
                "dateModified": iso_ms(group.modified),
                "state": "active",
                "timeZone": group.time_zone,
                "openSchedules": [self._schedule_ref(s) for s in group.schedules["open"]],
                "closedSchedules": [self._schedule_ref(s) for s in group.schedules["closed"]],
                "holidaySchedules": [self._schedule_ref(s) for s in group.schedules["holiday"]],
                "selfUri": f"/api/v2/architect/schedulegroups/{group.id}",
            }

    def get_architect_schedule(self, schedule_id: str) -> dict[str, Any]:
        """``Schedule`` (SDK JSON names; ``start``/``end`` local, no offset)."""
        with self.lock:
            schedule = self.architect_schedules.get(schedule_id)
            if schedule is None:
                raise not_found(f"The schedule {schedule_id} could not be found.", entity_id=schedule_id)
            body: dict[str, Any] = {
                "id": schedule.id,
                "name": schedule.name,
                "division": self._division(),
                "version": schedule.version,
                "dateCreated": iso_ms(schedule.created),
                "dateModified": iso_ms(schedule.created),
                "state": "active",
                "start": local_date_time(schedule.start),
                "end": local_date_time(schedule.end),
            }
            if schedule.rrule:
                body["rrule"] = schedule.rrule
            body["selfUri"] = f"/api/v2/architect/schedules/{schedule.id}"
            return body

    # ---- admin --------------------------------------------------------------------------------------------------

    def schedule_group_for_business_unit(self, business_unit_id: str) -> str:
        """The id of the schedule group of a business unit's time zone."""
        with self.lock:
            return schedule_group_id(self._business_unit(business_unit_id).time_zone)

    def set_schedule_group(self, schedule_group_id: str, body: dict[str, Any] | ScheduleGroupInput) -> dict[str, Any]:
        """Change (or create) a group: see the module docstring. Answers the admin view of the group."""
        change = body if isinstance(body, ScheduleGroupInput) else ScheduleGroupInput.model_validate(body)
        with self.lock:
            now = self.now()
            group = self.schedule_groups.get(schedule_group_id)
            if group is None:
                if change.time_zone is None:
                    raise ValueError(f"no schedule group {schedule_group_id}: give timeZone to create it")
                group = ArchitectScheduleGroup(
                    id=schedule_group_id,
                    name=change.name or schedule_group_id,
                    time_zone=change.time_zone,
                    created=now,
                    modified=now,
                )
                self.schedule_groups[schedule_group_id] = group
            else:
                group.version += 1
                group.modified = now
            if change.name is not None:
                group.name = change.name
            if change.time_zone is not None:
                group.time_zone = change.time_zone
            for kind, given in (
                ("open", change.open_schedules),
                ("closed", change.closed_schedules),
                ("holiday", change.holiday_schedules),
            ):
                if given is not None:
                    group.schedules[kind] = [
                        self._new_schedule(
                            s.name, _parse_local(s.start, "start"), _parse_local(s.end, "end"), s.rrule or None, now
                        )
                        for s in given
                    ]
            return self._schedule_group_view(group)

    def _schedule_group_view(self, group: ArchitectScheduleGroup) -> dict[str, Any]:
        view = self.get_schedule_group(group.id)
        for kind in SCHEDULE_KINDS:
            view[f"{kind}Schedules"] = [self.get_architect_schedule(s) for s in group.schedules[kind]]
        return view

    def schedule_group_views(self) -> list[dict[str, Any]]:
        """Every group with its schedules in full (``GET /__sim/schedulegroups``, ``GET /__sim/state``)."""
        with self.lock:
            return [self._schedule_group_view(group) for group in self.schedule_groups.values()]
