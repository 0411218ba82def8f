"""The Genesys client without a network: token caching and the one 401 refresh, 429 parsing (API and token
endpoint), reads retried and writes never blindly repeated, the call budget on a fake clock, path segments
validated before any request, downloadUrl rules, the schedule search that is Processing, the batch operations, and
the settings that say where Genesys is."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import boto3
import httpx
import pytest
from moto import mock_aws
from pydantic import SecretStr, ValidationError

from presence_manager.errors import (
    GenesysBadRequest,
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysScheduleProcessing,
    GenesysUnauthorized,
    GenesysUnavailable,
    GenesysWriteUnconfirmed,
    InvalidRequest,
)
from presence_manager.genesys.auth import TokenProvider
from presence_manager.genesys.budget import RateBudget
from presence_manager.genesys.client import GenesysClient, path_segment, shared_state
from presence_manager.genesys.models import (
    MutableUserPresence,
    PresenceDefinition,
    UserRoutingSkill,
    UserRoutingSkillPost,
)
from presence_manager.genesys.settings import GenesysSettings, parse_retry_after
from presence_manager.genesys.token_store import SharedTokenStore
from tests.aws_tables import create_table_from_template, mocked_aws_environment

API = "https://api.mypurecloud.com"
USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
OTHER_USER = "0b7e2f6c-1c1d-4b8e-9a57-3f2d9c0e5b22"
SKILL = "9a0c6d3e-55aa-4f0e-8a1b-7c2d3e4f5a6b"
MU = "2c9e4a1b-7d3f-4e5a-9b8c-1d2e3f4a5b6c"
BU = "7e1d2c3b-4a5f-4e6d-8c9b-0a1b2c3d4e5f"
PRESENCE = {
    "presenceDefinition": {"id": "d1", "systemPresence": "Available"},
    "message": "",
    "modifiedDate": "2026-11-24T10:00:00.000Z",
}
PRESENCE_PATH = f"/api/v2/users/{USER}/presences/purecloud"
SEARCH_PATH = f"/api/v2/workforcemanagement/managementunits/{MU}/agentschedules/search"
CODES_PATH = f"/api/v2/workforcemanagement/businessunits/{BU}/activitycodes"
NOW = datetime(2026, 11, 24, tzinfo=UTC)

Answer = Callable[[httpx.Request], httpx.Response]


class Org:
    """A scripted Genesys: answers are queued per path; every request is recorded."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.token_answers: list[Answer] = []
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.expires_in = 86400
        self.on_request: Callable[[httpx.Request], None] = lambda _: None

    def on(self, path: str, *answers: Answer) -> None:
        self.answers.setdefault(path, []).extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.on_request(request)
        if request.url.path == "/oauth/token":
            if self.token_answers:
                return self.token_answers.pop(0)(request)
            self.tokens_issued += 1
            body = {"access_token": f"t{self.tokens_issued}", "token_type": "bearer", "expires_in": self.expires_in}
            return httpx.Response(200, json=body)
        queue = self.answers.get(request.url.path, [])
        return queue.pop(0)(request) if queue else httpx.Response(200, json=PRESENCE)

    def api_calls(self, path: str | None = None) -> int:
        return sum(1 for r in self.requests if r.url.path != "/oauth/token" and path in (None, r.url.path))


def status(code: int, body: dict[str, Any] | None = None, **headers: str) -> Answer:
    return lambda _: httpx.Response(code, json=body or {"message": f"status {code}", "status": code}, headers=headers)


def ok(body: Any) -> Answer:
    return lambda _: httpx.Response(200, json=body)


def fails(error: type[httpx.TransportError]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise error("scripted failure", request=request)

    return answer


timeout = fails(httpx.ReadTimeout)


@pytest.fixture
def org() -> Org:
    return Org()


def make_settings(**env: Any) -> GenesysSettings:
    values: dict[str, Any] = {
        "GENESYS_REGION": "mypurecloud.com",
        "GENESYS_CLIENT_ID": "id",
        "GENESYS_CLIENT_SECRET": SecretStr("secret"),
    }
    return GenesysSettings(**{**values, **env})


def make_client(
    org: Org,
    clock: list[float] | None = None,
    *,
    sleep: Callable[[float], None] | None = None,
    retry_attempts: int = 3,
    **env: Any,
) -> GenesysClient:
    settings = make_settings(**env)
    http = httpx.Client(transport=httpx.MockTransport(org.handle))
    now = clock if clock is not None else [0.0]
    tokens = TokenProvider(
        settings.login_url,
        "id",
        SecretStr("secret"),
        http=http,
        clock=lambda: now[0],
        retry_after=settings.retry_after_seconds,
    )
    return GenesysClient(
        settings,
        http=http,
        tokens=tokens,
        clock=lambda: now[0],
        sleep=sleep or (lambda _: None),
        retry_attempts=retry_attempts,
    )


def details(error: Exception) -> dict[str, Any]:
    """What the state machine reads from the Lambda errorMessage."""
    return json.loads(str(error))


# ---- tokens -------------------------------------------------------------------------------------------------------


def test_the_token_is_cached_and_refreshed_60_seconds_before_it_expires(org: Org) -> None:
    org.expires_in = 300
    clock = [0.0]
    client = make_client(org, clock)
    client.get_user_presence(USER)
    clock[0] = 239.0
    client.get_user_presence(USER)
    assert org.tokens_issued == 1
    clock[0] = 240.0
    client.get_user_presence(USER)
    assert org.tokens_issued == 2
    assert org.requests[-1].headers["Authorization"] == "Bearer t2"
    token_request = next(r for r in org.requests if r.url.path == "/oauth/token")
    assert token_request.url.host == "login.mypurecloud.com"
    assert token_request.headers["Authorization"].startswith("Basic ")
    assert token_request.content == b"grant_type=client_credentials"


def test_a_401_fetches_a_new_token_once_and_repeats_the_call(org: Org) -> None:
    org.on(PRESENCE_PATH, status(401))
    client = make_client(org)
    assert client.get_user_presence(USER).presence_definition.id == "d1"
    assert (org.tokens_issued, org.api_calls(PRESENCE_PATH)) == (2, 2)


def test_a_401_on_a_write_is_repeated_once_with_a_new_token_since_a_401_was_not_applied(org: Org) -> None:
    org.on(PRESENCE_PATH, status(401))
    make_client(org).patch_user_presence(USER, "d2", None)
    patches = [r for r in org.requests if r.method == "PATCH"]
    assert [r.headers["Authorization"] for r in patches] == ["Bearer t1", "Bearer t2"]


def test_a_second_401_is_unauthorized_not_a_loop(org: Org) -> None:
    org.on(PRESENCE_PATH, status(401), status(401))
    with pytest.raises(GenesysUnauthorized):
        make_client(org).get_user_presence(USER)
    assert org.api_calls(PRESENCE_PATH) == 2


@pytest.mark.parametrize(("header", "seconds"), [("30", 30), ("100000", 180), (None, 3)])
def test_a_429_from_the_token_endpoint_is_rate_limited_not_refused_credentials(
    org: Org, header: str | None, seconds: int
) -> None:
    org.token_answers.append(
        status(429, {"message": "Rate limit exceeded"}, **({"Retry-After": header} if header else {}))
    )
    with pytest.raises(GenesysRateLimited) as raised:
        make_client(org).patch_user_presence(USER, "d2", None)
    assert raised.value.retry_after_seconds == seconds
    assert details(raised.value)["retryAfterSeconds"] == seconds, "what the state machine's Wait reads"
    assert "credentials" not in raised.value.message
    assert org.api_calls() == 0, "no token, no write"


def test_the_token_endpoint_429_uses_the_settings_cap_when_the_client_builds_its_own_provider(org: Org) -> None:
    settings = make_settings(GENESYS_RETRY_AFTER_CAP_SECONDS=45)
    org.token_answers.append(status(429, {"message": "slow down"}, **{"Retry-After": "600"}))
    client = GenesysClient(settings, http=httpx.Client(transport=httpx.MockTransport(org.handle)), sleep=lambda _: 0)
    with pytest.raises(GenesysRateLimited) as raised:
        client.get_user_presence(USER)
    assert raised.value.retry_after_seconds == 45


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (status(400, {"error": "invalid_client"}), GenesysUnauthorized),
        (status(401, {"error": "invalid_client"}), GenesysUnauthorized),
        (status(403), GenesysUnauthorized),
        (status(503), GenesysUnavailable),
        (fails(httpx.ConnectError), GenesysUnavailable),
        (fails(httpx.ReadTimeout), GenesysUnavailable),
    ],
)
def test_other_token_endpoint_failures_keep_their_types(org: Org, answer: Answer, error: type[Exception]) -> None:
    org.token_answers.append(answer)
    with pytest.raises(error):
        make_client(org).get_user_presence(USER)
    assert org.api_calls() == 0


