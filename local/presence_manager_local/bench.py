"""``make bench``: N changes through the local stack (a benchmark, not a test).

Prints Genesys calls per change (from the simulator's request log; token calls counted apart), p50/p95 end-to-end
latency (execution start to audit record, Retry-After waits excluded), peak memory of the local runtime, and each
handler module's cold import time (see ``cold_imports``).

    python -m presence_manager_local.bench [--changes 50] [--skill-changes 10]
    python -m presence_manager_local.bench --cold-imports [--runs 10]     # the cold imports alone
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from presence_manager_local.cli import print_table
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


def run_changes(api: Api, sim: Simulator, count: int, skill_changes: int) -> list[dict[str, Any]]:
    state = sim.state()
    agents = [u for u in state["users"] if u["schedulePattern"] == "on_queue" and u["routingStatus"] != "INTERACTING"]
    skills = [s["id"] for s in state["skills"]]
    # Warm the caches (token, definitions, management units, activity codes) the way a warm Lambda has them.
    for agent in agents:
        api.wait_for_change(api.post("/presence-changes", {"userId": agent["id"], "presence": "On Queue"})["changeId"])
    rows = []
    for index in range(count):
        agent = agents[index % len(agents)]
        body: dict[str, Any] = {"userId": agent["id"], "presence": "On Queue", "message": f"bench {index}"}
        if index >= count - skill_changes:
            body["skillOverrides"] = [{"skillId": skills[index % len(skills)], "proficiency": 1 + index % 5}]
        before = len(sim.requests())
        started = time.perf_counter()
        status = api.wait_for_change(api.post("/presence-changes", body)["changeId"])
        round_trip_ms = (time.perf_counter() - started) * 1000
        calls = sim.requests()[before:]
        record = status["details"] or {}
        rows.append(
            {
                "outcome": status["outcome"],
                "skills": "skillOverrides" in body,
                "genesysCalls": sum(1 for c in calls if c["path"] != TOKEN_PATH),
                "tokenCalls": sum(1 for c in calls if c["path"] == TOKEN_PATH),
                "calls": Counter(f"{c['method']} {c.get('route') or c['path']} -> {c['status']}" for c in calls),
                "latencyMs": record.get("latencyMs", 0),
                "roundTripMs": round_trip_ms,
                "rateLimitWaits": record.get("rateLimitWaits", 0),
                "answered429": sum(1 for c in calls if c["status"] == 429),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--skill-changes", type=int, default=10, help="how many of the changes carry a skill override")
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

    from presence_manager_local.runtime import LocalRuntime

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)
        rows = run_changes(Api(runtime.api_url), Simulator(runtime.sim_url), args.changes, args.skill_changes)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    imports = cold_imports(args.runs)

    # Calls per change are counted on changes Genesys did not answer 429 (a 429 repeats the task: counted apart).
    unthrottled = [r for r in rows if not r["answered429"]]
    presence_only = [r for r in unthrottled if not r["skills"]]
    with_skills = [r for r in unthrottled if r["skills"]]
    latencies = [float(r["latencyMs"]) for r in rows if r["rateLimitWaits"] == 0]
    summary = {
        "changes": len(rows),
        "outcomes": dict(Counter(r["outcome"] for r in rows)),
        "genesysCallsPerPresenceChange": {
            "max": max(r["genesysCalls"] for r in presence_only),
            "mean": round(statistics.mean(r["genesysCalls"] for r in presence_only), 2),
        },
        "genesysCallsPerChangeWithSkills": {
            "max": max((r["genesysCalls"] for r in with_skills), default=0),
            "mean": round(statistics.mean(r["genesysCalls"] for r in with_skills), 2) if with_skills else 0,
        },
        "tokenCalls": sum(r["tokenCalls"] for r in rows),
        "answered429": sum(r["answered429"] for r in rows),
        "changesThatWaitedRetryAfter": sum(1 for r in rows if r["rateLimitWaits"]),
        "latencyMs": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95)},
        "apiRoundTripMs": {
            "p50": round(percentile([r["roundTripMs"] for r in rows], 0.5)),
            "p95": round(percentile([r["roundTripMs"] for r in rows], 0.95)),
        },
        "peakMemoryMiB": round(peak_mib, 1),
        "coldImports": imports,
        "callsOfOnePresenceChange": dict(presence_only[-1]["calls"]) if presence_only else {},
        "callsOfTheBusiestChange": dict(max(rows, key=lambda r: r["genesysCalls"])["calls"]),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"\n{len(rows)} changes ({len(with_skills)} with a skill override); outcomes {summary['outcomes']}")
    print_table(
        [
            {
                "figure": "Genesys calls per presence-only change (max / mean)",
                "value": "{max} / {mean}".format(**summary["genesysCallsPerPresenceChange"]),
            },
            {
                "figure": "Genesys calls per change with skill overrides (max / mean)",
                "value": "{max} / {mean}".format(**summary["genesysCallsPerChangeWithSkills"]),
            },
            {"figure": "token calls (whole run)", "value": summary["tokenCalls"]},
            {
                "figure": "429s from the 300/min budget (changes that waited)",
                "value": f"{summary['answered429']} ({summary['changesThatWaitedRetryAfter']})",
            },
            {"figure": "end-to-end latency p50 / p95 (ms)", "value": "{p50} / {p95}".format(**summary["latencyMs"])},
            {"figure": "API round trip p50 / p95 (ms)", "value": "{p50} / {p95}".format(**summary["apiRoundTripMs"])},
            {"figure": "peak memory of the local runtime (MiB)", "value": summary["peakMemoryMiB"]},
        ],
        ["figure", "value"],
    )
    print_cold_imports(imports)
    for title, key in (
        ("one presence-only change", "callsOfOnePresenceChange"),
        ("the busiest change", "callsOfTheBusiestChange"),
    ):
        print(f"\nGenesys calls of {title}:")
        for call, count in summary[key].items():
            print(f"  {count} x {call}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
