"""Our client against the simulator, every request checked against the official SDK's model for its endpoint:
field names (``attribute_map``), JSON types and enum values, so we never send a field Genesys does not have; and
every answer our client reads deserialised by the SDK into the response type of the SDK's operation."""

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
#: (method, path template) → the SDK response type of the operation (``response_type`` in its apis/*.py)
RESPONSE_MODELS = {
    ("GET", "/api/v2/presence/definitions"): "OrganizationPresenceDefinitionEntityListing",
    ("GET", "/api/v2/architect/schedulegroups/{scheduleGroupId}"): "ScheduleGroup",
    ("GET", "/api/v2/architect/schedules/{scheduleId}"): "Schedule",
    ("PATCH", "/api/v2/users/{userId}/presences/purecloud"): "UserPresence",
    ("PUT", "/api/v2/users/presences/bulk"): "list[UserPresence]",
    ("GET", "/api/v2/users/presences/purecloud/bulk"): "list[UcUserPresence]",
    ("GET", "/api/v2/users"): "UserEntityListing",
    ("GET", "/api/v2/users/{userId}/routingstatus"): "RoutingStatus",
    ("GET", "/api/v2/users/{userId}/routingskills"): "UserSkillEntityListing",
    ("PATCH", "/api/v2/users/{userId}/routingskills/bulk"): "UserSkillEntityListing",
    ("PUT", "/api/v2/users/{userId}/routingskills/{skillId}"): "UserRoutingSkill",
    ("GET", "/api/v2/workforcemanagement/agents/{agentId}/managementunit"): "AgentManagementUnitReference",
    ("GET", "/api/v2/workforcemanagement/businessunits/{businessUnitId}"): "BusinessUnitResponse",
    ("GET", "/api/v2/workforcemanagement/businessunits/{businessUnitId}/activitycodes"): (
        "BusinessUnitActivityCodeListing"
    ),
    ("GET", "/api/v2/workforcemanagement/managementunits"): "ManagementUnitListing",
    ("GET", "/api/v2/workforcemanagement/managementunits/{managementUnitId}/users"): "WfmUserEntityListing",
    ("POST", "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search"): (
        "BuAsyncAgentSchedulesSearchResponse"
    ),
    # the simulator's download service; in these tests only schedule searches are answered with a downloadUrl
    ("GET", "/__sim/downloads/{downloadId}"): "BuAgentSchedulesSearchResponse",
}
BULK_GET = "/api/v2/users/presences/purecloud/bulk"
BULK_PUT = "/api/v2/users/presences/bulk"
UNITS = "/api/v2/workforcemanagement/managementunits"
JSON_TYPES = {
    "str": str,
    "bool": bool,
    "int": int,
    "float": (int, float),
    "datetime": str,
    "date": str,
    "LocalDateTime": str,  # Architect schedules' start/end: "2026-11-26T08:00:00.000", no offset
}


def check_against_sdk(value: Any, swagger_type: str, where: str, *, nulls: bool = False) -> None:
    """Recursively: every key is in the SDK model's attribute_map, every value has the declared type, every enum
    value is allowed (the SDK's own setters validate enums). ``nulls``: a ``null`` value passes (answers only; a
    request never sends one)."""
    if value is None and nulls:
        return
    if swagger_type.startswith("list["):
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            check_against_sdk(item, swagger_type[5:-1], f"{where}[{i}]", nulls=nulls)
        return
    if swagger_type.startswith("dict("):
        assert isinstance(value, dict), where
        inner = swagger_type[5:-1].split(", ", 1)[1]
        for key, item in value.items():
            check_against_sdk(item, inner, f"{where}.{key}", nulls=nulls)
        return
    if swagger_type == "object":
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
        check_against_sdk(item, model.swagger_types[attr], f"{where}.{key}", nulls=nulls)
        if isinstance(item, str) and model.swagger_types[attr] == "str":
            setattr(model, attr, item)  # raises ValueError for a value outside the enum


def sdk_answer(value: Any, swagger_type: str, where: str) -> Any:
    """An answer checked field by field against the SDK model, then deserialised by the SDK's own ApiClient (enum
    values it does not know would come back as ``outdated_sdk_version``)."""
    check_against_sdk(value, swagger_type, where, nulls=True)
    result = sdk.ApiClient()._ApiClient__deserialize(value, swagger_type)  # type: ignore[attr-defined]
    plain = [item.to_dict() for item in result] if isinstance(result, list) else result.to_dict()
    assert "outdated_sdk_version" not in repr(plain), f"{where}: an enum value unknown to the SDK"
    return result


