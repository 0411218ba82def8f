"""Record: turn the execution state into the one final audit record, write it, and emit the metrics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from presence_manager.audit import Attempt, AuditRecord
from presence_manager.errors import InvalidRequest
from presence_manager.outcomes import APPLIED, CONFLICT, DRY_RUN, FAILED, FAILED_OUTCOMES, RATE_LIMITED, REJECTED
from presence_manager.timeutil import parse_instant, to_utc_iso
from presence_manager.workflow.models import (
    CaughtError,
    ChangeRequest,
    PolicySummary,
    StepInput,
    Violation,
)


def error_details(error: dict[str, Any] | None) -> dict[str, Any] | None:
    """A caught task error (``{"Error", "Cause"}``) as ``{type, message, details}``; Lambda causes are JSON."""
    if not error:
        return None
    details: dict[str, Any] = {"type": error.get("Error")}
    cause = error.get("Cause")
    try:
        parsed = json.loads(cause) if isinstance(cause, str) else cause
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        message = parsed.get("errorMessage", cause)
        try:
            inner = json.loads(message) if isinstance(message, str) else None
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            details["message"] = inner.pop("message", message)
            details["details"] = inner
        else:
            details["message"] = message
    elif cause:
        details["message"] = str(cause)
    return details


#: Survived retries, by kind: (counter, where the state keeps the last caught error of that kind, the kind's name
#: when its last error does not say it: budget waits and 429 waits share the one caught ``GenesysRateLimited``).
ATTEMPT_KINDS: tuple[tuple[str, str, str | None], ...] = (
    ("conflict_retries", "conflict", None),
    ("rate_limit_waits", "rate_limited", None),
    ("budget_waits", "rate_limited", "RateBudget"),
    ("lease_waits", "lease_held", None),
    ("unconfirmed_writes", "unconfirmed_write", None),
)
DEFAULT_KIND_NAMES = {
    "conflict_retries": "PreconditionFailed",
    "rate_limit_waits": "GenesysRateLimited",
    "lease_waits": "LeaseHeld",
    "unconfirmed_writes": "GenesysWriteUnconfirmed",
}


def caught(error: CaughtError | None) -> dict[str, Any] | None:
    return error_details(error.model_dump()) if error is not None else None


def attempts(state: StepInput) -> list[Attempt]:
    """Every retry the change survived (or ran out of), by kind, with the last error of that kind."""
    found = []
    for counter, path, kind in ATTEMPT_KINDS:
        count = getattr(state.counters, counter)
        if count:
            last = caught(getattr(state, path)) or {}
            found.append(
                Attempt(
                    type=kind or last.get("type") or DEFAULT_KIND_NAMES[counter],
                    count=count,
                    last_message=last.get("message"),
                )
            )
    return found


def final_error(state: StepInput) -> dict[str, Any] | None:
    """The error that ended a failed change; ``None`` for an outcome that did not fail."""
    if state.outcome not in FAILED_OUTCOMES:
        return None
    last_of_loop = {CONFLICT: state.conflict, RATE_LIMITED: state.rate_limited}.get(state.outcome)
    fallback = state.lease_held or state.unconfirmed_write
    return caught(state.failure or last_of_loop or fallback)


def outcome_reason(state: StepInput, error: dict[str, Any] | None) -> str | None:
    validation = state.validation
    counters = state.counters
    if state.outcome == REJECTED and state.live_interaction is not None:
        live = caught(state.live_interaction) or {}
        return str(live.get("message") or "the agent is on a live interaction")
    if state.outcome == REJECTED and validation is not None:
        return "; ".join(v.message for v in validation.policy.violations) or "rejected by policy"
    if state.outcome == CONFLICT:
        if error and error.get("type") == "IfMatchFailed":
            return "ifMatch no longer matches the agent's presence"
        return (
            f"the presence kept changing under us ({counters.conflict_retries} conflict retries); nothing was written"
        )
    if state.outcome == RATE_LIMITED:
        return (
            f"still rate limited after {counters.rate_limit_waits} Retry-After waits and {counters.budget_waits} "
            "waits for the deployment's rate budget"
        )
    if state.outcome == DRY_RUN:
        return "dry run: validated only, nothing changed"
    if state.outcome == FAILED and error:
        return f"{error.get('type')}: {error.get('message')}"
    if state.outcome == APPLIED and state.update is not None and state.update.reconciled:
        return "applied: the write's answer was lost, and a re-read found it had landed"
    if state.outcome == APPLIED and validation is not None and validation.policy.warnings:
        return "applied with policy warnings: " + "; ".join(w.message for w in validation.policy.warnings)
    return None


def _policy(state: StepInput) -> PolicySummary | None:
    """The policy as decided; what LockedUpdate found right before the write is added: a live interaction that
    stopped it (a violation), or one that was forced or only warned about (a warning)."""
    policy = state.validation.policy if state.validation else None
    late_warnings = state.update.warnings if state.update else []
    if state.live_interaction is None and not late_warnings:
        return policy
    base = policy or PolicySummary(mode="enforce")
    violations = list(base.violations)
    if state.live_interaction is not None:
        live = caught(state.live_interaction) or {}
        violations.append(Violation(code="live_interaction", message=str(live.get("message"))))
    return base.model_copy(update={"violations": violations, "warnings": [*base.warnings, *late_warnings]})


def build_audit_record(state: StepInput, *, retention_days: int, now: datetime) -> AuditRecord:
    if state.outcome is None:
        raise ValueError("Record needs an outcome")
    started = parse_instant(state.execution_start_time)
    started_at = to_utc_iso(started)
    error = final_error(state)
    try:
        request: ChangeRequest | None = state.change_request()
    except InvalidRequest:
        request = None
    user_id = request.user_id if request else str(state.request.get("userId", "unknown"))
    validation, update = state.validation, state.update
    export_status = "skipped"
    export_error = None
    if state.export is not None:
        export_status = "published"
    elif state.export_error is not None:
        export_status = "failed"
        export_error = caught(state.export_error)
    return AuditRecord(
        user_id=user_id,
        sk=f"{started_at}#{state.change_id}",
        change_id=state.change_id,
        outcome=state.outcome,
        reason=outcome_reason(state, error),
        request_reason=request.reason if request else None,
        requested_by=request.requested_by if request else None,
        requested_presence=validation.target if validation else None,
        requested=state.request,
        message=request.message if request else None,
        previous_presence=update.previous_presence if update else (validation.observed if validation else None),
        new_presence=update.new_presence if update else None,
        new_etag=update.new_etag if update else None,
        skill_changes=state.skills.changes if state.skills else [],
        revert_of=request.revert_of if request else None,
        conflict_retries=state.counters.conflict_retries,
        rate_limit_waits=state.counters.rate_limit_waits,
        budget_waits=state.counters.budget_waits,
        lease_waits=state.counters.lease_waits,
        attempts=attempts(state),
        latency_ms=max(0, int((now - started).total_seconds() * 1000)),
        policy=_policy(state),
        time_zone=validation.time_zone if validation else None,
        error=error,
        export_status=export_status,  # type: ignore[arg-type]
        export_error=export_error,
        export_event_id=state.export.event_id if state.export else None,
        started_at=started_at,
        recorded_at=to_utc_iso(now),
        expires_at=int((now + timedelta(days=retention_days)).timestamp()),
    )
