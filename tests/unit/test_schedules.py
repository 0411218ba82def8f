"""Specification of what an agent's WFM schedule says about one instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from presence_manager.genesys.models import BuAgentScheduleSearchResponse, BuAgentSchedulesSearchResponse
from presence_manager.schedules import find_agent_schedule, schedule_window, scheduled_state_at
from presence_manager.timeutil import local_view, parse_instant, to_utc_iso

AGENT = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
OTHER = "0b9e3c52-7a55-4c9e-8f2e-3b1f0e6d9a22"
NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    return parse_instant(text)


def shift(start: str, minutes: int, activities: list[dict[str, Any]] | None = None, shift_id: str = "s-1") -> dict:
    """A shift as Genesys sends it (camelCase, UTC instants)."""
    return {"id": shift_id, "startDate": start, "lengthMinutes": minutes, "activities": activities or []}


def activity(start: str, minutes: int, code: str, description: str = "") -> dict:
    return {"startDate": start, "lengthMinutes": minutes, "activityCodeId": code, "description": description}


def agent_schedule(*shifts: dict, time_off_dates: tuple[str, ...] = (), user_id: str = AGENT):
    return BuAgentScheduleSearchResponse.model_validate(
        {
            "user": {"id": user_id},
            "shifts": list(shifts),
            "fullDayTimeOffMarkers": [
                {"businessUnitDate": day, "lengthMinutes": 480, "activityCodeId": "code-vacation"}
                for day in time_off_dates
            ],
        }
    )


# A day shift in New York, 08:00-16:00 EDT = 12:00Z-20:00Z, with on-queue work, lunch, on-queue work.
DAY_SHIFT = shift(
    "2026-06-10T12:00:00Z",
    480,
    [
        activity("2026-06-10T12:00:00Z", 240, "code-onqueue", "Phones"),
        activity("2026-06-10T16:00:00Z", 30, "code-meal", "Lunch"),
        activity("2026-06-10T16:30:00Z", 210, "code-onqueue", "Phones"),
    ],
)


def test_given_a_shift_when_the_instant_is_its_start_then_on_shift_and_the_first_activity_covers_it() -> None:
    state = scheduled_state_at(agent_schedule(DAY_SHIFT), at("2026-06-10T12:00:00Z"))
    assert state.on_shift is True
    assert state.shift_id == "s-1"
    assert state.shift_start == at("2026-06-10T12:00:00Z")
    assert state.shift_end == at("2026-06-10T20:00:00Z")
    assert state.activity is not None
    assert state.activity.activity_code_id == "code-onqueue"
    assert (state.activity.start, state.activity.end) == (at("2026-06-10T12:00:00Z"), at("2026-06-10T16:00:00Z"))
    assert state.full_day_time_off is False


@pytest.mark.parametrize("instant", ["2026-06-10T11:59:59Z", "2026-06-10T20:00:00Z", "2026-06-11T12:00:00Z"])
def test_given_a_shift_when_the_instant_is_before_it_or_at_its_end_then_off_shift(instant: str) -> None:
    state = scheduled_state_at(agent_schedule(DAY_SHIFT), at(instant))
    assert state.on_shift is False
    assert state.shift_id is None
    assert state.activity is None


def test_given_activities_when_the_instant_is_the_boundary_between_two_then_the_later_one_covers_it() -> None:
    state = scheduled_state_at(agent_schedule(DAY_SHIFT), at("2026-06-10T16:00:00Z"))
    assert state.activity is not None
    assert (state.activity.activity_code_id, state.activity.description) == ("code-meal", "Lunch")
    state = scheduled_state_at(agent_schedule(DAY_SHIFT), at("2026-06-10T16:30:00Z"))
    assert state.activity is not None
    assert state.activity.activity_code_id == "code-onqueue"


def test_given_a_shift_with_a_gap_between_activities_when_in_the_gap_then_on_shift_without_activity() -> None:
    gappy = shift("2026-06-10T12:00:00Z", 480, [activity("2026-06-10T12:00:00Z", 60, "code-onqueue")])
    state = scheduled_state_at(agent_schedule(gappy), at("2026-06-10T14:00:00Z"))
    assert state.on_shift is True
    assert state.activity is None


def test_given_overlapping_activities_when_both_cover_then_the_later_starting_one_wins() -> None:
    overlaid = shift(
        "2026-06-10T12:00:00Z",
        480,
        [activity("2026-06-10T12:00:00Z", 480, "code-onqueue"), activity("2026-06-10T14:00:00Z", 60, "code-meeting")],
    )
    state = scheduled_state_at(agent_schedule(overlaid), at("2026-06-10T14:30:00Z"))
    assert state.activity is not None
    assert state.activity.activity_code_id == "code-meeting"


def test_given_a_night_shift_crossing_local_midnight_when_after_midnight_then_still_on_shift() -> None:
    # 22:00 EDT on 10 June (02:00Z on the 11th) for 8 hours, until 06:00 EDT on the 11th
    night = shift("2026-06-11T02:00:00Z", 480)
    after_midnight = datetime(2026, 6, 11, 3, 0, tzinfo=NEW_YORK)
    state = scheduled_state_at(agent_schedule(night), after_midnight)
    assert state.on_shift is True
    assert state.shift_end is not None
    assert local_view(state.shift_end, NEW_YORK).local == "2026-06-11T06:00:00.000-04:00"
    assert scheduled_state_at(agent_schedule(night), datetime(2026, 6, 11, 6, 0, tzinfo=NEW_YORK)).on_shift is False


SHIFTS_ACROSS_DST = [
    # New York spring forward 2026-03-08: 23:00 EST + 10 h elapsed = 10:00 EDT (the wall clock shows 11 h)
    ("America/New_York", "2026-03-07T23:00:00-05:00", "2026-03-08T10:00:00.000-04:00", "2026-03-08T09:30:00"),
    # New York fall back 2026-11-01: 23:00 EDT + 10 h elapsed = 08:00 EST (the wall clock shows 9 h)
    ("America/New_York", "2026-10-31T23:00:00-04:00", "2026-11-01T08:00:00.000-05:00", "2026-11-01T07:30:00"),
    # London spring forward 2026-03-29: 22:00 GMT + 10 h = 09:00 BST
    ("Europe/London", "2026-03-28T22:00:00+00:00", "2026-03-29T09:00:00.000+01:00", "2026-03-29T08:30:00"),
    # London fall back 2026-10-25: 22:00 BST + 10 h = 07:00 GMT
    ("Europe/London", "2026-10-24T22:00:00+01:00", "2026-10-25T07:00:00.000+00:00", "2026-10-25T06:30:00"),
]


@pytest.mark.parametrize(("zone_name", "local_start", "local_end", "last_half_hour"), SHIFTS_ACROSS_DST)
def test_given_a_10_hour_shift_across_a_dst_change_when_evaluated_then_it_lasts_600_real_minutes(
    zone_name: str, local_start: str, local_end: str, last_half_hour: str
) -> None:
    zone = ZoneInfo(zone_name)
    start = datetime.fromisoformat(local_start)
    schedule = agent_schedule(shift(to_utc_iso(start), 600))

    state = scheduled_state_at(schedule, start + timedelta(minutes=1))
    assert state.on_shift is True
    assert state.shift_end is not None
    assert state.shift_end - state.shift_start == timedelta(minutes=600)  # type: ignore[operator]
    assert local_view(state.shift_end, zone).local == local_end

    # half an hour before the end on the local clock: still on shift; at the end: off
    in_last_half_hour = datetime.fromisoformat(last_half_hour).replace(tzinfo=zone)
    assert scheduled_state_at(schedule, in_last_half_hour).on_shift is True
    assert scheduled_state_at(schedule, state.shift_end).on_shift is False
    assert scheduled_state_at(schedule, state.shift_end - timedelta(seconds=1)).on_shift is True


def test_given_a_full_day_time_off_marker_when_the_business_unit_date_matches_then_full_day_time_off() -> None:
    schedule = agent_schedule(time_off_dates=("2026-03-09",))
    # 23:30 EDT on 9 March is already 10 March in UTC: the marker is a business-unit date, so the zone decides
    late_evening = datetime(2026, 3, 9, 23, 30, tzinfo=NEW_YORK)
    state = scheduled_state_at(schedule, late_evening, NEW_YORK)
    assert state.full_day_time_off is True
    assert state.on_shift is False
    assert state.time_off_activity_code_id == "code-vacation"
    assert scheduled_state_at(schedule, datetime(2026, 3, 10, 0, 30, tzinfo=NEW_YORK), NEW_YORK).full_day_time_off is (
        False
    )


def test_given_a_full_day_time_off_and_a_shift_that_day_when_evaluated_then_off_shift_but_the_shift_is_named() -> None:
    schedule = agent_schedule(shift("2026-03-09T13:00:00Z", 480), time_off_dates=("2026-03-09",))
    state = scheduled_state_at(schedule, at("2026-03-09T14:00:00Z"), NEW_YORK)
    assert state.on_shift is False
    assert state.full_day_time_off is True
    assert state.shift_id == "s-1"


def test_given_no_zone_when_a_time_off_marker_is_checked_then_the_utc_date_is_used() -> None:
    schedule = agent_schedule(time_off_dates=("2026-03-10",))
    assert scheduled_state_at(schedule, at("2026-03-10T03:30:00Z")).full_day_time_off is True


def test_given_a_scheduled_state_when_serialised_then_camel_case_and_utc_z() -> None:
    state = scheduled_state_at(agent_schedule(DAY_SHIFT), datetime(2026, 6, 10, 9, 0, tzinfo=NEW_YORK))
    assert state.to_json() == {
        "onShift": True,
        "shiftId": "s-1",
        "shiftStart": "2026-06-10T12:00:00.000Z",
        "shiftEnd": "2026-06-10T20:00:00.000Z",
        "activity": {
            "start": "2026-06-10T12:00:00.000Z",
            "end": "2026-06-10T16:00:00.000Z",
            "activityCodeId": "code-onqueue",
            "description": "Phones",
            "paid": None,
        },
        "fullDayTimeOff": False,
        "timeOffActivityCodeId": None,
    }


def test_given_a_naive_instant_when_evaluated_then_value_error() -> None:
    with pytest.raises(ValueError):
        scheduled_state_at(agent_schedule(DAY_SHIFT), datetime(2026, 6, 10, 13, 0))


# ---- find_agent_schedule -----------------------------------------------------------------------------------------


def search_response() -> BuAgentSchedulesSearchResponse:
    return BuAgentSchedulesSearchResponse.model_validate(
        {
            "agentSchedules": [
                {"user": {"id": OTHER}, "shifts": []},
                {"user": {"id": AGENT}, "shifts": [DAY_SHIFT]},
            ],
            "businessUnitTimeZone": "America/New_York",
        }
    )


def test_given_a_search_result_when_the_agent_is_in_it_then_their_schedule_is_found() -> None:
    found = find_agent_schedule(search_response(), AGENT)
    assert found is not None
    assert found.user.id == AGENT
    assert len(found.shifts) == 1


def test_given_a_search_result_when_the_agent_is_not_in_it_then_none() -> None:
    assert find_agent_schedule(search_response(), "ffffffff-0000-0000-0000-000000000000") is None
    assert find_agent_schedule(None, AGENT) is None


# ---- schedule_window --------------------------------------------------------------------------------------------


def test_given_an_instant_when_a_search_window_is_asked_then_24_hours_either_side_in_utc_on_whole_minutes() -> None:
    start, end = schedule_window(datetime(2026, 3, 8, 3, 0, 30, 250000, tzinfo=NEW_YORK))
    assert (start, end) == (datetime(2026, 3, 7, 7, 0, tzinfo=UTC), datetime(2026, 3, 9, 7, 1, tzinfo=UTC))
    assert start.utcoffset() == timedelta(0)


def test_given_custom_hours_when_a_search_window_is_asked_then_they_are_used() -> None:
    assert schedule_window(at("2026-03-08T07:00:00Z"), hours_before=12, hours_after=36) == (
        at("2026-03-07T19:00:00Z"),
        at("2026-03-09T19:00:00Z"),
    )


def test_given_a_naive_instant_or_negative_hours_when_a_window_is_asked_then_value_error() -> None:
    with pytest.raises(ValueError):
        schedule_window(datetime(2026, 3, 8, 7, 0))
    with pytest.raises(ValueError):
        schedule_window(at("2026-03-08T07:00:00Z"), hours_before=-1)
