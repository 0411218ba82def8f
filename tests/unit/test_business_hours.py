"""Specification of business hours from an Architect schedule group: open schedules minus closed and holiday ones,
evaluated in the group's time zone with each schedule's rrule, across the DST changes of 2026; the protocol the
policy asks; which business hours apply (schedule group or window) and when the group is read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from presence_manager.business_hours import (
    ArchitectBusinessHours,
    BusinessHoursSource,
    RecurringSchedule,
    ScheduleGroupHours,
    business_hours_for,
    load_schedule_group,
)
from presence_manager.config import AppSettings
from presence_manager.errors import GenesysBadRequest, GenesysNotFound
from presence_manager.genesys.models import (
    DomainEntityRef,
    OrganizationPresenceDefinition,
    Schedule,
    ScheduleGroup,
)
from presence_manager.policy import PolicyInput, evaluate
from presence_manager.schedules import ScheduledState
from presence_manager.timeutil import BusinessHours, parse_instant

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
TOKYO = ZoneInfo("Asia/Tokyo")

WEEKDAYS = "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR"
DAILY = "FREQ=DAILY"
#: (name, start, end, rrule) of a schedule, start and end as Genesys sends them: local, no offset
Spec = tuple[str, str, str, str | None]
ALWAYS: Spec = ("Always", "2026-01-01T00:00:00.000", "2026-01-02T00:00:00.000", DAILY)
DAY_SHIFT: Spec = ("Day", "2026-01-01T08:00:00.000", "2026-01-01T20:00:00.000", DAILY)


def utc(text: str) -> datetime:
    return parse_instant(text)


def local(text: str, zone: ZoneInfo = NEW_YORK) -> datetime:
    """A wall-clock time of ``zone`` that exists and is not repeated."""
    return datetime.fromisoformat(text).replace(tzinfo=zone)


class Reader:
    """Genesys's Architect schedule groups in memory, counting reads."""

    def __init__(
        self, zone: str, open_: Sequence[Spec], closed: Sequence[Spec] = (), holiday: Sequence[Spec] = ()
    ) -> None:
        self.schedules: dict[str, Schedule] = {}
        refs: dict[str, list[DomainEntityRef]] = {}
        for kind, specs in (("open", open_), ("closed", closed), ("holiday", holiday)):
            refs[kind] = []
            for index, (name, start, end, rrule) in enumerate(specs):
                schedule_id = f"{kind}-{index}"
                self.schedules[schedule_id] = Schedule.model_validate(
                    {"id": schedule_id, "name": name, "start": start, "end": end, "rrule": rrule, "state": "active"}
                )
                refs[kind].append(DomainEntityRef(id=schedule_id, name=name))
        self.group = ScheduleGroup(
            id="group-1",
            name="Support hours",
            state="active",
            time_zone=zone,
            open_schedules=refs["open"],
            closed_schedules=refs["closed"],
            holiday_schedules=refs["holiday"],
        )
        self.reads: list[str] = []

    def get_schedule_group(self, schedule_group_id: str) -> ScheduleGroup:
        self.reads.append(schedule_group_id)
        if schedule_group_id != self.group.id:
            raise GenesysNotFound("not found in Genesys Cloud", status=404)
        return self.group

    def get_schedule(self, schedule_id: str) -> Schedule:
        self.reads.append(schedule_id)
        return self.schedules[schedule_id]


def group(
    zone: str, open_: Sequence[Spec], closed: Sequence[Spec] = (), holiday: Sequence[Spec] = ()
) -> ScheduleGroupHours:
    reader = Reader(zone, open_, closed, holiday)
    return load_schedule_group(reader, "group-1")


# ---- recurrence in the group's time zone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        ("2026-03-10T10:00:00", True),  # Tuesday
        ("2026-03-10T08:00:00", True),  # the first instant of the occurrence
        ("2026-03-10T07:59:59", False),
        ("2026-03-10T20:00:00", False),  # half-open: the end is outside
        ("2026-03-10T19:59:59", True),
        ("2026-03-14T10:00:00", False),  # Saturday
        ("2026-03-15T10:00:00", False),  # Sunday
        ("2026-03-16T10:00:00", True),  # Monday
    ],
)
def test_given_a_weekly_rrule_on_weekdays_then_open_08_to_20_on_weekdays_only(when: str, is_open: bool) -> None:
    hours = group("America/New_York", [("Weekdays", "2026-01-05T08:00:00.000", "2026-01-05T20:00:00.000", WEEKDAYS)])
    assert hours.is_open(local(when)) is is_open


