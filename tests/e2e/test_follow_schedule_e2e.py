"""End to end: presence that follows the schedule (scenario f of ``make demo``) on the local stack. A Break put on
three on-queue agents' shifts a couple of minutes from now is planned with lead 1 minute; one agent changes their own
presence a moment before (seen through the Genesys events); the local scheduler starts ONE bulk change at the planned
instant, which moves the other two to the Break presence and leaves the one who clicked alone
(``agent_changed_presence_recently``); both timelines show the schedule's Break beside our change and the agent's
own. Automation is turned off afterwards, which deletes the unit's remaining schedules."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from presence_manager.planner import FROZEN_SECONDS, instant_of, unit_prefix
from presence_manager.timeutil import parse_instant
from presence_manager_local.scenarios import (
    FIRE_TOLERANCE_SECONDS,
    FollowScheduleResult,
    Simulator,
    run_follow_schedule,
)
from presence_manager_local.timeline_view import render_timeline

pytestmark = pytest.mark.e2e


@dataclass
class Run:
    result: FollowScheduleResult
    fired: list[dict[str, str]]  # what the local scheduler fired meanwhile: {"schedule", "executionArn"}


@pytest.fixture(scope="module")
def run(stack: Any) -> Iterator[Run]:
    """Scenario f run once on a freshly reset simulator (schedules, presences and business hours around now); the
    simulator is reset again afterwards, so the Break and the moved presences stay in this module."""
    sim = Simulator(stack.sim_url)
    sim.reset()
    stack._reset_caches()  # warm Lambdas' cached schedule searches belong to the schedules before the reset
    fired_before = len(stack._scheduler.fired)
    try:
        result = run_follow_schedule(stack.api_url, stack.sim_url, stack.boto3_client("stepfunctions"))
        yield Run(result, stack._scheduler.fired[fired_before:])
    finally:
        sim.reset()
        stack._reset_caches()


@pytest.fixture(scope="module")
def follow(run: Run) -> FollowScheduleResult:
    return run.result


def test_given_a_break_two_minutes_away_then_the_schedule_fires_at_the_planned_instant_once_for_the_group(
    run: Run, follow: FollowScheduleResult
) -> None:
    assert follow.activity["userIds"] == [a["id"] for a in follow.agents]
    assert follow.activity["activity"]["category"] == "Break"
    assert follow.plan is not None and follow.plan["status"] == "planned"
    assert follow.instant is not None, f"no instant {follow.planned_instant} in {follow.plan['instants']}"
    assert follow.instant["presence"] == "Break" and follow.instant["category"] == "Break"
    assert follow.instant["agents"] >= 3
    planned_at = follow.plan["plannedAt"]
    assert follow.planned_instant == follow.break_start - timedelta(minutes=1)
    assert (follow.planned_instant - _at(planned_at)).total_seconds() >= 30, "planned ahead of the frozen horizon"

    # the local scheduler started the Break's schedule (and only it, for these agents) at its instant
    (schedule_name,) = follow.instant["schedules"]
    fired = [f for f in run.fired if f["schedule"] == schedule_name]
    assert len(fired) == 1
    assert follow.bulk is not None and fired[0]["executionArn"] == follow.bulk["executionArn"]
    assert follow.fired_at is not None
    assert abs((follow.fired_at - follow.planned_instant).total_seconds()) <= FIRE_TOLERANCE_SECONDS

    # one bulk change, requested by the automation, judged against the Break it prepares for
    assert {r["bulkId"] for r in follow.records.values()} == {follow.bulk["bulkId"]}
    assert len(follow.records) == 3
    assert all(r["requestedBy"] == f"automation:{follow.management_unit_id}" for r in follow.records.values())
    assert follow.bulk["status"] == "SUCCEEDED"
    outcomes = {a["userId"]: a["outcome"] for a in follow.bulk["agents"]}
    assert {u: outcomes[u] for u in follow.records} == {u: r["outcome"] for u, r in follow.records.items()}
    assert follow.checks, "the scenario's checks ran"
    assert all(follow.checks.values()), [name for name, ok in follow.checks.items() if not ok]


def test_given_the_break_then_the_others_are_in_the_break_presence(follow: FollowScheduleResult) -> None:
    for agent in follow.moved:
        record = follow.records[agent["id"]]
        assert record["outcome"] == "applied", record
        assert record["newPresence"]["definitionId"] == follow.break_presence_id
        now = follow.presences[agent["id"]]
        assert (now["definitionId"], now["systemPresence"]) == (follow.break_presence_id, "Break")


def test_given_an_agent_who_changed_their_own_presence_a_moment_before_then_they_are_left_alone(
    follow: FollowScheduleResult,
) -> None:
    clicker = follow.clicker["id"]
    assert follow.own_change is not None, "the agent's own change was observed"
    assert follow.own_change["source"] == "external" and follow.own_change["outcome"] == "observed"
    assert follow.own_change_seen_at is not None and follow.own_change_seen_at < follow.planned_instant

    record = follow.records[clicker]
    assert record["outcome"] == "rejected"
    assert follow.violations(clicker) == ["agent_changed_presence_recently"]
    assert follow.own_presence is not None
    now = follow.presences[clicker]
    assert now["definitionId"] == follow.own_presence["definitionId"] != follow.break_presence_id
    assert now["message"] == follow.own_message
    assert now["modifiedDate"] == follow.own_presence["modifiedDate"], "nothing written after the agent's click"


def test_given_the_day_then_the_timelines_show_the_break_our_change_and_the_agents_own(
    follow: FollowScheduleResult,
) -> None:
    def breaks(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            a
            for day in days
            for shift in day["schedule"]["shifts"]
            for a in shift["activities"]
            if a["category"] == "Break" and _at(a["start"]) == follow.break_start
        ]

    def change(days: list[dict[str, Any]], change_id: str) -> dict[str, Any]:
        (found,) = [c for day in days for c in day["changes"] if c["changeId"] == change_id]
        return found

    clicker, moved = follow.clicker["id"], follow.moved[0]["id"]
    days = follow.timelines[clicker]
    (scheduled,) = breaks(days)
    assert _at(scheduled["end"]) - _at(scheduled["start"]) == timedelta(minutes=15)
    assert scheduled["activityCodeId"] == follow.activity["activity"]["activityCodeId"]
    assert follow.own_change is not None
    own = change(days, follow.own_change["changeId"])
    ours = change(days, follow.records[clicker]["changeId"])
    assert (own["source"], own["outcome"]) == ("external", "observed")
    assert (ours["source"], ours["outcome"], ours["presenceChanged"]) == ("workflow", "rejected", False)
    assert ours["requestedBy"] == f"automation:{follow.management_unit_id}"
    drawn = "\n".join(line for day in days for line in render_timeline(day))
    assert f"{own['changeId']}" in drawn and f"{ours['changeId']}" in drawn
    assert any(line.startswith("schedule  ") and "B" in line for line in drawn.splitlines()), "the Break drawn"

    moved_days = follow.timelines[moved]
    assert len(breaks(moved_days)) == 1
    applied = change(moved_days, follow.records[moved]["changeId"])
    assert (applied["source"], applied["outcome"], applied["presenceChanged"]) == ("workflow", "applied", True)
    assert applied["newPresence"]["systemPresence"] == "Break"


def test_given_automation_turned_off_afterwards_then_none_of_the_units_schedules_remain(
    stack: Any, run: Run, follow: FollowScheduleResult
) -> None:
    assert follow.disabled is not None and follow.disabled["enabled"] is False
    assert follow.plan is not None
    prefix = unit_prefix(follow.management_unit_id)
    scheduler = stack.boto3_client("scheduler")
    group = stack.template.physical["AutomationScheduleGroup"]["Ref"]
    left = [s["Name"] for s in scheduler.list_schedules(GroupName=group, NamePrefix=prefix)["Schedules"]]
    # only a schedule due within the frozen horizon when automation went off may be left (it may be firing)
    off_at = _at(follow.disabled["updatedAt"])
    late = [name for name in left if (instant_of(name, prefix) or off_at) > off_at + timedelta(seconds=FROZEN_SECONDS)]
    assert late == []
    planned = [name for instant in follow.plan["instants"] for name in instant["schedules"]]
    fired = [f["schedule"] for f in run.fired if f["schedule"] in planned]
    assert follow.disabled["schedulesRemoved"] + len(fired) + len(left) == len(planned), (planned, fired, left)
    assert len(fired) >= 1, "the Break's schedule fired and deleted itself"


def _at(value: str) -> datetime:
    return parse_instant(value)
