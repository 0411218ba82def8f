"""What an agent's WFM schedule says about one instant. Pure: works on the schedule search models, no I/O.

Genesys WFM times are UTC instants and every span ends at ``startDate + lengthMinutes`` of *real elapsed* time,
half-open ``[start, end)``. So a shift that crosses local midnight or a DST change needs no special case: a 10-hour
shift starting 2026-03-07 23:00 in America/New_York (EST) ends 2026-03-08 10:00 EDT on the local clock, because the
clocks sprang forward during it. Local time only matters for full-day time off, whose marker is a business-unit
*date*.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, field_serializer
from pydantic.alias_generators import to_camel

from presence_manager.genesys.models import (
    BuAgentScheduleActivity,
    BuAgentScheduleSearchResponse,
    BuAgentScheduleShift,
    BuAgentSchedulesSearchResponse,
    BuFullDayTimeOffMarker,
)
from presence_manager.timeutil import require_aware, to_utc_iso

__all__ = [
    "ScheduledActivity",
    "ScheduledState",
    "activity_covering",
    "activity_end",
    "find_agent_schedule",
    "full_day_time_off_at",
    "schedule_window",
    "scheduled_state_at",
    "shift_covering",
    "shift_end",
]


class _ScheduleModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class ScheduledActivity(_ScheduleModel):
    """The scheduled activity covering an instant: ``[start, end)`` in UTC."""

    start: AwareDatetime
    end: AwareDatetime
    activity_code_id: str | None = None
    description: str | None = None
    paid: bool | None = None

    @field_serializer("start", "end", when_used="json")
    def _utc(self, value: datetime) -> str:
        return to_utc_iso(value)


class ScheduledState(_ScheduleModel):
    """The agent's schedule at one instant.

    ``on_shift`` is True when a shift covers the instant and the day is not a full-day time off. The covering
    shift's id and span are kept even when a full-day time off cancels it, so messages can say why."""

    on_shift: bool
    shift_id: str | None = None
    shift_start: AwareDatetime | None = None
    shift_end: AwareDatetime | None = None
    activity: ScheduledActivity | None = None
    full_day_time_off: bool = False
    time_off_activity_code_id: str | None = None

    @field_serializer("shift_start", "shift_end", when_used="json")
    def _utc(self, value: datetime | None) -> str | None:
        return to_utc_iso(value) if value is not None else None


def shift_end(shift: BuAgentScheduleShift) -> datetime:
    """``startDate + lengthMinutes`` (elapsed time, so DST-safe)."""
    return shift.start_date + timedelta(minutes=shift.length_minutes)


def activity_end(activity: BuAgentScheduleActivity) -> datetime:
    return activity.start_date + timedelta(minutes=activity.length_minutes)


def _covers(start: datetime, length_minutes: int, instant: datetime) -> bool:
    return start <= instant < start + timedelta(minutes=length_minutes)


def shift_covering(agent_schedule: BuAgentScheduleSearchResponse, instant: datetime) -> BuAgentScheduleShift | None:
    """The shift whose ``[start, end)`` contains ``instant``; if (unexpectedly) several do, the latest-starting."""
    require_aware(instant, "instant")
    covering = [s for s in agent_schedule.shifts if _covers(s.start_date, s.length_minutes, instant)]
    return max(covering, key=lambda s: s.start_date, default=None)


def activity_covering(shift: BuAgentScheduleShift, instant: datetime) -> BuAgentScheduleActivity | None:
    """The shift's activity whose ``[start, end)`` contains ``instant``; if several overlap, the latest-starting
    (the more specific one, e.g. a meeting laid over on-queue work)."""
    require_aware(instant, "instant")
    covering = [a for a in shift.activities if _covers(a.start_date, a.length_minutes, instant)]
    return max(covering, key=lambda a: a.start_date, default=None)


def full_day_time_off_at(
    agent_schedule: BuAgentScheduleSearchResponse, instant: datetime, zone: ZoneInfo | None
) -> BuFullDayTimeOffMarker | None:
    """The full-day time-off marker for the business-unit date of ``instant``.

    Markers carry a business-unit *date* (``businessUnitDate``, ``YYYY-MM-DD``), so the instant is turned into a
    date on the business unit's clock (``zone``, from ``businessUnitTimeZone``). Without a zone the UTC date is
    used, which is wrong near midnight for units far from UTC: pass the zone."""
    require_aware(instant, "instant")
    local_date = instant.astimezone(zone if zone is not None else UTC).date()
    for marker in agent_schedule.full_day_time_off_markers:
        if _marker_date(marker) == local_date:
            return marker
    return None


def _marker_date(marker: BuFullDayTimeOffMarker) -> date | None:
    if not marker.business_unit_date:
        return None
    try:
        return date.fromisoformat(marker.business_unit_date[:10])
    except ValueError:
        return None


def scheduled_state_at(
    agent_schedule: BuAgentScheduleSearchResponse, instant: datetime, zone: ZoneInfo | None = None
) -> ScheduledState:
    """The agent's scheduled state at ``instant``: the covering shift and activity, and whether the
    business-unit day is a full-day time off. ``zone`` is the business unit's time zone (used only for the
    full-day time-off markers, see :func:`full_day_time_off_at`)."""
    shift = shift_covering(agent_schedule, instant)
    marker = full_day_time_off_at(agent_schedule, instant, zone)
    activity = activity_covering(shift, instant) if shift is not None else None
    return ScheduledState(
        on_shift=shift is not None and marker is None,
        shift_id=shift.id if shift else None,
        shift_start=shift.start_date if shift else None,
        shift_end=shift_end(shift) if shift else None,
        activity=ScheduledActivity(
            start=activity.start_date,
            end=activity_end(activity),
            activity_code_id=activity.activity_code_id,
            description=activity.description,
            paid=activity.paid,
        )
        if activity is not None
        else None,
        full_day_time_off=marker is not None,
        time_off_activity_code_id=marker.activity_code_id if marker else None,
    )


def find_agent_schedule(
    response: BuAgentSchedulesSearchResponse | None, user_id: str
) -> BuAgentScheduleSearchResponse | None:
    """The schedule of ``user_id`` in a schedule search result, or None when the agent is not in it."""
    if response is None:
        return None
    return next((s for s in response.agent_schedules if s.user.id == user_id), None)


def schedule_window(instant: datetime, hours_before: int = 24, hours_after: int = 24) -> tuple[datetime, datetime]:
    """``(startDate, endDate)`` in UTC for a schedule search around ``instant``, on whole minutes.

    24 hours back reaches any shift that started yesterday and is still running; 24 hours ahead covers the
    business-unit date of the instant wherever the unit is, so full-day time-off markers are returned."""
    if hours_before < 0 or hours_after < 0:
        raise ValueError("hours_before and hours_after must not be negative")
    utc = require_aware(instant, "instant").astimezone(UTC)
    floor = utc.replace(second=0, microsecond=0)
    ceiling = floor if floor == utc else floor + timedelta(minutes=1)
    return floor - timedelta(hours=hours_before), ceiling + timedelta(hours=hours_after)
