"""End to end: outside changes, seen. The simulator emits Genesys notification events in the EventBridge integration's
envelope to the local partner event bus; the template's rule puts them on the observed-events queue, whose SQS
mapping (run locally by the runtime's poller) invokes the Observe function. An agent's own change becomes exactly one
``external`` audit record and moves the agent's last-known presence; our own write never becomes one; a redelivered
event makes no second record; a malformed event is dropped without failing its batch."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from presence_manager_local.scenarios import Api, Simulator

pytestmark = pytest.mark.e2e

TIMEOUT = 60


def wait_for(what: str, probe: Callable[[], Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.25)


def external_records(api: Api, user_id: str) -> list[dict[str, Any]]:
    return [item for item in api.get(f"/agents/{user_id}/audit", limit="100")["items"] if item["source"] == "external"]


def queue_url(stack: Any) -> str:
    sqs = stack.boto3_client("sqs")
    return sqs.get_queue_url(QueueName=stack.template.physical["ObservedEventsQueue"]["QueueName"])["QueueUrl"]


def deliveries_of(stack: Any, marker: str, after: int = 0) -> list[dict[str, Any]]:
    """The Observe function's delivered batches whose message bodies contain ``marker`` (from the ``after``-th on)."""
    deliveries = stack.sqs_deliveries("ObserveFunction")[after:]
    return [d for d in deliveries if any(marker in body for body in d["bodies"])]


def delivery_of(stack: Any, marker: str, after: int = 0) -> dict[str, Any] | None:
    found = deliveries_of(stack, marker, after)
    return found[0] if found else None


@pytest.fixture(scope="module")
def agent(stack: Any) -> dict[str, Any]:
    users = Simulator(stack.sim_url).state()["users"]
    return [u for u in users if u["schedulePattern"] == "off_queue_work"][-1]


def test_given_an_agent_changes_their_presence_in_genesys_then_exactly_one_external_record_and_their_last_presence(
    stack: Any, agent: dict[str, Any]
) -> None:
    api, user_id = Api(stack.api_url), agent["id"]
    before = api.get(f"/agents/{user_id}/metrics")
    message = f"outside {uuid.uuid4().hex[:8]}"
    click = {"presence": "Away", "message": message}
    clicked = httpx.post(f"{stack.sim_url}/__sim/users/{user_id}/presence", json=click)
    clicked.raise_for_status()
    modified = clicked.json()["presence"]["modifiedDate"]

    records = wait_for(
        "the external record",
        lambda: [r for r in external_records(api, user_id) if r.get("message") == message],
    )
    assert len(records) == 1
    (record,) = records
    assert record["outcome"] == "observed" and record["requestedBy"] == "genesys:PURECLOUD"
    assert record["newPresence"]["systemPresence"] == "Away" and record["newPresence"]["modifiedDate"] == modified
    assert record["changeId"].startswith("ext-") and record["sk"] == f"{modified}#{record['changeId']}"

    after = api.get(f"/agents/{user_id}/metrics")
    assert after["externalEdits"] == before["externalEdits"] + 1
    assert after["lastExternalChangeAt"] == modified
    assert after["lastPresence"]["message"] == message and after["lastPresence"]["systemPresence"] == "Away"
    assert (after["totalChanges"], after["outcomes"]) == (before["totalChanges"], before["outcomes"]), (
        "an outside change is no change of our workflow"
    )

    # SQS delivers at least once: the same event again makes no second record and counts nothing
    delivered = wait_for("the event's delivery", lambda: delivery_of(stack, message))
    assert delivered["failed"] == [] and delivered["errorType"] is None
    body = next(b for b in delivered["bodies"] if message in b)
    seen = len(stack.sqs_deliveries("ObserveFunction"))
    stack.boto3_client("sqs").send_message(QueueUrl=queue_url(stack), MessageBody=body)
    again = wait_for("the redelivery", lambda: delivery_of(stack, message, after=seen))
    assert again["failed"] == []
    assert len([r for r in external_records(api, user_id) if r.get("message") == message]) == 1
    assert api.get(f"/agents/{user_id}/metrics")["externalEdits"] == after["externalEdits"]


