"""End to end through the local API and the CLI: a bulk change over the management unit with progress and per-agent
outcomes, each agent's audit trail and metrics read back, and a time-boxed skill override reverted by its schedule."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import pytest

from presence_manager_local.scenarios import Api, Simulator

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def org(stack: Any) -> dict[str, Any]:
    sim = Simulator(stack.sim_url)
    sim.reset()
    return sim.state()


def run_cli(stack: Any, *args: str, json_output: bool = True) -> tuple[int, Any, str]:
    """The installed CLI in its own process, as a user or a script runs it."""
    command = [sys.executable, "-m", "presence_manager_local.cli", "--api", stack.api_url]
    result = subprocess.run(
        [*command, *(["--json"] if json_output else []), *args], capture_output=True, text=True, timeout=300
    )
    out = result.stdout
    return result.returncode, (json.loads(out) if json_output and out.strip() else out), result.stderr


def test_given_a_management_unit_when_the_cli_runs_a_bulk_change_then_every_agent_has_an_outcome_and_a_trail(
    stack: Any, org: dict[str, Any]
) -> None:
    unit = org["managementUnits"][0]
    users = {u["id"]: u for u in org["users"]}
    code, bulk, _ = run_cli(stack, "bulk", "--management-unit", unit["id"], "--presence", "Offline", "--message", "EOD")
    assert bulk["bulkId"].startswith("blk-")
    assert bulk["status"] == "SUCCEEDED"
    outcomes = {agent["userId"]: agent["outcome"] for agent in bulk["agents"]}
    assert set(outcomes) == set(unit["userIds"])
    live = [u for u in unit["userIds"] if users[u]["routingStatus"] in {"INTERACTING", "COMMUNICATING"}]
    assert live, "the fixture has an agent on a live interaction"
    for user_id, outcome in outcomes.items():
        assert outcome == ("rejected" if user_id in live else "applied"), users[user_id]["name"]
    assert code == 0
    state = Simulator(stack.sim_url).state()
    offline = {u["id"] for u in state["users"] if u["presence"]["systemPresence"] == "Offline"}
    assert offline >= set(unit["userIds"]) - set(live)

    someone = next(u for u in unit["userIds"] if u not in live)
    code, audit, _ = run_cli(stack, "audit", someone)
    assert code == 0
    assert audit["items"][0]["outcome"] == "applied"
    assert audit["items"][0]["message"] == "EOD"
    assert audit["items"][0]["changeId"] in {a["changeId"] for a in bulk["agents"]}
    code, metrics, _ = run_cli(stack, "metrics", someone)
    assert code == 0
    assert metrics["totalUpdates"] >= 1
    assert metrics["averageLatencyMs"] > 0
    assert metrics["conflictRate"] == 0


def test_given_users_when_a_bulk_change_runs_then_each_agent_keeps_its_own_audit_record(
    stack: Any, org: dict[str, Any]
) -> None:
    off_shift = [u["id"] for u in org["users"] if u["schedulePattern"] == "off_shift"][:2]
    code, bulk, _ = run_cli(stack, "bulk", "--users", *off_shift, "--presence", "On Queue")
    assert {a["outcome"] for a in bulk["agents"]} == {"rejected"}
    assert code == 0, "a rejection is the policy working, not a failure"
    api = Api(stack.api_url)
    for agent in bulk["agents"]:
        items = api.get(f"/agents/{agent['userId']}/audit")["items"]
        assert items[0]["changeId"] == agent["changeId"]


def test_given_bad_input_then_the_cli_exits_2_and_names_the_problem(stack: Any, org: dict[str, Any]) -> None:
    user = org["users"][0]["id"]
    code, _, err = run_cli(stack, "apply", user, "--presence", "Nap time", json_output=False)
    assert code == 2
    assert "unknown_presence" in err
    assert run_cli(stack, "status", "chg-does-not-exist", json_output=False)[0] == 4


def test_given_a_time_boxed_skill_override_then_its_schedule_reverts_it_and_the_revert_is_audited(
    stack: Any, org: dict[str, Any]
) -> None:
    agent = next(u for u in org["users"] if u["schedulePattern"] == "off_queue_work")
    skill = next(s for s in org["skills"] if s["id"] not in {k["id"] for k in agent["skills"]})
    code, change, _ = run_cli(stack, "apply", agent["id"], "--presence", "Available", "--skill", f"{skill['id']}:5::1")
    assert code == 0 and change["outcome"] == "applied"
    revert_at = change["details"]["skillChanges"][0]["revertAt"]
    assert revert_at
    sim = Simulator(stack.sim_url)
    assert skill["id"] in {s["id"] for s in _user(sim, agent["id"])["skills"]}
    deadline = time.monotonic() + 150
    api = Api(stack.api_url)
    while time.monotonic() < deadline:
        items = api.get(f"/agents/{agent['id']}/audit")["items"]
        revert = next((i for i in items if i.get("revertOf") == change["changeId"]), None)
        if revert:
            break
        time.sleep(2)
    else:
        pytest.fail("the revert never ran")
    assert revert["outcome"] == "applied"
    assert revert["requestedBy"] == "scheduler:revert"
    assert revert["skillChanges"][0]["after"]["state"] == "deleted"
    assert skill["id"] not in {s["id"] for s in _user(sim, agent["id"])["skills"]}, "the agent did not have it before"


def _user(sim: Simulator, user_id: str) -> dict[str, Any]:
    return next(u for u in sim.state()["users"] if u["id"] == user_id)
