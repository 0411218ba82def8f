"""Export: publish the change as an ``Agent Presence Changed`` event for external WFM systems."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from presence_manager.errors import ExportFailed
from presence_manager.export import build_presence_changed_event, to_put_events_entry
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import ExportResult, StepInput

#: EventBridge PutEvents takes at most 10 entries per call.
PUT_EVENTS_MAX_ENTRIES = 10


def presence_changed_entry(state: StepInput, *, bus_name: str, now: datetime) -> dict[str, Any]:
    """The PutEvents entry of one applied change (the same for a single change and an agent of a batch)."""
    request = state.change_request()
    validation, update = state.validation, state.update
    detail = build_presence_changed_event(
        change_id=state.change_id,
        user_id=request.user_id,
        changed_at=update.applied_at if update else now,
        zone=validation.time_zone if validation else None,
        presence=validation.target if validation else None,
        previous_presence=update.previous_presence if update else (validation.observed if validation else None),
        message=request.message,
        modified_date=update.new_presence.modified_date if update else None,
        skill_changes=state.skills.changes if state.skills else (),
        requested_by=request.requested_by,
    )
    return to_put_events_entry(detail, bus_name)


def put_events(events: Any, entries: Sequence[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Publish ``entries`` 10 at a time; the failure of each entry (``{errorCode, errorMessage}``) or None."""
    failures: list[dict[str, Any] | None] = []
    for start in range(0, len(entries), PUT_EVENTS_MAX_ENTRIES):
        response = events.put_events(Entries=list(entries[start : start + PUT_EVENTS_MAX_ENTRIES]))
        answered = response.get("Entries", [])
        for index in range(len(entries[start : start + PUT_EVENTS_MAX_ENTRIES])):
            entry = answered[index] if index < len(answered) else {"ErrorCode": "Missing"}
            failed = response.get("FailedEntryCount", 0) and entry.get("ErrorCode")
            failures.append(
                {"errorCode": entry.get("ErrorCode"), "errorMessage": entry.get("ErrorMessage")} if failed else None
            )
    return failures


def export_change(state: StepInput, *, events: Any, bus_name: str, now: datetime) -> ExportResult:
    (failure,) = put_events(events, [presence_changed_entry(state, bus_name=bus_name, now=now)])
    if failure is not None:
        raise ExportFailed("EventBridge did not accept the event", **failure)
    return ExportResult(event_id=state.change_id, bus_name=bus_name, published_at=to_utc_iso(now))
