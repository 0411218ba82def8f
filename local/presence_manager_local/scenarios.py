"""The scripted scenarios a-e, run through the HTTP API of a running local stack.

One place for both ``make demo`` (which prints them) and the end-to-end tests (which assert on them). Agents are
picked from the simulator's state by schedule pattern, never by hard-coded id."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PRESENCE_PATH = "/api/v2/users/{userId}/presences/purecloud"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})


@dataclass
class ScenarioResult:
    key: str
    title: str
    user_id: str
    agent: str
    expected_outcome: str
    change_id: str
    status: str
    outcome: str | None
    path: list[str]
    record: dict[str, Any]
    checks: dict[str, bool] = field(default_factory=dict)
    wait_seconds: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.outcome == self.expected_outcome and all(self.checks.values())


class Simulator:
    """The simulator's admin API."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=10)

    def state(self) -> dict[str, Any]:
        return self._http.get("/__sim/state").json()

    def fault(self, **fault: Any) -> str:
        response = self._http.post("/__sim/faults", json=fault)
        response.raise_for_status()
        return response.json()["id"]

    def clear_faults(self) -> None:
        self._http.delete("/__sim/faults")

    def requests(self) -> list[dict[str, Any]]:
        return self._http.get("/__sim/requests").json()["requests"]

    def reset(self) -> None:
        self._http.post("/__sim/reset").raise_for_status()


class Api:
    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(path, json=body)
        if response.status_code != 202:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
        return response.json()

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self._http.get(path, params=params or None)
        response.raise_for_status()
        return response.json()

    def wait_for_change(self, change_id: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.get(f"/presence-changes/{change_id}")
            if status["status"] in TERMINAL and status.get("outcome"):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"change {change_id} still {status['status']} after {timeout} s")
            time.sleep(0.25)


