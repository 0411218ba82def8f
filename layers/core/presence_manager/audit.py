"""The audit trail: exactly one immutable record per change, and the per-agent aggregates beside it.

Audit table: ``userId`` (hash) + ``sk`` = ``<execution start UTC>#<changeId>`` (range; sorts by time), GSI
``byChangeId``. The record and the agent's aggregate counters are written in one DynamoDB transaction whose put is
conditional on the record not existing, so a retried Record step neither duplicates the record nor double-counts.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from presence_manager.outcomes import APPLIED, CONFLICT, Observed, Outcome
from presence_manager.workflow.models import (
    PolicySummary,
    PresenceSnapshot,
    PresenceTarget,
    SkillChange,
)

AGENT_KEY_PREFIX = "AGENT#"
UPDATE_OUTCOMES: frozenset[str] = frozenset({APPLIED, CONFLICT})


class Attempt(BaseModel):
    """A kind of retry the change went through (survived, or ran out of): how often, and the last error's message."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    type: str
    count: int
    last_message: str | None = None


class AuditRecord(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    user_id: str
    sk: str
    change_id: str
    outcome: Outcome | Observed
    source: Literal["workflow", "external"] = Field(
        default="workflow",
        description="workflow: a change of this app; external: a presence change made outside it, seen in an event",
    )
    reason: str | None = None
    request_reason: str | None = None
    requested_by: str | None = None
    requested_presence: PresenceTarget | None = None
    requested: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    previous_presence: PresenceSnapshot | None = None
    new_presence: PresenceSnapshot | None = None
    new_etag: str | None = None
    skill_changes: list[SkillChange] = Field(default_factory=list)
    revert_of: str | None = None
    conflict_retries: int = Field(default=0, description="external edits: the presence moved under us")
    rate_limit_waits: int = Field(default=0, description="Retry-After waits after a 429 from Genesys")
    budget_waits: int = Field(default=0, description="waits for the deployment's own rate budget (nothing sent)")
    lease_waits: int = Field(default=0, description="our own contention: other changes of ours to this agent")
    attempts: list[Attempt] = Field(default_factory=list, description="retries survived (or run out of), by kind")
    latency_ms: int
    policy: PolicySummary | None = None
    time_zone: str | None = None
    error: dict[str, Any] | None = Field(default=None, description="only for conflict, rate_limited and failed")
    export_status: Literal["published", "failed", "skipped"] = "skipped"
    export_error: dict[str, Any] | None = None
    export_event_id: str | None = None
    bulk_id: str | None = Field(default=None, description="the bulk change this agent's change was part of")
    started_at: str
    recorded_at: str
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @property
    def attempted_update(self) -> bool:
        return self.outcome in UPDATE_OUTCOMES and self.requested_presence is not None


class AgentMetrics(BaseModel):
    """Per-agent figures read back from the aggregates (no agent id ever goes into a metric dimension)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    user_id: str
    total_changes: int = 0
    total_updates: int = 0
    applied: int = 0
    average_latency_ms: float | None = None
    conflict_retries: int = 0
    conflict_rate: float | None = None
    rate_limit_waits: int = 0
    lease_waits: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    last_change_id: str | None = None
    last_outcome: str | None = None
    external_edits: int = Field(default=0, description="presence changes made outside this app (observe.py)")
    last_external_change_at: str | None = None
    last_presence: dict[str, Any] | None = Field(default=None, description="last known, from Genesys events")
    last_presence_at: str | None = None
    last_routing_status: dict[str, Any] | None = None
    last_routing_status_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _to_dynamo(value: Any) -> Any:
    return json.loads(json.dumps(value), parse_float=Decimal)


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


def encode_page_token(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(_from_dynamo(key)).encode()).decode()


def decode_page_token(token: str) -> dict[str, Any]:
    from presence_manager.errors import InvalidRequest

    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise InvalidRequest("nextToken is not a token this API issued", code="invalid_next_token") from exc
    if not isinstance(key, dict) or set(key) != {"userId", "sk"}:
        raise InvalidRequest("nextToken is not a token this API issued", code="invalid_next_token")
    return key


class AuditStore:
    """DynamoDB access for the audit and agent tables (boto3 resource API)."""

    def __init__(self, dynamodb: Any, audit_table: str, agent_table: str) -> None:
        # The resource's client serialises plain Python values (boto3's TypeSerializer) for us.
        self._client = dynamodb.meta.client
        self._audit = dynamodb.Table(audit_table)
        self._agents = dynamodb.Table(agent_table)
        self._audit_table_name = audit_table
        self._agent_table_name = agent_table

    def record(self, record: AuditRecord) -> tuple[AuditRecord, bool]:
        """Write the record and bump the agent's aggregates atomically. Returns (record, newly_written);
        a record that already exists (a retried Record step) is returned as stored and nothing is counted."""
        try:
            self._client.transact_write_items(
                TransactItems=[{"Put": self._conditional_put(record)}, {"Update": self._aggregates_update(record)}]
            )
        except self._client.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                existing = self.get(record.user_id, record.sk)
                if existing is not None:
                    return existing, False
            raise
        return record, True

    def record_batch(self, records: list[AuditRecord]) -> list[AuditRecord]:
        """A batch's records, each written once (conditional put), then its agent's aggregates. Returns those newly
        written. No transaction per agent: a batch is 50 agents, and per-item writes scale in DynamoDB and in the
        local emulation alike. The aggregates are bumped only after their record is written (a crash in between
        leaves the record without its counts, never counts without a record)."""
        written = []
        for record in records:
            try:
                self._client.put_item(**self._conditional_put(record))
            except self._client.exceptions.ConditionalCheckFailedException:
                continue
            self._client.update_item(**self._aggregates_update(record))
            written.append(record)
        return written

    def _conditional_put(self, record: AuditRecord) -> dict[str, Any]:
        item = record.to_json()
        if record.bulk_id:
            item["bulkOutcome"] = f"{record.outcome}#{record.user_id}"
        return {
            "TableName": self._audit_table_name,
            "Item": _to_dynamo(item),
            "ConditionExpression": "attribute_not_exists(sk)",
        }

    def _aggregates_update(self, record: AuditRecord) -> dict[str, Any]:
        names = {
            "#total": "totalChanges",
            "#outcome": f"outcome_{record.outcome}",
            "#conflicts": "conflictRetries",
            "#waits": "rateLimitWaits",
            "#leaseWaits": "leaseWaits",
            "#last": "lastChangeId",
            "#lastOutcome": "lastOutcome",
        }
        values: dict[str, Any] = {
            ":one": 1,
            ":conflicts": record.conflict_retries,
            ":waits": record.rate_limit_waits,
            ":leaseWaits": record.lease_waits,
            ":last": record.change_id,
            ":lastOutcome": record.outcome,
        }
        update = "ADD #total :one, #outcome :one, #conflicts :conflicts, #waits :waits, #leaseWaits :leaseWaits"
        if record.attempted_update:
            names["#updates"] = "totalUpdates"
            update += ", #updates :one"
        if record.outcome == APPLIED:
            names["#latency"] = "appliedLatencyMsTotal"
            values[":latency"] = record.latency_ms
            update += ", #latency :latency"
        update += " SET #last = :last, #lastOutcome = :lastOutcome"
        return {
            "TableName": self._agent_table_name,
            "Key": {"pk": f"{AGENT_KEY_PREFIX}{record.user_id}"},
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _to_dynamo(values),
        }

    def get(self, user_id: str, sk: str) -> AuditRecord | None:
        item = self._audit.get_item(Key={"userId": user_id, "sk": sk}, ConsistentRead=True).get("Item")
        return AuditRecord.model_validate(_from_dynamo(item)) if item else None

    def find_by_change_id(self, change_id: str) -> AuditRecord | None:
        items = self._audit.query(
            IndexName="byChangeId",
            KeyConditionExpression="changeId = :c",
            ExpressionAttributeValues={":c": change_id},
        ).get("Items", [])
        return AuditRecord.model_validate(_from_dynamo(items[0])) if items else None

    def history(
        self,
        user_id: str,
        *,
        since: str | None = None,
        until: str | None = None,
        limit: int = 50,
        next_token: str | None = None,
    ) -> tuple[list[AuditRecord], str | None]:
        """Newest first. ``since``/``until`` are UTC ISO instants bounding the change's start time."""
        condition = "userId = :u"
        values: dict[str, Any] = {":u": user_id}
        if since and until:
            condition += " AND sk BETWEEN :from AND :to"
            values.update({":from": since, ":to": f"{until}#\uffff"})
        elif since:
            condition += " AND sk >= :from"
            values[":from"] = since
        elif until:
            condition += " AND sk <= :to"
            values[":to"] = f"{until}#\uffff"
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            kwargs["ExclusiveStartKey"] = decode_page_token(next_token)
        page = self._audit.query(**kwargs)
        records = [AuditRecord.model_validate(_from_dynamo(item)) for item in page.get("Items", [])]
        return records, encode_page_token(page.get("LastEvaluatedKey"))

    def last_external_changes(self, user_ids: list[str]) -> dict[str, str]:
        """When each agent last changed their own presence (``lastExternalChangeAt``, kept by Observe from Genesys's
        presence events), for the agents that ever did: one BatchGetItem per 100 agents."""
        found: dict[str, str] = {}
        for start in range(0, len(user_ids), 100):
            keys = [{"pk": f"{AGENT_KEY_PREFIX}{user_id}"} for user_id in user_ids[start : start + 100]]
            request: dict[str, Any] = {
                self._agent_table_name: {"Keys": keys, "ProjectionExpression": "pk, lastExternalChangeAt"}
            }
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._agent_table_name, []):
                    if "lastExternalChangeAt" in item:
                        found[item["pk"].removeprefix(AGENT_KEY_PREFIX)] = str(item["lastExternalChangeAt"])
                request = answer.get("UnprocessedKeys") or {}
        return found

    def agent_metrics(self, user_id: str) -> AgentMetrics:
        item = _from_dynamo(
            self._agents.get_item(Key={"pk": f"{AGENT_KEY_PREFIX}{user_id}"}, ConsistentRead=True).get("Item") or {}
        )
        return agent_metrics_from_item(user_id, item)


