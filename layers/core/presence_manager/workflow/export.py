"""Export: publish the change as an ``Agent Presence Changed`` event for external WFM systems."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from presence_manager.errors import ExportFailed
from presence_manager.export import build_presence_changed_event, to_put_events_entry
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import ExportResult, StepInput


def export_change(state: StepInput, *, events: Any, bus_name: str, now: datetime) -> ExportResult:
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
    response = events.put_events(Entries=[to_put_events_entry(detail, bus_name)])
    if response.get("FailedEntryCount", 0):
        failure = response["Entries"][0]
        raise ExportFailed(
            "EventBridge did not accept the event",
            errorCode=failure.get("ErrorCode"),
            errorMessage=failure.get("ErrorMessage"),
        )
    return ExportResult(event_id=state.change_id, bus_name=bus_name, published_at=to_utc_iso(now))
