"""Genesys notification events against the official SDK: every field our event models read is a field of the SDK's
model (``attribute_map``) with a compatible type, and every event the simulator emits - for our writes, the agent's
own clicks, routing status set by hand or moved by a presence change - is, field by field, the SDK's model and
deserialises with the SDK's own ApiClient; our parser reads the same values from it."""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import PureCloudPlatformClientV2 as sdk
import pytest
from pydantic import AwareDatetime, BaseModel

from presence_manager.genesys.events import (
    SDK_MODELS,
    PresenceEvent,
    RoutingStatusEvent,
    event_detail,
    parse_event,
    topic_pattern,
)
from presence_manager_local.simulator.server import start_simulator
from tests.contract.test_client_against_simulator import check_against_sdk

pytestmark = pytest.mark.contract

#: topic kind → the SDK model of its eventBody
BODY_MODELS = {"presence": "PresenceEventUserPresence", "routingStatus": "UserRoutingStatusUserRoutingStatus"}


def swagger_type_of(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """Our annotation as the SDK's swagger type, and the literal values it allows (enums)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        (inner,) = [a for a in args if a is not type(None)]
        return swagger_type_of(inner)
    if typing.get_origin(annotation) is typing.Literal:
        return "str", tuple(args)
    if annotation is AwareDatetime or annotation is datetime:
        return "datetime", ()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return SDK_MODELS[annotation], ()
    return {str: "str", bool: "bool", int: "int", float: "float"}[annotation], ()


@pytest.mark.parametrize("ours", list(SDK_MODELS), ids=lambda m: m.__name__)
def test_every_field_our_event_models_read_is_the_sdk_models_with_a_compatible_type(ours: type[BaseModel]) -> None:
    model = getattr(sdk, SDK_MODELS[ours])()
    by_json = {json_name: attribute for attribute, json_name in model.attribute_map.items()}
    for name, field in ours.model_fields.items():
        json_name = field.alias or name
        assert json_name in by_json, f"{ours.__name__}.{json_name} is not a field of the SDK's {SDK_MODELS[ours]}"
        attribute = by_json[json_name]
        swagger, allowed = swagger_type_of(field.annotation)
        assert model.swagger_types[attribute] == swagger, f"{ours.__name__}.{json_name}: {swagger}"
        for value in allowed:  # the SDK's setter keeps a value it knows, else "outdated_sdk_version"
            setattr(model, attribute, value)
            assert getattr(model, attribute) == value, f"{ours.__name__}.{json_name}: the SDK does not know {value}"


@pytest.fixture(scope="module")
def emitted() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Events the simulator emitted for a PATCH, a bulk PUT, an agent's own click (admin API and a concurrent_edit
    fault) and a routing status set by hand."""
    events: list[tuple[str, dict[str, Any]]] = []
    handle = start_simulator(port=0)
    handle.state.event_sink = lambda topic, body: events.append((topic, body))
    try:
        users = handle.state.snapshot()["users"]
        agent = next(u for u in users if u["presence"]["systemPresence"] != "OnQueue")  # going on queue: IDLE
        others = [u["id"] for u in users if u["schedulePattern"] == "off_shift"][:2]
        definitions = {d["systemPresence"]: d["id"] for d in handle.state.snapshot()["presenceDefinitions"]}
        http = httpx.Client(base_url=handle.url, timeout=10)
        token = http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(handle.client_id, handle.client_secret)
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        path = f"/api/v2/users/{agent['id']}/presences/purecloud"
        body = {"presenceDefinition": {"id": definitions["OnQueue"]}, "message": "from us"}
        assert http.patch(path, json=body).status_code == 200
        bulk = [{"id": user, "presenceDefinition": {"id": definitions["Away"]}, "message": ""} for user in others]
        assert http.put("/api/v2/users/presences/bulk", json=bulk).status_code == 200
        assert http.post(f"/__sim/users/{agent['id']}/routingstatus", json={"status": "INTERACTING"}).is_success
        fault = {"kind": "concurrent_edit", "userId": agent["id"], "presence": "Break"}
        assert http.post("/__sim/faults", json=fault).status_code == 201
        assert http.get(path).status_code == 200
        click = {"presence": "Meal", "message": "lunch"}
        assert http.post(f"/__sim/users/{agent['id']}/presence", json=click).is_success
        assert handle.state.events.flush(10)
        yield events
    finally:
        handle.stop()


def test_the_simulator_emits_an_event_for_every_presence_and_routing_status_change(
    emitted: list[tuple[str, dict[str, Any]]],
) -> None:
    kinds = [topic.rsplit(".", 1)[1] for topic, _ in emitted]
    assert kinds.count("presence") == 5, "PATCH, two bulk items, the concurrent edit and the admin click"
    statuses = [body["routingStatus"]["status"] for topic, body in emitted if topic.endswith(".routingStatus")]
    assert "IDLE" in statuses and "INTERACTING" in statuses and "OFF_QUEUE" in statuses
    messages = [body.get("message") for topic, body in emitted if topic.endswith(".presence")]
    assert "from us" in messages and "lunch" in messages


def test_every_emitted_body_is_the_sdk_model_and_deserialises_with_the_sdks_api_client(
    emitted: list[tuple[str, dict[str, Any]]],
) -> None:
    client = sdk.ApiClient()
    for topic, body in emitted:
        swagger = BODY_MODELS[topic.rsplit(".", 1)[1]]
        check_against_sdk(body, swagger, topic)  # no field outside the SDK model, every value of its type
        model = client._ApiClient__deserialize(body, swagger)  # type: ignore[attr-defined]
        assert type(model).__name__ == swagger
        assert "outdated_sdk_version" not in repr(model.to_dict()), f"{topic}: an enum value unknown to the SDK"
        if swagger == "PresenceEventUserPresence":
            assert model.presence_definition.id and model.modified_date.tzinfo is not None
        else:
            assert model.id == topic.split(".")[2] and model.routing_status.start_time.tzinfo is not None


def test_our_parser_reads_what_the_sdk_reads_from_every_emitted_event(
    emitted: list[tuple[str, dict[str, Any]]],
) -> None:
    client = sdk.ApiClient()
    for topic, body in emitted:
        event = {
            "detail-type": topic_pattern(topic),
            "source": "aws.partner/genesys.com/cloud/org/local",
            "detail": event_detail(topic, body, correlation_id="c", timestamp=datetime.now(UTC)),
        }
        parsed = parse_event(event)
        assert parsed.user_id == topic.split(".")[2]
        if isinstance(parsed, PresenceEvent):
            model = client._ApiClient__deserialize(body, "PresenceEventUserPresence")  # type: ignore[attr-defined]
            assert parsed.body.presence_definition.id == model.presence_definition.id
            assert parsed.body.modified_date == model.modified_date
            assert (parsed.body.message or "") == (model.message or "")
        else:
            assert isinstance(parsed, RoutingStatusEvent)
            model = client._ApiClient__deserialize(body, "UserRoutingStatusUserRoutingStatus")  # type: ignore[attr-defined]
            assert parsed.body.routing_status.status == model.routing_status.status
            assert parsed.body.routing_status.start_time == model.routing_status.start_time
