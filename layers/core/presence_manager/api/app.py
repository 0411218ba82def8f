"""Routes of the REST API (Powertools APIGatewayRestResolver). Handlers parse, call the service, shape output."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from presence_manager import dependencies as deps
from presence_manager.api import changes
from presence_manager.api.errors import domain_error_response, error_response
from presence_manager.errors import InvalidRequest, PresenceManagerError
from presence_manager.observability import logger
from presence_manager.workflow.models import ChangeRequest, parse_change_request

app = APIGatewayRestResolver()


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
    raw = app.current_event.body
    if not raw:
        raise InvalidRequest("the request needs a JSON body", code="invalid_json")
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", code="invalid_json")
    return body


def parse_request(body: dict[str, Any]) -> ChangeRequest:
    if "requestedBy" in body or "revertOf" in body:
        raise InvalidRequest("requestedBy and revertOf are set by the service", code="invalid_request")
    request = parse_change_request({**body, "requestedBy": requested_by()})
    if request.presence is not None:
        deps.genesys().resolve_presence(request.presence)  # an unknown presence is a 400 before anything starts
    return request


def state_machine_arn() -> str:
    arn = deps.settings().state_machine_arn
    if not arn:
        raise RuntimeError("STATE_MACHINE_ARN is not configured")
    return arn


@app.post("/presence-changes")
def start_presence_change() -> Response:
    request = parse_request(json_body())
    started = changes.start_change(
        deps.aws_client("stepfunctions"),
        state_machine_arn(),
        request,
        app.current_event.headers.get("Idempotency-Key") or app.current_event.headers.get("idempotency-key"),
    )
    logger.info("change started", extra={"changeId": started.change_id, "replayed": started.replayed})
    return json_response(202, started.model_dump(by_alias=True), Location=f"/presence-changes/{started.change_id}")


@app.get("/presence-changes/<change_id>")
def get_presence_change(change_id: str) -> Response:
    described = changes.describe_change(
        deps.aws_client("stepfunctions"), deps.audit_store(), state_machine_arn(), change_id
    )
    return json_response(200, described)


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