class RecordingTransport(httpx.HTTPTransport):
    """Records every request (method, path, query, JSON body) and its answer (status, JSON body)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str, Any]] = []
        self.queries: list[httpx.QueryParams] = []
        self.answers: list[tuple[int, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content and request.url.path != "/oauth/token" else None
        self.sent.append((request.method, request.url.path, body))
        self.queries.append(request.url.params)
        response = super().handle_request(request)
        raw = b"".join(response.iter_raw())  # the simulator sends identity-encoded JSON
        response.close()
        answer = json.loads(raw) if raw and request.url.path != "/oauth/token" else None
        self.answers.append((response.status_code, answer))
        return httpx.Response(
            response.status_code, headers=response.headers, content=raw, request=request, extensions=response.extensions
        )

    def api_calls(self, method: str, path: str) -> list[int]:
        """Indexes of the recorded requests to ``method path``."""
        return [i for i, (m, p, _) in enumerate(self.sent) if (m, p) == (method, path)]


def check_answers(transport: RecordingTransport) -> set[tuple[str, str]]:
    """Every 200 answer deserialised into its SDK response type; the (method, template) pairs checked."""
    checked: set[tuple[str, str]] = set()
    for (method, path, _), (status, answer) in zip(transport.sent, transport.answers, strict=True):
        if path == "/oauth/token" or status != 200:
            continue
        key = (method, template_of(path, RESPONSE_MODELS))
        assert key in RESPONSE_MODELS, f"{method} {path} answered but has no SDK response type on record"
        sdk_answer(answer, RESPONSE_MODELS[key], f"{method} {path} answer")
        checked.add(key)
    return checked


@pytest.fixture
def simulator() -> Iterator[Any]:
    handle = start_simulator(port=0)
    yield handle
    handle.stop()


@pytest.fixture
def transport() -> RecordingTransport:
    return RecordingTransport()


def client_on(simulator: Any, transport: RecordingTransport) -> GenesysClient:
    settings = GenesysSettings(
        GENESYS_API_URL=simulator.url,
        GENESYS_LOGIN_URL=simulator.url,
        GENESYS_CLIENT_ID="sim-client-id",
        GENESYS_CLIENT_SECRET=SecretStr("sim-client-secret"),
    )
    return GenesysClient(settings, http=httpx.Client(transport=transport, timeout=10), sleep=lambda _: None)


@pytest.fixture
def client(simulator: Any, transport: RecordingTransport) -> GenesysClient:
    return client_on(simulator, transport)


def template_of(path: str, models: dict[tuple[str, str], str] = REQUEST_MODELS) -> str:
    """The template of ``models`` that ``path`` fills; an exact template wins over one with placeholders."""
    parts = path.strip("/").split("/")
    matches = []
    for _, template in models:
        names = template.strip("/").split("/")
        if len(names) == len(parts) and all(n.startswith("{") or n == p for n, p in zip(names, parts, strict=True)):
            matches.append((template.count("{"), template))
    return min(matches)[1] if matches else path


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

    now_routing = {u["id"]: u["routingStatus"] for u in simulator.state.snapshot()["users"][:3]}
    assert client.get_users_routing_status(others) == now_routing == dict.fromkeys(others, "OFF_QUEUE"), "now Away"
    assert {u.id for u in client.get_management_units()} == {unit["id"]}
    assert set(client.agent_directory()) == set(unit["userIds"])
    assert client.get_agent_management_unit(agent["id"]).management_unit.id == unit["id"]
    group = client.get_schedule_group(simulator.state.schedule_group_for_business_unit(unit["businessUnitId"]))
    assert group.time_zone == "America/New_York"
    refs = [*group.open_schedules, *group.closed_schedules, *group.holiday_schedules]
    assert [client.get_schedule(ref.id).name for ref in refs] == [ref.name for ref in refs]

    checked: set[tuple[str, str]] = set()
    for method, path, body in transport.sent:
        key = (method, template_of(path))
        model = REQUEST_MODELS.get(key)
        if body is not None:
            assert model, f"{method} {path} sent a body but has no SDK model on record"
            check_against_sdk(body, model, f"{method} {path}")
            checked.add(key)
    assert checked == set(REQUEST_MODELS), "every request body on record was sent and checked"
    assert check_answers(transport) == set(RESPONSE_MODELS), "every answer type on record was read and checked"


@pytest.fixture
def big_simulator() -> Iterator[Any]:
    """A generated org of 120 agents over six management units in three business units."""
    handle = start_simulator(port=0, agents=120)
    yield handle
    handle.stop()


def test_the_batch_reads_and_writes_split_as_documented_and_every_answer_is_the_sdks_type(
    big_simulator: Any, transport: RecordingTransport
) -> None:
    client = client_on(big_simulator, transport)
    org = big_simulator.state
    ids = list(org.users)[:51]
    offline = client.resolve_presence("Offline")

    presences = client.get_users_presences_bulk(ids + ids[:2])
    reads = transport.api_calls("GET", BULK_GET)
    assert [transport.queries[i]["id"].split(",") for i in reads] == [ids[:50], ids[50:]], "50 ids, then 1"
    assert [p.user_id for p in presences] == ids
    read_by_sdk = [p for i in reads for p in sdk_answer(transport.answers[i][1], "list[UcUserPresence]", BULK_GET)]
    assert all(isinstance(p, sdk.UcUserPresence) for p in read_by_sdk)
    assert [(p.user_id, p.presence_definition.id) for p in read_by_sdk] == [
        (u, org.users[u].definition_id) for u in ids
    ]

    items = [
        MutableUserPresence(id=u, presence_definition=PresenceDefinition(id=offline.id), message="shift over")
        for u in ids
    ]
    written = client.put_users_presences_bulk(items)
    puts = transport.api_calls("PUT", BULK_PUT)
    assert [[item["id"] for item in transport.sent[i][2]] for i in puts] == [ids[:50], ids[50:]]
    for i in puts:
        check_against_sdk(transport.sent[i][2], REQUEST_MODELS[("PUT", BULK_PUT)], f"PUT {BULK_PUT}")
    written_by_sdk = [p for i in puts for p in sdk_answer(transport.answers[i][1], "list[UserPresence]", BULK_PUT)]
    assert all(isinstance(p, sdk.UserPresence) for p in written_by_sdk)
    assert {(p.id, p.presence_definition.id, p.message) for p in written_by_sdk} == {
        (u, offline.id, "shift over") for u in ids
    }
    assert [w.id for w in written] == ids
    assert all(org.users[u].definition_id == offline.id for u in ids), "the writes landed"

    everyone = list(org.users)
    routing = client.get_users_routing_status(everyone)
    listings = transport.api_calls("GET", "/api/v2/users")
    assert [transport.queries[i]["id"].split(",") for i in listings] == [everyone[:100], everyone[100:]]
    assert {transport.queries[i]["expand"] for i in listings} == {"routingStatus"}
    by_sdk = [sdk_answer(transport.answers[i][1], "UserEntityListing", "GET /api/v2/users") for i in listings]
    assert all(isinstance(listing, sdk.UserEntityListing) for listing in by_sdk)
    assert {u.id: u.routing_status.status for listing in by_sdk for u in listing.entities} == routing
    assert routing == {u.id: u.routing_status for u in org.users.values()}
    assert not any(p.endswith("/routingstatus") for _, p, _ in transport.sent), "expanded: no read per user"

    units = client.get_management_units()
    directory = client.agent_directory()
    assert client.agent_directory() == directory and client.get_management_units() == units, "cached"
    listed = transport.api_calls("GET", UNITS)
    assert len(listed) == 1
    sdk_units = sdk_answer(transport.answers[listed[0]][1], "ManagementUnitListing", f"GET {UNITS}").entities
    assert [(u.id, u.business_unit.id) for u in sdk_units] == [(u.id, u.business_unit.id) for u in units]
    assert len(units) == len(org.management_units) == 6
    member_reads = [p for m, p, _ in transport.sent if m == "GET" and p.startswith(f"{UNITS}/")]
    assert sorted(member_reads) == sorted(f"{UNITS}/{u.id}/users" for u in units), "one read per unit"
    assert {u: (r.management_unit.id, r.business_unit.id) for u, r in directory.items()} == {
        u.id: (u.management_unit_id, u.business_unit_id) for u in org.users.values()
    }
    for user_id in everyone[::29]:
        single = client.get_agent_management_unit(user_id)
        assert (single.management_unit.id, single.business_unit.id) == (
            directory[user_id].management_unit.id,
            directory[user_id].business_unit.id,
        )

    assert check_answers(transport) >= {
        ("GET", BULK_GET),
        ("PUT", BULK_PUT),
        ("GET", "/api/v2/users"),
        ("GET", UNITS),
        ("GET", f"{UNITS}/{{managementUnitId}}/users"),
    }


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
