"""``make demo``: start the local stack on free ports and run scenarios a-e through its HTTP API.

Prints the outcomes, each execution's path of states, the audit records and the per-agent metrics; exits 1 if any
outcome (or check) is not the expected one."""

from __future__ import annotations

import sys

from presence_manager_local.cli import print_table
from presence_manager_local.scenarios import ScenarioResult, agent_summaries, run_scenarios


def print_results(results: list[ScenarioResult], api_url: str) -> None:
    print("\n== Outcomes")
    print_table(
        [
            {
                "scenario": r.key,
                "what": r.title,
                "agent": r.agent,
                "expected": r.expected_outcome,
                "outcome": r.outcome,
                "execution": r.status,
                "ok": "yes" if r.passed else "NO",
            }
            for r in results
        ],
        ["scenario", "what", "agent", "expected", "outcome", "execution", "ok"],
    )
    print("\n== Paths of states")
    for r in results:
        waits = f"   (Retry-After waits: {', '.join(f'{w:.1f} s' for w in r.wait_seconds)})" if r.wait_seconds else ""
        print(f"{r.key}: {' > '.join(r.path)}{waits}")
        failed = [name for name, ok in r.checks.items() if not ok]
        if failed:
            print(f"   failed checks: {', '.join(failed)}")
    print("\n== Audit records")
    print_table(
        [
            {
                "scenario": r.key,
                "changeId": r.change_id,
                "outcome": r.record.get("outcome"),
                "presence": (r.record.get("requestedPresence") or {}).get("label"),
                "previous": (r.record.get("previousPresence") or {}).get("systemPresence"),
                "conflictRetries": r.record.get("conflictRetries"),
                "rateLimitWaits": r.record.get("rateLimitWaits"),
                "latencyMs": r.record.get("latencyMs"),
                "reason": r.record.get("reason"),
            }
            for r in results
        ],
        [
            "scenario",
            "changeId",
            "outcome",
            "presence",
            "previous",
            "conflictRetries",
            "rateLimitWaits",
            "latencyMs",
            "reason",
        ],
    )
    print("\n== Per-agent metrics")
    metrics = agent_summaries(api_url, [r.user_id for r in results])
    print_table(
        [{"scenario": r.key, "agent": r.agent, **m} for r, m in zip(results, metrics, strict=True)],
        ["scenario", "agent", "totalUpdates", "averageLatencyMs", "conflictRate", "rateLimitWaits", "outcomes"],
    )


def run_demo() -> int:
    from presence_manager_local.runtime import LocalRuntime

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)
        print(f"local stack: API {runtime.api_url}  simulator {runtime.sim_url}  moto {runtime.moto_url}")
        results = run_scenarios(runtime.api_url, runtime.sim_url, runtime.boto3_client("stepfunctions"))
        print_results(results, runtime.api_url)
    failed = [r.key for r in results if not r.passed]
    print(
        f"\n{len(results) - len(failed)} of {len(results)} scenarios as expected"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_demo())
