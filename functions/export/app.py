"""Export step: publish the UTC-normalised ``Agent Presence Changed`` event to the project's bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import logger, tracer
from presence_manager.workflow.export import export_change
from presence_manager.workflow.models import parse_step_input


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    state = parse_step_input(event)
    logger.append_keys(changeId=state.change_id)
    result = export_change(
        state, events=deps.aws_client("events"), bus_name=deps.settings().event_bus_name, now=deps.now()
    )
    logger.info("change exported", extra={"eventId": result.event_id})
    return result.to_json()
