"""``make bench``: the local stack in-process at the simulator's real 300 requests/minute (a benchmark, not a test).

One run prints one table per part:

1. bulk changes to Offline over one management unit of 1,000 and of 10,000 agents: Genesys API calls per agent
   (from the simulator's request log; token calls apart), 429s the simulator answered, wall time against the
   rate-limit minimum (calls / 300 per minute), the largest state a step is given or returns (every Lambda
   invocation, and the executions' history events), and the latency of ``GET /bulk-changes/{id}`` (``limit=0``:
   status and counters; ``limit=100``: a page of agents);
2. 100 single changes (POST /presence-changes) fired at the same moment as the 1,000-agent bulk: 429s, outcomes and
   latency;
3. single changes one after another on the fixture org, caches warm: Genesys calls per presence-only change, per
   change taking an On Queue agent off queue and per change with a skill override; latency p50/p95;
4. each handler module's cold import (see ``cold_imports``).

Neither the simulator's rate limit nor the deployment's rate budget (GenesysRequestsPerMinute) is lifted.

    python -m presence_manager_local.bench                 # the whole run (the 10,000-agent bulk takes minutes)
    python -m presence_manager_local.bench --quick         # bulks of 200 and 1,000 agents, 20 singles
    python -m presence_manager_local.bench --cold-imports [--runs 10]     # the cold imports alone
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from presence_manager_local.cli import print_table
from presence_manager_local.emulation import LOCAL_PARAMETERS
from presence_manager_local.scenarios import Api, Simulator

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = tuple(sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py")))
LAYER = ROOT / "layers" / "core"
# What the Lambda runtime (python3.13) has set when it imports a handler, plus the template's Globals that a library
# reads at import. Outside Lambda (no LAMBDA_TASK_ROOT, ...) libraries take other paths: the X-Ray SDK, for one,
# built a sampling client there that it never builds in Lambda. {handler} is the function's directory name.
LAMBDA_ENVIRONMENT = {
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "AWS_LAMBDA_FUNCTION_NAME": "genesys-presence-manager-{handler}",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/genesys-presence-manager-{handler}",
    "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]00000000000000000000000000000000",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
    "_AWS_XRAY_DAEMON_PORT": "2000",
    "LAMBDA_RUNTIME_DIR": "/var/runtime",
    "_HANDLER": "app.handler",
    "TZ": ":UTC",
    "LANG": "en_US.UTF-8",
    "POWERTOOLS_SERVICE_NAME": "genesys-presence-manager",
    "POWERTOOLS_METRICS_NAMESPACE": "GenesysPresenceManager",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
# Timed in the child: only the import of the handler module, the way the runtime imports ``app`` from its task root.
IMPORT_HANDLER = (
    "import importlib, time\n"
    "start = time.perf_counter()\n"
    "importlib.import_module('app')\n"
    "print((time.perf_counter() - start) * 1000)\n"
)
IMPORT_BOTO3 = "import time\nstart = time.perf_counter()\nimport boto3\nprint((time.perf_counter() - start) * 1000)\n"
TOKEN_PATH = "/oauth/token"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def lambda_environment(handler: str) -> dict[str, str]:
    """A fresh process's environment as Lambda gives it: the handler's directory is the task root (``/var/task``) and
    the layer is on the path (``/opt/python``); nothing of this shell's AWS, Powertools or Python settings leaks in."""
    task_root = ROOT / "functions" / handler
    env = {name: value.format(handler=handler) for name, value in LAMBDA_ENVIRONMENT.items()}
    env.update(
        {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LAMBDA_TASK_ROOT": str(task_root),
            "PYTHONPATH": os.pathsep.join([str(task_root), str(LAYER)]),
        }
    )
    return env


def _timed_child(code: str, handler: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "functions" / handler,
        env=lambda_environment(handler),
    )


def heaviest_import(handler: str) -> tuple[str, float]:
    """The handler module's heaviest direct import and its cumulative ms, from ``python -X importtime`` (a run of its
    own: importtime's bookkeeping slows the import it reports on)."""
    # An import statement: importtime logs it (and nests the handler's imports under it); importlib it does not.
    stderr = _timed_child("import app", handler, "-X", "importtime").stderr
    children: list[tuple[int, str]] = []
    for line in stderr.splitlines():
        columns = line.removeprefix("import time:").split("|")
        if len(columns) != 3 or not columns[1].strip().isdigit():
            continue
        name = columns[2][1:]  # one space of padding, then two spaces per nesting level
        depth = (len(name) - len(name.lstrip(" "))) // 2
        if depth == 1:
            children.append((int(columns[1]), name.strip()))
        elif depth == 0:
            if name.strip() == "app":
                break
            children = []
    if not children:
        return "-", 0.0
    micros, name = max(children)
    return name, micros / 1000


