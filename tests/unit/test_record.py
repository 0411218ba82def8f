"""Record: the execution state becomes one audit record that says what happened and why."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from presence_manager.workflow.models import StepInput
from presence_manager.workflow.record import build_audit_record, error_details

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
NOW = datetime(2026, 11, 24, 15, 0, 2, 500000, tzinfo=UTC)


def state(**overrides: object) -> StepInput:
    base: dict[str, object] = {
        "changeId": "chg-1",
        "executionStartTime": "2026-11-24T15:00:00.000Z",
        "request": {"userId": USER, "presence": "Available", "message": "back soon", "reason": "ticket 42"},
        "counters": {"conflictRetries": 1, "rateLimitWaits": 2},
    }
    base.update(overrides)
    return StepInput.model_validate(base)


def validation(allowed: bool = True, violations: list[dict] | None = None) -> dict:
    return {
        "allowed": allowed,
        "dryRun": False,
        "changesPresence": True,
        "hasSkillOverrides": False,
        "target": {
            "requested": "Available",
            "definitionId": "d-1",
            "systemPresence": "Available",
            "label": "Available",
        },
        "observed": {"definitionId": "d-0", "systemPresence": "Away", "etag": "e0"},
        "expectedEtag": "e0",
        "ifMatchSupplied": False,
        "timeZone": "America/New_York",
        "policy": {"mode": "enforce", "violations": violations or [], "warnings": []},
        "validatedAt": "2026-11-24T15:00:00.500Z",
    }


def test_given_an_applied_change_when_recorded_then_the_record_carries_everything_the_audit_needs() -> None:
    update = {
        "previousPresence": {"definitionId": "d-0", "systemPresence": "Away", "etag": "e0"},
        "newPresence": {"definitionId": "d-1", "systemPresence": "Available", "message": "back soon", "etag": "e1"},
        "newEtag": "e1",
        "appliedAt": "2026-11-24T15:00:01.000Z",
    }
    record = build_audit_record(
        state(
            outcome="applied",
            validation=validation(),
            update=update,
            export={"eventId": "chg-1", "busName": "b", "publishedAt": "x"},
        ),
        retention_days=30,
        now=NOW,
    )
    assert record.user_id == USER
    assert record.sk == "2026-11-24T15:00:00.000Z#chg-1"
    assert record.latency_ms == 2500
    assert record.requested_presence and record.requested_presence.definition_id == "d-1"
    assert record.previous_presence and record.previous_presence.system_presence == "Away"
    assert record.new_etag == "e1"
    assert (record.conflict_retries, record.rate_limit_waits) == (1, 2)
    assert record.request_reason == "ticket 42"
    assert record.export_status == "published"
    assert record.expires_at == int(datetime(2026, 12, 24, 15, 0, 2, 500000, tzinfo=UTC).timestamp())


def test_given_a_policy_rejection_when_recorded_then_the_reason_lists_the_violations() -> None:
    violations = [{"code": "no_active_shift", "message": "agent is not on shift"}]
    record = build_audit_record(
        state(outcome="rejected", validation=validation(False, violations)), retention_days=1, now=NOW
    )
    assert record.outcome == "rejected"
    assert record.reason == "agent is not on shift"
    assert record.policy and record.policy.violations[0].code == "no_active_shift"


def test_given_a_caught_lambda_error_when_recorded_then_type_message_and_details_are_kept() -> None:
    cause = json.dumps(
        {"errorType": "GenesysForbidden", "errorMessage": json.dumps({"message": "missing permission", "status": 403})}
    )
    record = build_audit_record(
        state(outcome="failed", failure={"Error": "GenesysForbidden", "Cause": cause}), retention_days=1, now=NOW
    )
    assert record.error == {"type": "GenesysForbidden", "message": "missing permission", "details": {"status": 403}}
    assert record.reason == "GenesysForbidden: missing permission"


def test_given_a_console_start_with_a_bad_request_when_recorded_then_the_failure_is_still_audited() -> None:
    bad = state(request={"userId": "not-a-uuid"}, outcome="failed", failure={"Error": "InvalidRequest", "Cause": "x"})
    record = build_audit_record(bad, retention_days=1, now=NOW)
    assert record.user_id == "not-a-uuid"
    assert record.outcome == "failed"
    assert record.error == {"type": "InvalidRequest", "message": "x"}


def test_given_a_non_json_cause_then_error_details_keep_it_verbatim() -> None:
    assert error_details({"Error": "States.Timeout", "Cause": "timed out"}) == {
        "type": "States.Timeout",
        "message": "timed out",
    }


def lambda_error(error_type: str, message: str, **details: object) -> dict[str, str]:
    cause = json.dumps({"errorType": error_type, "errorMessage": json.dumps({"message": message, **details})})
    return {"Error": error_type, "Cause": cause}


def test_given_an_applied_change_that_survived_a_412_and_a_429_then_it_has_attempts_and_no_error() -> None:
    record = build_audit_record(
        state(
            outcome="applied",
            validation=validation(),
            counters={"conflictRetries": 1, "rateLimitWaits": 2, "leaseWaits": 0, "unconfirmedWrites": 0},
            conflict=lambda_error("PreconditionFailed", "the agent's presence changed since it was validated"),
            rateLimited=lambda_error("GenesysRateLimited", "Genesys Cloud rate limit (429)", retryAfterSeconds=2),
        ),
        retention_days=1,
        now=NOW,
    )
    assert record.error is None
    assert "error" not in record.to_json()
    assert [(a.type, a.count) for a in record.attempts] == [("PreconditionFailed", 1), ("GenesysRateLimited", 2)]
    assert record.attempts[1].last_message == "Genesys Cloud rate limit (429)"


def test_given_a_conflict_outcome_then_its_error_is_the_last_conflict() -> None:
    record = build_audit_record(
        state(
            outcome="conflict",
            validation=validation(),
            counters={"conflictRetries": 3},
            conflict=lambda_error("PreconditionFailed", "changed", currentEtag="e9"),
        ),
        retention_days=1,
        now=NOW,
    )
    assert record.error == {"type": "PreconditionFailed", "message": "changed", "details": {"currentEtag": "e9"}}
    assert record.reason and "3 conflict retries" in record.reason


def test_given_a_live_interaction_found_right_before_the_write_then_it_is_rejected_with_that_violation() -> None:
    record = build_audit_record(
        state(
            outcome="rejected",
            validation=validation(),
            liveInteraction=lambda_error("LiveInteraction", "the agent is On Queue and INTERACTING"),
        ),
        retention_days=1,
        now=NOW,
    )
    assert record.error is None
    assert record.reason == "the agent is On Queue and INTERACTING"
    assert record.policy and [v.code for v in record.policy.violations] == ["live_interaction"]


def test_given_our_own_contention_then_it_is_counted_as_lease_waits_not_conflicts() -> None:
    record = build_audit_record(
        state(
            outcome="applied",
            validation=validation(),
            counters={"conflictRetries": 0, "rateLimitWaits": 0, "leaseWaits": 4},
            leaseHeld=lambda_error("LeaseHeld", "another change holds the lease", retryAfterSeconds=1),
        ),
        retention_days=1,
        now=NOW,
    )
    assert (record.conflict_retries, record.lease_waits) == (0, 4)
    assert [(a.type, a.count) for a in record.attempts] == [("LeaseHeld", 4)]