def test_given_a_schedule_without_rrule_then_its_start_to_end_is_the_only_occurrence() -> None:
    hours = group("America/New_York", [("Launch day", "2026-06-01T09:00:00.000", "2026-06-01T17:00:00.000", None)])
    assert hours.is_open(local("2026-06-01T12:00:00"))
    assert not hours.is_open(local("2026-06-02T12:00:00"))
    assert not hours.is_open(local("2026-05-31T12:00:00"))


def test_given_the_groups_zone_then_the_agents_zone_does_not_matter() -> None:
    hours = group("Europe/London", [DAY_SHIFT])
    # 09:00 in London is 18:00 in Tokyo: open, whatever the agent's own zone says
    instant = local("2026-02-10T09:00:00", LONDON)
    assert hours.is_open(instant, TOKYO) and hours.is_open(instant, NEW_YORK)
    assert not hours.is_open(local("2026-02-10T07:30:00", LONDON), LONDON)


def test_given_an_until_in_utc_then_the_rule_stops_at_that_instant_on_the_groups_clock() -> None:
    hours = group(
        "America/New_York",
        [("Until", "2026-03-01T08:00:00.000", "2026-03-01T20:00:00.000", f"{DAILY};UNTIL=20260310T120000Z")],
    )
    assert hours.is_open(local("2026-03-09T10:00:00"))
    assert hours.is_open(local("2026-03-10T10:00:00")), "10 March 08:00 EDT is 12:00 UTC: the last occurrence"
    assert not hours.is_open(local("2026-03-11T10:00:00"))


# ---- holidays and closed schedules -----------------------------------------------------------------------------

THANKSGIVING: Spec = ("Thanksgiving", "2026-11-26T00:00:00.000", "2026-11-27T00:00:00.000", None)


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2026-11-26T04:59:59Z", True),  # Wed 25 November 23:59:59 EST
        ("2026-11-26T05:00:00Z", False),  # Thu 26 November 00:00 EST: the holiday starts
        ("2026-11-26T15:00:00Z", False),
        ("2026-11-27T04:59:59Z", False),  # Thu 23:59:59 EST, already Friday in UTC
        ("2026-11-27T05:00:00Z", True),  # Fri 27 November 00:00 EST
    ],
)
def test_given_a_holiday_then_it_closes_the_whole_local_date_in_the_groups_zone(instant: str, is_open: bool) -> None:
    hours = group("America/New_York", [ALWAYS], holiday=[THANKSGIVING])
    assert hours.is_open(utc(instant)) is is_open


def test_given_a_holiday_then_the_reason_names_it_with_its_local_date_and_the_groups_clock() -> None:
    hours = group("America/New_York", [DAY_SHIFT], holiday=[THANKSGIVING])
    reason = hours.closed_reason(local("2026-11-26T10:00:00"), TOKYO)
    assert reason == (
        "It is Thu 2026-11-26 10:00 in America/New_York; business hours follow schedule group 'Support hours' "
        "(America/New_York), which is closed: holiday schedule 'Thanksgiving' (2026-11-26 00:00 to 2026-11-27 00:00) "
        "covers it"
    )


def test_given_a_yearly_holiday_then_it_closes_that_date_every_year() -> None:
    new_year = ("New Year", "2025-01-01T00:00:00.000", "2025-01-02T00:00:00.000", "FREQ=YEARLY")
    hours = group("Europe/London", [ALWAYS], holiday=[new_year])
    assert not hours.is_open(local("2027-01-01T12:00:00", LONDON))
    assert hours.is_open(local("2027-01-02T12:00:00", LONDON))


