"""The simulator at scale: an org of N agents over several management and business units in different time zones,
built fast, served fast, and reshaped through the admin API."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from presence_manager_local.simulator.fixture import load_fixture
from presence_manager_local.simulator.scale import default_management_units, scaled_fixture
from presence_manager_local.simulator.server import start_simulator
from presence_manager_local.simulator.state import SimulatorState
from tests.unit.test_simulator import Sim, assert_error_body, assert_sdk_response

ZONES = {"America/New_York", "Europe/London", "Asia/Tokyo"}
WFM_PATTERNS = {
    "on_queue", "on_break", "in_meeting", "in_training", "off_queue_work", "off_shift", "overnight", "time_off"
}  # fmt: skip
SEARCH = "/api/v2/workforcemanagement/managementunits/{}/agentschedules/search"


@pytest.fixture(scope="module")
def org_1000() -> SimulatorState:
    return SimulatorState(agents=1000)


def test_given_1000_agents_when_building_the_org_then_units_span_three_time_zones(org_1000: SimulatorState) -> None:
    state = org_1000.snapshot()
    assert len(state["users"]) == 1000
    assert all(u["managementUnitId"] and u["businessUnitId"] for u in state["users"])
    units = {u["id"]: u for u in state["businessUnits"]}
    assert {u["timeZone"] for u in units.values()} == ZONES
    assert all(len(u["managementUnitIds"]) >= 2 for u in units.values())
    management_units = state["managementUnits"]
    assert len(management_units) == default_management_units(1000) == 6
    assert sum(len(mu["userIds"]) for mu in management_units) == 1000
    assert {len(mu["userIds"]) for mu in management_units} <= {166, 167}
    for unit in units.values():
        categories = {code["category"] for code in unit["activityCodes"]}
        assert categories >= {"OnQueueWork", "Break", "Meal", "OffQueueWork", "TimeOff"}
    first_codes = [c["secondaryPresences"] for c in state["businessUnits"][0]["activityCodes"]]
    assert all([c["secondaryPresences"] for c in u["activityCodes"]] == first_codes for u in units.values())
    code_ids = [c["id"] for u in units.values() for c in u["activityCodes"]]
    assert len(code_ids) == len(set(code_ids)), "each business unit has its own activity codes"


def test_given_1000_agents_then_every_management_unit_has_every_pattern_in_the_fixtures_proportions(
    org_1000: SimulatorState,
) -> None:
    state = org_1000.snapshot()
    users = {u["id"]: u for u in state["users"]}
    for mu in state["managementUnits"]:
        patterns = Counter(users[u]["schedulePattern"] for u in mu["userIds"])
        assert set(patterns) == WFM_PATTERNS, mu["name"]
        assert patterns["on_queue"] > patterns["off_shift"] > patterns["time_off"]
    for name, pattern in state["patterns"].items():
        for user_id in pattern["userIds"]:
            user = users[user_id]
            if pattern["onShiftNow"] is not None:
                assert user["onShift"] is pattern["onShiftNow"], (name, user)
            if pattern["activityNow"]:
                assert user["scheduledActivity"]["category"] == pattern["activityNow"], (name, user)
    assert state["patterns"]["not_in_wfm"]["userIds"] == []
    off_shift = state["patterns"]["off_shift"]["userIds"]
    assert all(users[u]["presence"]["systemPresence"] == "Offline" and users[u]["nextShift"] for u in off_shift)
    for mu in state["managementUnits"]:
        assert any(users[u]["routingStatus"] == "INTERACTING" for u in mu["userIds"]), "a live interaction per unit"


def test_given_1000_agents_then_overnight_shifts_cross_midnight_in_each_business_units_own_zone(
    org_1000: SimulatorState,
) -> None:
    zones = {unit.id: ZoneInfo(unit.time_zone) for unit in org_1000.business_units.values()}
    seen_zones = set()
    now = org_1000.now()
    for user_id in org_1000.users_with_pattern("overnight"):
        user = org_1000.users[user_id]
        assert user.business_unit_id is not None and user.schedule is not None
        zone = zones[user.business_unit_id]
        seen_zones.add(zone.key)
        for shift in user.schedule.shifts:
            start, end = shift.start.astimezone(zone), shift.end.astimezone(zone)
            assert start.hour == 22
            assert end.date() == start.date() + timedelta(days=1)
        local_hour = now.astimezone(zone).hour
        assert user.schedule.on_shift_at(now) is (local_hour >= 22 or local_hour < 6)
        expected = "OnQueue" if user.schedule.on_shift_at(now) else "Offline"
        assert org_1000.definitions[user.definition_id].system_presence == expected
    assert seen_zones == ZONES


def test_given_the_same_agent_count_then_ids_are_the_same_on_every_build(org_1000: SimulatorState) -> None:
    again = SimulatorState(agents=1000)
    assert list(again.users) == list(org_1000.users)
    assert list(again.management_units) == list(org_1000.management_units)
    assert len(set(org_1000.users)) == 1000
    assert list(SimulatorState().users) == [u.id for u in load_fixture().users], "no agents: the fixture's org"


def test_given_10000_agents_when_building_then_it_takes_under_two_seconds() -> None:
    started = time.perf_counter()
    state = SimulatorState(agents=10_000)
    elapsed = time.perf_counter() - started
    assert len(state.users) == 10_000
    assert elapsed < 2.0, f"building 10,000 agents took {elapsed:.2f} s"
    assert len(state.management_units) == 10
    assert max(len(members) for members in state.members.values()) == 1000


def test_given_an_explicit_management_unit_count_then_agents_spread_over_that_many() -> None:
    fixture = scaled_fixture(load_fixture(), 10, management_units=1)
    assert [u.time_zone for u in fixture.business_units] == ["America/New_York"]
    assert len({u.management_unit_id for u in fixture.users}) == 1
    with pytest.raises(ValueError, match="managementUnits"):
        scaled_fixture(load_fixture(), 3, management_units=4)
    with pytest.raises(ValueError, match="agents"):
        scaled_fixture(load_fixture(), 0)


@pytest.fixture(scope="module")
def sim_10000() -> Iterator[Sim]:
    handle = start_simulator(port=0, agents=10_000)
    try:
        yield Sim(handle)
    finally:
        handle.stop()


def test_given_10000_agents_when_reading_50_presences_and_searching_50_schedules_then_each_answers_fast(
    sim_10000: Sim,
) -> None:
    state = sim_10000.handle.state
    mu_id = list(state.members)[-1]
    ids = [u.id for u in state.members[mu_id][-50:]]
    now = datetime.now(UTC)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        read = sim_10000.api("GET", "/api/v2/users/presences/purecloud/bulk", params={"id": ",".join(ids)})
        search = sim_10000.api(
            "POST",
            SEARCH.format(mu_id),
            json={
                "startDate": (now - timedelta(hours=12)).isoformat(),
                "endDate": (now + timedelta(hours=12)).isoformat(),
                "userIds": ids,
            },
        )
        timings.append(time.perf_counter() - started)
        assert [p["userId"] for p in read.json()] == ids
        assert search.json()["status"] == "Complete"
    downloaded = httpx.get(search.json()["downloadUrl"]).json()
    assert [s["user"]["id"] for s in downloaded["agentSchedules"]] == ids
    assert min(timings) < 0.25, timings


def test_given_10000_agents_then_the_rate_limit_still_judges_429s(sim_10000: Sim) -> None:
    sim_10000.http.patch("/__sim/config", json={"rateLimitPerMinute": 3})
    try:
        token = sim_10000.new_token()
        ids = ",".join(list(sim_10000.handle.state.users)[:50])
        for _ in range(3):
            assert sim_10000.api("GET", "/api/v2/users/presences/purecloud/bulk", token, params={"id": ids}).is_success
        limited = sim_10000.api("GET", "/api/v2/users/presences/purecloud/bulk", token, params={"id": ids})
        assert_error_body(limited, 429, "too.many.requests.retry.after")
        assert int(limited.headers["Retry-After"]) >= 1
    finally:
        sim_10000.http.patch("/__sim/config", json={"rateLimitPerMinute": 300})


def test_given_the_admin_reset_with_agents_then_the_org_is_reshaped_and_kept_until_reset_back() -> None:
    with start_simulator(port=0) as handle:
        sim = Sim(handle)
        answer = sim.http.post("/__sim/reset", json={"agents": 300, "managementUnits": 3}).json()
        assert (answer["users"], answer["agents"]) == (300, 300)
        light = sim.http.get("/__sim/state", params={"users": "false"}).json()
        assert "users" not in light
        assert [len(mu["userIds"]) for mu in light["managementUnits"]] == [100, 100, 100]
        assert {u["timeZone"] for u in light["businessUnits"]} == ZONES
        assert light["settings"]["agents"] == 300
        assert sim.http.post("/__sim/reset").json()["users"] == 300, "a reset keeps the shape"
        token = sim.new_token()
        agent = light["managementUnits"][2]["userIds"][0]
        unit = sim.api("GET", f"/api/v2/workforcemanagement/agents/{agent}/managementunit", token)
        business_unit = unit.json()["businessUnit"]["id"]
        expanded = sim.api(
            "GET", f"/api/v2/workforcemanagement/businessunits/{business_unit}", token, params={"expand": "settings"}
        )
        assert assert_sdk_response(expanded, "BusinessUnitResponse").settings.time_zone == "Asia/Tokyo"
        assert sim.http.post("/__sim/reset", json={"agents": 0}).status_code == 400
        assert sim.http.post("/__sim/reset", json={"agents": None}).json()["users"] == 21
        assert sim.http.post("/__sim/reset", json={"size": 3}).status_code == 400
