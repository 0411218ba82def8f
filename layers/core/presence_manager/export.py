"""The exported event: ``Agent Presence Changed`` on the project's EventBridge bus. Pure: builds, never sends.

Every timestamp in the event is UTC ISO-8601 with milliseconds and ``Z`` whatever offset it arrived with
(``2026-03-08T09:00:00+02:00`` → ``2026-03-08T07:00:00.000Z``); the agent's wall-clock time and offset at
``changedAt`` ride beside it in ``agentLocal``. ``changeId`` is the stable id consumers de-duplicate on
(EventBridge assigns its own event id and delivers at least once).

``detail`` example::

    {"changeId": "chg-1", "userId": "…", "outcome": "applied",
     "presence": {"definitionId": "…", "systemPresence": "OnQueue", "label": "On Queue"},
     "previousPresence": {"definitionId": "…", "systemPresence": "Away", "message": null,
                          "modifiedDate": "2026-03-08T06:55:00.000Z"},
     "message": "back soon", "changedAt": "2026-03-08T07:00:00.000Z", "modifiedDate": "2026-03-08T07:00:00.120Z",
     "agentLocal": {"local": "2026-03-08T03:00:00.000-04:00", "timeZone": "America/New_York",
                    "utcOffset": "-04:00", "utcOffsetMinutes": -240, "isDst": true},
     "skillChanges": [], "requestedBy": "ops@example.com", "source": "genesys-presence-manager"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from presence_manager.genesys.models import normalize_system_presence
from presence_manager.timeutil import local_view, parse_instant, resolve_time_zone, to_utc_iso

__all__ = [
    "DETAIL_TYPE",
    "EVENT_SOURCE",
    "AgentLocalTime",
    "EventPresence",
    "EventPreviousPresence",
    "EventSkillChange",
    "EventSkillValue",
    "PresenceChangedDetail",
    "build_presence_changed_event",
    "to_put_events_entry",
    "utc_timestamp",
]

EVENT_SOURCE = "genesys-presence-manager"
DETAIL_TYPE = "Agent Presence Changed"


def utc_timestamp(value: datetime | str) -> str:
    """Any aware datetime or ISO-8601 string with ``Z``/offset → ``YYYY-MM-DDTHH:MM:SS.mmmZ``; naive refused."""
    return to_utc_iso(parse_instant(value))


UtcTimestamp = Annotated[str, BeforeValidator(utc_timestamp)]


class _EventModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _normalise_presence(value: str | None) -> str | None:
    return normalize_system_presence(value) if value else value


class EventPresence(_EventModel):
    """The presence the agent was given."""

    definition_id: str
    system_presence: str
    label: str

    @field_validator("system_presence")
    @classmethod
    def _normalise(cls, value: str) -> str:
        return normalize_system_presence(value)


class EventPreviousPresence(_EventModel):
    """The presence observed just before the change."""

    definition_id: str | None = None
    system_presence: str | None = None
    message: str | None = None
    modified_date: UtcTimestamp | None = None

    @field_validator("system_presence")
    @classmethod
    def _normalise(cls, value: str | None) -> str | None:
        return _normalise_presence(value)


class AgentLocalTime(_EventModel):
    """``changedAt`` on the agent's wall clock."""

    local: str
    time_zone: str
    utc_offset: str
    utc_offset_minutes: int
    is_dst: bool


class EventSkillValue(_EventModel):
    state: str | None = None
    proficiency: float | None = None


class EventSkillChange(_EventModel):
    skill_id: str
    name: str | None = None
    before: EventSkillValue | None = None
    after: EventSkillValue | None = None
    revert_at: UtcTimestamp | None = None


class PresenceChangedDetail(_EventModel):
    """The ``detail`` of an ``Agent Presence Changed`` event. JSON names are camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    change_id: str = Field(min_length=1)
    user_id: str = Field(min_length=1)
    outcome: str = Field(min_length=1)
    presence: EventPresence | None = Field(default=None, description="None when only skills changed")
    previous_presence: EventPreviousPresence | None = None
    message: str | None = None
    changed_at: UtcTimestamp
    modified_date: UtcTimestamp | None = Field(default=None, description="Genesys's modifiedDate of the new presence")
    agent_local: AgentLocalTime | None = Field(default=None, description="None when the time zone is unknown")
    skill_changes: list[EventSkillChange] = Field(default_factory=list)
    requested_by: str | None = None
    source: Literal["genesys-presence-manager"] = EVENT_SOURCE


FieldsLike = Mapping[str, Any] | BaseModel


def _fields(value: FieldsLike) -> dict[str, Any]:
    """A pydantic model (snake_case fields) or a mapping (snake_case or camelCase keys) as a plain dict."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    return dict(value)


def build_presence_changed_event(
    *,
    change_id: str,
    user_id: str,
    changed_at: datetime | str,
    zone: ZoneInfo | str | None,
    presence: FieldsLike | None,
    previous_presence: FieldsLike | None = None,
    message: str | None = None,
    modified_date: datetime | str | None = None,
    outcome: str = "applied",
    skill_changes: Sequence[FieldsLike] = (),
    requested_by: str | None = None,
) -> PresenceChangedDetail:
    """The event detail for one change.

    ``presence`` needs ``definitionId``/``definition_id``, ``systemPresence`` and ``label`` (e.g. the workflow's
    ``PresenceTarget``); ``previous_presence`` takes ``definitionId``, ``systemPresence``, ``message``,
    ``modifiedDate`` (e.g. a ``PresenceSnapshot``; other keys are ignored); ``skill_changes`` items take
    ``skillId``, ``name``, ``before``/``after`` ``{state, proficiency}`` and ``revertAt``. Timestamps may be aware
    datetimes or ISO strings with ``Z`` or an offset. ``zone`` (a ``ZoneInfo`` or IANA name; an invalid name raises
    ``InvalidRequest``) gives ``agentLocal``; None leaves it null."""
    resolved = resolve_time_zone(zone) if isinstance(zone, str) else zone
    changed = parse_instant(changed_at)
    agent_local = None
    if resolved is not None:
        view = local_view(changed, resolved)
        agent_local = AgentLocalTime(
            local=view.local,
            time_zone=view.time_zone,
            utc_offset=view.utc_offset,
            utc_offset_minutes=view.utc_offset_minutes,
            is_dst=view.is_dst,
        )
    return PresenceChangedDetail(
        change_id=change_id,
        user_id=user_id,
        outcome=outcome,
        presence=EventPresence.model_validate(_fields(presence)) if presence is not None else None,
        previous_presence=EventPreviousPresence.model_validate(_fields(previous_presence))
        if previous_presence is not None
        else None,
        message=message,
        changed_at=to_utc_iso(changed),
        modified_date=utc_timestamp(modified_date) if modified_date is not None else None,
        agent_local=agent_local,
        skill_changes=[EventSkillChange.model_validate(_fields(change)) for change in skill_changes],
        requested_by=requested_by,
    )


def to_put_events_entry(detail: PresenceChangedDetail, bus_name: str) -> dict[str, Any]:
    """One ``Entries`` item of EventBridge ``PutEvents`` (boto3 shape). ``Time`` is ``changedAt``."""
    if not bus_name:
        raise ValueError("bus_name is required (the event bus name or ARN)")
    return {
        "Source": EVENT_SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": detail.model_dump_json(by_alias=True),
        "EventBusName": bus_name,
        "Time": parse_instant(detail.changed_at),
    }