def test_given_a_closed_schedule_inside_open_hours_then_closed_during_it_only() -> None:
    training = ("Weekly training", "2026-01-07T12:00:00.000", "2026-01-07T13:00:00.000", "FREQ=WEEKLY;BYDAY=WE")
    hours = group("America/New_York", [DAY_SHIFT], closed=[training])
    assert hours.is_open(local("2026-03-11T11:59:00"))
    assert not hours.is_open(local("2026-03-11T12:00:00"))  # Wednesday
    assert not hours.is_open(local("2026-03-11T12:59:59"))
    assert hours.is_open(local("2026-03-11T13:00:00"))
    assert hours.is_open(local("2026-03-12T12:30:00")), "Thursday: no training"
    reason = hours.closed_reason(local("2026-03-11T12:30:00"), NEW_YORK)
    assert "closed schedule 'Weekly training' (2026-03-11 12:00 to 2026-03-11 13:00) covers it" in reason


def test_given_no_open_schedule_covering_now_then_the_reason_names_the_open_schedules() -> None:
    hours = group("America/New_York", [DAY_SHIFT])
    reason = hours.closed_reason(local("2026-03-10T21:14:00"), NEW_YORK)
    assert reason.startswith("It is Tue 2026-03-10 21:14 in America/New_York;")
    assert reason.endswith("which is closed: none of its open schedules ('Day') covers it")


def test_given_a_holiday_and_a_closed_schedule_then_the_holiday_is_named_first_as_architect_evaluates() -> None:
    closed_all_day = ("Stocktake", "2026-11-26T00:00:00.000", "2026-11-27T00:00:00.000", None)
    hours = group("America/New_York", [ALWAYS], closed=[closed_all_day], holiday=[THANKSGIVING])
    status = hours.status(local("2026-11-26T10:00:00"))
    assert status.open is False
    assert status.holiday is not None and status.holiday.schedule.name == "Thanksgiving"
    assert status.closed is None


# ---- occurrences crossing midnight -----------------------------------------------------------------------------

NIGHT: Spec = ("Night", "2026-01-01T22:00:00.000", "2026-01-02T06:00:00.000", DAILY)


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        ("2026-02-10T21:59:59", False),
        ("2026-02-10T22:00:00", True),
        ("2026-02-10T23:59:59", True),
        ("2026-02-11T00:00:00", True),
        ("2026-02-11T05:59:59", True),
        ("2026-02-11T06:00:00", False),
        ("2026-02-11T12:00:00", False),
    ],
)
def test_given_an_occurrence_crossing_midnight_then_it_runs_into_the_next_morning(when: str, is_open: bool) -> None:
    hours = group("America/New_York", [NIGHT])
    assert hours.is_open(local(when)) is is_open


def test_given_a_friday_night_occurrence_then_saturday_morning_is_open_and_monday_morning_is_not() -> None:
    friday_night = ("Friday night", "2026-01-02T22:00:00.000", "2026-01-03T06:00:00.000", "FREQ=WEEKLY;BYDAY=FR")
    hours = group("Europe/London", [friday_night])
    assert hours.is_open(local("2026-02-14T02:00:00", LONDON))  # Saturday, from Friday's occurrence
    assert not hours.is_open(local("2026-02-16T02:00:00", LONDON))  # Monday: Sunday has no occurrence


def test_given_a_night_occurrence_across_the_march_dst_change_then_it_ends_at_0600_wall_clock_after_7_hours() -> None:
    hours = group("America/New_York", [NIGHT])
    assert hours.is_open(utc("2026-03-08T03:00:00Z"))  # 7 March 22:00 EST
    assert hours.is_open(utc("2026-03-08T09:59:59Z"))  # 8 March 05:59:59 EDT
    assert not hours.is_open(utc("2026-03-08T10:00:00Z"))  # 06:00 EDT: 7 hours after 22:00 EST


# ---- the DST changes of 2026 ----------------------------------------------------------------------------------


def test_new_york_spring_forward_2026_03_08_a_daily_0800_opening_moves_from_1300_to_1200_utc() -> None:
    hours = group("America/New_York", [DAY_SHIFT])
    assert not hours.is_open(utc("2026-03-07T12:30:00Z"))  # 07:30 EST
    assert hours.is_open(utc("2026-03-07T13:00:00Z"))  # 08:00 EST
    assert hours.is_open(utc("2026-03-08T12:00:00Z"))  # 08:00 EDT
    assert not hours.is_open(utc("2026-03-08T11:59:59Z"))  # 07:59:59 EDT
    assert hours.is_open(utc("2026-03-08T23:59:59Z")) and not hours.is_open(utc("2026-03-09T00:00:00Z"))  # 20:00 EDT


