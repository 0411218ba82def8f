"""The simulator's admin endpoint that puts a scheduled activity on agents (``POST
/__sim/managementunits/{muId}/activities``): the schedule search, adherence and the admin state answer it from then on,
the shift stays whole and its activities never overlap; agents not on shift across it are refused (nothing changes) or,
when the unit's agents are not named, skipped; a reset brings the patterns' schedules back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from presence_manager_local.simulator.fixture import Activity, AgentSchedule, Shift, with_activity
from presence_manager_local.simulator.server import SimulatorHandle, start_simulator

SEARCH = "/api/v2/workforcemanagement/managementunits/{}/agentschedules/search"
NOW = datetime(2026, 11, 24, 15, 7, 42, 250000, tzinfo=UTC)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Sim:
    def __init__(self, handle: SimulatorHandle) -> None:
        self.handle = handle
        self.http = httpx.Client(base_url=handle.url, timeout=10)
        self.login()
        state = self.http.get("/__sim/state").json()
        self.users = {u["id"]: u for u in state["users"]}
        self.unit = state["managementUnits"][0]["id"]
        self.codes = {c["category"]: c for c in state["businessUnits"][0]["activityCodes"] if c["defaultCode"]}

    def login(self) -> None:
        token = self.http.post(
            "/oauth/token",
            auth=(self.handle.client_id, self.handle.client_secret),
            data={"grant_type": "client_credentials"},
        ).json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}

    def pattern(self, name: str) -> list[str]:
        return [u for u, user in self.users.items() if user["schedulePattern"] == name]

    def add(self, **body: Any) -> httpx.Response:
        return self.http.post(f"/__sim/managementunits/{self.unit}/activities", json=body)

    def shifts(self, user_id: str) -> list[dict[str, Any]]:
        body = {
            "startDate": (NOW - timedelta(hours=6)).isoformat(),
            "endDate": (NOW + timedelta(hours=6)).isoformat(),
            "userIds": [user_id],
        }
        answer = self.http.post(SEARCH.format(self.unit), json=body, headers=self.headers)
        assert answer.status_code == 200, answer.text
        (schedule,) = answer.json()["result"]["agentSchedules"]
        return schedule["shifts"]


@pytest.fixture
def sim() -> Iterator[Sim]:
    handle = start_simulator(port=0, now=lambda: NOW)
    try:
        yield Sim(handle)
    finally:
        handle.stop()


def test_given_a_break_in_two_minutes_when_put_on_agents_then_the_search_and_adherence_answer_it(sim: Sim) -> None:
    agents = sim.pattern("on_queue")[:3]
    answer = sim.add(category="Break", startsInMinutes=2, lengthMinutes=15, userIds=agents)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    activity = body["activity"]
    assert (body["userIds"], body["skipped"]) == (agents, [])
    assert activity["startDate"] == "2026-11-24T15:09:00.000Z", "the whole minute 2 minutes from now"
    assert activity["endDate"] == "2026-11-24T15:24:00.000Z"
    assert (activity["activityCodeId"], activity["category"]) == (sim.codes["Break"]["id"], "Break")
    assert activity["secondaryPresences"] == sim.codes["Break"]["secondaryPresences"]

    (shift,) = [s for s in sim.shifts(agents[0]) if at(s["startDate"]) <= NOW]
    activities = [(at(a["startDate"]), a["lengthMinutes"], a["activityCodeId"]) for a in shift["activities"]]
    start = datetime(2026, 11, 24, 15, 9, tzinfo=UTC)
    assert (start, 15, sim.codes["Break"]["id"]) in activities
    # the on-queue work it fell into is cut around it: before until 15:09, after from 15:24
    on_queue = sim.codes["OnQueueWork"]["id"]
    before = [a for a in activities if a[2] == on_queue and a[0] + timedelta(minutes=a[1]) == start]
    after = [a for a in activities if a[2] == on_queue and a[0] == start + timedelta(minutes=15)]
    assert len(before) == 1 and len(after) == 1
    ends = [a[0] + timedelta(minutes=a[1]) for a in activities]
    assert all(end <= following[0] for end, following in zip(ends, activities[1:], strict=False)), "no overlap"
    assert sum(a[1] for a in activities) == shift["lengthMinutes"], "the shift is still covered whole"

    # other agents of the pattern keep the pattern's schedule; the admin view shows the Break once it starts
    untouched = sim.pattern("on_queue")[3]
    assert all(at(a["startDate"]) != start for s in sim.shifts(untouched) for a in s["activities"])
    assert sim.http.get(f"/__sim/users/{agents[0]}").json()["scheduledActivity"]["category"] == "OnQueueWork"


def test_given_agents_not_on_shift_across_it_when_named_then_400_and_nothing_changes(sim: Sim) -> None:
    on_queue, off_shift = sim.pattern("on_queue")[0], sim.pattern("off_shift")[0]
    before = sim.shifts(on_queue)
    answer = sim.add(category="Break", startsInMinutes=2, lengthMinutes=15, userIds=[on_queue, off_shift])
    assert answer.status_code == 400
    assert off_shift in answer.json()["message"]
    assert sim.shifts(on_queue) == before

    past_the_shift = sim.add(category="Meeting", startsInMinutes=0, lengthMinutes=24 * 60, userIds=[on_queue])
    assert past_the_shift.status_code == 400, "the activity must fit in one shift"


def test_given_no_user_ids_then_every_agent_on_shift_across_it_gets_it_and_the_others_are_skipped(sim: Sim) -> None:
    answer = sim.add(category="Meeting", startsInMinutes=30, lengthMinutes=30, description="All hands")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    on_shift = {u for u, user in sim.users.items() if user["onShift"] and user["managementUnitId"]}
    assert set(sim.pattern("on_queue")) <= set(body["userIds"]) <= on_shift
    assert set(sim.pattern("off_shift")) <= {s["userId"] for s in body["skipped"]}
    assert body["activity"]["description"] == "All hands"


BREAK_CODE = "ff36417d-6756-42cc-92d8-41174c9b2ab9"


@pytest.mark.parametrize(
    "body",
    [
        {"startsInMinutes": 2, "lengthMinutes": 15},  # no category nor activity code
        {"category": "Nap", "startsInMinutes": 2, "lengthMinutes": 15},
        {"category": "Break", "startsInMinutes": "2", "lengthMinutes": 15},
        {"category": "Break", "startsInMinutes": 2, "lengthMinutes": 0},
        {"category": "Break", "startsInMinutes": 2, "lengthMinutes": 15, "extra": 1},
        {"category": "Break", "startsInMinutes": 2, "lengthMinutes": 15, "userIds": ["not-an-agent"]},
        {"category": "Meal", "activityCodeId": BREAK_CODE, "startsInMinutes": 2, "lengthMinutes": 15},
        {"activityCodeId": "no-such-code", "startsInMinutes": 2, "lengthMinutes": 15},
    ],
)
def test_given_a_bad_body_then_400_and_nothing_changes(sim: Sim, body: dict[str, Any]) -> None:
    agent = sim.pattern("on_queue")[0]
    before = sim.shifts(agent)
    answer = sim.add(**body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["message"]
    assert sim.shifts(agent) == before


def test_given_an_unknown_unit_then_404_and_a_reset_brings_the_patterns_back(sim: Sim) -> None:
    body = {"category": "Break", "startsInMinutes": 2, "lengthMinutes": 15}
    assert sim.http.post("/__sim/managementunits/nope/activities", json=body).status_code == 404
    agent = sim.pattern("on_queue")[0]
    before = sim.shifts(agent)
    assert sim.add(category="Break", startsInMinutes=2, lengthMinutes=15, userIds=[agent]).status_code == 201
    assert sim.shifts(agent) != before
    sim.http.post("/__sim/reset").raise_for_status()
    sim.login()  # a reset forgets the tokens
    assert sim.shifts(agent) == before


def test_given_an_activity_laid_over_two_then_both_are_cut_and_the_shift_unchanged() -> None:
    start = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)

    def activity(minute: int, length: int, code: str) -> Activity:
        return Activity(start + timedelta(minutes=minute), length, code, code, code, True)

    shift = Shift("s1", start, 480, (activity(0, 120, "Q"), activity(120, 60, "W"), activity(180, 300, "Q")))
    schedule = AgentSchedule((shift,))
    changed = with_activity(schedule, activity(100, 40, "B"))
    (new_shift,) = changed.shifts
    assert (new_shift.id, new_shift.start, new_shift.length_minutes) == ("s1", start, 480)
    assert [(a.start - start, a.length_minutes, a.category) for a in new_shift.activities] == [
        (timedelta(minutes=0), 100, "Q"),
        (timedelta(minutes=100), 40, "B"),
        (timedelta(minutes=140), 40, "W"),
        (timedelta(minutes=180), 300, "Q"),
    ]
    assert schedule.shifts[0].activities == shift.activities, "pure: the schedule given is unchanged"
    with pytest.raises(ValueError, match="no shift covers"):
        with_activity(schedule, activity(470, 30, "B"))
