"""The scripted scenarios a-f, run through the HTTP API of a running local stack.

One place for both ``make demo`` (which prints them) and the end-to-end tests (which assert on them). Agents are
picked from the simulator's state by schedule pattern, never by hard-coded id."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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

    def set_presence(self, user_id: str, presence: str, message: str | None = None) -> dict[str, Any]:
        """The agent changes their own presence, as if they clicked in their client (answers the user's state)."""
        response = self._http.post(f"/__sim/users/{user_id}/presence", json={"presence": presence, "message": message})
        response.raise_for_status()
        return response.json()

    def add_activity(self, management_unit_id: str, **activity: Any) -> dict[str, Any]:
        """Put a scheduled activity on agents' shifts (``category``, ``startsInMinutes``, ``lengthMinutes``,
        ``userIds``, ...): what schedule searches answer from then on."""
        response = self._http.post(f"/__sim/managementunits/{management_unit_id}/activities", json=activity)
        if response.status_code != 201:
            raise RuntimeError(f"the simulator refused the activity ({response.status_code}): {response.text}")
        return response.json()


class Api:
    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=30)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(path, json=body)
        if response.status_code != 202:
            raise RuntimeError(f"POST {path} answered {response.status_code}: {response.text}")
        return response.json()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """Any route answering 200 (``PUT`` automation, ``POST`` plan, ...)."""
        response = self._http.request(method, path, json=body)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
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


# ---- scenario f: presence follows the schedule ------------------------------------------------------------------

