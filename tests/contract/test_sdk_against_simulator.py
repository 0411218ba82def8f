"""The official Genesys Cloud SDK (purecloudplatformclientv2), pointed at the simulator through its
GatewayConfiguration, logs in, resolves definitions, reads and patches a presence, and reads skills and schedules:
the simulator speaks the real contract, not one we made up."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import PureCloudPlatformClientV2 as sdk
import pytest
from PureCloudPlatformClientV2.gateway_configuration import GatewayConfiguration
from PureCloudPlatformClientV2.rest import ApiException

from presence_manager_local.simulator.server import start_simulator

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def simulator() -> Iterator[Any]:
    handle = start_simulator(port=0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def api_client(simulator: Any) -> sdk.ApiClient:
    client = sdk.ApiClient()
    client.gateway_configuration = GatewayConfiguration(host="127.0.0.1", protocol="http", port=simulator.port)
    client.get_client_credentials_token("sim-client-id", "sim-client-secret")
    return client


@pytest.fixture(scope="module")
def agent(simulator: Any) -> dict[str, Any]:
    users = simulator.state.snapshot()["users"]
    return next(u for u in users if u["schedulePattern"] == "on_queue" and u["routingStatus"] == "OFF_QUEUE")


def test_given_the_sdk_then_definitions_deserialise_with_system_and_secondary_presences(
    api_client: sdk.ApiClient,
) -> None:
    listing = sdk.PresenceApi(api_client).get_presence_definitions()
    assert isinstance(listing, sdk.OrganizationPresenceDefinitionEntityListing)
    kinds = {(d.type, d.system_presence) for d in listing.entities}
    assert ("System", "OnQueue") in kinds
    assert any(d.type == "User" for d in listing.entities)


def test_given_the_sdk_then_it_reads_and_patches_a_presence_with_a_message(
    api_client: sdk.ApiClient, agent: dict[str, Any]
) -> None:
    presence_api = sdk.PresenceApi(api_client)
    definitions = presence_api.get_presence_definitions().entities
    away = next(d for d in definitions if d.type == "System" and d.system_presence == "Away")
    before = presence_api.get_user_presences_purecloud(agent["id"])
    assert isinstance(before, sdk.UserPresence)
    body = sdk.UserPresence()
    body.presence_definition = sdk.PresenceDefinition()
    body.presence_definition.id = away.id
    body.message = "from the SDK"
    after = presence_api.patch_user_presences_purecloud(agent["id"], body)
    assert after.presence_definition.id == away.id
    assert after.message == "from the SDK"
    assert after.modified_date > before.modified_date
    assert sdk.UsersApi(api_client).get_user_routingstatus(agent["id"]).status == "OFF_QUEUE"


def test_given_the_sdk_then_an_unknown_user_is_a_404_error_body(api_client: sdk.ApiClient) -> None:
    with pytest.raises(ApiException) as raised:
        sdk.PresenceApi(api_client).get_user_presences_purecloud("00000000-0000-0000-0000-000000000000")
    assert raised.value.status == 404


def test_given_the_sdk_then_it_reads_skills_and_patches_them_in_bulk(
    api_client: sdk.ApiClient, agent: dict[str, Any], simulator: Any
) -> None:
    routing = sdk.RoutingApi(api_client)
    listing = routing.get_user_routingskills(agent["id"])
    assert isinstance(listing, sdk.UserSkillEntityListing)
    skill_id = simulator.state.snapshot()["skills"][-1]["id"]
    post = sdk.UserRoutingSkillPost()
    post.id = skill_id
    post.proficiency = 3.5
    updated = routing.patch_user_routingskills_bulk(agent["id"], [post])
    assert any(s.id == skill_id and s.proficiency == 3.5 for s in updated.entities)


def test_given_the_sdk_then_it_reads_the_agents_wfm_unit_time_zone_and_schedule(
    api_client: sdk.ApiClient, agent: dict[str, Any]
) -> None:
    wfm = sdk.WorkforceManagementApi(api_client)
    unit = wfm.get_workforcemanagement_agent_managementunit(agent["id"])
    business_unit = wfm.get_workforcemanagement_businessunit(unit.business_unit.id, expand=["settings.timeZone"])
    assert business_unit.settings.time_zone == "America/New_York"
    codes = wfm.get_workforcemanagement_businessunit_activitycodes(unit.business_unit.id)
    assert {c.category for c in codes.entities} >= {"OnQueueWork", "Break", "Meal"}
    request = sdk.BuSearchAgentSchedulesRequest()
    now = datetime.now(UTC)
    request.start_date = now - timedelta(hours=12)
    request.end_date = now + timedelta(hours=12)
    request.user_ids = [agent["id"]]
    answer = wfm.post_workforcemanagement_managementunit_agentschedules_search(unit.management_unit.id, body=request)
    assert answer.status == "Complete"
    schedule = answer.result.agent_schedules[0]
    assert schedule.user.id == agent["id"]
    assert any(s.start_date <= now < s.start_date + timedelta(minutes=s.length_minutes) for s in schedule.shifts)


# ---- the batch endpoints, the asynchronous search and the download service, through the SDK's own calls -----------


def test_given_the_sdk_then_it_reads_and_writes_presences_in_bulk_within_the_documented_limit(
    api_client: sdk.ApiClient, simulator: Any
) -> None:
    presence_api = sdk.PresenceApi(api_client)
    users = [u["id"] for u in simulator.state.snapshot()["users"] if u["schedulePattern"] == "off_shift"]
    offline = next(d for d in presence_api.get_presence_definitions().entities if d.system_presence == "Offline")
    updates = []
    for user_id in users:
        item = sdk.MutableUserPresence()
        item.id = user_id
        item.presence_definition = sdk.PresenceDefinition()
        item.presence_definition.id = offline.id
        item.message = "bulk from the SDK"
        updates.append(item)
    written = presence_api.put_users_presences_bulk(updates)
    assert [p.id for p in written] == users
    read = presence_api.get_users_presences_purecloud_bulk(id=users)
    assert all(isinstance(p, sdk.UcUserPresence) for p in read)
    assert {(p.user_id, p.message) for p in read} == {(u, "bulk from the SDK") for u in users}
    with pytest.raises(ApiException) as raised:
        presence_api.get_users_presences_purecloud_bulk(id=[f"00000000-0000-0000-0000-{i:012d}" for i in range(51)])
    assert raised.value.status == 400


def test_given_the_sdk_then_it_reads_routing_status_of_many_users_from_the_users_listing_and_adherence(
    api_client: sdk.ApiClient, simulator: Any
) -> None:
    state = simulator.state.snapshot()
    agents = state["managementUnits"][0]["userIds"][:12]
    expected = {u["id"]: u["routingStatus"] for u in state["users"]}
    listing = sdk.UsersApi(api_client).get_users(id=agents, expand=["routingStatus"], page_size=len(agents))
    assert isinstance(listing, sdk.UserEntityListing)
    assert {u.id: u.routing_status.status for u in listing.entities} == {a: expected[a] for a in agents}
    adherence = sdk.WorkforceManagementApi(api_client).get_workforcemanagement_adherence(user_id=agents)
    assert all(isinstance(a, sdk.UserScheduleAdherence) for a in adherence)
    assert {a.user.id: a.routing_status for a in adherence} == {a: expected[a] for a in agents}
    with pytest.raises(ApiException) as raised:
        sdk.WorkforceManagementApi(api_client).get_workforcemanagement_adherence(
            user_id=[f"00000000-0000-0000-0000-{i:012d}" for i in range(101)]
        )
    assert raised.value.status == 400


def test_given_the_sdk_then_force_async_answers_processing_and_activity_codes_come_through_the_download_service(
    api_client: sdk.ApiClient, agent: dict[str, Any]
) -> None:
    wfm = sdk.WorkforceManagementApi(api_client)
    unit = wfm.get_workforcemanagement_agent_managementunit(agent["id"])
    request = sdk.BuSearchAgentSchedulesRequest()
    now = datetime.now(UTC)
    request.start_date, request.end_date, request.user_ids = now, now + timedelta(hours=8), [agent["id"]]
    answer = wfm.post_workforcemanagement_managementunit_agentschedules_search(
        unit.management_unit.id, body=request, force_async=True
    )
    assert (answer.status, answer.result, answer.download_url) == ("Processing", None, None)
    assert answer.operation_id
    codes = wfm.get_workforcemanagement_businessunit_activitycodes(unit.business_unit.id, force_download_service=True)
    assert isinstance(codes, sdk.BusinessUnitActivityCodeListing)
    assert codes.entities == []
    assert codes.download_url and "/__sim/downloads/" in codes.download_url


def test_given_the_sdk_then_it_lists_the_management_units_and_their_agents_for_a_directory_of_the_org(
    api_client: sdk.ApiClient, simulator: Any
) -> None:
    wfm = sdk.WorkforceManagementApi(api_client)
    state = simulator.state.snapshot()
    listing = wfm.get_workforcemanagement_managementunits()
    assert isinstance(listing, sdk.ManagementUnitListing)
    assert all(isinstance(u.business_unit, sdk.BusinessUnitReference) for u in listing.entities)
    assert [(u.id, u.business_unit.id) for u in listing.entities] == [
        (u["id"], u["businessUnitId"]) for u in state["managementUnits"]
    ]
    division = listing.entities[0].division.id
    assert [u.id for u in wfm.get_workforcemanagement_managementunits(division_id=division).entities] == [
        u.id for u in listing.entities
    ]
    deprecated = wfm.get_workforcemanagement_managementunits(page_size=1, page_number=2, expand="settings")
    assert len(deprecated.entities) == len(listing.entities), "paging is not supported: every unit comes"
    directory = {
        user.id: unit.id
        for unit in listing.entities
        for user in wfm.get_workforcemanagement_managementunit_users(unit.id).entities
    }
    in_wfm = {u["id"]: u["managementUnitId"] for u in state["users"] if u["managementUnitId"]}
    assert directory == in_wfm
