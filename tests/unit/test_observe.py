"""Outside changes, seen (presence_manager/observe.py and the observe handler), against the template's own tables
(moto): ours told apart by the ETag we wrote, one external record per outside change whatever the redeliveries,
last-known presence and routing status never moved backwards, bad events dropped without failing the batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager import dependencies as deps
from presence_manager.audit import AuditStore
from presence_manager.config import AppSettings
from presence_manager.etag import presence_etag
from presence_manager.genesys.events import (
    MalformedEvent,
    UnknownTopic,
    event_detail,
    parse_event,
    topic_pattern,
)
from presence_manager.genesys.models import PresenceDefinition, UserPresence
from presence_manager.lease import AgentLease, LastWrite
from presence_manager.observe import EventObserver, OwnWriteUnsettled, external_change_id
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
AWAY = "5e5b7c4f-1d2e-4b8a-9c3d-1a2b3c4d5e6f"
ON_QUEUE = "e08eaf1b-ee47-4fa9-a231-1200e284798f"
SOURCE = "aws.partner/genesys.com/cloud/a34ce679-0816-4e16-9f16-a8955b68466d/presence-manager"
NOW = datetime(2026, 11, 24, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        resource = boto3.resource("dynamodb")
        create_table_from_template(resource, "AuditTable", "audit")
        create_table_from_template(resource, "AgentTable", "agents")
        yield resource


@pytest.fixture
def observer(dynamodb: Any) -> EventObserver:
    return EventObserver(dynamodb, "audit", "agents", retention_days=30, now=lambda: NOW, clock=NOW.timestamp)


def presence_event(
    modified: str,
    definition_id: str = AWAY,
    message: str = "",
    system_presence: str = "Away",
    *,
    user_id: str = USER,
    source: str | None = "PURECLOUD",
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "presenceDefinition": {"id": definition_id, "systemPresence": system_presence},
        "primary": True,
        "message": message,
        "modifiedDate": modified,
    }
    if source:
        body["source"] = source
    return envelope(f"v2.users.{user_id}.presence", body)


def routing_event(status: str, start: str | None, *, user_id: str = USER) -> dict[str, Any]:
    routing: dict[str, Any] = {"status": status}
    if start:
        routing["startTime"] = start
    return envelope(f"v2.users.{user_id}.routingStatus", {"id": user_id, "routingStatus": routing})


def envelope(topic: str, body: dict[str, Any]) -> dict[str, Any]:
    """An EventBridge event as an SQS target receives it."""
    return {
        "version": "0",
        "id": "7f0e6a2c-0000-4000-8000-000000000001",
        "detail-type": topic_pattern(topic),
        "source": SOURCE,
        "account": "123456789012",
        "time": "2026-11-24T10:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": event_detail(topic, body, correlation_id="corr-1", timestamp=NOW),
    }


def etag_of(modified: str, definition_id: str = AWAY, message: str = "") -> str:
    return presence_etag(
        UserPresence(
            presence_definition=PresenceDefinition(id=definition_id),
            message=message,
            modified_date=datetime.fromisoformat(modified),
        )
    )


def audit_items(dynamodb: Any) -> list[dict[str, Any]]:
    return dynamodb.Table("audit").scan()["Items"]


def agent_item(dynamodb: Any) -> dict[str, Any]:
    return dynamodb.Table("agents").get_item(Key={"pk": f"AGENT#{USER}"}).get("Item") or {}


# ---- the envelope and the bodies ------------------------------------------------------------------------------


def test_given_the_integrations_envelope_then_the_topic_names_the_user_and_the_body_is_read() -> None:
    event = parse_event(presence_event("2026-11-24T10:00:00.000Z", ON_QUEUE, "hi", "On Queue"))
    assert event.kind == "presence" and event.user_id == USER and event.correlation_id == "corr-1"
    assert event.body.presence_definition.system_presence == "OnQueue", "the wire's 'On Queue' is normalised"
    routing = parse_event(routing_event("INTERACTING", "2026-11-24T10:00:00.000Z"))
    assert routing.kind == "routingStatus" and routing.body.routing_status.status == "INTERACTING"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (envelope("v2.users.x.activity", {"id": "x"}), UnknownTopic),
        (envelope("v2.users.x.presence", {"message": "no definition, no modifiedDate"}), MalformedEvent),
        (routing_event("ON_BREAK", None), MalformedEvent),
        (routing_event("IDLE", None, user_id="someone") | {"detail": {"topicName": f"v2.users.{USER}.routingStatus",
         "eventBody": {"id": "someone-else", "routingStatus": {"status": "IDLE"}}}}, MalformedEvent),
        ({"detail": "not an object"}, MalformedEvent),
        ({"detail": {"topicName": "v2.analytics.queues.x.observations", "eventBody": []}}, UnknownTopic),
        (["not", "an", "event"], MalformedEvent),
    ],
    ids=["unknown-topic", "presence-without-fields", "unknown-status", "body-of-another-user", "detail-string",
         "other-topic-bad-body", "a-list"],
)  # fmt: skip
def test_given_an_unknown_or_malformed_event_then_parsing_says_which(event: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_event(event)


# ---- presence: ours or external ---------------------------------------------------------------------------------


def test_given_an_outside_change_then_one_external_record_and_the_agents_last_presence_and_count(
    dynamodb: Any, observer: EventObserver
) -> None:
    seen = observer.observe(presence_event("2026-11-24T10:00:00.000Z", message="coffee"))
    assert seen.result == "external"
    assert seen.change_id == external_change_id(USER, datetime(2026, 11, 24, 10, tzinfo=UTC), AWAY)
    (item,) = audit_items(dynamodb)
    assert item["source"] == "external" and item["outcome"] == "observed"
    assert item["sk"] == f"2026-11-24T10:00:00.000Z#{seen.change_id}"
    assert item["requestedBy"] == "genesys:PURECLOUD"
    assert item["newPresence"]["definitionId"] == AWAY and item["newPresence"]["message"] == "coffee"
    assert item["newEtag"] == etag_of("2026-11-24T10:00:00.000+00:00", message="coffee")
    assert "previousPresence" not in item, "nothing was known before"
    agent = agent_item(dynamodb)
    assert agent["externalEdits"] == 1
    assert agent["lastExternalChangeAt"] == "2026-11-24T10:00:00.000Z"
    assert agent["lastPresence"]["systemPresence"] == "Away" and agent["lastPresenceAt"] == "2026-11-24T10:00:00.000Z"
    metrics = AuditStore(dynamodb, "audit", "agents").agent_metrics(USER)
    assert (metrics.external_edits, metrics.total_changes, metrics.outcomes) == (1, 0, {})
    assert metrics.last_presence is not None and metrics.last_presence["definitionId"] == AWAY


def test_given_a_redelivered_event_then_no_second_record_and_no_second_count(
    dynamodb: Any, observer: EventObserver
) -> None:
    event = presence_event("2026-11-24T10:00:00.000Z")
    assert observer.observe(event).result == "external"
    assert observer.observe_message(json.dumps(event)).result == "duplicate"
    assert len(audit_items(dynamodb)) == 1
    assert agent_item(dynamodb)["externalEdits"] == 1


def test_given_a_presence_we_wrote_then_no_record_only_the_last_known_presence(
    dynamodb: Any, observer: EventObserver
) -> None:
    lease = AgentLease(dynamodb, "agents", clock=NOW.timestamp)
    lease.acquire(USER, "chg-ours", 30)
    lease.release(USER, "chg-ours", wrote=LastWrite(change_id="chg-ours", etag=etag_of("2026-11-24T10:00:00+00:00")))
    seen = observer.observe(presence_event("2026-11-24T10:00:00.000Z"))
    assert (seen.result, seen.change_id) == ("ours", "chg-ours")
    assert audit_items(dynamodb) == []
    agent = agent_item(dynamodb)
    assert "externalEdits" not in agent and "lastExternalChangeAt" not in agent
    assert agent["lastPresence"]["changeId"] == "chg-ours"


def test_given_an_older_write_of_ours_arriving_after_a_newer_one_then_it_is_still_ours(
    dynamodb: Any, observer: EventObserver
) -> None:
    lease = AgentLease(dynamodb, "agents", clock=NOW.timestamp)
    for change, modified in (("chg-1", "2026-11-24T10:00:00+00:00"), ("chg-2", "2026-11-24T10:00:05+00:00")):
        lease.acquire(USER, change, 30)
        lease.release(USER, change, wrote=LastWrite(change_id=change, etag=etag_of(modified)))
    assert observer.observe(presence_event("2026-11-24T10:00:05.000Z")).result == "ours"
    late = observer.observe(presence_event("2026-11-24T10:00:00.000Z"))
    assert (late.result, late.change_id) == ("stale", "chg-1"), "ours, and too old to move the last presence"
    assert agent_item(dynamodb)["lastPresenceAt"] == "2026-11-24T10:00:05.000Z"
    assert audit_items(dynamodb) == []


def test_given_our_writer_still_holds_the_lease_then_the_event_waits_instead_of_being_guessed_external(
    dynamodb: Any, observer: EventObserver
) -> None:
    lease = AgentLease(dynamodb, "agents", clock=NOW.timestamp)
    lease.acquire(USER, "chg-writing", 30)
    event = presence_event("2026-11-24T10:00:00.000Z")
    with pytest.raises(OwnWriteUnsettled):
        observer.observe(event)
    assert audit_items(dynamodb) == []
    lease.release(USER, "chg-writing", wrote=LastWrite(change_id="chg-writing", etag=etag_of("2026-11-24T10:00:00Z")))
    assert observer.observe(event).result == "ours", "delivered again once the write is remembered"


def test_given_our_lease_was_released_after_the_agents_own_click_then_the_click_is_external(
    dynamodb: Any, observer: EventObserver
) -> None:
    lease = AgentLease(dynamodb, "agents", clock=NOW.timestamp)
    lease.acquire(USER, "chg-ours", 30)
    lease.release(USER, "chg-ours", wrote=LastWrite(change_id="chg-ours", etag=etag_of("2026-11-24T10:00:00Z")))
    click = observer.observe(presence_event("2026-11-24T10:00:02.000Z", ON_QUEUE, system_presence="On Queue"))
    assert click.result == "external"


def test_given_an_expired_lease_then_the_event_is_not_held_back(dynamodb: Any) -> None:
    later = EventObserver(dynamodb, "audit", "agents", retention_days=30, now=lambda: NOW, clock=lambda: 4e9)
    AgentLease(dynamodb, "agents", clock=NOW.timestamp).acquire(USER, "chg-crashed", 30)
    assert later.observe(presence_event("2026-11-24T10:00:00.000Z")).result == "external"


def test_given_outside_changes_out_of_order_then_each_is_recorded_and_the_last_presence_never_moves_back(
    dynamodb: Any, observer: EventObserver
) -> None:
    assert observer.observe(presence_event("2026-11-24T10:00:00.000Z", AWAY, "first")).result == "external"
    assert observer.observe(presence_event("2026-11-24T10:00:09.000Z", ON_QUEUE, "", "On Queue")).result == "external"
    assert observer.observe(presence_event("2026-11-24T10:00:04.000Z", AWAY, "late")).result == "external"
    agent = agent_item(dynamodb)
    assert agent["externalEdits"] == 3
    assert agent["lastPresenceAt"] == agent["lastExternalChangeAt"] == "2026-11-24T10:00:09.000Z"
    assert agent["lastPresence"]["definitionId"] == ON_QUEUE
    by_message = {item["newPresence"].get("message"): item for item in audit_items(dynamodb)}
    assert by_message[""]["previousPresence"]["message"] == "first", "the last known presence before it"
    assert "previousPresence" not in by_message["late"], "a later presence is known: no previous to tell"


def test_given_an_event_without_a_source_then_the_agent_is_named(dynamodb: Any, observer: EventObserver) -> None:
    observer.observe(presence_event("2026-11-24T10:00:00.000Z", source=None))
    assert audit_items(dynamodb)[0]["requestedBy"] == "agent"


# ---- routing status ---------------------------------------------------------------------------------------------


def test_given_routing_status_events_out_of_order_then_only_the_newest_is_kept(
    dynamodb: Any, observer: EventObserver
) -> None:
    assert observer.observe(routing_event("INTERACTING", "2026-11-24T10:00:05.000Z")).result == "routing_status"
    assert observer.observe(routing_event("IDLE", "2026-11-24T10:00:01.000Z")).result == "stale"
    agent = agent_item(dynamodb)
    assert agent["lastRoutingStatus"] == {"status": "INTERACTING", "startTime": "2026-11-24T10:00:05.000Z"}
    assert agent["lastRoutingStatusAt"] == "2026-11-24T10:00:05.000Z"
    assert audit_items(dynamodb) == [], "routing status is kept, never audited"
    metrics = AuditStore(dynamodb, "audit", "agents").agent_metrics(USER)
    assert metrics.last_routing_status == {"status": "INTERACTING", "startTime": "2026-11-24T10:00:05.000Z"}


# ---- the handler: a batch over SQS ----------------------------------------------------------------------------


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:observed",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def count(document: dict[str, Any], metric: str) -> float:
    value = document.get(metric, 0)
    return float(sum(value)) if isinstance(value, list) else float(value)


def test_given_a_batch_with_bad_events_then_they_are_dropped_and_only_an_unsettled_one_is_retried(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(deps, "settings", lambda: AppSettings(AUDIT_TABLE_NAME="audit", AGENT_TABLE_NAME="agents"))
    monkeypatch.setattr(deps, "dynamodb", lambda: dynamodb)
    module = load_handler("observe")
    other = "0c9e7d6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
    AgentLease(dynamodb, "agents").acquire(other, "chg-writing", 300)
    answer = module.handler(
        sqs_event(
            "not json",
            json.dumps(envelope("v2.users.x.activity", {})),
            json.dumps(presence_event("2026-11-24T10:00:00.000Z", message="outside")),
            json.dumps(envelope(f"v2.users.{USER}.presence", {"modifiedDate": "yesterday"})),
            json.dumps(presence_event("2026-11-24T10:00:00.000Z", user_id=other)),
            json.dumps(routing_event("IDLE", "2026-11-24T10:00:00.000Z")),
        ),
        LambdaContextStub(),
    )
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m4"}]}, "only the event our writer may have made"
    assert [i["newPresence"]["message"] for i in audit_items(dynamodb)] == ["outside"]
    assert agent_item(dynamodb)["lastRoutingStatus"]["status"] == "IDLE"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert sum(count(doc, "ExternalPresenceChanges") for doc in emf) == 1
    assert sum(count(doc, "ObservedEventsDropped") for doc in emf) == 3
    assert all(USER not in json.dumps(doc["_aws"]) for doc in emf), "no agent id in a dimension"


def test_given_a_batch_then_its_write_markers_are_read_in_one_request_and_ours_need_no_further_read(
    dynamodb: Any, observer: EventObserver, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "0c9e7d6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
    lease = AgentLease(dynamodb, "agents", clock=NOW.timestamp)
    ours = {USER: "2026-11-24T10:00:00+00:00", other: "2026-11-24T10:00:02+00:00"}
    for user_id, modified in ours.items():
        lease.acquire(user_id, f"chg-{user_id[:4]}", 30)
        lease.release(
            user_id, f"chg-{user_id[:4]}", wrote=LastWrite(change_id=f"chg-{user_id[:4]}", etag=etag_of(modified))
        )
    bodies = [
        json.dumps(presence_event("2026-11-24T10:00:00.000Z")),
        json.dumps(presence_event("2026-11-24T10:00:02.000Z", user_id=other)),
        json.dumps(presence_event("2026-11-24T10:00:09.000Z", message="outside")),
        "not json",
    ]
    observer.read_markers_of(bodies)
    one_by_one: list[tuple[str, str]] = []
    monkeypatch.setattr(observer._lease, "written_by", lambda user, etag: one_by_one.append((user, etag)))
    seen = [observer.observe_message(body) for body in bodies]
    assert [s.result for s in seen] == ["ours", "ours", "external", "dropped"]
    assert [s.change_id for s in seen[:2]] == [f"chg-{USER[:4]}", f"chg-{other[:4]}"]
    assert one_by_one == [(USER, etag_of("2026-11-24T10:00:09+00:00", message="outside"))], (
        "only the outside change is looked up again (its marker could have been written since the batch was read)"
    )
