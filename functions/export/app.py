"""Export step: publish the UTC-normalised ``Agent Presence Changed`` event to the project's bus.
Batch-aware: a batch's applied agents are published 10 entries per PutEvents call."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger
from presence_manager.workflow.batch import export_batch, is_batch_step, parse_batch_step
from presence_manager.workflow.export import export_change
from presence_manager.workflow.models import parse_step_input


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    bus_name = deps.settings().event_bus_name
    if is_batch_step(event):
        step = parse_batch_step(event)
        logger.append_keys(bulkId=step.batch.bulk_id, batch=step.batch.batch)
        batch = export_batch(
            step.batch, step.counters, events=deps.aws_client("events"), bus_name=bus_name, now=deps.now()
        )
        logger.info("batch exported", extra={"counts": batch.counts})
        return batch.to_json()
    state = parse_step_input(event)
    logger.append_keys(changeId=state.change_id)
    result = export_change(state, events=deps.aws_client("events"), bus_name=bus_name, now=deps.now())
    logger.info("change exported", extra={"eventId": result.event_id})
    return result.to_json()
