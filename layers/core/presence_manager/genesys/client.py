"""Genesys Cloud API client on httpx: OAuth client credentials, typed errors, bounded retry where it is safe.

Endpoints, bodies and response types are those of the official SDK (purecloudplatformclientv2); see
tests/contract for the checks.

Reads and writes
    Every call says what it is (``CallKind``). A *read* (GET, and the schedule-search POST, which only reads) is
    safe to repeat: 5xx answers, timeouts and network errors are retried (tenacity, bounded, see below) and end as
    ``GenesysUnavailable``. A *write* (PATCH, PUT, DELETE, any other POST) is repeated only when the request provably
    never left this process (``httpx.ConnectError``, ``ConnectTimeout``, ``PoolTimeout``), ending as
    ``GenesysUnavailable``. Once it may have been sent and its answer was lost (read/write timeout, a broken
    connection, or any 5xx answer) it is never repeated here: ``GenesysWriteUnconfirmed`` at once, carrying
    ``method``, ``path``, ``status`` and ``retryAfterSeconds`` (``WRITE_SETTLE_SECONDS``) so that the writer keeps its
    lease, waits, re-reads and reconciles. 429 is never retried here: it surfaces as ``GenesysRateLimited`` so the
    state machine waits exactly Retry-After (also for the token endpoint). A 401 is answered once with a new token
    (a 401 was not applied, so repeating a write after it is safe).

Time budget (the Lambda functions time out after 30 s)
    ``GENESYS_TIMEOUT_SECONDS`` = 8 s per HTTP request (connect at most 5 s of it), 3 attempts, exponential back-off
    with jitter of at most 2 s between attempts: 3 x 8 s + 2 x 2 s = 28 s < 30 s even without a deadline. On top,
    each call has a total deadline, ``GENESYS_CALL_BUDGET_SECONDS`` = 20 s: tenacity stops at the first of
    ``stop_after_attempt(3)`` and the deadline, and no attempt starts that could not get a full per-request timeout
    before the deadline (8 + 2 + 8 = 18 s <= 20 s allows a second slow attempt; 18 + 2 + 8 > 20 s never a third).
    Every request's timeout (and a token fetch's) is also cut to what is left of the budget, so one call never
    outlives 20 s, leaving the function 10 s for everything else. The deadline runs on the injected ``clock``
    (tenacity's own ``stop_after_delay`` reads ``time.monotonic`` and cannot be tested without real sleeping).

Untrusted input in URLs
    Every id that goes into a URL path, and every id of a bulk ``id=a,b`` query, goes through ``path_segment``:
    Genesys ids are UUIDs, so ``[A-Za-z0-9][A-Za-z0-9._-]{0,127}`` is accepted and anything else (``..``, ``/``, ``%``,
    ``?``, ``#``, whitespace, control characters) is ``InvalidRequest(code="invalid_path_segment", field=...)`` before
    any request; accepted segments are percent-encoded all the same. A ``downloadUrl`` is followed only to the API
    host, a host of the API's environment domain or a ``GENESYS_DOWNLOAD_HOSTS`` host, over https (or the API's own
    http loopback origin, i.e. the simulator); the bearer token only ever goes to the API host.

One token and one rate budget for the deployment
    In a deployment (``client_from_env`` with ``AGENT_TABLE_NAME`` set) every Lambda draws from one ``RateBudget``
    (budget.py: a token bucket in the agent table) and, with ``GENESYS_TOKEN_KMS_KEY_ID`` set, uses one
    ``SharedTokenStore`` token (token_store.py). Every request to the API origin - each attempt, each retry, the
    repeat after a 401, a ``downloadUrl`` on the API host - pays one call from the budget right before it is sent
    (after its token is in hand, so that it leaves within the budget's ``spend_within_seconds``). An empty budget is
    ``GenesysRateLimited(retryAfterSeconds)`` with nothing sent - the same error, and the same Wait in the state
    machine, as a real 429 - and ``GenesysUnavailable`` when the budget's table cannot be reached (nothing sent
    either). A real 429 from the API holds the budget until its Retry-After has passed (``back_off``), so the other
    Lambdas wait it out without drawing 429s of their own. ``reserved(calls)`` lets a step reserve what it is about
    to make in one update (one wait for all of them, rather than a refusal half-way).
    Not paid from the budget: the token endpoint (the budget is the per-token API limit, counting requests made with
    a token; logins are limited separately and the shared token keeps them to one per token lifetime - see auth.py),
    and a ``downloadUrl`` on another host (no bearer token, not the API). A token-endpoint 429 leaves the budget
    alone."""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, TypeAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from presence_manager import __version__
