"""One agent's day (presence_manager/timeline.py): day bounds in the business unit's zone across a DST change, the
schedule through Validate's cached search for today and a search of the day otherwise, ours and outside changes from
the audit table (all pages, only the day's) merged in time order, and the presence at the start of the day."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from presence_manager import timeline
from presence_manager.audit import AuditRecord, AuditStore
from presence_manager.errors import InvalidRequest
from presence_manager.genesys.models import (
    BuAgentScheduleActivity,
    BuAgentScheduleSearchResponse,
    BuAgentScheduleShift,
    BuAgentSchedulesSearchResponse,
    BuFullDayTimeOffMarker,
    BusinessUnitActivityCode,
    EntityRef,
)
from presence_manager.schedules import schedule_window
from presence_manager.timeline import (
    TimelineQuery,
    TimelineRequest,
    agent_timeline,
    changes_of_day,
    day_bounds,
    presence_at_start,
    presence_spans,
)
from presence_manager.workflow.validate import ScheduleSearches
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.fakes import FakeGenesys

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
NEW_YORK = ZoneInfo("America/New_York")
FALL_BACK = date(2026, 11, 1)  # America/New_York: 02:00 EDT -> 01:00 EST, a 25-hour day
DAY_START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
DAY_END = datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
LATER_DAY_NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
CODES = [
    BusinessUnitActivityCode(id="code-work", name="On Queue Work", category="OnQueueWork"),
    BusinessUnitActivityCode(id="code-break", name="Break", category="Break"),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def presence(system: str, modified: str) -> dict[str, Any]:
    etag = f"{system}@{modified}"  # what presence_etag hashes: the definition, the message and modifiedDate
    return {"definitionId": f"def-{system.lower()}", "systemPresence": system, "modifiedDate": modified, "etag": etag}


def record(
    change_id: str,
    started: str,
    *,
    source: str = "workflow",
    outcome: str = "applied",
    new: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
    requested: str | None = None,
    requested_by: str = "arn:aws:iam::123456789012:user/alice",
) -> AuditRecord:
    data: dict[str, Any] = {
        "userId": USER,
        "sk": f"{started}#{change_id}",
        "changeId": change_id,
        "outcome": outcome,
        "source": source,
        "requestedBy": requested_by,
        "latencyMs": 10,
        "startedAt": started,
        "recordedAt": started,
        "expiresAt": 1,
    }
    if new is not None:
        data["newPresence"] = new
    if previous is not None:
        data["previousPresence"] = previous
    if requested is not None:
        data["requestedPresence"] = {
            "requested": requested,
            "definitionId": f"def-{requested.lower()}",
            "systemPresence": requested,
            "label": requested,
        }
    return AuditRecord.model_validate(data)


#: The fall-back day's records: outside changes at 01:30 EDT and at 01:30 EST, a rejected change of ours and an
#: applied one whose presence is modified after its start.
BEFORE = record("chg-before", "2026-10-31T20:00:00.000Z", new=presence("Available", "2026-10-31T20:00:01.000Z"))
AWAY_EDT = record(
    "ext-edt",
    "2026-11-01T05:30:00.000Z",
    source="external",
    outcome="observed",
    requested_by="genesys:PURECLOUD",
    new=presence("Away", "2026-11-01T05:30:00.000Z"),
    previous=presence("Available", "2026-10-31T20:00:01.000Z"),
)
BACK_EST = record(
    "ext-est",
    "2026-11-01T06:30:00.000Z",
    source="external",
    outcome="observed",
    requested_by="genesys:PURECLOUD",
    new=presence("Available", "2026-11-01T06:30:00.000Z"),
    previous=presence("Away", "2026-11-01T05:30:00.000Z"),
)
REJECTED = record(
    "chg-rejected",
    "2026-11-01T13:00:00.000Z",
    outcome="rejected",
    previous=presence("Available", "2026-11-01T06:30:00.000Z"),
    requested="OnQueue",
)
TO_BREAK = record(
    "chg-break",
    "2026-11-01T14:59:58.000Z",
    new=presence("Break", "2026-11-01T15:00:01.000Z"),
    previous=presence("Available", "2026-11-01T06:30:00.000Z"),
    requested="Break",
)
DAY = [TO_BREAK, AWAY_EDT, REJECTED, BACK_EST]


# ---- day bounds --------------------------------------------------------------------------------------------------


def test_given_the_fall_back_day_in_new_york_then_it_is_25_hours_from_edt_midnight_to_est_midnight() -> None:
    start, end = day_bounds(FALL_BACK, NEW_YORK)
    assert (start, end) == (DAY_START, DAY_END)
    assert end - start == timedelta(hours=25)


def test_given_the_spring_forward_day_in_new_york_then_it_is_23_hours() -> None:
    start, end = day_bounds(date(2026, 3, 8), NEW_YORK)
    assert (start, end) == (datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC))


# ---- merging -----------------------------------------------------------------------------------------------------


def test_given_ours_and_outside_changes_then_one_list_in_time_order_with_local_times_on_both_sides_of_the_change() -> (
    None
):
    changes = changes_of_day(DAY, NEW_YORK)
    assert [c.change_id for c in changes] == ["ext-edt", "ext-est", "chg-rejected", "chg-break"]
    assert [c.source for c in changes] == ["external", "external", "workflow", "workflow"]
    # the same wall-clock 01:30 twice, an hour apart
    assert changes[0].at_local == "2026-11-01T01:30:00.000-04:00"
    assert changes[1].at_local == "2026-11-01T01:30:00.000-05:00"
    # a change that set a presence is placed at its modifiedDate, one that set none at its start
    assert changes[3].at == "2026-11-01T15:00:01.000Z" and changes[3].started_at == "2026-11-01T14:59:58.000Z"
    assert changes[2].at == "2026-11-01T13:00:00.000Z"
    assert [c.presence_changed for c in changes] == [True, True, False, True]
    assert changes[2].requested_presence is not None and changes[2].requested_presence.label == "OnQueue"
    assert changes[0].requested_by == "genesys:PURECLOUD"


def test_given_an_outside_change_and_ours_at_the_same_instant_then_the_order_is_stable() -> None:
    ours = record("chg-a", "2026-11-01T10:00:00.000Z", new=presence("Break", "2026-11-01T10:00:00.000Z"))
    outside = record(
        "ext-b",
        "2026-11-01T10:00:00.000Z",
        source="external",
        outcome="observed",
        new=presence("Away", "2026-11-01T10:00:00.000Z"),
    )
    assert [c.change_id for c in changes_of_day([outside, ours], NEW_YORK)] == ["chg-a", "ext-b"]
    assert [c.change_id for c in changes_of_day([ours, outside], NEW_YORK)] == ["chg-a", "ext-b"]


# ---- presence at the start of the day ----------------------------------------------------------------------------


def test_given_the_first_change_saw_a_presence_set_before_the_day_then_that_was_the_presence_at_its_start() -> None:
    changes = changes_of_day(DAY, NEW_YORK)
    start = presence_at_start(changes, DAY_START, iter(()))
    assert start is not None
    assert (start.basis, start.change_id, start.presence.system_presence) == ("first_change", "ext-edt", "Available")


def test_given_the_first_change_saw_a_presence_set_within_the_day_then_the_newest_record_before_the_day_says_it() -> (
    None
):
    first = record(
        "chg-first",
        "2026-11-01T09:00:00.000Z",
        outcome="rejected",
        previous=presence("Away", "2026-11-01T08:00:00.000Z"),  # set within the day by someone unseen
    )
    no_presence = record("chg-failed-early", "2026-10-31T23:00:00.000Z", outcome="failed")
    read: list[str] = []

    def before_day() -> Iterator[AuditRecord]:
        for item in (no_presence, BEFORE):
            read.append(item.change_id)
            yield item

    start = presence_at_start(changes_of_day([first], NEW_YORK), DAY_START, before_day())
    assert start is not None
    assert (start.basis, start.change_id, start.presence.system_presence) == ("before_day", "chg-before", "Available")
    assert read == ["chg-failed-early", "chg-before"], "a record that saw no presence is passed over"


def test_given_nothing_known_then_no_presence_at_start_and_the_spans_begin_at_the_first_change() -> None:
    changes = changes_of_day([AWAY_EDT], NEW_YORK)
    assert presence_at_start([], DAY_START, iter(())) is None
    spans = presence_spans(None, changes, DAY_START, DAY_END, NEW_YORK)
    assert [(s.start, s.system_presence) for s in spans] == [("2026-11-01T05:30:00.000Z", "Away")]


def test_given_no_presence_at_start_then_the_first_change_tells_the_presence_it_saw_from_when_it_was_set() -> None:
    rejected = record(
        "chg-rejected",
        "2026-11-01T13:00:00.000Z",
        outcome="rejected",
        previous=presence("OnQueue", "2026-11-01T12:00:00.000Z"),
    )
    changes = changes_of_day([rejected, TO_BREAK], NEW_YORK)
    assert presence_at_start(changes, DAY_START, iter(())) is None
    spans = presence_spans(None, changes, DAY_START, DAY_END, NEW_YORK)
    # the break change saw Available set at 06:30: older than what is known by then (OnQueue from 12:00), so no span
    assert [(s.start, s.end, s.system_presence, s.change_id, s.seen_by) for s in spans] == [
        ("2026-11-01T12:00:00.000Z", "2026-11-01T15:00:01.000Z", "OnQueue", None, "chg-rejected"),
        ("2026-11-01T15:00:01.000Z", "2026-11-02T05:00:00.000Z", "Break", "chg-break", None),
    ]


def test_given_a_change_not_on_record_between_two_that_are_then_the_presence_it_set_is_laid_from_its_time() -> None:
    away = record("chg-away", "2026-11-01T14:00:00.000Z", new=presence("Away", "2026-11-01T14:00:00.000Z"))
    unseen_then_break = record(
        "chg-break",
        "2026-11-01T16:00:00.000Z",
        new=presence("Break", "2026-11-01T16:00:00.000Z"),
        previous=presence("Available", "2026-11-01T15:00:00.000Z"),  # someone set Available at 15:00, unobserved
    )
    same_as_known = record(
        "chg-noop",
        "2026-11-01T17:00:00.000Z",
        outcome="rejected",
        previous=presence("Break", "2026-11-01T16:00:00.000Z"),  # what we already know: no span of its own
    )
    changes = changes_of_day([away, unseen_then_break, same_as_known], NEW_YORK)
    spans = presence_spans(None, changes, DAY_START, at("2026-11-01T18:00:00Z"), NEW_YORK)
    assert [(s.start, s.end, s.system_presence, s.change_id, s.seen_by) for s in spans] == [
        ("2026-11-01T14:00:00.000Z", "2026-11-01T15:00:00.000Z", "Away", "chg-away", None),
        ("2026-11-01T15:00:00.000Z", "2026-11-01T16:00:00.000Z", "Available", None, "chg-break"),
        ("2026-11-01T16:00:00.000Z", "2026-11-01T18:00:00.000Z", "Break", "chg-break", None),
    ]


def test_given_the_day_then_presence_spans_follow_the_changes_that_set_one_up_to_now() -> None:
    changes = changes_of_day(DAY, NEW_YORK)
    start = presence_at_start(changes, DAY_START, iter(()))
    now = at("2026-11-01T18:00:00Z")
    spans = presence_spans(start, changes, DAY_START, now, NEW_YORK)
    assert [(s.start, s.end, s.system_presence, s.change_id) for s in spans] == [
        ("2026-11-01T04:00:00.000Z", "2026-11-01T05:30:00.000Z", "Available", None),
        ("2026-11-01T05:30:00.000Z", "2026-11-01T06:30:00.000Z", "Away", "ext-edt"),
        ("2026-11-01T06:30:00.000Z", "2026-11-01T15:00:01.000Z", "Available", "ext-est"),
        ("2026-11-01T15:00:01.000Z", "2026-11-01T18:00:00.000Z", "Break", "chg-break"),
    ]
    assert spans[0].start_local == "2026-11-01T00:00:00.000-04:00"


# ---- reading a day: the audit table and the schedule -------------------------------------------------------------


@dataclass
class Genesys(FakeGenesys):
    searches: list[tuple[datetime, datetime]] = field(default_factory=list)
    codes_asked: list[str] = field(default_factory=list)

    def search_agent_schedules(
        self, management_unit_id: str, start: datetime, end: datetime, user_ids: list[str]
    ) -> BuAgentSchedulesSearchResponse:
        self.searches.append((start, end))
        return super().search_agent_schedules(management_unit_id, start, end, user_ids)

    def get_activity_codes(self, bu_id: str) -> list[BusinessUnitActivityCode]:
        self.codes_asked.append(bu_id)
        return CODES


def fall_back_shifts() -> list[BuAgentScheduleShift]:
    """A night shift from the evening before into the day, the day's shift (on-queue work, a break, work) and a
    shift of the day before that ends before the day."""

    def activity(start: str, minutes: int, code: str) -> BuAgentScheduleActivity:
        return BuAgentScheduleActivity(start_date=at(start), length_minutes=minutes, activity_code_id=code)

    return [
        BuAgentScheduleShift(
            id="yesterday",
            start_date=at("2026-10-31T12:00:00Z"),
            length_minutes=480,
            activities=[activity("2026-10-31T12:00:00Z", 480, "code-work")],
        ),
        BuAgentScheduleShift(
            id="night",
            start_date=at("2026-11-01T02:00:00Z"),  # 22:00 EDT the evening before
            length_minutes=480,
            activities=[activity("2026-11-01T02:00:00Z", 480, "code-work")],
        ),
        BuAgentScheduleShift(
            id="day",
            start_date=at("2026-11-01T13:00:00Z"),  # 08:00 EST
            length_minutes=480,
            activities=[
                activity("2026-11-01T13:00:00Z", 120, "code-work"),
                activity("2026-11-01T15:00:00Z", 15, "code-break"),
                activity("2026-11-01T15:15:00Z", 345, "code-work"),
            ],
        ),
    ]


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditStore]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AuditTable", "audit")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        yield AuditStore(dynamodb, "audit", "agents")


def genesys(now: datetime) -> Genesys:
    fake = Genesys(now=now)
    fake.units.add(USER)
    fake.shifts[USER] = fall_back_shifts()
    return fake


def test_given_a_past_day_then_one_search_of_that_day_and_every_record_of_it_on_every_page(
    store: AuditStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(timeline, "PAGE_SIZE", 2)
    on_the_edges = [
        record("chg-at-start", "2026-11-01T04:00:00.000Z", outcome="dry_run"),
        record("chg-last-ms", "2026-11-02T04:59:59.999Z", outcome="dry_run"),
        record("chg-next-day", "2026-11-02T05:00:00.000Z", new=presence("Offline", "2026-11-02T05:00:00.100Z")),
        record("chg-eve", "2026-11-01T03:59:59.999Z", new=presence("Offline", "2026-11-01T03:59:59.999Z")),
    ]
    for item in [BEFORE, *DAY, *on_the_edges]:
        store.record(item)
    fake = genesys(LATER_DAY_NOW)
    searches = ScheduleSearches()

    day = agent_timeline(
        USER,
        TimelineRequest(day=FALL_BACK, time_zone=None),
        genesys=fake,
        audit=store,
        now=LATER_DAY_NOW,
        searches=searches,
    )

    assert (day.date, day.time_zone, day.time_zone_source, day.day_minutes) == (
        "2026-11-01",
        "America/New_York",
        "businessUnit",
        1500,
    )
    assert (day.day_start, day.day_end) == ("2026-11-01T04:00:00.000Z", "2026-11-02T05:00:00.000Z")
    assert (day.day_start_local, day.day_end_local) == (
        "2026-11-01T00:00:00.000-04:00",
        "2026-11-02T00:00:00.000-05:00",
    )
    assert [c.change_id for c in day.changes] == [
        "chg-at-start",
        "ext-edt",
        "ext-est",
        "chg-rejected",
        "chg-break",
        "chg-last-ms",
    ]
    assert not day.truncated
    # not today: a search of the day itself, from 24 h before it (the night shift started the evening before)
    assert fake.searches == [(DAY_START - timedelta(hours=24), DAY_END)]
    assert day.schedule.status == "known" and day.schedule.cached is False
    assert [s.shift_id for s in day.schedule.shifts] == ["night", "day"]
    work, pause, rest = day.schedule.shifts[1].activities
    assert (pause.name, pause.category, pause.start, pause.end) == (
        "Break",
        "Break",
        "2026-11-01T15:00:00.000Z",
        "2026-11-01T15:15:00.000Z",
    )
    assert (pause.start_local, pause.end_local) == ("2026-11-01T10:00:00.000-05:00", "2026-11-01T10:15:00.000-05:00")
    assert (work.category, rest.category, work.name) == ("OnQueueWork", "OnQueueWork", "On Queue Work")
    assert day.schedule.shifts[0].start_local == "2026-10-31T22:00:00.000-04:00"
    # the first change (a dry run at 00:00) saw nothing: the newest record before the day says the presence then
    assert day.presence_at_start is not None
    assert (day.presence_at_start.basis, day.presence_at_start.change_id) == ("before_day", "chg-eve")
    assert day.presence_at_start.presence.system_presence == "Offline"
    assert [(s.system_presence, s.end) for s in day.presence] == [
        ("Offline", "2026-11-01T05:30:00.000Z"),
        ("Away", "2026-11-01T06:30:00.000Z"),
        ("Available", "2026-11-01T15:00:01.000Z"),
        ("Break", "2026-11-02T05:00:00.000Z"),
    ]


def test_given_today_then_the_schedule_comes_from_the_search_validate_caches(store: AuditStore) -> None:
    now = at("2026-11-01T16:20:00Z")
    fake = genesys(now)
    searches = ScheduleSearches()
    request = TimelineRequest(day=None, time_zone=None)

    first = agent_timeline(USER, request, genesys=fake, audit=store, now=now, searches=searches)
    again = agent_timeline(USER, request, genesys=fake, audit=store, now=now, searches=searches)

    assert first.date == "2026-11-01"
    hour = at("2026-11-01T16:00:00Z")
    assert fake.searches == [schedule_window(hour, 24, 25)], "one search, the cached one, reused"
    assert first.schedule.cached and first.schedule.search_start == "2026-10-31T16:00:00.000Z"
    assert first == again
    assert [s.shift_id for s in first.schedule.shifts] == ["night", "day"]
    assert first.presence == [] and first.presence_at_start is None and first.changes == []


def test_given_a_search_genesys_answers_processing_then_the_schedule_is_unknown(store: AuditStore) -> None:
    fake = genesys(LATER_DAY_NOW)
    fake.schedule_processing = True
    day = agent_timeline(
        USER, TimelineRequest(day=FALL_BACK, time_zone=None), genesys=fake, audit=store, now=LATER_DAY_NOW
    )
    assert (day.schedule.status, day.schedule.shifts, fake.codes_asked) == ("unknown", [], [])


def test_given_an_agent_in_no_management_unit_then_no_schedule_and_the_day_in_utc_unless_a_zone_is_named(
    store: AuditStore,
) -> None:
    fake = genesys(LATER_DAY_NOW)
    fake.units.clear()
    day = agent_timeline(USER, TimelineRequest(day=None, time_zone=None), genesys=fake, audit=store, now=LATER_DAY_NOW)
    assert (day.schedule.status, day.time_zone, day.time_zone_source, day.date) == (
        "not_in_wfm",
        "UTC",
        "utc",
        "2026-11-24",
    )
    assert fake.searches == []
    named = agent_timeline(
        USER,
        TimelineRequest(day=None, time_zone="Asia/Tokyo"),
        genesys=fake,
        audit=store,
        now=at("2026-11-24T20:00:00Z"),  # already the 25th in Tokyo
    )
    assert (named.date, named.time_zone_source, named.day_start) == (
        "2026-11-25",
        "request",
        "2026-11-24T15:00:00.000Z",
    )


def test_given_full_day_time_off_on_the_date_then_it_is_listed_with_its_code() -> None:
    schedule = BuAgentScheduleSearchResponse(
        user=EntityRef(id=USER),
        full_day_time_off_markers=[
            BuFullDayTimeOffMarker(business_unit_date="2026-11-01", length_minutes=480, activity_code_id="code-off"),
            BuFullDayTimeOffMarker(business_unit_date="2026-11-02", length_minutes=480, activity_code_id="code-off"),
        ],
    )
    codes = [BusinessUnitActivityCode(id="code-off", name="Vacation", category="TimeOff")]
    shifts, time_off = timeline.schedule_of_day(schedule, FALL_BACK, DAY_START, DAY_END, NEW_YORK, codes)
    assert shifts == []
    assert [(t.business_unit_date, t.name, t.category) for t in time_off] == [("2026-11-01", "Vacation", "TimeOff")]


def test_the_json_is_camel_case(store: AuditStore) -> None:
    store.record(AWAY_EDT)
    day = agent_timeline(
        USER,
        TimelineRequest(day=FALL_BACK, time_zone=None),
        genesys=genesys(LATER_DAY_NOW),
        audit=store,
        now=LATER_DAY_NOW,
    )
    body = day.to_json()
    assert {"userId", "dayStart", "dayStartLocal", "dayMinutes", "timeZoneSource", "presenceAtStart"} <= set(body)
    assert {"atLocal", "startedAt", "presenceChanged", "newPresence", "previousPresence", "requestedBy"} <= set(
        body["changes"][0]
    )
    assert {"startLocal", "lengthMinutes", "activityCodeId"} <= set(body["schedule"]["shifts"][0]["activities"][0])
    assert body["changes"][0]["newPresence"]["systemPresence"] == "Away"


# ---- the query ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({"date": "2026-02-30"}, "invalid_time", "date"),
        ({"date": "2026-2-3"}, "invalid_time", "date"),
        ({"date": "20261101"}, "invalid_time", "date"),
        ({"date": "2026-11-01T00:00:00Z"}, "invalid_time", "date"),
        ({"date": "today"}, "invalid_time", "date"),
        ({"date": ""}, "invalid_time", "date"),
        ({"date": "1999-12-31"}, "invalid_time", "date"),
        ({"date": "\uff12\uff10\uff12\uff16-11-01"}, "invalid_time", "date"),  # full-width digits
        ({"date": "2026-11-01\n"}, "invalid_request", "date"),
        ({"date": "2026-11-01", "colour": "red"}, "invalid_request", "colour"),
        ({"from": "2026-11-01T00:00:00Z"}, "invalid_request", "from"),
        ({"timeZone": "Mars/Olympus"}, "invalid_time_zone", None),
        ({"timeZone": "x" * 65}, "invalid_request", "timeZone"),
        ({"timeZone": "Europe/London\u202e"}, "invalid_request", "timeZone"),
    ],
)
def test_given_a_bad_query_then_refused_with_a_code(params: dict[str, str], code: str, field: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        TimelineQuery.parse(params)
    assert refused.value.code == code
    if field is not None:
        assert field in {d["field"] for d in refused.value.details["details"]}


def test_given_a_good_query_then_a_date_and_a_zone() -> None:
    assert TimelineQuery.parse(None) == TimelineRequest(day=None, time_zone=None)
    assert TimelineQuery.parse({"date": "2026-11-01", "timeZone": "Europe/London"}) == TimelineRequest(
        day=FALL_BACK, time_zone="Europe/London"
    )
