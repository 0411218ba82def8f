"""Starting bulk changes and reporting their per-agent progress and outcomes."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from typing import Any

from presence_manager.api.changes import (
    IDEMPOTENCY_NAMESPACE,
    ChangeNotFound,
    StartedChange,
    execution_arn,
    start_execution,
)
from presence_manager.audit import AuditStore
from presence_manager.errors import InvalidRequest
from presence_manager.workflow.bulk import BulkChangeRequest

BULK_ID_PREFIX = "blk-"


def bulk_id_for(idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return f"{BULK_ID_PREFIX}{uuid.uuid4()}"
    return f"{BULK_ID_PREFIX}{uuid.uuid5(IDEMPOTENCY_NAMESPACE, 'bulk/' + idempotency_key.strip())}"


def start_bulk(
    sfn: Any, state_machine_arn: str, request: BulkChangeRequest, idempotency_key: str | None
) -> StartedChange:
    payload = json.dumps(request.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)
    return start_execution(sfn, state_machine_arn, bulk_id_for(idempotency_key), payload)


def _resolved_agents(sfn: Any, arn: str) -> list[dict[str, Any]] | None:
    """The ResolveAgents task's output, read from the execution history (None until it has run)."""
    paginator = sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn):
        for event in page["events"]:
            details = event.get("stateExitedEventDetails")
            if details and details.get("name") == "ResolveAgents":
                return json.loads(details["output"])["agents"]["items"]
    return None


def describe_bulk(sfn: Any, audit: AuditStore, state_machine_arn: str, bulk_id: str) -> dict[str, Any]:
    if not bulk_id.startswith(BULK_ID_PREFIX) or len(bulk_id) > 80:
        raise InvalidRequest("bulkId is not a bulk change id", code="invalid_bulk_id")
    arn = execution_arn(state_machine_arn, bulk_id)
    try:
        execution = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise ChangeNotFound(f"no bulk change {bulk_id}", bulkId=bulk_id) from None
    items = _resolved_agents(sfn, arn) or []
    agents = []
    for item in items:
        record = audit.find_by_change_id(item["changeId"])
        agents.append(
            {
                "userId": item["request"]["userId"],
                "changeId": item["changeId"],
                "outcome": record.outcome if record else None,
                "reason": record.reason if record else None,
                "latencyMs": record.latency_ms if record else None,
                "conflictRetries": record.conflict_retries if record else None,
                "rateLimitWaits": record.rate_limit_waits if record else None,
            }
        )
    done = sum(1 for agent in agents if agent["outcome"] is not None)
    return {
        "bulkId": bulk_id,
        "executionArn": arn,
        "status": execution["status"],
        "total": len(agents),
        "done": done,
        "outcomes": dict(Counter(agent["outcome"] for agent in agents if agent["outcome"])),
        "agents": agents,
    }
