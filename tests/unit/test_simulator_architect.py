"""The simulator's Architect schedule groups: built around now so that a local run at any hour, DST days included,
is within business hours for the next 8 hours, with a closed and a holiday schedule that do not cover it; and the
local stack names the default business unit's group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from presence_manager.business_hours import ScheduleGroupHours, load_schedule_group
from presence_manager.genesys.models import Schedule, ScheduleGroup
from presence_manager.timeutil import BusinessHours
from presence_manager_local.emulation import local_business_hours
from presence_manager_local.simulator.architect import schedule_group_id
from presence_manager_local.simulator.state import SimulatorState


class StateReader:
    """Reads the simulator's answers as our client would (its models over the SDK JSON)."""

    def __init__(self, state: SimulatorState) -> None:
        self.state = state

    def get_schedule_group(self, schedule_group_id: str) -> ScheduleGroup:
        return ScheduleGroup.model_validate(self.state.get_schedule_group(schedule_group_id))

    def get_schedule(self, schedule_id: str) -> Schedule:
        return Schedule.model_validate(self.state.get_architect_schedule(schedule_id))


def group_at(now: datetime, agents: int | None = None) -> tuple[SimulatorState, list[ScheduleGroupHours]]:
    state = SimulatorState(now=lambda: now, agents=agents)
    reader = StateReader(state)
    return state, [load_schedule_group(reader, g["id"]) for g in state.schedule_group_views()]


HOURS_OF_DST_DAYS = [datetime(2026, 3, 8, tzinfo=UTC) + timedelta(hours=h, minutes=37) for h in range(24)] + [
    datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=h, minutes=37) for h in range(24)
]


@pytest.mark.parametrize("now", HOURS_OF_DST_DAYS, ids=lambda n: n.strftime("%Y-%m-%dT%H:%MZ"))
def test_given_a_reset_at_any_hour_of_the_2026_dst_days_then_each_group_is_open_for_the_next_8_hours(
    now: datetime,
) -> None:
    _, groups = group_at(now, agents=30)
    assert {g.zone_name for g in groups} == {"America/New_York", "Europe/London", "Asia/Tokyo"}
    for hours in groups:
        for later in range(0, 8 * 60 + 1, 20):
            status = hours.status(now + timedelta(minutes=later))
            assert status.open and status.closed is None and status.holiday is None, (later, hours.explain())


def test_given_a_reset_then_the_huddle_closes_earlier_open_hours_and_the_holiday_is_ten_days_ahead() -> None:
    now = datetime(2026, 7, 14, 15, 5, tzinfo=UTC)  # 11:05 EDT
    _, (hours,) = group_at(now)
    assert hours.id == schedule_group_id("America/New_York")
    assert hours.is_open(now - timedelta(hours=4, minutes=5))  # 07:00 EDT: the first instant
    assert not hours.is_open(now - timedelta(hours=4, minutes=6))
    assert hours.status(now - timedelta(hours=3, minutes=5)).closed is not None  # 08:00 EDT: the huddle
    assert hours.is_open(now - timedelta(hours=2, minutes=35))  # 08:30 EDT: over
    assert hours.status(datetime(2026, 7, 24, 16, tzinfo=UTC)).holiday is not None  # 24 July, 12:00 EDT
    assert not hours.is_open(now + timedelta(hours=9))  # 20:05 EDT: open 07:00-20:00


def test_given_a_group_changed_through_the_admin_api_then_a_reset_builds_it_again() -> None:
    now = datetime(2026, 7, 14, 15, 5, tzinfo=UTC)
    state, _ = group_at(now)
    group = schedule_group_id("America/New_York")
    state.set_schedule_group(
        group, {"holidaySchedules": [{"name": "Today", "start": "2026-07-14T00:00", "end": "2026-07-15T00:00"}]}
    )
    assert not load_schedule_group(StateReader(state), group).is_open(now)
    state.reset()
    assert load_schedule_group(StateReader(state), group).is_open(now)


def test_the_local_stack_names_the_default_business_units_group_and_keeps_the_window_for_a_real_org() -> None:
    handle = SimpleNamespace(state=SimulatorState())
    assert local_business_hours(handle) == {"BusinessHoursScheduleGroupId": schedule_group_id("America/New_York")}
    window = local_business_hours(None)
    assert set(window) == {"BusinessHoursStart", "BusinessHoursEnd"}, "no simulator: the window around now"
    hours = BusinessHours(start=window["BusinessHoursStart"], end=window["BusinessHoursEnd"])
    assert hours.contains(datetime.now(UTC) + timedelta(minutes=30), ZoneInfo("America/New_York"))
