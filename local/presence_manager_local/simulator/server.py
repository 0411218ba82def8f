"""The Genesys Cloud simulator's HTTP layer: a threaded werkzeug server on loopback.

Login and API share one base URL (``GENESYS_LOGIN_URL = GENESYS_API_URL = handle.url``). API paths are exactly the
SDK's ``resource_path``s; responses are the SDK response types with SDK JSON names; every response carries an
``ININ-Correlation-Id`` header and every API error an ``ErrorBody``. The admin API lives under ``/__sim/`` and needs
no token; see :data:`ADMIN_ENDPOINTS`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from presence_manager_local.simulator.errors import OAuthError, SimError, bad_request, rate_limited, server_error
from presence_manager_local.simulator.faults import FaultSpec
from presence_manager_local.simulator.state import SimulatorState, iso_ms

logger = logging.getLogger(__name__)

CORRELATION_HEADER = "ININ-Correlation-Id"
TOKEN_PATH = "/oauth/token"
DOWNLOADS_PREFIX = "/__sim/downloads/"
#: Genesys's documented limit on request bodies; a larger one is answered 413
MAX_BODY_BYTES = 512_000

# (SDK resource_path, methods, endpoint)
API_ROUTES: list[tuple[str, list[str], str]] = [
    (TOKEN_PATH, ["POST"], "token"),
    ("/__sim/downloads/{downloadId}", ["GET"], "download"),
    ("/api/v2/architect/schedulegroups/{scheduleGroupId}", ["GET"], "schedule_group"),
    ("/api/v2/architect/schedules/{scheduleId}", ["GET"], "architect_schedule"),
    ("/api/v2/presence/definitions", ["GET"], "definitions"),
    ("/api/v2/presence/definitions/{definitionId}", ["GET"], "definition"),
    ("/api/v2/users", ["GET"], "users"),
    ("/api/v2/users/presences/bulk", ["PUT"], "presences_bulk_put"),
    ("/api/v2/users/presences/purecloud/bulk", ["GET"], "presences_bulk_get"),
    ("/api/v2/users/{userId}/presences/purecloud", ["GET", "PATCH"], "presence"),
    ("/api/v2/users/{userId}/routingstatus", ["GET"], "routing_status"),
    ("/api/v2/users/{userId}/routingskills", ["GET"], "skills"),
    ("/api/v2/users/{userId}/routingskills/bulk", ["PATCH"], "skills_bulk"),
    ("/api/v2/users/{userId}/routingskills/{skillId}", ["PUT", "DELETE"], "skill"),
    ("/api/v2/workforcemanagement/adherence", ["GET"], "adherence"),
    ("/api/v2/workforcemanagement/agents/{agentId}/managementunit", ["GET"], "agent_management_unit"),
    ("/api/v2/workforcemanagement/businessunits/{businessUnitId}", ["GET"], "business_unit"),
    ("/api/v2/workforcemanagement/businessunits/{businessUnitId}/activitycodes", ["GET"], "activity_codes"),
    ("/api/v2/workforcemanagement/managementunits", ["GET"], "management_units"),
    (
        "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search",
        ["POST"],
        "schedule_search",
    ),
    ("/api/v2/workforcemanagement/managementunits/{managementUnitId}/users", ["GET"], "management_unit_users"),
]

ADMIN_ENDPOINTS: list[tuple[str, str, str]] = [
    ("GET", "/__sim/state", "the org now: users, presences, routing status, skills, patterns (?users=false: no users)"),
    ("GET", "/__sim/users/{userId}", "one user as in /__sim/state"),
    ("POST", "/__sim/users/{userId}/routingstatus", 'set a routing status, e.g. {"status": "INTERACTING"}'),
    ("POST", "/__sim/users/{userId}/presence", 'the agent changes presence: {"presence": "Away", "message": "…"}'),
    (
        "POST",
        "/__sim/managementunits/{managementUnitId}/activities",
        'put a scheduled activity on agents: {"category": "Break", "startsInMinutes": 2, "lengthMinutes": 15, …}',
    ),
    ("POST", "/__sim/faults", 'inject a fault: {"kind": "rate_limit", "path": "…", "count": 1, …} → 201 {"id"}'),
    ("GET", "/__sim/faults", "active faults"),
    ("DELETE", "/__sim/faults", "clear all faults (DELETE /__sim/faults/{faultId} for one)"),
    ("GET", "/__sim/requests", "log of API and token requests (?since=<index>)"),
    ("POST", "/__sim/reset", 'reload the org, rebuild schedules around now, clear faults/log/tokens ({"agents": N})'),
    ("GET", "/__sim/schedulegroups", "Architect schedule groups (business hours) with their schedules in full"),
    (
        "POST",
        "/__sim/schedulegroups/{scheduleGroupId}",
        'change a schedule group: {"holidaySchedules": [{"name", "start", "end", "rrule"}], …} (lists replace)',
    ),
    ("GET", "/__sim/config", "server settings (PATCH to change rateLimitPerMinute, scheduleInlineMaxUsers, …)"),
    ("POST", "/__sim/tokens/expire", "expire every issued token (the next API call answers 401)"),
]

ADMIN_ROUTES: list[tuple[str, list[str], str]] = [
    ("/__sim", ["GET"], "admin_index"),
    ("/__sim/state", ["GET"], "admin_state"),
    ("/__sim/users/{userId}", ["GET"], "admin_user"),
    ("/__sim/users/{userId}/routingstatus", ["POST"], "admin_routing_status"),
    ("/__sim/users/{userId}/presence", ["POST"], "admin_presence"),
    ("/__sim/managementunits/{managementUnitId}/activities", ["POST"], "admin_activities"),
    ("/__sim/faults", ["GET", "POST", "DELETE"], "admin_faults"),
    ("/__sim/faults/{faultId}", ["DELETE"], "admin_fault"),
    ("/__sim/requests", ["GET"], "admin_requests"),
    ("/__sim/reset", ["POST"], "admin_reset"),
    ("/__sim/config", ["GET", "PATCH"], "admin_config"),
    ("/__sim/schedulegroups", ["GET"], "admin_schedule_groups"),
    ("/__sim/schedulegroups/{scheduleGroupId}", ["POST"], "admin_schedule_group"),
    ("/__sim/tokens/expire", ["POST"], "admin_expire_tokens"),
]


def _rule(template: str, methods: list[str], endpoint: str) -> Rule:
    path = template.replace("{", "<").replace("}", ">")
    return Rule(path, methods=methods, endpoint=(endpoint, template))


URL_MAP = Map(
    [_rule(*route) for route in API_ROUTES + ADMIN_ROUTES],
    strict_slashes=False,
    merge_slashes=False,
)


def _json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body), status=status, content_type="application/json")
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _parse_json(request: Request) -> Any:
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Unable to parse the request body as JSON: {exc}") from exc


def _list_param(request: Request, name: str) -> list[str]:
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise bad_request(f"{name} must be an integer", field=name) from exc


def _bool_param(request: Request, name: str) -> bool:
    return (request.args.get(name) or "").strip().lower() == "true"


def _body_user_ids(request: Request, endpoint: str) -> list[str]:
    """The user ids a bulk request names (for faults with a ``userId``); a body that does not parse names none."""
    if endpoint == "presences_bulk_get" or endpoint == "users":
        return _list_param(request, "id")
    if endpoint == "adherence":
        return _list_param(request, "userId")
    if endpoint not in ("presences_bulk_put", "schedule_search"):
        return []
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        return []
    if endpoint == "presences_bulk_put" and isinstance(body, list):
        return [item["id"] for item in body if isinstance(item, dict) and isinstance(item.get("id"), str)]
    if endpoint == "schedule_search" and isinstance(body, dict) and isinstance(body.get("userIds"), list):
        return [i for i in body["userIds"] if isinstance(i, str)]
    return []


class SimulatorApp:
    """The WSGI application over a :class:`SimulatorState`."""

    def __init__(self, state: SimulatorState, sleep: Callable[[float], None] = time.sleep) -> None:
        self.state = state
        self.sleep = sleep

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        correlation_id = str(uuid.uuid4())
        path = request.path
        if path.startswith("/__sim") and not path.startswith(DOWNLOADS_PREFIX):
            response = self._admin(request)
        else:
            response = self._api(request, correlation_id)
        response.headers[CORRELATION_HEADER] = correlation_id
        return response(environ, start_response)

    # ---- the API --------------------------------------------------------------------------------------------

    def _api(self, request: Request, correlation_id: str) -> Response:
        state = self.state
        started = state.now()
        method, path = request.method.upper(), request.path
        template: str | None = None
        params: dict[str, str] = {}
        user_id: str | None = None
        user_ids: list[str] = []
        faults_applied: list[str] = []
        edit_fault = None
        after_fault = None
        processed_status: int | None = None
        try:
            try:
                (endpoint, template), params = URL_MAP.bind_to_environ(request.environ).match(path, method=method)
            except NotFound as exc:
                raise SimError(404, "not.found", f"HTTP 404 Not Found: {path}") from exc
            except MethodNotAllowed as exc:
                raise SimError(405, "method.not.allowed", f"HTTP 405 Method Not Allowed: {method} {path}") from exc
            if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
                raise SimError(
                    413,
                    "request.entity.too.large",
                    f"The request body exceeds the maximum of {MAX_BODY_BYTES} bytes",
                )
            user_id = params.get("userId") or params.get("agentId")
            user_ids = _body_user_ids(request, endpoint)
            latency = state.faults.take(("latency",), method, path, user_id, user_ids)
            if latency is not None:
                faults_applied.append("latency")
                self.sleep(latency.delay_ms / 1000)
            failure = state.faults.take(("rate_limit", "server_error"), method, path, user_id, user_ids)
            if failure is not None:
                faults_applied.append(failure.kind)
                if failure.kind == "rate_limit":
                    raise rate_limited(failure.retry_after)
                raise server_error(failure.status)
            after_fault = state.faults.take(("server_error_after",), method, path, user_id, user_ids)
            if after_fault is not None:
                faults_applied.append("server_error_after")
            if endpoint == "token":
                response = self._token(request)
            elif endpoint == "download":
                response = _json_response(state.download(params["downloadId"]))
            else:
                token = state.authenticate(request.headers.get("Authorization"))
                state.admit(token)

                def processing_fault(search_user_ids: frozenset[str]) -> bool:
                    fault = state.faults.take(("schedule_processing",), method, path, user_id, search_user_ids)
                    if fault is not None:
                        faults_applied.append("schedule_processing")
                    return fault is not None

                response = self._dispatch(endpoint, request, params, processing_fault=processing_fault)
                if method == "GET" and response.status_code == 200:
                    edit_fault = state.faults.take(("concurrent_edit",), method, path, user_id, user_ids)
        except SimError as error:
            response = _json_response(error.body(correlation_id), error.status, error.headers)
        except OAuthError as error:
            response = _json_response(error.body(), error.status)
        except Exception:  # a simulator bug: answer like Genesys would, keep the trace in the log
            logger.error("simulator error on %s %s\n%s", method, path, traceback.format_exc())
            error = server_error(500)
            response = _json_response(error.body(correlation_id), 500)
        if after_fault is not None:
            processed_status = response.status_code
            error = server_error(after_fault.status)
            response = _json_response(error.body(correlation_id), error.status)
        entry: dict[str, Any] = {
            "time": iso_ms(started),
            "method": method,
            "path": path,
            "route": template,
            "query": request.query_string.decode("latin-1"),
            "status": response.status_code,
            "correlationId": correlation_id,
        }
        if user_id:
            entry["userId"] = user_id
        if user_ids:
            entry["userCount"] = len(user_ids)
        if faults_applied:
            entry["fault"] = faults_applied[-1]
            if len(faults_applied) > 1:
                entry["faults"] = faults_applied
        if processed_status is not None:
            entry["processedStatus"] = processed_status
        state.log_request(entry)
        if edit_fault is not None:
            self._concurrent_edit(edit_fault, user_id, user_ids)
        return response

    def _concurrent_edit(self, fault: Any, user_id: str | None, user_ids: list[str]) -> None:
        """The agent changes presence right after we served the read (``concurrent_edit``)."""
        edited = fault.user_id or user_id or next((u for u in user_ids if u in self.state.users), None)
        if not edited:
            return
        try:
            self.state.agent_sets_presence(edited, fault.presence)
        except (SimError, KeyError):
            logger.warning("concurrent_edit fault %s could not change user %s", fault.id, edited)

    def _token(self, request: Request) -> Response:
        form = {key: request.form.get(key, "") for key in ("grant_type", "client_id", "client_secret")}
        body = self.state.issue_token(request.headers.get("Authorization"), form)
        return _json_response(body)

    def _dispatch(
        self,
        endpoint: str,
        request: Request,
        params: dict[str, str],
        *,
        processing_fault: Callable[[frozenset[str]], bool] | None = None,
    ) -> Response:
        state = self.state
        method = request.method.upper()
        if endpoint == "definitions":
            return _json_response(state.list_definitions(request.args.get("deactivated")))
        if endpoint == "schedule_group":
            return _json_response(state.get_schedule_group(params["scheduleGroupId"]))
        if endpoint == "architect_schedule":
            return _json_response(state.get_architect_schedule(params["scheduleId"]))
        if endpoint == "definition":
            return _json_response(state.get_definition(params["definitionId"]))
        if endpoint == "presences_bulk_put":
            return _json_response(state.put_presences_bulk(_parse_json(request)))
        if endpoint == "presences_bulk_get":
            return _json_response(state.get_presences_bulk(_list_param(request, "id")))
        if endpoint == "users":
            return _json_response(
                state.list_users(
                    _list_param(request, "id"),
                    _list_param(request, "expand"),
                    page_size=_int_param(request, "pageSize", 25),
                    page_number=_int_param(request, "pageNumber", 1),
                    sort_order=request.args.get("sortOrder"),
                    state=request.args.get("state"),
                )
            )
        if endpoint == "adherence":
            return _json_response(state.adherence(_list_param(request, "userId")))
        if endpoint == "presence":
            if method == "PATCH":
                return _json_response(state.patch_presence(params["userId"], _parse_json(request)))
            return _json_response(state.get_presence(params["userId"]))
        if endpoint == "routing_status":
            return _json_response(state.get_routing_status(params["userId"]))
        if endpoint == "skills":
            page_size = _int_param(request, "pageSize", 25)
            page_number = _int_param(request, "pageNumber", 1)
            return _json_response(state.list_skills(params["userId"], page_size, page_number))
        if endpoint == "skills_bulk":
            return _json_response(state.patch_skills_bulk(params["userId"], _parse_json(request)))
        if endpoint == "skill":
            if method == "DELETE":
                state.delete_skill(params["userId"], params["skillId"])
                return Response(status=204)
            return _json_response(state.put_skill(params["userId"], params["skillId"], _parse_json(request)))
        if endpoint == "agent_management_unit":
            return _json_response(state.agent_management_unit(params["agentId"]))
        if endpoint == "business_unit":
            return _json_response(state.business_unit(params["businessUnitId"], _list_param(request, "expand")))
        if endpoint == "activity_codes":
            return _json_response(
                state.activity_codes(
                    params["businessUnitId"],
                    base_url=request.host_url,
                    force_download=_bool_param(request, "forceDownloadService"),
                )
            )
        if endpoint == "management_units":
            return _json_response(state.list_management_units(_list_param(request, "divisionId")))
        if endpoint == "management_unit_users":
            return _json_response(state.management_unit_users(params["managementUnitId"]))
        if endpoint == "schedule_search":
            body = state.search_schedules(
                params["managementUnitId"],
                _parse_json(request),
                base_url=request.host_url,
                force_async=_bool_param(request, "forceAsync"),
                force_download=_bool_param(request, "forceDownloadService"),
                processing_fault=processing_fault,
            )
            return _json_response(body)
        raise SimError(404, "not.found", f"HTTP 404 Not Found: {request.path}")

    # ---- the admin API --------------------------------------------------------------------------------------

    def _admin(self, request: Request) -> Response:
        try:
            (endpoint, _), params = URL_MAP.bind_to_environ(request.environ).match(
                request.path, method=request.method.upper()
            )
        except NotFound:
            return _json_response({"message": f"no admin endpoint {request.path}"}, 404)
        except MethodNotAllowed:
            return _json_response({"message": f"{request.method} not allowed on {request.path}"}, 405)
        try:
            return self._admin_dispatch(endpoint, request, params)
        except SimError as error:
            return _json_response({"message": error.message, "code": error.code}, error.status)
        except (ValidationError, ValueError, KeyError) as error:
            return _json_response({"message": str(error)}, 400)

    def _admin_body(self, request: Request) -> dict[str, Any]:
        try:
            body = _parse_json(request)
        except SimError as error:
            raise ValueError(error.message) from error
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        return body

    def _admin_dispatch(self, endpoint: str, request: Request, params: dict[str, str]) -> Response:
        state = self.state
        method = request.method.upper()
        if endpoint == "admin_index":
            return _json_response({"endpoints": [{"method": m, "path": p, "what": w} for m, p, w in ADMIN_ENDPOINTS]})
        if endpoint == "admin_state":
            return _json_response(state.snapshot(include_users=request.args.get("users", "true").lower() != "false"))
        if endpoint == "admin_user":
            return _json_response(state.user_snapshot(params["userId"]))
        if endpoint == "admin_routing_status":
            status = self._admin_body(request).get("status")
            if not isinstance(status, str):
                raise ValueError('body must be {"status": "<routing status>"}')
            state.set_routing_status(params["userId"], status)
            return _json_response(state.user_snapshot(params["userId"]))
        if endpoint == "admin_presence":
            body = self._admin_body(request)
            presence, message = body.get("presence"), body.get("message")
            if not isinstance(presence, str) or not (message is None or isinstance(message, str)):
                raise ValueError('body must be {"presence": "<id, label or system presence>", "message": "…"}')
            state.agent_sets_presence(params["userId"], presence, message)
            return _json_response(state.user_snapshot(params["userId"]))
        if endpoint == "admin_activities":
            return _json_response(state.add_activity(params["managementUnitId"], self._admin_body(request)), 201)
        if endpoint == "admin_faults":
            if method == "POST":
                fault = state.add_fault(FaultSpec.model_validate(self._admin_body(request)))
                return _json_response({"id": fault.id, "fault": fault.to_json()}, 201)
            if method == "DELETE":
                return _json_response({"cleared": state.clear_faults()})
            return _json_response({"faults": [f.to_json() for f in state.faults.active()]})
        if endpoint == "admin_fault":
            if not state.faults.remove(params["faultId"]):
                return _json_response({"message": f"no fault {params['faultId']}"}, 404)
            return Response(status=204)
        if endpoint == "admin_requests":
            since = request.args.get("since", "0")
            entries = state.requests(int(since) if since.isdigit() else 0)
            return _json_response({"requests": entries, "next": (entries[-1]["index"] + 1) if entries else None})
        if endpoint == "admin_reset":
            body = self._admin_body(request)
            unknown = set(body) - {"agents", "managementUnits"}
            if unknown:
                raise ValueError(f"unknown reset options {sorted(unknown)}")
            if "agents" in body:
                state.reshape(body["agents"], body.get("managementUnits"))
            elif "managementUnits" in body:
                state.reshape(state.agents, body["managementUnits"])
            else:
                state.reset()
            return _json_response(
                {"reset": True, "now": iso_ms(state.now()), "users": len(state.users), "agents": state.agents}
            )
        if endpoint == "admin_config":
            if method == "PATCH":
                body = self._admin_body(request)
                unknown = set(body) - {
                    "rateLimitPerMinute",
                    "scheduleInlineMaxUsers",
                    "tokenLifetimeSeconds",
                    "activityCodesInlineMax",
                }
                if unknown:
                    raise ValueError(f"unknown settings {sorted(unknown)}")
                return _json_response(
                    state.configure(
                        rate_limit_per_minute=body.get("rateLimitPerMinute"),
                        schedule_inline_max_users=body.get("scheduleInlineMaxUsers"),
                        token_lifetime_seconds=body.get("tokenLifetimeSeconds"),
                        activity_codes_inline_max=body.get("activityCodesInlineMax"),
                    )
                )
            return _json_response(state.settings())
        if endpoint == "admin_schedule_groups":
            return _json_response({"scheduleGroups": state.schedule_group_views()})
        if endpoint == "admin_schedule_group":
            return _json_response(state.set_schedule_group(params["scheduleGroupId"], self._admin_body(request)))
        if endpoint == "admin_expire_tokens":
            return _json_response({"expired": state.expire_tokens()})
        return _json_response({"message": f"no admin endpoint {request.path}"}, 404)


# ---- serving ----------------------------------------------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class _VerboseHandler(WSGIRequestHandler):
    pass


@dataclass
class SimulatorHandle:
    """A running simulator: ``url`` (login and API base URL), ``port``, ``state``; ``stop()`` ends it."""

    url: str
    host: str
    port: int
    state: SimulatorState
    client_id: str
    client_secret: str
    _server: BaseWSGIServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.state.events.close()

    def __enter__(self) -> SimulatorHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_simulator(
    host: str = "127.0.0.1",
    port: int = 0,
    fixture: Path | str | None = None,
    rate_limit_per_minute: int = 300,
    now: Callable[[], datetime] | None = None,
    *,
    schedule_inline_max_users: int | None = None,
    activity_codes_inline_max: int | None = None,
    agents: int | None = None,
    management_units: int | None = None,
    verbose: bool = False,
) -> SimulatorHandle:
    """Start the simulator in a daemon thread (``port=0``: any free port) and return its handle. ``agents``: serve an
    org of that many agents generated from the fixture (over ``management_units`` management units; see
    :mod:`.scale`) instead of the fixture's own org."""
    state = SimulatorState(
        fixture,
        now=now,
        rate_limit_per_minute=rate_limit_per_minute,
        schedule_inline_max_users=schedule_inline_max_users,
        activity_codes_inline_max=activity_codes_inline_max,
        agents=agents,
        management_units=management_units,
    )
    server = make_server(
        host,
        port,
        SimulatorApp(state),
        threaded=True,
        request_handler=_VerboseHandler if verbose else _QuietHandler,
    )
    actual_port = server.socket.getsockname()[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"genesys-sim-{actual_port}", daemon=True
    )
    thread.start()
    client = state.fixture.oauth_clients[0]
    return SimulatorHandle(
        url=f"http://{host}:{actual_port}",
        host=host,
        port=actual_port,
        state=state,
        client_id=client.client_id,
        client_secret=client.client_secret,
        _server=server,
        _thread=thread,
    )


def serve_forever(
    port: int = 8787,
    fixture: Path | str | None = None,
    rate_limit: int = 300,
    host: str = "127.0.0.1",
    agents: int | None = None,
    management_units: int | None = None,
) -> None:
    """Run the simulator in the foreground until interrupted (``presence-manager sim [--agents N]``)."""
    handle = start_simulator(
        host=host,
        port=port,
        fixture=fixture,
        rate_limit_per_minute=rate_limit,
        agents=agents,
        management_units=management_units,
        verbose=True,
    )
    state = handle.state
    print(f"Genesys Cloud simulator on {handle.url}")
    print(
        f"  org: {len(state.users)} users, {len(state.management_units)} management units, "
        f"{len(state.business_units)} business units ({', '.join(u.time_zone for u in state.business_units.values())})"
    )
    print(f"  GENESYS_LOGIN_URL=GENESYS_API_URL={handle.url}")
    print(f"  OAuth client: {handle.client_id} / {handle.client_secret}")
    print(f"  rate limit: {rate_limit} requests/minute per token")
    print("  admin endpoints (no auth):")
    for method, path, what in ADMIN_ENDPOINTS:
        print(f"    {method:<6} {handle.url}{path}  {what}")
    print("Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    try:
        while not stop.wait(3600):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
