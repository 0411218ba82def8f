"""PlanBatches step of a bulk change: the agents (userIds, or a management unit's) in batches of up to 50 of one
management unit, written to S3 for the Distributed Map, and the bulk's size to DynamoDB."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger
from presence_manager.workflow.bulk import parse_bulk_request, plan_bulk


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bulk_id = str(event["bulkId"])
    logger.append_keys(bulkId=bulk_id)
    settings = deps.settings()
    plan = plan_bulk(
        bulk_id,
        parse_bulk_request(event["request"]),
        started_at=str(event["startedAt"]),
        genesys=deps.genesys(),
        s3=deps.aws_client("s3"),
        bucket=settings.bulk_bucket_name,
        store=deps.bulk_store(),
        retention_days=settings.audit_retention_days,
    )
    logger.info("bulk change planned", extra={"agents": plan.total, "batches": plan.batches})
    return plan.to_json()
