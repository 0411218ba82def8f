"""Everything the API reads from a request, validated before anything is started, read or written.

- the body: at most ``MAX_BODY_BYTES`` (else ``413 request_too_large``), valid UTF-8, JSON without ``NaN``/
  ``Infinity``, an object, nested at most ``MAX_JSON_DEPTH`` deep (else ``400 invalid_json``; a 10,000-level body
  is a 400, never a ``RecursionError``);
- the path and every query parameter: no control, bidirectional or invalid character (``400 invalid_request``
  naming it), every path id in its own format (``invalid_user_id``, ``invalid_change_id``, ``invalid_bulk_id``);
- the audit query: known parameters only, each given once, ``limit`` 1-100, ``from``/``to`` ISO instants
  (``invalid_time``), ``nextToken`` a token this API issued for this agent (``invalid_next_token``);
- ``Idempotency-Key``: 1-255 characters, given once (``invalid_idempotency_key``).

A control character is ``invalid_request`` wherever it is (body field, path, query, header), with the field named.

Each refusal is an ``InvalidRequest`` whose ``details`` are ``[{field, problem}]``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, StringConstraints, ValidationError

from presence_manager.errors import InvalidRequest
from presence_manager.outcomes import Outcome
from presence_manager.timeutil import parse_instant, to_utc_iso
from presence_manager.validation import (
    MAX_JSON_DEPTH,
    UUID_PATTERN,
    GenesysId,
    NoControlCharacters,
    forbidden_character,
    json_depth_exceeds,
)
from presence_manager.workflow.models import validation_details

#: Bound on a request body. A bulk change naming 1,000 agents is ~40 KiB of JSON.
MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY_LENGTH = 255
MAX_QUERY_VALUE_LENGTH = 2048
CHANGE_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")  # an execution name: ours (chg-…) or Scheduler's
#: Ours (``blk-…``), or the execution name EventBridge Scheduler gives a bulk it starts (a UUID): automation's bulks.
BULK_ID = re.compile(
    r"blk-[A-Za-z0-9_-]{1,76}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
PAGE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,1024}={0,2}")
#: An audit sort key: ``<execution start, UTC ISO with milliseconds>#<changeId>`` (ASCII digits only).
SORT_KEY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z#[A-Za-z0-9_-]{1,80}$"


class RequestTooLarge(InvalidRequest):
    """A body over ``MAX_BODY_BYTES``: answered 413 before it is parsed."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message, code="request_too_large", **details)


def problem(field: str, text: str) -> list[dict[str, str]]:
    return [{"field": field, "problem": text}]


def check_text(value: str, field: str, *, code: str = "invalid_request") -> str:
    """The one text rule (``presence_manager.validation``) for what is not a pydantic field: paths, headers."""
    found = forbidden_character(value)
    if found is not None:
        text = f"control, bidirectional or invalid character ({found}) is not allowed"
        raise InvalidRequest(f"{field}: {text}", code=code, details=problem(field, text))
    return value


# ---- body -------------------------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def body_bytes(raw: str | None, *, is_base64: bool) -> bytes:
    """The body as sent (API Gateway base64-encodes binary bodies), refused when over the bound."""
    if not raw:
        return b""
    if is_base64:
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidRequest("the body is not valid base64", code="invalid_json") from exc
    else:
        try:
            data = raw.encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates: bytes that were not UTF-8
            raise InvalidRequest("the body is not valid UTF-8", code="invalid_json") from exc
    if len(data) > MAX_BODY_BYTES:
        raise RequestTooLarge(f"the body is {len(data)} bytes; at most {MAX_BODY_BYTES} are accepted")
    return data


def parse_json_object(raw: str | None, *, is_base64: bool) -> dict[str, Any]:
    data = body_bytes(raw, is_base64=is_base64)
    if not data:
        raise InvalidRequest("the request needs a JSON body", code="invalid_json")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # invalid or overlong sequences
        raise InvalidRequest(f"the body is not valid UTF-8: {exc.reason}", code="invalid_json") from exc
    if "\ufffd" in text:  # where a gateway met invalid UTF-8 it puts U+FFFD
        raise InvalidRequest("the body is not valid UTF-8 (U+FFFD replacement character)", code="invalid_json")
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise InvalidRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels", code="invalid_json") from None
    except ValueError as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object", code="invalid_json")
    if json_depth_exceeds(body):
        raise InvalidRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels", code="invalid_json")
    return body


# ---- path, headers, query ---------------------------------------------------------------------------------------


def check_path(path: str) -> None:
    check_text(path, "path")


def check_query(params: dict[str, str] | None, multi: dict[str, list[str]] | None) -> None:
    for name, value in (params or {}).items():
        check_text(name, "query")
        check_text(value, name)
    for name, values in (multi or {}).items():
        if len(values) > 1:
            raise InvalidRequest(
                f"query parameter {name} is given {len(values)} times", details=problem(name, "given more than once")
            )


def user_id_param(value: str) -> str:
    if UUID_PATTERN.fullmatch(value) is None:
        raise InvalidRequest(
            "userId must be a Genesys Cloud user id (a UUID)",
            code="invalid_user_id",
            details=problem("userId", "not a UUID"),
        )
    return value.lower()


def change_id_param(value: str) -> str:
    if CHANGE_ID.fullmatch(value) is None:
        raise InvalidRequest(
            "changeId is not a change id", code="invalid_change_id", details=problem("changeId", "not a change id")
        )
    return value


