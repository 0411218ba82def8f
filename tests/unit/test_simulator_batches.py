"""The simulator's batch endpoints (with Genesys's documented limits), its faults for lost answers and slow writes,
faults on the token endpoint, the asynchronous schedule-search protocol and the activity codes' download."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from presence_manager_local.simulator.server import start_simulator
from tests.unit.test_simulator import (
    PRESENCE,
    SEARCH,
    Sim,
    assert_error_body,
    assert_sdk_response,
    assert_sdk_shape,
    sdk_deserialize,
)

BULK_GET = "/api/v2/users/presences/purecloud/bulk"
BULK_PUT = "/api/v2/users/presences/bulk"
ADHERENCE = "/api/v2/workforcemanagement/adherence"


@pytest.fixture
def sim() -> Iterator[Sim]:
    handle = start_simulator(port=0)
    try:
        yield Sim(handle)
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def big() -> Iterator[Sim]:
    """An org of 300 agents, shared by the read-only tests."""
    handle = start_simulator(port=0, agents=300)
    try:
        yield Sim(handle)
    finally:
        handle.stop()


def agents(sim: Sim, count: int) -> list[str]:
    return list(sim.handle.state.users)[:count]


def on_queue_idle(sim: Sim) -> str:
    return next(
        u["id"]
        for u in sim.state()["users"]
        if u["schedulePattern"] == "on_queue"
        and u["presence"]["systemPresence"] == "OnQueue"
        and u["routingStatus"] == "IDLE"
    )


# ---- bulk presences ----------------------------------------------------------------------------------------------


def test_given_51_ids_when_reading_presences_in_bulk_then_400_error_body_and_50_are_fine(big: Sim) -> None:
    ids = agents(big, 51)
    too_many = big.api("GET", BULK_GET, params={"id": ",".join(ids)})
    body = assert_error_body(too_many, 400, "bad.request")
    assert "50" in body["message"]
    assert body["details"][0]["fieldName"] == "id"
    fifty = assert_sdk_response(big.api("GET", BULK_GET, params={"id": ",".join(ids[:50])}), "list[UcUserPresence]")
    assert [p.user_id for p in fifty] == ids[:50]
    repeated = big.api("GET", BULK_GET, params=[("id", i) for i in ids[:50]])
    assert [p["userId"] for p in repeated.json()] == ids[:50], "repeated id= parameters count like a comma list"


def test_given_many_items_when_putting_presences_in_bulk_then_all_land_and_only_the_body_size_limits_it(
    sim: Sim,
) -> None:
    sim.http.post("/__sim/reset", json={"agents": 200})
    token = sim.new_token()
    away = sim.definition("Away")["id"]
    ids = agents(sim, 200)
    body = [{"id": u, "presenceDefinition": {"id": away}, "message": "bulk"} for u in ids]
    results = assert_sdk_response(sim.api("PUT", BULK_PUT, token, json=body), "list[UserPresence]")
    assert [r.id for r in results] == ids
    assert all(r.presence_definition.id == away and r.message == "bulk" for r in results)
    huge = [{"id": ids[0], "message": "x" * 520_000}]
    assert_error_body(sim.api("PUT", BULK_PUT, token, json=huge), 413, "request.entity.too.large")
    assert sim.user(ids[0])["presence"]["message"] == "bulk"


# ---- routing status for many agents --------------------------------------------------------------------------------


def test_given_user_ids_and_expand_routing_status_when_listing_users_then_each_user_carries_it(big: Sim) -> None:
    state = big.handle.state
    ids = agents(big, 30)
    unknown = str(uuid.uuid4())
    big.http.post(f"/__sim/users/{ids[3]}/routingstatus", json={"status": "INTERACTING"})
    first = big.api("GET", "/api/v2/users", params={"id": ",".join([*ids, unknown]), "expand": "routingStatus"})
    listing = assert_sdk_response(first, "UserEntityListing")
    assert (listing.page_size, listing.page_number, listing.total, listing.page_count) == (25, 1, 30, 2)
    assert [u.id for u in listing.entities] == ids[:25]
    assert listing.next_uri and "pageNumber=2" in listing.next_uri
    for user in listing.entities:
        single = big.api("GET", f"/api/v2/users/{user.id}/routingstatus").json()
        assert user.routing_status.status == single["status"] == state.users[user.id].routing_status
        assert user.presence is None, "presence only when expanded"
    assert listing.entities[3].routing_status.status == "INTERACTING"
    second = big.api("GET", "/api/v2/users", params={"id": ",".join(ids), "expand": "routingStatus", "pageNumber": "2"})
    assert [u["id"] for u in second.json()["entities"]] == ids[25:]
    params = {"id": ",".join(ids), "expand": "routingStatus,presence", "pageSize": 50}
    whole = big.api("GET", "/api/v2/users", params=params)
    entities = assert_sdk_response(whole, "UserEntityListing").entities
    assert len(entities) == 30 and entities[0].presence.presence_definition.id == state.users[ids[0]].definition_id
    assert_error_body(big.api("GET", "/api/v2/users", params={"expand": "nonsense"}), 400, "bad.request")
    everyone = big.api("GET", "/api/v2/users", params={"pageSize": 100, "pageNumber": 3}).json()
    assert (everyone["total"], len(everyone["entities"])) == (300, 100)
    assert "routingStatus" not in everyone["entities"][0]


def test_given_up_to_100_user_ids_when_reading_adherence_then_routing_status_presence_and_activity_come(
    sim: Sim,
) -> None:
    state = sim.state()
    users = {u["id"]: u for u in state["users"]}
    idle = on_queue_idle(sim)
    available = next(
        u["id"] for u in state["users"] if u["schedulePattern"] == "on_queue" and u["presence"]["label"] == "Available"
    )
    on_break, off_shift = sim.pattern("on_break")[0], sim.pattern("off_shift")[0]
    time_off, supervisor = sim.pattern("time_off")[0], sim.pattern("not_in_wfm")[0]
    ids = [idle, available, on_break, off_shift, time_off, supervisor, str(uuid.uuid4())]
    response = sim.api("GET", ADHERENCE, params={"userId": ",".join(ids)})
    records = {r.user.id: r for r in assert_sdk_response(response, "list[UserScheduleAdherence]")}
    assert list(records) == [idle, available, on_break, off_shift, time_off], "users in no management unit left out"
    for user_id, record in records.items():
        assert record.routing_status == users[user_id]["routingStatus"]
        assert record.system_presence == users[user_id]["presence"]["systemPresence"]
        assert record.organization_secondary_presence_id == users[user_id]["presence"]["definitionId"]
        assert record.management_unit.id == users[user_id]["managementUnitId"]
    assert (records[idle].scheduled_activity_category, records[idle].adherence_state) == ("OnQueueWork", "InAdherence")
    assert (records[available].adherence_state, records[available].impact) == ("OutOfAdherence", "Negative")
    assert records[on_break].scheduled_activity_category == "Break"
    assert records[on_break].scheduled_activity_code.secondary_presences
    assert (records[off_shift].scheduled_activity_category, records[off_shift].adherence_state) == (
        "Unscheduled",
        "InAdherence",
    )
    assert records[time_off].scheduled_activity_category == "TimeOff"
    sim.http.post(f"/__sim/users/{idle}/routingstatus", json={"status": "NOT_RESPONDING"})
    again = sim.api("GET", ADHERENCE, params={"userId": idle}).json()[0]
    assert (again["routingStatus"], again["adherenceState"]) == ("NOT_RESPONDING", "OutOfAdherence")


def test_given_101_user_ids_or_none_when_reading_adherence_then_400_error_body(big: Sim) -> None:
    ids = agents(big, 101)
    assert_error_body(big.api("GET", ADHERENCE, params={"userId": ",".join(ids)}), 400, "bad.request")
    assert_error_body(big.api("GET", ADHERENCE), 400, "bad.request")
    hundred = assert_sdk_response(
        big.api("GET", ADHERENCE, params={"userId": ",".join(ids[:100])}), "list[UserScheduleAdherence]"
    )
    assert [r.user.id for r in hundred] == ids[:100]


# ---- the org's management units ------------------------------------------------------------------------------------

MANAGEMENT_UNITS = "/api/v2/workforcemanagement/managementunits"


def test_given_the_fixture_org_when_listing_management_units_then_every_unit_comes_with_its_business_unit(
    sim: Sim,
) -> None:
    state = sim.state()
    division = sim.handle.state.fixture.organization.home_division_id
    listing = assert_sdk_response(sim.api("GET", MANAGEMENT_UNITS), "ManagementUnitListing")
    assert [(u.id, u.name, u.business_unit.id) for u in listing.entities] == [
        (u["id"], u["name"], u["businessUnitId"]) for u in state["managementUnits"]
    ]
    for unit in listing.entities:
        assert unit.division.id == division
        assert unit.self_uri == f"{MANAGEMENT_UNITS}/{unit.id}"
        assert unit.business_unit.self_uri == f"/api/v2/workforcemanagement/businessunits/{unit.business_unit.id}"
        member = next(iter(sim.handle.state.members[unit.id]))
        single = sim.api("GET", f"/api/v2/workforcemanagement/agents/{member.id}/managementunit").json()
        assert (single["managementUnit"]["id"], single["businessUnit"]["id"]) == (unit.id, unit.business_unit.id)
    deprecated = {"pageSize": 1, "pageNumber": 2, "expand": "settings", "feature": "AgentSchedule"}
    assert sim.api("GET", MANAGEMENT_UNITS, params=deprecated).json() == sim.api("GET", MANAGEMENT_UNITS).json()
    assert sim.api("GET", MANAGEMENT_UNITS, params={"divisionId": division}).json()["entities"]
    assert sim.api("GET", MANAGEMENT_UNITS, params={"divisionId": str(uuid.uuid4())}).json() == {"entities": []}
    assert_error_body(sim.api("GET", MANAGEMENT_UNITS, token="not-a-token"), 401, "bad.credentials")


def test_given_a_generated_org_when_listing_management_units_and_their_users_then_every_agent_is_placed_once(
    big: Sim,
) -> None:
    listing = assert_sdk_response(big.api("GET", MANAGEMENT_UNITS), "ManagementUnitListing").entities
    state = big.handle.state
    assert len(listing) == len(state.management_units) == 6
    assert len({u.business_unit.id for u in listing}) == 3, "three business units in three time zones"
    placed: dict[str, tuple[str, str]] = {}
    for unit in listing:
        users = big.api("GET", f"{MANAGEMENT_UNITS}/{unit.id}/users").json()["entities"]
        for user in users:
            assert user["id"] not in placed
            placed[user["id"]] = (unit.id, unit.business_unit.id)
    assert set(placed) == set(state.users)
    for user_id in agents(big, 300)[::37]:
        single = big.api("GET", f"/api/v2/workforcemanagement/agents/{user_id}/managementunit").json()
        assert placed[user_id] == (single["managementUnit"]["id"], single["businessUnit"]["id"])


def test_given_a_reshaped_org_when_listing_management_units_then_the_listing_follows_the_new_shape(sim: Sim) -> None:
    assert sim.http.post("/__sim/reset", json={"agents": 40, "managementUnits": 4}).status_code == 200
    sim.token = sim.new_token()
    entities = sim.api("GET", MANAGEMENT_UNITS).json()["entities"]
    assert [u["id"] for u in entities] == [u["id"] for u in sim.state()["managementUnits"]]
    assert len(entities) == 4
    assert len({u["businessUnit"]["id"] for u in entities}) == 3


# ---- lost answers, slow writes, the token endpoint ------------------------------------------------------------------


def test_given_server_error_after_on_a_patch_when_patching_then_503_but_the_write_landed(sim: Sim) -> None:
    user_id = sim.pattern("on_queue")[0]
    sim.fault(kind="server_error_after", method="PATCH", path=PRESENCE.format("{userId}"), userId=user_id)
    lunch = sim.definition("Lunch")["id"]
    lost = sim.api("PATCH", PRESENCE.format(user_id), json={"presenceDefinition": {"id": lunch}})
    assert_error_body(lost, 503, "service.unavailable")
    assert sim.user(user_id)["presence"]["label"] == "Lunch", "processed before the answer was lost"
    entry = sim.http.get("/__sim/requests").json()["requests"][-1]
    assert (entry["fault"], entry["status"], entry["processedStatus"]) == ("server_error_after", 503, 200)
    assert sim.api("PATCH", PRESENCE.format(user_id), json={"message": "next"}).status_code == 200


def test_given_server_error_after_with_a_status_on_a_bulk_put_then_that_status_and_every_write_landed(
    sim: Sim,
) -> None:
    ids = sim.pattern("on_queue")[:3]
    sim.fault(kind="server_error_after", status=504, userId=ids[1])
    body = [{"id": u, "message": "lost answer"} for u in ids]
    assert_error_body(sim.api("PUT", BULK_PUT, json=body), 504, "gateway.timeout")
    assert [sim.user(u)["presence"]["message"] for u in ids] == ["lost answer"] * 3


def test_given_a_latency_fault_on_a_patch_when_the_client_times_out_then_the_write_still_lands_later(
    sim: Sim,
) -> None:
    user_id = sim.pattern("on_queue")[0]
    sim.fault(kind="latency", method="PATCH", delayMs=600)
    with pytest.raises(httpx.ReadTimeout):
        sim.api("PATCH", PRESENCE.format(user_id), json={"message": "slow"}, timeout=0.15)
    assert sim.user(user_id)["presence"]["message"] != "slow", "not yet: the write comes after the delay"
    deadline = time.monotonic() + 5
    while sim.user(user_id)["presence"]["message"] != "slow":
        assert time.monotonic() < deadline, "the delayed write never landed"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"kind": "rate_limit", "retryAfter": 4}, 429, "too.many.requests.retry.after"),
        ({"kind": "server_error"}, 503, "service.unavailable"),
    ],
)
def test_given_a_fault_on_the_token_endpoint_when_asking_for_a_token_then_it_answers_that_and_issues_none(
    sim: Sim, fault: dict[str, Any], status: int, code: str
) -> None:
    tokens_before = len(sim.handle.state.auth.tokens)
    sim.fault(**fault, path="/oauth/token")
    response = sim.http.post(
        "/oauth/token", auth=(sim.handle.client_id, sim.handle.client_secret), data={"grant_type": "client_credentials"}
    )
    assert_error_body(response, status, code)
    if status == 429:
        assert response.headers["Retry-After"] == "4"
    assert len(sim.handle.state.auth.tokens) == tokens_before
    assert sim.api("GET", "/api/v2/presence/definitions").status_code == 200, "API calls are not affected"
    assert sim.new_token()


def test_given_server_error_after_on_the_token_endpoint_then_a_token_was_issued_but_its_answer_lost(sim: Sim) -> None:
    tokens_before = len(sim.handle.state.auth.tokens)
    sim.fault(kind="server_error_after", path="/oauth/token")
    response = sim.http.post(
        "/oauth/token", auth=(sim.handle.client_id, sim.handle.client_secret), data={"grant_type": "client_credentials"}
    )
    assert_error_body(response, 503, "service.unavailable")
    assert len(sim.handle.state.auth.tokens) == tokens_before + 1


def test_given_a_fault_without_a_path_then_the_token_endpoint_is_never_hit(sim: Sim) -> None:
    sim.fault(kind="server_error", count=1)
    assert sim.new_token()
    assert_error_body(sim.api("GET", "/api/v2/presence/definitions"), 503, "service.unavailable")


def test_given_a_concurrent_edit_fault_for_a_user_when_presences_are_read_in_bulk_then_that_user_moves(
    sim: Sim,
) -> None:
    ids = sim.pattern("on_queue")[:3]
    sim.fault(kind="concurrent_edit", userId=ids[2], presence="Break")
    assert sim.api("GET", BULK_GET, params={"id": ",".join(ids[:2])}).status_code == 200
    assert sim.user(ids[2])["presence"]["systemPresence"] != "Break", "not among the users read"
    read = sim.api("GET", BULK_GET, params={"id": ",".join(ids)}).json()
    assert read[2]["presenceDefinition"]["systemPresence"] != "Break", "the answer is what was read"
    assert sim.user(ids[2])["presence"]["systemPresence"] == "Break"


# ---- the asynchronous schedule search ------------------------------------------------------------------------------


def search_body(user_ids: list[str] | None, hours: float = 12) -> dict[str, Any]:
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "startDate": (now - timedelta(hours=hours)).isoformat(),
        "endDate": (now + timedelta(hours=hours)).isoformat(),
    }
    if user_ids is not None:
        body["userIds"] = user_ids
    return body


def test_given_a_search_answered_processing_when_re_posting_it_then_it_never_completes(sim: Sim) -> None:
    mu = sim.management_unit()
    users = sim.pattern("on_queue")[:3]
    sim.fault(kind="schedule_processing")
    body = search_body(users)
    first = assert_sdk_response(sim.api("POST", SEARCH.format(mu), json=body), "BuAsyncAgentSchedulesSearchResponse")
    assert (first.status, first.result, first.download_url) == ("Processing", None, None)
    operations = {first.operation_id}
    for _ in range(4):
        again = sim.api("POST", SEARCH.format(mu), json={**body, "userIds": list(reversed(users))}).json()
        assert again["status"] == "Processing", "a re-POST is a new search, never the earlier one's result"
        assert "result" not in again and "downloadUrl" not in again
        operations.add(again["operationId"])
    assert len(operations) == 5, "every POST starts its own operation"
    assert sim.http.get("/__sim/faults").json()["faults"] == [], "one fault, one search made Processing"
    other = sim.api("POST", SEARCH.format(mu), json=search_body(users[:1])).json()
    assert other["status"] == "Complete", "another search is not affected"
    recorded = sim.http.get("/__sim/state", params={"users": "false"}).json()["asyncScheduleSearches"]
    assert {r["operationId"] for r in recorded} == operations
    assert recorded[0]["topics"][0] == f"v2.workforcemanagement.users.{users[0]}.schedules.search"
    sim.http.delete("/__sim/faults")
    assert sim.api("POST", SEARCH.format(mu), json=body).json()["status"] == "Complete", "until faults are cleared"


def test_given_force_async_when_searching_then_processing_for_that_request_only(sim: Sim) -> None:
    mu = sim.management_unit()
    body = search_body(sim.pattern("on_break")[:1])
    forced = sim.api("POST", SEARCH.format(mu), params={"forceAsync": "true"}, json=body)
    assert assert_sdk_response(forced, "BuAsyncAgentSchedulesSearchResponse").status == "Processing"
    assert sim.api("POST", SEARCH.format(mu), json=body).json()["status"] == "Complete"


def test_given_a_schedule_processing_fault_for_one_agent_then_only_searches_naming_that_agent_are_processing(
    sim: Sim,
) -> None:
    mu = sim.management_unit()
    target, other = sim.pattern("off_shift")[:2]
    sim.fault(kind="schedule_processing", userId=target)
    assert sim.api("POST", SEARCH.format(mu), json=search_body([other])).json()["status"] == "Complete"
    assert sim.api("POST", SEARCH.format(mu), json=search_body([other, target])).json()["status"] == "Processing"


# ---- activity codes through the download service ---------------------------------------------------------------------


def test_given_activity_codes_inline_max_when_listing_codes_then_a_download_url_with_empty_entities(sim: Sim) -> None:
    business_unit = sim.state()["businessUnits"][0]
    path = f"/api/v2/workforcemanagement/businessunits/{business_unit['id']}/activitycodes"
    inline = assert_sdk_response(sim.api("GET", path), "BusinessUnitActivityCodeListing")
    assert inline.download_url is None and len(inline.entities) == len(business_unit["activityCodes"])
    settings = sim.http.patch("/__sim/config", json={"activityCodesInlineMax": 3}).json()
    assert settings["activityCodesInlineMax"] == 3
    listing = assert_sdk_response(sim.api("GET", path), "BusinessUnitActivityCodeListing")
    assert listing.entities == []
    assert listing.download_url.startswith(f"{sim.handle.url}/__sim/downloads/")
    downloaded = httpx.get(listing.download_url)
    assert_sdk_shape(downloaded.json(), "BusinessUnitActivityCodeListing")
    codes = sdk_deserialize(downloaded.json(), "BusinessUnitActivityCodeListing").entities
    assert [c.id for c in codes] == [c["id"] for c in business_unit["activityCodes"]]
    assert {p.id for c in codes if c.category == "Meal" for p in c.secondary_presences} == {
        sim.definition("Meal")["id"],
        sim.definition("Lunch")["id"],
    }
    sim.http.post("/__sim/reset")
    assert sim.http.get("/__sim/config").json()["activityCodesInlineMax"] == 3, "settings survive a reset"


def test_given_force_download_service_when_listing_activity_codes_then_a_download_url(sim: Sim) -> None:
    business_unit = sim.state()["businessUnits"][0]["id"]
    path = f"/api/v2/workforcemanagement/businessunits/{business_unit}/activitycodes"
    listing = sim.api("GET", path, params={"forceDownloadService": "true"}).json()
    assert listing["entities"] == []
    assert httpx.get(listing["downloadUrl"]).json()["entities"]
