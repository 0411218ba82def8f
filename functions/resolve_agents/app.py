"""ResolveAgents step of a bulk change: one change request per agent (userIds, or a management unit's agents)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger, tracer
from presence_manager.workflow.bulk import expand, parse_bulk_request


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bulk_id = str(event["bulkId"])
    request = parse_bulk_request(event["request"])
    items = expand(bulk_id, request, genesys=deps.genesys())
    logger.info("bulk change expanded", extra={"bulkId": bulk_id, "agents": len(items)})
    return {"items": items, "count": len(items)}
