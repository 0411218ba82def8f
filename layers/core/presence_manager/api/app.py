"""Routes of the REST API (Powertools APIGatewayRestResolver). Handlers parse, call the service, shape output."""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from pydantic import BaseModel, Field, ValidationError

from presence_manager import dependencies as deps
from presence_manager.api import bulk, changes
from presence_manager.api.errors import domain_error_response, error_response
from presence_manager.errors import InvalidRequest, PresenceManagerError
from presence_manager.observability import logger
from presence_manager.timeutil import parse_instant, to_utc_iso
from presence_manager.workflow.bulk import parse_bulk_request
from presence_manager.workflow.models import ChangeRequest, parse_change_request, validation_details
from presence_manager.workflow.validate import snapshot

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


def idempotency_key() -> str | None:
    headers = app.current_event.headers or {}
    return headers.get("Idempotency-Key") or headers.get("idempotency-key")


def parse_user_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidRequest("userId must be a Genesys Cloud user id (a UUID)", code="invalid_user_id") from None


class AuditQuery(BaseModel):
    since: str | None = None
    until: str | None = None
    limit: int = Field(default=50, ge=1, le=100)
    next_token: str | None = None

    @classmethod
    def parse(cls, params: dict[str, str]) -> AuditQuery:
        try:
            return cls(
                since=_utc_param(params.get("from"), "from"),
                until=_utc_param(params.get("to"), "to"),
                limit=params.get("limit", 50),  # type: ignore[arg-type]
                next_token=params.get("nextToken"),
            )
        except ValidationError as exc:
            raise InvalidRequest("invalid query", details=validation_details(exc)) from exc


def _utc_param(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return to_utc_iso(parse_instant(value))
    except ValueError:
        raise InvalidRequest(f"{name} must be an ISO-8601 instant", code="invalid_time") from None


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
    request = parse_request(json_body())
    started = changes.start_change(
        deps.aws_client("stepfunctions"),
        state_machine_arn(),
        request,
        idempotency_key(),
    )
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
    body = json_body()
    if "requestedBy" in body:
        raise InvalidRequest("requestedBy is set by the service", code="invalid_request")
    request = parse_bulk_request({**body, "requestedBy": requested_by()})
    if request.presence is not None:
        deps.genesys().resolve_presence(request.presence)
    started = bulk.start_bulk(deps.aws_client("stepfunctions"), bulk_state_machine_arn(), request, idempotency_key())
    body_out = {"bulkId": started.change_id, "executionArn": started.execution_arn, "status": started.status}
    return json_response(202, body_out, Location=f"/bulk-changes/{started.change_id}")


@app.get("/bulk-changes/<bulk_id>")
def get_bulk_change(bulk_id: str) -> Response:
    described = bulk.describe_bulk(
        deps.aws_client("stepfunctions"), deps.audit_store(), bulk_state_machine_arn(), bulk_id
    )
    return json_response(200, described)


@app.get("/agents/<user_id>/presence")
def get_agent_presence(user_id: str) -> Response:
    user_id = parse_user_id(user_id)
    genesys = deps.genesys()
    presence = snapshot(genesys.get_user_presence(user_id))
    body = {"userId": user_id, "presence": presence.to_json(), "etag": presence.etag}
    return json_response(200, body, ETag=presence.etag)


@app.get("/agents/<user_id>/audit")
def get_agent_audit(user_id: str) -> Response:
    user_id = parse_user_id(user_id)
    query = AuditQuery.parse(app.current_event.query_string_parameters or {})
    records, next_token = deps.audit_store().history(
        user_id, since=query.since, until=query.until, limit=query.limit, next_token=query.next_token
    )
    return json_response(200, {"items": [r.to_json() for r in records], "nextToken": next_token})


@app.get("/agents/<user_id>/metrics")
def get_agent_metrics(user_id: str) -> Response:
    return json_response(200, deps.audit_store().agent_metrics(parse_user_id(user_id)).to_json())


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
