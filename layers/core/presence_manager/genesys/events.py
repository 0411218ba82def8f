"""Genesys Cloud notification events as the Amazon EventBridge integration delivers them.

The integration sends each notification topic it is subscribed to into a partner event source,
``aws.partner/genesys.com/cloud/{orgId}/{integrationName}``, associated with an event bus of the same name. Each
EventBridge event carries:

- ``source``: the partner event source's name; ``detail-type``: the topic *pattern* (``v2.users.{id}.presence``);
- ``detail``: ``{topicName, version, eventBody, metadata {CorrelationId}, timestamp}``; ``topicName`` is the topic
  with the id filled in (``v2.users.6a1f….presence``), ``eventBody`` the topic's body.

Bodies read here, with the official SDK's models (``purecloudplatformclientv2``) as the contract - field names are
those models' ``attribute_map`` values, checked in tests/contract/test_events_contract.py:

- ``v2.users.{id}.presence`` → ``PresenceEventUserPresence {source, presenceDefinition {id, systemPresence},
  primary, message, modifiedDate}``;
- ``v2.users.{id}.routingStatus`` → ``UserRoutingStatusUserRoutingStatus {id, routingStatus {status, startTime}}``.

Only the fields we read are declared; anything else in a body is ignored. :func:`parse_event` turns an EventBridge
event into a :class:`PresenceEvent` or :class:`RoutingStatusEvent`, or raises :class:`UnknownTopic` /
:class:`MalformedEvent`; :func:`event_detail` builds the ``detail`` Genesys sends (the local simulator's events).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from presence_manager.genesys.models import RoutingStatusValue, normalize_system_presence
from presence_manager.timeutil import to_utc_iso

__all__ = [
    "PARTNER_SOURCE_PREFIX",
    "PRESENCE_TOPIC",
    "ROUTING_STATUS_TOPIC",
    "EventBridgeEvent",
    "GenesysEventDetail",
    "MalformedEvent",
    "PresenceEvent",
    "PresenceEventOrganizationPresence",
    "PresenceEventUserPresence",
    "RoutingStatusEvent",
    "UnknownTopic",
    "UserRoutingStatusRoutingStatus",
    "UserRoutingStatusUserRoutingStatus",
    "event_detail",
    "parse_event",
    "partner_source_name",
    "topic_pattern",
]

#: every partner event source of the Genesys Cloud integration starts so (then ``{orgId}/{integrationName}``)
PARTNER_SOURCE_PREFIX = "aws.partner/genesys.com/cloud/"
PRESENCE_TOPIC = "v2.users.{id}.presence"
ROUTING_STATUS_TOPIC = "v2.users.{id}.routingStatus"
_TOPIC = re.compile(r"^v2\.users\.(?P<id>[^.\s]+)\.(?P<kind>presence|routingStatus)$")
_USER_TOPIC = re.compile(r"^v2\.users\.(?P<id>[^.\s]+)\.(?P<rest>\S+)$")


class UnknownTopic(ValueError):
    """An event of a topic this app does not observe (or no Genesys topic at all)."""


class MalformedEvent(ValueError):
    """An event of a known topic whose envelope or body does not fit the SDK's model."""


class EventModel(BaseModel):
    """JSON names are camelCase of the attribute, as in the SDK's ``attribute_map``; unread fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


# ---- event bodies (the SDK's models, the fields we read) ----------------------------------------------------


class PresenceEventOrganizationPresence(EventModel):
    id: str = Field(min_length=1)
    system_presence: str | None = None

    @field_validator("system_presence")
    @classmethod
    def _normalize(cls, value: str | None) -> str | None:
        """``"On Queue"`` on the wire is the definitions' ``OnQueue``."""
        return normalize_system_presence(value) if value else value


class PresenceEventUserPresence(EventModel):
    """``eventBody`` of ``v2.users.{id}.presence``."""

    source: str | None = None
    presence_definition: PresenceEventOrganizationPresence
    primary: bool | None = None
    message: str | None = None
    modified_date: AwareDatetime


class UserRoutingStatusRoutingStatus(EventModel):
    status: RoutingStatusValue
    start_time: AwareDatetime | None = None


class UserRoutingStatusUserRoutingStatus(EventModel):
    """``eventBody`` of ``v2.users.{id}.routingStatus``."""

    id: str = Field(min_length=1)
    routing_status: UserRoutingStatusRoutingStatus


