"""The ASL definitions: generated from one source, and shaped as DESIGN.md says (bounded 412 and 429 loops)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBSTITUTIONS = {
    "TransientRetryIntervalSeconds": "1",
    "ConflictMaxRetries": "3",
    "ConflictBackoffMinSeconds": "0",
    "ConflictBackoffMaxSeconds": "2",
    "RateLimitMaxWaits": "5",
    "BulkMaxConcurrency": "4",
    "LeaseMaxWaits": "20",
    "RateBudgetMaxWaits": "300",
    "AmbiguousWriteSettleSeconds": "6",
}


def load(name: str) -> dict:
    text = (ROOT / "statemachine" / name).read_text()
    for key, value in SUBSTITUTIONS.items():
        text = text.replace(f"${{{key}}}", value)
    text = re.sub(r"\$\{(\w+)Arn\}", r"arn:aws:lambda:us-east-1:123456789012:function:\1", text)
    text = text.replace("${AuditFallbackQueueUrl}", "https://sqs.us-east-1.amazonaws.com/123456789012/fallback")
    return json.loads(text)


def states_of(definition: dict) -> dict:
    states = dict(definition["States"])
    for state in definition["States"].values():
        if state["Type"] == "Map":
            states.update(state["ItemProcessor"]["States"])
    return states


def test_given_the_generator_when_checked_then_committed_definitions_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "statemachine" / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", ["presence_change.asl.json", "bulk_change.asl.json"])
def test_given_a_definition_then_every_genesys_task_waits_out_429_and_everything_else_is_recorded(name: str) -> None:
    states = states_of(load(name))
    resume = {"Validate": "Validate", "LockedUpdate": "Validate", "SkillOverride": "SkillOverride"}
    for task, resumes_at in resume.items():
        catches = states[task]["Catch"]
        assert catches[0]["ErrorEquals"] == ["GenesysRateLimited"]
        assert catches[0]["ResultPath"] == "$.rateLimited"
        assert states[catches[0]["Next"]]["Result"] == resumes_at
        assert catches[-1] == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "OutcomeFailed"}
    assert states["WaitRetryAfter"]["SecondsPath"] == "$.wait.details.retryAfterSeconds"
    budget = states["RateLimitBudgetLeft"]["Choices"][0]
    assert budget["Variable"] == "$.counters.rateLimitWaits" and budget["NumericGreaterThanEquals"] == 5
    assert budget["Next"] == "OutcomeRateLimited"


@pytest.mark.parametrize("name", ["presence_change.asl.json", "bulk_change.asl.json"])
def test_given_a_definition_then_after_a_wait_a_write_is_validated_again_before_it_is_sent(name: str) -> None:
    states = states_of(load(name))
    assert states["LockedUpdateRateLimited"]["Result"] == "Validate"
    assert states["WaitForWriteToSettle"]["Next"] == "LockedUpdate", "LockedUpdate re-reads and reconciles"
    assert states["WaitForLease"]["Next"] == "LockedUpdate", "LockedUpdate re-reads under the lease"
    assert states["ConflictBackoff"]["Next"] == "Validate"


def test_given_one_change_then_a_412_loops_back_to_validate_at_most_n_times() -> None:
    states = states_of(load("presence_change.asl.json"))
    assert states["CountOwnWrite"]["Next"] == "Validate"
    by_error = {tuple(c["ErrorEquals"]): (c["Next"], c["ResultPath"]) for c in states["LockedUpdate"]["Catch"]}
    assert by_error[("IfMatchFailed",)] == ("OutcomeConflict", "$.failure"), "a caller's ifMatch mismatch is final"
    assert by_error[("PreconditionFailed",)] == ("ConflictBudgetLeft", "$.conflict")
    assert by_error[("SupersededByOwnWrite",)] == ("OwnWriteBudgetLeft", "$.leaseHeld"), "ours is not a conflict"
    assert by_error[("LeaseHeld",)] == ("LeaseBudgetLeft", "$.leaseHeld")
    assert by_error[("LiveInteraction",)] == ("OutcomeRejected", "$.liveInteraction")
    assert by_error[("GenesysWriteUnconfirmed", "Sandbox.Timedout", "States.Timeout")] == (
        "UnconfirmedWriteBudgetLeft",
        "$.unconfirmedWrite",
    )
    assert states["ConflictBudgetLeft"]["Choices"][0]["NumericGreaterThanEquals"] == 3
    assert states["ConflictBudgetLeft"]["Choices"][0]["Next"] == "OutcomeConflict"
    assert states["ConflictBackoff"]["Next"] == "Validate"
    assert "States.MathRandom" in states["ConflictJitter"]["Parameters"]["seconds.$"]
    assert states["LeaseBudgetLeft"]["Choices"][0]["NumericGreaterThanEquals"] == 20


@pytest.mark.parametrize("name", ["presence_change.asl.json", "bulk_change.asl.json"])
def test_given_a_definition_then_every_error_it_names_is_one_of_our_error_classes(name: str) -> None:
    from presence_manager import errors

    ours = {
        error
        for state in states_of(load(name)).values()
        for clause in state.get("Retry", []) + state.get("Catch", [])
        for error in clause["ErrorEquals"]
        if not error.startswith(("States.", "Lambda.", "Sandbox."))
    }
    assert ours, "the definition catches our errors by name"
    missing = {name for name in ours if not isinstance(getattr(errors, name, None), type)}
    assert not missing, f"ASL names errors that presence_manager.errors does not define: {missing}"


def test_given_every_outcome_then_it_goes_through_record_exactly_once() -> None:
    states = states_of(load("presence_change.asl.json"))
    outcomes = {name: s for name, s in states.items() if name.startswith("Outcome")}
    assert {s["Result"] for s in outcomes.values()} == {
        "applied",
        "dry_run",
        "rejected",
        "conflict",
        "rate_limited",
        "failed",
    }
    assert all(s["Next"] == "Record" for s in outcomes.values())
    finish = states["Finish"]
    succeed = {c["StringEquals"] for c in finish["Choices"] if c["Next"] == "Done"}
    assert succeed == {"applied", "dry_run", "rejected"}
    assert finish["Default"] == "Failed"


def test_given_the_bulk_definition_then_batches_run_in_a_distributed_map_read_from_s3() -> None:
    definition = load("bulk_change.asl.json")
    change_each = definition["States"]["ChangeEachBatch"]
    assert change_each["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert change_each["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert change_each["MaxConcurrency"] == 4
    assert change_each["ResultPath"] is None, "the agents' outcomes are in DynamoDB, never in the state"
    assert change_each["Next"] == "Summarize" and change_each["Catch"][0]["Next"] == "Summarize"
    inner = change_each["ItemProcessor"]["States"]
    assert not [name for name, s in inner.items() if s["Type"] == "Fail"], "a batch's failure is recorded"
    steps = ("Validate", "LockedUpdate", "SkillOverride", "Export", "Record")
    assert all(inner[step]["Type"] == "Task" for step in steps), "the same named steps as one change"
    single = load("presence_change.asl.json")["States"]
    assert [inner[s]["Resource"] for s in steps] == [single[s]["Resource"] for s in steps], "the same functions"
    assert inner["BatchDone"]["Parameters"] == {"batch.$": "$.batch.batch", "recorded.$": "$.record.recorded"}
    by_error = {tuple(c["ErrorEquals"]): c["Next"] for c in inner["LockedUpdate"]["Catch"]}
    assert by_error == {
        ("GenesysRateLimited",): "LockedUpdateRateLimited",
        ("Sandbox.Timedout", "States.Timeout"): "UnconfirmedWriteBudgetLeft",  # its bulk write may have gone out
        ("States.ALL",): "OutcomeFailed",
    }
    timed_out = next(c for c in inner["LockedUpdate"]["Catch"] if "Sandbox.Timedout" in c["ErrorEquals"])
    assert timed_out["ResultPath"] == "$.batch.timedOut", "the batch handler reconciles each agent it was writing"
    assert "Sandbox.Timedout" in inner["Validate"]["Retry"][0]["ErrorEquals"], "a read-only step simply runs again"
    after = {c["Variable"]: c["Next"] for c in inner["AfterLockedUpdate"]["Choices"]}
    assert after["$.batch.counts.moved"] == "ConflictBudgetLeft", "the agents whose presence moved re-validate"
    assert after["$.batch.counts.unconfirmed"] == "UnconfirmedWriteBudgetLeft"
    assert after["$.batch.counts.waiting"] == "LeaseBudgetLeft"


def _reachable(definition: dict) -> tuple[set[str], set[str]]:
    """(declared, reachable) state names of one states block (AWS refuses a definition with unreachable states)."""
    states = definition["States"]
    seen, todo = set(), [definition["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        todo.extend(t for t in targets if t)
    return set(states), seen


@pytest.mark.parametrize("name", ["presence_change.asl.json", "bulk_change.asl.json"])
def test_given_a_definition_then_every_state_is_reachable_and_every_target_exists(name: str) -> None:
    definition = load(name)
    blocks = [definition] + [s["ItemProcessor"] for s in definition["States"].values() if s["Type"] == "Map"]
    for block in blocks:
        declared, reachable = _reachable(block)
        assert reachable <= declared, f"transitions to undeclared states: {reachable - declared}"
        assert declared == reachable, f"unreachable states: {declared - reachable}"


def test_given_the_bulk_definition_then_planning_waits_out_an_empty_budget_instead_of_failing_the_bulk() -> None:
    states = load("bulk_change.asl.json")["States"]
    for step in ("PlanBatches", "Summarize"):
        retried = [error for clause in states[step]["Retry"] for error in clause["ErrorEquals"]]
        assert "GenesysRateLimited" in retried, step