def test_given_our_own_write_then_it_is_seen_as_ours_and_never_becomes_an_external_record(
    stack: Any, agent: dict[str, Any]
) -> None:
    api, user_id = Api(stack.api_url), agent["id"]
    before = api.get(f"/agents/{user_id}/metrics")
    message = f"ours {uuid.uuid4().hex[:8]}"
    started = api.post("/presence-changes", {"userId": user_id, "presence": "Available", "message": message})
    change = api.wait_for_change(started["changeId"])
    assert change["outcome"] == "applied", change
    written = change["details"]["newPresence"]

    metrics = wait_for(
        "the event of our write",
        lambda: (
            (m := api.get(f"/agents/{user_id}/metrics"))["lastPresence"]
            and m["lastPresence"].get("changeId") == started["changeId"]
            and m
        ),
    )
    assert metrics["lastPresence"]["modifiedDate"] == written["modifiedDate"]
    assert metrics["externalEdits"] == before["externalEdits"]
    assert not [r for r in external_records(api, user_id) if r.get("message") == message]
    # delivered once, or handed back while our writer still held the lease and delivered again: never guessed
    deliveries = wait_for("the event's delivery", lambda: [d for d in deliveries_of(stack, message) if not d["failed"]])
    assert all(d["errorType"] is None for d in deliveries)


def test_given_a_malformed_event_on_the_partner_bus_then_it_is_dropped_without_failing_its_batch(
    stack: Any, agent: dict[str, Any]
) -> None:
    api, user_id = Api(stack.api_url), agent["id"]
    before = api.get(f"/agents/{user_id}/metrics")
    source = stack.template.parameters["GenesysEventSourceName"]
    marker = f"malformed-{uuid.uuid4().hex[:8]}"
    detail = {
        "topicName": f"v2.users.{user_id}.presence",
        "version": "2",
        "eventBody": {"message": marker, "modifiedDate": "not a date"},  # no presenceDefinition either
        "metadata": {"CorrelationId": marker},
        "timestamp": "2026-11-24T10:00:00.000Z",
    }
    answer = stack.boto3_client("events").put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": "v2.users.{id}.presence",
                "Detail": json.dumps(detail),
                "EventBusName": source,
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0
    delivered = wait_for("the malformed event's delivery", lambda: delivery_of(stack, marker))
    assert delivered["failed"] == [] and delivered["errorType"] is None, "dropped, not retried"
    after = api.get(f"/agents/{user_id}/metrics")
    assert after["externalEdits"] == before["externalEdits"]
    assert not [r for r in external_records(api, user_id) if r.get("message") == marker]


def test_given_a_routing_status_change_then_the_agents_last_routing_status_follows_it(
    stack: Any, agent: dict[str, Any]
) -> None:
    api, user_id = Api(stack.api_url), agent["id"]
    before = api.get(f"/agents/{user_id}/metrics")
    try:
        for status in ("INTERACTING", "OFF_QUEUE"):
            answer = httpx.post(f"{stack.sim_url}/__sim/users/{user_id}/routingstatus", json={"status": status})
            answer.raise_for_status()
            start = answer.json()["routingStatusStartTime"]
            metrics = wait_for(
                f"routing status {status}",
                lambda status=status, start=start: (
                    (m := api.get(f"/agents/{user_id}/metrics"))["lastRoutingStatus"]
                    == {"status": status, "startTime": start}
                    and m
                ),
            )
            assert metrics["lastRoutingStatusAt"] == start
    finally:
        httpx.post(f"{stack.sim_url}/__sim/users/{user_id}/routingstatus", json={"status": "OFF_QUEUE"})
    assert api.get(f"/agents/{user_id}/metrics")["externalEdits"] == before["externalEdits"], "no presence change"
