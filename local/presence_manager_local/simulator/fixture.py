"""The simulator's org fixture (``data/org.json``) and the schedules generated from it.

Schedules are not stored literally: every user names a *schedule pattern*, and the shifts, activities and full-day
time off markers are generated from it around a given instant ("now") when the simulator starts or is reset. So the
org looks the same at any hour and on any date: agents on shift now, on a break now, off shift now, ...

Pattern shifts are anchored either at ``now`` (floored to 5 minutes; ``days`` repeats the shift every 24 h) or at
``localMidnight`` (midnight of the business-unit-local date ``today + day``), then moved by ``startMinutes``.
Activities are placed relative to their shift's start; their activity code is the business unit's default code of
the activity's category unless ``activityCodeId`` names one. Full-day time off markers land on the business-unit
date ``today + day``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

DEFAULT_FIXTURE = Path(__file__).parent / "data" / "org.json"
SHIFT_ID_NAMESPACE = uuid.UUID("5b0a4f5e-2f7e-4c1b-9a53-6f3c1d2e8b71")
ANCHOR_GRANULARITY = timedelta(minutes=5)

SystemPresenceName = Literal[
    "Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal", "Training", "Meeting", "Break"
]
ActivityCategory = Literal[
    "OnQueueWork", "Break", "Meal", "Meeting", "OffQueueWork", "TimeOff", "Training", "Unavailable"
]
RoutingStatusValue = Literal["OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"]
SkillState = Literal["active", "inactive", "deleted"]


class FixtureModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Organization(FixtureModel):
    id: str
    name: str
    home_division_id: str


class OAuthClient(FixtureModel):
    client_id: str
    client_secret: str
    name: str | None = None
    token_lifetime_seconds: int = Field(default=86400, ge=300, le=172800)


class Settings(FixtureModel):
    schedule_inline_max_users: int = Field(default=10, ge=0)
    #: above this many activity codes the listing comes back as a ``downloadUrl`` with empty ``entities``
    #: (``None``: always inline)
    activity_codes_inline_max: int | None = Field(default=None, ge=0)


class PresenceDefinitionSpec(FixtureModel):
    id: str
    type: Literal["System", "User"]
    system_presence: SystemPresenceName
    language_labels: dict[str, str]
    division_id: str | None = None
    deactivated: bool = False

    @property
    def label(self) -> str:
        return self.language_labels.get("en_US") or next(iter(self.language_labels.values()), self.system_presence)


class SkillSpec(FixtureModel):
    id: str
    name: str


class ActivityCodeSpec(FixtureModel):
    id: str
    name: str
    category: ActivityCategory
    default_code: bool = False
    active: bool = True
    length_in_minutes: int | None = None
    counts_as_paid_time: bool = True
    counts_as_work_time: bool = True
    agent_time_off_selectable: bool = False
    secondary_presences: list[str] = Field(default_factory=list)


class ManagementUnitSpec(FixtureModel):
    id: str
    name: str


class BusinessUnitSpec(FixtureModel):
    id: str
    name: str
    time_zone: str
    start_day_of_week: str = "Monday"
    activity_codes: list[ActivityCodeSpec]
    management_units: list[ManagementUnitSpec]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def default_code(self, category: str) -> ActivityCodeSpec:
        candidates = [code for code in self.activity_codes if code.category == category]
        if not candidates:
            raise ValueError(f"business unit {self.id} has no activity code of category {category}")
        return next((code for code in candidates if code.default_code), candidates[0])

    def code(self, code_id: str) -> ActivityCodeSpec:
        for code in self.activity_codes:
            if code.id == code_id:
                return code
        raise ValueError(f"business unit {self.id} has no activity code {code_id}")


class PatternActivity(FixtureModel):
    category: ActivityCategory
    start_minutes: int = Field(ge=0)
    length_minutes: int = Field(gt=0)
    activity_code_id: str | None = None
    description: str | None = None


class PatternShift(FixtureModel):
    anchor: Literal["now", "localMidnight"] = "now"
    days: list[int] = Field(default_factory=lambda: [0])
    start_minutes: int = 0
    length_minutes: int = Field(gt=0)
    activities: list[PatternActivity] = Field(default_factory=list)


class PatternTimeOff(FixtureModel):
    days: list[int] = Field(default_factory=lambda: [0])
    category: ActivityCategory = "TimeOff"
    activity_code_id: str | None = None
    length_minutes: int = 480
    description: str | None = None
    paid: bool = True


class SchedulePattern(FixtureModel):
    description: str
    on_shift_now: bool | None = None
    activity_now: ActivityCategory | None = None
    shifts: list[PatternShift] = Field(default_factory=list)
    time_off: list[PatternTimeOff] = Field(default_factory=list)


class UserSkillSpec(FixtureModel):
    id: str
    proficiency: float = Field(ge=0, le=5)
    state: SkillState = "active"


class UserSpec(FixtureModel):
    id: str
    name: str
    email: str
    department: str | None = None
    schedule_pattern: str
    presence: str
    presence_off_shift: str | None = None
    message: str = ""
    routing_status: RoutingStatusValue | None = None
    skills: list[UserSkillSpec] = Field(default_factory=list)
    management_unit_id: str | None = None


class Fixture(FixtureModel):
    description: str | None = None
    organization: Organization
    oauth_clients: list[OAuthClient]
    settings: Settings = Field(default_factory=Settings)
    presence_definitions: list[PresenceDefinitionSpec]
    skills: list[SkillSpec]
    business_units: list[BusinessUnitSpec]
    schedule_patterns: dict[str, SchedulePattern]
    users: list[UserSpec]

    def business_unit_of(self, management_unit_id: str) -> BusinessUnitSpec:
        for unit in self.business_units:
            if any(mu.id == management_unit_id for mu in unit.management_units):
                return unit
        raise ValueError(f"no business unit holds management unit {management_unit_id}")

    def units_by_management_unit(self) -> dict[str, tuple[ManagementUnitSpec, BusinessUnitSpec]]:
        """Management unit id → (the management unit, its business unit)."""
        return {mu.id: (mu, unit) for unit in self.business_units for mu in unit.management_units}

    def check(self) -> Fixture:
        """Cross-references: patterns, management units, skills and activity codes must exist."""
        definition_ids = {d.id for d in self.presence_definitions}
        skill_ids = {s.id for s in self.skills}
        management_units = self.units_by_management_unit()
        for unit in self.business_units:
            for code in unit.activity_codes:
                missing = set(code.secondary_presences) - definition_ids
                if missing:
                    raise ValueError(f"activity code {code.id} names unknown presence definitions {missing}")
        for user in self.users:
            if user.schedule_pattern not in self.schedule_patterns:
                raise ValueError(f"user {user.id} has unknown schedule pattern {user.schedule_pattern}")
            if user.management_unit_id is not None and user.management_unit_id not in management_units:
                raise ValueError(f"no business unit holds management unit {user.management_unit_id}")
            for skill in user.skills:
                if skill.id not in skill_ids:
                    raise ValueError(f"user {user.id} has unknown skill {skill.id}")
        return self


def load_fixture(path: Path | str | None = None) -> Fixture:
    source = Path(path) if path is not None else DEFAULT_FIXTURE
    return Fixture.model_validate(json.loads(source.read_text(encoding="utf-8"))).check()


# ---- generated schedules ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    start: datetime
    length_minutes: int
    activity_code_id: str
    category: str
    description: str
    paid: bool

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.length_minutes)


@dataclass(frozen=True)
class Shift:
    id: str
    start: datetime
    length_minutes: int
    activities: tuple[Activity, ...]

    @property
    def end(self) -> datetime:
        return self.start + timedelta(minutes=self.length_minutes)

    def intersects(self, start: datetime, end: datetime) -> bool:
        return self.start < end and self.end > start


@dataclass(frozen=True)
class TimeOffMarker:
    business_unit_date: date
    length_minutes: int
    activity_code_id: str
    description: str
    paid: bool

    def local_span(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        start = datetime.combine(self.business_unit_date, time(0), zone)
        end = datetime.combine(self.business_unit_date + timedelta(days=1), time(0), zone)
        return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class AgentSchedule:
    shifts: tuple[Shift, ...] = ()
    time_off: tuple[TimeOffMarker, ...] = ()
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    def shift_at(self, instant: datetime) -> Shift | None:
        return next((s for s in self.shifts if s.start <= instant < s.end), None)

    def activity_at(self, instant: datetime) -> Activity | None:
        shift = self.shift_at(instant)
        if shift is None:
            return None
        return next((a for a in shift.activities if a.start <= instant < a.end), None)

    def time_off_at(self, instant: datetime) -> TimeOffMarker | None:
        local_day = instant.astimezone(self.zone).date()
        return next((m for m in self.time_off if m.business_unit_date == local_day), None)

    def on_shift_at(self, instant: datetime) -> bool:
        return self.shift_at(instant) is not None and self.time_off_at(instant) is None


def floor_instant(instant: datetime, step: timedelta = ANCHOR_GRANULARITY) -> datetime:
    instant = instant.astimezone(UTC)
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    return instant - ((instant - epoch) % step)


def generate_schedule(pattern: SchedulePattern, unit: BusinessUnitSpec, user_id: str, now: datetime) -> AgentSchedule:
    """The schedule ``pattern`` gives ``user_id`` around ``now`` (pure)."""
    return personalize(pattern_schedule(pattern, unit, now), user_id)


def shift_id(user_id: str, start: datetime) -> str:
    return str(uuid.uuid5(SHIFT_ID_NAMESPACE, f"{user_id}/{start.isoformat()}"))


def personalize(template: AgentSchedule, user_id: str) -> AgentSchedule:
    """``template`` (from :func:`pattern_schedule`) as ``user_id``'s own schedule: only the shift ids differ between
    agents of the same pattern and business unit; activities and time off markers are shared (immutable)."""
    shifts = tuple(Shift(shift_id(user_id, s.start), s.start, s.length_minutes, s.activities) for s in template.shifts)
    return AgentSchedule(shifts, template.time_off, template.zone)


def pattern_schedule(pattern: SchedulePattern, unit: BusinessUnitSpec, now: datetime) -> AgentSchedule:
    """The schedule ``pattern`` gives any agent of ``unit`` around ``now``, shift ids left empty (pure): build it once
    per pattern and business unit, then :func:`personalize` it per agent."""
    zone = unit.zone
    anchor_now = floor_instant(now)
    today = now.astimezone(zone).date()
    shifts: list[Shift] = []
    for spec in pattern.shifts:
        for day in spec.days:
            if spec.anchor == "now":
                base = anchor_now + timedelta(days=day)
            else:
                base = datetime.combine(today + timedelta(days=day), time(0), zone).astimezone(UTC)
            start = base + timedelta(minutes=spec.start_minutes)
            activities = []
            for item in spec.activities:
                code = unit.code(item.activity_code_id) if item.activity_code_id else unit.default_code(item.category)
                activities.append(
                    Activity(
                        start=start + timedelta(minutes=item.start_minutes),
                        length_minutes=item.length_minutes,
                        activity_code_id=code.id,
                        category=code.category,
                        description=item.description if item.description is not None else code.name,
                        paid=code.counts_as_paid_time,
                    )
                )
            shifts.append(Shift("", start, spec.length_minutes, tuple(activities)))
    markers: list[TimeOffMarker] = []
    for spec in pattern.time_off:
        code = unit.code(spec.activity_code_id) if spec.activity_code_id else unit.default_code(spec.category)
        for day in spec.days:
            markers.append(
                TimeOffMarker(
                    business_unit_date=today + timedelta(days=day),
                    length_minutes=spec.length_minutes,
                    activity_code_id=code.id,
                    description=spec.description if spec.description is not None else code.name,
                    paid=spec.paid,
                )
            )
    shifts.sort(key=lambda s: s.start)
    return AgentSchedule(tuple(shifts), tuple(markers), zone)


def with_activity(schedule: AgentSchedule, activity: Activity) -> AgentSchedule:
    """``schedule`` with ``activity`` laid into the shift that covers it whole (pure): the activities it overlaps are
    cut around it - the part before it and the part after it stay - so a shift's activities never overlap, and the
    shift itself is unchanged. ``ValueError`` when no shift covers the activity whole or the agent has full-day time
    off that day."""
    shift = schedule.shift_at(activity.start)
    if shift is None or activity.end > shift.end:
        raise ValueError(f"no shift covers {activity.start.isoformat()} to {activity.end.isoformat()}")
    if schedule.time_off_at(activity.start) is not None:
        raise ValueError(f"full-day time off on {activity.start.astimezone(schedule.zone).date().isoformat()}")
    kept: list[Activity] = []
    for existing in shift.activities:
        if existing.end <= activity.start or existing.start >= activity.end:
            kept.append(existing)
            continue
        if existing.start < activity.start:
            minutes = int((activity.start - existing.start).total_seconds() // 60)
            if minutes > 0:
                kept.append(replace(existing, length_minutes=minutes))
        if existing.end > activity.end:
            minutes = int((existing.end - activity.end).total_seconds() // 60)
            if minutes > 0:
                kept.append(replace(existing, start=activity.end, length_minutes=minutes))
    activities = tuple(sorted([*kept, activity], key=lambda a: a.start))
    shifts = tuple(Shift(s.id, s.start, s.length_minutes, activities) if s is shift else s for s in schedule.shifts)
    return AgentSchedule(shifts, schedule.time_off, schedule.zone)
