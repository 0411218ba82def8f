"""The fault matrix: one row per fault, each run end to end on the local stack and judged on the same four facts -
the outcome, exactly one audit record, which writes reached the simulator, and the agent's live presence after.

    python -m presence_manager_local.fault_matrix            # starts a local stack, prints the table, exit 1 on a miss
    python -m presence_manager_local.fault_matrix -k token   # only the cases whose name contains "token"
    python -m presence_manager_local.fault_matrix --list     # the cases and what each proves

tests/e2e/test_fault_matrix.py runs the same table (one test id per case) on the session's stack.

How a run goes: cases are packed into groups; a group's cases run at the same time, each on its own agent (picked
from the simulator's org by what the case needs, never by id); between groups the simulator is reset. A case whose
fault cannot be scoped to one agent (the token endpoint, the management unit's schedule search, expiring every
token) runs alone, and so does every case that draws a 429: a real 429 empties the deployment's shared rate budget,
so every change running at that moment would wait it out too. Genesys faults go through the simulator's
``/__sim/faults``; AWS faults (DynamoDB throttling, EventBridge FailedEntryCount, an agent editing their presence
between two steps, duplicate delivery of a step) go through :mod:`presence_manager_local.aws_faults` on the
in-process handlers.

For the run, the simulator's rate limit and the deployment's rate budget (``GENESYS_RATE_PER_MINUTE``) are raised
(the cases share one token and one budget; their own calls must not make each other wait) and, when the runtime's
``GENESYS_RETRY_AFTER_CAP_SECONDS`` is above :data:`MATRIX_RETRY_AFTER_CAP_SECONDS`, the cap is lowered so that
"Retry-After above the cap" waits seconds, not minutes; all are restored afterwards. Everything else (client
timeout, settle time, retry budgets) is read from the runtime, never assumed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from presence_manager.lease import LEASE_KEY_PREFIX
from presence_manager_local.aws_faults import AwsFaults

PRESENCE_PATH = "/api/v2/users/{userId}/presences/purecloud"
ROUTING_STATUS_PATH = "/api/v2/users/{userId}/routingstatus"
SKILLS_PATH = "/api/v2/users/{userId}/routingskills"
SKILLS_BULK_PATH = "/api/v2/users/{userId}/routingskills/bulk"
SCHEDULE_SEARCH_PATH = "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search"
TOKEN_PATH = "/oauth/token"

MATRIX_RETRY_AFTER_CAP_SECONDS = 5
MATRIX_RATE_LIMIT_PER_MINUTE = 100_000
MAX_PARALLEL = 12
QUIESCE_SECONDS = 180
RETRY_AFTER = 2
SUCCEEDED_OUTCOMES = frozenset({"applied", "dry_run", "rejected"})
FAILED_OUTCOMES = frozenset({"conflict", "rate_limited", "failed"})
LIVE_STATUSES = frozenset({"INTERACTING", "COMMUNICATING"})


# ---- clients of the running stack --------------------------------------------------------------------------------


class SimulatorAdmin:
    """The simulator's admin API (``/__sim/``)."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=30)

    def _ok(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise RuntimeError(f"simulator {response.request.method} {response.request.url.path}: {response.text}")
        return response.json() if response.content else None

    def state(self) -> dict[str, Any]:
        return self._ok(self._http.get("/__sim/state"))

    def user(self, user_id: str) -> dict[str, Any]:
        return self._ok(self._http.get(f"/__sim/users/{user_id}"))

    def fault(self, **spec: Any) -> str:
        return str(self._ok(self._http.post("/__sim/faults", json=spec))["id"])

    def remove_fault(self, fault_id: str) -> None:
        self._http.delete(f"/__sim/faults/{fault_id}")

    def clear_faults(self) -> None:
        self._ok(self._http.delete("/__sim/faults"))

    def log(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._ok(self._http.get("/__sim/requests", params={"since": since}))["requests"])

    def log_length(self) -> int:
        entries = self.log()
        return (entries[-1]["index"] + 1) if entries else 0

    def reset(self) -> None:
        self._ok(self._http.post("/__sim/reset"))

    def config(self, **settings: Any) -> dict[str, Any]:
        if settings:
            return self._ok(self._http.patch("/__sim/config", json=settings))
        return self._ok(self._http.get("/__sim/config"))

    def set_routing_status(self, user_id: str, status: str) -> None:
        self._ok(self._http.post(f"/__sim/users/{user_id}/routingstatus", json={"status": status}))

    def set_presence(self, user_id: str, presence: str, message: str | None = None) -> None:
        self._ok(self._http.post(f"/__sim/users/{user_id}/presence", json={"presence": presence, "message": message}))

    def expire_tokens(self) -> None:
        self._ok(self._http.post("/__sim/tokens/expire"))


class ServiceApi:
    """The project's REST API, answers as they come (status and body)."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=60)

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self._http.post(path, json=body)
        return response.status_code, _json(response)

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        response = self._http.get(path, params=params or None)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
        return _json(response)

    def audit(self, user_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100}
        while True:
            page = self.get(f"/agents/{user_id}/audit", **params)
            items.extend(page.get("items") or [])
            if not page.get("nextToken"):
                return items
            params["nextToken"] = page["nextToken"]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"raw": response.text}
    return body if isinstance(body, dict) else {"body": body}


@dataclass(frozen=True)
class Timing:
    """What the runtime is configured with (read, never assumed)."""

    client_timeout: float
    retry_after_cap: int
    settle: float
    function_timeout: float
    conflict_max_retries: int
    rate_limit_max_waits: int

    @classmethod
    def of(cls, runtime: Any) -> Timing:
        from presence_manager.genesys.settings import GenesysSettings

        genesys = GenesysSettings()
        parameters = runtime.template.parameters if runtime.template is not None else {}
        settle = parameters.get("AmbiguousWriteSettleSeconds") or os.environ.get("WRITE_SETTLE_SECONDS") or "6"
        return cls(
            client_timeout=float(genesys.timeout_seconds),
            retry_after_cap=int(genesys.retry_after_cap_seconds),
            settle=float(settle),
            function_timeout=_function_timeout(),
            conflict_max_retries=int(parameters.get("ConflictMaxRetries") or 3),
            rate_limit_max_waits=int(parameters.get("RateLimitMaxWaits") or 5),
        )

    @property
    def slow_ms(self) -> int:
        """A latency that outlasts the client's timeout: the answer is lost, the request still served."""
        return int((self.client_timeout + 2) * 1000)


def _function_timeout() -> float:
    """LockedUpdate's Timeout in template.yaml (its own, else the Globals')."""
    from cfnlint.decode import cfn_yaml

    from presence_manager_local.emulation import TEMPLATE

    document = cfn_yaml.load(str(TEMPLATE))
    default = document.get("Globals", {}).get("Function", {}).get("Timeout", 30)
    own = document["Resources"].get("LockedUpdateFunction", {}).get("Properties", {}).get("Timeout")
    return float(own or default)


@dataclass
class MatrixEnv:
    runtime: Any
    api: ServiceApi
    sim: SimulatorAdmin
    sfn: Any
    sqs: Any
    lambda_client: Any
    aws: AwsFaults
    timing: Timing
    state_machine_arn: str
    _restore: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def open(cls, runtime: Any) -> MatrixEnv:
        """Prepare the running stack for the matrix; :meth:`close` puts it back."""
        if not runtime.sim_url:
            raise RuntimeError("the fault matrix needs the bundled simulator (GENESYS_API_URL points elsewhere)")
        sim = SimulatorAdmin(runtime.sim_url)
        env = cls(
            runtime=runtime,
            api=ServiceApi(runtime.api_url),
            sim=sim,
            sfn=runtime.boto3_client("stepfunctions"),
            sqs=runtime.boto3_client("sqs"),
            lambda_client=runtime.boto3_client("lambda"),
            aws=AwsFaults(runtime),
            timing=Timing.of(runtime),
            state_machine_arn=runtime.template.physical["PresenceChangeStateMachine"]["Arn"],
        )
        try:
            previous_rate = sim.config().get("rateLimitPerMinute")
            sim.config(rateLimitPerMinute=MATRIX_RATE_LIMIT_PER_MINUTE)
            env._restore.append(lambda: sim.config(rateLimitPerMinute=previous_rate))
            env._restore.extend(_matrix_settings())
            env.timing = Timing.of(runtime)
            env.aws.install()
            env._restore.append(env.aws.uninstall)
            env._restore.append(_hold_scheduler(runtime))
        except BaseException:
            env.close()
            raise
        return env

    def close(self) -> None:
        while self._restore:
            try:
                self._restore.pop()()
            except Exception:
                traceback.print_exc(file=sys.stderr)

    def function_name(self, logical_id: str) -> str:
        return str(self.runtime.template.physical[logical_id]["Ref"])

    def quiesce(self, timeout: float = QUIESCE_SECONDS) -> None:
        """Wait until no execution of the stack runs: a change left running by whatever used the stack before (a
        shared test stack, a bulk, a revert) would take the leases of, and write to, the agents the cases use."""
        deadline = time.monotonic() + timeout
        machines = [m["stateMachineArn"] for m in self.sfn.list_state_machines()["stateMachines"]]
        while True:
            running = [
                e["executionArn"]
                for arn in machines
                for e in self.sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
            ]
            if not running:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(running)} execution(s) still running after {timeout:.0f} s: {running[:3]}")
            time.sleep(1)
        self._forget_leases()

    def _forget_leases(self) -> None:
        """Drop the agents' leases: one left to expire by itself (a throttled release, a write left settling) belongs
        to the org before the reset, and would make the next case on that agent wait for it."""
        dynamodb = self.runtime.boto3_client("dynamodb")
        table = self.runtime.table_name("AgentTable")
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :lease)",
            ExpressionAttributeValues={":lease": {"S": LEASE_KEY_PREFIX}},
            ProjectionExpression="pk",
        ):
            for item in page["Items"]:
                dynamodb.delete_item(TableName=table, Key={"pk": item["pk"]})


