"""Architect schedule groups and schedules: our client's requests and the simulator's answers against the official
SDK (``ArchitectApi.get_architect_schedulegroup`` / ``get_architect_schedule``, models ``ScheduleGroup``,
``Schedule``, ``DomainEntityRef``, ``ErrorBody``), and the simulator's groups built around now."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import PureCloudPlatformClientV2 as sdk
import pytest
from PureCloudPlatformClientV2.gateway_configuration import GatewayConfiguration
from PureCloudPlatformClientV2.rest import ApiException

from presence_manager.business_hours import load_schedule_group
from presence_manager.errors import GenesysNotFound, InvalidRequest
from presence_manager_local.simulator.architect import schedule_group_id
from presence_manager_local.simulator.server import start_simulator
from tests.contract.test_client_against_simulator import (
    RESPONSE_MODELS,
    RecordingTransport,
    check_against_sdk,
    check_answers,
    client_on,
    sdk_answer,
)

pytestmark = pytest.mark.contract

GROUP_PATH = "/api/v2/architect/schedulegroups/{scheduleGroupId}"
SCHEDULE_PATH = "/api/v2/architect/schedules/{scheduleId}"
#: the simulator's open schedule: 13 hours of wall-clock time, 12 or 14 when built across a DST change
WALL_CLOCK_LENGTHS = {timedelta(hours=h) for h in (12, 13, 14)}


@pytest.fixture
def simulator() -> Iterator[Any]:
    handle = start_simulator(port=0)
    yield handle
    handle.stop()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


def new_york_group(simulator: Any) -> str:
    unit = next(u for u in simulator.state.business_units.values() if u.time_zone == "America/New_York")
    return simulator.state.schedule_group_for_business_unit(unit.id)


def test_the_operations_and_answer_types_are_the_sdks() -> None:
    api = sdk.ArchitectApi
    assert "'/api/v2/architect/schedulegroups/{scheduleGroupId}'" in _source(api.get_architect_schedulegroup)
    assert "'/api/v2/architect/schedules/{scheduleId}'" in _source(api.get_architect_schedule)
    assert "response_type='ScheduleGroup'" in _source(api.get_architect_schedulegroup)
    assert "response_type='Schedule'" in _source(api.get_architect_schedule)
    assert RESPONSE_MODELS[("GET", GROUP_PATH)] == "ScheduleGroup"
    assert RESPONSE_MODELS[("GET", SCHEDULE_PATH)] == "Schedule"


def _source(function: Any) -> str:
    import inspect

    return inspect.getsource(function)


def test_the_client_reads_a_group_and_its_schedules_the_sdk_deserialises_them_and_a_second_read_is_cached(
    simulator: Any, transport: RecordingTransport
) -> None:
    client = client_on(simulator, transport)
    group_id = new_york_group(simulator)

    group = client.get_schedule_group(group_id)
    schedules = {ref.id: client.get_schedule(ref.id) for ref in group.open_schedules + group.holiday_schedules}
    schedules |= {ref.id: client.get_schedule(ref.id) for ref in group.closed_schedules}

    api = [(m, p) for m, p, _ in transport.sent if p != "/oauth/token"]
    assert api == [
        ("GET", f"/api/v2/architect/schedulegroups/{group_id}"),
        *[("GET", f"/api/v2/architect/schedules/{schedule_id}") for schedule_id in schedules],
    ]
    assert check_answers(transport) == {("GET", GROUP_PATH), ("GET", SCHEDULE_PATH)}
    answers = {path: answer for (_, path, _), (_, answer) in zip(transport.sent, transport.answers, strict=True)}
    by_sdk = sdk_answer(answers[f"/api/v2/architect/schedulegroups/{group_id}"], "ScheduleGroup", "group")
    assert isinstance(by_sdk, sdk.ScheduleGroup)
    assert (by_sdk.id, by_sdk.time_zone, by_sdk.state) == (group.id, "America/New_York", "active")
    assert all(isinstance(ref, sdk.DomainEntityRef) for ref in by_sdk.open_schedules)
    assert [r.id for r in by_sdk.open_schedules] == [r.id for r in group.open_schedules]
    for schedule_id in schedules:
        answer = answers[f"/api/v2/architect/schedules/{schedule_id}"]
        schedule = sdk_answer(answer, "Schedule", "schedule")
        assert isinstance(schedule, sdk.Schedule)
        ours = schedules[schedule.id]
        assert schedule.start.tzinfo is None, "LocalDateTime: a wall-clock time, no offset"
        assert (schedule.start, schedule.end, schedule.rrule) == (ours.start, ours.end, ours.rrule)
        assert "Z" not in answer["start"] and "+" not in answer["start"]

    sent = len(transport.sent)
    assert client.get_schedule_group(group_id) == group
    assert client.get_schedule(group.open_schedules[0].id) == schedules[group.open_schedules[0].id]
    assert len(transport.sent) == sent, "cached for definitions_cache_seconds"


def test_an_unknown_group_or_schedule_is_a_404_error_body_and_not_found(
    simulator: Any, transport: RecordingTransport
) -> None:
    client = client_on(simulator, transport)
    with pytest.raises(GenesysNotFound) as raised:
        client.get_schedule_group("00000000-0000-0000-0000-000000000000")
    assert raised.value.error_body["code"] == "not.found"
    with pytest.raises(GenesysNotFound):
        client.get_schedule("00000000-0000-0000-0000-000000000001")
    errors = [answer for status, answer in transport.answers if status == 404]
    assert len(errors) == 2
    for body in errors:
        check_against_sdk(body, "ErrorBody", "404 answer", nulls=True)
    with pytest.raises(GenesysNotFound, match="business hours schedule group 00000000"):
        load_schedule_group(client, "00000000-0000-0000-0000-000000000000")


def test_an_id_that_is_not_a_path_segment_is_refused_before_any_request(
    simulator: Any, transport: RecordingTransport
) -> None:
    client = client_on(simulator, transport)
    for bad in ("../users", "a/b", "x?y", ""):
        with pytest.raises(InvalidRequest) as raised:
            client.get_schedule_group(bad)
        assert raised.value.code == "invalid_path_segment"
        with pytest.raises(InvalidRequest):
            client.get_schedule(bad)
    assert [p for _, p, _ in transport.sent] == []


# ---- the simulator's groups -----------------------------------------------------------------------------------


def test_the_default_orgs_group_is_open_now_and_its_closed_and_holiday_schedules_do_not_cover_now(
    simulator: Any, transport: RecordingTransport
) -> None:
    client = client_on(simulator, transport)
    group_id = new_york_group(simulator)
    assert group_id == schedule_group_id("America/New_York")
    assert [g["id"] for g in simulator.state.snapshot()["scheduleGroups"]] == [group_id], "one per time zone"
    hours = load_schedule_group(client, group_id)
    (open_schedule,) = hours.open_schedules
    assert open_schedule.rrule == "FREQ=DAILY" and open_schedule.length in WALL_CLOCK_LENGTHS
    assert len(hours.closed_schedules) == len(hours.holiday_schedules) == 1
    now = datetime.now(UTC)
    for instant in (now, now + timedelta(hours=7, minutes=59)):
        status = hours.status(instant)
        assert status.open and status.holiday is None and status.closed is None, hours.explain()
    assert not hours.is_open(now + timedelta(hours=9, minutes=1)), "until the end of the hour 8 hours from now"
    (huddle,) = hours.closed_schedules
    assert (huddle.start, huddle.length) == (open_schedule.start + timedelta(hours=1), timedelta(minutes=30))
    during = (huddle.start + timedelta(minutes=15)).replace(tzinfo=hours.zone)
    assert hours.status(during).closed is not None, "the huddle closes today's open hours, before now"
    (holiday,) = hours.holiday_schedules
    assert holiday.start.date() == now.astimezone(hours.zone).date() + timedelta(days=10)
    assert (holiday.length, holiday.rrule) == (timedelta(days=1), "FREQ=YEARLY")


def test_the_generated_org_has_one_group_per_business_unit_time_zone_each_open_now() -> None:
    with start_simulator(port=0, agents=60) as handle:
        transport = RecordingTransport()
        client = client_on(handle, transport)
        zones = {u.time_zone for u in handle.state.business_units.values()}
        groups = handle.state.snapshot()["scheduleGroups"]
        assert {g["timeZone"] for g in groups} == zones == {"America/New_York", "Europe/London", "Asia/Tokyo"}
        assert {g["id"] for g in groups} == {schedule_group_id(z) for z in zones}
        now = datetime.now(UTC)
        for group in groups:
            assert load_schedule_group(client, group["id"]).is_open(now)


def test_the_admin_api_sets_a_groups_schedules_which_the_api_then_serves(
    simulator: Any, transport: RecordingTransport
) -> None:
    group_id = new_york_group(simulator)
    today = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).date()
    holiday = {"name": "Snow day", "start": f"{today}T00:00:00.000", "end": f"{today + timedelta(days=1)}T00:00:00.000"}
    admin = httpx.Client(base_url=simulator.url, timeout=10)
    answer = admin.post(f"/__sim/schedulegroups/{group_id}", json={"holidaySchedules": [holiday]})
    assert answer.status_code == 200, answer.text
    assert [s["name"] for s in answer.json()["holidaySchedules"]] == ["Snow day"]

    client = client_on(simulator, transport)
    hours = load_schedule_group(client, group_id)
    assert not hours.is_open(datetime.now(UTC))
    assert "holiday schedule 'Snow day'" in hours.closed_reason(datetime.now(UTC))

    refused = [
        {"holidaySchedules": [{**holiday, "start": f"{today}T00:00:00Z"}]},  # not a local date-time
        {"holidaySchedules": [{**holiday, "end": holiday["start"]}]},  # empty
        {"openSchedules": [{**holiday, "rrule": "FREQ=SOMETIMES"}]},
        {"closed": []},  # not a field
    ]
    for body in refused:
        assert admin.post(f"/__sim/schedulegroups/{group_id}", json=body).status_code == 400, json.dumps(body)
    assert admin.post("/__sim/schedulegroups/new-group", json={"name": "No zone"}).status_code == 400
    created = admin.post("/__sim/schedulegroups/new-group", json={"timeZone": "Europe/London"})
    assert created.status_code == 200 and created.json()["timeZone"] == "Europe/London"

    assert admin.post("/__sim/reset").status_code == 200
    assert load_schedule_group(client_on(simulator, RecordingTransport()), group_id).is_open(datetime.now(UTC))
    assert "new-group" not in {g["id"] for g in admin.get("/__sim/schedulegroups").json()["scheduleGroups"]}


# ---- the official SDK against the simulator --------------------------------------------------------------------


@pytest.fixture
def api_client(simulator: Any) -> sdk.ApiClient:
    client = sdk.ApiClient()
    client.gateway_configuration = GatewayConfiguration(host="127.0.0.1", protocol="http", port=simulator.port)
    client.get_client_credentials_token("sim-client-id", "sim-client-secret")
    return client


def test_given_the_sdk_then_it_reads_the_group_and_its_schedules_with_local_date_times(
    api_client: sdk.ApiClient, simulator: Any
) -> None:
    architect = sdk.ArchitectApi(api_client)
    group = architect.get_architect_schedulegroup(new_york_group(simulator))
    assert isinstance(group, sdk.ScheduleGroup)
    assert group.time_zone == "America/New_York"
    assert [len(group.open_schedules), len(group.closed_schedules), len(group.holiday_schedules)] == [1, 1, 1]
    schedule = architect.get_architect_schedule(group.open_schedules[0].id)
    assert isinstance(schedule, sdk.Schedule)
    assert schedule.name == group.open_schedules[0].name
    assert schedule.start.tzinfo is None and schedule.end - schedule.start in WALL_CLOCK_LENGTHS
    assert schedule.rrule == "FREQ=DAILY"
    assert schedule.state == "active"
    with pytest.raises(ApiException) as raised:
        architect.get_architect_schedulegroup("00000000-0000-0000-0000-000000000000")
    assert raised.value.status == 404
    assert json.loads(raised.value.body)["code"] == "not.found"
    with pytest.raises(ApiException) as raised:
        architect.get_architect_schedule("00000000-0000-0000-0000-000000000000")
    assert raised.value.status == 404
