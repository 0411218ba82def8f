"""Specification of time zones, UTC timestamps, agent-local views and business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from presence_manager.errors import InvalidRequest
from presence_manager.timeutil import (
    BusinessHours,
    format_offset,
    local_view,
    parse_hhmm,
    parse_instant,
    resolve_time_zone,
    to_utc_iso,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def utc(text: str) -> datetime:
    return parse_instant(text)


# ---- resolve_time_zone -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["America/New_York", "Europe/London", "Asia/Kolkata", "UTC"])
def test_given_an_iana_name_when_resolved_then_the_zone_has_that_key(name: str) -> None:
    assert resolve_time_zone(name).key == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        " America/New_York",
        "Mars/Olympus_Mons",
        "America",
        "../etc/passwd",
        "/etc/localtime",
        "localtime",
        "posixrules",
        "zone.tab",
        "America/New_York\x00",
        "EST-5",
    ],
)
def test_given_a_name_that_is_not_an_iana_zone_when_resolved_then_invalid_request_invalid_time_zone(
    name: str,
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        resolve_time_zone(name)
    assert raised.value.code == "invalid_time_zone"
    assert raised.value.details["timeZone"] == name


def test_given_no_name_at_all_when_resolved_then_invalid_time_zone_not_utc() -> None:
    with pytest.raises(InvalidRequest) as raised:
        resolve_time_zone(None)  # type: ignore[arg-type]
    assert raised.value.code == "invalid_time_zone"


# ---- to_utc_iso / parse_instant ---------------------------------------------------------------------------------


def test_given_an_aware_local_datetime_when_formatted_then_utc_with_milliseconds_and_z() -> None:
    local = datetime(2026, 3, 8, 3, 0, tzinfo=NEW_YORK)
    assert to_utc_iso(local) == "2026-03-08T07:00:00.000Z"


def test_given_microseconds_when_formatted_then_truncated_to_milliseconds() -> None:
    assert to_utc_iso(datetime(2026, 1, 2, 3, 4, 5, 678999, tzinfo=UTC)) == "2026-01-02T03:04:05.678Z"


def test_given_a_naive_datetime_when_formatted_then_value_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        to_utc_iso(datetime(2026, 3, 8, 7, 0))


@pytest.mark.parametrize("text", ["2026-03-08T09:00:00+02:00", "2026-03-08T07:00:00Z", "2026-03-08T02:00:00-05:00"])
def test_given_one_instant_spelled_with_different_offsets_when_parsed_then_the_same_utc_instant(text: str) -> None:
    parsed = parse_instant(text)
    assert parsed == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["2026-03-08T07:00:00", "yesterday", ""])
def test_given_a_timestamp_without_offset_or_garbage_when_parsed_then_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_instant(text)


# ---- local_view across the 2026 DST changes ---------------------------------------------------------------------

DST_CASES = [
    # America/New_York spring forward, Sunday 2026-03-08 02:00 EST -> 03:00 EDT
    ("America/New_York", "2026-03-08T06:59:59Z", "2026-03-08T01:59:59.000-05:00", "-05:00", -300, False),
    ("America/New_York", "2026-03-08T07:00:00Z", "2026-03-08T03:00:00.000-04:00", "-04:00", -240, True),
    # America/New_York fall back, Sunday 2026-11-01 02:00 EDT -> 01:00 EST (01:xx happens twice)
    ("America/New_York", "2026-11-01T05:59:59Z", "2026-11-01T01:59:59.000-04:00", "-04:00", -240, True),
    ("America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T01:00:00.000-05:00", "-05:00", -300, False),
    # Europe/London spring forward, Sunday 2026-03-29 01:00 GMT -> 02:00 BST
    ("Europe/London", "2026-03-29T00:59:59Z", "2026-03-29T00:59:59.000+00:00", "+00:00", 0, False),
    ("Europe/London", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00.000+01:00", "+01:00", 60, True),
    # Europe/London fall back, Sunday 2026-10-25 02:00 BST -> 01:00 GMT
    ("Europe/London", "2026-10-25T00:59:59Z", "2026-10-25T01:59:59.000+01:00", "+01:00", 60, True),
    ("Europe/London", "2026-10-25T01:00:00Z", "2026-10-25T01:00:00.000+00:00", "+00:00", 0, False),
]


@pytest.mark.parametrize(("zone", "instant", "local", "offset", "offset_minutes", "dst"), DST_CASES)
def test_given_an_instant_either_side_of_a_2026_dst_change_when_viewed_locally_then_offset_and_dst_follow_the_clock(
    zone: str, instant: str, local: str, offset: str, offset_minutes: int, dst: bool
) -> None:
    view = local_view(utc(instant), resolve_time_zone(zone))
    assert view.utc == instant.replace("Z", ".000Z")
    assert view.local == local
    assert view.time_zone == zone
    assert view.utc_offset == offset
    assert view.utc_offset_minutes == offset_minutes
    assert view.is_dst is dst


def test_given_the_repeated_hour_of_fall_back_when_viewed_then_both_instants_read_0130_with_different_offsets() -> None:
    first = local_view(utc("2026-11-01T05:30:00Z"), NEW_YORK)
    second = local_view(utc("2026-11-01T06:30:00Z"), NEW_YORK)
    assert first.local == "2026-11-01T01:30:00.000-04:00"
    assert second.local == "2026-11-01T01:30:00.000-05:00"


@pytest.mark.parametrize(
    ("zone", "instant", "dst"),
    [
        ("Europe/Dublin", "2026-01-15T12:00:00Z", False),  # tzdata's "negative DST" winter: still not summer time
        ("Europe/Dublin", "2026-07-15T12:00:00Z", True),
        ("Australia/Sydney", "2026-01-15T12:00:00Z", True),  # southern hemisphere summer
        ("Australia/Sydney", "2026-07-15T12:00:00Z", False),
        ("Asia/Kolkata", "2026-07-15T12:00:00Z", False),
        ("UTC", "2026-07-15T12:00:00Z", False),
    ],
)
def test_given_zones_with_unusual_dst_when_viewed_then_is_dst_means_clocks_are_advanced(
    zone: str, instant: str, dst: bool
) -> None:
    assert local_view(utc(instant), ZoneInfo(zone)).is_dst is dst


def test_given_a_half_hour_zone_when_viewed_then_offset_keeps_the_minutes() -> None:
    view = local_view(utc("2026-07-15T12:00:00Z"), ZoneInfo("Asia/Kolkata"))
    assert (view.utc_offset, view.utc_offset_minutes, view.local) == ("+05:30", 330, "2026-07-15T17:30:00.000+05:30")


def test_given_a_local_view_when_serialised_then_json_names_are_camel_case() -> None:
    assert set(local_view(utc("2026-07-15T12:00:00Z"), LONDON).to_json()) == {
        "utc",
        "local",
        "timeZone",
        "utcOffset",
        "utcOffsetMinutes",
        "isDst",
    }


def test_given_a_naive_instant_when_viewed_locally_then_value_error() -> None:
    with pytest.raises(ValueError):
        local_view(datetime(2026, 7, 15, 12), LONDON)


@pytest.mark.parametrize(
    ("offset", "text"),
    [(timedelta(hours=-4), "-04:00"), (timedelta(0), "+00:00"), (timedelta(hours=-3, minutes=-30), "-03:30")],
)
def test_given_an_offset_when_formatted_then_sign_hours_minutes(offset: timedelta, text: str) -> None:
    assert format_offset(offset) == text


# ---- parse_hhmm -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "minutes"), [("00:00", 0), ("08:00", 480), ("19:59", 1199), ("24:00", 1440)])
def test_given_hh_mm_when_parsed_then_minutes_after_midnight(text: str, minutes: int) -> None:
    assert parse_hhmm(text) == minutes


@pytest.mark.parametrize("text", ["8:00", "24:01", "25:00", "12:60", "12", "12:00:00", "", "noon", " 08:00"])
def test_given_something_that_is_not_hh_mm_when_parsed_then_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hhmm(text)


# ---- BusinessHours ----------------------------------------------------------------------------------------------

DAY_HOURS = BusinessHours(start="08:00", end="20:00")


@pytest.mark.parametrize(
    ("local_time", "inside"),
    [
        ("07:59:59", False),
        ("08:00:00", True),
        ("12:00:00", True),
        ("19:59:59.999", True),
        ("20:00:00", False),
        ("23:30:00", False),
    ],
)
def test_given_0800_to_2000_when_checked_at_local_times_then_the_window_is_half_open(
    local_time: str, inside: bool
) -> None:
    instant = datetime.fromisoformat(f"2026-06-10T{local_time}").replace(tzinfo=NEW_YORK)
    assert DAY_HOURS.contains(instant, NEW_YORK) is inside


def test_given_a_utc_instant_when_checked_then_it_is_judged_on_the_agents_wall_clock() -> None:
    # 2026-06-10T12:30Z is 08:30 in New York (inside) and 20:30 in Singapore (outside)
    instant = utc("2026-06-10T12:30:00Z")
    assert DAY_HOURS.contains(instant, NEW_YORK) is True
    assert DAY_HOURS.contains(instant, ZoneInfo("Asia/Singapore")) is False


@pytest.mark.parametrize(
    ("instant", "zone", "inside"),
    [
        # New York, spring-forward day: 08:00 EDT is 12:00Z (a fixed -05:00 would wrongly call it 07:00)
        ("2026-03-08T12:00:00Z", NEW_YORK, True),
        ("2026-03-08T11:59:59Z", NEW_YORK, False),
        # New York, fall-back day: 08:00 EST is 13:00Z
        ("2026-11-01T12:59:59Z", NEW_YORK, False),
        ("2026-11-01T13:00:00Z", NEW_YORK, True),
        # London, spring-forward day: 20:00 BST is 19:00Z
        ("2026-03-29T18:59:59Z", LONDON, True),
        ("2026-03-29T19:00:00Z", LONDON, False),
        # London, fall-back day: 08:00 GMT is 08:00Z
        ("2026-10-25T07:59:59Z", LONDON, False),
        ("2026-10-25T08:00:00Z", LONDON, True),
    ],
)
def test_given_a_dst_change_day_when_checked_then_boundaries_follow_the_local_clock(
    instant: str, zone: ZoneInfo, inside: bool
) -> None:
    assert DAY_HOURS.contains(utc(instant), zone) is inside


NIGHT_HOURS = BusinessHours(start="22:00", end="06:00")


@pytest.mark.parametrize(
    ("local", "inside"),
    [
        ("2026-06-10T21:59:59", False),
        ("2026-06-10T22:00:00", True),
        ("2026-06-10T23:59:59", True),
        ("2026-06-11T00:00:00", True),
        ("2026-06-11T05:59:59", True),
        ("2026-06-11T06:00:00", False),
        ("2026-06-11T12:00:00", False),
    ],
)
def test_given_a_window_ending_before_it_starts_when_checked_then_it_wraps_past_midnight(
    local: str, inside: bool
) -> None:
    assert NIGHT_HOURS.wraps_midnight
    assert NIGHT_HOURS.contains(datetime.fromisoformat(local).replace(tzinfo=LONDON), LONDON) is inside


def test_given_a_wrapping_window_on_weekdays_when_checked_then_the_night_belongs_to_the_day_it_starts() -> None:
    weeknights = BusinessHours(start="22:00", end="06:00", weekdays=frozenset({1, 2, 3, 4, 5}))
    friday_night = datetime(2026, 3, 13, 23, 0, tzinfo=LONDON)
    saturday_early = datetime(2026, 3, 14, 3, 0, tzinfo=LONDON)  # Friday's night
    saturday_night = datetime(2026, 3, 14, 23, 0, tzinfo=LONDON)
    monday_early = datetime(2026, 3, 16, 3, 0, tzinfo=LONDON)  # Sunday's night
    assert weeknights.contains(friday_night, LONDON) is True
    assert weeknights.contains(saturday_early, LONDON) is True
    assert weeknights.contains(saturday_night, LONDON) is False
    assert weeknights.contains(monday_early, LONDON) is False


def test_given_weekdays_monday_to_friday_when_checked_on_saturday_then_outside() -> None:
    office = BusinessHours(start="08:00", end="20:00", weekdays=frozenset({1, 2, 3, 4, 5}))
    assert office.contains(datetime(2026, 3, 13, 12, 0, tzinfo=NEW_YORK), NEW_YORK) is True  # Friday
    assert office.contains(datetime(2026, 3, 14, 12, 0, tzinfo=NEW_YORK), NEW_YORK) is False  # Saturday
    assert office.describe() == "08:00-20:00 on Mon, Tue, Wed, Thu, Fri"


def test_given_end_2400_when_checked_just_before_midnight_then_inside_and_midnight_outside() -> None:
    evening = BusinessHours(start="18:00", end="24:00")
    assert evening.contains(datetime(2026, 6, 10, 23, 59, 59, tzinfo=LONDON), LONDON) is True
    assert evening.contains(datetime(2026, 6, 11, 0, 0, tzinfo=LONDON), LONDON) is False


def test_given_0000_to_2400_when_checked_at_any_time_then_inside() -> None:
    always = BusinessHours(start="00:00", end="24:00")
    for hour in range(24):
        assert always.contains(datetime(2026, 6, 10, hour, 30, tzinfo=LONDON), LONDON)


def test_given_no_arguments_when_built_then_0800_to_2000_every_day() -> None:
    hours = BusinessHours()
    assert (hours.start, hours.end, hours.weekdays) == ("08:00", "20:00", frozenset(range(1, 8)))
    assert hours.describe() == "08:00-20:00"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": "09:00", "end": "09:00"},
        {"start": "24:00", "end": "06:00"},
        {"start": "8:00", "end": "20:00"},
        {"start": "08:00", "end": "20:00", "weekdays": frozenset()},
        {"start": "08:00", "end": "20:00", "weekdays": frozenset({0, 8})},
    ],
)
def test_given_an_unusable_window_when_built_then_validation_error(kwargs: dict) -> None:
    with pytest.raises(ValidationError):
        BusinessHours(**kwargs)


def test_given_a_naive_instant_when_checked_then_value_error() -> None:
    with pytest.raises(ValueError):
        DAY_HOURS.contains(datetime(2026, 6, 10, 12, 0), NEW_YORK)


def test_given_a_fixed_offset_instant_when_checked_then_it_is_converted_to_the_agent_zone() -> None:
    # 10:00 at +02:00 is 08:00Z = 04:00 EDT: outside in New York
    assert DAY_HOURS.contains(datetime(2026, 6, 10, 10, 0, tzinfo=timezone(timedelta(hours=2))), NEW_YORK) is False
