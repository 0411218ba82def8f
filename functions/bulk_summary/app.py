"""Summarize step of a bulk change: its result, read from the batches' records (never from the Map's output).
Fails the execution (and so its alarm) when an agent has no record."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger
from presence_manager.workflow.bulk import summarize_bulk


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bulk_id = str(event["bulkId"])
    logger.append_keys(bulkId=bulk_id)
    progress = summarize_bulk(bulk_id, store=deps.bulk_store())
    logger.info("bulk change finished", extra={"progress": progress.to_json()})
    return progress.to_json()
