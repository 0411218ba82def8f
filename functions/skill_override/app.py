"""SkillOverride step: apply routing-skill overrides, remember previous values, schedule the revert.
Batch-aware: each agent of a batch in turn; a 429 part-way pauses the batch, keeping the agents done."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger
from presence_manager.workflow.batch import is_batch_step, parse_batch_step, skill_override_batch
from presence_manager.workflow.models import parse_step_input
from presence_manager.workflow.skill_override import apply_skill_overrides


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = deps.settings()
    scheduler = deps.aws_client("scheduler") if settings.revert_target_arn else None
    if is_batch_step(event):
        step = parse_batch_step(event)
        logger.append_keys(bulkId=step.batch.bulk_id, batch=step.batch.batch)
        batch = skill_override_batch(
            step.batch, genesys=deps.genesys(), scheduler=scheduler, settings=settings, now=deps.now()
        )
        logger.info("batch skill overrides", extra={"counts": batch.counts, "pause": batch.pause.to_json()})
        return batch.to_json()
    state = parse_step_input(event)
    request = state.change_request()
    logger.append_keys(changeId=state.change_id, userId=request.user_id)
    result = apply_skill_overrides(
        state.change_id,
        request,
        genesys=deps.genesys(),
        scheduler=scheduler,
        settings=settings,
        now=deps.now(),
    )
    logger.info("skill overrides applied", extra={"skills": len(result.changes)})
    return result.to_json()
