"""No state payload grows with the size of a bulk change: a real bulk change over a 500-agent management unit
(10 batches) through the local engine, with every step's input and output measured (what Step Functions caps at
256 KiB per step) and the parent execution's history events measured too. A batch's state is bounded by its 50
agents and the parent's by the plan (the Map's output is discarded), so the same bound holds at 10,000 agents:
`make bench` runs that size and reports its largest payload. Genesys's rate limit is lifted for this run (the
benchmark measures it)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from presence_manager_local.scenarios import Api

pytestmark = pytest.mark.e2e

AGENTS = 500
LIMIT = 200_000  # bytes: well below Step Functions' 256 KiB per step
LIFTED = {"GENESYS_RATE_PER_MINUTE": "10000000", "GENESYS_RATE_BURST": "1000000"}


@pytest.fixture(scope="module")
def big_unit(stack: Any) -> Iterator[dict[str, Any]]:
    """One management unit of 10,000 agents; Genesys's rate limit and our budget lifted; all restored after."""
    admin = httpx.Client(base_url=stack.sim_url, timeout=60)
    saved_limit = admin.get("/__sim/config").json()["rateLimitPerMinute"]
    saved_env = {key: os.environ.get(key) for key in LIFTED}
    admin.post("/__sim/reset", json={"agents": AGENTS, "managementUnits": 1}).raise_for_status()
    admin.patch("/__sim/config", json={"rateLimitPerMinute": 10_000_000}).raise_for_status()
    os.environ.update(LIFTED)
    stack._reset_caches()
    try:
        yield admin.get("/__sim/state", params={"users": "false"}).json()
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        admin.patch("/__sim/config", json={"rateLimitPerMinute": saved_limit}).raise_for_status()
        admin.post("/__sim/reset", json={"agents": None}).raise_for_status()
        stack._reset_caches()


def test_given_a_500_agent_bulk_change_then_no_step_is_given_or_returns_more_than_200_kb(
    stack: Any, big_unit: dict[str, Any]
) -> None:
    api = Api(stack.api_url)
    unit = big_unit["managementUnits"][0]["id"]
    first_invocation = len(stack.invocations())
    started = api._http.post("/bulk-changes", json={"managementUnitId": unit, "presence": "Offline", "message": "x"})
    assert started.status_code == 202, started.text
    bulk_id, arn = started.json()["bulkId"], started.json()["executionArn"]
    deadline = time.monotonic() + 600
    while (status := api.get(f"/bulk-changes/{bulk_id}", limit="1"))["status"] == "RUNNING":
        assert time.monotonic() < deadline, status
        time.sleep(1)
    assert status["status"] == "SUCCEEDED", status
    assert (status["total"], status["done"]) == (AGENTS, AGENTS), "every agent has its outcome recorded"

    steps = stack.invocations()[first_invocation:]
    assert len({s["function"] for s in steps}) >= 6, "plan, validate, update, export, record, summary all ran"
    largest = max(steps, key=lambda s: max(s["inputBytes"], s["outputBytes"]))
    assert max(largest["inputBytes"], largest["outputBytes"]) < LIMIT, largest
    events: list[dict[str, Any]] = []
    sfn = stack.boto3_client("stepfunctions")
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
        events.extend(page["events"])
    sizes = [
        len(details.get("input") or details.get("output") or "")
        for event in events
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
    ]
    assert max(sizes) < LIMIT, f"the bulk execution's largest state is {max(sizes)} bytes"
    print(
        json.dumps(
            {
                "agents": AGENTS,
                "largestStepPayloadBytes": max(largest["inputBytes"], largest["outputBytes"]),
                "largestStepFunction": largest["function"],
                "largestParentStateBytes": max(sizes),
                "parentHistoryEvents": len(events),
            }
        )
    )