def test_new_york_spring_forward_2026_03_08_a_holiday_covers_the_23_hour_local_date() -> None:
    holiday = ("Closed Sunday", "2026-03-08T00:00:00.000", "2026-03-09T00:00:00.000", None)
    hours = group("America/New_York", [ALWAYS], holiday=[holiday])
    assert hours.is_open(utc("2026-03-08T04:59:59Z"))  # 7 March 23:59:59 EST
    assert not hours.is_open(utc("2026-03-08T05:00:00Z"))  # 8 March 00:00 EST
    assert not hours.is_open(utc("2026-03-09T03:59:59Z"))  # 8 March 23:59:59 EDT
    assert hours.is_open(utc("2026-03-09T04:00:00Z"))  # 9 March 00:00 EDT: 23 hours later


def test_new_york_spring_forward_2026_03_08_a_start_in_the_skipped_hour_is_moved_forward_by_the_gap() -> None:
    # 02:30 does not exist on 8 March 2026 in New York: read with the offset before the gap (EST), it is 07:30 UTC,
    # which is 03:30 EDT; the end 04:00 exists (EDT, 08:00 UTC).
    hours = group("America/New_York", [("Skipped", "2026-03-08T02:30:00.000", "2026-03-08T04:00:00.000", None)])
    assert not hours.is_open(utc("2026-03-08T07:15:00Z"))  # 03:15 EDT
    assert hours.is_open(utc("2026-03-08T07:30:00Z"))  # 03:30 EDT
    assert not hours.is_open(utc("2026-03-08T08:00:00Z"))  # 04:00 EDT


def test_new_york_fall_back_2026_11_01_a_daily_0800_opening_moves_from_1200_to_1300_utc() -> None:
    hours = group("America/New_York", [DAY_SHIFT])
    assert hours.is_open(utc("2026-10-31T12:00:00Z"))  # 08:00 EDT
    assert not hours.is_open(utc("2026-11-01T12:30:00Z"))  # 07:30 EST
    assert hours.is_open(utc("2026-11-01T13:00:00Z"))  # 08:00 EST
    assert hours.is_open(utc("2026-11-02T00:59:59Z")) and not hours.is_open(utc("2026-11-02T01:00:00Z"))  # 20:00 EST


def test_new_york_fall_back_2026_11_01_a_holiday_covers_the_25_hour_local_date() -> None:
    holiday = ("Closed Sunday", "2026-11-01T00:00:00.000", "2026-11-02T00:00:00.000", None)
    hours = group("America/New_York", [ALWAYS], holiday=[holiday])
    assert hours.is_open(utc("2026-11-01T03:59:59Z"))  # 31 October 23:59:59 EDT
    assert not hours.is_open(utc("2026-11-01T04:00:00Z"))  # 1 November 00:00 EDT
    assert not hours.is_open(utc("2026-11-01T06:15:00Z"))  # 01:15 EST, the repeated hour
    assert not hours.is_open(utc("2026-11-02T04:59:59Z"))  # 1 November 23:59:59 EST
    assert hours.is_open(utc("2026-11-02T05:00:00Z"))  # 2 November 00:00 EST: 25 hours later


def test_new_york_fall_back_2026_11_01_a_repeated_time_is_its_first_occurrence() -> None:
    # 01:30 happens twice on 1 November 2026: 05:30 UTC (EDT) first, 06:30 UTC (EST) again.
    until_0130 = ("Early", "2026-11-01T00:00:00.000", "2026-11-01T01:30:00.000", None)
    hours = group("America/New_York", [until_0130])
    assert hours.is_open(utc("2026-11-01T05:15:00Z"))  # 01:15 EDT
    assert not hours.is_open(utc("2026-11-01T05:30:00Z")), "ends at the first 01:30"
    assert not hours.is_open(utc("2026-11-01T06:15:00Z")), "01:15 EST, the repeat, is after the end"
    from_0130 = ("Late", "2026-11-01T01:30:00.000", "2026-11-01T03:00:00.000", None)
    hours = group("America/New_York", [from_0130])
    assert not hours.is_open(utc("2026-11-01T05:15:00Z"))
    assert hours.is_open(utc("2026-11-01T05:30:00Z")), "starts at the first 01:30"
    assert hours.is_open(utc("2026-11-01T06:15:00Z")), "01:15 EST comes after 01:30 EDT: inside"
    assert not hours.is_open(utc("2026-11-01T08:00:00Z"))  # 03:00 EST


