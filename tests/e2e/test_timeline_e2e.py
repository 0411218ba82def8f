"""End to end: one agent's day on the local stack. A change made through the API shows in ``GET
/agents/{userId}/timeline`` beside the schedule's activities from the simulator's WFM (with their activity codes), and
an outside change made in the simulator (as if the agent clicked) arrives as a Genesys event and appears as an
``external`` entry after ours; ``presence-manager timeline`` draws both."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from presence_manager_local import cli
from presence_manager_local.scenarios import Api, Simulator

pytestmark = pytest.mark.e2e

TIMEOUT = 60


def wait_for(what: str, probe: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def agent(stack: Any) -> dict[str, Any]:
    """An agent in a Meeting activity now (a pattern no other e2e module changes), with its business unit."""
    state = Simulator(stack.sim_url).state()
    user = next(u for u in state["users"] if u["schedulePattern"] == "in_meeting")
    (unit,) = [b for b in state["businessUnits"] if b["id"] == user["businessUnitId"]]
    return {**user, "businessUnit": unit}


def test_given_our_change_and_the_agents_own_then_the_timeline_shows_both_beside_the_schedule(
    stack: Any, agent: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    api, user_id = Api(stack.api_url), agent["id"]
    ours_message = f"timeline ours {uuid.uuid4().hex[:8]}"
    started = api.post("/presence-changes", {"userId": user_id, "presence": "Offline", "message": ours_message})
    change = api.wait_for_change(started["changeId"])
    assert change["outcome"] == "applied", change

    day = api.get(f"/agents/{user_id}/timeline")
    unit = agent["businessUnit"]
    assert (day["userId"], day["timeZone"], day["timeZoneSource"]) == (user_id, unit["timeZone"], "businessUnit")
    assert day["dayStart"] <= day["generatedAt"] < day["dayEnd"]
    assert day["dayStartLocal"].startswith(f"{day['date']}T00:00:00.000")

    # the schedule: today's, from the search Validate caches, the Meeting covering now named by its activity code
    schedule = day["schedule"]
    assert (schedule["status"], schedule["cached"]) == ("known", True)
    activities = [a for shift in schedule["shifts"] for a in shift["activities"]]
    assert activities and all(a["start"] < day["dayEnd"] and a["end"] > day["dayStart"] for a in activities)
    now = [a for a in activities if a["start"] <= day["generatedAt"] < a["end"]]
    assert [(a["category"], a["description"]) for a in now] == [("Meeting", "Team coaching")]
    codes = {code["id"]: code["name"] for code in unit["activityCodes"]}
    assert now[0]["name"] == codes[now[0]["activityCodeId"]]

    # our change, once, as ours, and the presence it set from then on
    (ours,) = [c for c in day["changes"] if c["changeId"] == started["changeId"]]
    assert (ours["source"], ours["outcome"], ours["presenceChanged"]) == ("workflow", "applied", True)
    assert ours["newPresence"]["systemPresence"] == "Offline" and ours["message"] == ours_message
    assert ours["requestedBy"] and ours["at"] == change["details"]["newPresence"]["modifiedDate"]
    assert day["presence"][-1]["changeId"] == started["changeId"]
    assert day["presence"][-1]["systemPresence"] == "Offline"

    # the agent's own change in Genesys: an event, then an external entry after ours
    outside_message = f"timeline outside {uuid.uuid4().hex[:8]}"
    clicked = httpx.post(
        f"{stack.sim_url}/__sim/users/{user_id}/presence", json={"presence": "Available", "message": outside_message}
    )
    clicked.raise_for_status()

    def outside_seen() -> dict[str, Any] | None:
        later = api.get(f"/agents/{user_id}/timeline", date=day["date"])
        return later if any(c.get("message") == outside_message for c in later["changes"]) else None

    later = wait_for("the outside change in the timeline", outside_seen)
    ids = [c["changeId"] for c in later["changes"]]
    (outside,) = [c for c in later["changes"] if c.get("message") == outside_message]
    assert (outside["source"], outside["outcome"]) == ("external", "observed")
    assert outside["newPresence"]["systemPresence"] == "Available"
    assert outside["previousPresence"]["systemPresence"] == "Offline", "the presence our change set"
    assert outside["at"] == clicked.json()["presence"]["modifiedDate"]
    assert ids.index(started["changeId"]) < ids.index(outside["changeId"])
    assert [c["changeId"] for c in later["changes"] if c.get("message") == ours_message] == [started["changeId"]], (
        "our own write never becomes an external entry"
    )
    assert (later["presence"][-1]["systemPresence"], later["presence"][-1]["source"]) == ("Available", "external")

    # drawn in the terminal: the schedule's Meeting, our change and the agent's own marked on the axis
    assert cli.main(["timeline", user_id, "--date", day["date"], "--api", stack.api_url]) == cli.EXIT_OK
    drawn = capsys.readouterr().out.splitlines()
    schedule_lane = next(line for line in drawn if line.startswith("schedule  "))
    markers = next(line for line in drawn if line.startswith("changes   "))
    assert "G" in schedule_lane, "the Meeting"
    assert "+" in markers or ("*" in markers and "!" in markers)
    assert any(started["changeId"] in line and " ours " in line for line in drawn)
    assert any(outside["changeId"] in line and " outside " in line for line in drawn)
