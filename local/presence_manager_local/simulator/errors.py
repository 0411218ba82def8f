"""Errors as Genesys Cloud answers them: an ``ErrorBody`` (SDK field names) and an HTTP status."""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """An API error the simulator answers with an ``ErrorBody``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        message_with_params: str | None = None,
        message_params: dict[str, str] | None = None,
        entity_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.message_with_params = message_with_params or message
        self.message_params = message_params or {}
        self.entity_id = entity_id
        self.headers = headers or {}

    def body(self, context_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "code": self.code,
            "status": self.status,
            "messageWithParams": self.message_with_params,
            "messageParams": self.message_params,
            "contextId": context_id,
            "details": self.details,
            "errors": [],
        }
        if self.entity_id is not None:
            body["entityId"] = self.entity_id
        return body


class OAuthError(Exception):
    """An error of the login service (``/oauth/token``), which does not answer an ``ErrorBody``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "description": self.description, "error_description": self.description}


def bad_request(message: str, *, field: str | None = None, entity_id: str | None = None) -> SimError:
    details = [{"errorCode": "bad.request", "fieldName": field}] if field else []
    return SimError(400, "bad.request", message, details=details, entity_id=entity_id)


def not_found(message: str, *, entity_id: str | None = None) -> SimError:
    return SimError(404, "not.found", message, entity_id=entity_id)


def missing_token() -> SimError:
    return SimError(401, "authentication.required", "No authentication bearer token specified in authorization header.")


def bad_credentials() -> SimError:
    return SimError(401, "bad.credentials", "Invalid login credentials.")


def rate_limited(retry_after: int) -> SimError:
    return SimError(
        429,
        "too.many.requests.retry.after",
        f"Rate limit exceeded the maximum. Retry the request in [{retry_after}] seconds",
        message_with_params="Rate limit exceeded the maximum. Retry the request in [{seconds}] seconds",
        message_params={"seconds": str(retry_after)},
        headers={"Retry-After": str(retry_after)},
    )


SERVER_ERROR_CODES = {
    500: (
        "internal.server.error",
        "The server encountered an unexpected condition which prevented it from fulfilling the request.",
    ),
    502: ("bad.gateway", "The server received an invalid response from an upstream server."),
    503: (
        "service.unavailable",
        "Service Unavailable - The server is currently unavailable (because it is overloaded or down for maintenance).",
    ),
    504: ("gateway.timeout", "The request timed out."),
}


def server_error(status: int) -> SimError:
    code, message = SERVER_ERROR_CODES.get(status, ("server.error", f"HTTP {status}"))
    return SimError(status, code, message)