def test_retry_after_is_parsed_in_one_place_for_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 24 Nov 2026 10:00:42 GMT", cap=180, default=3, now=now) == 42
    assert parse_retry_after("Tue, 24 Nov 2026 11:00:00 GMT", cap=180, default=3, now=now) == 180
    assert parse_retry_after("Tue, 24 Nov 2026 09:00:00 GMT", cap=180, default=3, now=now) == 0
    assert parse_retry_after(" 12 ", cap=180, default=3) == 12
    assert parse_retry_after("-5", cap=180, default=3) == 3
    assert parse_retry_after("", cap=180, default=3) == 3
    assert make_settings(GENESYS_RETRY_AFTER_CAP_SECONDS=60).retry_after_seconds("61") == 60


# ---- API errors ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "seconds"), [("7", 7), ("100000", 180), (None, 3), ("soon", 3)])
def test_a_429_carries_retry_after_capped_or_defaulted(org: Org, header: str | None, seconds: int) -> None:
    headers = {"Retry-After": header} if header else {}
    org.on(
        PRESENCE_PATH,
        status(429, {"message": "Rate limit exceeded", "code": "too.many.requests.retry.after"}, **headers),
    )
    with pytest.raises(GenesysRateLimited) as raised:
        make_client(org).get_user_presence(USER)
    assert raised.value.retry_after_seconds == seconds
    assert details(raised.value)["retryAfterSeconds"] == seconds, "what the state machine's Wait reads"
    assert org.api_calls(PRESENCE_PATH) == 1, "429 is the state machine's to wait out"


def test_4xx_errors_are_typed_and_never_retried(org: Org) -> None:
    org.on(PRESENCE_PATH, status(404), status(400, {"message": "bad", "code": "bad.request", "status": 400}))
    client = make_client(org)
    with pytest.raises(GenesysNotFound):
        client.get_user_presence(USER)
    with pytest.raises(GenesysBadRequest) as raised:
        client.get_user_presence(USER)
    assert raised.value.error_body["code"] == "bad.request"
    assert org.api_calls(PRESENCE_PATH) == 2


def test_a_403_names_the_missing_permission(org: Org) -> None:
    body = {
        "message": "You are missing the following permission(s): presence:userPresence:edit",
        "code": "missing.permissions",
        "status": 403,
        "messageParams": {"perms": "presence:userPresence:edit"},
    }
    org.on(PRESENCE_PATH, status(403, body))
    with pytest.raises(GenesysForbidden) as raised:
        make_client(org).patch_user_presence(USER, "d2", None)
    assert raised.value.missing_permissions == ["presence:userPresence:edit"]


# ---- rule 1: reads are retried, ambiguous writes never repeated ---------------------------------------------------


def test_5xx_on_a_read_is_retried_a_bounded_number_of_times(org: Org) -> None:
    org.on(PRESENCE_PATH, status(503), status(502))
    assert make_client(org).get_user_presence(USER).message == ""
    assert org.api_calls(PRESENCE_PATH) == 3
    org.on(PRESENCE_PATH, status(503), status(503), status(503))
    with pytest.raises(GenesysUnavailable) as raised:
        make_client(org).get_user_presence(USER)
    assert raised.value.status == 503
    assert org.api_calls(PRESENCE_PATH) == 6


@pytest.mark.parametrize(
    "failure", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError]
)
def test_timeouts_and_network_errors_on_a_read_are_retried_then_unavailable(
    org: Org, failure: type[httpx.TransportError]
) -> None:
    org.on(PRESENCE_PATH, fails(failure), fails(failure), fails(failure))
    with pytest.raises(GenesysUnavailable):
        make_client(org).get_user_presence(USER)
    assert org.api_calls(PRESENCE_PATH) == 3


def test_a_read_timeout_says_it_timed_out(org: Org) -> None:
    org.on(PRESENCE_PATH, timeout, timeout, timeout)
    with pytest.raises(GenesysUnavailable, match="timed out"):
        make_client(org).get_user_presence(USER)


def test_the_schedule_search_post_is_a_read_and_is_retried(org: Org) -> None:
    complete = {"status": "Complete", "result": {"agentSchedules": [{"user": {"id": USER}, "shifts": []}]}}
    org.on(SEARCH_PATH, status(503), timeout, ok(complete))
    result = make_client(org).search_agent_schedules(MU, NOW, NOW, [USER])
    assert [s.user.id for s in result.agent_schedules] == [USER]
    assert org.api_calls(SEARCH_PATH) == 3