def bulk_id_param(value: str) -> str:
    if BULK_ID.fullmatch(value) is None:
        raise InvalidRequest(
            "bulkId is not a bulk change id", code="invalid_bulk_id", details=problem("bulkId", "not a bulk id")
        )
    return value


def idempotency_key(headers: Any, multi: dict[str, list[str]] | None) -> str | None:
    """The ``Idempotency-Key`` header (case-insensitive ``headers``), validated; None when absent."""
    field = "Idempotency-Key"
    given = [v for k, values in (multi or {}).items() if k.lower() == field.lower() for v in values]
    if len(set(given)) > 1:
        raise InvalidRequest(
            f"{field} is given more than once",
            code="invalid_idempotency_key",
            details=problem(field, "given more than once"),
        )
    value = (headers or {}).get(field)
    if value is None:
        return None
    key = check_text(value, field).strip()
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise InvalidRequest(
            f"{field} must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} characters",
            code="invalid_idempotency_key",
            details=problem(field, f"{len(key)} characters"),
        )
    return key


QueryText = Annotated[StrictStr, StringConstraints(max_length=MAX_QUERY_VALUE_LENGTH), NoControlCharacters]
#: A query's whole number as it arrives: up to three digits, nothing else, then an int.
_QueryCount = Annotated[StrictStr, NoControlCharacters, StringConstraints(pattern=r"^[0-9]{1,3}$"), AfterValidator(int)]
PageLimit = Annotated[_QueryCount, Interval(ge=1, le=100)]
#: A bulk's page of agents: 0 asks for the status and counters alone (no agent read: what a progress poll needs).
AgentPageLimit = Annotated[_QueryCount, Interval(ge=0, le=100)]


class PageToken(BaseModel):
    """What ``nextToken`` decodes to: the audit table's key of the last item read (``userId``, ``sk``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    user_id: GenesysId = Field(alias="userId")
    sk: Annotated[StrictStr, NoControlCharacters, StringConstraints(pattern=SORT_KEY)]


def _invalid_token(why: str, details: list[dict[str, Any]] | None = None) -> InvalidRequest:
    return InvalidRequest(
        "nextToken is not a token this API issued",
        code="invalid_next_token",
        details=details or problem("nextToken", why),
    )


def decode_page_token(token: str, user_id: str) -> PageToken:
    """``token`` as issued by ``audit.encode_page_token`` for this agent, else ``invalid_next_token``."""
    if PAGE_TOKEN.fullmatch(token) is None:
        raise _invalid_token("not base64url")
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # binascii.Error, UnicodeDecodeError, JSONDecodeError
        raise _invalid_token("not base64url-encoded JSON") from exc
    try:
        page = PageToken.model_validate(key)
    except ValidationError as exc:
        details = [
            {"field": f"nextToken.{d['field']}" if d["field"] else "nextToken", "problem": d["problem"]}
            for d in validation_details(exc)
        ]
        raise _invalid_token("not a page key", details) from exc
    if page.user_id != user_id:
        raise _invalid_token("issued for another agent")
    return page


def encode_page_token(page: PageToken) -> str:
    """The canonical form of a validated token (what ``audit.decode_page_token`` reads back)."""
    return base64.urlsafe_b64encode(json.dumps({"userId": page.user_id, "sk": page.sk}).encode()).decode()


class AuditQuery(BaseModel):
    """``GET /agents/{userId}/audit``'s query: known parameters only."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    since: QueryText | None = Field(default=None, alias="from")
    until: QueryText | None = Field(default=None, alias="to")
    limit: PageLimit = 50
    next_token: QueryText | None = Field(default=None, alias="nextToken")

    @classmethod
    def parse(cls, params: dict[str, str] | None, user_id: str) -> AuditQuery:
        try:
            query = cls.model_validate(params or {})
        except ValidationError as exc:
            raise InvalidRequest("invalid query", details=validation_details(exc)) from exc
        since, until = _utc(query.since, "from"), _utc(query.until, "to")
        token = None
        if query.next_token is not None:
            page = decode_page_token(query.next_token, user_id)
            # DynamoDB refuses a start key outside the query's range (a 500): a token from another window is a 400.
            if (since and page.sk < since) or (until and page.sk > f"{until}#\uffff"):
                raise _invalid_token("issued for another from/to window")
            token = encode_page_token(page)
        return query.model_copy(update={"since": since, "until": until, "next_token": token})


def _utc(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        return to_utc_iso(parse_instant(value))
    except (ValueError, OverflowError):
        raise InvalidRequest(
            f"{name} must be an ISO-8601 instant with an offset",
            code="invalid_time",
            details=problem(name, "not an ISO-8601 instant"),
        ) from None


class BulkQuery(BaseModel):
    """``GET /bulk-changes/{bulkId}``'s query: a page of agents (``limit``, ``nextToken``), optionally of one
    ``outcome``; ``limit=0``: the status and counters only."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    limit: AgentPageLimit = 100
    next_token: QueryText | None = Field(default=None, alias="nextToken")
    outcome: Outcome | None = None

    @classmethod
    def parse(cls, params: dict[str, str] | None) -> BulkQuery:
        try:
            return cls.model_validate(params or {})
        except ValidationError as exc:
            raise InvalidRequest("invalid query", details=validation_details(exc)) from exc
