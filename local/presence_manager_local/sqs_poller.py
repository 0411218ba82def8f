"""Lambda's SQS event source mappings, locally: moto stores a function's ``Events`` of ``Type: SQS`` nowhere and never
polls a queue for a function, so for every such mapping in template.yaml a daemon thread does what Lambda's poller
does - receive up to ``BatchSize`` messages, invoke the function with an SQS event (``{"Records": [...]}``), then:

- the invocation failed (an exception, a timeout): every message stays on the queue;
- ``FunctionResponseTypes: [ReportBatchItemFailures]``: the items named in ``batchItemFailures`` stay, the others
  are deleted (an answer that is not a valid partial-batch response fails the whole batch, as on AWS);
- otherwise: every message is deleted.

A message that stays becomes visible again and is received again (the queue's ``RedrivePolicy`` - created from the
template too - moves it to its dead-letter queue after ``maxReceiveCount`` receives). One local difference: on AWS it
stays invisible for the queue's whole ``VisibilityTimeout``; here it comes back after ``2^(receives - 1)`` seconds,
capped by that timeout, so local runs retry in seconds, not minutes.

Every poll that delivered messages is kept in :attr:`SqsPoller.deliveries` (function, message ids, failures).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

#: (function name, event, timeout seconds) → (payload, error type or None): the runtime's in-process Lambda invoke
Invoke = Callable[[str, dict[str, Any], float], tuple[Any, str | None]]


@dataclass(frozen=True)
class SqsMapping:
    """One function's SQS event, resolved against the local stack."""

    function_logical: str
    function_name: str
    queue_arn: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool
    timeout_seconds: float
    visibility_timeout_seconds: int


def sqs_event(mapping: SqsMapping, messages: list[dict[str, Any]], region: str) -> dict[str, Any]:
    """What Lambda's SQS poller passes to the function."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "binaryValue": value.get("BinaryValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value.get("DataType"),
                    }
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": mapping.queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


def failed_items(mapping: SqsMapping, messages: list[dict[str, Any]], payload: Any, error: str | None) -> set[str]:
    """The message ids that stay on the queue after an invocation."""
    every = {m["MessageId"] for m in messages}
    if error is not None:
        return every
    if not mapping.report_batch_item_failures:
        return set()
    if payload is None or payload == {}:
        return set()  # a null or empty response: a complete success
    if not isinstance(payload, dict):
        return every
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return every
    named: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in every:
            return every  # an empty, null or unknown identifier: the whole batch failed
        named.add(identifier)
    return named


class SqsPoller:
    def __init__(
        self,
        sqs: Any,
        invoke: Invoke,
        mappings: list[SqsMapping],
        *,
        region: str,
        wait_seconds: int = 1,
    ) -> None:
        self._sqs = sqs
        self._invoke = invoke
        self.mappings = mappings
        self._region = region
        self._wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._polling = {mapping.function_logical: threading.Lock() for mapping in mappings}
        self._paused: set[str] = set()
        self.deliveries: list[dict[str, Any]] = []

    def start(self) -> None:
        for mapping in self.mappings:
            thread = threading.Thread(
                target=self._run, args=(mapping,), name=f"sqs-mapping:{mapping.function_logical}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self._wait_seconds + 5)
        self._threads = []

    @contextlib.contextmanager
    def paused(self, function_logical: str) -> Iterator[None]:
        """No delivery to the function while inside (messages wait on its queue, as with a disabled mapping); a poll
        in flight is finished first."""
        self._paused.add(function_logical)
        with self._polling[function_logical]:
            pass
        try:
            yield
        finally:
            self._paused.discard(function_logical)

    def _run(self, mapping: SqsMapping) -> None:
        while not self._stop.is_set():
            if mapping.function_logical in self._paused:
                self._stop.wait(0.1)
                continue
            try:
                with self._polling[mapping.function_logical]:
                    if mapping.function_logical not in self._paused:
                        self.poll_once(mapping)
            except Exception:
                if self._stop.wait(1):  # the queue or moto is gone (the stack stopping): try again shortly
                    return

    def poll_once(self, mapping: SqsMapping) -> dict[str, Any] | None:
        """Receive one batch and deliver it; None when the queue had nothing within the wait."""
        answer = self._sqs.receive_message(
            QueueUrl=mapping.queue_url,
            MaxNumberOfMessages=mapping.batch_size,
            WaitTimeSeconds=self._wait_seconds,
            VisibilityTimeout=mapping.visibility_timeout_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return None
        payload, error = self._invoke(
            mapping.function_name, sqs_event(mapping, messages, self._region), mapping.timeout_seconds
        )
        failed = failed_items(mapping, messages, payload, error)
        for message in messages:
            if message["MessageId"] in failed:
                receives = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                delay = min(mapping.visibility_timeout_seconds, 2 ** max(0, receives - 1))
                self._sqs.change_message_visibility(
                    QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=delay
                )
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:  # as Lambda's poller: the batch's processed messages in one DeleteMessageBatch
            self._sqs.delete_message_batch(
                QueueUrl=mapping.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        delivery = {
            "function": mapping.function_logical,
            "at": time.time(),
            "messageIds": [m["MessageId"] for m in messages],
            "bodies": [m["Body"] for m in messages],
            "failed": sorted(failed),
            "errorType": error,
        }
        with self._lock:
            self.deliveries.append(delivery)
        return delivery


def parse_payload(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")
