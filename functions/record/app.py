"""Record step: the one immutable audit record, EMF metrics, per-agent aggregates.

Also the consumer of the audit fallback queue: a state the audit table refused during the execution arrives here
as an SQS message and is written once DynamoDB answers again (failed messages are retried by SQS)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from presence_manager import dependencies as deps
from presence_manager.audit import AuditRecord
from presence_manager.observability import logger, metrics
from presence_manager.workflow.batch import batch_records, is_batch_step, parse_batch_step
from presence_manager.workflow.models import parse_step_input
from presence_manager.workflow.record import build_audit_record

deferred = BatchProcessor(event_type=EventType.SQS)


def record_batch(event: dict[str, Any]) -> dict[str, Any]:
    """One audit record per agent of a batch, the bulk's counters for those newly written, their metrics."""
    step = parse_batch_step(event)
    settings, now = deps.settings(), deps.now()
    logger.append_keys(bulkId=step.batch.bulk_id, batch=step.batch.batch)
    records = batch_records(
        step.batch,
        step.counters,
        step.outcome,
        batch_failure=step.failure,
        rate_limited=step.rate_limited,
        build=lambda state: build_audit_record(state, retention_days=settings.audit_retention_days, now=now),
    )
    written = deps.audit_store().record_batch(records)
    deps.bulk_store().add(step.batch.bulk_id, Counter(record.outcome for record in written))
    for record in written:
        publish_metrics(record)
    outcomes = Counter(record.outcome for record in records)
    logger.info("batch recorded", extra={"recorded": len(written), "outcomes": dict(outcomes)})
    return {"batch": step.batch.batch, "recorded": len(records), "outcomes": dict(outcomes)}


def record_change(event: dict[str, Any]) -> dict[str, Any]:
    if is_batch_step(event):
        return record_batch(event)
    state = parse_step_input(event)
    settings = deps.settings()
    record = build_audit_record(state, retention_days=settings.audit_retention_days, now=deps.now())
    logger.append_keys(changeId=record.change_id, userId=record.user_id, outcome=record.outcome)
    stored, written = deps.audit_store().record(record)
    if written:
        publish_metrics(stored)
        logger.info("change recorded", extra={"latencyMs": stored.latency_ms})
    else:
        logger.info("change already recorded; nothing counted twice")
    return stored.to_json()


def publish_metrics(record: AuditRecord) -> None:
    """One EMF document per record, flushed at once: a batch of replayed records (the fallback queue) never
    publishes one record's figures under another's Outcome."""
    metrics.add_dimension(name="Outcome", value=record.outcome)
    metrics.add_metric(name="Changes", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ChangeLatency", unit=MetricUnit.Milliseconds, value=record.latency_ms)
    metrics.add_metric(name="ConflictRetries", unit=MetricUnit.Count, value=record.conflict_retries)
    metrics.add_metric(name="LeaseWaits", unit=MetricUnit.Count, value=record.lease_waits)
    metrics.add_metric(name="RateLimitWaits", unit=MetricUnit.Count, value=record.rate_limit_waits)
    metrics.add_metric(name="BudgetWaits", unit=MetricUnit.Count, value=record.budget_waits)
    if record.export_status == "failed":
        metrics.add_metric(name="ExportFailures", unit=MetricUnit.Count, value=1)
    # The agent id goes in EMF metadata (Logs Insights), never in a dimension.
    metrics.add_metadata(key="userId", value=record.user_id)
    metrics.add_metadata(key="changeId", value=record.change_id)
    metrics.flush_metrics()


def record_deferred(record: SQSRecord) -> None:
    record_change(json.loads(record.body))


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:
        return process_partial_response(
            event=event, record_handler=record_deferred, processor=deferred, context=context
        )
    return record_change(event)
