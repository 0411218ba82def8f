"""Observe: Genesys Cloud presence and routing-status events (the Amazon EventBridge integration's partner event
bus → a rule → SQS → here, in batches). Each SQS message is one EventBridge event; the work is in
presence_manager/observe.py. An unknown or malformed event is logged and dropped; an event that may be of a write of
ours still being remembered, or a DynamoDB error, is reported as a batch item failure and delivered again."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.observability import NAMESPACE, SERVICE, logger
from presence_manager.observe import EventObserver

processor = BatchProcessor(event_type=EventType.SQS)
#: its own metric set, not the shared one: where several handlers share a process (the local runtime), the Record
#: step's per-outcome documents never take in these counts, nor these its dimensions
metrics = EphemeralMetrics(service=SERVICE, namespace=NAMESPACE)

#: observation result → the metric it counts (no agent id in any dimension)
RESULT_METRICS = {"external": "ExternalPresenceChanges", "dropped": "ObservedEventsDropped"}


def observer() -> EventObserver:
    settings = deps.settings()
    return _observer(
        deps.dynamodb(), settings.audit_table_name, settings.agent_table_name, settings.audit_retention_days
    )


@lru_cache(maxsize=2)
def _observer(resource: Any, audit_table: str, agent_table: str, retention_days: int) -> EventObserver:
    """One observer per warm Lambda (it holds only its Table resources), not one per event."""
    return EventObserver(resource, audit_table, agent_table, retention_days=retention_days, now=lambda: deps.now())


def observe_record(record: SQSRecord) -> None:
    observation = observer().observe_message(record.body)
    logger.debug("event observed", extra={"messageId": record.message_id, **observation.model_dump()})
    metrics.add_metric(name="ObservedEvents", unit=MetricUnit.Count, value=1)
    metric = RESULT_METRICS.get(observation.result)
    if metric:
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    if isinstance(records, list):  # the batch's write markers in one read (a failure here fails the whole batch)
        observer().read_markers_of([str(r.get("body", "")) for r in records if isinstance(r, dict)])
    return process_partial_response(event=event, record_handler=observe_record, processor=processor, context=context)
