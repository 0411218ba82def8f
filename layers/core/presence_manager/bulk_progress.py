"""A bulk change's progress at any size: counters in one item, per-agent outcomes in the audit trail.

- ``BULK#<bulkId>`` in the agent table: ``total`` and ``batches`` (written once by the planner), then ``done`` and
  ``outcome_<outcome>`` counters that each batch's Record adds to, for the records it newly wrote (a retried Record
  counts nothing twice). Reading the status of 10,000 agents is one GetItem.
- Per-agent outcomes are the agents' audit records, found through the audit table's ``byBulk`` index (hash
  ``bulkId``, range ``bulkOutcome`` = ``<outcome>#<userId>``), so they page and filter by outcome without a scan.

A batch that failed without recording shows as ``done < total`` once the execution has ended: the bulk's result is
read from these records, never from the Map's output (which, locally, turns a failed batch into ``null``)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from presence_manager.errors import InvalidRequest
from presence_manager.outcomes import OUTCOMES, Outcome

BULK_KEY_PREFIX = "BULK#"
BULK_INDEX = "byBulk"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class BulkProgress(_Model):
    bulk_id: str
    total: int
    batches: int
    done: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    started_at: str | None = None


class BulkAgentOutcome(_Model):
    user_id: str
    change_id: str
    outcome: Outcome
    reason: str | None = None
    latency_ms: int | None = None
    conflict_retries: int = 0
    rate_limit_waits: int = 0


class _PageKey(BaseModel):
    """The byBulk index's key of the last agent read: what ``nextToken`` carries."""

    model_config = ConfigDict(extra="forbid", strict=True)

    bulkId: str
    bulkOutcome: str
    userId: str
    sk: str


def _encode(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode() if key else None


def _decode(token: str, bulk_id: str) -> dict[str, Any]:
    invalid = InvalidRequest("nextToken is not a token this API issued", code="invalid_next_token")
    try:
        key = _PageKey.model_validate(json.loads(base64.urlsafe_b64decode(token.encode("ascii"))))
    except (ValueError, UnicodeError, binascii.Error, ValidationError) as exc:
        raise invalid from exc
    if key.bulkId != bulk_id:
        raise invalid
    return key.model_dump()


class BulkStore:
    def __init__(self, dynamodb: Any, audit_table: str, agent_table: str) -> None:
        self._agents = dynamodb.Table(agent_table)
        self._audit = dynamodb.Table(audit_table)
        self._conditional_failed = self._agents.meta.client.exceptions.ConditionalCheckFailedException

    def start(self, bulk_id: str, *, total: int, batches: int, started_at: str, expires_at: int) -> None:
        """Record the bulk's size once (a retried planner changes nothing)."""
        with contextlib.suppress(self._conditional_failed):
            self._agents.put_item(
                Item={
                    "pk": f"{BULK_KEY_PREFIX}{bulk_id}",
                    "total": total,
                    "batches": batches,
                    "done": 0,
                    "startedAt": started_at,
                    "expiresAt": expires_at,
                },
                ConditionExpression="attribute_not_exists(pk)",
            )

    def add(self, bulk_id: str, outcomes: Counter[str]) -> None:
        """Count a batch's newly written records (one update per batch)."""
        if not outcomes:
            return
        names = {f"#o{i}": f"outcome_{outcome}" for i, outcome in enumerate(outcomes)}
        values: dict[str, Any] = {f":o{i}": count for i, count in enumerate(outcomes.values())}
        values[":done"] = sum(outcomes.values())
        self._agents.update_item(
            Key={"pk": f"{BULK_KEY_PREFIX}{bulk_id}"},
            UpdateExpression="ADD done :done, " + ", ".join(f"{name} :o{i}" for i, name in enumerate(names)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def get(self, bulk_id: str) -> BulkProgress | None:
        item = self._agents.get_item(Key={"pk": f"{BULK_KEY_PREFIX}{bulk_id}"}, ConsistentRead=True).get("Item")
        if not item:
            return None
        return BulkProgress(
            bulk_id=bulk_id,
            total=int(item.get("total", 0)),
            batches=int(item.get("batches", 0)),
            done=int(item.get("done", 0)),
            outcomes={o: int(item[f"outcome_{o}"]) for o in OUTCOMES if int(item.get(f"outcome_{o}", 0))},
            started_at=item.get("startedAt"),
        )

    def agents(
        self, bulk_id: str, *, outcome: Outcome | None = None, limit: int = 100, next_token: str | None = None
    ) -> tuple[list[BulkAgentOutcome], str | None]:
        """The bulk's agents with their outcomes, by outcome then user id, ``limit`` at a time."""
        condition = "bulkId = :bulk"
        values: dict[str, Any] = {":bulk": bulk_id}
        if outcome is not None:
            condition += " AND begins_with(bulkOutcome, :outcome)"
            values[":outcome"] = f"{outcome}#"
        kwargs: dict[str, Any] = {
            "IndexName": BULK_INDEX,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "Limit": limit,
        }
        if next_token:
            kwargs["ExclusiveStartKey"] = _decode(next_token, bulk_id)
        page = self._audit.query(**kwargs)
        agents = [
            BulkAgentOutcome(
                user_id=item["userId"],
                change_id=item["changeId"],
                outcome=item["outcome"],
                reason=item.get("reason"),
                latency_ms=int(item["latencyMs"]) if "latencyMs" in item else None,
                conflict_retries=int(item.get("conflictRetries", 0)),
                rate_limit_waits=int(item.get("rateLimitWaits", 0)),
            )
            for item in page.get("Items", [])
        ]
        last = page.get("LastEvaluatedKey")
        return agents, _encode({k: str(v) for k, v in last.items()} if last else None)
