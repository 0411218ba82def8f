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
