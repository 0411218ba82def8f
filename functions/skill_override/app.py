"""SkillOverride step: apply routing-skill overrides, remember previous values, schedule the revert."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger, tracer
from presence_manager.workflow.models import parse_step_input
from presence_manager.workflow.skill_override import apply_skill_overrides


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_step_input(event)
    request = state.change_request()
    logger.append_keys(changeId=state.change_id, userId=request.user_id)
    settings = deps.settings()
    scheduler = deps.aws_client("scheduler") if settings.revert_target_arn else None
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