FOLLOW_AGENTS = 3
BREAK_MINUTES = 15
LEAD_MINUTES = 1
RESPECT_OWN_CHANGES_MINUTES = 10
#: the planned instant is at least this far ahead when planning starts (the planner leaves alone what is due within
#: 30 s, and the plan itself takes a moment)
PLAN_AHEAD_SECONDS = 45
#: the local scheduler looks for due schedules every second: a schedule starts its bulk within this of its instant
FIRE_TOLERANCE_SECONDS = 5
#: what the agent who clicks a moment before the break chooses in their client
OWN_PRESENCE = "Available"


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _poll(probe: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """``probe()`` until it answers something truthy (returned), or ``None`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value or None
        time.sleep(interval)


@dataclass
class FollowScheduleResult:
    """Scenario f: a Break put on agents' schedules minutes from now; automation (lead 1 minute) plans it, the local
    scheduler starts one bulk change at the planned instant, the agents go to the Break presence - but for one who
    changed their own presence a moment before, who is left alone."""

    management_unit_id: str
    management_unit_name: str
    time_zone: str
    agents: list[dict[str, Any]]  # the simulator's users, as picked; the last one clicks
    activity: dict[str, Any]  # the simulator's answer: the Break and who got it
    plan: dict[str, Any] | None = None
    instant: dict[str, Any] | None = None  # the plan's instant of the Break
    own_message: str | None = None
    own_presence: dict[str, Any] | None = None  # the clicker's presence right after the click
    own_change: dict[str, Any] | None = None  # the click's external audit record
    own_change_seen_at: datetime | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # userId -> our automated audit record
    bulk: dict[str, Any] | None = None
    fired_at: datetime | None = None
    presences: dict[str, dict[str, Any]] = field(default_factory=dict)  # userId -> presence at the end
    timelines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # userId -> the days it spans
    disabled: dict[str, Any] | None = None
    checks: dict[str, bool] = field(default_factory=dict)
    key: str = "f"
    title: str = "a Break minutes away, lead 1 min: the schedule moves the unit's agents"

    @property
    def clicker(self) -> dict[str, Any]:
        return self.agents[-1]

    @property
    def moved(self) -> list[dict[str, Any]]:
        return self.agents[:-1]

    @property
    def break_start(self) -> datetime:
        return _instant(self.activity["activity"]["startDate"])

    @property
    def planned_instant(self) -> datetime:
        return self.break_start - timedelta(minutes=LEAD_MINUTES)

    @property
    def break_presence_id(self) -> str:
        return self.activity["activity"]["secondaryPresences"][0]

    @property
    def expected_outcome(self) -> str:
        return f"applied x{len(self.moved)}, rejected x1"

    @property
    def outcome(self) -> str | None:
        counts = Counter(record["outcome"] for record in self.records.values())
        return ", ".join(f"{name} x{count}" for name, count in sorted(counts.items())) or None

    @property
    def status(self) -> str:
        return (self.bulk or {}).get("status") or "not started"

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(self.checks.values()) and self.outcome == self.expected_outcome

    def violations(self, user_id: str) -> list[str]:
        record = self.records.get(user_id) or {}
        return [v["code"] for v in (record.get("policy") or {}).get("violations", [])]


def pick_follow_agents(state: dict[str, Any], api: Api, exclude: frozenset[str] = frozenset()) -> list[dict]:
    """Agents of one management unit On Queue (not on a call) in on-queue work now, none of ``exclude``, none who
    changed their own presence within the automation's respect window (another change's outside edits)."""
    now = _instant(state["now"])
    quiet_since = now - timedelta(minutes=RESPECT_OWN_CHANGES_MINUTES + 1)
    candidates = [
        u
        for u in state["users"]
        if u["id"] not in exclude
        and u["onShift"]
        and u["managementUnitId"]
        and (u["scheduledActivity"] or {}).get("category") == "OnQueueWork"
        and u["presence"]["systemPresence"] == "OnQueue"
        and u["routingStatus"] == "IDLE"
    ]
    picked: list[dict[str, Any]] = []
    for user in candidates:
        if picked and user["managementUnitId"] != picked[0]["managementUnitId"]:
            continue
        last_own = api.get(f"/agents/{user['id']}/metrics").get("lastExternalChangeAt")
        if last_own is None or _instant(last_own) < quiet_since:
            picked.append(user)
        if len(picked) == FOLLOW_AGENTS:
            return picked
    raise RuntimeError(f"the simulator org needs {FOLLOW_AGENTS} idle On Queue agents of one unit in on-queue work")


def minutes_to_break(now: datetime) -> int:
    """Whole minutes from now to a Break whose planned instant (lead minutes before it) is at least
    :data:`PLAN_AHEAD_SECONDS` away: 2 most of the time, 3 late in a minute."""
    minute = now.replace(second=0, microsecond=0)
    minutes = 2
    while (minute + timedelta(minutes=minutes - LEAD_MINUTES) - now).total_seconds() < PLAN_AHEAD_SECONDS:
        minutes += 1
    return minutes


def _automated_record(api: Api, user_id: str, owner: str, since: str) -> dict[str, Any] | None:
    items = api.get(f"/agents/{user_id}/audit", limit="20")["items"]
    return next(
        (r for r in items if r.get("requestedBy") == owner and r.get("bulkId") and r.get("startedAt", "") >= since),
        None,
    )


def run_follow_schedule(
    api_url: str, sim_url: str, sfn: Any, *, exclude: frozenset[str] = frozenset()
) -> FollowScheduleResult:
    """Scenario f (see :class:`FollowScheduleResult`), about 1.5 minutes: the Break is 2 or 3 minutes away."""
    api, sim = Api(api_url), Simulator(sim_url)
    state = sim.state()
    agents = pick_follow_agents(state, api, exclude)
    unit_id = agents[0]["managementUnitId"]
    (unit,) = [mu for mu in state["managementUnits"] if mu["id"] == unit_id]
    (business_unit,) = [bu for bu in state["businessUnits"] if bu["id"] == unit["businessUnitId"]]
    activity = sim.add_activity(
        unit_id,
        category="Break",
        startsInMinutes=minutes_to_break(_instant(state["now"])),
        lengthMinutes=BREAK_MINUTES,
        userIds=[a["id"] for a in agents],
    )
    result = FollowScheduleResult(unit_id, unit["name"], business_unit["timeZone"], agents, activity)
    path, owner = f"/management-units/{unit_id}/automation", f"automation:{unit_id}"
    config = {
        "leadMinutes": LEAD_MINUTES,
        "respectOwnChangesMinutes": RESPECT_OWN_CHANGES_MINUTES,
        "windowHours": 1,
    }
    try:
        api.call("PUT", path, {"enabled": True, **config})
        result.plan = api.call("POST", f"{path}/plan")
        result.instant = next(
            (
                i
                for i in result.plan["instants"]
                if _instant(i["at"]) == result.planned_instant and i["presenceId"] == result.break_presence_id
            ),
            None,
        )
        # One agent clicks in their client a moment before the schedule fires; Genesys's event makes it seen.
        clicker = result.clicker["id"]
        result.own_message = f"finishing a callback ({uuid.uuid4().hex[:6]})"
        result.own_presence = sim.set_presence(clicker, OWN_PRESENCE, result.own_message)["presence"]
        result.own_change = _poll(
            lambda: next(
                (
                    r
                    for r in api.get(f"/agents/{clicker}/audit", limit="20")["items"]
                    if r["source"] == "external" and r.get("message") == result.own_message
                ),
                None,
            ),
            timeout=60,
        )
        result.own_change_seen_at = datetime.now(UTC)
        if result.instant is not None:
            time.sleep(max(0.0, (result.planned_instant - datetime.now(UTC)).total_seconds() - 1))
            since = result.plan["plannedAt"]

            def recorded() -> bool:
                for agent in agents:
                    if agent["id"] not in result.records:
                        record = _automated_record(api, agent["id"], owner, since)
                        if record is not None:
                            result.records[agent["id"]] = record
                return len(result.records) == len(agents)

            _poll(recorded, timeout=90)
        bulk_ids = {r["bulkId"] for r in result.records.values()}
        if len(bulk_ids) == 1:
            bulk_path = f"/bulk-changes/{bulk_ids.pop()}"
            result.bulk = _poll(lambda: (b := api.get(bulk_path))["status"] in TERMINAL and b, timeout=60)
            if result.bulk is not None:
                started = sfn.describe_execution(executionArn=result.bulk["executionArn"])["startDate"]
                result.fired_at = started.astimezone(UTC)
        users = {u["id"]: u for u in sim.state()["users"]}
        result.presences = {a["id"]: users[a["id"]]["presence"] for a in agents}
        zone = ZoneInfo(result.time_zone)
        days = sorted({result.planned_instant.astimezone(zone).date(), result.break_start.astimezone(zone).date()})
        for agent in (result.clicker, result.moved[0]):
            result.timelines[agent["id"]] = [
                api.get(f"/agents/{agent['id']}/timeline", date=day.isoformat()) for day in days
            ]
    finally:
        result.disabled = api.call("PUT", path, {"enabled": False, **config})
    result.checks = follow_checks(result)
    return result


def _timeline_activities(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for day in days for shift in day["schedule"]["shifts"] for a in shift["activities"]]


def _timeline_change(days: list[dict[str, Any]], change_id: str | None) -> dict[str, Any] | None:
    return next((c for day in days for c in day["changes"] if c["changeId"] == change_id), None)


def follow_checks(r: FollowScheduleResult) -> dict[str, bool]:
    """What scenario f must show, each a yes or no."""
    clicker, moved = r.clicker["id"], [a["id"] for a in r.moved]
    ids = [a["id"] for a in r.agents]
    owner = f"automation:{r.management_unit_id}"
    ahead = (r.planned_instant - _instant(r.plan["plannedAt"])).total_seconds() if r.plan else 0.0

    def has_break(user_id: str) -> bool:
        return any(
            a.get("category") == "Break" and _instant(a["start"]) == r.break_start
            for a in _timeline_activities(r.timelines.get(user_id, []))
        )

    clicker_record, days_of_clicker = r.records.get(clicker) or {}, r.timelines.get(clicker, [])
    ours_rejected = _timeline_change(days_of_clicker, clicker_record.get("changeId"))
    own_seen = _timeline_change(days_of_clicker, (r.own_change or {}).get("changeId"))
    first_moved = r.records.get(moved[0]) or {}
    ours_applied = _timeline_change(r.timelines.get(moved[0], []), first_moved.get("changeId"))
    return {
        "the Break is on the agents' shifts": r.activity["userIds"] == ids
        and r.activity["activity"]["category"] == "Break",
        "planned lead 1 min before the Break, >= 30 s ahead, all agents": r.instant is not None
        and r.instant["agents"] >= len(ids)
        and ahead >= 30,
        "the agent's own change seen before the instant": r.own_change is not None
        and r.own_change_seen_at is not None
        and r.own_change_seen_at < r.planned_instant,
        f"fired at the planned instant (+-{FIRE_TOLERANCE_SECONDS} s)": r.fired_at is not None
        and abs((r.fired_at - r.planned_instant).total_seconds()) <= FIRE_TOLERANCE_SECONDS,
        "one bulk change for them, requested by the automation": len(r.records) == len(ids)
        and len({rec["bulkId"] for rec in r.records.values()}) == 1
        and all(rec["requestedBy"] == owner for rec in r.records.values())
        and r.status == "SUCCEEDED",
        "the others are in the Break presence": all(
            (r.records.get(u) or {}).get("outcome") == "applied"
            and r.presences.get(u, {}).get("definitionId") == r.break_presence_id
            for u in moved
        ),
        "the one who clicked is left alone (agent_changed_presence_recently)": clicker_record.get("outcome")
        == "rejected"
        and "agent_changed_presence_recently" in r.violations(clicker),
        "the one who clicked keeps their own presence": r.own_presence is not None
        and r.presences.get(clicker, {}).get("definitionId") == r.own_presence["definitionId"]
        and r.presences.get(clicker, {}).get("message") == r.own_message,
        "timeline of the one who clicked: Break, their change, ours rejected": has_break(clicker)
        and own_seen is not None
        and own_seen["source"] == "external"
        and ours_rejected is not None
        and ours_rejected["outcome"] == "rejected",
        "timeline of a moved agent: Break, ours applied": has_break(moved[0])
        and ours_applied is not None
        and ours_applied["outcome"] == "applied"
        and (ours_applied.get("newPresence") or {}).get("systemPresence") == "Break",
        "automation off afterwards": r.disabled is not None and r.disabled["enabled"] is False,
    }
