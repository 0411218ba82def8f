"""Validate step: resolve presence and time zone, observe presence and schedule, apply the policy.
Batch-aware: a bulk change's batch of agents is validated with one bulk read and one schedule search."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger
from presence_manager.workflow.batch import is_batch_step, parse_batch_step, validate_batch
from presence_manager.workflow.models import parse_step_input
from presence_manager.workflow.validate import validate_change


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_batch_step(event):
        step = parse_batch_step(event)
        logger.append_keys(bulkId=step.batch.bulk_id, batch=step.batch.batch)
        batch = validate_batch(
            step.batch,
            genesys=deps.genesys(),
            settings=deps.settings(),
            now=deps.now(),
            agents=deps.audit_store(),
            unit_schedule_group=deps.unit_schedule_group,
        )
        logger.info("batch validated", extra={"counts": batch.counts})
        return batch.to_json()
    state = parse_step_input(event)
    request = state.change_request()
    logger.append_keys(changeId=state.change_id, userId=request.user_id)
    result = validate_change(
        request,
        genesys=deps.genesys(),
        settings=deps.settings(),
        now=deps.now(),
        agents=deps.audit_store(),
        unit_schedule_group=deps.unit_schedule_group,
    )
    logger.info("validated", extra={"allowed": result.allowed, "policy": result.policy.to_json()})
    return result.to_json()
