"""The Genesys client without a network: token caching and the one 401 refresh, 429 parsing, the bounded retry of
idempotent calls, timeouts, errors that say what is wrong, and the settings that say where Genesys is."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from presence_manager.errors import (
    GenesysBadRequest,
    GenesysForbidden,
    GenesysNotFound,
    GenesysRateLimited,
    GenesysUnauthorized,
    GenesysUnavailable,
)
from presence_manager.genesys.auth import TokenProvider
from presence_manager.genesys.client import GenesysClient
from presence_manager.genesys.settings import GenesysSettings
from tests.aws_tables import mocked_aws_environment

API = "https://api.mypurecloud.com"
USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
PRESENCE = {
    "presenceDefinition": {"id": "d1", "systemPresence": "Available"},
    "message": "",
    "modifiedDate": "2026-11-24T10:00:00.000Z",
}


class Org:
    """A scripted Genesys: answers are queued per path; every request is recorded."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Callable[[httpx.Request], httpx.Response]]] = {}
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.expires_in = 86400

    def on(self, path: str, *answers: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers.setdefault(path, []).extend(answers)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/oauth/token":
            self.tokens_issued += 1
            body = {"access_token": f"t{self.tokens_issued}", "token_type": "bearer", "expires_in": self.expires_in}
            return httpx.Response(200, json=body)
        queue = self.answers.get(request.url.path, [])
        return queue.pop(0)(request) if queue else httpx.Response(200, json=PRESENCE)

    def api_calls(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == path)


def status(code: int, body: dict[str, Any] | None = None, **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(code, json=body or {"message": f"status {code}", "status": code}, headers=headers)


def timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.fixture
def org() -> Org:
    return Org()


def make_client(org: Org, clock: list[float] | None = None) -> GenesysClient:
    settings = GenesysSettings(
        GENESYS_REGION="mypurecloud.com", GENESYS_CLIENT_ID="id", GENESYS_CLIENT_SECRET=SecretStr("secret")
    )
    http = httpx.Client(transport=httpx.MockTransport(org.handle))
    now = clock or [0.0]
    tokens = TokenProvider(settings.login_url, "id", SecretStr("secret"), http=http, clock=lambda: now[0])
    return GenesysClient(settings, http=http, tokens=tokens, sleep=lambda _: None)


PRESENCE_PATH = f"/api/v2/users/{USER}/presences/purecloud"


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


def test_a_second_401_is_unauthorized_not_a_loop(org: Org) -> None:
    org.on(PRESENCE_PATH, status(401), status(401))
    with pytest.raises(GenesysUnauthorized):
        make_client(org).get_user_presence(USER)
    assert org.api_calls(PRESENCE_PATH) == 2


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
    assert json.loads(str(raised.value))["retryAfterSeconds"] == seconds, "what the state machine's Wait reads"
    assert org.api_calls(PRESENCE_PATH) == 1, "429 is the state machine's to wait out"


def test_5xx_on_a_read_is_retried_a_bounded_number_of_times(org: Org) -> None:
    org.on(PRESENCE_PATH, status(503), status(502))
    assert make_client(org).get_user_presence(USER).message == ""
    assert org.api_calls(PRESENCE_PATH) == 3
    org.on(PRESENCE_PATH, status(503), status(503), status(503))
    with pytest.raises(GenesysUnavailable):
        make_client(org).get_user_presence(USER)


def test_timeouts_on_a_read_are_retried_then_unavailable(org: Org) -> None:
    org.on(PRESENCE_PATH, timeout, timeout, timeout)
    with pytest.raises(GenesysUnavailable, match="timed out"):
        make_client(org).get_user_presence(USER)
    assert org.api_calls(PRESENCE_PATH) == 3


def test_a_patch_is_never_retried(org: Org) -> None:
    org.on(PRESENCE_PATH, status(503))
    with pytest.raises(GenesysUnavailable):
        make_client(org).patch_user_presence(USER, "d2", "hi")
    assert org.api_calls(PRESENCE_PATH) == 1
    sent = next(r for r in org.requests if r.method == "PATCH")
    assert json.loads(sent.content) == {"presenceDefinition": {"id": "d2"}, "message": "hi"}


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


def test_the_bearer_token_never_goes_to_another_host(org: Org) -> None:
    search = "/api/v2/workforcemanagement/managementunits/mu/agentschedules/search"
    org.on(
        search, lambda _: httpx.Response(200, json={"status": "Complete", "downloadUrl": "https://downloads.example/x"})
    )
    org.on("/x", lambda _: httpx.Response(200, json={"agentSchedules": [], "businessUnitTimeZone": "Europe/London"}))
    from datetime import UTC, datetime

    now = datetime(2026, 11, 24, tzinfo=UTC)
    result = make_client(org).search_agent_schedules("mu", now, now, [USER])
    assert result.business_unit_time_zone == "Europe/London"
    download = next(r for r in org.requests if r.url.host == "downloads.example")
    assert "Authorization" not in download.headers


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


def test_a_schedule_search_still_processing_is_searched_again_then_read_inline(org: Org) -> None:
    from datetime import UTC, datetime

    search = "/api/v2/workforcemanagement/managementunits/mu/agentschedules/search"
    complete = {"status": "Complete", "result": {"agentSchedules": [{"user": {"id": USER}, "shifts": []}]}}
    org.on(
        search,
        lambda _: httpx.Response(200, json={"status": "Processing", "operationId": "op-1"}),
        lambda _: httpx.Response(200, json=complete),
    )
    now = datetime(2026, 11, 24, tzinfo=UTC)
    result = make_client(org).search_agent_schedules("mu", now, now, [USER])
    assert [s.user.id for s in result.agent_schedules] == [USER]
    assert org.api_calls(search) == 2
    body = json.loads(org.requests[-1].content)
    assert body == {"startDate": "2026-11-24T00:00:00Z", "endDate": "2026-11-24T00:00:00Z", "userIds": [USER]}
