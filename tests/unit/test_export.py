"""Specification of the exported `Agent Presence Changed` event."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.validate import validate_parameters

from presence_manager.errors import InvalidRequest
from presence_manager.export import (
    PresenceChangedDetail,
    build_presence_changed_event,
    to_put_events_entry,
)
from presence_manager.timeutil import resolve_time_zone
from presence_manager.workflow.models import PresenceSnapshot, PresenceTarget, SkillChange

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
NEW_YORK = resolve_time_zone("America/New_York")


def event(**overrides: Any) -> PresenceChangedDetail:
    """An On Queue change at 03:00 EDT on the spring-forward morning, inputs spelled with assorted offsets."""
    values: dict[str, Any] = {
        "change_id": "chg-1",
        "user_id": USER,
        "outcome": "applied",
        "presence": {"definitionId": "def-onqueue", "systemPresence": "On Queue", "label": "On Queue"},
        "previous_presence": {
            "definitionId": "def-away",
            "systemPresence": "Away",
            "message": "brb",
            "modifiedDate": "2026-03-08T08:55:00+02:00",
            "etag": '"0123456789abcdef"',
        },
        "message": "on the phones",
        "changed_at": "2026-03-08T07:00:00Z",
        "modified_date": datetime(2026, 3, 8, 3, 0, 0, 120000, tzinfo=NEW_YORK),
        "zone": NEW_YORK,
        "skill_changes": [
            {
                "skillId": "skill-billing",
                "name": "Billing",
                "before": {"state": "active", "proficiency": 2},
                "after": {"state": "active", "proficiency": 5},
                "revertAt": "2026-03-08T05:00:00-04:00",
            }
        ],
        "requested_by": "ops@example.com",
    }
    values.update(overrides)
    return build_presence_changed_event(**values)


def test_given_a_change_when_the_event_is_built_then_every_field_is_explicit_camel_case_and_utc() -> None:
    assert event().to_json() == {
        "changeId": "chg-1",
        "userId": USER,
        "outcome": "applied",
        "presence": {"definitionId": "def-onqueue", "systemPresence": "OnQueue", "label": "On Queue"},
        "previousPresence": {
            "definitionId": "def-away",
            "systemPresence": "Away",
            "message": "brb",
            "modifiedDate": "2026-03-08T06:55:00.000Z",
        },
        "message": "on the phones",
        "changedAt": "2026-03-08T07:00:00.000Z",
        "modifiedDate": "2026-03-08T07:00:00.120Z",
        "agentLocal": {
            "local": "2026-03-08T03:00:00.000-04:00",
            "timeZone": "America/New_York",
            "utcOffset": "-04:00",
            "utcOffsetMinutes": -240,
            "isDst": True,
        },
        "skillChanges": [
            {
                "skillId": "skill-billing",
                "name": "Billing",
                "before": {"state": "active", "proficiency": 2.0},
                "after": {"state": "active", "proficiency": 5.0},
                "revertAt": "2026-03-08T09:00:00.000Z",
            }
        ],
        "requestedBy": "ops@example.com",
        "source": "genesys-presence-manager",
    }


@pytest.mark.parametrize(
    ("zone", "changed_at", "local", "offset", "dst"),
    [
        ("America/New_York", "2026-03-08T06:59:59Z", "2026-03-08T01:59:59.000-05:00", "-05:00", False),
        ("America/New_York", "2026-11-01T06:00:00Z", "2026-11-01T01:00:00.000-05:00", "-05:00", False),
        ("Europe/London", "2026-03-29T03:00:00+02:00", "2026-03-29T02:00:00.000+01:00", "+01:00", True),
        ("Europe/London", "2026-10-25T01:30:00Z", "2026-10-25T01:30:00.000+00:00", "+00:00", False),
    ],
)
def test_given_a_change_around_a_dst_change_when_exported_then_agent_local_carries_the_offset_in_force(
    zone: str, changed_at: str, local: str, offset: str, dst: bool
) -> None:
    detail = event(changed_at=changed_at, zone=zone)
    assert detail.changed_at.endswith("Z")
    assert detail.agent_local is not None
    assert (detail.agent_local.local, detail.agent_local.utc_offset, detail.agent_local.is_dst) == (local, offset, dst)
    assert detail.agent_local.time_zone == zone


def test_given_the_workflows_own_models_when_the_event_is_built_then_they_are_accepted_as_they_are() -> None:
    detail = build_presence_changed_event(
        change_id="chg-2",
        user_id=USER,
        presence=PresenceTarget(
            requested="Available", definition_id="def-available", system_presence="Available", label="Available"
        ),
        previous_presence=PresenceSnapshot(
            definition_id="def-away", system_presence="Away", modified_date="2026-03-08T06:55:00.000Z", etag='"e0"'
        ),
        changed_at=datetime(2026, 3, 8, 7, 0, tzinfo=UTC),
        modified_date="2026-03-08T07:00:00.120Z",
        zone="America/New_York",
        skill_changes=[SkillChange(skill_id="skill-billing", name="Billing")],
    )
    assert detail.presence is not None
    assert detail.presence.definition_id == "def-available"
    assert detail.previous_presence is not None
    assert detail.previous_presence.modified_date == "2026-03-08T06:55:00.000Z"
    assert detail.skill_changes[0].skill_id == "skill-billing"


def test_given_no_time_zone_when_exported_then_agent_local_is_null_and_utc_is_kept() -> None:
    detail = event(zone=None)
    assert detail.agent_local is None
    assert detail.changed_at == "2026-03-08T07:00:00.000Z"


def test_given_an_invalid_time_zone_name_when_exported_then_invalid_time_zone() -> None:
    with pytest.raises(InvalidRequest) as raised:
        event(zone="Atlantis/Capital")
    assert raised.value.code == "invalid_time_zone"


@pytest.mark.parametrize(
    "overrides",
    [
        {"changed_at": "2026-03-08T07:00:00"},
        {"modified_date": "2026-03-08T07:00:00"},
        {"changed_at": datetime(2026, 3, 8, 7, 0)},
        {
            "previous_presence": {
                "definitionId": "def-away",
                "systemPresence": "Away",
                "modifiedDate": "2026-03-08T06:55:00",
            }
        },
    ],
)
def test_given_a_timestamp_without_an_offset_when_exported_then_it_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        event(**overrides)


def test_given_a_skills_only_change_when_exported_then_presence_and_previous_presence_are_null() -> None:
    detail = event(presence=None, previous_presence=None, modified_date=None, message=None)
    body = detail.to_json()
    assert (body["presence"], body["previousPresence"], body["modifiedDate"]) == (None, None, None)


# ---- PutEvents entry -------------------------------------------------------------------------------------------


def test_given_an_event_when_turned_into_a_put_events_entry_then_source_detail_type_bus_and_json_detail() -> None:
    detail = event()
    entry = to_put_events_entry(detail, "presence-manager-bus")
    assert entry["Source"] == "genesys-presence-manager"
    assert entry["DetailType"] == "Agent Presence Changed"
    assert entry["EventBusName"] == "presence-manager-bus"
    assert json.loads(entry["Detail"]) == detail.to_json()
    assert entry["Time"] == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_given_a_put_events_entry_when_checked_against_the_eventbridge_api_model_then_it_is_valid() -> None:
    """Given the entry, when botocore validates a PutEvents call (offline, from its bundled service model),
    then there is nothing to complain about."""
    service = botocore.session.get_session().get_service_model("events")
    input_shape = service.operation_model("PutEvents").input_shape
    validate_parameters({"Entries": [to_put_events_entry(event(), "presence-manager-bus")]}, input_shape)


def test_given_no_bus_name_when_an_entry_is_asked_then_value_error() -> None:
    with pytest.raises(ValueError):
        to_put_events_entry(event(), "")