def test_london_spring_forward_2026_03_29_a_daily_0800_opening_moves_from_0800_to_0700_utc() -> None:
    hours = group("Europe/London", [DAY_SHIFT])
    assert not hours.is_open(utc("2026-03-28T07:30:00Z"))  # 07:30 GMT
    assert hours.is_open(utc("2026-03-28T08:00:00Z"))  # 08:00 GMT
    assert hours.is_open(utc("2026-03-29T07:00:00Z"))  # 08:00 BST
    assert not hours.is_open(utc("2026-03-29T06:59:59Z"))
    assert hours.is_open(utc("2026-03-29T18:59:59Z")) and not hours.is_open(utc("2026-03-29T19:00:00Z"))  # 20:00 BST


def test_london_fall_back_2026_10_25_a_daily_0800_opening_moves_from_0700_to_0800_utc() -> None:
    hours = group("Europe/London", [DAY_SHIFT])
    assert hours.is_open(utc("2026-10-24T07:30:00Z"))  # 08:30 BST
    assert not hours.is_open(utc("2026-10-25T07:30:00Z"))  # 07:30 GMT
    assert hours.is_open(utc("2026-10-25T08:00:00Z"))  # 08:00 GMT


def test_london_fall_back_2026_10_25_a_holiday_on_that_date_closes_all_25_hours_and_only_them() -> None:
    holiday = ("Clocks back", "2026-10-25T00:00:00.000", "2026-10-26T00:00:00.000", None)
    hours = group("Europe/London", [ALWAYS], holiday=[holiday])
    assert hours.is_open(utc("2026-10-24T22:59:59Z"))  # 24 October 23:59:59 BST
    assert not hours.is_open(utc("2026-10-24T23:00:00Z"))  # 25 October 00:00 BST
    assert not hours.is_open(utc("2026-10-25T23:59:59Z"))  # 25 October 23:59:59 GMT
    assert hours.is_open(utc("2026-10-26T00:00:00Z"))


# ---- schedules and groups that cannot be evaluated ------------------------------------------------------------


def test_given_a_schedule_ending_before_it_starts_then_refused() -> None:
    with pytest.raises(GenesysBadRequest, match="ends"):
        group("America/New_York", [("Backwards", "2026-01-01T20:00:00.000", "2026-01-01T08:00:00.000", DAILY)])


def test_given_an_rrule_that_does_not_parse_then_refused_naming_it() -> None:
    with pytest.raises(GenesysBadRequest, match="FREQ=SOMETIMES"):
        group("America/New_York", [("Odd", "2026-01-01T08:00:00.000", "2026-01-01T20:00:00.000", "FREQ=SOMETIMES")])


@pytest.mark.parametrize("zone", ["", "Mars/Olympus_Mons"])
def test_given_a_group_without_a_usable_time_zone_then_refused(zone: str) -> None:
    with pytest.raises(GenesysBadRequest, match="time zone"):
        group(zone, [DAY_SHIFT])


def test_given_an_unknown_group_then_not_found_names_the_group() -> None:
    reader = Reader("America/New_York", [DAY_SHIFT])
    with pytest.raises(GenesysNotFound, match="schedule group missing-group"):
        load_schedule_group(reader, "missing-group")


def test_given_a_schedule_with_an_offset_then_it_is_read_on_the_groups_clock() -> None:
    schedule = Schedule(id="s", name="Offset", start=utc("2026-01-01T13:00:00Z"), end=utc("2026-01-02T01:00:00Z"))
    compiled = RecurringSchedule.from_genesys(schedule, "open", NEW_YORK)
    assert (compiled.start, compiled.end) == (datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 20))


# ---- the protocol the policy asks, and which business hours apply ------------------------------------------------


def test_the_window_the_schedule_group_and_its_lazy_reader_are_business_hours_sources() -> None:
    reader = Reader("America/New_York", [DAY_SHIFT])
    for source in (BusinessHours(), load_schedule_group(reader, "group-1"), ArchitectBusinessHours("group-1", reader)):
        assert isinstance(source, BusinessHoursSource)
    assert not isinstance("08:00-20:00", BusinessHoursSource)