def _hold_scheduler(runtime: Any) -> Callable[[], None]:
    """Hold the local scheduler for the run (a revert or a planned bulk firing mid-case would be a change nobody
    injected); returns what lets it go."""
    scheduler = getattr(runtime, "_scheduler", None)
    if scheduler is None:
        return lambda: None
    pause = scheduler.paused()
    pause.__enter__()
    return lambda: pause.__exit__(None, None, None)


def _matrix_settings() -> list[Callable[[], None]]:
    """The Genesys settings of the run (the handlers run in this process and read them from the environment when
    the shared Genesys client is built): the Retry-After cap lowered to :data:`MATRIX_RETRY_AFTER_CAP_SECONDS`, and
    the deployment's rate budget raised like the simulator's rate limit (the cases share one budget; their own
    calls must not make each other wait). Returns what restores them."""
    from presence_manager.genesys import client as genesys_client
    from presence_manager.genesys.settings import GenesysSettings

    current = GenesysSettings()
    overrides: dict[str, str] = {}
    if current.retry_after_cap_seconds > MATRIX_RETRY_AFTER_CAP_SECONDS:
        overrides["GENESYS_RETRY_AFTER_CAP_SECONDS"] = str(MATRIX_RETRY_AFTER_CAP_SECONDS)
    if getattr(current, "rate_per_minute", MATRIX_RATE_LIMIT_PER_MINUTE) < MATRIX_RATE_LIMIT_PER_MINUTE:
        overrides["GENESYS_RATE_PER_MINUTE"] = str(MATRIX_RATE_LIMIT_PER_MINUTE)
        overrides["GENESYS_RATE_BURST"] = str(MATRIX_RATE_LIMIT_PER_MINUTE // 10)
    if not overrides or not hasattr(genesys_client, "_shared"):
        return []
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    genesys_client._shared = None

    def restore() -> None:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        genesys_client._shared = None

    return [restore]


# ---- the table's vocabulary ------------------------------------------------------------------------------------


@dataclass
class Visit:
    """One entry into a state of the execution: when, for how long, and the Lambda invocations it made."""

    name: str
    entered: datetime
    exited: datetime | None = None
    invocations: list[tuple[float, str | None]] = field(default_factory=list)  # (seconds, error)

    @property
    def seconds(self) -> float | None:
        return (self.exited - self.entered).total_seconds() if self.exited else None


@dataclass
class Observation:
    change_id: str | None = None
    execution_arn: str | None = None
    status: str | None = None
    outcome: str | None = None
    record: dict[str, Any] = field(default_factory=dict)
    records: int = 0
    visits: list[Visit] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # simulator log: the agent's (all, for a solo case)
    patches: int = 0
    live: dict[str, Any] = field(default_factory=dict)
    emf: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def path(self) -> list[str]:
        return [visit.name for visit in self.visits]

    def waits(self, state: str = "WaitRetryAfter") -> list[float]:
        return [visit.seconds for visit in self.visits if visit.name == state and visit.seconds is not None]

    def requests_to(self, method: str, template: str, user_id: str | None = None) -> list[dict[str, Any]]:
        path = template.replace("{userId}", user_id) if user_id else None
        return [
            r
            for r in self.requests
            if r["method"] == method and (r["path"] == path if path else r.get("route") == template)
        ]


@dataclass(frozen=True)
class Final:
    """What the agent's live presence must be after the case."""

    describe: str
    holds: Callable[[CaseRun, Observation], bool]


def becomes(system_presence: str) -> Final:
    """Our write landed: the requested presence with this case's message."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        return obs.live.get("systemPresence") == system_presence and obs.live.get("message") == run.message

    return Final(f"{system_presence}+ours", holds)


def unchanged() -> Final:
    """Nothing of ours landed: the presence the agent had before the case."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        before = run.before["presence"]
        return all(obs.live.get(k) == before.get(k) for k in ("definitionId", "message", "modifiedDate"))

    return Final("unchanged", holds)


def agents_own_edit() -> Final:
    """The agent's last edit of their own presence stands; ours never landed."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        return obs.live.get("message") != run.message and obs.live.get("message") == run.notes.get("last_edit")

    return Final("agent's edit", holds)


@dataclass(frozen=True)
class Check:
    name: str
    holds: Callable[[CaseRun, Observation], bool]


Setup = Callable[["CaseRun"], None]
Role = Literal["queue", "on_queue", "interacting", "off_shift", "not_in_wfm", "any"]


@dataclass(frozen=True)
class Case:
    """One row: a fault (``setup``), a request, and what must come of it."""

    name: str
    proves: str
    agent: Role
    request: dict[str, Any] | Callable[[CaseRun], dict[str, Any]]
    outcome: str
    patches: int
    final: Final
    setup: tuple[Setup, ...] = ()
    checks: tuple[Check, ...] = ()
    start: Literal["api", "console"] = "api"
    status: str | None = None  # the execution's end; by default SUCCEEDED for applied/dry_run/rejected, else FAILED
    records: int = 1
    solo: bool = False
    slow: bool = False
    needs_other: bool = False
    drive: Callable[[CaseRun], Observation] | None = None
    timeout: float = 150

    def expected(self) -> str:
        return f"{self.outcome} · {self.records} rec · {self.patches} PATCH · {self.final.describe}"


@dataclass
class CaseRun:
    """A case being run: its agent, the stack, and what setup and cleanup need."""

    env: MatrixEnv
    case: Case
    agent: dict[str, Any]
    before: dict[str, Any]
    org: dict[str, Any]
    log_start: int
    other: dict[str, Any] | None = None
    message: str = ""
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    sim_faults: list[tuple[str, int]] = field(default_factory=list)  # (kind, count)
    aws_faults: list[Any] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return str(self.agent["id"])

    @property
    def timing(self) -> Timing:
        return self.env.timing

    def fault(self, kind: str, path: str, *, method: str | None = None, scoped: bool = True, **spec: Any) -> str:
        """A simulator fault; ``scoped`` narrows it to this agent (paths with ``{userId}``/``{agentId}``)."""
        body: dict[str, Any] = {"kind": kind, "path": path, **spec}
        if method:
            body["method"] = method
        if scoped:
            body["userId"] = self.user_id
        fault_id = self.env.sim.fault(**body)
        self.cleanups.append(lambda: self.env.sim.remove_fault(fault_id))
        self.sim_faults.append((kind, int(spec.get("count", 1))))
        return fault_id

    def keep(self, fault: Any) -> Any:
        """Remove an AWS-side fault when the case ends."""
        self.cleanups.append(fault.remove)
        self.aws_faults.append(fault)
        return fault

    def body(self) -> dict[str, Any]:
        request = self.case.request(self) if callable(self.case.request) else dict(self.case.request)
        request.setdefault("message", self.message)
        request.setdefault("reason", f"fault matrix: {self.case.name}")
        return {"userId": self.user_id, **request}


@dataclass
class CaseResult:
    case: Case
    agent: str
    observation: Observation
    checks: dict[str, bool]
    seconds: float
    run: CaseRun | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.observation.error is None and bool(self.checks) and all(self.checks.values())

    @property
    def misses(self) -> list[str]:
        misses = [name for name, ok in self.checks.items() if not ok]
        if self.observation.error:
            misses.insert(0, f"error: {self.observation.error.strip().splitlines()[-1][:200]}")
        return misses

    def observed(self) -> str:
        obs = self.observation
        outcome = obs.outcome or (f"[{obs.status}]" if obs.status else "-")
        return f"{outcome} · {obs.records} rec · {obs.patches} PATCH · {self.live_text()}"

    def live_text(self) -> str:
        obs, run = self.observation, self.run
        if not obs.live or run is None:
            return "-"
        if unchanged().holds(run, obs):
            return "unchanged"
        mine = obs.live.get("message") == run.message
        return f"{obs.live.get('systemPresence')}{'+ours' if mine else ''}"

    def explain(self) -> str:
        obs = self.observation
        lines = [
            f"{self.case.name}: {self.case.proves}",
            f"  agent     {self.agent}",
            f"  expected  {self.case.expected()}",
            f"  observed  {self.observed()}",
            f"  misses    {'; '.join(self.misses) or '-'}",
            f"  path      {' > '.join(obs.path) or '-'}",
        ]
        if obs.record:
            keep = ("outcome", "reason", "error", "attempts", "conflictRetries", "rateLimitWaits", "exportStatus")
            lines.append(f"  record    {json.dumps({k: obs.record[k] for k in keep if k in obs.record})[:600]}")
        if obs.extra:
            lines.append(f"  extra     {json.dumps(obs.extra, default=str)[:600]}")
        if obs.error:
            lines.append("  " + obs.error.strip().replace("\n", "\n  "))
        return "\n".join(lines)


# ---- running one change ----------------------------------------------------------------------------------------


def start_change(run: CaseRun, body: dict[str, Any], via: Literal["api", "console"] = "api") -> tuple[str, str]:
    """Start a change through the API (202 expected) or straight on the state machine, as from the console."""
    env = run.env
    if via == "console":
        change_id = f"chg-{uuid.uuid4()}"
        started = env.sfn.start_execution(stateMachineArn=env.state_machine_arn, name=change_id, input=json.dumps(body))
        return change_id, started["executionArn"]
    status, answer = env.api.post("/presence-changes", body)
    if status != 202:
        raise RuntimeError(f"POST /presence-changes answered {status}: {answer}")
    return answer["changeId"], answer["executionArn"]


def await_execution(env: MatrixEnv, execution_arn: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = env.sfn.describe_execution(executionArn=execution_arn)["status"]
        if status != "RUNNING":
            return str(status)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn.rsplit(':', 1)[-1]} still RUNNING after {timeout:.0f} s")
        time.sleep(0.5)


def state_visits(sfn: Any, execution_arn: str) -> list[Visit]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    visits: list[Visit] = []
    scheduled: datetime | None = None
    for event in events:
        kind = event["type"]
        if "stateEnteredEventDetails" in event:
            visits.append(Visit(event["stateEnteredEventDetails"]["name"], event["timestamp"]))
        elif "stateExitedEventDetails" in event:
            name = event["stateExitedEventDetails"]["name"]
            for visit in reversed(visits):
                if visit.name == name and visit.exited is None:
                    visit.exited = event["timestamp"]
                    break
        elif kind == "LambdaFunctionScheduled":
            scheduled = event["timestamp"]
        elif kind in {"LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"} and visits:
            details = event.get("lambdaFunctionFailedEventDetails") or event.get("lambdaFunctionTimedOutEventDetails")
            error = (details or {}).get("error") if kind != "LambdaFunctionSucceeded" else None
            seconds = (event["timestamp"] - scheduled).total_seconds() if scheduled else 0.0
            visits[-1].invocations.append((seconds, error or (None if kind == "LambdaFunctionSucceeded" else kind)))
            scheduled = None
    return visits


def records_of(env: MatrixEnv, user_id: str, change_ids: Iterable[str]) -> dict[str, int]:
    wanted = set(change_ids)
    counts = dict.fromkeys(wanted, 0)
    for item in env.api.audit(user_id):
        if item.get("changeId") in wanted:
            counts[item["changeId"]] += 1
    return counts


def emf_of(env: MatrixEnv, change_id: str) -> list[dict[str, Any]]:
    return [doc for doc in env.runtime.emf_records() if doc.get("changeId") == change_id]


def observe(run: CaseRun, change_id: str, execution_arn: str, *, timeout: float | None = None) -> Observation:
    """Wait for the change to end and gather the four facts (and the rest a check may look at)."""
    env = run.env
    status = await_execution(env, execution_arn, timeout or run.case.timeout)
    described = env.api.get(f"/presence-changes/{change_id}")
    obs = Observation(
        change_id=change_id,
        execution_arn=execution_arn,
        status=status,
        outcome=described.get("outcome"),
        record=described.get("details") or {},
        visits=state_visits(env.sfn, execution_arn),
    )
    obs.records = records_of(env, run.user_id, [change_id])[change_id]
    gather_simulator(run, obs)
    obs.emf = emf_of(env, change_id)
    return obs


def gather_simulator(run: CaseRun, obs: Observation) -> None:
    """The agent's requests in the simulator's log since the group began (the agent is this case's alone; every
    request when the case runs alone), and the live presence now."""
    # A request held by a latency fault is logged when it is finally served, which can be after the change ended
    # (the client gave up and retried): wait for those entries.
    slow = sum(count for kind, count in run.sim_faults if kind == "latency")
    deadline = time.monotonic() + run.timing.slow_ms / 1000 + 2
    while True:
        entries = run.env.sim.log(run.log_start)
        own = entries if run.case.solo else [e for e in entries if e.get("userId") == run.user_id]
        served_slow = sum(1 for e in own if "latency" in (e.get("fault"), *(e.get("faults") or [])))
        if served_slow >= slow or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    obs.requests = own
    presence_path = PRESENCE_PATH.replace("{userId}", run.user_id)
    obs.patches = sum(1 for e in own if e["method"] == "PATCH" and e["path"] == presence_path)
    obs.live = run.env.sim.user(run.user_id)["presence"]


def drive_change(run: CaseRun) -> Observation:
    """The ordinary case: one change for the agent, started as the case says."""
    change_id, arn = start_change(run, run.body(), run.case.start)
    return observe(run, change_id, arn)


# ---- checks every row makes ------------------------------------------------------------------------------------


def standard_checks(case: Case) -> list[Check]:
    checks = [
        Check(f"outcome {case.outcome}", lambda run, obs: obs.outcome == case.outcome),
        Check(f"{case.records} audit record(s)", lambda run, obs: obs.records == case.records),
        Check(f"{case.patches} PATCH(es) reached the simulator", lambda run, obs: obs.patches == case.patches),
        Check(f"live presence {case.final.describe}", case.final.holds),
    ]
    checks.append(Check("every injected fault was hit", _faults_hit))
    if case.outcome in SUCCEEDED_OUTCOMES | FAILED_OUTCOMES:
        expected_status = case.status or ("SUCCEEDED" if case.outcome in SUCCEEDED_OUTCOMES else "FAILED")
        checks.append(Check(f"execution {expected_status}", lambda run, obs: obs.status == expected_status))
        checks.append(Check("record: error only for failed outcomes", _error_matches_outcome))
        checks.append(Check("every Retry-After wait re-validates before the write", _revalidated_after_waits))
    return checks


def _faults_hit(run: CaseRun, obs: Observation) -> bool:
    """A case whose fault never fired proves nothing: each simulator fault shows in the request log, each AWS-side
    fault counted a use."""
    logged = {kind for entry in obs.requests for kind in [entry.get("fault"), *(entry.get("faults") or [])]}
    return all(kind in logged for kind, _ in run.sim_faults) and all(f.applied >= 1 for f in run.aws_faults)


def _error_matches_outcome(run: CaseRun, obs: Observation) -> bool:
    error = obs.record.get("error")
    if obs.outcome in FAILED_OUTCOMES:
        return isinstance(error, dict) and bool(error.get("type")) and "message" in error
    return error is None


def _revalidated_after_waits(run: CaseRun, obs: Observation) -> bool:
    path = obs.path
    for index, name in enumerate(path):
        if name != "WaitRetryAfter":
            continue
        rest = path[index + 1 :]
        if "LockedUpdate" in rest and "Validate" not in rest[: rest.index("LockedUpdate")]:
            return False
    return True


def waited(seconds: float, state: str = "WaitRetryAfter", count: int = 1) -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        waits = obs.waits(state)
        return len(waits) == count and all(seconds - 0.5 <= w <= seconds + 3 for w in waits)

    return Check(f"{count}x {state} of ~{seconds:g} s", holds)


def waited_cap() -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        waits, cap = obs.waits(), run.timing.retry_after_cap
        return len(waits) == 1 and cap - 0.5 <= waits[0] <= cap + 3

    return Check("waited the Retry-After cap, not the header", holds)


def in_path(state: str, at_least: int = 1) -> Check:
    return Check(f"path has {state}", lambda run, obs: obs.path.count(state) >= at_least)


def not_in_path(state: str) -> Check:
    return Check(f"no {state}", lambda run, obs: state not in obs.path)


def record_field(name: str, expected: Any) -> Check:
    return Check(f"record {name} = {expected}", lambda run, obs: obs.record.get(name) == expected)


def attempts_list(error_type: str, count: int | None = None) -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        attempts = obs.record.get("attempts")
        if not isinstance(attempts, list):
            return False
        matching = [a for a in attempts if isinstance(a, dict) and a.get("type") == error_type]
        return bool(matching) and (count is None or sum(int(a.get("count", 0)) for a in matching) == count)

    suffix = f" x{count}" if count is not None else ""
    return Check(f"record attempts lists {error_type}{suffix}", holds)


def error_type(name: str) -> Check:
    return Check(f"record error.type = {name}", lambda run, obs: (obs.record.get("error") or {}).get("type") == name)


def names_code(code: str) -> Check:
    """The record names ``code`` as a policy violation or as its error's type/code."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        violations = [v.get("code") for v in (obs.record.get("policy") or {}).get("violations", [])]
        error = obs.record.get("error") or {}
        details = error.get("details") or {}
        return (
            code in violations
            or code in {error.get("code"), details.get("code")}
            or (error.get("type") == "".join(part.title() for part in code.split("_")))
        )

    return Check(f"record names {code}", holds)


def retried_inside_the_lambda() -> Check:
    """Every task ran one invocation and nothing waited: a transient error was absorbed inside the Lambda."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        tasks = [visit for visit in obs.visits if visit.invocations]
        return bool(tasks) and all(len(v.invocations) == 1 for v in tasks) and "WaitRetryAfter" not in obs.path

    return Check("retried inside the Lambda (one invocation per task, no wait)", holds)


def within_function_timeout() -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        runs = [seconds for visit in obs.visits for seconds, _ in visit.invocations]
        return bool(runs) and max(runs) < run.timing.function_timeout

    return Check("every invocation ended inside its function Timeout", holds)


def skill_assigned(proficiency: float) -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        skill_id = run.notes["skill_id"]
        skills = {s["id"]: s for s in run.env.sim.user(run.user_id)["skills"]}
        return skill_id in skills and float(skills[skill_id]["proficiency"]) == proficiency

    return Check(f"skill override landed (proficiency {proficiency:g})", holds)


def fault_used(times: int | None = None, note: str = "fault") -> Check:
    """The AWS-side fault the setup kept under ``note`` was used (``times`` exactly, or at least once)."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        applied = run.notes[note].applied
        return applied == times if times is not None else applied >= 1

    return Check(f"the injected fault was hit {times if times is not None else '>=1'}x", holds)


def emf_documents(count: int) -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        return len([d for d in obs.emf if "ChangeLatency" in d or "Changes" in d]) == count

    return Check(f"{count} EMF metrics document(s) for the change", holds)


def patch_repeated_after_settle() -> Check:
    """The second PATCH went out only after the write was given time to settle (never blindly repeated)."""

    def holds(run: CaseRun, obs: Observation) -> bool:
        patches = obs.requests_to("PATCH", PRESENCE_PATH, run.user_id)
        if len(patches) != 2:
            return False
        first, second = (datetime.fromisoformat(p["time"].replace("Z", "+00:00")) for p in patches)
        return (second - first).total_seconds() >= run.timing.settle * 0.8

    return Check("second PATCH only after the settle time", holds)


def no_request_for_other_user() -> Check:
    def holds(run: CaseRun, obs: Observation) -> bool:
        assert run.other is not None
        other = run.other["id"]
        entries = run.env.sim.log(run.log_start)
        return not [e for e in entries if e.get("userId") == other or other in e["path"]]

    return Check("no request reached the simulator for the other user", holds)


# ---- setups --------------------------------------------------------------------------------------------------


def sim_fault(kind: str, path: str, *, method: str | None = None, scoped: bool = True, **spec: Any) -> Setup:
    def setup(run: CaseRun) -> None:
        if kind == "latency" and "delayMs" not in spec:
            run.fault(kind, path, method=method, scoped=scoped, delayMs=run.timing.slow_ms, **spec)
        else:
            run.fault(kind, path, method=method, scoped=scoped, **spec)

    return setup


def retry_after_above_cap(run: CaseRun) -> None:
    run.fault("rate_limit", PRESENCE_PATH, method="GET", retryAfter=run.timing.retry_after_cap + 60, count=1)


def cold_schedule_cache(run: CaseRun) -> None:
    """A cold Lambda: Validate reuses a management unit's schedule search within the hour, so a fault on the
    search only shows on a search that is really sent."""
    from presence_manager.workflow import validate

    searches = getattr(validate, "schedule_searches", None)
    if searches is not None:
        searches.clear()


def expire_tokens(run: CaseRun) -> None:
    run.env.sim.expire_tokens()


def pick_new_skill(run: CaseRun) -> None:
    owned = {s["id"] for s in run.before["skills"]}
    run.notes["skill_id"] = next(s["id"] for s in run.org["skills"] if s["id"] not in owned)


def with_skill(presence: str, proficiency: float) -> Callable[[CaseRun], dict[str, Any]]:
    def request(run: CaseRun) -> dict[str, Any]:
        return {
            "presence": presence,
            "skillOverrides": [{"skillId": run.notes["skill_id"], "proficiency": proficiency}],
        }

    return request


def path_skill_id(presence: str) -> Callable[[CaseRun], dict[str, Any]]:
    def request(run: CaseRun) -> dict[str, Any]:
        assert run.other is not None
        skill_id = f"../../{run.other['id']}/presences/purecloud"
        return {"presence": presence, "skillOverrides": [{"skillId": skill_id, "proficiency": 3}]}

    return request


def edits_between_validate_and_write(count: int) -> Setup:
    """The agent edits their own presence right before each of the next ``count`` LockedUpdates."""

    def setup(run: CaseRun) -> None:
        edits = iter(range(count))

        def edit(_: dict[str, Any]) -> None:
            n = next(edits, count)
            message = f"agent edit {n + 1}"
            run.env.sim.set_presence(run.user_id, "Away" if n % 2 == 0 else "Busy", message)
            run.notes["last_edit"] = message

        run.notes["hook"] = run.keep(run.env.aws.before_step("LockedUpdateFunction", run.user_id, edit, times=count))

    return setup


def goes_live_before(function: str) -> Setup:
    """The agent's routing status turns INTERACTING (an ACD alert) right before ``function`` runs."""

    def setup(run: CaseRun) -> None:
        def interacting(_: dict[str, Any]) -> None:
            run.env.sim.set_routing_status(run.user_id, "INTERACTING")

        run.notes["hook"] = run.keep(run.env.aws.before_step(function, run.user_id, interacting))

    return setup


def goes_live_after(function: str) -> Setup:
    def setup(run: CaseRun) -> None:
        def interacting(_: dict[str, Any]) -> None:
            run.env.sim.set_routing_status(run.user_id, "INTERACTING")

        run.notes["hook"] = run.keep(run.env.aws.after_step(function, run.user_id, interacting))

    return setup


def tokens_expire_before(function: str) -> Setup:
    def setup(run: CaseRun) -> None:
        run.notes["hook"] = run.keep(run.env.aws.before_step(function, run.user_id, lambda _: expire_tokens(run)))

    return setup


def aws_fault(make: Callable[[CaseRun], Any]) -> Setup:
    def setup(run: CaseRun) -> None:
        run.notes["fault"] = run.keep(make(run))

    return setup


# ---- cases that drive more than one change ---------------------------------------------------------------------


def drive_refused_by_api(run: CaseRun) -> Observation:
    """POST with a path in an id: 400 with a code, nothing started, nothing sent to Genesys."""
    env = run.env
    before_names = {e["name"] for e in _executions(env)}
    trail_before = len(env.api.audit(run.user_id))
    status, answer = env.api.post("/presence-changes", run.body())
    time.sleep(1.0)  # anything wrongly started would have begun calling Genesys by now
    started = [e for e in _executions(env) if e["name"] not in before_names]
    mine = [e for e in started if run.user_id in (env.sfn.describe_execution(executionArn=e["executionArn"])["input"])]
    error = answer.get("error") if isinstance(answer.get("error"), dict) else answer
    obs = Observation(outcome=f"http {status} {error.get('code', '?')}")
    obs.records = len(env.api.audit(run.user_id)) - trail_before
    gather_simulator(run, obs)
    obs.extra = {"answer": answer, "executionsStarted": len(mine)}
    return obs


def _executions(env: MatrixEnv) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = []
    for page in env.sfn.get_paginator("list_executions").paginate(stateMachineArn=env.state_machine_arn):
        executions.extend(page["executions"])
    return executions


def drive_newer_change_after_timed_out_patch(run: CaseRun) -> Observation:
    """Issue 8.1: A's PATCH times out (and lands late); B, started while A's write is in flight, must end as the
    live presence - A's late write may not undo it."""
    env = run.env
    body_a = {**run.body(), "presence": "On Queue", "message": f"{run.message} A"}
    body_b = {**run.body(), "presence": "Offline", "message": f"{run.message} B"}
    run.fault("latency", PRESENCE_PATH, method="PATCH", delayMs=run.timing.slow_ms)
    change_a, arn_a = start_change(run, body_a)
    deadline = time.monotonic() + 30
    while "LockedUpdate" not in [v.name for v in state_visits(env.sfn, arn_a)]:
        if time.monotonic() > deadline:
            raise TimeoutError("A never reached LockedUpdate")
        time.sleep(0.2)
    time.sleep(1.0)  # A's PATCH is now in flight, held by the simulator
    change_b, arn_b = start_change(run, body_b)
    obs_a = observe(run, change_a, arn_a)
    obs_b = observe(run, change_b, arn_b)
    both = {obs_a.outcome, obs_b.outcome}
    obs = obs_a
    obs.outcome = obs_a.outcome if len(both) == 1 else f"A {obs_a.outcome} / B {obs_b.outcome}"
    obs.records = sum(1 for o in (obs_a, obs_b) if o.records == 1)
    gather_simulator(run, obs)
    obs.extra = {"B": {"outcome": obs_b.outcome, "path": obs_b.path, "status": obs_b.status}}
    run.notes["B"] = obs_b
    return obs


def b_stands(run: CaseRun, obs: Observation) -> bool:
    return obs.live.get("systemPresence") == "Offline" and obs.live.get("message") == f"{run.message} B"


def newest_record_is_live(run: CaseRun, obs: Observation) -> bool:
    trail = [i for i in run.env.api.audit(run.user_id) if i.get("outcome") == "applied" and i.get("newPresence")]
    if not trail:
        return False
    newest = max(trail, key=lambda i: i["newPresence"].get("modifiedDate") or "")
    return newest["newPresence"].get("message") == obs.live.get("message")


def drive_twenty_at_once(run: CaseRun) -> Observation:
    """Issue 8.12: 20 changes to one agent at once, all ours."""
    env, count = run.env, 20
    metrics_before = env.api.get(f"/agents/{run.user_id}/metrics")
    bodies = [{**run.body(), "presence": "On Queue", "message": f"{run.message} #{i:02d}"} for i in range(count)]
    with ThreadPoolExecutor(count) as pool:
        started = list(pool.map(lambda body: start_change(run, body), bodies))
    observations = []
    with ThreadPoolExecutor(count) as pool:
        for change_id, arn in started:
            observations.append(pool.submit(lambda c=change_id, a=arn: _finish(run, c, a)))
    finished = [future.result() for future in observations]
    counts = records_of(env, run.user_id, [o.change_id for o in finished if o.change_id])
    outcomes: dict[str, int] = {}
    for o in finished:
        outcomes[str(o.outcome)] = outcomes.get(str(o.outcome), 0) + 1
    statuses = {str(o.status) for o in finished}
    obs = Observation(
        outcome=next(iter(outcomes)) if len(outcomes) == 1 else json.dumps(outcomes),
        status=statuses.pop() if len(statuses) == 1 else "mixed",
    )
    obs.records = sum(1 for n in counts.values() if n == 1)
    gather_simulator(run, obs)
    records = [o.record for o in finished]
    emf = [doc for o in finished for doc in emf_of(env, str(o.change_id))]
    metrics_after = env.api.get(f"/agents/{run.user_id}/metrics")
    obs.extra = {
        "outcomes": outcomes,
        "conflictRetries": sum(int(r.get("conflictRetries") or 0) for r in records),
        "emfConflictRetries": sum(_metric(d, "ConflictRetries") for d in emf),
        "emfLeaseWaits": sum(_metric(d, "LeaseWaits") for d in emf),
        "metricsConflictRetriesDelta": int(metrics_after.get("conflictRetries") or 0)
        - int(metrics_before.get("conflictRetries") or 0),
        "conflictRateBefore": metrics_before.get("conflictRate"),
        "conflictRateAfter": metrics_after.get("conflictRate"),
    }
    return obs


def _finish(run: CaseRun, change_id: str, arn: str) -> Observation:
    env = run.env
    status = await_execution(env, arn, run.case.timeout)
    described = env.api.get(f"/presence-changes/{change_id}")
    return Observation(
        change_id=change_id,
        execution_arn=arn,
        status=status,
        outcome=described.get("outcome"),
        record=described.get("details") or {},
    )


def _metric(document: dict[str, Any], name: str) -> float:
    value = document.get(name, 0)
    if isinstance(value, list):
        return float(sum(value))
    return float(value or 0)


def drive_fallback_replay(run: CaseRun) -> Observation:
    """Issue 8.5: two changes whose records the audit table refused are replayed from the fallback queue in one
    batch; each record keeps its own outcome, in the trail and in its metrics. The Record function consumes the queue
    through its SQS event source mapping (the local runtime's poller): paused while the table refuses the records,
    it delivers both parked records in one batch once the table answers again."""
    env = run.env
    throttle = env.aws.throttle_audit_record(run.user_id, times=None)
    run.keep(throttle)
    applied_body = {**run.body(), "presence": "Offline"}
    rejected_body = {**run.body(), "presence": "On Queue", "message": f"{run.message} (rejected)"}
    with env.runtime.sqs_poller.paused("RecordFunction"):
        applied_id, applied_arn = start_change(run, applied_body)
        rejected_id, rejected_arn = start_change(run, rejected_body)
        statuses = {
            applied_id: await_execution(env, applied_arn, run.case.timeout),
            rejected_id: await_execution(env, rejected_arn, run.case.timeout),
        }
        throttle.remove()
    paths = {applied_id: state_visits(env.sfn, applied_arn), rejected_id: state_visits(env.sfn, rejected_arn)}
    batch = _replayed_batch(env, {applied_id, rejected_id}, run.case.timeout)
    replay = {"batchItemFailures": [{"itemIdentifier": i} for i in batch["failed"]]} if batch else None
    described = env.api.get(f"/presence-changes/{applied_id}")
    rejected = env.api.get(f"/presence-changes/{rejected_id}")
    obs = Observation(
        change_id=applied_id,
        execution_arn=applied_arn,
        status=statuses[applied_id],
        outcome=described.get("outcome"),
        record=described.get("details") or {},
        visits=paths[applied_id],
    )
    counts = records_of(env, run.user_id, [applied_id, rejected_id])
    obs.records = counts[applied_id]
    gather_simulator(run, obs)
    obs.emf = emf_of(env, applied_id)
    obs.extra = {
        "statuses": statuses,
        "pathsEnd": {k: [v.name for v in visits][-2:] for k, visits in paths.items()},
        "messages": len(batch["messageIds"]) if batch else 0,
        "replay": replay,
        "rejectedOutcome": rejected.get("outcome"),
        "rejectedRecords": counts[rejected_id],
        "emfOutcomes": {
            change: [d.get("Outcome") for d in emf_of(env, change)] for change in (applied_id, rejected_id)
        },
        "ids": {"applied": applied_id, "rejected": rejected_id},
    }
    return obs


def _replayed_batch(env: MatrixEnv, change_ids: set[str], timeout: float) -> dict[str, Any] | None:
    """The Record function's delivered batch holding every one of ``change_ids`` (None if none within timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for delivery in env.runtime.sqs_deliveries("RecordFunction"):
            ids = set()
            for body in delivery["bodies"]:
                try:
                    ids.add(json.loads(body).get("changeId"))
                except ValueError:
                    continue
            if change_ids <= ids:
                return delivery
        time.sleep(0.2)
    return None


# ---- the table ---------------------------------------------------------------------------------------------------

ON_QUEUE = {"presence": "On Queue"}
OFFLINE = {"presence": "Offline"}


def _concurrent_edits(n: int, max_retries: int = 3) -> Case:
    if n <= max_retries:
        return Case(
            name=f"concurrent_edits_{n}",
            proves=f"{n} edit(s) by the agent between our read and our write: re-validated {n} times and applied; "
            "the record lists the conflicts as attempts, not as an error",
            agent="queue",
            request=ON_QUEUE,
            outcome="applied",
            patches=1,
            final=becomes("OnQueue"),
            setup=(edits_between_validate_and_write(n),),
            checks=(
                record_field("conflictRetries", n),
                attempts_list("PreconditionFailed", n),
                in_path("ConflictBackoff", n),
            ),
        )
    return Case(
        name=f"concurrent_edits_{n}",
        proves=f"{n} edits in a row exceed ConflictMaxRetries ({max_retries}): conflict, nothing written, "
        "the agent's own edit stands",
        agent="queue",
        request=ON_QUEUE,
        outcome="conflict",
        patches=0,
        final=agents_own_edit(),
        setup=(edits_between_validate_and_write(n),),
        checks=(record_field("conflictRetries", max_retries), in_path("Conflict")),
    )


CASES: list[Case] = [
    # -- the baseline and the policy's own outcomes
    Case(
        name="baseline_applied",
        proves="no fault: applied with one PATCH, exported, no error and no attempts in the record",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        checks=(
            record_field("exportStatus", "published"),
            Check("record has no attempts", lambda run, obs: not obs.record.get("attempts")),
            emf_documents(1),
        ),
    ),
    Case(
        name="dry_run",
        proves="dryRun validates only: dry_run, nothing written",
        agent="queue",
        request={**ON_QUEUE, "dryRun": True},
        outcome="dry_run",
        patches=0,
        final=unchanged(),
    ),
    Case(
        name="rejected_off_shift",
        proves="the policy's 'no' is an outcome: an off-shift agent is not put On Queue",
        agent="off_shift",
        request=ON_QUEUE,
        outcome="rejected",
        patches=0,
        final=unchanged(),
        checks=(names_code("no_active_shift"),),
    ),
    Case(
        name="rejected_live_interaction",
        proves="an agent on a live interaction is not taken off queue",
        agent="interacting",
        request=OFFLINE,
        outcome="rejected",
        patches=0,
        final=unchanged(),
        checks=(names_code("live_interaction"),),
    ),
    Case(
        name="forced_live_interaction",
        proves="force (a real boolean) takes a live agent off queue, through the re-check before the write too",
        agent="interacting",
        request={**OFFLINE, "force": True},
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        checks=(
            Check(
                "warning live_interaction_forced",
                lambda run, obs: (
                    "live_interaction_forced"
                    in [w.get("code") for w in (obs.record.get("policy") or {}).get("warnings", [])]
                ),
            ),
        ),
    ),
    Case(
        name="offline_not_in_wfm",
        proves="issue 8.7: Offline is exempt from the schedule rules, even for an agent not in WFM",
        agent="not_in_wfm",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
    ),
    # -- ambiguous writes
    Case(
        name="patch_timeout_landed",
        proves="issue 8.1: a PATCH whose answer times out (it lands late) is not repeated: wait to settle, "
        "re-read, reconcile - applied with exactly one PATCH",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(sim_fault("latency", PRESENCE_PATH, method="PATCH"),),
        checks=(in_path("WaitForWriteToSettle"),),
        slow=True,
    ),
    Case(
        name="patch_503_after_write",
        proves="a PATCH applied and then answered 503 is reconciled, not repeated: applied with one PATCH",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("server_error_after", PRESENCE_PATH, method="PATCH"),),
        checks=(in_path("WaitForWriteToSettle"),),
        slow=True,
    ),
    Case(
        name="patch_503_not_landed",
        proves="a PATCH refused with 503 before it was processed is written again under the lease, only after "
        "the settle wait and a re-read: applied with two PATCHes",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=2,
        final=becomes("Offline"),
        setup=(sim_fault("server_error", PRESENCE_PATH, method="PATCH", status=503),),
        checks=(in_path("WaitForWriteToSettle"), patch_repeated_after_settle()),
        slow=True,
    ),
    Case(
        name="newer_change_after_timed_out_patch",
        proves="issue 8.1: change B started while A's timed-out PATCH is in flight ends as the live presence; "
        "A's late write never undoes it (the lease outlives the write)",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        records=2,
        patches=2,
        final=Final("B's presence", b_stands),
        checks=(Check("the newest applied record is what is live", newest_record_is_live),),
        drive=drive_newer_change_after_timed_out_patch,
        slow=True,
    ),
    # -- routing status re-checked right before the write
    Case(
        name="live_interaction_before_write",
        proves="issue 8.2: the agent starts interacting between Validate and the write (routing status moves, "
        "presence does not): re-checked before the write - rejected, no PATCH",
        agent="on_queue",
        request=OFFLINE,
        outcome="rejected",
        patches=0,
        final=unchanged(),
        setup=(goes_live_before("LockedUpdateFunction"),),
        checks=(names_code("live_interaction"),),
    ),
    Case(
        name="live_interaction_during_retry_after",
        proves="issue 8.2: after a 429 Wait the path goes back through Validate, which sees the new "
        "interaction - rejected; only the refused PATCH reached Genesys",
        agent="on_queue",
        request=OFFLINE,
        outcome="rejected",
        patches=1,
        final=unchanged(),
        setup=(
            sim_fault("rate_limit", PRESENCE_PATH, method="PATCH", retryAfter=RETRY_AFTER),
            goes_live_after("LockedUpdateFunction"),
        ),
        checks=(names_code("live_interaction"), waited(RETRY_AFTER)),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    # -- ids that are paths
    Case(
        name="path_skill_id_api",
        proves="issue 8.3: a skillId that is a path is refused by the API with a 400 code; nothing started, "
        "nothing sent",
        agent="any",
        request=path_skill_id("Offline"),
        outcome="http 400 invalid_request",
        records=0,
        patches=0,
        final=unchanged(),
        checks=(
            Check("no execution started", lambda run, obs: obs.extra.get("executionsStarted") == 0),
            no_request_for_other_user(),
        ),
        needs_other=True,
        drive=drive_refused_by_api,
    ),
    Case(
        name="path_skill_id_console",
        proves="issue 8.3: the same input started from the console fails as InvalidRequest and no request "
        "reaches the simulator for the other user",
        agent="any",
        request=path_skill_id("Offline"),
        start="console",
        outcome="failed",
        patches=0,
        final=unchanged(),
        checks=(error_type("InvalidRequest"), no_request_for_other_user()),
        needs_other=True,
    ),
    # -- 429 on each call, the token endpoint and the cap
    Case(
        name="rate_limited_token",
        proves="issue 8.4: 429 from /oauth/token is a rate limit, not refused credentials: wait, then applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(expire_tokens, sim_fault("rate_limit", TOKEN_PATH, scoped=False, retryAfter=RETRY_AFTER)),
        checks=(waited(RETRY_AFTER), attempts_list("GenesysRateLimited")),
        solo=True,
    ),
    Case(
        name="rate_limited_get_presence",
        proves="429 on Validate's presence read: WaitRetryAfter exactly Retry-After, then applied",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("rate_limit", PRESENCE_PATH, method="GET", retryAfter=RETRY_AFTER),),
        checks=(waited(RETRY_AFTER), record_field("rateLimitWaits", 1), attempts_list("GenesysRateLimited", 1)),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    Case(
        name="rate_limited_routing_status",
        proves="429 on the routing status read: wait, re-validate, applied",
        agent="on_queue",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("rate_limit", ROUTING_STATUS_PATH, method="GET", retryAfter=RETRY_AFTER),),
        checks=(waited(RETRY_AFTER), attempts_list("GenesysRateLimited")),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    Case(
        name="rate_limited_schedule_search",
        proves="429 on the WFM schedule search: wait, then applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(
            cold_schedule_cache,
            sim_fault("rate_limit", SCHEDULE_SEARCH_PATH, method="POST", scoped=False, retryAfter=RETRY_AFTER),
        ),
        checks=(waited(RETRY_AFTER),),
        solo=True,
    ),
    Case(
        name="rate_limited_patch_presence",
        proves="429 on our PATCH: wait exactly Retry-After, back through Validate, applied; the record has "
        "attempts and no error",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=2,
        final=becomes("OnQueue"),
        setup=(sim_fault("rate_limit", PRESENCE_PATH, method="PATCH", retryAfter=RETRY_AFTER),),
        checks=(
            waited(RETRY_AFTER),
            Check(
                "Validate runs again after the wait",
                lambda run, obs: (
                    "Validate" in obs.path[obs.path.index("WaitRetryAfter") :]
                    if "WaitRetryAfter" in obs.path
                    else False
                ),
            ),
            record_field("rateLimitWaits", 1),
            attempts_list("GenesysRateLimited", 1),
        ),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    Case(
        name="rate_limited_get_skills",
        proves="429 on the skills read: SkillOverride waits and runs again; presence written once",
        agent="any",
        request=with_skill("Offline", 2),
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(pick_new_skill, sim_fault("rate_limit", SKILLS_PATH, method="GET", retryAfter=RETRY_AFTER)),
        checks=(waited(RETRY_AFTER), skill_assigned(2)),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    Case(
        name="rate_limited_patch_skills",
        proves="429 on the bulk skills write: wait, skills written, presence written once",
        agent="any",
        request=with_skill("Offline", 2),
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(pick_new_skill, sim_fault("rate_limit", SKILLS_BULK_PATH, method="PATCH", retryAfter=RETRY_AFTER)),
        checks=(waited(RETRY_AFTER), skill_assigned(2)),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    Case(
        name="retry_after_above_cap",
        proves="a Retry-After above GENESYS_RETRY_AFTER_CAP_SECONDS waits the cap, then applied",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(retry_after_above_cap,),
        checks=(waited_cap(),),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    Case(
        name="rate_limited_every_time",
        proves="429 on every read: RateLimitMaxWaits waits, then rate_limited with the error in the record",
        agent="any",
        request=OFFLINE,
        outcome="rate_limited",
        patches=0,
        final=unchanged(),
        setup=(sim_fault("rate_limit", PRESENCE_PATH, method="GET", retryAfter=1, count=100),),
        checks=(
            Check("RateLimitMaxWaits waits", lambda run, obs: len(obs.waits()) == run.timing.rate_limit_max_waits),
            error_type("GenesysRateLimited"),
        ),
        solo=True,  # a 429 empties the shared rate budget: every change waits it out
    ),
    # -- 503 on each call
    Case(
        name="unavailable_get_presence",
        proves="503 on the presence read is retried inside the Lambda: applied, no state-machine wait",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("server_error", PRESENCE_PATH, method="GET", status=503),),
        checks=(retried_inside_the_lambda(),),
    ),
    Case(
        name="unavailable_routing_status",
        proves="503 on the routing status read is retried inside the Lambda: applied",
        agent="on_queue",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("server_error", ROUTING_STATUS_PATH, method="GET", status=503),),
        checks=(retried_inside_the_lambda(),),
    ),
    Case(
        name="unavailable_schedule_search",
        proves="503 on the schedule search (a read) is retried: applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(
            cold_schedule_cache,
            sim_fault("server_error", SCHEDULE_SEARCH_PATH, method="POST", scoped=False, status=503),
        ),
        solo=True,
    ),
    Case(
        name="unavailable_get_skills",
        proves="503 on the skills read is retried inside the Lambda: applied, skills written",
        agent="any",
        request=with_skill("Offline", 3),
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(pick_new_skill, sim_fault("server_error", SKILLS_PATH, method="GET", status=503)),
        checks=(skill_assigned(3), retried_inside_the_lambda()),
    ),
    Case(
        name="unavailable_patch_skills",
        proves="503 on the bulk skills write: retried, skills written, presence written once",
        agent="any",
        request=with_skill("Offline", 3),
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(pick_new_skill, sim_fault("server_error", SKILLS_BULK_PATH, method="PATCH", status=503)),
        checks=(skill_assigned(3),),
    ),
    Case(
        name="unavailable_token",
        proves="503 from /oauth/token is transient: retried, applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(expire_tokens, sim_fault("server_error", TOKEN_PATH, scoped=False, status=503)),
        solo=True,
    ),
    Case(
        name="unavailable_every_time",
        proves="503 on every presence read: the bounded retries give up - failed, nothing written, the cause kept",
        agent="any",
        request=OFFLINE,
        outcome="failed",
        patches=0,
        final=unchanged(),
        setup=(sim_fault("server_error", PRESENCE_PATH, method="GET", status=503, count=100),),
        checks=(error_type("GenesysUnavailable"),),
    ),
    # -- timeouts on each call
    Case(
        name="timeout_get_presence",
        proves="a presence read slower than the client timeout is retried inside the Lambda: applied",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("latency", PRESENCE_PATH, method="GET"),),
        checks=(retried_inside_the_lambda(),),
        slow=True,
    ),
    Case(
        name="timeout_routing_status",
        proves="a routing status read slower than the client timeout is retried: applied",
        agent="on_queue",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("latency", ROUTING_STATUS_PATH, method="GET"),),
        checks=(retried_inside_the_lambda(),),
        slow=True,
    ),
    Case(
        name="timeout_schedule_search",
        proves="a schedule search slower than the client timeout is retried: applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(cold_schedule_cache, sim_fault("latency", SCHEDULE_SEARCH_PATH, method="POST", scoped=False)),
        solo=True,
        slow=True,
    ),
    Case(
        name="timeout_token",
        proves="a token request slower than the client timeout is retried: applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(expire_tokens, sim_fault("latency", TOKEN_PATH, scoped=False)),
        solo=True,
        slow=True,
    ),
    Case(
        name="timeouts_outlast_retry_budget",
        proves="issue 8.8: three slow reads in a row: the Lambda's retry budget ends inside its Timeout and "
        "the state machine retries - applied",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(sim_fault("latency", PRESENCE_PATH, method="GET", count=3),),
        checks=(within_function_timeout(),),
        slow=True,
        timeout=240,
    ),
    Case(
        name="tokens_expire_mid_change",
        proves="every token expires between Validate and LockedUpdate: one refresh, applied",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(tokens_expire_before("LockedUpdateFunction"),),
        checks=(
            Check(
                "exactly one token request",
                lambda run, obs: len([r for r in obs.requests if r["path"] == TOKEN_PATH]) == 1,
            ),
            Check("a 401 was answered", lambda run, obs: any(r["status"] == 401 for r in obs.requests)),
        ),
        solo=True,
    ),
    # -- concurrent edits 1-5
    *[_concurrent_edits(n) for n in range(1, 6)],
    # -- our own concurrent writers
    Case(
        name="twenty_changes_at_once",
        proves="issue 8.12: 20 changes to one agent at once: one record each, every one applied in turn "
        "under the lease, LeaseWaits counts our contention, ConflictRetries stays 0",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        records=20,
        patches=20,
        final=Final("newest record's", newest_record_is_live),
        checks=(
            Check("ConflictRetries 0 in the records", lambda run, obs: obs.extra.get("conflictRetries") == 0),
            Check("ConflictRetries 0 in the metrics", lambda run, obs: obs.extra.get("emfConflictRetries") == 0),
            Check("LeaseWaits > 0 in the metrics", lambda run, obs: (obs.extra.get("emfLeaseWaits") or 0) > 0),
            Check(
                "agent's conflict count unchanged", lambda run, obs: obs.extra.get("metricsConflictRetriesDelta") == 0
            ),
        ),
        drive=drive_twenty_at_once,
        solo=True,
        slow=True,
        timeout=240,
    ),
    # -- DynamoDB throttling
    Case(
        name="audit_table_throttled",
        proves="the audit write is throttled once: Record is retried - exactly one record, metrics once",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.throttle_audit_record(run.user_id, times=1)),),
        checks=(fault_used(1), emf_documents(1)),
    ),
    Case(
        name="audit_table_throttled_twice",
        proves="ThrottlingException twice on the audit write: still exactly one record",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(
            aws_fault(lambda run: run.env.aws.throttle_audit_record(run.user_id, times=2, code="ThrottlingException")),
        ),
        checks=(fault_used(2), emf_documents(1)),
    ),
    Case(
        name="lease_throttled",
        proves="taking the agent's lease is throttled once: retried, applied with one PATCH",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.throttle_lease(run.user_id, step="acquire", times=1)),),
        checks=(fault_used(1),),
    ),
    Case(
        name="lease_release_throttled",
        proves="releasing the lease after the write is throttled: the landed write is not redone - applied, one PATCH",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.throttle_lease(run.user_id, step="release", times=1)),),
        checks=(fault_used(1),),
    ),
    # -- EventBridge
    Case(
        name="put_events_failed_once",
        proves="PutEvents answers FailedEntryCount 1 once: Export retried, exportStatus published",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.fail_put_events(run.user_id, times=1)),),
        checks=(fault_used(1), record_field("exportStatus", "published")),
    ),
    Case(
        name="put_events_failed_always",
        proves="PutEvents always fails: the change is still applied, exportStatus failed, no error in the record",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.fail_put_events(run.user_id, times=None)),),
        checks=(fault_used(), record_field("exportStatus", "failed")),
    ),
    # -- duplicate delivery of a step
    Case(
        name="duplicate_record",
        proves="Record delivered twice: one audit record, metrics emitted once",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.duplicate_delivery("RecordFunction", run.user_id)),),
        checks=(fault_used(1), emf_documents(1)),
    ),
    Case(
        name="duplicate_locked_update",
        proves="LockedUpdate delivered twice: the second delivery recognises its own write - one PATCH, "
        "no conflict counted",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(aws_fault(lambda run: run.env.aws.duplicate_delivery("LockedUpdateFunction", run.user_id)),),
        checks=(fault_used(1), record_field("conflictRetries", 0)),
    ),
    Case(
        name="locked_update_timed_out_after_write",
        proves="LockedUpdate's Lambda runs out of time after its PATCH landed (Sandbox.Timedout, the answer lost): "
        "never written blindly again - wait to settle, re-read, reconcile: applied with one PATCH",
        agent="queue",
        request=ON_QUEUE,
        outcome="applied",
        patches=1,
        final=becomes("OnQueue"),
        setup=(aws_fault(lambda run: run.env.aws.time_out_after("LockedUpdateFunction", run.user_id)),),
        checks=(fault_used(1), in_path("WaitForWriteToSettle"), record_field("conflictRetries", 0)),
        slow=True,
    ),
    Case(
        name="duplicate_export",
        proves="Export delivered twice: one record, exportStatus published",
        agent="any",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        setup=(aws_fault(lambda run: run.env.aws.duplicate_delivery("ExportFunction", run.user_id)),),
        checks=(fault_used(1), record_field("exportStatus", "published")),
    ),
    # -- the audit fallback queue
    Case(
        name="fallback_replay_keeps_each_outcome",
        proves="issue 8.5: two records the audit table refused are replayed from the fallback queue in one "
        "batch; each keeps its own outcome in the trail and in its metrics",
        agent="off_shift",
        request=OFFLINE,
        outcome="applied",
        patches=1,
        final=becomes("Offline"),
        checks=(
            Check(
                "both executions parked their record",
                lambda run, obs: all(end[-1:] == ["AuditDeferred"] for end in obs.extra["pathsEnd"].values()),
            ),
            Check("replayed without failures", lambda run, obs: obs.extra["replay"] == {"batchItemFailures": []}),
            Check(
                "the rejected change has its own record",
                lambda run, obs: (obs.extra["rejectedOutcome"], obs.extra["rejectedRecords"]) == ("rejected", 1),
            ),
            Check(
                "metrics carry each record's own Outcome",
                lambda run, obs: (
                    obs.extra["emfOutcomes"][obs.extra["ids"]["applied"]] == ["applied"]
                    and obs.extra["emfOutcomes"][obs.extra["ids"]["rejected"]] == ["rejected"]
                ),
            ),
        ),
        status="FAILED",  # the execution parked its record (AuditDeferred); the replay wrote it
        drive=drive_fallback_replay,
        slow=True,
    ),
]


# ---- agents and groups ----------------------------------------------------------------------------------------


def _system(user: dict[str, Any]) -> str:
    return str(user["presence"]["systemPresence"])


ROLES: dict[str, Callable[[dict[str, Any]], bool]] = {
    # on shift, scheduled for queue work, not on a live interaction: On Queue is allowed
    "queue": lambda u: u["schedulePattern"] == "on_queue" and u["routingStatus"] not in LIVE_STATUSES,
    # On Queue and idle: Offline takes them off queue, so the routing status is read
    "on_queue": lambda u: _system(u) == "OnQueue" and u["routingStatus"] == "IDLE" and bool(u["managementUnitId"]),
    "interacting": lambda u: _system(u) == "OnQueue" and u["routingStatus"] in LIVE_STATUSES,
    "off_shift": lambda u: u["schedulePattern"] == "off_shift",
    "not_in_wfm": lambda u: not u["managementUnitId"],
    # anyone in WFM not on a live interaction: Offline is allowed
    "any": lambda u: bool(u["managementUnitId"]) and u["routingStatus"] not in LIVE_STATUSES,
}


@dataclass
class Slot:
    case: Case
    agent: dict[str, Any]
    other: dict[str, Any] | None = None


def plan(cases: Sequence[Case], users: list[dict[str, Any]], max_parallel: int = MAX_PARALLEL) -> list[list[Slot]]:
    """Groups of cases that run at the same time, each case on its own agent; scarce agents are spent last."""
    scarcity = {u["id"]: sum(1 for role in ROLES.values() if role(u)) for u in users}
    ordered = sorted(cases, key=lambda c: (not c.slow, c.solo))  # slow ones share groups
    groups: list[list[Slot]] = []
    used: list[set[str]] = []
    for case in ordered:
        placed = False
        for index, group in enumerate(groups):
            if case.solo or any(slot.case.solo for slot in group) or len(group) >= max_parallel:
                continue
            slot = _allocate(case, users, used[index], scarcity)
            if slot is not None:
                group.append(slot)
                placed = True
                break
        if not placed:
            taken: set[str] = set()
            slot = _allocate(case, users, taken, scarcity)
            if slot is None:
                raise RuntimeError(f"no agent in the simulator's org fits case {case.name} ({case.agent})")
            groups.append([slot])
            used.append(taken)
    order = {case.name: index for index, case in enumerate(cases)}
    for group in groups:
        group.sort(key=lambda slot: order[slot.case.name])
    return groups


def _allocate(case: Case, users: list[dict[str, Any]], taken: set[str], scarcity: dict[str, int]) -> Slot | None:
    fits = [u for u in users if u["id"] not in taken and ROLES[case.agent](u)]
    if not fits:
        return None
    agent = min(fits, key=lambda u: scarcity[u["id"]])
    other = None
    if case.needs_other:
        others = [u for u in users if u["id"] not in taken and u["id"] != agent["id"]]
        if not others:
            return None
        other = min(others, key=lambda u: scarcity[u["id"]])
        taken.add(other["id"])
    taken.add(agent["id"])
    return Slot(case, agent, other)


# ---- running the matrix ----------------------------------------------------------------------------------------


def run_case(env: MatrixEnv, slot: Slot, org: dict[str, Any], log_start: int) -> CaseResult:
    case = slot.case
    users = {u["id"]: u for u in org["users"]}
    run = CaseRun(
        env=env,
        case=case,
        agent=slot.agent,
        before=users[slot.agent["id"]],
        org=org,
        log_start=log_start,
        other=slot.other,
        message=f"fm {case.name} {uuid.uuid4().hex[:6]}",
    )
    started = time.monotonic()
    obs = Observation()
    checks: dict[str, bool] = {}
    try:
        for setup in case.setup:
            setup(run)
        obs = (case.drive or drive_change)(run)
    except Exception:
        obs.error = traceback.format_exc()
    finally:
        for cleanup in reversed(run.cleanups):
            try:
                cleanup()
            except Exception:
                traceback.print_exc(file=sys.stderr)
    if obs.error is None:
        for check in [*standard_checks(case), *case.checks]:
            try:
                checks[check.name] = bool(check.holds(run, obs))
            except Exception as exc:
                checks[check.name] = False
                obs.extra.setdefault("checkErrors", {})[check.name] = f"{type(exc).__name__}: {exc}"
    return CaseResult(case, slot.agent["name"], obs, checks, round(time.monotonic() - started, 1), run)


def run_matrix(
    runtime: Any,
    cases: Sequence[Case] | None = None,
    *,
    max_parallel: int = MAX_PARALLEL,
    progress: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Run ``cases`` (all by default) on a running local stack; results in table order."""
    cases = list(CASES if cases is None else cases)
    env = MatrixEnv.open(runtime)
    results: dict[str, CaseResult] = {}
    lock = threading.Lock()
    try:
        env.sim.reset()
        groups = plan(cases, env.sim.state()["users"], max_parallel)
        for group in groups:
            try:
                org, log_start = _prepare_group(env)
            except Exception:
                error = traceback.format_exc()
                for slot in group:
                    results[slot.case.name] = CaseResult(slot.case, slot.agent["name"], Observation(error=error), {}, 0)
                continue
            with ThreadPoolExecutor(len(group)) as pool:
                futures = [pool.submit(run_case, env, slot, org, log_start) for slot in group]
                for future in futures:
                    result = future.result()
                    with lock:
                        results[result.case.name] = result
                    if progress:
                        progress(result)
            env.aws.clear()
            env.sim.clear_faults()
    finally:
        env.close()
    return [results[case.name] for case in cases if case.name in results]


def _prepare_group(env: MatrixEnv) -> tuple[dict[str, Any], int]:
    """A quiet stack, a fresh org, a fresh token (so that a case's token requests are its own), and where the log
    starts."""
    env.quiesce()
    env.sim.reset()
    org = env.sim.state()
    deadline = time.monotonic() + 30
    while True:  # the previous group's last 429 may still hold the shared rate budget for a few seconds
        try:
            env.api.get(f"/agents/{org['users'][0]['id']}/presence")
            break
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    return org, env.sim.log_length()


def table(results: Sequence[CaseResult]) -> str:
    rows = [("case", "expected", "observed", "ok")]
    rows += [(r.case.name, r.case.expected(), r.observed(), "ok" if r.ok else "MISS") for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        lines.append(" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if index == 0:
            lines.append("-+-".join("-" * width for width in widths))
        elif not results[index - 1].ok:
            lines.append(f"{'':{widths[0]}} |   misses: {'; '.join(results[index - 1].misses)}")
    passed = sum(1 for r in results if r.ok)
    lines.append(f"\n{passed}/{len(results)} cases hold")
    return "\n".join(lines)


def markdown_cases(cases: Sequence[Case] = CASES) -> str:
    lines = ["| case | expected | what it proves |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.expected()} | {c.proves} |" for c in cases]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m presence_manager_local.fault_matrix", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-k", dest="select", action="append", default=[], help="run the cases whose name contains this")
    parser.add_argument("--list", action="store_true", help="print the cases (markdown) and exit")
    parser.add_argument("--verbose", "-v", action="store_true", help="explain every case, not only the misses")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.select or any(s in c.name for s in args.select)]
    if args.list:
        print(markdown_cases(cases))
        return 0
    if not cases:
        print("no case matches", file=sys.stderr)
        return 2
    from presence_manager_local.emulation import LocalRuntime

    out = sys.stdout
    began = time.monotonic()

    def progress(result: CaseResult) -> None:
        print(f"  {'ok  ' if result.ok else 'MISS'} {result.case.name} ({result.seconds:.0f} s)", file=out, flush=True)

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)
        timing = Timing.of(runtime)
        print(
            f"fault matrix: {len(cases)} cases; client timeout {timing.client_timeout:g} s, settle "
            f"{timing.settle:g} s, Retry-After cap {min(timing.retry_after_cap, MATRIX_RETRY_AFTER_CAP_SECONDS)} s",
            file=out,
            flush=True,
        )
        results = run_matrix(runtime, cases, progress=progress)
    print("\n" + table(results), file=out)
    for result in results:
        if args.verbose or not result.ok:
            print("\n" + result.explain(), file=out)
    print(f"\n{time.monotonic() - began:.0f} s", file=out)
    return 0 if results and all(r.ok for r in results) and len(results) == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
