"""Our client against the simulator, every request checked against the official SDK's model for its endpoint:
field names (``attribute_map``), JSON types and enum values, so we never send a field Genesys does not have."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import PureCloudPlatformClientV2 as sdk
import pytest
from pydantic import SecretStr

from presence_manager.errors import GenesysRateLimited, PresenceDefinitionNotFound
from presence_manager.genesys.client import GenesysClient
from presence_manager.genesys.models import (
    MutableUserPresence,
    PresenceDefinition,
    UserRoutingSkill,
    UserRoutingSkillPost,
)
from presence_manager.genesys.regions import REGIONS
from presence_manager.genesys.settings import GenesysSettings
from presence_manager_local.simulator.server import start_simulator

pytestmark = pytest.mark.contract

#: (method, path template) → the SDK model of the request body ("list[X]" for arrays)
REQUEST_MODELS = {
    ("PATCH", "/api/v2/users/{userId}/presences/purecloud"): "UserPresence",
    ("PUT", "/api/v2/users/presences/bulk"): "list[MutableUserPresence]",
    ("PATCH", "/api/v2/users/{userId}/routingskills/bulk"): "list[UserRoutingSkillPost]",
    ("PUT", "/api/v2/users/{userId}/routingskills/{skillId}"): "UserRoutingSkill",
    ("POST", "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search"): (
        "BuSearchAgentSchedulesRequest"
    ),
}
JSON_TYPES = {"str": str, "bool": bool, "int": int, "float": (int, float), "datetime": str, "date": str}


def check_against_sdk(value: Any, swagger_type: str, where: str) -> None:
    """Recursively: every key is in the SDK model's attribute_map, every value has the declared type, every enum
    value is allowed (the SDK's own setters validate enums)."""
    if swagger_type.startswith("list["):
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            check_against_sdk(item, swagger_type[5:-1], f"{where}[{i}]")
        return
    if swagger_type in JSON_TYPES:
        assert isinstance(value, JSON_TYPES[swagger_type]), f"{where}: {value!r} is not {swagger_type}"
        return
    model = getattr(sdk, swagger_type)()
    assert isinstance(value, dict), where
    by_json = {json_name: attr for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        assert key in by_json, f"{where}.{key} is not a field of the SDK's {swagger_type}"
        attr = by_json[key]
        check_against_sdk(item, model.swagger_types[attr], f"{where}.{key}")
        if isinstance(item, str) and model.swagger_types[attr] == "str":
            setattr(model, attr, item)  # raises ValueError for a value outside the enum


class RecordingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content and request.url.path != "/oauth/token" else None
        self.sent.append((request.method, request.url.path, body))
        return super().handle_request(request)


@pytest.fixture
def simulator() -> Iterator[Any]:
    handle = start_simulator(port=0)
    yield handle
    handle.stop()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def client(simulator: Any, transport: RecordingTransport) -> GenesysClient:
    settings = GenesysSettings(
        GENESYS_API_URL=simulator.url,
        GENESYS_LOGIN_URL=simulator.url,
        GENESYS_CLIENT_ID="sim-client-id",
        GENESYS_CLIENT_SECRET=SecretStr("sim-client-secret"),
    )
    return GenesysClient(settings, http=httpx.Client(transport=transport, timeout=10), sleep=lambda _: None)


def template_of(path: str) -> str:
    parts = path.strip("/").split("/")
    for _, template in REQUEST_MODELS:
        names = template.strip("/").split("/")
        if len(names) == len(parts) and all(n.startswith("{") or n == p for n, p in zip(names, parts, strict=True)):
            return template
    return path


def test_every_request_body_our_client_sends_matches_the_sdk_model(
    client: GenesysClient, simulator: Any, transport: RecordingTransport
) -> None:
    state = simulator.state.snapshot()
    agent = next(u for u in state["users"] if u["schedulePattern"] == "on_queue")
    unit = state["managementUnits"][0]
    skill = state["skills"][-1]["id"]
    now = datetime.now(UTC)

    away = client.resolve_presence("away")
    client.patch_user_presence(agent["id"], away.id, "from our client")
    client.patch_user_routing_skills_bulk(agent["id"], [UserRoutingSkillPost(id=skill, proficiency=2.5)])
    client.put_user_routing_skill(agent["id"], UserRoutingSkill(id=skill, state="inactive", proficiency=2.5))
    schedules = client.search_agent_schedules(
        unit["id"], now - timedelta(hours=1), now + timedelta(hours=1), unit["userIds"]
    )
    assert len(schedules.agent_schedules) == len(unit["userIds"]), "the downloadUrl answer was followed"
    assert client.get_routing_status(agent["id"]).status in {"OFF_QUEUE", "IDLE", "INTERACTING"}
    assert client.get_business_unit_time_zone(unit["businessUnitId"]) == "America/New_York"
    assert client.get_activity_codes(unit["businessUnitId"])
    assert [u.id for u in client.get_management_unit_users(unit["id"])] == unit["userIds"]
    others = [u["id"] for u in state["users"][:3]]
    bulk = [
        MutableUserPresence(id=u, presence_definition=PresenceDefinition(id=away.id), message="bulk") for u in others
    ]
    assert {p.id for p in client.put_users_presences_bulk(bulk)} == set(others)
    read_back = client.get_users_presences_bulk(others)
    assert {p.presence_definition.id for p in read_back} == {away.id}
    client.delete_user_routing_skill(agent["id"], skill)
    assert skill not in {s.id for s in client.get_user_routing_skills(agent["id"])}

    checked = 0
    for method, path, body in transport.sent:
        model = REQUEST_MODELS.get((method, template_of(path)))
        if body is not None:
            assert model, f"{method} {path} sent a body but has no SDK model on record"
            check_against_sdk(body, model, f"{method} {path}")
            checked += 1
    assert checked == 5


def test_presence_names_resolve_like_genesys_names_them(client: GenesysClient) -> None:
    on_queue = client.resolve_presence("On Queue")
    assert on_queue.system_presence == "OnQueue"
    assert client.resolve_presence("OnQueue").id == on_queue.id == client.resolve_presence(on_queue.id).id
    assert client.resolve_presence("lunch").type == "User"
    with pytest.raises(PresenceDefinitionNotFound, match="deactivated"):
        client.resolve_presence("Legacy Onboarding")
    with pytest.raises(PresenceDefinitionNotFound, match="available"):
        client.resolve_presence("Nap time")


def test_a_429_carries_retry_after_and_is_not_retried_in_process(
    client: GenesysClient, simulator: Any, transport: RecordingTransport
) -> None:
    user = simulator.state.snapshot()["users"][0]["id"]
    simulator.state.add_fault({"kind": "rate_limit", "method": "GET", "count": 1, "retryAfter": 7})
    with pytest.raises(GenesysRateLimited) as raised:
        client.get_user_presence(user)
    assert raised.value.retry_after_seconds == 7
    assert sum(1 for m, p, _ in transport.sent if m == "GET" and p.endswith("/presences/purecloud")) == 1


def test_an_expired_token_is_refreshed_once(
    client: GenesysClient, simulator: Any, transport: RecordingTransport
) -> None:
    user = simulator.state.snapshot()["users"][0]["id"]
    client.get_user_presence(user)
    simulator.state.expire_tokens()
    client.get_user_presence(user)
    assert [p for _, p, _ in transport.sent].count("/oauth/token") == 2


def test_our_region_list_is_the_sdks() -> None:
    from PureCloudPlatformClientV2.purecloud_region_hosts import PureCloudRegionHosts

    sdk_hosts = {region.value.removeprefix("https://api.") for region in PureCloudRegionHosts}
    assert set(REGIONS) == sdk_hosts