def test_given_no_schedule_group_then_the_window_of_the_settings_applies() -> None:
    reader = Reader("America/New_York", [DAY_SHIFT])
    settings = AppSettings(
        BUSINESS_HOURS_START="09:00", BUSINESS_HOURS_END="17:00", BUSINESS_HOURS_SCHEDULE_GROUP_ID=""
    )
    hours = business_hours_for("mu-1", settings=settings, genesys=reader)
    assert hours == BusinessHours(start="09:00", end="17:00")
    assert reader.reads == []


def test_given_the_deployments_schedule_group_then_it_applies_and_is_read_only_when_asked() -> None:
    reader = Reader("America/New_York", [DAY_SHIFT])
    settings = AppSettings(BUSINESS_HOURS_SCHEDULE_GROUP_ID="group-1")
    hours = business_hours_for(None, settings=settings, genesys=reader)
    assert isinstance(hours, ArchitectBusinessHours)
    assert reader.reads == [], "nothing read before the first question"
    assert hours.is_open(local("2026-03-10T10:00:00"), TOKYO)
    assert not hours.is_open(local("2026-03-10T21:00:00"), TOKYO)
    assert reader.reads == ["group-1", "open-0"], "the group and its schedule, once"


def test_given_a_management_units_own_group_then_it_wins_over_the_deployments() -> None:
    reader = Reader("America/New_York", [DAY_SHIFT])
    settings = AppSettings(BUSINESS_HOURS_SCHEDULE_GROUP_ID="deployment-group")
    hours = business_hours_for("mu-1", settings=settings, genesys=reader, unit_schedule_group={"mu-1": "group-1"}.get)
    assert isinstance(hours, ArchitectBusinessHours) and hours.schedule_group_id == "group-1"
    other = business_hours_for("mu-2", settings=settings, genesys=reader, unit_schedule_group={"mu-1": "group-1"}.get)
    assert isinstance(other, ArchitectBusinessHours) and other.schedule_group_id == "deployment-group"


AVAILABLE = OrganizationPresenceDefinition(id="def-available", type="System", system_presence="Available")
OFFLINE = OrganizationPresenceDefinition(id="def-offline", type="System", system_presence="Offline")


def policy_input(hours: Any, requested: OrganizationPresenceDefinition, now: datetime) -> PolicyInput:
    return PolicyInput(
        requested=requested,
        current_system_presence="Away",
        scheduled=ScheduledState(on_shift=True, shift_id="s-1"),
        business_hours=hours,
        zone=TOKYO,
        now=now,
    )


def test_given_a_schedule_group_holiday_then_the_policy_rejects_available_naming_the_holiday_in_the_groups_zone() -> (
    None
):
    reader = Reader("America/New_York", [DAY_SHIFT], holiday=[THANKSGIVING])
    hours = ArchitectBusinessHours("group-1", reader)
    decision = evaluate(policy_input(hours, AVAILABLE, local("2026-11-26T10:00:00")), "enforce")
    assert [v.code for v in decision.violations] == ["outside_business_hours"]
    message = decision.violations[0].message
    assert message.startswith("It is Thu 2026-11-26 10:00 in America/New_York; business hours follow schedule group")
    assert "holiday schedule 'Thanksgiving'" in message
    assert message.endswith("Only Offline may be set outside business hours.")
    assert evaluate(policy_input(hours, AVAILABLE, local("2026-11-27T10:00:00")), "enforce").allowed


def test_given_offline_then_the_schedule_group_is_never_read() -> None:
    reader = Reader("America/New_York", [DAY_SHIFT], holiday=[THANKSGIVING])
    hours = ArchitectBusinessHours("group-1", reader)
    decision = evaluate(policy_input(hours, OFFLINE, local("2026-11-26T10:00:00")), "enforce")
    assert decision.allowed
    assert reader.reads == []


def test_given_a_non_source_then_the_policy_input_refuses_it() -> None:
    with pytest.raises(ValueError, match="business_hours"):
        policy_input("08:00-20:00", AVAILABLE, local("2026-03-10T10:00:00"))