WRITES: dict[str, tuple[str, str, Callable[[GenesysClient], Any]]] = {
    "patch presence": ("PATCH", PRESENCE_PATH, lambda c: c.patch_user_presence(USER, "d2", "hi")),
    "patch skills": (
        "PATCH",
        f"/api/v2/users/{USER}/routingskills/bulk",
        lambda c: c.patch_user_routing_skills_bulk(USER, [UserRoutingSkillPost(id=SKILL, proficiency=3)]),
    ),
    "put skill": (
        "PUT",
        f"/api/v2/users/{USER}/routingskills/{SKILL}",
        lambda c: c.put_user_routing_skill(USER, UserRoutingSkill(id=SKILL, state="inactive")),
    ),
    "delete skill": (
        "DELETE",
        f"/api/v2/users/{USER}/routingskills/{SKILL}",
        lambda c: c.delete_user_routing_skill(USER, SKILL),
    ),
    "put presences bulk": (
        "PUT",
        "/api/v2/users/presences/bulk",
        lambda c: c.put_users_presences_bulk([MutableUserPresence(id=USER, message="m")]),
    ),
}
LOST: dict[str, Answer] = {
    "ReadTimeout": fails(httpx.ReadTimeout),
    "WriteTimeout": fails(httpx.WriteTimeout),
    "RemoteProtocolError": fails(httpx.RemoteProtocolError),
    "ReadError": fails(httpx.ReadError),
    "500": status(500),
    "503": status(503),
    "504": status(504),
}


@pytest.mark.parametrize("lost", LOST)
@pytest.mark.parametrize("write", WRITES)
def test_a_write_whose_answer_was_lost_is_unconfirmed_at_once_never_repeated(org: Org, write: str, lost: str) -> None:
    method, path, call = WRITES[write]
    org.on(path, LOST[lost], ok(PRESENCE))
    with pytest.raises(GenesysWriteUnconfirmed) as raised:
        call(make_client(org, WRITE_SETTLE_SECONDS=45))
    assert org.api_calls(path) == 1, "an ambiguous write is never blindly repeated"
    said = details(raised.value)
    assert (said["method"], said["path"], said["retryAfterSeconds"]) == (method, path, 45)
    assert said["status"] == (int(lost) if lost.isdigit() else None)


