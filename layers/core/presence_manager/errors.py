"""Typed errors. The class name of an error that escapes a handler is the Lambda ``errorType``,
which is the contract with the state machine's Retry/Catch clauses (see statemachine/)."""

from __future__ import annotations

import json
from typing import Any


class PresenceManagerError(Exception):
    """Base class. ``details`` is JSON-serialisable and becomes the error message the state machine sees."""

    code: str = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_state_machine_message(self) -> str:
        """The Lambda ``errorMessage``: JSON so that ASL can parse it with States.StringToJson."""
        return json.dumps({"message": self.message, **self.details}, default=str, sort_keys=True)

    def __str__(self) -> str:
        return self.to_state_machine_message()


# ---- Genesys Cloud API errors -------------------------------------------------------------------------


class GenesysError(PresenceManagerError):
    """Any error answer from Genesys Cloud. ``error_body`` is the ErrorBody the API returned (if any)."""

    code = "genesys_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_body: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        **details: Any,
    ) -> None:
        super().__init__(message, status=status, correlationId=correlation_id, **details)
        self.status = status
        self.error_body = error_body or {}
        self.correlation_id = correlation_id


class GenesysRateLimited(GenesysError):
    """HTTP 429 (``source`` "genesys"), or our own rate budget for the deployment's token is empty (``source``
    "budget"): one error, one Wait. ``retry_after_seconds`` is what Retry-After said (capped), or a default."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_seconds: int, source: str = "genesys", **kwargs: Any) -> None:
        super().__init__(message, retryAfterSeconds=retry_after_seconds, source=source, **kwargs)
        self.retry_after_seconds = retry_after_seconds
        self.source = source


class GenesysNotFound(GenesysError):
    code = "not_found"


class GenesysForbidden(GenesysError):
    """HTTP 403. ``missing_permissions`` names what the OAuth client's role lacks, read from the ErrorBody."""

    code = "forbidden"

    def __init__(self, message: str, *, missing_permissions: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, missingPermissions=missing_permissions or [], **kwargs)
        self.missing_permissions = missing_permissions or []


class GenesysBadRequest(GenesysError):
    code = "genesys_bad_request"


class GenesysUnauthorized(GenesysError):
    """401 that survived the one token refresh (bad client credentials, revoked client)."""

    code = "unauthorized"


class GenesysUnavailable(GenesysError):
    """5xx or network failure/timeout after the bounded in-process retry (reads, and writes never sent)."""

    code = "genesys_unavailable"


class GenesysWriteUnconfirmed(GenesysError):
    """A write was sent but its answer was lost (timeout, 5xx): it may still land. Never repeated blindly: the
    writer keeps the agent's lease, waits ``retryAfterSeconds`` for it to settle, re-reads and reconciles."""

    code = "write_unconfirmed"


class GenesysScheduleProcessing(GenesysError):
    """The schedule search answered ``Processing``: its result only comes through a notification topic, so for
    this change the schedule is unknown (the policy mode decides what that means)."""

    code = "schedule_processing"


class PresenceDefinitionNotFound(PresenceManagerError):
    """The requested presence (name or id) is unknown or deactivated in the org."""

    code = "unknown_presence"


# ---- Workflow errors (Lambda errorType names the state machine catches) -------------------------------


class InvalidRequest(PresenceManagerError):
    """Input that fails validation. The API answers 400 with ``code``; nothing is changed."""

    code = "invalid_request"

    def __init__(self, message: str, *, code: str = "invalid_request", **details: Any) -> None:
        super().__init__(message, **details)
        self.code = code


class PreconditionFailed(PresenceManagerError):
    """Our 412: the presence changed since it was observed (ETag mismatch).

    ``caller_supplied`` is True when the expected ETag came from the caller's ``ifMatch``: that is final."""

    code = "precondition_failed"


class IfMatchFailed(PreconditionFailed):
    """The caller's ``ifMatch`` no longer matches the live presence: final, outcome ``conflict``."""

    code = "if_match_failed"


class SupersededByOwnWrite(PreconditionFailed):
    """The presence changed since Validate, but the change was another change of ours (the agent's last write by
    this deployment): our own contention, re-validated and counted as a lease wait, not as an external conflict."""

    code = "superseded_by_own_write"


class LiveInteraction(PresenceManagerError):
    """Re-checked right before the write: the agent is on a live interaction and the change would take them off
    queue (outcome ``rejected``, nothing written)."""

    code = "live_interaction"


class LeaseHeld(PresenceManagerError):
    """Another of our writers holds the agent's lease (``retryAfterSeconds``: until it expires); the state machine
    waits and counts it as ``LeaseWaits`` (our own contention, not an external edit)."""

    code = "lease_held"


class ExportFailed(PresenceManagerError):
    """EventBridge PutEvents reported FailedEntryCount > 0; the state machine retries."""

    code = "export_failed"


class BulkIncomplete(PresenceManagerError):
    """A bulk change ended with agents that have no audit record (a batch failed before recording)."""

    code = "bulk_incomplete"


class AwsThrottled(PresenceManagerError):
    """DynamoDB (or another AWS service) throttled a call after boto3's own retries: transient, retried by the
    state machine (the lease is taken before any write and released after it, so a retry never writes twice)."""

    code = "aws_throttled"
