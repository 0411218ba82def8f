"""Domain errors → HTTP answers: ``{"error": {"code", "message", "details"}}``, one place for all routes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from presence_manager.api.inputs import RequestTooLarge
from presence_manager.errors import (
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysUnavailable,
    InvalidRequest,
    PresenceDefinitionNotFound,
    PresenceManagerError,
)

STATUS_BY_ERROR: list[tuple[type[PresenceManagerError], int]] = [
    (RequestTooLarge, 413),
    (InvalidRequest, 400),
    (PresenceDefinitionNotFound, 400),
    (GenesysNotFound, 404),
    (GenesysRateLimited, 503),
    (GenesysUnavailable, 503),
    (GenesysForbidden, 502),
]


def error_response(status: int, code: str, message: str, details: Any = None, **headers: str) -> Response:
    body = {"error": {"code": code, "message": message, "details": details}}
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers=headers or None,
    )


def status_for(error: PresenceManagerError) -> int:
    from presence_manager.api.changes import ChangeNotFound, IdempotencyConflict

    if isinstance(error, ChangeNotFound):
        return 404
    if isinstance(error, IdempotencyConflict):
        return 409
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(error, error_type):
            return status
    return 500


def domain_error_response(error: PresenceManagerError) -> Response:
    status = status_for(error)
    headers: dict[str, str] = {}
    if isinstance(error, GenesysRateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    details = error.details.get("details", error.details or None)
    return error_response(status, error.code, error.message, details, **headers)
