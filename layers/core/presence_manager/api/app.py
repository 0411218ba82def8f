"""Routes of the REST API (Powertools APIGatewayRestResolver). Handlers parse, call the service, shape output."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

from presence_manager import dependencies as deps
from presence_manager import timeline
from presence_manager.api import automation, bulk, changes, inputs
from presence_manager.api.errors import domain_error_response, error_response
from presence_manager.automation import AutomationStore, management_unit_id_param
from presence_manager.errors import InvalidRequest, PresenceManagerError
from presence_manager.observability import logger
from presence_manager.planner import planner_from_env
from presence_manager.workflow.bulk import parse_bulk_request
from presence_manager.workflow.models import ChangeRequest, parse_change_request
from presence_manager.workflow.validate import snapshot

app = APIGatewayRestResolver()


def refuse_unsafe_input(resolver: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """Every request, any route (unknown ones too): a body within the bound, a path and a query string without
    control characters - checked before a route runs, so nothing is read, started or written for them."""
    event = resolver.current_event
    inputs.check_path(event.path)
    inputs.body_bytes(event.body, is_base64=bool(event.is_base64_encoded))
    inputs.check_query(event.query_string_parameters, event.multi_value_query_string_parameters)
    return next_middleware(resolver)


app.use(middlewares=[refuse_unsafe_input])


def json_response(status: int, body: Any, **headers: str) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers=headers or None,
    )


def requested_by() -> str:
    """Who asked: the IAM caller under AWS_IAM auth, else the caller's address."""
    context = app.current_event.request_context
    identity = context.identity
    return identity.user_arn or identity.caller or identity.source_ip or "unknown"


def json_body() -> dict[str, Any]:
    event = app.current_event
    return inputs.parse_json_object(event.body, is_base64=bool(event.is_base64_encoded))


def parse_request(body: dict[str, Any]) -> ChangeRequest:
    if "requestedBy" in body or "revertOf" in body:
        raise InvalidRequest("requestedBy and revertOf are set by the service", code="invalid_request")
    request = parse_change_request({**body, "requestedBy": requested_by()})
    if request.presence is not None:
        deps.genesys().resolve_presence(request.presence)  # an unknown presence is a 400 before anything starts
    return request


def idempotency_key() -> str | None:
    event = app.current_event
    return inputs.idempotency_key(event.headers, event.multi_value_headers)


def bulk_state_machine_arn() -> str:
    arn = deps.settings().bulk_state_machine_arn
    if not arn:
        raise RuntimeError("BULK_STATE_MACHINE_ARN is not configured")
    return arn


def state_machine_arn() -> str:
    arn = deps.settings().state_machine_arn
    if not arn:
        raise RuntimeError("STATE_MACHINE_ARN is not configured")
    return arn


@app.post("/presence-changes")
def start_presence_change() -> Response:
    key = idempotency_key()
    request = parse_request(json_body())
    started = changes.start_change(deps.aws_client("stepfunctions"), state_machine_arn(), request, key)
    logger.info("change started", extra={"changeId": started.change_id, "replayed": started.replayed})
    return json_response(202, started.model_dump(by_alias=True), Location=f"/presence-changes/{started.change_id}")


@app.get("/presence-changes/<change_id>")
def get_presence_change(change_id: str) -> Response:
    described = changes.describe_change(
        deps.aws_client("stepfunctions"), deps.audit_store(), state_machine_arn(), change_id
    )
    return json_response(200, described)


@app.post("/bulk-changes")
def start_bulk_change() -> Response:
    key = idempotency_key()
    body = json_body()
    if "requestedBy" in body:
        raise InvalidRequest("requestedBy is set by the service", code="invalid_request")
    request = parse_bulk_request({**body, "requestedBy": requested_by()})
    if request.presence is not None:
        deps.genesys().resolve_presence(request.presence)
    started = bulk.start_bulk(deps.aws_client("stepfunctions"), bulk_state_machine_arn(), request, key)
    body_out = {"bulkId": started.change_id, "executionArn": started.execution_arn, "status": started.status}
    return json_response(202, body_out, Location=f"/bulk-changes/{started.change_id}")


@app.get("/bulk-changes/<bulk_id>")
def get_bulk_change(bulk_id: str) -> Response:
    query = inputs.BulkQuery.parse(app.current_event.query_string_parameters)
    described = bulk.describe_bulk(
        deps.aws_client("stepfunctions"), deps.bulk_store(), bulk_state_machine_arn(), bulk_id, query
    )
    return json_response(200, described)


@app.get("/agents/<user_id>/presence")
def get_agent_presence(user_id: str) -> Response:
    user_id = inputs.user_id_param(user_id)
    genesys = deps.genesys()
    presence = snapshot(genesys.get_user_presence(user_id))
    body = {"userId": user_id, "presence": presence.to_json(), "etag": presence.etag}
    return json_response(200, body, ETag=presence.etag)


@app.get("/agents/<user_id>/audit")
def get_agent_audit(user_id: str) -> Response:
    user_id = inputs.user_id_param(user_id)
    query = inputs.AuditQuery.parse(app.current_event.query_string_parameters, user_id)
    records, next_token = deps.audit_store().history(
        user_id, since=query.since, until=query.until, limit=query.limit, next_token=query.next_token
    )
    return json_response(200, {"items": [r.to_json() for r in records], "nextToken": next_token})


@app.get("/agents/<user_id>/metrics")
def get_agent_metrics(user_id: str) -> Response:
    return json_response(200, deps.audit_store().agent_metrics(inputs.user_id_param(user_id)).to_json())


@app.get("/agents/<user_id>/timeline")
def get_agent_timeline(user_id: str) -> Response:
    user_id = inputs.user_id_param(user_id)
    request = timeline.TimelineQuery.parse(app.current_event.query_string_parameters)
    day = timeline.agent_timeline(user_id, request, genesys=deps.genesys(), audit=deps.audit_store(), now=deps.now())
    return json_response(200, day.to_json())


@app.get("/management-units/<management_unit_id>/automation")
def get_automation(management_unit_id: str) -> Response:
    unit = management_unit_id_param(management_unit_id)
    return json_response(200, automation.show(automation_store(), unit))


@app.put("/management-units/<management_unit_id>/automation")
def put_automation(management_unit_id: str) -> Response:
    unit = management_unit_id_param(management_unit_id)
    body = json_body()
    stored = automation.put(
        automation_store(), planner_from_env(), deps.genesys(), unit, body, updated_by=requested_by(), now=deps.now()
    )
    logger.info("automation set", extra={"managementUnitId": unit, "enabled": stored["enabled"]})
    return json_response(200, stored)


@app.post("/management-units/<management_unit_id>/automation/plan")
def plan_automation(management_unit_id: str) -> Response:
    unit = management_unit_id_param(management_unit_id)
    return json_response(200, automation.plan(planner_from_env(), unit))


def automation_store() -> AutomationStore:
    return AutomationStore(deps.dynamodb(), deps.settings().agent_table_name)


@app.exception_handler(PresenceManagerError)
def handle_domain_error(error: PresenceManagerError) -> Response:
    logger.info("request refused", extra={"code": error.code, "error": error.message})
    return domain_error_response(error)


@app.not_found
def handle_not_found(_: NotFoundError) -> Response:
    return error_response(404, "not_found", "no such route")


@app.exception_handler(Exception)
def handle_unexpected(error: Exception) -> Response:
    logger.exception("unexpected error")
    return error_response(500, "internal_error", "internal error; see the logs for the request id")
