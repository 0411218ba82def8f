"""End to end: the real state machine on the local stack against the simulator, with injected faults.

Scenarios a-e of the demo, asserted on execution status, path of states, audit record and metrics."""

from __future__ import annotations

from typing import Any

import pytest

from presence_manager_local.scenarios import Api, ScenarioResult, Simulator, agent_summaries, run_scenarios

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def metrics_before(stack: Any) -> dict[str, dict[str, Any]]:
    """Each agent's aggregates before the scenarios (other tests of the session may have changed agents too)."""
    sim = Simulator(stack.sim_url)
    sim.reset()
    user_ids = [u["id"] for u in sim.state()["users"]]
    return dict(zip(user_ids, agent_summaries(stack.api_url, user_ids), strict=True))


@pytest.fixture(scope="module")
def results(stack: Any, metrics_before: dict[str, dict[str, Any]]) -> dict[str, ScenarioResult]:
    return {r.key: r for r in run_scenarios(stack.api_url, stack.sim_url, stack.boto3_client("stepfunctions"))}


def test_a_available_with_message_and_two_skill_overrides_is_applied(results: dict[str, ScenarioResult]) -> None:
    a = results["a"]
    assert (a.status, a.outcome) == ("SUCCEEDED", "applied")
    assert a.path[:3] == ["Initialize", "Prepare", "Validate"]
    assert a.path[-5:] == ["OutcomeApplied", "Record", "Finish", "Done", "Succeeded"]
    assert [s for s in a.path if s in {"LockedUpdate", "HasSkillOverrides", "SkillOverride", "Export"}] == [
        "LockedUpdate",
        "HasSkillOverrides",
        "SkillOverride",
        "Export",
    ]
    record = a.record
    assert record["newPresence"]["systemPresence"] == "Available"
    assert record["message"] == "Working the escalation backlog"
    assert [c["after"]["proficiency"] for c in record["skillChanges"]] == [4, 2.5]
    assert record["exportStatus"] == "published"
    assert record["requestedBy"]
    assert record["latencyMs"] > 0


def test_b_one_concurrent_edit_is_applied_after_a_visible_conflict_retry(results: dict[str, ScenarioResult]) -> None:
    b = results["b"]
    assert (b.status, b.outcome) == ("SUCCEEDED", "applied")
    assert b.path.count("LockedUpdate") == 2
    assert b.path.index("ConflictBackoff") < len(b.path) - 1 - b.path[::-1].index("Validate")
    assert b.record["conflictRetries"] == 1
    assert "error" not in b.record
    assert [(a["type"], a["count"]) for a in b.record["attempts"]] == [("PreconditionFailed", 1)]
    assert b.record["newPresence"]["systemPresence"] == "OnQueue"


def test_c_a_429_waits_exactly_retry_after_then_applies(results: dict[str, ScenarioResult]) -> None:
    c = results["c"]
    assert (c.status, c.outcome) == ("SUCCEEDED", "applied")
    assert c.path.count("WaitRetryAfter") == 1
    after_wait = c.path[c.path.index("WaitRetryAfter") + 1 :]
    assert after_wait[:4] == ["ResumeAfterRateLimit", "Validate", "PolicyDecision", "LockedUpdate"], (
        "a write is validated again after a wait: routing status, shift and presence may have moved"
    )
    assert "error" not in c.record, "a survived 429 is an attempt, not an error"
    assert [(a["type"], a["count"]) for a in c.record["attempts"]] == [("GenesysRateLimited", 1)]
    assert 1.5 <= c.wait_seconds[0] <= 4.0
    assert c.record["rateLimitWaits"] == 1


def test_d_an_off_shift_agent_is_not_put_on_queue(results: dict[str, ScenarioResult]) -> None:
    d = results["d"]
    assert (d.status, d.outcome) == ("SUCCEEDED", "rejected")
    assert "LockedUpdate" not in d.path
    assert [v["code"] for v in d.record["policy"]["violations"]] == ["no_active_shift"]
    assert d.checks["no PATCH sent"]


def test_e_a_presence_that_keeps_changing_ends_in_conflict_and_our_write_never_lands(
    results: dict[str, ScenarioResult],
) -> None:
    e = results["e"]
    assert (e.status, e.outcome) == ("FAILED", "conflict")
    assert e.path.count("Validate") == 4, "first try plus 3 bounded retries"
    assert e.path[-1] == "Conflict"
    assert e.record["conflictRetries"] == 3
    assert e.checks["our write never landed"]


def test_every_scenario_leaves_one_audit_record_and_moves_the_agents_metrics(
    stack: Any, results: dict[str, ScenarioResult], metrics_before: dict[str, dict[str, Any]]
) -> None:
    after = dict(zip(results, agent_summaries(stack.api_url, [r.user_id for r in results.values()]), strict=True))

    def delta(key: str, field: str) -> Any:
        before = metrics_before[results[key].user_id]
        if field == "outcomes":
            return {k: v - before[field].get(k, 0) for k, v in after[key][field].items() if v - before[field].get(k, 0)}
        return after[key][field] - before[field]

    assert delta("a", "outcomes") == {"applied": 1}
    assert delta("b", "outcomes") == {"applied": 1} and delta("b", "conflictRetries") == 1
    assert delta("c", "rateLimitWaits") == 1
    assert delta("d", "outcomes") == {"rejected": 1} and delta("d", "totalUpdates") == 0
    assert delta("e", "outcomes") == {"conflict": 1} and delta("e", "conflictRetries") == 3
    assert after["b"]["averageLatencyMs"] > 0 and after["b"]["conflictRate"] > 0
    for key, result in results.items():
        assert result.passed, (key, result.checks)
        trail = Api(stack.api_url).get(f"/agents/{result.user_id}/audit")["items"]
        assert [item["changeId"] for item in trail].count(result.change_id) == 1


def test_metrics_are_emitted_as_emf_by_outcome_without_agent_dimensions(
    stack: Any, results: dict[str, ScenarioResult]
) -> None:
    documents = [d for d in stack.emf_records() if "ChangeLatency" in d]
    by_change = {d.get("changeId"): d for d in documents}
    for result in results.values():
        document = by_change[result.change_id]
        assert document["Outcome"] == result.outcome
        assert document["userId"] == result.user_id, "the agent id rides along as metadata"
        directive = document["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == "GenesysPresenceManager"
        assert all("userId" not in dimensions for dimensions in directive["Dimensions"])
        names = {metric["Name"] for metric in directive["Metrics"]}
        assert names >= {"Changes", "ChangeLatency", "ConflictRetries", "RateLimitWaits"}
        assert first(document["ConflictRetries"]) == result.record["conflictRetries"]
        assert first(document["RateLimitWaits"]) == result.record["rateLimitWaits"]
        assert first(document["ChangeLatency"]) == result.record["latencyMs"]


def first(value: Any) -> float:
    """An EMF metric value: a number, or a list of the values recorded in one flush."""
    return value[0] if isinstance(value, list) else value
