"""``make bench``: N changes through the local stack (a benchmark, not a test).

Prints Genesys calls per change (from the simulator's request log; token calls counted apart), p50/p95 end-to-end
latency (execution start to audit record, Retry-After waits excluded), peak memory of the local runtime, and each
handler module's cold import time (``python -X importtime`` in a fresh process).

    python -m presence_manager_local.bench [--changes 50] [--skill-changes 10]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from presence_manager_local.cli import print_table
from presence_manager_local.scenarios import Api, Simulator

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ("api", "validate", "locked_update", "skill_override", "export", "record", "resolve_agents")
TOKEN_PATH = "/oauth/token"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def cold_import_ms(handler: str) -> tuple[float, str]:
    """Wall time to import the handler module in a fresh interpreter, and its heaviest top-level import
    (from ``python -X importtime``)."""
    code = (
        "import importlib.util, time; start = time.perf_counter();"
        f"spec = importlib.util.spec_from_file_location('handler', {str(ROOT / 'functions' / handler / 'app.py')!r});"
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module);"
        "print((time.perf_counter() - start) * 1000)"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    top_level: list[tuple[int, str]] = []
    for line in result.stderr.splitlines():
        columns = line.removeprefix("import time:").split("|")
        if len(columns) == 3 and columns[1].strip().isdigit() and not columns[2].startswith("  "):
            top_level.append((int(columns[1]), columns[2].strip()))
    heaviest = max(top_level)[1] if top_level else "-"
    return float(result.stdout.strip().splitlines()[-1]), heaviest


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
    args = parser.parse_args(argv)

    from presence_manager_local.runtime import LocalRuntime

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)
        rows = run_changes(Api(runtime.api_url), Simulator(runtime.sim_url), args.changes, args.skill_changes)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    imports = {handler: cold_import_ms(handler) for handler in HANDLERS}

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
        "coldImportMs": {handler: round(ms, 1) for handler, (ms, _) in imports.items()},
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
    print("\ncold import per handler module (ms, fresh process):")
    print_table(
        [{"handler": h, "ms": round(ms, 1), "heaviest import": heavy} for h, (ms, heavy) in imports.items()],
        ["handler", "ms", "heaviest import"],
    )
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