#: our body model → the SDK model it mirrors (the contract tests compare them)
SDK_MODELS: dict[type[EventModel], str] = {
    PresenceEventUserPresence: "PresenceEventUserPresence",
    PresenceEventOrganizationPresence: "PresenceEventOrganizationPresence",
    UserRoutingStatusUserRoutingStatus: "UserRoutingStatusUserRoutingStatus",
    UserRoutingStatusRoutingStatus: "UserRoutingStatusRoutingStatus",
}


# ---- the envelope ---------------------------------------------------------------------------------------------


class EventMetadata(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    correlation_id: str | None = Field(default=None, alias="CorrelationId")


class GenesysEventDetail(EventModel):
    """``detail`` of an event from the integration."""

    topic_name: str
    version: str | int | None = None
    event_body: dict[str, Any]
    metadata: EventMetadata | None = None
    timestamp: AwareDatetime | None = None


class EventBridgeEvent(BaseModel):
    """The EventBridge event around it (what an SQS target receives as the message body)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    id: str | None = None
    detail_type: str | None = Field(default=None, alias="detail-type")
    source: str | None = None
    time: str | None = None
    detail: dict[str, Any]


class ObservedEvent(BaseModel):
    user_id: str
    topic_name: str
    correlation_id: str | None = None
    timestamp: datetime | None = None
    event_id: str | None = None
    source: str | None = None


class PresenceEvent(ObservedEvent):
    kind: Literal["presence"] = "presence"
    body: PresenceEventUserPresence


class RoutingStatusEvent(ObservedEvent):
    kind: Literal["routingStatus"] = "routingStatus"
    body: UserRoutingStatusUserRoutingStatus


def _errors(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:5])


def parse_event(event: Any) -> PresenceEvent | RoutingStatusEvent:
    """The EventBridge event (a dict) as one of the topics we observe. Raises :class:`UnknownTopic` for another
    topic and :class:`MalformedEvent` when the envelope or the body does not fit."""
    if not isinstance(event, dict):
        raise MalformedEvent("the event is not a JSON object")
    try:
        envelope = EventBridgeEvent.model_validate(event)
        detail = GenesysEventDetail.model_validate(envelope.detail)
    except ValidationError as exc:
        topic = event.get("detail", {}).get("topicName") if isinstance(event.get("detail"), dict) else None
        if isinstance(topic, str) and not _TOPIC.match(topic):
            raise UnknownTopic(f"topic {topic!r} is not observed") from exc
        raise MalformedEvent(f"not an event of the Genesys integration: {_errors(exc)}") from exc
    match = _TOPIC.match(detail.topic_name)
    if match is None:
        raise UnknownTopic(f"topic {detail.topic_name!r} is not observed")
    user_id, kind = match.group("id"), match.group("kind")
    common: dict[str, Any] = {
        "user_id": user_id,
        "topic_name": detail.topic_name,
        "correlation_id": detail.metadata.correlation_id if detail.metadata else None,
        "timestamp": detail.timestamp,
        "event_id": envelope.id,
        "source": envelope.source,
    }
    try:
        if kind == "presence":
            return PresenceEvent(**common, body=PresenceEventUserPresence.model_validate(detail.event_body))
        body = UserRoutingStatusUserRoutingStatus.model_validate(detail.event_body)
    except ValidationError as exc:
        raise MalformedEvent(f"{detail.topic_name}: {_errors(exc)}") from exc
    if body.id != user_id:
        raise MalformedEvent(f"{detail.topic_name}: the body is about user {body.id!r}")
    return RoutingStatusEvent(**common, body=body)


# ---- building events (the local simulator's, shaped as Genesys sends them) -------------------------------------


def topic_pattern(topic_name: str) -> str:
    """``v2.users.<id>.presence`` → ``v2.users.{id}.presence`` (the event's ``detail-type``); any user topic."""
    match = _USER_TOPIC.match(topic_name)
    if match is None:
        raise UnknownTopic(f"{topic_name!r} is not a user topic")
    return f"v2.users.{{id}}.{match.group('rest')}"


def event_detail(
    topic_name: str, event_body: dict[str, Any], *, correlation_id: str, timestamp: datetime, version: str = "2"
) -> dict[str, Any]:
    """The ``detail`` the integration sends for one notification."""
    return {
        "topicName": topic_name,
        "version": version,
        "eventBody": event_body,
        "metadata": {"CorrelationId": correlation_id},
        "timestamp": to_utc_iso(timestamp),
    }


def partner_source_name(org_id: str, integration_name: str) -> str:
    return f"{PARTNER_SOURCE_PREFIX}{org_id}/{integration_name}"