@pytest.mark.parametrize("never_sent", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
@pytest.mark.parametrize("write", WRITES)
def test_a_write_that_provably_never_left_is_retried(
    org: Org, write: str, never_sent: type[httpx.TransportError]
) -> None:
    _, path, call = WRITES[write]
    answer = [{"id": USER, **PRESENCE}] if path.endswith("/presences/bulk") else {"id": SKILL, **PRESENCE}
    org.on(path, fails(never_sent), fails(never_sent), ok(answer))
    call(make_client(org))
    assert org.api_calls(path) == 3


@pytest.mark.parametrize("never_sent", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_a_write_that_never_left_after_the_bounded_retries_is_unavailable(
    org: Org, never_sent: type[httpx.TransportError]
) -> None:
    org.on(PRESENCE_PATH, *[fails(never_sent)] * 3)
    with pytest.raises(GenesysUnavailable) as raised:
        make_client(org).patch_user_presence(USER, "d2", None)
    assert not isinstance(raised.value, GenesysWriteUnconfirmed)
    assert org.api_calls(PRESENCE_PATH) == 3


def test_a_write_never_left_then_lost_is_unconfirmed_without_a_third_try(org: Org) -> None:
    org.on(PRESENCE_PATH, fails(httpx.ConnectError), timeout, ok(PRESENCE))
    with pytest.raises(GenesysWriteUnconfirmed):
        make_client(org).patch_user_presence(USER, "d2", None)
    assert org.api_calls(PRESENCE_PATH) == 2


def test_write_settle_seconds_defaults_to_60_and_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_settings().write_settle_seconds == 60
    monkeypatch.setenv("WRITE_SETTLE_SECONDS", "90")
    assert make_settings().write_settle_seconds == 90
    with pytest.raises(ValidationError):
        make_settings(WRITE_SETTLE_SECONDS=0)


def test_a_patch_sends_the_sdk_body(org: Org) -> None:
    make_client(org).patch_user_presence(USER, "d2", "hi")
    sent = next(r for r in org.requests if r.method == "PATCH")
    assert json.loads(sent.content) == {"presenceDefinition": {"id": "d2"}, "message": "hi"}


# ---- rule 2: path segments ----------------------------------------------------------------------------------------

BAD_SEGMENTS = [
    f"../../{OTHER_USER}/presences/purecloud",
    "..",
    ".",
    "a/b",
    "a%2Fb",
    "%2e%2e",
    "a?b=c",
    "a#b",
    "a b",
    " a",
    "a\n",
    "a\t",
    "a\x00",
    "a\x7f",
    "",
    "-a",
    ".hidden",
    "x" * 129,
    "é",
]
CALLS_BY_FIELD: list[tuple[str, Callable[[GenesysClient, str], Any]]] = [
    ("userId", lambda c, v: c.get_user_presence(v)),
    ("userId", lambda c, v: c.patch_user_presence(v, "d2", None)),
    ("userId", lambda c, v: c.get_routing_status(v)),
    ("userId", lambda c, v: c.get_user_routing_skills(v)),
    ("userId", lambda c, v: c.patch_user_routing_skills_bulk(v, [])),
    ("userId", lambda c, v: c.put_user_routing_skill(v, UserRoutingSkill(id=SKILL))),
    ("skillId", lambda c, v: c.put_user_routing_skill(USER, UserRoutingSkill(id=v, state="inactive"))),
    ("skillId", lambda c, v: c.delete_user_routing_skill(USER, v)),
    ("userId", lambda c, v: c.delete_user_routing_skill(v, SKILL)),
    ("agentId", lambda c, v: c.get_agent_management_unit(v)),
    ("businessUnitId", lambda c, v: c.get_business_unit(v)),
    ("businessUnitId", lambda c, v: c.get_business_unit_time_zone(v)),
    ("businessUnitId", lambda c, v: c.get_activity_codes(v)),
    ("managementUnitId", lambda c, v: c.get_management_unit_users(v)),
    ("managementUnitId", lambda c, v: c.search_agent_schedules(v, NOW, NOW, [USER])),
    ("userId", lambda c, v: c.get_users_presences_bulk([USER, v])),
    ("userId", lambda c, v: c.get_users_routing_status([USER, v])),
]


@pytest.mark.parametrize("segment", BAD_SEGMENTS)
@pytest.mark.parametrize(("field", "call"), CALLS_BY_FIELD)
def test_a_bad_id_is_refused_before_any_request(
    org: Org, field: str, call: Callable[[GenesysClient, str], Any], segment: str
) -> None:
    with pytest.raises(InvalidRequest) as raised:
        call(make_client(org), segment)
    assert raised.value.code == "invalid_path_segment"
    assert raised.value.details["field"] == field
    assert org.requests == [], "nothing sent, not even a token request"


def test_the_skill_id_traversal_of_the_issue_never_reaches_another_users_presence(org: Org) -> None:
    traversal = f"../../{OTHER_USER}/presences/purecloud"
    with pytest.raises(InvalidRequest, match="skillId"):
        make_client(org).put_user_routing_skill(USER, UserRoutingSkill(id=traversal, state="inactive"))
    assert org.requests == []


def test_good_ids_are_sent_verbatim_in_the_path(org: Org) -> None:
    org.on(f"/api/v2/users/{USER}/routingskills/{SKILL}", ok({"id": SKILL}))
    make_client(org).put_user_routing_skill(USER, UserRoutingSkill(id=SKILL, state="inactive"))
    put = next(r for r in org.requests if r.method == "PUT")
    assert put.url.raw_path == f"/api/v2/users/{USER}/routingskills/{SKILL}".encode()


@pytest.mark.parametrize("good", [USER, "abc", "A.b-c_d", "x" * 128, "0"])
def test_path_segment_accepts_genesys_shaped_ids_and_encodes_them(good: str) -> None:
    assert path_segment(good, "userId") == good


# ---- rule 4: the call budget --------------------------------------------------------------------------------------


def test_the_defaults_fit_the_30_second_lambda_timeout() -> None:
    settings = make_settings()
    assert (settings.timeout_seconds, settings.call_budget_seconds) == (8.0, 20.0)
    attempts, max_back_off = 3, 2.0
    assert attempts * settings.timeout_seconds + (attempts - 1) * max_back_off < 30
    assert settings.call_budget_seconds < 30


def test_the_budget_cannot_be_shorter_than_one_request() -> None:
    with pytest.raises(ValidationError, match="GENESYS_CALL_BUDGET_SECONDS"):
        make_settings(GENESYS_TIMEOUT_SECONDS=10, GENESYS_CALL_BUDGET_SECONDS=5)


@pytest.mark.parametrize("retry_attempts", [3, 10])
@pytest.mark.parametrize("kind", ["read", "search", "never-sent write"])
def test_a_call_that_keeps_timing_out_gives_up_within_the_budget(org: Org, retry_attempts: int, kind: str) -> None:
    """Each request 'takes' its whole timeout on a fake clock; back-off sleeps advance it too. No real sleeping."""
    clock = [1000.0]
    slept: list[float] = []
    timeouts: list[float] = []

    def slow(request: httpx.Request) -> httpx.Response:
        limit = request.extensions["timeout"]["read"]
        timeouts.append(limit)
        clock[0] += limit
        raise (httpx.ConnectTimeout if kind == "never-sent write" else httpx.ReadTimeout)("slow", request=request)

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    client = make_client(org, clock, sleep=sleep, retry_attempts=retry_attempts)
    path = {"read": PRESENCE_PATH, "search": SEARCH_PATH, "never-sent write": PRESENCE_PATH}[kind]
    org.on(path, *[slow] * 20)
    started = clock[0]
    with pytest.raises(GenesysUnavailable):
        if kind == "read":
            client.get_user_presence(USER)
        elif kind == "search":
            client.search_agent_schedules(MU, NOW, NOW, [USER])
        else:
            client.patch_user_presence(USER, "d2", None)
    elapsed = clock[0] - started
    assert elapsed <= 20.0, f"the call took {elapsed} s of a 20 s budget"
    assert timeouts == [8.0, 8.0], "two full attempts fit 20 s, a third would not"
    assert len(slept) == 1


def test_each_request_timeout_is_cut_to_what_is_left_of_the_budget(org: Org) -> None:
    clock = [0.0]
    seen: list[dict[str, float]] = []

    def slow_token(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        clock[0] += 6.0
        return httpx.Response(200, json={"access_token": "slow", "token_type": "bearer", "expires_in": 86400})

    org.token_answers.append(slow_token)
    org.on_request = lambda r: seen.append(r.extensions["timeout"]) if r.url.path == PRESENCE_PATH else None
    make_client(org, clock, GENESYS_CALL_BUDGET_SECONDS=10).get_user_presence(USER)
    token_timeout, request_timeout = seen
    assert token_timeout["read"] == 8.0
    assert request_timeout["read"] == pytest.approx(4.0), "10 s budget - 6 s spent on the token"
    assert request_timeout["connect"] == pytest.approx(4.0)


def test_a_spent_budget_sends_nothing_more(org: Org) -> None:
    clock = [0.0]

    def slow_token(request: httpx.Request) -> httpx.Response:
        clock[0] += 30.0
        return httpx.Response(200, json={"access_token": "late", "token_type": "bearer", "expires_in": 86400})

    org.token_answers.append(slow_token)
    with pytest.raises(GenesysUnavailable, match="budget"):
        make_client(org, clock).patch_user_presence(USER, "d2", None)
    assert org.api_calls() == 0


# ---- rule 5: downloadUrl ------------------------------------------------------------------------------------------

SCHEDULES = {"agentSchedules": [], "businessUnitTimeZone": "Europe/London"}


def search_answering(org: Org, download_url: str) -> None:
    org.on(SEARCH_PATH, ok({"status": "Complete", "operationId": "op", "downloadUrl": download_url}))


@pytest.mark.parametrize(
    "url",
    [
        "http://api.mypurecloud.com/dl/1",
        "https://downloads.example/x",
        "https://mypurecloud.com.evil.example/x",
        "https://evilmypurecloud.com/x",
        "https://api.mypurecloud.ie/x",
        "https://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "ftp://api.mypurecloud.com/x",
        "https://user:pw@api.mypurecloud.com/x",
        "https://api.mypurecloud.com:8443/x",
        "http://127.0.0.1:8787/__sim/downloads/x",
        "//downloads.example/x",
        "/relative/path",
    ],
)
def test_a_download_url_elsewhere_is_refused_without_any_request(org: Org, url: str) -> None:
    search_answering(org, url)
    with pytest.raises(GenesysBadRequest, match="refusing downloadUrl"):
        make_client(org).search_agent_schedules(MU, NOW, NOW, [USER])
    assert [r.url.path for r in org.requests if r.url.path != "/oauth/token"] == [SEARCH_PATH]


@pytest.mark.parametrize(
    ("url", "gets_token"),
    [
        ("https://api.mypurecloud.com/dl/1", True),
        ("https://apps.mypurecloud.com/dl/1", False),
        ("https://files.example.org/dl/1", False),
        ("https://FILES.example.org./dl/1", False),
    ],
)
def test_a_download_url_on_the_api_its_environment_or_the_allow_list_is_followed(
    org: Org, url: str, gets_token: bool
) -> None:
    search_answering(org, url)
    org.on("/dl/1", ok(SCHEDULES))
    client = make_client(org, GENESYS_DOWNLOAD_HOSTS="cdn.example.net, files.example.org")
    assert client.search_agent_schedules(MU, NOW, NOW, [USER]).business_unit_time_zone == "Europe/London"
    download = next(r for r in org.requests if r.url.path == "/dl/1")
    assert ("Authorization" in download.headers) is gets_token, "the bearer token goes to the API host only"


def test_the_simulator_download_url_on_the_apis_own_loopback_origin_is_followed(org: Org) -> None:
    search_answering(org, "http://127.0.0.1:8787/__sim/downloads/k")
    org.on("/__sim/downloads/k", ok(SCHEDULES))
    client = make_client(org, GENESYS_API_URL="http://127.0.0.1:8787", GENESYS_LOGIN_URL="http://127.0.0.1:8787")
    assert client.search_agent_schedules(MU, NOW, NOW, [USER]).business_unit_time_zone == "Europe/London"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9999/x", "http://localhost:8787/x", "https://downloads.example/x", "http://10.0.0.1/x"]
)
def test_a_loopback_api_follows_only_its_own_origin(org: Org, url: str) -> None:
    search_answering(org, url)
    client = make_client(org, GENESYS_API_URL="http://127.0.0.1:8787", GENESYS_LOGIN_URL="http://127.0.0.1:8787")
    with pytest.raises(GenesysBadRequest, match="refusing downloadUrl"):
        client.search_agent_schedules(MU, NOW, NOW, [USER])
    assert org.api_calls() == 1


def test_download_hosts_are_comma_separated_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENESYS_DOWNLOAD_HOSTS", "a.example.com, B.example.org,,")
    assert make_settings().download_hosts == ("a.example.com", "b.example.org")


# ---- rule 7: schedule search and activity codes -------------------------------------------------------------------


def test_a_schedule_search_that_is_processing_is_not_searched_again(org: Org) -> None:
    org.on(SEARCH_PATH, ok({"status": "Processing", "operationId": "op-1"}), ok({"status": "Complete"}))
    with pytest.raises(GenesysScheduleProcessing) as raised:
        make_client(org).search_agent_schedules(MU, NOW, NOW, [USER])
    assert details(raised.value)["operationId"] == "op-1"
    assert org.api_calls(SEARCH_PATH) == 1, "a second POST would start a new search"


@pytest.mark.parametrize("ended", ["Canceled", "Error"])
def test_a_schedule_search_canceled_or_in_error_is_unavailable(org: Org, ended: str) -> None:
    org.on(SEARCH_PATH, ok({"status": ended, "operationId": "op-2"}))
    with pytest.raises(GenesysUnavailable, match=ended):
        make_client(org).search_agent_schedules(MU, NOW, NOW, [USER])
    assert org.api_calls(SEARCH_PATH) == 1


def test_a_complete_schedule_search_is_read_inline(org: Org) -> None:
    complete = {"status": "Complete", "result": {"agentSchedules": [{"user": {"id": USER}, "shifts": []}]}}
    org.on(SEARCH_PATH, ok(complete))
    result = make_client(org).search_agent_schedules(MU, NOW, NOW, [USER])
    assert [s.user.id for s in result.agent_schedules] == [USER]
    body = json.loads(org.requests[-1].content)
    assert body == {"startDate": "2026-11-24T00:00:00Z", "endDate": "2026-11-24T00:00:00Z", "userIds": [USER]}


def test_activity_codes_that_come_as_a_download_url_are_followed(org: Org) -> None:
    code = {"id": "c1", "name": "Lunch", "category": "Meal", "secondaryPresences": [{"id": "p-lunch"}]}
    org.on(CODES_PATH, ok({"entities": [], "downloadUrl": "https://apps.mypurecloud.com/codes/1"}))
    org.on("/codes/1", ok({"entities": [code]}))
    codes = make_client(org).get_activity_codes(BU)
    assert [(c.id, c.secondary_presences[0].id) for c in codes] == [("c1", "p-lunch")]
    assert "Authorization" not in next(r for r in org.requests if r.url.path == "/codes/1").headers


def test_activity_codes_inline_do_not_follow_anything(org: Org) -> None:
    org.on(CODES_PATH, ok({"entities": [{"id": "c1"}], "downloadUrl": "https://apps.mypurecloud.com/codes/1"}))
    assert [c.id for c in make_client(org).get_activity_codes(BU)] == ["c1"]
    assert org.api_calls() == 1


def test_an_activity_code_download_url_elsewhere_is_refused(org: Org) -> None:
    org.on(CODES_PATH, ok({"entities": [], "downloadUrl": "https://evil.example/codes"}))
    with pytest.raises(GenesysBadRequest, match="refusing downloadUrl"):
        make_client(org).get_activity_codes(BU)
    assert org.api_calls() == 1


# ---- rule 8: batches ----------------------------------------------------------------------------------------------


def user_ids(count: int) -> list[str]:
    return [f"00000000-0000-4000-8000-{n:012d}" for n in range(count)]


def echo_bulk_put(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=[{"id": item["id"], **PRESENCE} for item in json.loads(request.content)])


def test_a_bulk_presence_write_of_51_is_sent_as_two_writes_of_50_and_1(org: Org) -> None:
    ids = user_ids(51)
    org.on("/api/v2/users/presences/bulk", echo_bulk_put, echo_bulk_put)
    items = [MutableUserPresence(id=i, presence_definition=PresenceDefinition(id="d2")) for i in ids]
    written = make_client(org).put_users_presences_bulk(items)
    puts = [json.loads(r.content) for r in org.requests if r.method == "PUT"]
    assert [len(p) for p in puts] == [50, 1]
    assert [w.id for w in written] == ids


def test_a_bulk_presence_write_is_a_write_its_lost_batch_is_unconfirmed_and_the_rest_not_sent(org: Org) -> None:
    items = [MutableUserPresence(id=i, message="m") for i in user_ids(120)]
    org.on("/api/v2/users/presences/bulk", echo_bulk_put, status(503), echo_bulk_put)
    with pytest.raises(GenesysWriteUnconfirmed):
        make_client(org).put_users_presences_bulk(items)
    assert org.api_calls("/api/v2/users/presences/bulk") == 2


def test_a_bulk_presence_read_of_51_is_two_reads(org: Org) -> None:
    ids = user_ids(51)

    def echo(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["id"].split(",")
        return httpx.Response(200, json=[{"userId": i, **PRESENCE} for i in asked])

    org.on("/api/v2/users/presences/purecloud/bulk", echo, echo)
    presences = make_client(org).get_users_presences_bulk(ids)
    reads = [r.url.params["id"].split(",") for r in org.requests if r.url.path.endswith("/bulk")]
    assert [len(r) for r in reads] == [50, 1]
    assert [p.user_id for p in presences] == ids


def users_answer(statuses: dict[str, str | None]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        query = parse_qs(request.url.query.decode())
        assert query["expand"] == ["routingStatus"]
        asked = query["id"][0].split(",")
        assert query["pageSize"] == [str(len(asked))]
        entities = []
        for user_id in asked:
            if user_id not in statuses:
                continue  # Genesys leaves unknown users out
            routing = statuses[user_id]
            user: dict[str, Any] = {"id": user_id, "name": "Agent"}
            if routing:
                user["routingStatus"] = {"userId": user_id, "status": routing, "startTime": "2026-11-24T09:00:00Z"}
            entities.append(user)
        return httpx.Response(200, json={"entities": entities, "pageSize": len(asked), "pageNumber": 1})

    return answer


def test_routing_status_of_101_users_takes_two_calls_of_100_and_1(org: Org) -> None:
    ids = user_ids(101)
    statuses = {user_id: ("INTERACTING" if n % 2 else "IDLE") for n, user_id in enumerate(ids)}
    org.on("/api/v2/users", users_answer(statuses), users_answer(statuses))
    found = make_client(org).get_users_routing_status(ids + ids[:3])
    calls = [parse_qs(r.url.query.decode())["id"][0].split(",") for r in org.requests if r.url.path == "/api/v2/users"]
    assert [len(c) for c in calls] == [100, 1], "duplicates asked once"
    assert found == statuses


def test_routing_status_not_expanded_is_read_per_user_and_unknown_users_are_left_out(org: Org) -> None:
    unknown = user_ids(3)[2]
    org.on("/api/v2/users", users_answer({USER: "IDLE", OTHER_USER: None}))
    org.on(f"/api/v2/users/{OTHER_USER}/routingstatus", ok({"userId": OTHER_USER, "status": "COMMUNICATING"}))
    found = make_client(org).get_users_routing_status([USER, OTHER_USER, unknown])
    assert found == {USER: "IDLE", OTHER_USER: "COMMUNICATING"}
    assert org.api_calls(f"/api/v2/users/{unknown}/routingstatus") == 0


def test_routing_status_of_no_users_asks_nothing(org: Org) -> None:
    assert make_client(org).get_users_routing_status([]) == {}
    assert org.requests == []


# ---- the org's management units and the agent directory -------------------------------------------------------

UNITS_PATH = "/api/v2/workforcemanagement/managementunits"
OTHER_MU = "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"
OTHER_BU = "3a2b1c0d-9e8f-4a7b-8c6d-5e4f3a2b1c0d"


def unit(mu: str, bu: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": mu, "name": f"unit {mu[:4]}", "selfUri": f"{UNITS_PATH}/{mu}"}
    if bu is not None:
        body["businessUnit"] = {"id": bu, "selfUri": f"/api/v2/workforcemanagement/businessunits/{bu}"}
    return body


def members(*ids: str) -> Answer:
    return ok({"entities": [{"id": i, "selfUri": f"/api/v2/users/{i}"} for i in ids]})


def test_management_units_are_one_cached_read_refreshed_after_the_definitions_ttl(org: Org) -> None:
    listing = {"entities": [unit(MU, BU), unit(OTHER_MU, OTHER_BU)], "pageSize": 2}
    org.on(UNITS_PATH, ok(listing), ok({"entities": [unit(MU, BU)]}))
    clock = [0.0]
    client = make_client(org, clock, GENESYS_DEFINITIONS_CACHE_SECONDS=300)
    units = client.get_management_units()
    assert [(u.id, u.business_unit.id if u.business_unit else None) for u in units] == [(MU, BU), (OTHER_MU, OTHER_BU)]
    units.clear()
    assert len(client.get_management_units()) == 2, "the cached list is not the caller's"
    assert org.api_calls(UNITS_PATH) == 1
    get = next(r for r in org.requests if r.url.path == UNITS_PATH)
    assert (get.method, get.url.query) == ("GET", b""), "no deprecated paging parameters"
    clock[0] = 301.0
    assert [u.id for u in client.get_management_units()] == [MU]
    assert org.api_calls(UNITS_PATH) == 2


def test_the_agent_directory_is_one_read_per_unit_never_one_per_agent_and_is_cached(org: Org) -> None:
    third = user_ids(3)[2]
    org.on(UNITS_PATH, ok({"entities": [unit(MU, BU), unit(OTHER_MU, OTHER_BU)]}))
    org.on(f"{UNITS_PATH}/{MU}/users", members(USER, third))
    org.on(f"{UNITS_PATH}/{OTHER_MU}/users", members(OTHER_USER))
    clock = [0.0]
    client = make_client(org, clock, GENESYS_DEFINITIONS_CACHE_SECONDS=60)
    directory = client.agent_directory()
    assert {u: (r.management_unit.id, r.business_unit.id) for u, r in directory.items()} == {
        USER: (MU, BU),
        third: (MU, BU),
        OTHER_USER: (OTHER_MU, OTHER_BU),
    }
    assert directory[USER].user is not None and directory[USER].user.id == USER
    assert org.api_calls() == 3
    directory.pop(USER)
    clock[0] = 59.0
    assert USER in client.agent_directory(), "the cached directory is not the caller's"
    assert org.api_calls() == 3
    assert not any("/agents/" in r.url.path for r in org.requests), "never one call per agent"


def test_the_agent_directory_leaves_out_a_unit_without_business_unit_or_gone_and_keeps_an_agents_first_unit(
    org: Org,
) -> None:
    gone, orphan = user_ids(2)
    listing = [unit(MU, BU), unit(orphan, None), unit(gone, BU), unit(OTHER_MU, OTHER_BU)]
    org.on(UNITS_PATH, ok({"entities": listing}))
    org.on(f"{UNITS_PATH}/{MU}/users", members(USER))
    org.on(f"{UNITS_PATH}/{gone}/users", status(404))
    org.on(f"{UNITS_PATH}/{OTHER_MU}/users", members(USER, OTHER_USER))
    directory = make_client(org).agent_directory()
    assert {u: r.management_unit.id for u, r in directory.items()} == {USER: MU, OTHER_USER: OTHER_MU}
    assert org.api_calls(f"{UNITS_PATH}/{orphan}/users") == 0
    assert org.api_calls(f"{UNITS_PATH}/{gone}/users") == 1, "a 404 is not retried"


def test_the_agent_directory_fails_on_other_errors_and_caches_nothing(org: Org) -> None:
    org.on(UNITS_PATH, ok({"entities": [unit(MU, BU)]}))
    org.on(f"{UNITS_PATH}/{MU}/users", status(403, {"message": "missing wfm:agent:view", "status": 403}))
    client = make_client(org)
    with pytest.raises(GenesysForbidden):
        client.agent_directory()
    org.on(f"{UNITS_PATH}/{MU}/users", members(USER))
    assert list(client.agent_directory()) == [USER]
    assert org.api_calls(UNITS_PATH) == 1, "the units stay cached"


def test_a_management_unit_id_from_the_listing_goes_through_the_path_gate(org: Org) -> None:
    org.on(UNITS_PATH, ok({"entities": [unit(f"../../users/{USER}", BU)]}))
    with pytest.raises(InvalidRequest) as raised:
        make_client(org).agent_directory()
    assert raised.value.details["field"] == "managementUnitId"
    assert [r.url.path for r in org.requests if r.url.path != "/oauth/token"] == [UNITS_PATH]


# ---- settings -----------------------------------------------------------------------------------------------------


def test_settings_take_a_known_region_or_both_urls() -> None:
    settings = GenesysSettings(GENESYS_REGION="usw2.pure.cloud")
    assert (settings.api_url, settings.login_url) == ("https://api.usw2.pure.cloud", "https://login.usw2.pure.cloud")
    with pytest.raises(ValidationError, match="unknown Genesys Cloud region"):
        GenesysSettings(GENESYS_REGION="example.com")
    with pytest.raises(ValidationError, match="together"):
        GenesysSettings(GENESYS_API_URL="http://127.0.0.1:8787")
    local = GenesysSettings(GENESYS_API_URL="http://127.0.0.1:8787/", GENESYS_LOGIN_URL="http://127.0.0.1:8787")
    assert local.api_url == "http://127.0.0.1:8787"


def test_credentials_come_from_the_secrets_manager_secret_when_not_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3
    from moto import mock_aws

    from presence_manager.genesys.settings import load_credentials

    mocked_aws_environment(monkeypatch)
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="gpm/oauth", SecretString=json.dumps({"clientId": "cid", "clientSecret": "shh"})
        )
        settings = GenesysSettings(GENESYS_REGION="mypurecloud.ie", GENESYS_CREDENTIALS_SECRET_ID="gpm/oauth")
        client_id, secret = load_credentials(settings)
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    DEFAULT_PROVIDERS.clear()  # its cached provider holds a client of the mocked account
    assert client_id == "cid"
    assert secret.get_secret_value() == "shh"
    assert "shh" not in repr(secret), "the secret never prints"


# ---- one token and one rate budget for the deployment ---------------------------------------------------------------

AGENT_TABLE = "agents"


class FixedClock:
    """The budget's clock: stands still unless moved, so the bucket refills only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Deployment:
    """The mocked AWS account of one deployment: its agent table and token key, shared by its 'containers'."""

    dynamodb: Any
    kms: Any
    key_id: str
    clock: FixedClock

    def budget(self, **kwargs: Any) -> RateBudget:
        """One container's view of the budget: 70/minute, burst 10, refilling one call a second on ``clock``."""
        options: dict[str, Any] = {"per_minute": 70, "burst": 10, "spend_within_seconds": 0, "clock": self.clock}
        return RateBudget(self.dynamodb, AGENT_TABLE, **{**options, **kwargs})

    def store(self) -> SharedTokenStore:
        return SharedTokenStore(self.dynamodb, AGENT_TABLE, self.kms, self.key_id)

    def container(
        self, org: Org, *, budget: RateBudget | None = None, store: SharedTokenStore | None = None, **env: Any
    ) -> GenesysClient:
        """One warm Lambda's client, as ``client_from_env`` builds it (the provider built by the client)."""
        return GenesysClient(
            make_settings(**env),
            http=httpx.Client(transport=httpx.MockTransport(org.handle)),
            sleep=lambda _: None,
            budget=budget,
            token_store=store,
        )

    def raw_item(self, pk: str) -> dict[str, Any]:
        table = boto3.client("dynamodb")
        return table.get_item(TableName=AGENT_TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item") or {}


@pytest.fixture
def deployment(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AgentTable", AGENT_TABLE)
        kms = boto3.client("kms")
        key_id = kms.create_key(Description="genesys token")["KeyMetadata"]["KeyId"]
        yield Deployment(dynamodb, kms, key_id, FixedClock())


def test_given_no_shared_state_table_then_nothing_is_shared_and_no_aws_client_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from presence_manager import dependencies

    def no_aws(*_: Any) -> Any:
        raise AssertionError("no AWS client without AGENT_TABLE_NAME")

    monkeypatch.setattr(dependencies, "dynamodb", no_aws)
    monkeypatch.setattr(dependencies, "aws_client", no_aws)
    monkeypatch.setenv("GENESYS_TOKEN_KMS_KEY_ID", "alias/anything")
    settings = make_settings()
    assert (settings.shared_state_table, settings.token_kms_key_id) == (None, "alias/anything")
    assert shared_state(settings) == (None, None)
    assert shared_state(make_settings(AGENT_TABLE_NAME="  ")) == (None, None), "a blank name is unset"


def test_given_the_deployment_environment_then_client_from_env_pays_from_the_budget_and_shares_the_token(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    from presence_manager import dependencies
    from presence_manager.genesys import client as client_module

    for name, value in {
        "GENESYS_REGION": "mypurecloud.com",
        "GENESYS_CLIENT_ID": "id",
        "GENESYS_CLIENT_SECRET": "secret",
        "AGENT_TABLE_NAME": AGENT_TABLE,
        "GENESYS_RATE_PER_MINUTE": "120",
        "GENESYS_RATE_BURST": "",
        "GENESYS_TOKEN_KMS_KEY_ID": deployment.key_id,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(dependencies, "dynamodb", lambda: deployment.dynamodb)
    monkeypatch.setattr(dependencies, "aws_client", lambda service: {"kms": deployment.kms}[service])
    monkeypatch.setattr(client_module, "_shared", None)
    client = client_module.client_from_env()
    assert client is client_module.client_from_env(), "one client per warm Lambda"
    assert client.budget is not None
    assert (client.budget.per_minute, client.budget.burst) == (120, 12), "no GENESYS_RATE_BURST: a tenth"
    assert client._tokens.shared

    monkeypatch.delenv("GENESYS_TOKEN_KMS_KEY_ID")
    budget, store = shared_state(GenesysSettings())
    assert budget is not None and store is None, "without a key the token stays in each container"


def test_the_rate_settings_default_to_genesys_limits_and_refuse_an_impossible_burst() -> None:
    settings = make_settings()
    assert (settings.rate_per_minute, settings.rate_burst) == (300, None)
    assert make_settings(GENESYS_RATE_PER_MINUTE="600", GENESYS_RATE_BURST="50").rate_burst == 50
    with pytest.raises(ValidationError, match="GENESYS_RATE_BURST must be below"):
        make_settings(GENESYS_RATE_PER_MINUTE="60", GENESYS_RATE_BURST="60")
    with pytest.raises(ValidationError):
        make_settings(GENESYS_RATE_PER_MINUTE="1")


def test_given_a_budget_then_every_api_request_pays_one_call_and_the_login_pays_none(
    org: Org, deployment: Deployment
) -> None:
    budget = deployment.budget()
    client = deployment.container(org, budget=budget)
    for _ in range(10):  # the whole burst; the login before the first one is not an API request
        client.get_user_presence(USER)
    assert org.tokens_issued == 1 and org.api_calls() == 10
    assert budget.available() == 0
    with pytest.raises(GenesysRateLimited):
        client.get_user_presence(USER)
    deployment.clock.now += 3
    client.get_user_presence(USER)
    client.get_user_presence(USER)
    assert org.api_calls() == 12, "the bucket refills at its rate"


@pytest.mark.parametrize("write", [True, False])
def test_given_an_empty_budget_then_the_call_is_rate_limited_like_a_429_and_nothing_is_sent(
    org: Org, deployment: Deployment, write: bool
) -> None:
    other_container = deployment.budget()
    other_container.reserve(10)
    client = deployment.container(org, budget=deployment.budget())
    with pytest.raises(GenesysRateLimited) as raised:
        if write:
            client.patch_user_presence(USER, "d2", None)
        else:
            client.get_user_presence(USER)
    assert raised.value.retry_after_seconds == 1, "one call refills in a second"
    assert details(raised.value)["retryAfterSeconds"] == 1, "what the state machine's Wait reads"
    assert details(raised.value)["source"] == "budget"
    assert org.api_calls() == 0


def test_given_a_real_429_then_every_container_waits_out_its_retry_after_without_drawing_its_own(
    org: Org, deployment: Deployment
) -> None:
    org.on(PRESENCE_PATH, status(429, **{"Retry-After": "20"}))
    first = deployment.container(org, budget=deployment.budget())
    second = deployment.container(org, budget=deployment.budget())
    with pytest.raises(GenesysRateLimited) as drew:
        first.get_user_presence(USER)
    assert drew.value.retry_after_seconds == 20
    with pytest.raises(GenesysRateLimited) as waits:
        second.get_user_presence(USER)
    assert waits.value.retry_after_seconds == 20 and details(waits.value)["source"] == "budget"
    assert org.api_calls(PRESENCE_PATH) == 1, "the second container sent nothing"
    deployment.clock.now += 20
    second.get_user_presence(USER)
    assert org.api_calls(PRESENCE_PATH) == 2


def test_a_token_endpoint_429_leaves_the_budget_alone(org: Org, deployment: Deployment) -> None:
    budget = deployment.budget()
    org.token_answers.append(status(429, {"message": "slow down"}, **{"Retry-After": "30"}))
    with pytest.raises(GenesysRateLimited):
        deployment.container(org, budget=budget).get_user_presence(USER)
    assert budget.available() == 10, "the login is limited apart from the token's API budget"


def test_a_401_and_its_repeat_are_two_requests_and_pay_two_calls(org: Org, deployment: Deployment) -> None:
    budget = deployment.budget()
    org.on(PRESENCE_PATH, status(401))
    deployment.container(org, budget=budget).get_user_presence(USER)
    assert org.api_calls(PRESENCE_PATH) == 2
    assert budget.available() == 8


def test_a_download_elsewhere_pays_nothing_and_one_on_the_api_host_pays_one(org: Org, deployment: Deployment) -> None:
    budget = deployment.budget()
    client = deployment.container(org, budget=budget, GENESYS_DOWNLOAD_HOSTS="files.example.org")
    search_answering(org, "https://files.example.org/dl/1")
    org.on("/dl/1", ok(SCHEDULES))
    client.search_agent_schedules(MU, NOW, NOW, [USER])
    assert budget.available() == 9, "the search only"
    search_answering(org, "https://api.mypurecloud.com/dl/1")
    org.on("/dl/1", ok(SCHEDULES))
    client.search_agent_schedules(MU, NOW, NOW, [USER])
    assert budget.available() == 7


def test_given_a_reservation_then_the_steps_calls_draw_from_it_and_what_is_left_goes_back(
    org: Org, deployment: Deployment
) -> None:
    budget = deployment.budget()
    client = deployment.container(org, budget=budget)
    client.get_user_presence(USER)  # the login, out of the way
    with client.reserved(5):
        assert budget.available() == 4, "reserved at once"
        client.get_user_presence(USER)
        client.patch_user_presence(USER, "d2", None)
        assert budget.available() == 4, "paid from the reservation"
    assert budget.available() == 7, "three unspent calls given back"
    deployment.clock.now += 3
    with client.reserved(500):  # more than the burst: the burst up front, the rest paid as it is made
        assert budget.available() == 0
        for _ in range(11):
            deployment.clock.now += 1
            client.get_user_presence(USER)
    assert budget.available() == 9, "eleven sent: the ten reserved, the eleventh paid when it was made"


def test_given_a_reservation_the_bucket_cannot_pay_then_nothing_is_reserved_and_nothing_sent(
    org: Org, deployment: Deployment
) -> None:
    budget = deployment.budget()
    budget.reserve(7)
    client = deployment.container(org, budget=budget)
    with pytest.raises(GenesysRateLimited) as raised, client.reserved(5):
        client.get_user_presence(USER)
    assert raised.value.retry_after_seconds == 2, "the seconds until five calls are there"
    assert org.api_calls() == 0 and budget.available() == 3


def test_without_a_budget_a_reservation_does_nothing(org: Org) -> None:
    client = make_client(org)
    assert client.budget is None
    with client.reserved(5):
        client.get_user_presence(USER)
    assert org.api_calls() == 1


def test_given_the_budget_table_unreachable_then_the_call_is_unavailable_and_nothing_is_sent(
    org: Org, deployment: Deployment
) -> None:
    budget = RateBudget(deployment.dynamodb, "no-such-table")
    with pytest.raises(GenesysUnavailable, match="rate budget is unavailable"):
        deployment.container(org, budget=budget).patch_user_presence(USER, "d2", None)
    assert org.api_calls() == 0


def test_given_the_shared_token_then_containers_log_in_once_and_the_table_holds_it_encrypted(
    org: Org, deployment: Deployment
) -> None:
    containers = [deployment.container(org, store=deployment.store()) for _ in range(3)]
    for client in containers:
        client.get_user_presence(USER)
    assert org.tokens_issued == 1
    assert {r.headers["Authorization"] for r in org.requests if r.url.path == PRESENCE_PATH} == {"Bearer t1"}
    item = deployment.raw_item("TOKEN#genesys")
    ciphertext = item["ciphertext"]["B"]
    assert b"t1" not in ciphertext, "stored encrypted, never in clear"
    context = {"purpose": "genesys-oauth-token", "item": "TOKEN#genesys"}
    assert deployment.kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext=context)["Plaintext"] == b"t1"


def test_given_a_401_then_one_refresh_serves_every_container(org: Org, deployment: Deployment) -> None:
    first = deployment.container(org, store=deployment.store())
    second = deployment.container(org, store=deployment.store())
    first.get_user_presence(USER)
    second.get_user_presence(USER)
    assert org.tokens_issued == 1

    def refuse_t1(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer t1":
            return httpx.Response(401, json={"message": "token revoked", "status": 401})
        return httpx.Response(200, json=PRESENCE)

    org.on(PRESENCE_PATH, *[refuse_t1] * 4)
    first.get_user_presence(USER)  # 401, rejects t1 for everybody, refreshes: t2
    second.get_user_presence(USER)  # still holds t1 in memory: 401, then the t2 the first one stored
    assert org.tokens_issued == 2, "the second container did not log in"
    sent = [r.headers["Authorization"] for r in org.requests if r.url.path == PRESENCE_PATH][2:]
    assert sent == ["Bearer t1", "Bearer t2", "Bearer t1", "Bearer t2"]


def test_unshared_a_401_for_a_token_already_replaced_does_not_log_in_again(org: Org) -> None:
    client = make_client(org)
    client.get_user_presence(USER)
    client._tokens.invalidate("t1")
    client.get_user_presence(USER)
    assert org.tokens_issued == 2
    client._tokens.invalidate("t1")  # a late 401 of another thread, for the token already replaced
    client.get_user_presence(USER)
    assert org.tokens_issued == 2