def cold_imports(runs: int = 10, handlers: Sequence[str] = HANDLERS) -> dict[str, Any]:
    """Each handler's cold import in the Lambda environment: the median of ``runs`` fresh processes, each followed by
    a fresh process doing a bare ``import boto3`` (same environment, same moment, so a busy machine slows both), and
    the handler's median as a multiple of its paired boto3 median. Wall time of the import only (interpreter start-up
    excluded, as Lambda's own runtime start-up is)."""
    samples: dict[str, list[float]] = {handler: [] for handler in handlers}
    paired: dict[str, list[float]] = {handler: [] for handler in handlers}
    for _ in range(runs):
        for handler in handlers:
            samples[handler].append(float(_timed_child(IMPORT_HANDLER, handler).stdout.split()[-1]))
            paired[handler].append(float(_timed_child(IMPORT_BOTO3, handler).stdout.split()[-1]))
    figures: dict[str, dict[str, Any]] = {}
    for handler in handlers:
        median_ms, boto3_ms = statistics.median(samples[handler]), statistics.median(paired[handler])
        heaviest, heaviest_ms = heaviest_import(handler)
        figures[handler] = {
            "medianMs": round(median_ms, 1),
            "boto3MedianMs": round(boto3_ms, 1),
            "timesBoto3": round(median_ms / boto3_ms, 2),
            "maxMs": round(max(samples[handler]), 1),
            "heaviestImport": heaviest,
            "heaviestImportMs": round(heaviest_ms, 1),
        }
    every_boto3 = [ms for values in paired.values() for ms in values]
    return {"runs": runs, "boto3MedianMs": round(statistics.median(every_boto3), 1), "handlers": figures}


def print_cold_imports(imports: dict[str, Any]) -> None:
    print(
        f"\ncold import per handler module (ms, median of {imports['runs']} fresh processes in the Lambda environment;"
        f" bare `import boto3`: {imports['boto3MedianMs']} ms):"
    )
    print_table(
        [
            {
                "handler": handler,
                "median ms": figure["medianMs"],
                "max ms": figure["maxMs"],
                "paired boto3 ms": figure["boto3MedianMs"],
                "x boto3": figure["timesBoto3"],
                "heaviest import": figure["heaviestImport"],
            }
            for handler, figure in imports["handlers"].items()
        ],
        ["handler", "median ms", "max ms", "paired boto3 ms", "x boto3", "heaviest import"],
    )


# ---- the runs through the local stack ---------------------------------------------------------------------------

BULK_SIZES = (1000, 10000)
QUICK_BULK_SIZES = (200, 1000)
RATE_PER_MINUTE = 300  # the simulator's default and the deployment's GenesysRequestsPerMinute default: never lifted
BATCH_AGENTS = 50
IDEAL_CALLS_PER_BATCH = 4  # bulk read, bulk re-read, routing read (On Queue agents), bulk write
PAYLOAD_LIMIT_BYTES = 200 * 1024
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
API_PREFIX = "/api/v2/"
CHANGE_INTERVAL_SECONDS = 1.0  # between sequential single changes: ~4 calls a change stays under 249/minute
SHARED_ITEMS = ("BUDGET#genesys", "TOKEN#genesys")  # the deployment's one rate budget and one token


class BenchTimeout(Exception):
    """A run did not end within its deadline (the bench stops rather than hang)."""


def is_api_call(request: dict[str, Any]) -> bool:
    return str(request["path"]).startswith(API_PREFIX)


