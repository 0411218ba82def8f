"""Outside changes, seen: Genesys presence and routing-status events turned into the agent's last-known state and,
for every presence change this app did not make, one ``external`` audit record.

A presence event is told apart as ours by what we wrote, never by timing: its ETag (:func:`etag.presence_etag` of
the presence, message and ``modifiedDate`` in the event) is looked up among the presences our writes produced
(``WRITE#<userId>#<etag>``, and the lease's ``lastWriteEtag``, set in the same update that releases the lease).
While a writer of ours holds the agent's lease its write may not be remembered yet: the event is handed back
(:class:`OwnWriteUnsettled`; SQS delivers it again) instead of guessed at.

Agent table item ``AGENT#<userId>`` (beside the workflow's aggregates, never touching them):

- ``lastPresence`` ``{definitionId, systemPresence, message, modifiedDate, changeId}`` and ``lastPresenceAt`` (the
  presence's ``modifiedDate``, ISO UTC): moved only forward, events may arrive out of order;
- ``lastRoutingStatus`` ``{status, startTime}`` and ``lastRoutingStatusAt``: likewise;
- ``externalEdits`` (counter) and ``lastExternalChangeAt`` (ISO UTC ``modifiedDate`` of the newest outside change;
  a contract: the automation planner reads it to leave an agent alone who just changed their own presence).

The external record and the counter are written in one transaction whose put is conditional on the record not
existing, and the record's id comes from the event (``ext-<uuid5(userId/modifiedDate/definitionId)>``), so a
redelivered event neither writes a second record nor counts twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel

from presence_manager.audit import AGENT_KEY_PREFIX, AuditRecord
from presence_manager.etag import presence_etag
from presence_manager.genesys.events import (
    MalformedEvent,
    PresenceEvent,
    RoutingStatusEvent,
    UnknownTopic,
    parse_event,
)
from presence_manager.genesys.models import PresenceDefinition, UserPresence
from presence_manager.lease import LEASE_KEY_PREFIX, AgentLease
from presence_manager.observability import logger
from presence_manager.outcomes import OBSERVED
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import PresenceSnapshot

__all__ = ["EXTERNAL_CHANGE_NAMESPACE", "EventObserver", "Observation", "OwnWriteUnsettled", "external_change_id"]

#: uuid5 namespace of external change ids (fixed: the same event must always give the same id)
EXTERNAL_CHANGE_NAMESPACE = uuid.UUID("6f1c2d3e-8b7a-5c4d-9e0f-a1b2c3d4e5f6")
#: how often a write of the agent item is tried again when another event of the same agent wrote in between
MAX_WRITE_ATTEMPTS = 5

Result = Literal["external", "ours", "duplicate", "stale", "routing_status", "dropped"]


class OwnWriteUnsettled(Exception):
    """A writer of ours holds the agent's lease: the event may be of a write it has not remembered yet. Deliver it
    again later (the handler reports it as a batch item failure)."""


class Observation(BaseModel):
    result: Result
    user_id: str | None = None
    change_id: str | None = None
    detail: str | None = None


def external_change_id(user_id: str, modified_date: datetime, definition_id: str) -> str:
    """Deterministic from the event: a redelivered (or duplicated) event names the same change."""
    name = f"{user_id}/{to_utc_iso(modified_date)}/{definition_id}"
    return f"ext-{uuid.uuid5(EXTERNAL_CHANGE_NAMESPACE, name)}"


def _dynamo(value: Any) -> Any:
    return json.loads(json.dumps(value), parse_float=Decimal)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class EventObserver:
    def __init__(
        self,
        dynamodb: Any,
        audit_table: str,
        agent_table: str,
        *,
        retention_days: int,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = dynamodb.meta.client  # serialises plain Python values (boto3's TypeSerializer)
        self._agents = dynamodb.Table(agent_table)
        self._audit_table = audit_table
        self._agent_table = agent_table
        self._lease = AgentLease(dynamodb, agent_table, clock=clock)
        self._retention_days = retention_days
        self._now = now
        self._clock = clock
        #: The write markers read ahead for the messages of one SQS batch (``read_markers_of``).
        self._markers_read: set[tuple[str, str]] = set()
        self._markers: dict[tuple[str, str], str] = {}

    # ---- entry point ------------------------------------------------------------------------------------------

    def read_markers_of(self, bodies: list[str]) -> None:
        """Read the write markers of a batch's presence events in one request, before they are observed one by
        one (instead of one GetItem per event); an event whose marker was not read ahead is looked up alone."""
        wanted: set[tuple[str, str]] = set()
        for body in bodies:
            try:
                parsed = parse_event(json.loads(body))
            except (TypeError, ValueError, UnknownTopic, MalformedEvent):
                continue  # dropped when observed, with the reason logged
            if isinstance(parsed, PresenceEvent):
                wanted.add((parsed.user_id, presence_etag(_presence_of(parsed))))
        self._markers = self._lease.written_by_many(wanted) if wanted else {}
        self._markers_read = wanted

    def observe_message(self, body: str) -> Observation:
        """One SQS message body (an EventBridge event). An unknown topic or a malformed event is logged and
        dropped; :class:`OwnWriteUnsettled` and AWS errors propagate (the message is delivered again)."""
        try:
            event = json.loads(body)
        except (TypeError, ValueError):
            logger.warning("event dropped: the message is not JSON", extra={"bodyPrefix": str(body)[:200]})
            return Observation(result="dropped", detail="not JSON")
        return self.observe(event)

    def observe(self, event: Any) -> Observation:
        try:
            parsed = parse_event(event)
        except UnknownTopic as exc:
            logger.warning("event dropped: unknown topic", extra={"reason": str(exc)})
            return Observation(result="dropped", detail=str(exc))
        except MalformedEvent as exc:
            logger.warning("event dropped: malformed", extra={"reason": str(exc)})
            return Observation(result="dropped", detail=str(exc))
        if isinstance(parsed, PresenceEvent):
            return self.presence(parsed)
        return self.routing_status(parsed)

    # ---- presence ---------------------------------------------------------------------------------------------

    def presence(self, event: PresenceEvent) -> Observation:
        body = event.body
        etag = presence_etag(_presence_of(event))
        ours = self._written_by_us(event.user_id, etag)
        at = to_utc_iso(body.modified_date)
        snapshot = {
            "definitionId": body.presence_definition.id,
            "systemPresence": body.presence_definition.system_presence,
            "message": body.message or "",
            "modifiedDate": at,
        }
        if ours is not None:
            moved = self._set_last_presence(event.user_id, {**snapshot, "changeId": ours}, at)
            return Observation(
                result="ours" if moved else "stale", user_id=event.user_id, change_id=ours, detail="our own write"
            )
        change_id = external_change_id(event.user_id, body.modified_date, body.presence_definition.id)
        return self._record_external(event, etag, {**snapshot, "changeId": change_id}, change_id, at)

    def _written_by_us(self, user_id: str, etag: str) -> str | None:
        """Our change that wrote this presence, or None. Raises :class:`OwnWriteUnsettled` while a writer of ours
        holds the lease (it remembers its write when it releases the lease)."""
        if (user_id, etag) in self._markers_read:
            change_id = self._markers.get((user_id, etag))
        else:
            change_id = self._lease.written_by(user_id, etag)
        if change_id is not None:
            return change_id
        lease = self._agents.get_item(Key={"pk": f"{LEASE_KEY_PREFIX}{user_id}"}, ConsistentRead=True).get("Item")
        lease = lease or {}
        if lease.get("lastWriteEtag") == etag:
            return str(lease["lastWriteChangeId"])
        if "owner" in lease and int(lease.get("expiresAt", 0)) > int(self._clock()):
            raise OwnWriteUnsettled(f"a change of ours ({lease['owner']}) holds agent {user_id}'s lease")
        if (user_id, etag) in self._markers_read:  # its marker may have been written since it was read ahead
            return self._lease.written_by(user_id, etag)
        return None

    def _set_last_presence(self, user_id: str, snapshot: dict[str, Any], at: str) -> bool:
        try:
            self._agents.update_item(
                Key={"pk": f"{AGENT_KEY_PREFIX}{user_id}"},
                UpdateExpression="SET lastPresence = :presence, lastPresenceAt = :at",
                ConditionExpression="attribute_not_exists(lastPresenceAt) OR lastPresenceAt < :at",
                ExpressionAttributeValues={":presence": snapshot, ":at": at},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False  # a newer presence is already known: never move backwards
        return True

    def _record_external(
        self,
        event: PresenceEvent,
        etag: str,
        snapshot: dict[str, Any],
        change_id: str,
        at: str,
    ) -> Observation:
        user_id = event.user_id
        for _ in range(MAX_WRITE_ATTEMPTS):
            item = self._agents.get_item(Key={"pk": f"{AGENT_KEY_PREFIX}{user_id}"}, ConsistentRead=True).get("Item")
            item = _plain(item or {})
            # the presence before this change: the last known one, unless that is already a later one
            known_at = item.get("lastPresenceAt")
            last = item.get("lastPresence") if known_at is None or known_at < at else None
            record = self._external_record(event, etag, last, change_id, at)
            update = self._external_update(user_id, snapshot, at, item)
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._audit_table,
                                "Item": _dynamo(record.to_json()),
                                "ConditionExpression": "attribute_not_exists(sk)",
                            }
                        },
                        {"Update": update},
                    ]
                )
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    logger.info("external change already recorded", extra={"changeId": change_id, "userId": user_id})
                    return Observation(result="duplicate", user_id=user_id, change_id=change_id)
                if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
                    continue  # another event of this agent wrote the item in between: read it again
                raise
            logger.info(
                "external presence change recorded",
                extra={"changeId": change_id, "userId": user_id, "presence": snapshot["systemPresence"]},
            )
            return Observation(result="external", user_id=user_id, change_id=change_id)
        raise RuntimeError(f"agent {user_id}'s item kept changing while recording {change_id}")

    def _external_record(
        self,
        event: PresenceEvent,
        etag: str,
        last: dict[str, Any] | None,
        change_id: str,
        at: str,
    ) -> AuditRecord:
        body = event.body
        now = self._now()
        previous = None
        if last and last.get("definitionId"):
            modified = last.get("modifiedDate")
            previous = PresenceSnapshot(
                definition_id=last["definitionId"],
                system_presence=last.get("systemPresence"),
                message=last.get("message"),
                modified_date=modified,
                etag=presence_etag(
                    UserPresence.model_validate(
                        {
                            "presenceDefinition": {"id": last["definitionId"]},
                            "message": last.get("message"),
                            "modifiedDate": modified,
                        }
                    )
                ),
            )
        new = PresenceSnapshot(
            definition_id=body.presence_definition.id,
            system_presence=body.presence_definition.system_presence,
            message=body.message,
            modified_date=at,
            etag=etag,
        )
        return AuditRecord(
            user_id=event.user_id,
            sk=f"{at}#{change_id}",
            change_id=change_id,
            outcome=OBSERVED,
            source="external",
            reason="presence changed outside this app",
            requested_by=f"genesys:{body.source}" if body.source else "agent",
            message=body.message,
            previous_presence=previous,
            new_presence=new,
            new_etag=etag,
            latency_ms=0,
            started_at=at,
            recorded_at=to_utc_iso(now),
            expires_at=int((now + timedelta(days=self._retention_days)).timestamp()),
            requested={
                key: value
                for key, value in (("topicName", event.topic_name), ("correlationId", event.correlation_id))
                if value
            },
        )

    def _external_update(self, user_id: str, snapshot: dict[str, Any], at: str, item: dict[str, Any]) -> dict:
        """ADD externalEdits; SET lastPresence and lastExternalChangeAt only where this change is the newest, on
        the condition that what was read is still so (else the transaction is tried again)."""
        sets: list[str] = []
        conditions: list[str] = []
        values: dict[str, Any] = {":one": 1, ":at": at}
        stored_presence_at, stored_external_at = item.get("lastPresenceAt"), item.get("lastExternalChangeAt")
        if stored_presence_at is None or at > stored_presence_at:
            sets.append("lastPresence = :presence, lastPresenceAt = :at")
            conditions.append("(attribute_not_exists(lastPresenceAt) OR lastPresenceAt < :at)")
            values[":presence"] = snapshot
        if stored_external_at is None or at > stored_external_at:
            sets.append("lastExternalChangeAt = :at")
            conditions.append("(attribute_not_exists(lastExternalChangeAt) OR lastExternalChangeAt < :at)")
        update: dict[str, Any] = {
            "TableName": self._agent_table,
            "Key": {"pk": f"{AGENT_KEY_PREFIX}{user_id}"},
            "UpdateExpression": "ADD externalEdits :one" + (f" SET {', '.join(sets)}" if sets else ""),
            "ExpressionAttributeValues": _dynamo(values),
        }
        if conditions:
            update["ConditionExpression"] = " AND ".join(conditions)
        else:
            del update["ExpressionAttributeValues"][":at"]
        return update

    # ---- routing status ---------------------------------------------------------------------------------------

    def routing_status(self, event: RoutingStatusEvent) -> Observation:
        status = event.body.routing_status
        instant = status.start_time or event.timestamp or self._now()
        at = to_utc_iso(instant)
        value = {"status": status.status, "startTime": to_utc_iso(status.start_time) if status.start_time else None}
        try:
            self._agents.update_item(
                Key={"pk": f"{AGENT_KEY_PREFIX}{event.user_id}"},
                UpdateExpression="SET lastRoutingStatus = :status, lastRoutingStatusAt = :at",
                ConditionExpression="attribute_not_exists(lastRoutingStatusAt) OR lastRoutingStatusAt < :at",
                ExpressionAttributeValues={":status": value, ":at": at},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return Observation(result="stale", user_id=event.user_id, detail="a newer routing status is known")
        return Observation(result="routing_status", user_id=event.user_id, detail=status.status)


def _presence_of(event: PresenceEvent) -> UserPresence:
    """The event's presence as the presence API answers it: what our ETag is computed from."""
    body = event.body
    return UserPresence(
        source=body.source,
        primary=body.primary,
        presence_definition=PresenceDefinition(
            id=body.presence_definition.id, system_presence=body.presence_definition.system_presence
        ),
        message=body.message,
        modified_date=body.modified_date,
    )
