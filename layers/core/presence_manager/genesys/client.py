"""Genesys Cloud API client on httpx: OAuth client credentials, typed errors, bounded retry of idempotent calls.

Endpoints, bodies and response types are those of the official SDK (purecloudplatformclientv2); see
tests/contract for the checks. 429 is never retried here: it surfaces as ``GenesysRateLimited`` so the state machine
waits exactly Retry-After. 5xx and network errors are retried (tenacity, bounded) for idempotent calls only."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlparse

import httpx
from pydantic import BaseModel, TypeAdapter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from presence_manager import __version__
from presence_manager.errors import (
    GenesysBadRequest,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysUnauthorized,
    GenesysUnavailable,
    PresenceDefinitionNotFound,
)
from presence_manager.genesys.auth import TokenProvider
from presence_manager.genesys.models import (
    AgentManagementUnitReference,
    BuAgentSchedulesSearchResponse,
    BuAsyncAgentSchedulesSearchResponse,
    BuSearchAgentSchedulesRequest,
    BusinessUnitActivityCode,
    BusinessUnitActivityCodeListing,
    BusinessUnitResponse,
    EntityRef,
    ErrorBody,
    MutableUserPresence,
    OrganizationPresenceDefinition,
    OrganizationPresenceDefinitionEntityListing,
    PresenceDefinition,
    RoutingStatus,
    UcUserPresence,
    UserPresence,
    UserPresencePatch,
    UserRoutingSkill,
    UserRoutingSkillPost,
    UserSkillEntityListing,
    WfmUserEntityListing,
    normalize_system_presence,
)
from presence_manager.genesys.settings import GenesysSettings, load_credentials
from presence_manager.observability import logger

USER_AGENT = f"genesys-presence-manager/{__version__}"
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
BULK_PRESENCE_READ_MAX = 50
SCHEDULE_SEARCH_ATTEMPTS = 5

Model = TypeVar("Model", bound=BaseModel)


class _Transient(Exception):
    """A 5xx or network failure worth another try (idempotent calls only)."""

    def __init__(self, error: GenesysUnavailable) -> None:
        super().__init__(error.message)
        self.error = error


class GenesysClient:
    def __init__(
        self,
        settings: GenesysSettings,
        *,
        http: httpx.Client | None = None,
        tokens: TokenProvider | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        retry_attempts: int = 3,
        retry_max_wait: float = 2.0,
    ) -> None:
        self._settings = settings
        timeout = httpx.Timeout(settings.timeout_seconds, connect=min(5.0, settings.timeout_seconds))
        self._http = http or httpx.Client(
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        self._api_url = settings.api_url.rstrip("/")
        self._api_host = urlparse(self._api_url).netloc
        if tokens is None:
            client_id, client_secret = load_credentials(settings)
            tokens = TokenProvider(settings.login_url, client_id, client_secret, http=self._http)
        self._tokens = tokens
        self._clock = clock
        self._sleep = sleep
        self._retry_attempts = retry_attempts
        self._retry_max_wait = retry_max_wait
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()

    # ---- transport --------------------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None, idempotent: bool | None
    ) -> httpx.Response:
        retryable = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        attempts = self._retry_attempts if retryable else 1
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait_exponential_jitter(initial=0.2, max=self._retry_max_wait),
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._send_authorized(method, path, json=json, params=params)
        except _Transient as transient:
            raise transient.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _send_authorized(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None) -> httpx.Response:
        response = self._send(method, path, json=json, params=params, token=self._tokens.token())
        if response.status_code == 401:
            self._tokens.invalidate()
            response = self._send(method, path, json=json, params=params, token=self._tokens.token())
            if response.status_code == 401:
                raise self._error(response, GenesysUnauthorized, "Genesys Cloud refused our token twice")
        if response.status_code >= 400:
            raise self._classify(response)
        return response

    def _send(self, method: str, path: str, *, json: Any, params: dict[str, Any] | None, token: str) -> httpx.Response:
        url = path if path.startswith("http") else f"{self._api_url}{path}"
        headers = {"Accept": "application/json"}
        if urlparse(url).netloc == self._api_host:  # never hand our bearer token to another host
            headers["Authorization"] = f"Bearer {token}"
        started = time.perf_counter()
        try:
            response = self._http.request(method, url, json=json, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Transient(GenesysUnavailable(f"{method} {path} timed out", path=path)) from exc
        except httpx.TransportError as exc:
            raise _Transient(GenesysUnavailable(f"{method} {path} failed: {exc}", path=path)) from exc
        logger.debug(
            "genesys call",
            extra={
                "method": method,
                "path": urlparse(url).path,
                "status": response.status_code,
                "latencyMs": round((time.perf_counter() - started) * 1000, 1),
                "correlationId": response.headers.get("ININ-Correlation-Id"),
            },
        )
        if response.status_code in TRANSIENT_STATUSES:
            raise _Transient(
                self._error(response, GenesysUnavailable, f"Genesys Cloud answered {response.status_code}")
            )
        return response

    def _classify(self, response: httpx.Response) -> GenesysError:
        status = response.status_code
        if status == 429:
            return self._error(
                response,
                GenesysRateLimited,
                "Genesys Cloud rate limit (429)",
                retry_after_seconds=self._retry_after(response.headers.get("Retry-After")),
            )
        if status == 404:
            return self._error(response, GenesysNotFound, "not found in Genesys Cloud")
        if status == 403:
            body = self._error_body(response)
            return self._error(
                response,
                GenesysForbidden,
                "the OAuth client lacks a permission",
                missing_permissions=_permissions(body),
            )
        return self._error(response, GenesysBadRequest, f"Genesys Cloud refused the request ({status})")

    def _retry_after(self, header: str | None) -> int:
        cap, default = self._settings.retry_after_cap_seconds, self._settings.retry_after_default_seconds
        if header is None:
            return default
        value = header.strip()
        if value.isdigit():
            return max(0, min(int(value), cap))
        try:
            delta = (parsedate_to_datetime(value) - datetime.now(parsedate_to_datetime(value).tzinfo)).total_seconds()
        except (TypeError, ValueError):
            return default
        return max(0, min(int(delta + 0.999), cap))

    @staticmethod
    def _error_body(response: httpx.Response) -> ErrorBody:
        try:
            return ErrorBody.model_validate(response.json())
        except ValueError:
            return ErrorBody(message=response.text[:500] or None, status=response.status_code)

    def _error(self, response: httpx.Response, error_type: type[GenesysError], summary: str, **kwargs: Any) -> Any:
        body = self._error_body(response)
        message = f"{summary}: {body.message}" if body.message else summary
        return error_type(
            message,
            status=response.status_code,
            error_body=body.to_json(),
            correlation_id=response.headers.get("ININ-Correlation-Id"),
            code=body.code,
            path=response.request.url.path,
            **kwargs,
        )

    def _get(self, path: str, model: type[Model], **params: Any) -> Model:
        return model.model_validate(self._request("GET", path, params=params or None, idempotent=True).json())

    def _cached(self, key: str, ttl: float, load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit and hit[0] > now:
                return hit[1]
        value = load()
        with self._cache_lock:
            self._cache[key] = (now + ttl, value)
        return value

    # ---- presence -----------------------------------------------------------------------------------------------

    def get_presence_definitions(self) -> list[OrganizationPresenceDefinition]:
        """All definitions, deactivated ones included (so they can be refused by name), cached."""

        def load() -> list[OrganizationPresenceDefinition]:
            listing = self._get(
                "/api/v2/presence/definitions", OrganizationPresenceDefinitionEntityListing, deactivated="true"
            )
            return listing.entities

        return self._cached("definitions", self._settings.definitions_cache_seconds, load)

    def resolve_presence(self, name_or_id: str) -> OrganizationPresenceDefinition:
        definitions = self.get_presence_definitions()
        wanted = name_or_id.strip()
        matches = [d for d in definitions if d.id == wanted]
        if not matches:
            folded = wanted.casefold()
            system = normalize_system_presence(wanted)
            matches = [
                d
                for d in definitions
                if folded in {d.label.casefold(), (d.name or "").casefold()}
                or (d.type == "System" and d.system_presence == system)
            ]
        active = [d for d in matches if not d.deactivated]
        if not active:
            if matches:
                raise PresenceDefinitionNotFound(
                    f"presence {name_or_id!r} is deactivated in this org", presence=name_or_id
                )
            names = sorted({d.label for d in definitions if not d.deactivated})
            raise PresenceDefinitionNotFound(
                f"no presence {name_or_id!r} in this org; available: {', '.join(names)}", available=names
            )
        system_first = sorted(active, key=lambda d: d.type != "System")
        if len(system_first) > 1 and system_first[0].type == system_first[1].type:
            raise PresenceDefinitionNotFound(
                f"presence name {name_or_id!r} is ambiguous; use its id", ids=[d.id for d in system_first]
            )
        return system_first[0]

    def get_user_presence(self, user_id: str) -> UserPresence:
        return self._get(f"/api/v2/users/{user_id}/presences/purecloud", UserPresence)

    def patch_user_presence(self, user_id: str, definition_id: str, message: str | None) -> UserPresence:
        body = UserPresencePatch(presence_definition=PresenceDefinition(id=definition_id), message=message)
        response = self._request(
            "PATCH", f"/api/v2/users/{user_id}/presences/purecloud", json=body.to_json(), idempotent=False
        )
        return UserPresence.model_validate(response.json())

    def put_users_presences_bulk(self, items: list[MutableUserPresence]) -> list[UserPresence]:
        response = self._request(
            "PUT", "/api/v2/users/presences/bulk", json=[i.to_json() for i in items], idempotent=True
        )
        return TypeAdapter(list[UserPresence]).validate_python(response.json())

    def get_users_presences_bulk(self, user_ids: Iterable[str]) -> list[UcUserPresence]:
        ids = list(user_ids)
        presences: list[UcUserPresence] = []
        for start in range(0, len(ids), BULK_PRESENCE_READ_MAX):
            chunk = ",".join(ids[start : start + BULK_PRESENCE_READ_MAX])
            response = self._request(
                "GET", "/api/v2/users/presences/purecloud/bulk", params={"id": chunk}, idempotent=True
            )
            presences.extend(TypeAdapter(list[UcUserPresence]).validate_python(response.json()))
        return presences

    # ---- routing ------------------------------------------------------------------------------------------------

    def get_routing_status(self, user_id: str) -> RoutingStatus:
        return self._get(f"/api/v2/users/{user_id}/routingstatus", RoutingStatus)

    def get_user_routing_skills(self, user_id: str) -> list[UserRoutingSkill]:
        skills: list[UserRoutingSkill] = []
        page = 1
        while True:
            listing = self._get(
                f"/api/v2/users/{user_id}/routingskills", UserSkillEntityListing, pageSize=100, pageNumber=page
            )
            skills.extend(listing.entities)
            if not listing.page_count or page >= listing.page_count:
                return skills
            page += 1

    def patch_user_routing_skills_bulk(
        self, user_id: str, skills: list[UserRoutingSkillPost]
    ) -> list[UserRoutingSkill]:
        response = self._request(
            "PATCH", f"/api/v2/users/{user_id}/routingskills/bulk", json=[s.to_json() for s in skills], idempotent=False
        )
        return UserSkillEntityListing.model_validate(response.json()).entities

    def put_user_routing_skill(self, user_id: str, skill: UserRoutingSkill) -> UserRoutingSkill:
        response = self._request(
            "PUT", f"/api/v2/users/{user_id}/routingskills/{skill.id}", json=skill.to_json(), idempotent=True
        )
        return UserRoutingSkill.model_validate(response.json())

    def delete_user_routing_skill(self, user_id: str, skill_id: str) -> None:
        self._request("DELETE", f"/api/v2/users/{user_id}/routingskills/{skill_id}", idempotent=True)

    # ---- workforce management -----------------------------------------------------------------------------------

    def get_agent_management_unit(self, user_id: str) -> AgentManagementUnitReference:
        return self._cached(
            f"mu:{user_id}",
            self._settings.definitions_cache_seconds,
            lambda: self._get(
                f"/api/v2/workforcemanagement/agents/{user_id}/managementunit", AgentManagementUnitReference
            ),
        )

    def get_business_unit(self, business_unit_id: str) -> BusinessUnitResponse:
        return self._get(
            f"/api/v2/workforcemanagement/businessunits/{business_unit_id}",
            BusinessUnitResponse,
            expand="settings.timeZone",
        )

    def get_business_unit_time_zone(self, business_unit_id: str) -> str:
        def load() -> str:
            unit = self.get_business_unit(business_unit_id)
            if not unit.settings or not unit.settings.time_zone:
                raise GenesysBadRequest("the business unit has no time zone", businessUnitId=business_unit_id)
            return unit.settings.time_zone

        return self._cached(f"bu-tz:{business_unit_id}", self._settings.definitions_cache_seconds, load)

    def get_activity_codes(self, business_unit_id: str) -> list[BusinessUnitActivityCode]:
        return self._cached(
            f"codes:{business_unit_id}",
            self._settings.definitions_cache_seconds,
            lambda: (
                self._get(
                    f"/api/v2/workforcemanagement/businessunits/{business_unit_id}/activitycodes",
                    BusinessUnitActivityCodeListing,
                ).entities
            ),
        )

    def get_management_unit_users(self, management_unit_id: str) -> list[EntityRef]:
        return self._get(
            f"/api/v2/workforcemanagement/managementunits/{management_unit_id}/users", WfmUserEntityListing
        ).entities

    def search_agent_schedules(
        self, management_unit_id: str, start: datetime, end: datetime, user_ids: list[str]
    ) -> BuAgentSchedulesSearchResponse:
        """One search for many agents. ``Complete`` answers carry ``result`` inline or a ``downloadUrl``;
        ``Processing`` is searched again a bounded number of times (a search is a read: safe to repeat)."""
        body = BuSearchAgentSchedulesRequest(start_date=start, end_date=end, user_ids=user_ids).to_json()
        path = f"/api/v2/workforcemanagement/managementunits/{management_unit_id}/agentschedules/search"
        for attempt in range(SCHEDULE_SEARCH_ATTEMPTS):
            answer = BuAsyncAgentSchedulesSearchResponse.model_validate(
                self._request("POST", path, json=body, idempotent=True).json()
            )
            if answer.status == "Complete":
                if answer.result is not None:
                    return answer.result
                if answer.download_url:
                    download = self._request("GET", answer.download_url, idempotent=True)
                    return BuAgentSchedulesSearchResponse.model_validate(download.json())
                return BuAgentSchedulesSearchResponse()
            if answer.status != "Processing":
                raise GenesysUnavailable(f"schedule search ended {answer.status}", operationId=answer.operation_id)
            self._sleep(min(0.5 * 2**attempt, 4.0))
        raise GenesysUnavailable("schedule search still Processing", managementUnitId=management_unit_id)


def _permissions(body: ErrorBody) -> list[str]:
    """The permissions a 403 names: ``messageParams`` values, or the ``a:b:c`` words of the message."""
    found: list[str] = []
    for value in (body.message_params or {}).values():
        found.extend(p.strip() for p in str(value).replace(",", " ").split() if p.count(":") >= 2)
    if not found and body.message:
        found = [word.strip(".,;[]()'\"") for word in body.message.split() if word.count(":") >= 2]
    return sorted(set(found))


_shared: GenesysClient | None = None
_shared_lock = threading.Lock()


def client_from_env() -> GenesysClient:
    """One client per warm Lambda (pooled connections, cached token and definitions)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = GenesysClient(GenesysSettings())
        return _shared
