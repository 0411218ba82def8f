"""Record: turn the execution state into the one final audit record, write it, and emit the metrics."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from presence_manager.audit import AuditRecord
from presence_manager.errors import InvalidRequest
from presence_manager.timeutil import parse_instant, to_utc_iso
from presence_manager.workflow.models import ChangeRequest, StepInput


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


def outcome_reason(state: StepInput, error: dict[str, Any] | None) -> str | None:
    validation = state.validation
    if state.outcome == "rejected" and validation is not None:
        return "; ".join(v.message for v in validation.policy.violations) or "rejected by policy"
    if state.outcome == "conflict":
        retries = state.counters.get("conflictRetries", 0)
        if error and error.get("type") == "IfMatchFailed":
            return "ifMatch no longer matches the agent's presence"
        return f"the presence kept changing under us ({retries} conflict retries); nothing was written"
    if state.outcome == "rate_limited":
        return f"Genesys Cloud still answered 429 after {state.counters.get('rateLimitWaits', 0)} waits"
    if state.outcome == "dry_run":
        return "dry run: validated only, nothing changed"
    if state.outcome == "failed" and error:
        return f"{error.get('type')}: {error.get('message')}"
    if state.outcome == "applied" and validation is not None and validation.policy.warnings:
        return "applied with policy warnings: " + "; ".join(w.message for w in validation.policy.warnings)
    return None


def build_audit_record(state: StepInput, *, retention_days: int, now: datetime) -> AuditRecord:
    if state.outcome is None:
        raise ValueError("Record needs an outcome")
    started = parse_instant(state.execution_start_time)
    started_at = to_utc_iso(started)
    error = error_details(state.error)
    try:
        request: ChangeRequest | None = state.change_request()
    except InvalidRequest:
        request = None
    user_id = request.user_id if request else str(state.request.get("userId", "unknown"))
    validation, update = state.validation, state.update
    export_status = "skipped"
    if state.export is not None:
        export_status = "published"
    elif state.export_error is not None:
        export_status = "failed"
        error = error or error_details(state.export_error)
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
        conflict_retries=state.counters.get("conflictRetries", 0),
        rate_limit_waits=state.counters.get("rateLimitWaits", 0),
        latency_ms=max(0, int((now - started).total_seconds() * 1000)),
        policy=validation.policy if validation else None,
        time_zone=validation.time_zone if validation else None,
        error=error,
        export_status=export_status,  # type: ignore[arg-type]
        export_event_id=state.export.event_id if state.export else None,
        started_at=started_at,
        recorded_at=to_utc_iso(now),
        expires_at=int((now + timedelta(days=retention_days)).timestamp()),
    )