def agent_metrics_from_item(user_id: str, item: dict[str, Any]) -> AgentMetrics:
    applied = int(item.get("outcome_applied", 0))
    updates = int(item.get("totalUpdates", 0))
    conflicts = int(item.get("conflictRetries", 0))
    latency_total = float(item.get("appliedLatencyMsTotal", 0))
    return AgentMetrics(
        user_id=user_id,
        total_changes=int(item.get("totalChanges", 0)),
        total_updates=updates,
        applied=applied,
        average_latency_ms=round(latency_total / applied, 1) if applied else None,
        conflict_retries=conflicts,
        conflict_rate=round(conflicts / updates, 4) if updates else None,
        rate_limit_waits=int(item.get("rateLimitWaits", 0)),
        lease_waits=int(item.get("leaseWaits", 0)),
        outcomes={k.removeprefix("outcome_"): int(v) for k, v in item.items() if k.startswith("outcome_")},
        last_change_id=item.get("lastChangeId"),
        last_outcome=item.get("lastOutcome"),
        external_edits=int(item.get("externalEdits", 0)),
        last_external_change_at=item.get("lastExternalChangeAt"),
        last_presence=item.get("lastPresence"),
        last_presence_at=item.get("lastPresenceAt"),
        last_routing_status=item.get("lastRoutingStatus"),
        last_routing_status_at=item.get("lastRoutingStatusAt"),
    )
