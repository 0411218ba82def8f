"""A bulk change over a few hundred agents of a generated org, through the Distributed Map on the local stack:
agents on a live interaction, off shift, changed under us, and a 429 in the middle - each agent ends with the right
outcome and exactly one audit record, the bulk's status comes from DynamoDB, and no batch's state grows with size."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from presence_manager_local.scenarios import Api, Simulator, execution_path

pytestmark = pytest.mark.e2e

AGENTS = 600
BULK_PATH = "/api/v2/users/presences/bulk"
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@pytest.fixture(scope="module")
def org(stack: Any) -> Iterator[dict[str, Any]]:
    """A generated org of 600 agents in three business units; the fixture org is back afterwards."""
    admin = httpx.Client(base_url=stack.sim_url, timeout=30)
    admin.post("/__sim/reset", json={"agents": AGENTS}).raise_for_status()
    stack._reset_caches()  # warm Lambdas' cached directory and definitions belong to the previous org
    try:
        yield admin.get("/__sim/state").json()
    finally:
        admin.post("/__sim/reset", json={"agents": None}).raise_for_status()
        stack._reset_caches()


def wait_for_bulk(api: Api, bulk_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = api.get(f"/bulk-changes/{bulk_id}", limit="1")
        if status["status"] in TERMINAL:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"bulk {bulk_id} still {status['status']}")
        time.sleep(0.5)


def run_bulk(api: Api, users: list[dict[str, Any]], **change: str) -> tuple[str, dict[str, Any]]:
    """POST a bulk change of ``users`` (202 expected) and wait for it to end: its id and its final status."""
    started = api._http.post("/bulk-changes", json={"userIds": [u["id"] for u in users], **change})
    assert started.status_code == 202, started.text
    bulk_id = str(started.json()["bulkId"])
    return bulk_id, wait_for_bulk(api, bulk_id)


def all_agents(api: Api, bulk_id: str, **query: str) -> list[dict[str, Any]]:
    agents, token = [], None
    while True:
        page = api.get(f"/bulk-changes/{bulk_id}", limit="100", **query, **({"nextToken": token} if token else {}))
        agents.extend(page["agents"])
        token = page.get("nextToken")
        if not token:
            return agents


def audit_count(api: Api, user_id: str, change_id: str) -> int:
    items = api.get(f"/agents/{user_id}/audit", limit="100")["items"]
    return sum(1 for item in items if item["changeId"] == change_id)


def test_given_a_business_unit_going_offline_then_every_agent_has_one_outcome_and_one_record(
    stack: Any, org: dict[str, Any]
) -> None:
    api, sim = Api(stack.api_url), Simulator(stack.sim_url)
    new_york = org["businessUnits"][0]["id"]
    users = [u for u in org["users"] if u["businessUnitId"] == new_york]
    assert len(users) >= 150, "a few hundred agents"
    admin = httpx.Client(base_url=stack.sim_url, timeout=30)
    on_queue = [u for u in users if u["schedulePattern"] == "on_queue"]
    on_queue = [u for u in on_queue if u["routingStatus"] not in {"INTERACTING", "COMMUNICATING"}]
    live = on_queue[:5]  # On Queue and on a live interaction: Offline would take them off queue
    for user in live:
        admin.post(f"/__sim/users/{user['id']}/presence", json={"presence": "On Queue"}).raise_for_status()
        admin.post(f"/__sim/users/{user['id']}/routingstatus", json={"status": "INTERACTING"}).raise_for_status()
    clicked = on_queue[10]  # changes presence right after our first read of it
    sim.fault(kind="concurrent_edit", userId=clicked["id"], count=1)
    sim.fault(kind="rate_limit", method="PUT", path=BULK_PATH, count=1, retryAfter=1)  # one batch's write: 429
    log_start = len(sim.requests())

    bulk_id, status = run_bulk(api, users, presence="Offline", message="EOD")
    sim.clear_faults()

    assert status["status"] == "SUCCEEDED"
    assert (status["total"], status["done"]) == (len(users), len(users))
    counters_only = api.get(f"/bulk-changes/{bulk_id}", limit="0")  # what the CLI's progress bar polls
    assert (counters_only["agents"], counters_only["nextToken"]) == ([], None)
    assert counters_only["outcomes"] == status["outcomes"] and counters_only["done"] == len(users)
    assert status["batches"] == -(-len(users) // 50) or status["batches"] > len(users) // 50
    agents = {a["userId"]: a for a in all_agents(api, bulk_id)}
    assert len(agents) == len(users), "every agent once"
    already_live = {
        u["id"]
        for u in users
        if u["presence"]["systemPresence"] == "OnQueue" and u["routingStatus"] in {"INTERACTING", "COMMUNICATING"}
    }
    live_ids = {u["id"] for u in live} | already_live
    for user in users:
        agent = agents[user["id"]]
        assert agent["outcome"] == ("rejected" if user["id"] in live_ids else "applied"), (user, agent["reason"])
    # Its presence moved under us: either our compare caught it (a conflict retry), or a wait for the rate budget
    # sent the batch back through Validate first. Either way the write was compared against the agent's own click.
    clicked_record = next(
        item
        for item in api.get(f"/agents/{clicked['id']}/audit", limit="10")["items"]
        if item["changeId"] == agents[clicked["id"]]["changeId"]
    )
    before = clicked["presence"]["systemPresence"]
    assert clicked_record["previousPresence"]["systemPresence"] != before, "compared with the click, not before it"
    waited = clicked_record.get("rateLimitWaits", 0) + clicked_record.get("budgetWaits", 0)
    assert clicked_record["conflictRetries"] == 1 or waited >= 1, clicked_record
    assert Counter(a["outcome"] for a in agents.values()) == Counter(status["outcomes"])
    rejected = all_agents(api, bulk_id, outcome="rejected")
    assert {a["userId"] for a in rejected} == live_ids, "filter by outcome"
    for user_id in [*live_ids, clicked["id"], users[0]["id"]]:
        assert audit_count(api, user_id, agents[user_id]["changeId"]) == 1

    requests = sim.requests()[log_start:]
    assert sum(1 for r in requests if r["status"] == 429 and r["path"] == BULK_PATH) == 1, "the injected one only"
    writes = [r for r in requests if r["method"] == "PUT" and r["path"] == BULK_PATH and r["status"] == 200]
    assert len(writes) <= -(-len(users) // 50) + 2, "one bulk write per batch (+ the retried one)"
    assert not [r for r in requests if r["method"] == "PATCH"], "never one write per agent"
    per_agent = [r for r in requests if "{userId}" in r["route"] or "{agentId}" in r["route"]]
    assert not per_agent, "never one Genesys call per agent: batches read and write in bulk"
    calls = [r for r in requests if r["path"].startswith("/api/v2/")]
    assert len(calls) / len(users) <= 0.3, f"{len(calls)} Genesys calls for {len(users)} agents (bench: 1,000+)"
    state = {u["id"]: u for u in admin.get("/__sim/state").json()["users"]}
    assert all(state[u["id"]]["presence"]["systemPresence"] == "Offline" for u in users if u["id"] not in live_ids)
    assert all(state[u]["presence"]["systemPresence"] == "OnQueue" for u in live_ids)


def test_given_agents_off_shift_asked_to_go_on_queue_then_they_are_rejected_and_the_others_applied(
    stack: Any, org: dict[str, Any]
) -> None:
    api = Api(stack.api_url)
    new_york = org["businessUnits"][0]["id"]
    users = [
        u for u in org["users"] if u["businessUnitId"] == new_york and u["schedulePattern"] in {"on_queue", "off_shift"}
    ][:120]
    bulk_id, status = run_bulk(api, users, presence="On Queue")
    assert status["status"] == "SUCCEEDED"
    agents = {a["userId"]: a for a in all_agents(api, bulk_id)}
    for user in users:
        expected = "applied" if user["schedulePattern"] == "on_queue" else "rejected"
        assert agents[user["id"]]["outcome"] == expected, (user["name"], agents[user["id"]]["reason"])
    path, _ = execution_path(stack.boto3_client("stepfunctions"), status["executionArn"])
    assert path == ["PlanBatches", "ChangeEachBatch", "Summarize"], "batches run as the Map's child executions"


def test_given_a_batch_locked_update_that_runs_out_of_time_after_its_write_then_no_agent_is_written_twice(
    stack: Any, org: dict[str, Any]
) -> None:
    """Lambda stops the batch's LockedUpdate after its bulk write went out (``Sandbox.Timedout``: the batch it would
    have returned is lost). The agents it was writing are unconfirmed writes, as for one change: after the settle
    wait LockedUpdate re-reads them under their leases and finds the write landed - applied, one write in all."""
    from presence_manager_local.aws_faults import AwsFaults

    api, sim = Api(stack.api_url), Simulator(stack.sim_url)
    live = httpx.Client(base_url=stack.sim_url, timeout=30).get("/__sim/state").json()["users"]
    untouched = org["businessUnits"][-1]["id"]  # the other tests change agents of the first business unit
    users = [
        u
        for u in live
        if u["businessUnitId"] == untouched
        and u["schedulePattern"] == "on_queue"
        and u["routingStatus"] == "OFF_QUEUE"
        and u["presence"]["systemPresence"] not in {"Offline", "OnQueue"}
    ][:5]
    assert len(users) == 5
    faults = AwsFaults(stack).install()
    try:
        timed_out = faults.time_out_after("LockedUpdateFunction", users[0]["id"])
        log_start = len(sim.requests())
        bulk_id, status = run_bulk(api, users, presence="Offline", message="timed out")
    finally:
        faults.uninstall()
    assert timed_out.applied == 1, "the batch's first LockedUpdate was answered Sandbox.Timedout"
    reasons = {a["userId"]: a["reason"] for a in all_agents(api, bulk_id) if a["outcome"] != "applied"}
    assert status["status"] == "SUCCEEDED" and status["outcomes"] == {"applied": 5}, (status, reasons)
    writes = [r for r in sim.requests()[log_start:] if r["method"] == "PUT" and r["path"] == BULK_PATH]
    assert len(writes) == 1, "the lost step's write landed and is never sent again"
    for agent in all_agents(api, bulk_id):
        (record,) = [
            i for i in api.get(f"/agents/{agent['userId']}/audit")["items"] if i["changeId"] == agent["changeId"]
        ]
        assert record["newPresence"]["message"] == "timed out"
        assert {a["type"] for a in record.get("attempts", [])} == {"GenesysWriteUnconfirmed"}, record
