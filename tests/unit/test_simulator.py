"""Specification of the Genesys Cloud simulator: endpoints, errors, rate limit, faults and the admin API."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from presence_manager_local.simulator.fixture import generate_schedule, load_fixture
from presence_manager_local.simulator.server import SimulatorHandle, start_simulator

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
PRESENCE = "/api/v2/users/{}/presences/purecloud"
SEARCH = "/api/v2/workforcemanagement/managementunits/{}/agentschedules/search"
NEW_YORK = ZoneInfo("America/New_York")


class Clock:
    """A settable clock for the simulator (rate windows, token expiry, modifiedDate)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)


class Sim:
    """A running simulator, an httpx client on it and a bearer token."""

    def __init__(self, handle: SimulatorHandle) -> None:
        self.handle = handle
        self.http = httpx.Client(base_url=handle.url, timeout=10)
        self.token = self.new_token()

    def new_token(self) -> str:
        response = self.http.post(
            "/oauth/token",
            auth=(self.handle.client_id, self.handle.client_secret),
            data={"grant_type": "client_credentials"},
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def state(self) -> dict[str, Any]:
        return self.http.get("/__sim/state").json()

    def user(self, user_id: str) -> dict[str, Any]:
        return self.http.get(f"/__sim/users/{user_id}").json()

    def pattern(self, name: str) -> list[str]:
        return self.state()["patterns"][name]["userIds"]

    def definition(self, label: str) -> dict[str, Any]:
        return next(d for d in self.state()["presenceDefinitions"] if d["label"] == label)

    def fault(self, **spec: Any) -> str:
        response = self.http.post("/__sim/faults", json=spec)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def management_unit(self) -> str:
        return self.state()["managementUnits"][0]["id"]


@pytest.fixture
def sim() -> Iterator[Sim]:
    handle = start_simulator(port=0)
    try:
        yield Sim(handle)
    finally:
        handle.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def assert_error_body(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["message"]
    assert body["contextId"] == response.headers["ININ-Correlation-Id"]
    assert_sdk_shape(body, "ErrorBody")
    return body


# ---- SDK contract helpers --------------------------------------------------------------------------------------------


def assert_sdk_shape(data: Any, type_name: str, where: str = "$") -> None:
    """Every key is in the SDK model's attribute_map (recursively) and every value has the swagger type."""
    from PureCloudPlatformClientV2 import models as sdk_models

    if data is None:
        return
    if type_name.startswith("list["):
        assert isinstance(data, list), f"{where}: expected a list"
        for index, item in enumerate(data):
            assert_sdk_shape(item, type_name[5:-1], f"{where}[{index}]")
    elif type_name.startswith("dict("):
        assert isinstance(data, dict), f"{where}: expected an object"
        inner = re.match(r"dict\(([^,]*), (.*)\)", type_name).group(2)  # type: ignore[union-attr]
        for key, value in data.items():
            assert_sdk_shape(value, inner, f"{where}.{key}")
    elif type_name == "str":
        assert isinstance(data, str), f"{where}: expected a string"
    elif type_name == "int":
        assert isinstance(data, int) and not isinstance(data, bool), f"{where}: expected an int"
    elif type_name == "float":
        assert isinstance(data, int | float) and not isinstance(data, bool), f"{where}: expected a number"
    elif type_name == "bool":
        assert isinstance(data, bool), f"{where}: expected a bool"
    elif type_name == "datetime":
        assert isinstance(data, str) and ISO_MS.match(data), f"{where}: expected an ISO-8601 instant, got {data}"
    elif type_name == "date":
        assert isinstance(data, str) and re.match(r"^\d{4}-\d\d-\d\d$", data), f"{where}: expected a date"
    elif type_name == "object":
        pass
    else:
        model = getattr(sdk_models, type_name)()
        json_names = {json_name: attr for attr, json_name in model.attribute_map.items()}
        assert isinstance(data, dict), f"{where}: expected a {type_name} object"
        for key, value in data.items():
            assert key in json_names, f"{where}: {key!r} is not a field of the SDK's {type_name}"
            assert_sdk_shape(value, model.swagger_types[json_names[key]], f"{where}.{key}")


def sdk_deserialize(data: Any, type_name: str) -> Any:
    """Deserialise with the SDK's own ApiClient; enum values it does not know come back as outdated_sdk_version."""
    import PureCloudPlatformClientV2

    deserialize = PureCloudPlatformClientV2.ApiClient()._ApiClient__deserialize  # type: ignore[attr-defined]
    result = deserialize(data, type_name)
    plain = [item.to_dict() for item in result] if isinstance(result, list) else result.to_dict()
    assert "outdated_sdk_version" not in repr(plain), f"an enum value unknown to the SDK in {type_name}: {plain}"
    return result


def assert_sdk_response(response: httpx.Response, type_name: str) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    data = response.json()
    assert_sdk_shape(data, type_name)
    return sdk_deserialize(data, type_name)


# ---- OAuth -----------------------------------------------------------------------------------------------------------


def test_given_the_default_client_when_it_asks_for_a_token_then_it_gets_a_bearer_token(sim: Sim) -> None:
    response = sim.http.post(
        "/oauth/token", auth=("sim-client-id", "sim-client-secret"), data={"grant_type": "client_credentials"}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86400
    assert uuid.UUID(response.headers["ININ-Correlation-Id"])
    assert sim.api("GET", "/api/v2/presence/definitions", token=body["access_token"]).status_code == 200


@pytest.mark.parametrize(("client_id", "secret"), [("nobody", "sim-client-secret"), ("sim-client-id", "wrong")])
def test_given_an_unknown_client_or_bad_secret_when_it_asks_for_a_token_then_401_invalid_client(
    sim: Sim, client_id: str, secret: str
) -> None:
    response = sim.http.post("/oauth/token", auth=(client_id, secret), data={"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "description": "client not found",
        "error_description": "client not found",
    }
    assert response.headers["ININ-Correlation-Id"]


def test_given_another_grant_type_when_asking_for_a_token_then_400_unsupported_grant_type(sim: Sim) -> None:
    response = sim.http.post(
        "/oauth/token", auth=("sim-client-id", "sim-client-secret"), data={"grant_type": "password"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_given_no_token_or_an_unknown_one_when_calling_the_api_then_401_error_body(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    missing = sim.http.get(PRESENCE.format(user_id))
    assert_error_body(missing, 401, "authentication.required")
    unknown = sim.api("GET", PRESENCE.format(user_id), token="not-a-token")
    body = assert_error_body(unknown, 401, "bad.credentials")
    assert body["message"] == "Invalid login credentials."


def test_given_a_token_past_its_lifetime_when_calling_the_api_then_401_and_a_new_token_works(clock: Clock) -> None:
    with start_simulator(now=clock) as handle:
        sim = Sim(handle)
        user_id = sim.pattern("on_queue")[0]
        clock.advance(seconds=86400)
        assert_error_body(sim.api("GET", PRESENCE.format(user_id)), 401, "bad.credentials")
        assert sim.api("GET", PRESENCE.format(user_id), token=sim.new_token()).status_code == 200


def test_given_expired_tokens_by_the_admin_api_when_calling_the_api_then_401(sim: Sim) -> None:
    assert sim.http.post("/__sim/tokens/expire").json()["expired"] == 1
    assert_error_body(sim.api("GET", "/api/v2/presence/definitions"), 401, "bad.credentials")


# ---- presence definitions --------------------------------------------------------------------------------------------


def test_given_the_org_when_listing_presence_definitions_then_system_and_active_secondary_ones_come(sim: Sim) -> None:
    response = sim.api("GET", "/api/v2/presence/definitions")
    listing = response.json()
    assert_sdk_response(response, "OrganizationPresenceDefinitionEntityListing")
    system = {d["systemPresence"]: d for d in listing["entities"] if d["type"] == "System"}
    assert set(system) == {
        "Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal", "Training", "Meeting", "Break"
    }  # fmt: skip
    assert system["OnQueue"]["languageLabels"] == {"en_US": "On Queue"}
    secondary = {d["languageLabels"]["en_US"]: d["systemPresence"] for d in listing["entities"] if d["type"] == "User"}
    assert secondary == {"Lunch": "Meal", "Coaching": "Meeting", "Back Office": "Busy", "Tech Issue": "Away"}
    assert not any(d["deactivated"] for d in listing["entities"])
    assert listing["total"] == len(listing["entities"]) == 14


def test_given_deactivated_true_when_listing_definitions_then_deactivated_ones_are_included(sim: Sim) -> None:
    listing = sim.api("GET", "/api/v2/presence/definitions", params={"deactivated": "true"}).json()
    deactivated = [d for d in listing["entities"] if d["deactivated"]]
    assert [d["languageLabels"]["en_US"] for d in deactivated] == ["Legacy Onboarding"]
    assert listing["total"] == 15
    assert_error_body(
        sim.api("GET", "/api/v2/presence/definitions", params={"deactivated": "maybe"}), 400, "bad.request"
    )


def test_given_a_definition_id_when_getting_it_then_it_comes_and_an_unknown_one_is_404(sim: Sim) -> None:
    lunch = sim.definition("Lunch")
    response = sim.api("GET", f"/api/v2/presence/definitions/{lunch['id']}")
    definition = assert_sdk_response(response, "OrganizationPresenceDefinition")
    assert definition.system_presence == "Meal"
    assert definition.type == "User"
    assert_error_body(sim.api("GET", f"/api/v2/presence/definitions/{uuid.uuid4()}"), 404, "not.found")


# ---- user presence ---------------------------------------------------------------------------------------------------


def test_given_an_on_queue_agent_when_reading_presence_then_on_queue_is_spelled_with_a_space(sim: Sim) -> None:
    user_id = next(u["id"] for u in sim.state()["users"] if u["presence"]["systemPresence"] == "OnQueue")
    response = sim.api("GET", PRESENCE.format(user_id))
    presence = assert_sdk_response(response, "UserPresence")
    body = response.json()
    assert body["source"] == "PURECLOUD"
    assert body["presenceDefinition"]["systemPresence"] == "On Queue"
    assert ISO_MS.match(body["modifiedDate"])
    assert presence.primary is True


def test_given_an_agent_when_patching_presence_then_it_changes_with_a_later_modified_date_and_routing_follows(
    sim: Sim,
) -> None:
    user_id = next(
        u["id"]
        for u in sim.state()["users"]
        if u["schedulePattern"] == "on_queue" and u["presence"]["systemPresence"] == "Available"
    )
    before = sim.api("GET", PRESENCE.format(user_id)).json()
    on_queue = sim.definition("On Queue")

    patched = sim.api(
        "PATCH", PRESENCE.format(user_id), json={"presenceDefinition": {"id": on_queue["id"]}, "message": "Queue duty"}
    )
    assert_sdk_response(patched, "UserPresence")
    body = patched.json()
    assert body["presenceDefinition"]["id"] == on_queue["id"]
    assert body["message"] == "Queue duty"
    assert body["modifiedDate"] > before["modifiedDate"]
    routing = sim.api("GET", f"/api/v2/users/{user_id}/routingstatus").json()
    assert routing["status"] == "IDLE"
    assert routing["startTime"] == body["modifiedDate"]
    assert sim.api("GET", PRESENCE.format(user_id)).json() == body

    away = sim.definition("Tech Issue")
    off = sim.api("PATCH", PRESENCE.format(user_id), json={"presenceDefinition": {"id": away["id"]}}).json()
    assert off["presenceDefinition"] == {
        "id": away["id"],
        "systemPresence": "Away",
        "selfUri": f"/api/v2/presencedefinitions/{away['id']}",
    }
    assert off["message"] == "Queue duty"
    assert off["modifiedDate"] > body["modifiedDate"]
    assert sim.api("GET", f"/api/v2/users/{user_id}/routingstatus").json()["status"] == "OFF_QUEUE"


def test_given_only_a_message_or_primary_when_patching_then_the_definition_is_kept(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    before = sim.api("GET", PRESENCE.format(user_id)).json()
    after = sim.api("PATCH", PRESENCE.format(user_id), json={"message": "Back in 5", "primary": True}).json()
    assert after["presenceDefinition"] == before["presenceDefinition"]
    assert after["message"] == "Back in 5"
    assert after["modifiedDate"] > before["modifiedDate"]


def test_given_bad_patch_bodies_when_patching_presence_then_400_error_body_and_nothing_changes(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    before = sim.api("GET", PRESENCE.format(user_id)).json()
    legacy = sim.definition("Legacy Onboarding")
    bodies: list[Any] = [
        {"presenceDefinition": {"id": str(uuid.uuid4())}},
        {"presenceDefinition": {"id": legacy["id"]}},
        {"presenceDefinition": {"systemPresence": "Available"}},
        {"presenceDefinition": "Available"},
        {"message": 42},
        {"primary": "yes"},
        {"presence": "Available"},
        {},
        [],
    ]
    for body in bodies:
        assert_error_body(sim.api("PATCH", PRESENCE.format(user_id), json=body), 400, "bad.request")
    invalid_json = sim.api(
        "PATCH", PRESENCE.format(user_id), content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error_body(invalid_json, 400, "bad.request")
    assert sim.api("GET", PRESENCE.format(user_id)).json() == before


def test_given_an_unknown_user_when_reading_or_patching_presence_then_404_but_routing_status_is_off_queue(
    sim: Sim,
) -> None:
    nobody = str(uuid.uuid4())
    assert_error_body(sim.api("GET", PRESENCE.format(nobody)), 404, "not.found")
    available = sim.definition("Available")
    patch = sim.api("PATCH", PRESENCE.format(nobody), json={"presenceDefinition": {"id": available["id"]}})
    assert_error_body(patch, 404, "not.found")
    routing = sim.api("GET", f"/api/v2/users/{nobody}/routingstatus")
    assert assert_sdk_response(routing, "RoutingStatus").status == "OFF_QUEUE"
    assert_error_body(sim.api("GET", "/api/v2/no/such/thing"), 404, "not.found")


def test_given_several_agents_when_putting_bulk_presences_then_all_change_and_bulk_get_reads_them(sim: Sim) -> None:
    users = sim.pattern("on_queue")[:3]
    meal = sim.definition("Lunch")
    response = sim.api(
        "PUT",
        "/api/v2/users/presences/bulk",
        json=[{"id": u, "presenceDefinition": {"id": meal["id"]}, "message": "Lunch"} for u in users],
    )
    results = assert_sdk_response(response, "list[UserPresence]")
    assert [r.id for r in results] == users
    assert {r.presence_definition.id for r in results} == {meal["id"]}

    read = sim.api(
        "GET", "/api/v2/users/presences/purecloud/bulk", params={"id": ",".join([*users, str(uuid.uuid4())])}
    )
    presences = assert_sdk_response(read, "list[UcUserPresence]")
    assert [p.user_id for p in presences] == users
    assert {p.message for p in presences} == {"Lunch"}

    too_many = ",".join(str(uuid.uuid4()) for _ in range(51))
    assert_error_body(
        sim.api("GET", "/api/v2/users/presences/purecloud/bulk", params={"id": too_many}), 400, "bad.request"
    )
    bad = [{"id": users[0], "presenceDefinition": {"id": meal["id"]}}, {"id": str(uuid.uuid4())}]
    assert_error_body(sim.api("PUT", "/api/v2/users/presences/bulk", json=bad), 400, "bad.request")


# ---- routing status and skills ---------------------------------------------------------------------------------------


def test_given_a_live_interaction_set_by_the_admin_api_when_reading_routing_status_then_interacting(sim: Sim) -> None:
    user_id = next(u["id"] for u in sim.state()["users"] if u["routingStatus"] == "IDLE")
    response = sim.http.post(f"/__sim/users/{user_id}/routingstatus", json={"status": "INTERACTING"})
    assert response.json()["routingStatus"] == "INTERACTING"
    assert sim.api("GET", f"/api/v2/users/{user_id}/routingstatus").json()["status"] == "INTERACTING"
    assert sim.http.post(f"/__sim/users/{user_id}/routingstatus", json={"status": "BUSY"}).status_code == 400


def test_given_the_fixture_when_reading_state_then_one_on_queue_agent_is_interacting(sim: Sim) -> None:
    interacting = [u for u in sim.state()["users"] if u["routingStatus"] == "INTERACTING"]
    assert len(interacting) == 1
    assert interacting[0]["presence"]["systemPresence"] == "OnQueue"


def test_given_an_agent_with_skills_when_managing_them_then_listing_bulk_patch_put_and_delete_behave(sim: Sim) -> None:
    state = sim.state()
    user = next(u for u in state["users"] if len(u["skills"]) >= 2)
    skills = {s["name"]: s["id"] for s in state["skills"]}
    base = f"/api/v2/users/{user['id']}/routingskills"

    listing = sim.api("GET", base, params={"pageSize": 1})
    assert_sdk_response(listing, "UserSkillEntityListing")
    page = listing.json()
    assert page["total"] == len(user["skills"])
    assert page["pageCount"] == len(user["skills"])
    assert len(page["entities"]) == 1
    assert page["nextUri"].endswith("pageNumber=2")

    new_skill = next(s for name, s in skills.items() if s not in {k["id"] for k in user["skills"]})
    patched = sim.api("PATCH", f"{base}/bulk", json=[{"id": new_skill, "proficiency": 4.5}])
    entities = {e["id"]: e for e in assert_sdk_response_json(patched, "UserSkillEntityListing")["entities"]}
    assert entities[new_skill]["proficiency"] == 4.5
    assert entities[new_skill]["state"] == "active"
    assert len(entities) == len(user["skills"]) + 1

    assert_error_body(
        sim.api("PATCH", f"{base}/bulk", json=[{"id": str(uuid.uuid4()), "proficiency": 1}]), 400, "bad.request"
    )
    assert_error_body(sim.api("PATCH", f"{base}/bulk", json=[{"id": new_skill, "proficiency": 6}]), 400, "bad.request")
    assert_error_body(
        sim.api("PATCH", f"{base}/bulk", json=[{"id": new_skill, "state": "inactive"}]), 400, "bad.request"
    )

    inactive = sim.api("PUT", f"{base}/{new_skill}", json={"id": new_skill, "state": "inactive"})
    assert assert_sdk_response(inactive, "UserRoutingSkill").state == "inactive"
    assert {s["id"]: s["state"] for s in sim.user(user["id"])["skills"]}[new_skill] == "inactive"

    assert sim.api("DELETE", f"{base}/{new_skill}").status_code == 204
    assert new_skill not in {s["id"] for s in sim.user(user["id"])["skills"]}


def assert_sdk_response_json(response: httpx.Response, type_name: str) -> dict[str, Any]:
    assert_sdk_response(response, type_name)
    return response.json()


# ---- workforce management --------------------------------------------------------------------------------------------


def test_given_an_agent_when_looking_up_wfm_units_then_management_and_business_unit_come(sim: Sim) -> None:
    state = sim.state()
    agent = sim.pattern("on_queue")[0]
    reference = assert_sdk_response(
        sim.api("GET", f"/api/v2/workforcemanagement/agents/{agent}/managementunit"), "AgentManagementUnitReference"
    )
    assert reference.user.id == agent
    assert reference.management_unit.id == state["managementUnits"][0]["id"]
    assert reference.business_unit.id == state["businessUnits"][0]["id"]
    supervisor = sim.pattern("not_in_wfm")[0]
    assert_error_body(
        sim.api("GET", f"/api/v2/workforcemanagement/agents/{supervisor}/managementunit"), 404, "not.found"
    )


def test_given_a_business_unit_when_getting_it_then_the_time_zone_comes_only_when_expanded(sim: Sim) -> None:
    bu = sim.state()["businessUnits"][0]["id"]
    path = f"/api/v2/workforcemanagement/businessunits/{bu}"
    plain = sim.api("GET", path)
    assert assert_sdk_response(plain, "BusinessUnitResponse").settings is None
    expanded = assert_sdk_response(sim.api("GET", path, params={"expand": "settings.timeZone"}), "BusinessUnitResponse")
    assert expanded.settings.time_zone == "America/New_York"
    assert expanded.settings.start_day_of_week is None
    everything = assert_sdk_response(sim.api("GET", path, params={"expand": "settings"}), "BusinessUnitResponse")
    assert everything.settings.start_day_of_week == "Monday"
    assert_error_body(sim.api("GET", f"/api/v2/workforcemanagement/businessunits/{uuid.uuid4()}"), 404, "not.found")


def test_given_the_business_unit_when_listing_activity_codes_then_secondary_presences_map_to_definitions(
    sim: Sim,
) -> None:
    state = sim.state()
    labels = {d["id"]: d["label"] for d in state["presenceDefinitions"]}
    bu = state["businessUnits"][0]["id"]
    response = sim.api("GET", f"/api/v2/workforcemanagement/businessunits/{bu}/activitycodes")
    assert_sdk_response(response, "BusinessUnitActivityCodeListing")
    by_name = {c["name"]: c for c in response.json()["entities"]}
    assert {c["category"] for c in by_name.values()} == {
        "OnQueueWork", "Break", "Meal", "Meeting", "OffQueueWork", "TimeOff", "Training", "Unavailable"
    }  # fmt: skip

    def presences(name: str) -> set[str]:
        return {labels[p["id"]] for p in by_name[name]["secondaryPresences"]}

    assert presences("On Queue Work") == {"On Queue"}
    assert presences("Meal") == {"Meal", "Lunch"}
    assert presences("Meeting") == {"Meeting", "Coaching"}
    assert presences("Off Queue Work") == {"Available", "Busy", "Back Office"}
    assert presences("Time Off") == {"Offline"}


def test_given_the_management_unit_when_listing_its_users_then_every_wfm_agent_comes(sim: Sim) -> None:
    mu = sim.management_unit()
    response = sim.api("GET", f"/api/v2/workforcemanagement/managementunits/{mu}/users")
    assert_sdk_response(response, "WfmUserEntityListing")
    ids = {e["id"] for e in response.json()["entities"]}
    assert ids == set(sim.state()["managementUnits"][0]["userIds"])
    assert len(ids) == 20
    assert not ids & set(sim.pattern("not_in_wfm"))


def search_window(sim: Sim, hours: float = 12, **body: Any) -> httpx.Response:
    now = datetime.now(UTC)
    window = {
        "startDate": (now - timedelta(hours=hours)).isoformat(),
        "endDate": (now + timedelta(hours=hours)).isoformat(),
    }
    return sim.api("POST", SEARCH.format(sim.management_unit()), json={**window, **body})


def test_given_a_few_agents_when_searching_schedules_then_the_result_is_inline_and_matches_the_patterns(
    sim: Sim,
) -> None:
    on_queue, on_break, off_shift = sim.pattern("on_queue")[0], sim.pattern("on_break")[0], sim.pattern("off_shift")[0]
    time_off = sim.pattern("time_off")[0]
    response = search_window(sim, userIds=[on_queue, on_break, off_shift, time_off])
    result = assert_sdk_response(response, "BuAsyncAgentSchedulesSearchResponse")
    assert result.status == "Complete"
    assert result.download_url is None
    assert result.result.business_unit_time_zone == "America/New_York"
    schedules = {s.user.id: s for s in result.result.agent_schedules}
    assert set(schedules) == {on_queue, on_break, off_shift, time_off}
    now = datetime.now(UTC)

    def covering(user_id: str) -> Any:
        for shift in schedules[user_id].shifts:
            if shift.start_date <= now < shift.start_date + timedelta(minutes=shift.length_minutes):
                return shift
        return None

    def activity(shift: Any) -> Any:
        return next(
            a for a in shift.activities if a.start_date <= now < a.start_date + timedelta(minutes=a.length_minutes)
        )

    codes = {c["id"]: c["category"] for c in sim.state()["businessUnits"][0]["activityCodes"]}
    assert codes[activity(covering(on_queue)).activity_code_id] == "OnQueueWork"
    assert codes[activity(covering(on_break)).activity_code_id] == "Break"
    assert covering(off_shift) is None
    assert any(s.start_date > now for s in schedules[off_shift].shifts)
    markers = schedules[time_off].full_day_time_off_markers
    assert [m.business_unit_date for m in markers] == [now.astimezone(NEW_YORK).date()]
    assert codes[markers[0].activity_code_id] == "TimeOff"
    assert covering(time_off) is None


def test_given_the_whole_unit_when_searching_schedules_then_a_download_url_served_without_auth(sim: Sim) -> None:
    response = search_window(sim)
    body = response.json()
    result = assert_sdk_response(response, "BuAsyncAgentSchedulesSearchResponse")
    assert result.status == "Complete"
    assert result.result is None
    assert body["downloadUrl"].startswith(f"{sim.handle.url}/__sim/downloads/")
    downloaded = httpx.get(body["downloadUrl"])
    schedules = assert_sdk_response(downloaded, "BuAgentSchedulesSearchResponse")
    assert len(schedules.agent_schedules) == 20
    assert "ININ-Correlation-Id" in downloaded.headers
    assert sim.http.get("/__sim/requests").json()["requests"][-1]["route"] == "/__sim/downloads/{downloadId}"


def test_given_force_download_service_when_searching_few_agents_then_a_download_url_comes(sim: Sim) -> None:
    now = datetime.now(UTC)
    response = sim.api(
        "POST",
        SEARCH.format(sim.management_unit()),
        params={"forceDownloadService": "true"},
        json={
            "startDate": now.isoformat(),
            "endDate": (now + timedelta(hours=1)).isoformat(),
            "userIds": sim.pattern("on_queue")[:1],
        },
    )
    assert response.json()["downloadUrl"]


def test_given_bad_search_bodies_when_searching_schedules_then_400(sim: Sim) -> None:
    path = SEARCH.format(sim.management_unit())
    now = datetime.now(UTC).isoformat()
    for body in ({"endDate": now}, {"startDate": now, "endDate": now}, {"startDate": "yesterday", "endDate": now}):
        assert_error_body(sim.api("POST", path, json=body), 400, "bad.request")
    assert_error_body(
        sim.api("POST", SEARCH.format(uuid.uuid4()), json={"startDate": now, "endDate": "2099-01-01T00:00:00Z"}),
        404,
        "not.found",
    )


def test_given_the_overnight_pattern_when_generating_schedules_then_shifts_cross_local_midnight() -> None:
    fixture = load_fixture()
    unit = fixture.business_units[0]
    pattern = fixture.schedule_patterns["overnight"]
    for local_now, on_shift in ((datetime(2026, 3, 7, 23, 30), True), (datetime(2026, 3, 8, 12, 0), False)):
        now = local_now.replace(tzinfo=NEW_YORK).astimezone(UTC)
        schedule = generate_schedule(pattern, unit, "user-1", now)
        for shift in schedule.shifts:
            start, end = shift.start.astimezone(NEW_YORK), shift.end.astimezone(NEW_YORK)
            assert start.hour == 22
            assert end.date() == start.date() + timedelta(days=1)
        assert schedule.on_shift_at(now) is on_shift


# ---- rate limit ------------------------------------------------------------------------------------------------------


def test_given_a_small_rate_limit_when_a_token_exceeds_it_then_429_with_retry_after_until_the_window_slides(
    clock: Clock,
) -> None:
    with start_simulator(rate_limit_per_minute=3, now=clock) as handle:
        sim = Sim(handle)
        for _ in range(3):
            assert sim.api("GET", "/api/v2/presence/definitions").status_code == 200
            clock.advance(seconds=10)
        limited = sim.api("GET", "/api/v2/presence/definitions")
        body = assert_error_body(limited, 429, "too.many.requests.retry.after")
        assert limited.headers["Retry-After"] == "30"
        assert body["message"] == "Rate limit exceeded the maximum. Retry the request in [30] seconds"
        other_token = sim.new_token()
        assert sim.api("GET", "/api/v2/presence/definitions", token=other_token).status_code == 200
        clock.advance(seconds=30)
        assert sim.api("GET", "/api/v2/presence/definitions").status_code == 200
        assert sim.api("GET", "/api/v2/presence/definitions").headers["Retry-After"] == "10"


# ---- faults ----------------------------------------------------------------------------------------------------------


def test_given_a_rate_limit_fault_when_the_matching_requests_come_then_they_get_429_retry_after(sim: Sim) -> None:
    on_queue = sim.pattern("on_queue")
    sim.fault(
        kind="rate_limit", method="PATCH", path="/api/v2/users/{userId}/presences/purecloud", count=2, retryAfter=3
    )
    body = {"message": "hello"}
    assert sim.api("GET", PRESENCE.format(on_queue[0])).status_code == 200
    for _ in range(2):
        limited = sim.api("PATCH", PRESENCE.format(on_queue[0]), json=body)
        assert_error_body(limited, 429, "too.many.requests.retry.after")
        assert limited.headers["Retry-After"] == "3"
    assert sim.api("PATCH", PRESENCE.format(on_queue[0]), json=body).status_code == 200
    assert sim.http.get("/__sim/faults").json()["faults"] == []


def test_given_a_fault_for_one_user_when_others_call_then_only_that_user_gets_it(sim: Sim) -> None:
    first, second = sim.pattern("on_queue")[:2]
    sim.fault(kind="server_error", userId=second)
    assert sim.api("GET", PRESENCE.format(first)).status_code == 200
    assert_error_body(sim.api("GET", PRESENCE.format(second)), 503, "service.unavailable")
    assert sim.api("GET", PRESENCE.format(second)).status_code == 200


def test_given_a_server_error_fault_with_a_status_when_called_then_that_status_error_body(sim: Sim) -> None:
    sim.fault(kind="server_error", status=500, path="/api/v2/presence/definitions")
    assert_error_body(sim.api("GET", "/api/v2/presence/definitions"), 500, "internal.server.error")
    assert sim.api("GET", "/api/v2/presence/definitions").status_code == 200


def test_given_a_latency_fault_when_called_then_the_answer_is_late_but_normal(sim: Sim) -> None:
    sim.fault(kind="latency", delayMs=200, path="/api/v2/presence/definitions")
    started = time.monotonic()
    assert sim.api("GET", "/api/v2/presence/definitions").status_code == 200
    assert time.monotonic() - started >= 0.2
    assert sim.http.get("/__sim/requests").json()["requests"][-1]["fault"] == "latency"


def test_given_a_schedule_processing_fault_when_searching_then_processing_and_another_search_completes(
    sim: Sim,
) -> None:
    sim.fault(kind="schedule_processing")
    users = sim.pattern("on_queue")[:2]
    processing = search_window(sim, userIds=users)
    result = assert_sdk_response(processing, "BuAsyncAgentSchedulesSearchResponse")
    assert result.status == "Processing"
    assert result.result is None
    assert result.operation_id
    assert search_window(sim, userIds=users[:1]).json()["status"] == "Complete"


def test_given_a_concurrent_edit_fault_when_the_presence_is_read_then_it_changes_right_after(sim: Sim) -> None:
    user_id = next(
        u["id"]
        for u in sim.state()["users"]
        if u["presence"]["systemPresence"] == "OnQueue" and u["routingStatus"] == "IDLE"
    )
    sim.fault(kind="concurrent_edit", userId=user_id, count=2)
    first = sim.api("GET", PRESENCE.format(user_id)).json()
    assert first["presenceDefinition"]["systemPresence"] == "On Queue"
    after_first = sim.user(user_id)
    assert after_first["presence"]["systemPresence"] == "Away"
    assert after_first["presence"]["modifiedDate"] > first["modifiedDate"]
    assert after_first["routingStatus"] == "OFF_QUEUE"

    second = sim.api("GET", PRESENCE.format(user_id)).json()
    assert second["presenceDefinition"]["systemPresence"] == "Away"
    assert sim.user(user_id)["presence"]["systemPresence"] == "Busy"
    third = sim.api("GET", PRESENCE.format(user_id)).json()
    assert third["presenceDefinition"]["systemPresence"] == "Busy"
    assert sim.user(user_id)["presence"]["systemPresence"] == "Busy"


def test_given_a_concurrent_edit_fault_with_a_presence_when_read_then_the_agent_takes_that_presence(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    sim.fault(kind="concurrent_edit", presence="Lunch")
    other = sim.pattern("on_queue")[1]
    assert sim.api("GET", f"/api/v2/users/{other}/routingstatus").status_code == 200
    sim.api("GET", PRESENCE.format(user_id))
    assert sim.user(user_id)["presence"]["label"] == "Lunch"


def test_given_faults_when_listing_and_clearing_them_then_the_admin_api_reports_them(sim: Sim) -> None:
    fault_id = sim.fault(kind="latency", delayMs=1, count=5)
    listed = sim.http.get("/__sim/faults").json()["faults"]
    assert [(f["id"], f["remaining"]) for f in listed] == [(fault_id, 5)]
    assert sim.http.delete("/__sim/faults").json() == {"cleared": 1}
    assert sim.http.get("/__sim/faults").json()["faults"] == []
    assert sim.http.post("/__sim/faults", json={"kind": "earthquake"}).status_code == 400
    assert sim.http.post("/__sim/faults", json={"kind": "latency", "delay": 5}).status_code == 400


# ---- request log, reset, state ---------------------------------------------------------------------------------------


def test_given_api_and_admin_calls_when_reading_the_request_log_then_only_api_and_token_calls_are_there(
    sim: Sim,
) -> None:
    user_id = sim.pattern("on_queue")[0]
    sim.state()
    sim.api("GET", PRESENCE.format(user_id))
    sim.api("PATCH", PRESENCE.format(user_id), json={"message": 7})
    log = sim.http.get("/__sim/requests").json()["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/oauth/token", 200),
        ("GET", PRESENCE.format(user_id), 200),
        ("PATCH", PRESENCE.format(user_id), 400),
    ]
    assert log[1]["userId"] == user_id
    assert log[1]["route"] == "/api/v2/users/{userId}/presences/purecloud"
    assert ISO_MS.match(log[1]["time"])
    since = sim.http.get("/__sim/requests", params={"since": 2}).json()["requests"]
    assert [e["index"] for e in since] == [2]


def test_given_changes_faults_and_tokens_when_resetting_then_the_fixture_org_is_back(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    before = sim.user(user_id)
    sim.api("PATCH", PRESENCE.format(user_id), json={"message": "changed"})
    sim.fault(kind="server_error", count=3)
    assert sim.http.post("/__sim/reset").status_code == 200
    assert sim.user(user_id)["presence"]["message"] == before["presence"]["message"]
    assert sim.http.get("/__sim/faults").json()["faults"] == []
    assert sim.http.get("/__sim/requests").json()["requests"] == []
    assert_error_body(sim.api("GET", PRESENCE.format(user_id)), 401, "bad.credentials")


def test_given_the_default_org_when_reading_state_then_patterns_say_who_is_on_and_off_shift(sim: Sim) -> None:
    state = sim.state()
    users = {u["id"]: u for u in state["users"]}
    assert len(users) == 21
    assert set(state["patterns"]) == {
        "on_queue", "on_break", "in_meeting", "in_training", "off_queue_work", "off_shift", "overnight", "time_off",
        "not_in_wfm",
    }  # fmt: skip
    for name, pattern in state["patterns"].items():
        assert pattern["userIds"], name
        for user_id in pattern["userIds"]:
            user = users[user_id]
            assert user["schedulePattern"] == name
            if pattern["onShiftNow"] is not None:
                assert user["onShift"] is pattern["onShiftNow"], (name, user)
            if pattern["activityNow"]:
                assert user["scheduledActivity"]["category"] == pattern["activityNow"]
    assert len(state["patterns"]["on_queue"]["userIds"]) >= 8
    assert all(users[u]["presence"]["systemPresence"] == "Offline" for u in state["patterns"]["off_shift"]["userIds"])
    assert all(users[u]["nextShift"] for u in state["patterns"]["off_shift"]["userIds"])
    assert all(users[u]["timeOffToday"] for u in state["patterns"]["time_off"]["userIds"])
    overnight = users[state["patterns"]["overnight"]["userIds"][0]]
    assert overnight["presence"]["systemPresence"] == ("OnQueue" if overnight["onShift"] else "Offline")
    assert sim.http.get(f"/__sim/users/{uuid.uuid4()}").status_code == 404


def test_given_the_admin_presence_endpoint_when_the_agent_clicks_then_presence_and_date_change(sim: Sim) -> None:
    user_id = sim.pattern("off_shift")[0]
    before = sim.user(user_id)
    after = sim.http.post(f"/__sim/users/{user_id}/presence", json={"presence": "OnQueue", "message": "early"}).json()
    assert after["presence"]["label"] == "On Queue"
    assert after["routingStatus"] == "IDLE"
    assert after["presence"]["modifiedDate"] > before["presence"]["modifiedDate"]


def test_given_concurrent_patches_from_many_threads_when_they_land_then_modified_dates_are_unique(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    results: list[str] = []

    def patch(index: int) -> None:
        with httpx.Client(base_url=sim.handle.url) as client:
            response = client.patch(
                PRESENCE.format(user_id),
                json={"message": f"m{index}"},
                headers={"Authorization": f"Bearer {sim.token}"},
            )
            results.append(response.json()["modifiedDate"])

    threads = [threading.Thread(target=patch, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 8


def test_given_the_admin_config_when_lowering_the_rate_limit_then_it_applies_at_once(sim: Sim) -> None:
    assert sim.http.patch("/__sim/config", json={"rateLimitPerMinute": 1}).json()["rateLimitPerMinute"] == 1
    assert sim.api("GET", "/api/v2/presence/definitions").status_code == 200
    assert sim.api("GET", "/api/v2/presence/definitions").status_code == 429
    assert sim.http.patch("/__sim/config", json={"rateLimit": 1}).status_code == 400


# ---- the SDK contract of every main endpoint ----------------------------------------------------------------------


def test_given_every_main_endpoint_when_its_json_is_read_by_the_sdk_then_it_deserialises_with_no_unknown_fields(
    sim: Sim,
) -> None:
    state = sim.state()
    agent = state["patterns"]["on_queue"]["userIds"][0]
    bu, mu = state["businessUnits"][0]["id"], state["managementUnits"][0]["id"]
    available = sim.definition("Available")["id"]
    skill = state["skills"][0]["id"]
    now = datetime.now(UTC)
    window = {"startDate": iso(now - timedelta(days=1)), "endDate": iso(now + timedelta(days=1))}
    calls: list[tuple[str, str, dict[str, Any], str]] = [
        ("GET", "/api/v2/presence/definitions", {}, "OrganizationPresenceDefinitionEntityListing"),
        ("GET", f"/api/v2/presence/definitions/{available}", {}, "OrganizationPresenceDefinition"),
        ("GET", PRESENCE.format(agent), {}, "UserPresence"),
        ("PATCH", PRESENCE.format(agent), {"json": {"presenceDefinition": {"id": available}}}, "UserPresence"),
        (
            "PUT",
            "/api/v2/users/presences/bulk",
            {"json": [{"id": agent, "message": "bulk"}]},
            "list[UserPresence]",
        ),
        ("GET", "/api/v2/users/presences/purecloud/bulk", {"params": {"id": agent}}, "list[UcUserPresence]"),
        (
            "GET",
            "/api/v2/users",
            {"params": {"id": agent, "expand": "routingStatus,presence,skills"}},
            "UserEntityListing",
        ),
        ("GET", "/api/v2/workforcemanagement/adherence", {"params": {"userId": agent}}, "list[UserScheduleAdherence]"),
        ("GET", f"/api/v2/users/{agent}/routingstatus", {}, "RoutingStatus"),
        ("GET", f"/api/v2/users/{agent}/routingskills", {}, "UserSkillEntityListing"),
        (
            "PATCH",
            f"/api/v2/users/{agent}/routingskills/bulk",
            {"json": [{"id": skill, "proficiency": 3}]},
            "UserSkillEntityListing",
        ),
        ("PUT", f"/api/v2/users/{agent}/routingskills/{skill}", {"json": {"state": "active"}}, "UserRoutingSkill"),
        ("GET", f"/api/v2/workforcemanagement/agents/{agent}/managementunit", {}, "AgentManagementUnitReference"),
        (
            "GET",
            f"/api/v2/workforcemanagement/businessunits/{bu}",
            {"params": {"expand": "settings"}},
            "BusinessUnitResponse",
        ),
        ("GET", f"/api/v2/workforcemanagement/businessunits/{bu}/activitycodes", {}, "BusinessUnitActivityCodeListing"),
        ("GET", "/api/v2/workforcemanagement/managementunits", {}, "ManagementUnitListing"),
        ("GET", f"/api/v2/workforcemanagement/managementunits/{mu}/users", {}, "WfmUserEntityListing"),
        (
            "POST",
            SEARCH.format(mu),
            {"json": {**window, "userIds": state["managementUnits"][0]["userIds"][:10]}},
            "BuAsyncAgentSchedulesSearchResponse",
        ),
    ]
    for method, path, kwargs, type_name in calls:
        assert_sdk_response(sim.api(method, path, **kwargs), type_name)
    assert_error_body(sim.api("GET", PRESENCE.format(uuid.uuid4())), 404, "not.found")


def iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_given_the_official_sdk_as_client_when_it_calls_the_simulator_then_login_api_and_errors_work(sim: Sim) -> None:
    import PureCloudPlatformClientV2 as sdk

    client = sdk.ApiClient(host=sim.handle.url).get_client_credentials_token(
        sim.handle.client_id, sim.handle.client_secret
    )
    state = sim.state()
    agent = state["patterns"]["on_queue"]["userIds"][0]
    presence_api = sdk.PresenceApi(client)
    body = sdk.UserPresence()
    body.message = "from the SDK"
    assert presence_api.patch_user_presences_purecloud(agent, body).message == "from the SDK"
    assert presence_api.get_user_presences_purecloud(agent).presence_definition.system_presence == "On Queue"
    assert len(presence_api.get_presence_definitions(deactivated="true").entities) == 15
    wfm = sdk.WorkforceManagementApi(client)
    unit = wfm.get_workforcemanagement_businessunit(state["businessUnits"][0]["id"], expand=["settings.timeZone"])
    assert unit.settings.time_zone == "America/New_York"
    search = sdk.BuSearchAgentSchedulesRequest()
    search.start_date, search.end_date, search.user_ids = datetime.now(UTC), datetime.now(UTC), [agent]
    search.end_date += timedelta(hours=1)
    found = wfm.post_workforcemanagement_managementunit_agentschedules_search(state["managementUnits"][0]["id"], search)
    assert found.status == "Complete"
    assert len(found.result.agent_schedules[0].shifts) == 1
    with pytest.raises(sdk.rest.ApiException) as raised:
        presence_api.get_user_presences_purecloud(str(uuid.uuid4()))
    assert raised.value.status == 404
