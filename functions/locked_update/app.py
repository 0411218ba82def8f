"""LockedUpdate step: under the agent's lease, compare ETags, re-check routing status, write presence + message.
Batch-aware: a batch is re-read and written with one bulk call each, under every agent's lease."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger
from presence_manager.workflow.batch import is_batch_step, locked_update_batch, parse_batch_step
from presence_manager.workflow.locked_update import locked_update
from presence_manager.workflow.models import parse_step_input


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = deps.settings()
    if is_batch_step(event):
        step = parse_batch_step(event)
        logger.append_keys(bulkId=step.batch.bulk_id, batch=step.batch.batch)
        batch = locked_update_batch(
            step.batch, genesys=deps.genesys(), lease=deps.agent_lease(), settings=settings, now=deps.now()
        )
        logger.info("batch updated", extra={"counts": batch.counts})
        return batch.to_json()
    state = parse_step_input(event)
    request = state.change_request()
    logger.append_keys(changeId=state.change_id, userId=request.user_id)
    if state.validation is None:
        raise ValueError("LockedUpdate runs after Validate")
    result = locked_update(
        state.change_id,
        request,
        state.validation,
        genesys=deps.genesys(),
        lease=deps.agent_lease(),
        lease_seconds=settings.lease_seconds,
        settle_seconds=settings.write_settle_seconds,
        policy_mode=settings.policy_mode,
        now=deps.now(),
        unconfirmed=state.counters.unconfirmed_writes > 0,
    )
    logger.info("presence updated", extra={"newEtag": result.new_etag, "reconciled": result.reconciled})
    return result.to_json()
