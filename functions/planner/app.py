"""Planner: presence that follows the WFM schedule (presence_manager/planner.py).

Invoked by the recurring schedule (``{}``: every unit whose automation is on), with ``{"managementUnitId": id}`` (one
unit), or by a Genesys EventBridge WFM schedule notification (``v2.workforcemanagement.businessunits.{id}.schedules``:
that business unit's enabled units). An event it does not understand is logged and dropped, never raised."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager.observability import logger
from presence_manager.planner import parse_planner_event, planner_from_env


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_planner_event(event)
    if request.kind == "ignored":
        logger.warning("planner event ignored", extra={"reason": request.reason})
        return {"ignored": request.reason, "plans": []}
    planner = planner_from_env()
    if request.kind == "unit":
        assert request.management_unit_id is not None
        plans = [planner.plan(request.management_unit_id)]
    elif request.kind == "businessUnit":
        assert request.business_unit_id is not None
        logger.append_keys(businessUnitId=request.business_unit_id)
        plans = planner.plan_business_unit(request.business_unit_id, request.management_unit_ids)
    else:
        plans = planner.plan_enabled()
    return {"plans": [plan.to_json() for plan in plans]}
