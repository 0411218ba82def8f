"""``make demo``: start the local stack on free ports and run scenarios a-f through its HTTP API.

Prints the outcomes, each execution's path of states, the audit records and the per-agent metrics of a-e, then
scenario f (presence that follows the schedule: the agents, the instant planned and fired, the checks and two agents'
timelines); exits 1 if any outcome (or check) is not the expected one."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from presence_manager_local.cli import print_table
from presence_manager_local.scenarios import (
    LEAD_MINUTES,
    OWN_PRESENCE,
    RESPECT_OWN_CHANGES_MINUTES,
    FollowScheduleResult,
    ScenarioResult,
    agent_summaries,
    run_follow_schedule,
    run_scenarios,
)
from presence_manager_local.timeline_view import render_timeline


def print_results(results: list[ScenarioResult], api_url: str, follow: FollowScheduleResult | None = None) -> None:
    print("\n== Outcomes")
    rows = [
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
    ]
    if follow is not None:
        rows.append(
            {
                "scenario": follow.key,
                "what": follow.title,
                "agent": f"{len(follow.agents)} of {follow.management_unit_name}",
                "expected": follow.expected_outcome,
                "outcome": follow.outcome,
                "execution": follow.status,
                "ok": "yes" if follow.passed else "NO",
            }
        )
    print_table(rows, ["scenario", "what", "agent", "expected", "outcome", "execution", "ok"])
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


def _clock(instant: datetime | None) -> str:
    return f"{instant.astimezone(UTC):%H:%M:%S}.{instant.microsecond // 1000:03d}Z" if instant else "-"


def print_follow_schedule(f: FollowScheduleResult) -> None:
    """Scenario f: what was planned and when it fired, each agent's outcome, the checks, two agents' timelines."""
    activity = f.activity["activity"]
    print(f"\n== f: presence follows the schedule ({f.management_unit_name}, {f.management_unit_id})")
    print(
        f"Break (activity code {activity['name']}, secondary presence {f.break_presence_id}) "
        f"{activity['startDate'][11:19]}-{activity['endDate'][11:19]}Z on {len(f.agents)} agents' shifts; "
        f"automation on: lead {LEAD_MINUTES} min, respectOwnChangesMinutes {RESPECT_OWN_CHANGES_MINUTES}"
    )
    if f.plan is not None:
        instants = ", ".join(f"{i['at'][11:19]}Z {i['presence']} x{i['agents']}" for i in f.plan["instants"])
        print(f"planned at {f.plan['plannedAt'][11:23]}Z: {instants or 'nothing'}")
    if f.own_change is not None:
        clicked_at = f.own_change["newPresence"]["modifiedDate"][11:23]
        print(
            f"{f.clicker['name']} clicked {OWN_PRESENCE} ({f.own_message!r}) at {clicked_at}Z; "
            f"seen as external record {f.own_change['changeId']}"
        )
    delta = f" ({(f.fired_at - f.planned_instant).total_seconds():+.1f} s)" if f.fired_at else ""
    print(
        f"planned instant {_clock(f.planned_instant)}, fired {_clock(f.fired_at)}{delta}: "
        f"bulk {(f.bulk or {}).get('bulkId', '-')} {f.status}"
    )
    print_table(
        [
            {
                "agent": a["name"],
                "role": "clicked just before" if a is f.clicker else "follows the schedule",
                "outcome": (f.records.get(a["id"]) or {}).get("outcome"),
                "violations": ", ".join(f.violations(a["id"])) or "-",
                "presence now": (f.presences.get(a["id"]) or {}).get("label"),
                "changeId": (f.records.get(a["id"]) or {}).get("changeId"),
            }
            for a in f.agents
        ],
        ["agent", "role", "outcome", "violations", "presence now", "changeId"],
    )
    if f.disabled is not None:
        print(f"automation off again: {f.disabled.get('schedulesRemoved', 0)} planned schedules removed")
    for name, ok in f.checks.items():
        print(f"  [{'ok' if ok else 'NO'}] {name}")
    for agent in (f.clicker, f.moved[0]):
        for day in f.timelines.get(agent["id"], []):
            print(f"\n-- timeline of {agent['name']} (presence-manager timeline {agent['id']})")
            print("\n".join(render_timeline(day)))


def run_demo() -> int:
    from presence_manager_local.runtime import LocalRuntime

    with LocalRuntime() as runtime:
        runtime.start(api_port=0, sim_port=0, moto_port=0)
        print(f"local stack: API {runtime.api_url}  simulator {runtime.sim_url}  moto {runtime.moto_url}")
        sfn = runtime.boto3_client("stepfunctions")
        results = run_scenarios(runtime.api_url, runtime.sim_url, sfn)
        print(
            "\nscenario f: a Break 2-3 minutes from now, followed by the schedule (about 1.5 minutes) ...", flush=True
        )
        follow = run_follow_schedule(
            runtime.api_url, runtime.sim_url, sfn, exclude=frozenset(r.user_id for r in results)
        )
        print_results(results, runtime.api_url, follow)
        print_follow_schedule(follow)
    failed = [r.key for r in results if not r.passed] + ([] if follow.passed else [follow.key])
    total = len(results) + 1
    print(f"\n{total - len(failed)} of {total} scenarios as expected" + (f"; failed: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_demo())
