"""Starting bulk changes and reporting their per-agent progress and outcomes."""

from __future__ import annotations

import json
import uuid
from typing import Any

from presence_manager.api.changes import (
    IDEMPOTENCY_NAMESPACE,
    ChangeNotFound,
    StartedChange,
    execution_arn,
    start_execution,
)
from presence_manager.api.inputs import BulkQuery, bulk_id_param
from presence_manager.bulk_progress import BulkStore
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


def describe_bulk(sfn: Any, store: BulkStore, state_machine_arn: str, bulk_id: str, query: BulkQuery) -> dict[str, Any]:
    """Status from the execution, progress from the bulk's counters (one GetItem at any size), and one page of
    agents with their outcomes from the audit trail (filtered by ``outcome``, paged by ``nextToken``; none for
    ``limit=0``)."""
    arn = execution_arn(state_machine_arn, bulk_id_param(bulk_id))
    try:
        execution = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise ChangeNotFound(f"no bulk change {bulk_id}", bulkId=bulk_id) from None
    progress = store.get(bulk_id)
    agents, next_token = (
        store.agents(bulk_id, outcome=query.outcome, limit=query.limit, next_token=query.next_token)
        if query.limit
        else ([], None)
    )
    return {
        "bulkId": bulk_id,
        "executionArn": arn,
        "status": execution["status"],
        "total": progress.total if progress else None,
        "batches": progress.batches if progress else None,
        "done": progress.done if progress else 0,
        "outcomes": progress.outcomes if progress else {},
        "agents": [agent.to_json() for agent in agents],
        "nextToken": next_token,
    }