from presence_manager.errors import (
    GenesysBadRequest,
    GenesysError,
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysScheduleProcessing,
    GenesysUnauthorized,
    GenesysUnavailable,
    GenesysWriteUnconfirmed,
    InvalidRequest,
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
    ManagementUnit,
    ManagementUnitListing,
    MutableUserPresence,
    OrganizationPresenceDefinition,
    OrganizationPresenceDefinitionEntityListing,
    PresenceDefinition,
    RoutingStatus,
    RoutingStatusValue,
    Schedule,
    ScheduleGroup,
    UcUserPresence,
    UserEntityListing,
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

if TYPE_CHECKING:
    from presence_manager.genesys.budget import RateBudget
    from presence_manager.genesys.token_store import SharedTokenStore

USER_AGENT = f"genesys-presence-manager/{__version__}"
#: 5xx answers worth another try of a read (a write's 5xx is never retried: it may have been applied).
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
#: Failures where the request provably never left this process: safe to repeat, even for a write.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: GET /api/v2/users/presences/purecloud/bulk takes at most 50 ids; PUT /api/v2/users/presences/bulk is sent in
#: batches of 50 as well (it has no documented maximum; 50 keeps every body far below the 512,000-byte limit).
BULK_PRESENCE_READ_MAX = 50
BULK_PRESENCE_WRITE_MAX = 50
#: GET /api/v2/users?id=...: the SDK documents no maximum for ``id``; 100 is the most users the same endpoint
#: returns in its other bulk mode (``integrationPresenceSource``) and what the adherence GET accepts, and one page
#: of 100 fits ``pageSize``, so one request answers a whole chunk.
BULK_USERS_READ_MAX = 100
CONNECT_TIMEOUT_MAX_SECONDS = 5.0
MIN_ATTEMPT_SECONDS = 0.05

#: Genesys ids are UUIDs; this is looser (ids of other shapes in tests and the simulator) yet can never form a path
#: traversal, an encoded character, a query or a fragment.
PATH_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
LOOPBACK_HOSTS = frozenset({"localhost"})

Model = TypeVar("Model", bound=BaseModel)


class CallKind(Enum):
    """What a call does to Genesys, which decides what may be repeated after a failure."""

    READ = "read"  # changes nothing (GET, and the schedule search POST): safe to repeat
    WRITE = "write"  # changes something: repeated only when provably never sent


READ = CallKind.READ
WRITE = CallKind.WRITE


class _Retryable(Exception):
    """A failure worth another attempt: any 5xx or network failure of a read; a write that never left."""

    def __init__(self, error: GenesysError) -> None:
        super().__init__(error.message)
        self.error = error


class _stop_before_deadline(stop_base):
    """Stop when the next attempt, after its back-off, could not get a full request timeout before the deadline."""

    def __init__(self, clock: Callable[[], float], deadline: float, attempt_seconds: float) -> None:
        self._clock = clock
        self._deadline = deadline
        self._attempt_seconds = attempt_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock() + retry_state.upcoming_sleep + self._attempt_seconds > self._deadline


def path_segment(value: object, field: str) -> str:
    """The one gate for anything placed in a URL path or a bulk ``id=`` query: validated, then percent-encoded."""
    if not isinstance(value, str) or not PATH_SEGMENT.fullmatch(value) or value in {".", ".."}:
        shown = value[:80] if isinstance(value, str) else type(value).__name__
        raise InvalidRequest(
            f"{field} is not a valid Genesys Cloud id: {shown!r}",
            code="invalid_path_segment",
            field=field,
        )
    return quote(value, safe="")


def _unique_ids(user_ids: Iterable[str], field: str) -> list[str]:
    """Validated ids, duplicates dropped, order kept (all validated before any request)."""
    seen: dict[str, None] = {}
    for user_id in user_ids:
        seen.setdefault(path_segment(user_id, field), None)
    return list(seen)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        budget: RateBudget | None = None,
        token_store: SharedTokenStore | None = None,
    ) -> None:
        """``budget``: the deployment's rate budget every API request pays from (``None``: none kept here).
        ``token_store``: the deployment's shared token, used by the provider this client builds (with ``tokens``
        given, that provider decides)."""
        self._settings = settings
        self._budget = budget
        self._http = http or httpx.Client(
            timeout=self._timeout(settings.timeout_seconds),
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )
        self._api_url = settings.api_url.rstrip("/")
        api = urlsplit(self._api_url)
        self._api_scheme = api.scheme.lower()
        self._api_origin = (api.scheme.lower(), api.netloc.lower())
        self._api_host = (api.hostname or "").lower()
        self._api_domain = self._api_host.removeprefix("api.") if self._api_host.startswith("api.") else None
        if tokens is None:
            client_id, client_secret = load_credentials(settings)
            tokens = TokenProvider(
                settings.login_url,
                client_id,
                client_secret,
                http=self._http,
                retry_after=settings.retry_after_seconds,
                store=token_store,
            )
        self._tokens = tokens
        self._clock = clock
        self._sleep = sleep
        self._retry_attempts = retry_attempts
        self._retry_max_wait = retry_max_wait
        self._cache: dict[str, tuple[float, Any]] = {}
        self._cache_lock = threading.Lock()

    # ---- URLs ---------------------------------------------------------------------------------------------------

    @staticmethod
    def _path(template: str, **segments: object) -> str:
        """``template`` with each ``{name}`` replaced by ``path_segment(value, name)``: the only way ids enter paths."""
        return template.format_map({name: path_segment(value, name) for name, value in segments.items()})

    def _download_url(self, url: str) -> str:
        """A ``downloadUrl`` we may follow, or ``GenesysBadRequest`` without any request."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower().rstrip(".")
            port = parts.port
        except ValueError as exc:
            raise GenesysBadRequest(f"refusing downloadUrl {url[:200]!r}: not a URL", downloadUrl=url[:200]) from exc
        scheme = parts.scheme.lower()
        own_origin = (scheme, parts.netloc.lower()) == self._api_origin
        if parts.username is not None or parts.password is not None:
            reason = "it carries credentials"
        elif self._api_scheme == "http" and _is_loopback(self._api_host) and own_origin:
            return url  # the simulator: the API's own loopback origin
        elif scheme != "https":
            reason = "only https downloads are followed"
        elif port not in (None, 443) and not own_origin:
            reason = "unexpected port"
        elif not (
            host == self._api_host
            or (self._api_domain and host.endswith(f".{self._api_domain}"))
            or host in self._settings.download_hosts
        ):
            reason = "the host is neither the API's, its environment's, nor in GENESYS_DOWNLOAD_HOSTS"
        else:
            return url
        raise GenesysBadRequest(f"refusing downloadUrl {url[:200]!r}: {reason}", downloadUrl=url[:200])

    # ---- transport --------------------------------------------------------------------------------------------

    @staticmethod
    def _timeout(seconds: float) -> httpx.Timeout:
        return httpx.Timeout(seconds, connect=min(CONNECT_TIMEOUT_MAX_SECONDS, seconds))

    def _request(
        self,
        method: str,
        path_or_url: str,
        *,
        kind: CallKind,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        deadline = self._clock() + self._settings.call_budget_seconds
        retrying = Retrying(
            stop=stop_any(
                stop_after_attempt(self._retry_attempts),
                _stop_before_deadline(self._clock, deadline, self._settings.timeout_seconds),
            ),
            wait=wait_exponential_jitter(initial=0.2, max=self._retry_max_wait),
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(method, path_or_url, kind=kind, json=json, params=params, deadline=deadline)
        except _Retryable as retryable:
            raise retryable.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self,
        method: str,
        path_or_url: str,
        *,
        kind: CallKind,
        json: Any,
        params: dict[str, Any] | None,
        deadline: float,
    ) -> httpx.Response:
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self._api_url}{path_or_url}"
        path = urlsplit(url).path
        try:
            response = self._send(method, url, json=json, params=params, deadline=deadline)
            if response.status_code == 401:
                # A 401 was not applied: repeating it, even a write, is safe. The token it carried is rejected
                # (for the whole deployment when it is the shared one), the repeat carries a fresh one.
                self._tokens.invalidate(_bearer(response.request))
                response = self._send(method, url, json=json, params=params, deadline=deadline)
                if response.status_code == 401:
                    raise self._error(response, GenesysUnauthorized, "Genesys Cloud refused our token twice")
        except httpx.TransportError as exc:
            timed_out = isinstance(exc, httpx.TimeoutException)
            what = "timed out" if timed_out else f"failed ({type(exc).__name__})"
            if isinstance(exc, NOT_SENT_ERRORS):
                raise _Retryable(
                    GenesysUnavailable(f"{method} {path} {what} before it was sent", method=method, path=path)
                ) from exc
            if kind is READ:
                raise _Retryable(GenesysUnavailable(f"{method} {path} {what}", method=method, path=path)) from exc
            raise GenesysWriteUnconfirmed(
                f"{method} {path} {what} after it was sent: it may still land",
                method=method,
                path=path,
                retryAfterSeconds=self._settings.write_settle_seconds,
            ) from exc
        status = response.status_code
        if status >= 500:
            if kind is WRITE:
                raise self._error(
                    response,
                    GenesysWriteUnconfirmed,
                    f"Genesys Cloud answered {status} to {method}: the write may still land",
                    method=method,
                    retryAfterSeconds=self._settings.write_settle_seconds,
                )
            error = self._error(response, GenesysUnavailable, f"Genesys Cloud answered {status}", method=method)
            if status in TRANSIENT_STATUSES:
                raise _Retryable(error)
            raise error
        if status >= 400:
            error = self._classify(response)
            if isinstance(error, GenesysRateLimited) and self._budget is not None and self._is_api(url):
                self._budget.back_off(error.retry_after_seconds)  # every Lambda waits it out, not only this one
            raise error
        return response

    def _send(
        self, method: str, url: str, *, json: Any, params: dict[str, Any] | None, deadline: float
    ) -> httpx.Response:
        """One HTTP exchange, its timeouts cut to what is left of the call's budget."""
        headers = {"Accept": "application/json"}
        parts = urlsplit(url)
        if self._is_api(url):  # our bearer token: the API host only
            token = self._tokens.token(timeout=self._time_left(method, parts.path, deadline))
            headers["Authorization"] = f"Bearer {token}"
            if self._budget is not None:
                # Paid right before sending, the token in hand: empty -> GenesysRateLimited, nothing sent.
                self._budget.spend()
        started = time.perf_counter()
        response = self._http.request(
            method,
            url,
            json=json,
            params=params,
            headers=headers,
            timeout=self._timeout(self._time_left(method, parts.path, deadline)),
        )
        logger.debug(
            "genesys call",
            extra={
                "method": method,
                "path": parts.path,
                "status": response.status_code,
                "latencyMs": round((time.perf_counter() - started) * 1000, 1),
                "correlationId": response.headers.get("ININ-Correlation-Id"),
            },
        )
        return response

    def _is_api(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.netloc.lower()) == self._api_origin

    # ---- the deployment's rate budget ---------------------------------------------------------------------------

    @property
    def budget(self) -> RateBudget | None:
        """The deployment's rate budget this client pays from, if any."""
        return self._budget

    @contextmanager
    def reserved(self, calls: int, *, resume_calls: int = 0) -> Iterator[None]:
        """Reserve ``calls`` Genesys calls up front for the block (one conditional update), so that a step either
        gets what it is about to make or waits once (``GenesysRateLimited``, nothing reserved, nothing sent) - never
        a refusal half-way through its calls. The block's API requests draw from the reservation (more than
        reserved: paid one by one); what is left is given back when the block ends, exception or not.

        Reserve only what the block sends within the budget's ``spend_within_seconds`` (5 s): the budget's
        guarantee assumes a reserved call leaves that soon. A reservation is capped at the budget's burst (30 at
        300/minute); calls above it are paid as they are made. Without a budget this does nothing.
        ``resume_calls``: what the steps run again after a refusal spend first (see ``RateBudget.reservation``)."""
        if self._budget is None or calls <= 0:
            yield
            return
        with self._budget.reservation(min(calls, self._budget.burst), resume_calls=resume_calls):
            yield

    def calls_in_step(self) -> int:
        """The Genesys calls made so far inside the innermost ``reserved`` block (0 without a budget)."""
        return self._budget.spent_in_block() if self._budget is not None else 0

    def _time_left(self, method: str, path: str, deadline: float) -> float:
        """The timeout of the next exchange: the per-request timeout, cut to what is left of the call's budget.
        Nothing left: unavailable before anything is sent (and no further attempt: the deadline has passed)."""
        left = min(self._settings.timeout_seconds, deadline - self._clock())
        if left < MIN_ATTEMPT_SECONDS:
            raise _Retryable(
                GenesysUnavailable(
                    f"{method} {path} not sent: the call budget of {self._settings.call_budget_seconds:g} s is spent",
                    method=method,
                    path=path,
                )
            )
        return left

    def _classify(self, response: httpx.Response) -> GenesysError:
        status = response.status_code
        if status == 429:
            return self._error(
                response,
                GenesysRateLimited,
                "Genesys Cloud rate limit (429)",
                retry_after_seconds=self._settings.retry_after_seconds(response.headers.get("Retry-After")),
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
        return model.model_validate(self._request("GET", path, kind=READ, params=params or None).json())

    def _download(self, url: str) -> Any:
        """GET a ``downloadUrl`` (a read) after checking where it points."""
        return self._request("GET", self._download_url(url), kind=READ).json()

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
        return self._get(self._path("/api/v2/users/{userId}/presences/purecloud", userId=user_id), UserPresence)

    def patch_user_presence(self, user_id: str, definition_id: str, message: str | None) -> UserPresence:
        path = self._path("/api/v2/users/{userId}/presences/purecloud", userId=user_id)
        body = UserPresencePatch(presence_definition=PresenceDefinition(id=definition_id), message=message)
        response = self._request("PATCH", path, kind=WRITE, json=body.to_json())
        return UserPresence.model_validate(response.json())

    def put_users_presences_bulk(self, items: list[MutableUserPresence]) -> list[UserPresence]:
        """Writes in batches of 50, in order. A batch that fails stops the rest; batches before it were applied
        (``GenesysWriteUnconfirmed`` means that batch may have been, too)."""
        adapter = TypeAdapter(list[UserPresence])
        written: list[UserPresence] = []
        for start in range(0, len(items), BULK_PRESENCE_WRITE_MAX):
            batch = [item.to_json() for item in items[start : start + BULK_PRESENCE_WRITE_MAX]]
            response = self._request("PUT", "/api/v2/users/presences/bulk", kind=WRITE, json=batch)
            written.extend(adapter.validate_python(response.json()))
        return written

    def get_users_presences_bulk(self, user_ids: Iterable[str]) -> list[UcUserPresence]:
        ids = _unique_ids(user_ids, "userId")
        adapter = TypeAdapter(list[UcUserPresence])
        presences: list[UcUserPresence] = []
        for start in range(0, len(ids), BULK_PRESENCE_READ_MAX):
            chunk = ",".join(ids[start : start + BULK_PRESENCE_READ_MAX])
            response = self._request("GET", "/api/v2/users/presences/purecloud/bulk", kind=READ, params={"id": chunk})
            presences.extend(adapter.validate_python(response.json()))
        return presences

    # ---- routing ------------------------------------------------------------------------------------------------

    def get_routing_status(self, user_id: str) -> RoutingStatus:
        return self._get(self._path("/api/v2/users/{userId}/routingstatus", userId=user_id), RoutingStatus)

    def get_users_routing_status(self, user_ids: Iterable[str]) -> dict[str, RoutingStatusValue]:
        """Routing status of many users: ``GET /api/v2/users?id=...&expand=routingStatus``, 100 ids per request.

        Why not ``GET /api/v2/workforcemanagement/adherence?userId=...`` (also <= 100 users, also carries
        ``routingStatus``): it needs one more permission on our OAuth client (``wfm:realtimeAdherence:view``) and
        answers only for agents scheduled in WFM, while a change may target any agent (Offline for an agent outside
        WFM must work). ``UsersApi.get_users`` covers every user with the directory read our client already has.
        Its ``expand`` is "best effort" (SDK docstring): a user listed without ``routingStatus`` is read with
        ``GET /api/v2/users/{userId}/routingstatus``. A user Genesys does not list (unknown id) is left out of the
        result rather than guessed (that single GET answers OFF_QUEUE even for an unknown user)."""
        ids = _unique_ids(user_ids, "userId")
        statuses: dict[str, RoutingStatusValue] = {}
        unexpanded: list[str] = []
        for start in range(0, len(ids), BULK_USERS_READ_MAX):
            chunk = ids[start : start + BULK_USERS_READ_MAX]
            listing = self._get(
                "/api/v2/users",
                UserEntityListing,
                id=",".join(chunk),
                expand="routingStatus",
                pageSize=len(chunk),
                pageNumber=1,
            )
            wanted = set(chunk)
            for user in listing.entities:
                if user.id not in wanted:
                    continue
                if user.routing_status is not None:
                    statuses[user.id] = user.routing_status.status
                else:
                    unexpanded.append(user.id)
        for user_id in unexpanded:
            statuses[user_id] = self.get_routing_status(user_id).status
        return statuses

    def get_user_routing_skills(self, user_id: str) -> list[UserRoutingSkill]:
        path = self._path("/api/v2/users/{userId}/routingskills", userId=user_id)
        skills: list[UserRoutingSkill] = []
        page = 1
        while True:
            listing = self._get(path, UserSkillEntityListing, pageSize=100, pageNumber=page)
            skills.extend(listing.entities)
            if not listing.page_count or page >= listing.page_count:
                return skills
            page += 1

    def patch_user_routing_skills_bulk(
        self, user_id: str, skills: list[UserRoutingSkillPost]
    ) -> list[UserRoutingSkill]:
        path = self._path("/api/v2/users/{userId}/routingskills/bulk", userId=user_id)
        response = self._request("PATCH", path, kind=WRITE, json=[s.to_json() for s in skills])
        return UserSkillEntityListing.model_validate(response.json()).entities

    def put_user_routing_skill(self, user_id: str, skill: UserRoutingSkill) -> UserRoutingSkill:
        path = self._path("/api/v2/users/{userId}/routingskills/{skillId}", userId=user_id, skillId=skill.id)
        response = self._request("PUT", path, kind=WRITE, json=skill.to_json())
        return UserRoutingSkill.model_validate(response.json())

    def delete_user_routing_skill(self, user_id: str, skill_id: str) -> None:
        path = self._path("/api/v2/users/{userId}/routingskills/{skillId}", userId=user_id, skillId=skill_id)
        self._request("DELETE", path, kind=WRITE)

    # ---- architect ----------------------------------------------------------------------------------------------

    def get_schedule_group(self, schedule_group_id: str) -> ScheduleGroup:
        """An Architect schedule group (its time zone and the references of its open, closed and holiday
        schedules), cached for ``definitions_cache_seconds``: an edit in Genesys is seen within that time."""
        path = self._path("/api/v2/architect/schedulegroups/{scheduleGroupId}", scheduleGroupId=schedule_group_id)
        return self._cached(
            f"schedule-group:{schedule_group_id}",
            self._settings.definitions_cache_seconds,
            lambda: self._get(path, ScheduleGroup),
        )

    def get_schedule(self, schedule_id: str) -> Schedule:
        """An Architect schedule (local ``start``/``end`` and ``rrule``), cached like its group."""
        path = self._path("/api/v2/architect/schedules/{scheduleId}", scheduleId=schedule_id)
        return self._cached(
            f"schedule:{schedule_id}", self._settings.definitions_cache_seconds, lambda: self._get(path, Schedule)
        )

    # ---- workforce management -----------------------------------------------------------------------------------

    def get_agent_management_unit(self, user_id: str) -> AgentManagementUnitReference:
        path = self._path("/api/v2/workforcemanagement/agents/{agentId}/managementunit", agentId=user_id)
        return self._cached(
            f"mu:{user_id}",
            self._settings.definitions_cache_seconds,
            lambda: self._get(path, AgentManagementUnitReference),
        )

    def get_business_unit(self, business_unit_id: str) -> BusinessUnitResponse:
        return self._get(
            self._path("/api/v2/workforcemanagement/businessunits/{businessUnitId}", businessUnitId=business_unit_id),
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
        """The business unit's activity codes; a listing with empty ``entities`` and a ``downloadUrl`` is followed."""
        path = self._path(
            "/api/v2/workforcemanagement/businessunits/{businessUnitId}/activitycodes", businessUnitId=business_unit_id
        )

        def load() -> list[BusinessUnitActivityCode]:
            listing = self._get(path, BusinessUnitActivityCodeListing)
            if listing.entities or not listing.download_url:
                return listing.entities
            downloaded = self._download(listing.download_url)
            if isinstance(downloaded, list):
                return TypeAdapter(list[BusinessUnitActivityCode]).validate_python(downloaded)
            return BusinessUnitActivityCodeListing.model_validate(downloaded).entities

        return self._cached(f"codes:{business_unit_id}", self._settings.definitions_cache_seconds, load)

    def get_management_unit_users(self, management_unit_id: str) -> list[EntityRef]:
        path = self._path(
            "/api/v2/workforcemanagement/managementunits/{managementUnitId}/users", managementUnitId=management_unit_id
        )
        return self._get(path, WfmUserEntityListing).entities

    def get_management_units(self) -> list[ManagementUnit]:
        """Every management unit of the org, each with its business unit, in one call (the SDK's paging
        parameters for this listing are deprecated: "paging is not supported"), cached."""
        units = self._cached(
            "management-units",
            self._settings.definitions_cache_seconds,
            lambda: self._get("/api/v2/workforcemanagement/managementunits", ManagementUnitListing).entities,
        )
        return list(units)  # the caller's own list: the cached one stays whole

    def agent_directory(self) -> dict[str, AgentManagementUnitReference]:
        """Every WFM agent's management unit and business unit, by user id, cached: one call for the units and one
        per unit for its members (``1 + units`` calls for the whole org, never one per agent), so a bulk change over
        a list of user ids can be grouped by management unit. An agent missing here is in no management unit, or
        joined one after the cache was filled, or is in a unit left out below: a caller that must know asks
        ``get_agent_management_unit`` for that agent (its 404 means "not in WFM").

        Left out: a unit listed without a ``businessUnit`` (it cannot place its agents), and a unit deleted between
        the listing and the read of its members (404). An agent listed by two units keeps the first."""

        def load() -> dict[str, AgentManagementUnitReference]:
            directory: dict[str, AgentManagementUnitReference] = {}
            for unit in self.get_management_units():
                if unit.business_unit is None:
                    logger.warning("management unit without a business unit", extra={"managementUnitId": unit.id})
                    continue
                try:
                    members = self.get_management_unit_users(unit.id)
                except GenesysNotFound:
                    logger.warning("management unit gone", extra={"managementUnitId": unit.id})
                    continue
                management_unit = EntityRef(id=unit.id, self_uri=unit.self_uri)
                for member in members:
                    directory.setdefault(
                        member.id,
                        AgentManagementUnitReference(
                            user=member, management_unit=management_unit, business_unit=unit.business_unit
                        ),
                    )
            return directory

        return dict(self._cached("agent-directory", self._settings.definitions_cache_seconds, load))

    def search_agent_schedules(
        self, management_unit_id: str, start: datetime, end: datetime, user_ids: list[str]
    ) -> BuAgentSchedulesSearchResponse:
        """One search for many agents (a read: its POST changes nothing). ``Complete`` answers carry ``result``
        inline or a ``downloadUrl``. ``Processing`` is final here: its result only comes through the notification
        topic and another POST would start another search, so it is ``GenesysScheduleProcessing``."""
        path = self._path(
            "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search",
            managementUnitId=management_unit_id,
        )
        body = BuSearchAgentSchedulesRequest(start_date=start, end_date=end, user_ids=user_ids).to_json()
        answer = BuAsyncAgentSchedulesSearchResponse.model_validate(
            self._request("POST", path, kind=READ, json=body).json()
        )
        if answer.status == "Processing":
            raise GenesysScheduleProcessing(
                "the schedule search is Processing; its result only comes through the notification topic",
                operationId=answer.operation_id,
                managementUnitId=management_unit_id,
            )
        if answer.status != "Complete":
            raise GenesysUnavailable(
                f"schedule search ended {answer.status}",
                operationId=answer.operation_id,
                managementUnitId=management_unit_id,
            )
        if answer.result is not None:
            return answer.result
        if answer.download_url:
            return BuAgentSchedulesSearchResponse.model_validate(self._download(answer.download_url))
        return BuAgentSchedulesSearchResponse()


def _bearer(request: httpx.Request) -> str | None:
    """The token a request carried, if any."""
    value = request.headers.get("Authorization", "")
    return value[7:] if value[:7].lower() == "bearer " else None


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
    """One client per warm Lambda (pooled connections, cached token and definitions). In a deployment
    (``AGENT_TABLE_NAME`` set) it pays from the deployment's rate budget, and with ``GENESYS_TOKEN_KMS_KEY_ID`` set
    it uses the deployment's shared token; with neither it keeps to itself, as a client outside the deployment."""
    global _shared
    with _shared_lock:
        if _shared is None:
            settings = GenesysSettings()
            budget, store = shared_state(settings)
            _shared = GenesysClient(settings, budget=budget, token_store=store)
        return _shared


def shared_state(settings: GenesysSettings) -> tuple[RateBudget | None, SharedTokenStore | None]:
    """The deployment's rate budget and shared token store, as ``settings`` configure them (``None`` when not)."""
    table = settings.shared_state_table
    if table is None:
        return None, None
    from presence_manager import dependencies
    from presence_manager.genesys.budget import RateBudget
    from presence_manager.genesys.token_store import SharedTokenStore

    dynamodb = dependencies.dynamodb()
    budget = RateBudget(dynamodb, table, per_minute=settings.rate_per_minute, burst=settings.rate_burst)
    store = None
    if settings.token_kms_key_id is not None:
        store = SharedTokenStore(dynamodb, table, dependencies.aws_client("kms"), settings.token_kms_key_id)
    return budget, store
