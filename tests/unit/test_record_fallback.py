"""No audit record is lost: when the table refuses Record after every retry, the state machine parks the state on the
fallback queue, and the Record function, as that queue's consumer, writes it later."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager import dependencies as deps
from presence_manager.audit import AuditStore
from presence_manager.config import AppSettings
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler
from tests.unit.test_state_machine_definitions import load, states_of

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuditStore]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AuditTable", "audit")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        audit = AuditStore(dynamodb, "audit", "agents")
        monkeypatch.setattr(deps, "settings", lambda: AppSettings(AUDIT_TABLE_NAME="audit", AGENT_TABLE_NAME="agents"))
        monkeypatch.setattr(deps, "audit_store", lambda: audit)
        yield audit


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": "r",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fallback",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_given_a_deferred_state_on_the_queue_then_the_record_function_writes_it_once(store: AuditStore) -> None:
    state = {
        "changeId": "chg-deferred",
        "executionStartTime": "2026-11-24T10:00:00.000Z",
        "request": {"userId": USER, "presence": "Away"},
        "outcome": "rejected",
        "recordError": {"Error": "DynamoDB.ProvisionedThroughputExceededException", "Cause": "busy"},
    }
    handler = load_handler("record").handler
    answer = handler(sqs_event(json.dumps(state), "not json"), LambdaContextStub())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}, "a bad message is retried, the good one is not"
    assert store.find_by_change_id("chg-deferred").outcome == "rejected"
    handler(sqs_event(json.dumps(state)), LambdaContextStub())
    assert store.agent_metrics(USER).total_changes == 1, "a redelivered message counts once"


@pytest.mark.parametrize("name", ["presence_change.asl.json", "bulk_change.asl.json"])
def test_given_record_fails_after_its_retries_then_the_state_goes_to_the_fallback_queue(name: str) -> None:
    states = states_of(load(name))
    catch = states["Record"]["Catch"][0]
    assert catch["ErrorEquals"] == ["States.ALL"] and catch["Next"] == "KeepAuditRecord"
    keep = states["KeepAuditRecord"]
    assert keep["Resource"] == "arn:aws:states:::sqs:sendMessage"
    assert keep["Parameters"]["MessageBody.$"] == "$"
    assert keep["Next"] == "AuditDeferred"


def test_given_replayed_records_of_different_outcomes_then_each_publishes_metrics_under_its_own_outcome(
    store: AuditStore, capsys: pytest.CaptureFixture[str]
) -> None:
    def deferred(change_id: str, outcome: str, conflicts: int) -> str:
        state = {
            "changeId": change_id,
            "executionStartTime": "2026-11-24T10:00:00.000Z",
            "request": {"userId": USER, "presence": "Away"},
            "outcome": outcome,
            "counters": {"conflictRetries": conflicts},
        }
        return json.dumps(state)

    handler = load_handler("record").handler
    handler(sqs_event(deferred("chg-1", "applied", 0), deferred("chg-2", "conflict", 3)), LambdaContextStub())
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    by_change = {doc["changeId"]: doc for doc in documents}
    assert (by_change["chg-1"]["Outcome"], by_change["chg-1"]["ConflictRetries"]) == ("applied", [0.0])
    assert (by_change["chg-2"]["Outcome"], by_change["chg-2"]["ConflictRetries"]) == ("conflict", [3.0])
