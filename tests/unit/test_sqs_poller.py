"""The local SQS event source mapping (local/presence_manager_local/sqs_poller.py), against moto's SQS: what Lambda's
poller does with a batch - partial failures stay on the queue, an invocation error keeps the whole batch, a function
without ReportBatchItemFailures has every message deleted, an invalid partial response fails the whole batch."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager_local.sqs_poller import SqsMapping, SqsPoller, failed_items
from tests.aws_tables import mocked_aws_environment


@pytest.fixture
def sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        yield boto3.client("sqs")


def mapping(url: str, *, report: bool = True) -> SqsMapping:
    return SqsMapping(
        function_logical="F",
        function_name="gpm-local-F",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        queue_url=url,
        batch_size=10,
        report_batch_item_failures=report,
        timeout_seconds=3,
        visibility_timeout_seconds=30,
    )


def queue_with(sqs: Any, *bodies: str) -> str:
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
    return url


def counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_given_a_partial_failure_then_only_the_failed_message_stays_and_the_event_is_sqs_shaped(sqs: Any) -> None:
    url = queue_with(sqs, "good", "bad", "good too")
    seen: list[dict[str, Any]] = []

    def invoke(name: str, event: dict[str, Any], timeout: float) -> tuple[Any, str | None]:
        seen.append(event)
        bad = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in bad]}, None

    delivery = SqsPoller(sqs, invoke, [mapping(url)], region="us-east-1", wait_seconds=0).poll_once(mapping(url))
    assert delivery is not None and len(delivery["failed"]) == 1
    (record, *_) = seen[0]["Records"]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":q")
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert sorted(r["body"] for r in seen[0]["Records"]) == ["bad", "good", "good too"]
    assert sum(counts(sqs, url)) == 1, "the failed one stays (visible again after a second), the others are gone"


def test_given_an_invocation_error_then_the_whole_batch_stays(sqs: Any) -> None:
    url = queue_with(sqs, "a", "b")
    poller = SqsPoller(sqs, lambda *_: ({"errorType": "Boom"}, "Boom"), [], region="us-east-1", wait_seconds=0)
    delivery = poller.poll_once(mapping(url))
    assert delivery is not None and delivery["errorType"] == "Boom" and len(delivery["failed"]) == 2
    assert sum(counts(sqs, url)) == 2
    assert poller.deliveries == [delivery]


def test_given_no_partial_batch_responses_then_every_message_is_deleted(sqs: Any) -> None:
    url = queue_with(sqs, "a", "b")
    poller = SqsPoller(sqs, lambda *_: ({"batchItemFailures": "ignored"}, None), [], region="us-east-1", wait_seconds=0)
    assert poller.poll_once(mapping(url, report=False))["failed"] == []
    assert counts(sqs, url) == (0, 0)
    assert poller.poll_once(mapping(url, report=False)) is None, "an empty queue delivers nothing"


@pytest.mark.parametrize(
    ("payload", "stays"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}]}, {"m1"}),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"m1", "m2"}),
        ({"batchItemFailures": [{"id": "m1"}]}, {"m1", "m2"}),
        ({"batchItemFailures": "m1"}, {"m1", "m2"}),
        ("not json", {"m1", "m2"}),
    ],
)
def test_partial_batch_responses_are_read_as_lambda_reads_them(payload: Any, stays: set[str]) -> None:
    messages = [{"MessageId": "m1"}, {"MessageId": "m2"}]
    assert failed_items(mapping("url"), messages, payload, None) == stays, json.dumps(payload)


def test_given_a_paused_mapping_then_nothing_is_delivered_until_it_resumes_and_then_in_one_batch(sqs: Any) -> None:
    url = queue_with(sqs)
    calls: list[list[str]] = []

    def invoke(name: str, event: dict[str, Any], timeout: float) -> tuple[Any, str | None]:
        calls.append([r["body"] for r in event["Records"]])
        return None, None

    poller = SqsPoller(sqs, invoke, [mapping(url)], region="us-east-1", wait_seconds=1)
    poller.start()
    try:
        with poller.paused("F"):
            sqs.send_message(QueueUrl=url, MessageBody="one")
            sqs.send_message(QueueUrl=url, MessageBody="two")
            time.sleep(1.5)
            assert calls == []
        deadline = time.monotonic() + 10
        while not calls and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()
    assert [sorted(batch) for batch in calls] == [["one", "two"]]
