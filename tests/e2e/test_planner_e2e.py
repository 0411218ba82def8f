"""Presence that follows the schedule, on the local stack: the planner run over a generated management unit of 1,000
agents creates one EventBridge Scheduler schedule per distinct (instant, presence) transition in the simulator's
published schedules - not one per agent - each starting one bulk change, and a second run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from presence_manager.planner import FROZEN_SECONDS, unit_prefix
from presence_manager.timeutil import parse_instant

pytestmark = pytest.mark.e2e

AGENTS = 1000
SEARCH_ROUTE = "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search"


@pytest.fixture(scope="module")
def unit(stack: Any) -> Iterator[dict[str, Any]]:
    """A generated org whose one management unit has 1,000 agents; the local scheduler is held (nothing fires while
    the test looks at the schedules) and the automation group emptied afterwards; the fixture org is back after."""
    admin = httpx.Client(base_url=stack.sim_url, timeout=60)
    admin.post("/__sim/reset", json={"agents": AGENTS, "managementUnits": 1}).raise_for_status()
    stack._reset_caches()  # warm Lambdas' cached units and definitions belong to the previous org
    scheduler = stack.boto3_client("scheduler")
    group = stack.template.physical["AutomationScheduleGroup"]["Ref"]
    try:
        with stack._scheduler.paused():
            (management_unit,) = admin.get("/__sim/state", params={"users": "false"}).json()["managementUnits"]
            yield {**management_unit, "group": group}
            api = httpx.Client(base_url=stack.api_url, timeout=60)
            api.put(f"/management-units/{management_unit['id']}/automation", json={"enabled": False})
            for schedule in scheduler.list_schedules(GroupName=group)["Schedules"]:
                scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
    finally:
        admin.post("/__sim/reset", json={"agents": None}).raise_for_status()
        stack._reset_caches()


def distinct_transitions(unit: dict[str, Any], plan: dict[str, Any]) -> set[tuple[str, str]]:
    """(instant, presence id) of every activity change in the unit's published schedules that a plan made at
    ``plannedAt`` should follow: WFM's own mapping (an activity code's first secondary presence), lead 1 minute,
    instants on whole minutes after the frozen horizon and within the window, unchanged presences left out."""
    from presence_manager.genesys.client import client_from_env

    genesys = client_from_env()
    now, end = parse_instant(plan["windowStart"]), parse_instant(plan["windowEnd"])
    users = [user.id for user in genesys.get_management_unit_users(unit["id"])]
    assert len(users) == AGENTS
    schedules = genesys.search_agent_schedules(unit["id"], now, end + timedelta(minutes=1), users)
    codes = genesys.get_activity_codes(unit["businessUnitId"])
    presence_of = {code.id: code.secondary_presences[0].id for code in codes if code.secondary_presences}
    found: set[tuple[str, str]] = set()
    for agent in schedules.agent_schedules:
        for shift in agent.shifts:
            previous: tuple[str | None, datetime] | None = None
            for activity in sorted(shift.activities, key=lambda a: a.start_date):
                presence = presence_of.get(activity.activity_code_id or "")
                start = activity.start_date
                unchanged = previous is not None and previous[1] >= start and previous[0] == presence
                previous = (presence, start + timedelta(minutes=activity.length_minutes))
                instant = (start - timedelta(minutes=1)).replace(second=0, microsecond=0)
                due = instant <= now + timedelta(seconds=FROZEN_SECONDS)
                if start > now and not due and instant <= end and presence is not None and not unchanged:
                    found.add((instant.strftime("%Y-%m-%dT%H:%M:00.000Z"), presence))
    return found


def test_given_a_1000_agent_unit_then_the_planner_creates_one_schedule_per_distinct_instant_not_per_agent(
    stack: Any, unit: dict[str, Any]
) -> None:
    api = httpx.Client(base_url=stack.api_url, timeout=60)
    path = f"/management-units/{unit['id']}/automation"
    enabled = api.put(path, json={"enabled": True, "leadMinutes": 1})
    assert enabled.status_code == 200, enabled.text
    log = httpx.Client(base_url=stack.sim_url, timeout=60)
    log_start = len(log.get("/__sim/requests").json()["requests"])

    first = api.post(f"{path}/plan")
    assert first.status_code == 200, first.text
    plan = first.json()
    searches = [r for r in log.get("/__sim/requests").json()["requests"][log_start:] if r["route"] == SEARCH_ROUTE]
    assert len(searches) == 1, "one schedule search for the whole unit"

    expected = distinct_transitions(unit, plan)
    assert plan["status"] == "planned"
    assert {(i["at"], i["presenceId"]) for i in plan["instants"]} == expected
    assert plan["schedules"]["created"] == len(expected) == len(plan["instants"])
    moved = sum(i["agents"] for i in plan["instants"])
    assert moved >= 5 * len(expected), f"{moved} agent moves in {len(expected)} schedules"
    assert len(expected) < AGENTS / 10, "schedules per instant, not per agent"

    scheduler = stack.boto3_client("scheduler")
    listed = scheduler.list_schedules(GroupName=unit["group"], NamePrefix=unit_prefix(unit["id"]))["Schedules"]
    assert len(listed) == len(expected)
    bulk_arn = stack.template.physical["BulkChangeStateMachine"]["Arn"]
    by_name = {name: instant for instant in plan["instants"] for name in instant["schedules"]}
    for summary in listed:
        schedule = scheduler.get_schedule(Name=summary["Name"], GroupName=unit["group"])
        instant = by_name[summary["Name"]]
        body = json.loads(schedule["Target"]["Input"])
        assert schedule["Target"]["Arn"] == bulk_arn
        assert schedule["ScheduleExpression"] == f"at({instant['at'][:19]})"
        assert (len(body["userIds"]), body["presence"]) == (instant["agents"], instant["presenceId"])
        assert body["requestedBy"] == f"automation:{unit['id']}" and body["respectOwnChangesMinutes"] == 10

    second = api.post(f"{path}/plan").json()
    assert second["status"] == "planned"
    changes = second["schedules"]
    assert (changes["created"], changes["updated"], changes["deleted"]) == (0, 0, 0), changes
    assert changes["unchanged"] + changes["kept"] == len(expected)
    again = scheduler.list_schedules(GroupName=unit["group"], NamePrefix=unit_prefix(unit["id"]))["Schedules"]
    assert {s["Name"] for s in again} == {s["Name"] for s in listed}

    shown = api.get(path).json()
    assert shown["enabled"] is True and shown["lastPlan"]["schedules"]["unchanged"] == changes["unchanged"]
