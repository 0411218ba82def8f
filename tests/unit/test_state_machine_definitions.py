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
    assert states["CountOwnWrite"]["Next"] == "Validate"


@pytest.mark.parametrize("name", ["presence_change.asl.json", "bulk_change.asl.json"])
def test_given_a_definition_then_a_412_loops_back_to_validate_at_most_n_times(name: str) -> None:
    states = states_of(load(name))
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


def test_given_the_bulk_definition_then_agents_run_in_an_inline_map_with_bounded_concurrency() -> None:
    definition = load("bulk_change.asl.json")
    change_each = definition["States"]["ChangeEachAgent"]
    assert change_each["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert change_each["MaxConcurrency"] == 4
    inner = change_each["ItemProcessor"]["States"]
    assert not [name for name, s in inner.items() if s["Type"] == "Fail"], "one agent's failure never fails the bulk"
