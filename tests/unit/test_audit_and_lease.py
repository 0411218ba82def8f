"""The audit store and the per-agent lease, against the template's own tables (moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager.audit import AuditRecord, AuditStore
from presence_manager.errors import InvalidRequest, LeaseHeld
from presence_manager.lease import AgentLease, LastWrite
from tests.aws_tables import create_table_from_template, mocked_aws_environment

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        resource = boto3.resource("dynamodb")
        create_table_from_template(resource, "AuditTable", "audit")
        create_table_from_template(resource, "AgentTable", "agents")
        yield resource


def record(change_id: str, started: str, outcome: str = "applied", **fields: Any) -> AuditRecord:
    base: dict[str, Any] = {
        "userId": USER,
        "sk": f"{started}#{change_id}",
        "changeId": change_id,
        "outcome": outcome,
        "latencyMs": 1000,
        "startedAt": started,
        "recordedAt": started,
        "expiresAt": 1,
        "requestedPresence": {"requested": "Away", "definitionId": "d", "systemPresence": "Away", "label": "Away"},
    }
    base.update(fields)
    return AuditRecord.model_validate(base)


def test_given_a_retried_record_step_then_the_record_is_written_once_and_counted_once(dynamodb: Any) -> None:
    store = AuditStore(dynamodb, "audit", "agents")
    _, written = store.record(record("chg-1", "2026-11-24T10:00:00.000Z", conflictRetries=2))
    again, written_again = store.record(record("chg-1", "2026-11-24T10:00:00.000Z", conflictRetries=2, latencyMs=9))
    assert (written, written_again) == (True, False)
    assert again.latency_ms == 1000, "the stored record is immutable"
    metrics = store.agent_metrics(USER)
    assert metrics.total_changes == 1
    assert metrics.conflict_retries == 2


def test_given_several_outcomes_then_agent_metrics_give_average_latency_and_conflict_rate(dynamodb: Any) -> None:
    store = AuditStore(dynamodb, "audit", "agents")
    store.record(record("a", "2026-11-24T10:00:00.000Z", latencyMs=1000, conflictRetries=1))
    store.record(record("b", "2026-11-24T10:01:00.000Z", latencyMs=3000))
    store.record(record("c", "2026-11-24T10:02:00.000Z", outcome="conflict", latencyMs=9000, conflictRetries=3))
    store.record(record("d", "2026-11-24T10:03:00.000Z", outcome="rejected", latencyMs=50))
    metrics = store.agent_metrics(USER)
    assert metrics.total_changes == 4
    assert metrics.total_updates == 3, "applied and conflict changes attempted an update"
    assert metrics.average_latency_ms == 2000.0, "over applied changes only"
    assert metrics.conflict_rate == round(4 / 3, 4)
    assert metrics.outcomes == {"applied": 2, "conflict": 1, "rejected": 1}
    assert metrics.last_change_id == "d"


def test_given_an_agent_without_changes_then_metrics_are_zero_and_rates_unknown(dynamodb: Any) -> None:
    metrics = AuditStore(dynamodb, "audit", "agents").agent_metrics(USER)
    assert (metrics.total_updates, metrics.average_latency_ms, metrics.conflict_rate) == (0, None, None)


def test_given_a_history_then_it_pages_newest_first_within_the_window(dynamodb: Any) -> None:
    store = AuditStore(dynamodb, "audit", "agents")
    for minute in range(5):
        store.record(record(f"chg-{minute}", f"2026-11-24T10:0{minute}:00.000Z"))
    page, token = store.history(USER, limit=2)
    assert [r.change_id for r in page] == ["chg-4", "chg-3"]
    rest, token2 = store.history(USER, limit=10, next_token=token)
    assert [r.change_id for r in rest] == ["chg-2", "chg-1", "chg-0"]
    assert token2 is None
    window, _ = store.history(USER, since="2026-11-24T10:01:00.000Z", until="2026-11-24T10:03:00.000Z")
    assert [r.change_id for r in window] == ["chg-3", "chg-2", "chg-1"]
    assert store.find_by_change_id("chg-2") is not None
    with pytest.raises(InvalidRequest):
        store.history(USER, next_token="garbage")


def test_given_a_held_lease_then_another_writer_is_refused_until_it_expires(dynamodb: Any) -> None:
    clock = [1000.0]
    lease = AgentLease(dynamodb, "agents", clock=lambda: clock[0])
    lease.acquire(USER, "chg-a", 30)
    with pytest.raises(LeaseHeld):
        lease.acquire(USER, "chg-b", 30)
    lease.acquire(USER, "chg-a", 30)  # re-entrant for its owner (a retried step)
    clock[0] += 31
    lease.acquire(USER, "chg-b", 30)
    lease.release(USER, "chg-a")  # not ours any more: a no-op
    with pytest.raises(LeaseHeld):
        lease.acquire(USER, "chg-c", 30)
    lease.release(USER, "chg-b")
    lease.acquire(USER, "chg-c", 30)
    with pytest.raises(LeaseHeld):
        lease.acquire(USER, "chg-d", 30)
    lease.release(USER, "chg-c", wrote=LastWrite(change_id="chg-c", etag='"e-c"'))
    lease.acquire(USER, "chg-d", 30)
    assert lease.last_write(USER) == LastWrite(change_id="chg-c", etag='"e-c"'), "kept across leases"
    assert lease.written_by(USER, '"e-c"') == "chg-c"
    assert lease.written_by(USER, '"e-x"') is None, "a presence we did not write"


def test_given_a_lease_held_while_a_write_settles_then_others_are_told_to_wait_until_it_expires(dynamodb: Any) -> None:
    clock = [1000.0]
    lease = AgentLease(dynamodb, "agents", clock=lambda: clock[0])
    lease.acquire(USER, "chg-a", 30)
    lease.hold_while_settling(USER, "chg-a", 90)
    with pytest.raises(LeaseHeld) as held:
        lease.acquire(USER, "chg-b", 30)
    assert json.loads(str(held.value))["retryAfterSeconds"] == 90
    lease.acquire(USER, "chg-a", 30)  # the same change comes back to reconcile
    lease.release(USER, "chg-a")
    lease.acquire(USER, "chg-b", 30)