def pick_agents(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Distinct agents for the five scenarios, chosen by what they are scheduled to do now."""
    users = state["users"]

    def candidates(pattern: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True) -> list[dict]:
        return [u for u in users if u["schedulePattern"] == pattern and predicate(u)]

    off_queue_to_on_queue = candidates(
        "on_queue", lambda u: u["presence"]["systemPresence"] != "OnQueue" and u["routingStatus"] == "OFF_QUEUE"
    )
    if len(off_queue_to_on_queue) < 3:
        raise RuntimeError("the simulator org needs three on-shift agents who are not On Queue")
    return {
        "a": candidates("off_queue_work")[0],
        "b": off_queue_to_on_queue[0],
        "c": off_queue_to_on_queue[1],
        "d": candidates("off_shift")[0],
        "e": off_queue_to_on_queue[2],
    }


def execution_path(sfn: Any, execution_arn: str) -> tuple[list[str], list[float]]:
    """Entered state names in order, and the seconds each WaitRetryAfter actually waited."""
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    path, waits, entered_wait = [], [], None
    for event in events:
        details = event.get("stateEnteredEventDetails")
        if details:
            path.append(details["name"])
            if details["name"] == "WaitRetryAfter":
                entered_wait = event["timestamp"]
        exited = event.get("stateExitedEventDetails")
        if exited and exited["name"] == "WaitRetryAfter" and entered_wait is not None:
            waits.append((event["timestamp"] - entered_wait).total_seconds())
    return path, waits


def _patches_of(requests: list[dict[str, Any]], user_id: str, since: int) -> list[dict[str, Any]]:
    path = PRESENCE_PATH.replace("{userId}", user_id)
    return [r for r in requests[since:] if r["method"] == "PATCH" and r["path"] == path and r["status"] == 200]


def run_scenarios(api_url: str, sim_url: str, sfn: Any) -> list[ScenarioResult]:
    api, sim = Api(api_url), Simulator(sim_url)
    sim.clear_faults()
    state = sim.state()
    agents = pick_agents(state)
    skills = [s["id"] for s in state["skills"]]
    results: list[ScenarioResult] = []

    def run(
        key: str,
        title: str,
        expected: str,
        body: dict[str, Any],
        setup: Callable[[str], None] | None = None,
        checks: Callable[[ScenarioResult, int], dict[str, bool]] | None = None,
    ) -> None:
        agent = agents[key]
        if setup:
            setup(agent["id"])
        log_start = len(sim.requests())
        started = api.post("/presence-changes", {"userId": agent["id"], **body})
        status = api.wait_for_change(started["changeId"])
        path, waits = execution_path(sfn, started["executionArn"])
        result = ScenarioResult(
            key=key,
            title=title,
            user_id=agent["id"],
            agent=agent["name"],
            expected_outcome=expected,
            change_id=started["changeId"],
            status=status["status"],
            outcome=status.get("outcome"),
            path=path,
            record=status.get("details") or {},
            wait_seconds=waits,
        )
        if checks:
            result.checks = checks(result, log_start)
        sim.clear_faults()
        results.append(result)

    run(
        "a",
        "Available + custom message + two skill overrides",
        "applied",
        {
            "presence": "Available",
            "message": "Working the escalation backlog",
            "skillOverrides": [{"skillId": skills[0], "proficiency": 4}, {"skillId": skills[1], "proficiency": 2.5}],
            "reason": "demo a",
        },
        checks=lambda r, _: {
            "presence is Available": (r.record.get("newPresence") or {}).get("systemPresence") == "Available",
            "message set": (r.record.get("newPresence") or {}).get("message") == "Working the escalation backlog",
            "two skill changes": len(r.record.get("skillChanges", [])) == 2,
            "went through SkillOverride": "SkillOverride" in r.path,
        },
    )
    run(
        "b",
        "one concurrent edit between our read and our write",
        "applied",
        {"presence": "On Queue", "reason": "demo b"},
        setup=lambda user: sim.fault(kind="concurrent_edit", method="GET", path=PRESENCE_PATH, userId=user, count=1),
        checks=lambda r, _: {
            "one conflict retry": r.record.get("conflictRetries") == 1,
            "re-validated": r.path.count("Validate") == 2 and "ConflictBackoff" in r.path,
            "survived, not failed: no error, one attempt": "error" not in r.record
            and [(a["type"], a["count"]) for a in r.record.get("attempts", [])] == [("PreconditionFailed", 1)],
        },
    )
    run(
        "c",
        "429 with Retry-After 2 on our PATCH",
        "applied",
        {"presence": "On Queue", "reason": "demo c"},
        setup=lambda user: sim.fault(
            kind="rate_limit", method="PATCH", path=PRESENCE_PATH, userId=user, count=1, retryAfter=2
        ),
        checks=lambda r, _: {
            "one rate-limit wait": r.record.get("rateLimitWaits") == 1,
            "one WaitRetryAfter state": r.path.count("WaitRetryAfter") == 1,
            "waited ~2 s": len(r.wait_seconds) == 1 and 1.5 <= r.wait_seconds[0] <= 4.0,
            "re-validated after the wait": r.path[r.path.index("WaitRetryAfter") + 2] == "Validate",
            "survived, not failed: no error": "error" not in r.record,
        },
    )
    run(
        "d",
        "off-shift agent asked to go On Queue",
        "rejected",
        {"presence": "On Queue", "reason": "demo d"},
        checks=lambda r, log_start: {
            "reason names the shift": "no_active_shift"
            in [v["code"] for v in (r.record.get("policy") or {}).get("violations", [])],
            "no PATCH sent": not _patches_of(sim.requests(), r.user_id, log_start),
        },
    )
    run(
        "e",
        "presence changes after every read",
        "conflict",
        {"presence": "On Queue", "reason": "demo e"},
        setup=lambda user: sim.fault(kind="concurrent_edit", method="GET", path=PRESENCE_PATH, userId=user, count=1000),
        checks=lambda r, log_start: {
            "3 conflict retries": r.record.get("conflictRetries") == 3,
            "our write never landed": not _patches_of(sim.requests(), r.user_id, log_start),
            "execution failed": r.status == "FAILED",
        },
    )
    return results


def agent_summaries(api_url: str, user_ids: list[str]) -> list[dict[str, Any]]:
    api = Api(api_url)
    return [api.get(f"/agents/{user_id}/metrics") for user_id in user_ids]