def call_figures(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """Genesys API calls (token calls and the simulator's download URLs apart), 429s, and calls by route."""
    api = [r for r in requests if is_api_call(r)]
    tokens = [r for r in requests if r["path"] == TOKEN_PATH]
    return {
        "api": len(api),
        "token": len(tokens),
        # A schedule search's downloadUrl (Genesys serves these from a download host, not the rate-limited API).
        "downloads": sum(1 for r in requests if not is_api_call(r) and r["path"] != TOKEN_PATH),
        "answered429": sum(1 for r in api if r["status"] == 429),
        "token429": sum(1 for r in tokens if r["status"] == 429),
        "byRoute": Counter(f"{r['method']} {r.get('route') or r['path']}" for r in api),
    }


def event_payload_bytes(event: dict[str, Any]) -> int:
    """The largest ``input`` or ``output`` an execution history event carries (bytes)."""
    largest = 0
    for key, value in event.items():
        if key.endswith("EventDetails") and isinstance(value, dict):
            for field_name in ("input", "output"):
                if isinstance(value.get(field_name), str):
                    largest = max(largest, len(value[field_name].encode()))
    return largest


def failures(events: list[dict[str, Any]]) -> list[str]:
    """``error: cause`` of every failed step, retry and the execution in a history (empty when nothing failed)."""
    found = []
    for event in events:
        if event["type"].endswith(("Failed", "TimedOut", "Aborted")):
            details = next((v for k, v in event.items() if k.endswith("EventDetails") and isinstance(v, dict)), {})
            cause = str(details.get("cause"))
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                cause = str(json.loads(cause).get("errorMessage", cause))
            found.append(f"{event['type']}: {details.get('error')}: {cause[:300]}")
    return found


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events.extend(page["events"])
    return events


class Stack:
    """The in-process local runtime and the clients the runs use."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.api = Api(runtime.api_url)
        self.sim = Simulator(runtime.sim_url)
        self.admin = httpx.Client(base_url=runtime.sim_url, timeout=120)
        self.sfn = runtime.boto3_client("stepfunctions")
        self.dynamodb = runtime.boto3_client("dynamodb")

    def fresh_org(self, agents: int | None, management_units: int | None = None) -> dict[str, Any]:
        """Reshape the simulator's org (``None``: the fixture's), make the warm in-process Lambdas forget what they
        cached of the previous org, and start with the deployment's rate budget full and no token (the reset
        revoked the simulator's tokens). Returns the org without its users' snapshots."""
        body: dict[str, Any] = {"agents": agents}
        if agents is not None and management_units is not None:
            body["managementUnits"] = management_units
        self.admin.post("/__sim/reset", json=body).raise_for_status()
        self.runtime._reset_caches()
        table = self.runtime.table_name("AgentTable")
        for pk in SHARED_ITEMS:
            self.dynamodb.delete_item(TableName=table, Key={"pk": {"S": pk}})
        return self.admin.get("/__sim/state", params={"users": "false"}).json()

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        response = self.admin.get("/__sim/requests", params={"since": str(since)})
        response.raise_for_status()
        return response.json()["requests"]

    def wait_for_executions(
        self, arns: list[str], deadline: float, on_minute: Callable[[], None] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Every execution's final description, polled once a second (moto's API, not ours: polling through the
        in-process API Lambda would take CPU from the run); ``BenchTimeout`` past ``deadline`` (monotonic).
        ``on_minute`` is called once a minute while any is running."""
        done: dict[str, dict[str, Any]] = {}
        pending = list(arns)
        next_minute = time.monotonic() + 60
        while pending:
            if on_minute is not None and time.monotonic() > next_minute:
                on_minute()
                next_minute = time.monotonic() + 60
            still = []
            for arn in pending:
                described = self.sfn.describe_execution(executionArn=arn)
                if described["status"] in TERMINAL:
                    done[arn] = described
                else:
                    still.append(arn)
            pending = still
            if pending:
                if time.monotonic() > deadline:
                    for arn in pending:
                        with contextlib.suppress(Exception):
                            self.sfn.stop_execution(executionArn=arn, cause="bench deadline")
                    raise BenchTimeout(f"{len(pending)} execution(s) still running at the deadline, e.g. {pending[0]}")
                time.sleep(1)
        return done

    def bulk_records(self, bulk_id: str) -> list[dict[str, int]]:
        """Each agent's audit record's wait counters and latency (a scan: the byBulk index leaves ``budgetWaits``
        out). The counters are the agent's batch's: every agent of a batch went through the same waits."""
        fields = ("budgetWaits", "rateLimitWaits", "latencyMs")
        records: list[dict[str, int]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(
            TableName=self.runtime.table_name("AuditTable"),
            FilterExpression="bulkId = :bulk",
            ExpressionAttributeValues={":bulk": {"S": bulk_id}},
            ProjectionExpression=", ".join(fields),
        ):
            for item in page["Items"]:
                records.append({name: int(item[name]["N"]) if name in item else 0 for name in fields})
        return records

    def queued_events(self) -> int:
        """Genesys events (presence changes, ours included) waiting in the queue Observe's SQS mapping drains."""
        assert self.runtime.template is not None
        sqs = self.runtime.boto3_client("sqs")
        name = self.runtime.template.physical["ObservedEventsQueue"]["QueueName"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"])

    def failed_reasons(self, bulk_id: str) -> dict[str, int]:
        """Why the bulk's ``failed`` agents failed (their audit records' reasons, up to 1,000 agents)."""
        reasons: Counter[str] = Counter()
        token = None
        for _ in range(10):
            page = self.api.get(
                f"/bulk-changes/{bulk_id}", outcome="failed", limit="100", **({"nextToken": token} if token else {})
            )
            reasons.update(str(agent.get("reason"))[:160] for agent in page["agents"])
            token = page.get("nextToken")
            if not token:
                break
        return dict(reasons.most_common())

    def settle(self, quiet_seconds: float = 3, timeout: float = 120) -> None:
        """Wait until the Genesys events of the run (presence changes, through SQS to Observe) are all handled."""
        deadline = time.monotonic() + timeout
        seen = -1
        while time.monotonic() < deadline:
            delivered = len(self.runtime.sqs_deliveries())
            if delivered == seen:
                return
            seen = delivered
            time.sleep(quiet_seconds)

    def status_latency(self, bulk_id: str, samples: int = 20) -> dict[str, float]:
        """Through the API emulator, median and max of ``samples`` requests each: the bulk's status
        (``GET /bulk-changes/{id}?limit=0``: the execution and the counters, what a progress poll asks) and its
        first page of agents (``?limit=100``); and, called in-process the way the API's handler calls them, the
        median of the counters' GetItem and of the page's Query of the audit table's byBulk index."""
        from presence_manager import dependencies

        store = dependencies.bulk_store()
        statuses, timings, counters, pages = [], [], [], []
        for _ in range(samples):
            started = time.perf_counter()
            store.get(bulk_id)
            counters.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            store.agents(bulk_id, limit=100)
            pages.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            status = self.api._http.get(f"/bulk-changes/{bulk_id}", params={"limit": "0"})
            statuses.append((time.perf_counter() - started) * 1000)
            status.raise_for_status()
            if status.json()["done"] != status.json()["total"]:
                raise RuntimeError("GET /bulk-changes/{id}?limit=0 did not count every agent")
            started = time.perf_counter()
            response = self.api._http.get(f"/bulk-changes/{bulk_id}", params={"limit": "100"})
            timings.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
            if len(response.json()["agents"]) != min(100, response.json()["total"] or 0):
                raise RuntimeError("GET /bulk-changes/{id}?limit=100 did not answer a full page")
        return {
            "statusMedian": round(statistics.median(statuses), 1),
            "statusMax": round(max(statuses), 1),
            "median": round(statistics.median(timings), 1),
            "max": round(max(timings), 1),
            "countersMedian": round(statistics.median(counters), 1),
            "pageMedian": round(statistics.median(pages), 1),
        }


@dataclass
class Posted:
    """One POST of :func:`fire_together`: when it was first sent, its last answer, and how many times the API
    answered 503 ``rate_limited`` first (the API handler's own Genesys call found the rate budget empty)."""

    sent: float
    status: int
    body: dict[str, Any]
    refused: int = 0


def fire_together(api_url: str, posts: list[tuple[str, dict[str, Any]]], max_attempts: int = 20) -> list[Posted]:
    """POST every (path, body) at once from its own thread (one HTTP client each, released together by a barrier),
    each retried as a client of the API would after a 503 ``rate_limited`` (after its ``retryAfterSeconds``)."""
    barrier = threading.Barrier(len(posts))
    answers: list[Posted | None] = [None] * len(posts)
    errors: list[BaseException] = []

    def post(index: int, path: str, body: dict[str, Any]) -> None:
        try:
            with httpx.Client(base_url=api_url, timeout=120) as client:
                barrier.wait(timeout=60)
                posted = Posted(sent=time.time(), status=0, body={})
                for _ in range(max_attempts):
                    response = client.post(path, json=body)
                    posted.status, posted.body = response.status_code, response.json()
                    error = posted.body.get("error") or {}
                    if response.status_code != 503 or error.get("code") != "rate_limited":
                        break
                    posted.refused += 1
                    time.sleep(float((error.get("details") or {}).get("retryAfterSeconds") or 1))
                answers[index] = posted
        except BaseException as exc:  # reported below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=post, args=(i, *p), daemon=True) for i, p in enumerate(posts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    if errors or any(answer is None for answer in answers):
        raise RuntimeError(f"the concurrent POSTs did not all answer: {errors[:3]}")
    return [answer for answer in answers if answer is not None]


def run_bulk(stack: Stack, agents: int, *, singles: int = 0, timeout: float | None = None) -> dict[str, Any]:
    """A bulk change to Offline over one management unit of ``agents`` agents, at the simulator's 300/minute; with
    ``singles``, that many single changes (POST /presence-changes, Offline) to agents of a second management unit,
    fired at the same moment as the bulk."""
    deadline = time.monotonic() + (timeout if timeout is not None else 300 + 0.25 * agents + 3 * singles)
    org = stack.fresh_org(agents * 2 if singles else agents, 2 if singles else 1)
    unit, *others = org["managementUnits"]
    if len(unit["userIds"]) != agents:
        raise RuntimeError(f"management unit of {len(unit['userIds'])} agents, not {agents}")
    single_users = others[0]["userIds"][:singles] if singles else []
    invocations_before = len(stack.runtime.invocations())
    bulk_body = {"managementUnitId": unit["id"], "presence": "Offline", "message": "bench"}
    posts = [("/bulk-changes", bulk_body)] + [
        ("/presence-changes", {"userId": user_id, "presence": "Offline", "message": "bench single"})
        for user_id in single_users
    ]
    cpu_before, clock_before = time.process_time(), time.monotonic()
    answers = fire_together(stack.runtime.api_url, posts)
    for answer in answers:
        if answer.status != 202:
            raise RuntimeError(f"a POST answered {answer.status}: {answer.body}")
    posted_at, started = answers[0].sent, answers[0].body
    arns = [answer.body["executionArn"] for answer in answers]
    bulk_id = started["bulkId"]

    def progress() -> None:
        from presence_manager import dependencies

        counters = dependencies.bulk_store().get(bulk_id)
        done = f"{counters.done}/{counters.total} agents" if counters else "planning"
        running = sum(1 for arn in arns if stack.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING")
        _progress(f"  {done} of the bulk, {running} execution(s) running")

    executions = stack.wait_for_executions(arns, deadline, progress)
    observe_backlog = stack.queued_events()
    # The whole process's CPU time (every thread: simulator, moto, the Lambdas) over the run's wall time: near 1.0
    # the local engine, not Genesys's rate limit, set the pace (one Python process, one core at a time).
    busy = (time.process_time() - cpu_before) / (time.monotonic() - clock_before)
    bulk_execution = executions[arns[0]]
    wall_s = bulk_execution["stopDate"].timestamp() - posted_at
    requests = stack.requests()  # the log began at the reset: everything here is this run's
    calls = call_figures(requests)
    sent = sorted(datetime.fromisoformat(r["time"]).timestamp() for r in requests if is_api_call(r))
    call_rate = (len(sent) - 1) * 60 / (sent[-1] - sent[0]) if len(sent) > 1 and sent[-1] > sent[0] else None
    status = stack.api.get(f"/bulk-changes/{started['bulkId']}", limit="1")

    invocations = stack.runtime.invocations()[invocations_before:]
    lambda_seconds = Counter[str]()
    for invocation in invocations:
        lambda_seconds[invocation["function"].removeprefix("gpm-local-").removesuffix("Function")] += (
            invocation["ms"] / 1000
        )
    largest_invocation = max(invocations, key=lambda i: max(i["inputBytes"], i["outputBytes"]))
    parent_events = execution_history(stack.sfn, started["executionArn"])
    records = stack.bulk_records(started["bulkId"])
    agent_latencies = [r["latencyMs"] / 1000 for r in records] or [0.0]
    figures: dict[str, Any] = {
        "agents": agents,
        "status": bulk_execution["status"],
        "total": status["total"],
        "done": status["done"],
        "batches": status["batches"],
        "outcomes": dict(sorted(status["outcomes"].items())),
        "apiCalls": calls["api"],
        "tokenCalls": calls["token"],
        "downloads": calls["downloads"],
        "callsPerAgent": round(calls["api"] / agents, 3),
        "idealCallsPerAgent": round(IDEAL_CALLS_PER_BATCH / BATCH_AGENTS, 3),
        "answered429": calls["answered429"],
        "token429": calls["token429"],
        "wallSeconds": round(wall_s, 1),
        "rateLimitMinimumSeconds": round(calls["api"] * 60 / RATE_PER_MINUTE, 1),
        "callsPerMinuteWhileRunning": round(call_rate) if call_rate else None,
        "processCpuPerWallSecond": round(busy, 2),
        "lambdaSeconds": {name: round(seconds, 1) for name, seconds in lambda_seconds.most_common()},
        "agentsWhoseBatchWaitedForBudget": sum(1 for r in records if r["budgetWaits"]),
        "mostBudgetWaitsOfABatch": max((r["budgetWaits"] for r in records), default=0),
        "agentsWhoseBatchWaitedOn429": sum(1 for r in records if r["rateLimitWaits"]),
        "agentLatencyS": {
            "p50": round(percentile(agent_latencies, 0.5), 1),
            "p95": round(percentile(agent_latencies, 0.95), 1),
        },
        "largestLambdaState": {
            "bytes": max(largest_invocation["inputBytes"], largest_invocation["outputBytes"]),
            "function": largest_invocation["function"],
        },
        "lambdaInvocations": len(invocations),
        "largestParentEventBytes": max((event_payload_bytes(e) for e in parent_events), default=0),
        "parentEvents": len(parent_events),
        "failures": failures(parent_events),
        "postRefused503": answers[0].refused,
        "invocationErrors": dict(
            Counter(
                f"{i['function'].removeprefix('gpm-local-').removesuffix('Function')} {i['errorType']}"
                for i in invocations
                if i["errorType"]
            )
        ),
        "failedReasons": stack.failed_reasons(bulk_id) if status["outcomes"].get("failed") else {},
        "observeBacklogAtEnd": observe_backlog,
        "byRoute": dict(calls["byRoute"].most_common()),
    }
    figures["rateLimitRatio"] = round(wall_s / figures["rateLimitMinimumSeconds"], 2) if calls["api"] else None
    stack.settle()
    figures["statusLatencyMs"] = stack.status_latency(started["bulkId"])
    figures["peakMemoryMiB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if singles:
        figures["singles"] = single_figures(stack, answers[1:], executions)
    return figures


def single_figures(stack: Stack, answers: list[Posted], executions: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each single change's outcome (``GET /presence-changes/{id}``: terminal, with an outcome) and its latency
    from its POST to its execution's end."""
    rows = []
    for answer in answers:
        posted_at, started = answer.sent, answer.body
        execution = executions[started["executionArn"]]
        status = stack.api.wait_for_change(started["changeId"], timeout=30)
        record = status.get("details") or {}
        rows.append(
            {
                "outcome": status.get("outcome"),
                "status": status["status"],
                "latencyS": execution["stopDate"].timestamp() - posted_at,
                "rateLimitWaits": record.get("rateLimitWaits", 0),
                "budgetWaits": record.get("budgetWaits", 0),
            }
        )
    latencies = [row["latencyS"] for row in rows]
    return {
        "changes": len(rows),
        "refused503": sum(answer.refused for answer in answers),
        "postsRefused503": sum(1 for answer in answers if answer.refused),
        "withOutcome": sum(1 for row in rows if row["outcome"] and row["status"] in TERMINAL),
        "outcomes": dict(Counter(str(row["outcome"]) for row in rows)),
        "statuses": dict(Counter(row["status"] for row in rows)),
        "p50S": round(percentile(latencies, 0.5), 1),
        "p95S": round(percentile(latencies, 0.95), 1),
        "maxS": round(max(latencies), 1),
        "rateLimitWaits": sum(row["rateLimitWaits"] for row in rows),
        "budgetWaits": sum(row["budgetWaits"] for row in rows),
        "changesThatWaitedForBudget": sum(1 for row in rows if row["budgetWaits"]),
    }


def run_changes(
    stack: Stack,
    count: int,
    skill_changes: int,
    off_queue_changes: int,
    interval: float = CHANGE_INTERVAL_SECONDS,
    timeout: float = 120,
) -> list[dict[str, Any]]:
    """Single changes one after another on the fixture org, caches warm: ``off_queue_changes`` take an On Queue
    agent Offline (each followed by the change back On Queue), ``skill_changes`` carry a skill override, the rest
    set On Queue with a new message. One change starts ``interval`` seconds after the previous one ended, so the
    run stays under the rate budget's sustained rate (a budget wait re-validates: a fresh read, one call more)."""
    api, sim = stack.api, stack.sim
    stack.fresh_org(None)
    state = sim.state()
    agents = [u for u in state["users"] if u["schedulePattern"] == "on_queue" and u["routingStatus"] != "INTERACTING"]
    skills = [s["id"] for s in state["skills"]]
    # Warm the caches (token, definitions, management units, activity codes) the way a warm Lambda has them.
    for agent in agents:
        api.wait_for_change(
            api.post("/presence-changes", {"userId": agent["id"], "presence": "On Queue"})["changeId"], timeout
        )
        time.sleep(interval)
    plain = max(0, count - skill_changes - 2 * off_queue_changes)
    plan: list[tuple[str, str, dict[str, Any]]] = [
        ("presence", "On Queue", agents[i % len(agents)]) for i in range(plain)
    ]
    for i in range(off_queue_changes):  # the agent is On Queue before its off-queue change, and goes back after it
        agent = agents[i % len(agents)]
        plan += [("offQueue", "Offline", agent), ("presence", "On Queue", agent)]
    plan += [("skills", "On Queue", agents[i % len(agents)]) for i in range(skill_changes)]
    rows = []
    for index, (kind, presence, agent) in enumerate(plan):
        time.sleep(interval)
        body: dict[str, Any] = {"userId": agent["id"], "presence": presence, "message": f"bench {index}"}
        if kind == "skills":
            body["skillOverrides"] = [{"skillId": skills[index % len(skills)], "proficiency": 1 + index % 5}]
        before = len(sim.requests())
        started = time.perf_counter()
        status = api.wait_for_change(api.post("/presence-changes", body)["changeId"], timeout)
        round_trip_ms = (time.perf_counter() - started) * 1000
        calls = sim.requests()[before:]
        record = status["details"] or {}
        rows.append(
            {
                "kind": kind,
                "outcome": status["outcome"],
                "genesysCalls": sum(1 for c in calls if is_api_call(c)),
                "tokenCalls": sum(1 for c in calls if c["path"] == TOKEN_PATH),
                "calls": Counter(f"{c['method']} {c.get('route') or c['path']} -> {c['status']}" for c in calls),
                "latencyMs": record.get("latencyMs", 0),
                "roundTripMs": round_trip_ms,
                "rateLimitWaits": record.get("rateLimitWaits", 0),
                "budgetWaits": record.get("budgetWaits", 0),
                "answered429": sum(1 for c in calls if c["status"] == 429),
            }
        )
    return rows


def change_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    # Calls per change are counted on changes that neither drew a 429 nor waited for the rate budget: after either
    # Wait the change validates again (a fresh read, one call more). Those are counted apart.
    unthrottled = [r for r in rows if not r["answered429"] and not r["rateLimitWaits"] and not r["budgetWaits"]]

    def calls(kind: str) -> dict[str, Any]:
        counts = [r["genesysCalls"] for r in unthrottled if r["kind"] == kind]
        return {"max": max(counts, default=0), "mean": round(statistics.mean(counts), 2) if counts else 0}

    unwaited = [r for r in rows if not r["rateLimitWaits"] and not r["budgetWaits"]]
    latencies = [float(r["latencyMs"]) for r in unwaited] or [0.0]
    trips = [r["roundTripMs"] for r in unwaited] or [0.0]
    examples = {}
    for kind in ("presence", "offQueue", "skills"):
        of_kind = [r for r in unthrottled if r["kind"] == kind]
        if of_kind:
            examples[kind] = dict(max(of_kind, key=lambda r: r["genesysCalls"])["calls"])
    return {
        "changes": len(rows),
        "outcomes": dict(Counter(r["outcome"] for r in rows)),
        "callsPresenceOnly": calls("presence"),
        "callsOffQueue": calls("offQueue"),
        "callsWithSkills": calls("skills"),
        "tokenCalls": sum(r["tokenCalls"] for r in rows),
        "answered429": sum(r["answered429"] for r in rows),
        "changesThatWaited": sum(1 for r in rows if r["rateLimitWaits"] or r["budgetWaits"]),
        "latencyMs": {"p50": round(percentile(latencies, 0.5)), "p95": round(percentile(latencies, 0.95))},
        "apiRoundTripMs": {"p50": round(percentile(trips, 0.5)), "p95": round(percentile(trips, 0.95))},
        "examples": examples,
    }


# ---- printing ---------------------------------------------------------------------------------------------------


def _kb(size: int) -> str:
    return f"{size / 1024:.1f} KB"


def print_bulks(bulks: list[dict[str, Any]]) -> None:
    print("\n1. bulk change to Offline by management unit, at the simulator's 300 requests/minute")
    columns = [f"{b['agents']:,} agents" for b in bulks]

    def row(figure: str, target: str, value: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        return {"figure": figure, **{c: value(b) for c, b in zip(columns, bulks, strict=True)}, "target": target}

    def outcomes(b: dict[str, Any]) -> str:
        return " ".join(f"{name} {count}" for name, count in b["outcomes"].items())

    ideal = IDEAL_CALLS_PER_BATCH / BATCH_AGENTS
    rows = [
        row(
            "execution status (agents with an outcome / total)",
            "SUCCEEDED",
            lambda b: f"{b['status']} ({b['done']}/{b['total']})",
        ),
        row("agents by outcome", "-", outcomes),
        row("batches of <= 50 (Lambda invocations)", "-", lambda b: f"{b['batches']} ({b['lambdaInvocations']})"),
        row(
            "Genesys API calls (token calls apart)",
            "-",
            lambda b: f"{b['apiCalls']} (+{b['tokenCalls']} token, {b['downloads']} downloads)",
        ),
        row("Genesys calls per agent", f"<= 0.15 (ideal {ideal:.2f})", lambda b: f"{b['callsPerAgent']:.3f}"),
        row("429s answered by the simulator", "0", lambda b: b["answered429"] + b["token429"]),
        row("wall time, POST -> terminal (s)", "-", lambda b: b["wallSeconds"]),
        row("rate-limit minimum, calls / 300 per min (s)", "-", lambda b: b["rateLimitMinimumSeconds"]),
        row("wall / rate-limit minimum", "<= 1.5", lambda b: b["rateLimitRatio"]),
        row(
            "Genesys calls per minute while running (budget: 249 sustained)",
            "-",
            lambda b: b["callsPerMinuteWhileRunning"],
        ),
        row("process CPU s per wall s (1.0 = one core busy)", "-", lambda b: b["processCpuPerWallSecond"]),
        row(
            "agents whose batch waited for the budget (most waits of a batch)",
            "-",
            lambda b: f"{b['agentsWhoseBatchWaitedForBudget']} ({b['mostBudgetWaitsOfABatch']})",
        ),
        row("agents whose batch waited out a 429", "0", lambda b: b["agentsWhoseBatchWaitedOn429"]),
        row(
            "agent latency p50 / p95 (s, batch start -> record)",
            "-",
            lambda b: "{p50} / {p95}".format(**b["agentLatencyS"]),
        ),
        row(
            "largest Lambda state in/out (step)",
            "< 200 KB",
            lambda b: "{} ({})".format(
                _kb(b["largestLambdaState"]["bytes"]), b["largestLambdaState"]["function"].removeprefix("gpm-local-")
            ),
        ),
        row(
            "largest input/output in the bulk execution's history (events)",
            "< 200 KB",
            lambda b: f"{_kb(b['largestParentEventBytes'])} ({b['parentEvents']})",
        ),
        row(
            "bulk status, GET /bulk-changes/{id}?limit=0, median (max) of 20",
            "< 300 ms",
            lambda b: f"{b['statusLatencyMs']['statusMedian']} ms ({b['statusLatencyMs']['statusMax']})",
        ),
        row(
            "first page of agents, ?limit=100, median (max) of 20",
            "-",
            lambda b: f"{b['statusLatencyMs']['median']} ms ({b['statusLatencyMs']['max']})",
        ),
        row(
            "  of which counters GetItem / page Query, in-process (ms)",
            "-",
            lambda b: f"{b['statusLatencyMs']['countersMedian']} / {b['statusLatencyMs']['pageMedian']}",
        ),
        row("peak memory of the process so far (MiB)", "-", lambda b: b["peakMemoryMiB"]),
    ]
    print_table(rows, ["figure", *columns, "target"])
    for bulk in bulks:
        print(f"\n  calls of the {bulk['agents']:,}-agent bulk by route:")
        for route, count in bulk["byRoute"].items():
            print(f"    {count:5d} x {route}")
        busiest = ", ".join(f"{name} {seconds} s" for name, seconds in bulk["lambdaSeconds"].items())
        print(f"  Lambda time (sum over invocations): {busiest}")
        for failure in bulk["failures"]:
            print(f"  a step failed (then retried or caught): {failure}")
        print(f"  Genesys events still queued for Observe when the bulk ended: {bulk['observeBacklogAtEnd']}")
        for error, count in bulk["invocationErrors"].items():
            print(f"  {count} x Lambda invocation failed: {error}")
        for reason, count in bulk["failedReasons"].items():
            print(f"  {count} x failed agent: {reason}")


def print_concurrent(bulk: dict[str, Any]) -> None:
    singles = bulk["singles"]
    print(
        f"\n2. {singles['changes']} single changes to Offline (POST /presence-changes, another management unit) fired"
        f" together with a {bulk['agents']:,}-agent bulk"
    )
    outcomes = " ".join(f"{name} {count}" for name, count in sorted(singles["outcomes"].items()))
    print_table(
        [
            {
                "figure": "429s answered by the simulator (whole run)",
                "value": bulk["answered429"] + bulk["token429"],
                "target": "0",
            },
            {
                "figure": "single changes terminal with an outcome",
                "value": f"{singles['withOutcome']}/{singles['changes']}",
                "target": "all",
            },
            {"figure": "single changes by outcome", "value": outcomes, "target": "-"},
            {
                "figure": "POSTs answered 503 rate_limited first, then retried (503s); the bulk's POST",
                "value": f"{singles['postsRefused503']} ({singles['refused503']}); {bulk['postRefused503']}",
                "target": "-",
            },
            {
                "figure": "single change latency POST -> end, p50 / p95 / max (s)",
                "value": f"{singles['p50S']} / {singles['p95S']} / {singles['maxS']}",
                "target": "-",
            },
            {
                "figure": "single changes that waited for the budget (waits; 429 waits)",
                "value": "{changesThatWaitedForBudget} ({budgetWaits}; {rateLimitWaits})".format(**singles),
                "target": "-",
            },
            {
                "figure": "bulk: status, agents with an outcome",
                "value": f"{bulk['status']}, {bulk['done']}/{bulk['total']}",
                "target": "SUCCEEDED, all",
            },
            {"figure": "bulk wall time (s)", "value": bulk["wallSeconds"], "target": "-"},
            {
                "figure": "Genesys API calls, bulk + singles (rate-limit minimum s)",
                "value": f"{bulk['apiCalls']} ({bulk['rateLimitMinimumSeconds']})",
                "target": "-",
            },
            {
                "figure": "Genesys calls per minute while running; process CPU s per wall s",
                "value": f"{bulk['callsPerMinuteWhileRunning']}; {bulk['processCpuPerWallSecond']}",
                "target": "-",
            },
        ],
        ["figure", "value", "target"],
    )
    for failure in bulk["failures"]:
        print(f"  a bulk step failed (then retried or caught): {failure}")
    for error, count in bulk["invocationErrors"].items():
        print(f"  {count} x Lambda invocation failed: {error}")
    print("\n  calls of the bulk and the single changes by route:")
    for route, count in bulk["byRoute"].items():
        print(f"    {count:5d} x {route}")


def print_changes(summary: dict[str, Any]) -> None:
    print(
        f"\n3. {summary['changes']} single changes one after another on the fixture org, caches warm;"
        f" outcomes {summary['outcomes']}"
    )
    print_table(
        [
            {
                "figure": "Genesys calls per presence-only change (max / mean; changes that did not wait)",
                "value": "{max} / {mean}".format(**summary["callsPresenceOnly"]),
                "target": "<= 3",
            },
            {
                "figure": "... On Queue agent taken off queue (max / mean)",
                "value": "{max} / {mean}".format(**summary["callsOffQueue"]),
                "target": "<= 4",
            },
            {
                "figure": "... with a skill override (max / mean)",
                "value": "{max} / {mean}".format(**summary["callsWithSkills"]),
                "target": "<= 5",
            },
            {"figure": "token calls (after the reset)", "value": summary["tokenCalls"], "target": "-"},
            {
                "figure": "429s from the simulator (changes that waited for the budget or a 429)",
                "value": f"{summary['answered429']} ({summary['changesThatWaited']})",
                "target": "0",
            },
            {
                "figure": "end-to-end latency p50 / p95 (ms, changes that did not wait)",
                "value": "{p50} / {p95}".format(**summary["latencyMs"]),
                "target": "-",
            },
            {
                "figure": "API round trip p50 / p95 (ms, 250 ms polling)",
                "value": "{p50} / {p95}".format(**summary["apiRoundTripMs"]),
                "target": "-",
            },
        ],
        ["figure", "value", "target"],
    )
    for kind, calls in summary["examples"].items():
        print(f"\n  Genesys calls of the busiest {kind} change:")
        for call, count in calls.items():
            print(f"    {count} x {call}")


# ---- main -------------------------------------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _on_alarm(signum: int, frame: Any) -> None:
    raise BenchTimeout("the whole bench ran past --max-minutes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"bulks of {QUICK_BULK_SIZES} agents, 20 singles")
    parser.add_argument("--sizes", type=int, nargs="+", help=f"bulk sizes (default {BULK_SIZES})")
    parser.add_argument("--singles", type=int, help="single changes fired with the smallest bulk (default 100)")
    parser.add_argument("--changes", type=int, default=50, help="sequential single changes on the fixture org")
    parser.add_argument("--skill-changes", type=int, default=10, help="how many of them carry a skill override")
    parser.add_argument("--off-queue-changes", type=int, default=10, help="how many take an On Queue agent off queue")
    parser.add_argument("--max-minutes", type=float, default=120, help="stop the whole bench after this long")
    parser.add_argument("--parts", default="1234", help="which parts to run, e.g. 1 or 34 (default 1234)")
    parser.add_argument(
        "--without-genesys-events",
        action="store_true",
        help="diagnostic: the simulator sends no presence events (no Observe load), to isolate the local engine's"
        " cost of Observe; not the deployment's behaviour",
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--cold-imports", action="store_true", help="measure the handlers' cold imports only")
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per handler for the cold imports")
    args = parser.parse_args(argv)
    if args.cold_imports:
        imports = cold_imports(args.runs)
        if args.json:
            print(json.dumps(imports, indent=2))
        else:
            print_cold_imports(imports)
        return 0
    sizes = tuple(args.sizes or (QUICK_BULK_SIZES if args.quick else BULK_SIZES))
    singles = args.singles if args.singles is not None else (20 if args.quick else 100)

    from presence_manager_local.runtime import LocalRuntime

    signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(max(1, int(args.max_minutes * 60)))
    results: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores",
        "sizes": sizes,
        "bulks": [],
    }
    failure = None
    try:
        with LocalRuntime() as runtime:
            runtime.start(api_port=0, sim_port=0, moto_port=0)
            stack = Stack(runtime)
            if args.without_genesys_events:
                runtime._simulator.state.event_sink = None
                results["withoutGenesysEvents"] = True
            # Single changes first, while the tables are small: moto's transact_write_items (each single change's
            # Record) deep-copies every table it touches, so after 10,000 bulk records each would take seconds.
            if "3" in args.parts:
                _progress(f"{args.changes} single changes on the fixture org ...")
                rows = run_changes(stack, args.changes, args.skill_changes, args.off_queue_changes)
                results["changes"] = change_summary(rows)
            if "2" in args.parts:
                _progress(f"bulk of {min(sizes):,} agents with {singles} single changes fired together ...")
                results["concurrent"] = run_bulk(stack, min(sizes), singles=singles)
            for size in sizes if "1" in args.parts else ():
                _progress(f"bulk of {size:,} agents ...")
                results["bulks"].append(run_bulk(stack, size))
                _progress(f"  {results['bulks'][-1]['wallSeconds']} s, {results['bulks'][-1]['apiCalls']} calls")
            stack.fresh_org(None)
    except BenchTimeout as exc:
        failure = str(exc)
    finally:
        signal.alarm(0)
    results["peakMemoryMiB"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if failure is None and "4" in args.parts:
        _progress("cold imports ...")
        results["coldImports"] = cold_imports(args.runs)
    if args.json:
        print(json.dumps({**results, "failure": failure}, indent=2, default=str))
        return 0 if failure is None else 1
    print(
        f"\n{results['date']}: the local stack in one process on this machine ({results['machine']}), the simulator at"
        f" {RATE_PER_MINUTE} requests/minute, GenesysRequestsPerMinute {RATE_PER_MINUTE}, BulkMaxConcurrency"
        f" {LOCAL_PARAMETERS['BulkMaxConcurrency']}; peak memory {results['peakMemoryMiB']} MiB"
    )
    if results.get("withoutGenesysEvents"):
        print("DIAGNOSTIC RUN: the simulator sent no presence events (--without-genesys-events): no Observe load")
    if results["bulks"]:
        print_bulks(results["bulks"])
    if "concurrent" in results:
        print_concurrent(results["concurrent"])
    if "changes" in results:
        print_changes(results["changes"])
    if "coldImports" in results:
        print("\n4.", end="")
        print_cold_imports(results["coldImports"])
    if failure is not None:
        print(f"\nbench stopped: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
