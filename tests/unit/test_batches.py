"""A bulk change's batches: planned by management unit in 50s, validated and written with one bulk call each, every
agent keeping a single change's guarantees (validated, compared on a fresh read, one record)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager.config import AppSettings
from presence_manager.lease import AgentLease
from presence_manager.workflow.batch import (
    BatchState,
    batch_records,
    locked_update_batch,
    validate_batch,
)
from presence_manager.workflow.bulk import change_fields, parse_bulk_request, plan_batches
from presence_manager.workflow.models import Counters
from presence_manager.workflow.record import build_audit_record
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.fakes import FakeGenesys

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in America/New_York
SETTINGS = AppSettings()
USERS = [f"00000000-0000-4000-8000-{n:012d}" for n in range(60)]
UNIT = {"managementUnitId": "mu-1", "businessUnitId": "bu-1"}


def user(n: int) -> str:
    return USERS[n]


@pytest.fixture
def genesys() -> FakeGenesys:
    fake = FakeGenesys(now=NOW)
    for user_id in USERS:
        fake.add_agent(user_id, "Away")
    return fake


@pytest.fixture
def lease(monkeypatch: pytest.MonkeyPatch) -> Iterator[AgentLease]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        yield AgentLease(dynamodb, "agents")


def batch(users: list[str], **fields: Any) -> BatchState:
    request = parse_bulk_request({"userIds": users, "presence": "Available", "message": "hi", **fields})
    return BatchState.model_validate(
        {
            "bulkId": "blk-1",
            "batch": 0,
            "executionStartTime": "2026-11-24T14:59:59.000Z",
            "request": change_fields(request),
            "unit": UNIT,
            "userIds": users,
        }
    )


def test_given_51_user_ids_of_one_unit_and_one_outside_wfm_then_three_batches_from_one_directory_read(
    genesys: FakeGenesys,
) -> None:
    genesys.units.discard(user(59))
    request = parse_bulk_request({"userIds": [*USERS[:51], user(0), user(59)], "presence": "Away"})
    items = plan_batches(request, genesys=genesys)  # type: ignore[arg-type]
    assert [len(item.user_ids) for item in items] == [50, 1, 1]
    assert [item.unit.management_unit_id if item.unit else None for item in items] == ["mu-1", "mu-1", None]
    assert genesys.calls.count("GET directory") == 1


def test_given_a_batch_when_validated_then_one_bulk_read_and_one_schedule_search_serve_every_agent(
    genesys: FakeGenesys,
) -> None:
    genesys.add_agent(user(1), "Away", on_shift=False)
    state = validate_batch(batch(USERS[:50]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    assert genesys.calls.count("GET presences bulk") == 1
    assert genesys.calls.count("POST schedules search") == 1
    assert "GET presence" not in genesys.calls, "never one read per agent"
    assert state.counts["allowed"] == 49
    off_shift = state.agents[1]
    assert (off_shift.status, off_shift.outcome) == ("done", "rejected")
    assert off_shift.validation and [v.code for v in off_shift.validation.policy.violations] == ["no_active_shift"]


def test_given_a_validated_batch_when_written_then_one_bulk_read_one_bulk_write_and_each_agent_compared(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    state = validate_batch(batch(USERS[:5]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    genesys.calls.clear()
    genesys._set(user(1), "Busy", "clicked")  # a person moved agent 1 after Validate
    genesys.add_agent(user(2), "OnQueue")  # agent 2 went On Queue and took an interaction
    genesys.routing[user(2)] = "INTERACTING"
    lease.acquire(user(3), "chg-other", 30)  # another change of ours holds agent 3
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    statuses = [agent.status for agent in state.agents]
    assert statuses == ["applied", "moved", "moved", "waiting", "applied"]
    assert state.agents[1].counters.conflict_retries == 1 and state.agents[1].conflict is not None
    assert state.agents[3].counters.lease_waits == 1
    assert genesys.calls == ["GET presences bulk", "PUT presences bulk"]
    assert genesys.presences[user(0)].message == "hi" and genesys.presences[user(1)].message == "clicked"
    lease.acquire(user(0), "chg-next", 30)  # released after the write
    for n in (0, 4):  # each write marked (in one BatchWriteItem), so its Genesys event is known as ours
        written = state.agents[n]
        assert written.update is not None
        assert lease.written_by(user(n), written.update.new_etag) == written.change_id


def test_given_a_live_interaction_seen_right_before_the_bulk_write_then_that_agent_is_rejected(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    genesys.add_agent(user(0), "OnQueue")
    genesys.routing[user(0)] = "IDLE"
    state = validate_batch(batch(USERS[:2], presence="Away"), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    genesys.routing[user(0)] = "INTERACTING"  # routing status moves, presence does not
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    first = state.agents[0]
    assert (first.status, first.outcome) == ("done", "rejected") and first.live_interaction is not None
    assert genesys.calls.count("GET users routingStatus") == 1
    assert genesys.presences[user(0)].presence_definition.system_presence == "OnQueue"
    assert state.agents[1].status == "applied"


def test_given_a_bulk_write_whose_answer_is_lost_then_it_is_reconciled_without_a_second_write(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    state = validate_batch(batch(USERS[:3]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    genesys.lose_patch_answers = 1
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    assert state.counts["unconfirmed"] == 3
    with pytest.raises(Exception, match="lease"):
        lease.acquire(user(0), "chg-other", 30)  # held while ours may still land
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    assert [agent.status for agent in state.agents] == ["applied"] * 3
    assert all(agent.update and agent.update.reconciled for agent in state.agents)
    assert genesys.calls.count("PUT presences bulk") == 1


def test_given_a_batch_locked_update_that_timed_out_then_each_agent_is_reconciled_never_written_twice(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    """The Lambda ran out of time after its bulk write reached agents 0 and 1 (its answer, the batch, is lost):
    the state machine catches the timeout into ``timedOut`` and runs LockedUpdate again after the settle wait."""
    validated = validate_batch(batch(USERS[:3]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    for n in (0, 1):  # what the lost invocation wrote, under its leases (never released)
        lease.acquire(user(n), validated.agents[n].change_id, 30)
        genesys._set(user(n), "Available", "hi")
    genesys._set(user(1), "Busy", "clicked")  # and a person moved agent 1 since
    genesys.calls.clear()
    caught = {"Error": "Sandbox.Timedout", "Cause": "Task timed out after 30.00 seconds"}
    state = locked_update_batch(
        BatchState.model_validate({**validated.to_json(), "timedOut": caught}),  # as the Catch hands it back
        genesys=genesys,  # type: ignore[arg-type]
        lease=lease,
        settings=SETTINGS,
        now=NOW,
    )
    assert [agent.status for agent in state.agents] == ["applied", "moved", "applied"]
    assert state.agents[0].update and state.agents[0].update.reconciled, "landed: applied without a second write"
    assert state.agents[2].update and not state.agents[2].update.reconciled, "not landed: written under the lease"
    assert [agent.counters.unconfirmed_writes for agent in state.agents] == [1, 1, 1]
    assert genesys.calls == ["GET presences bulk", "PUT presences bulk"]
    assert genesys.presences[user(1)].message == "clicked", "a presence moved since is never overwritten"
    assert state.timed_out is None


def test_given_a_finished_batch_then_one_record_per_agent_and_the_unfinished_take_the_batch_outcome(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    state = validate_batch(batch(USERS[:3]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    genesys._set(user(2), "Busy", "clicked")
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    records = batch_records(
        state,
        Counters(conflict_retries=3),
        "conflict",
        batch_failure=None,
        rate_limited=None,
        build=lambda step: build_audit_record(step, retention_days=1, now=NOW),
    )
    assert [(r.user_id, r.outcome) for r in records] == [
        (user(0), "applied"),
        (user(1), "applied"),
        (user(2), "conflict"),
    ]
    assert {r.bulk_id for r in records} == {"blk-1"}
    assert records[0].error is None and records[2].error and records[2].error["type"] == "PreconditionFailed"
    assert records[2].conflict_retries == 1
    assert records[0].new_presence and records[0].new_presence.message == "hi"


def test_given_a_full_batch_after_writing_then_its_state_stays_far_below_the_step_limit(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    state = validate_batch(batch(USERS[:50]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    size = len(json.dumps(state.to_json()))
    assert size < 200_000, f"a batch's state is {size} bytes"


def test_given_a_batch_respecting_own_changes_then_only_the_agent_who_just_clicked_is_left_alone(
    genesys: FakeGenesys,
) -> None:
    class Activity:
        reads = 0

        def last_external_changes(self, user_ids: list[str]) -> dict[str, str]:
            Activity.reads += 1
            return {user(1): "2026-11-24T14:58:00.000Z"}

    state = validate_batch(  # type: ignore[arg-type]
        batch(USERS[:3], respectOwnChangesMinutes=10), genesys=genesys, settings=SETTINGS, now=NOW, agents=Activity()
    )
    assert [agent.outcome for agent in state.agents] == [None, "rejected", None]
    assert state.agents[1].validation and state.agents[1].validation.policy.violations[0].code == (
        "agent_changed_presence_recently"
    )
    assert Activity.reads == 1, "one read for the whole batch"


def test_given_an_entry_refused_once_then_only_that_one_is_sent_again_ten_at_a_time(
    genesys: FakeGenesys, lease: AgentLease
) -> None:
    from presence_manager.workflow.batch import export_batch

    class Events:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls.append([json.loads(e["Detail"])["userId"] for e in Entries])
            refuse = len(self.calls) == 1  # the first entry of the first call is refused once
            answers = [{"ErrorCode": "ThrottlingException"} if refuse and i == 0 else {} for i in range(len(Entries))]
            return {"FailedEntryCount": 1 if refuse else 0, "Entries": answers}

    state = validate_batch(batch(USERS[:12]), genesys=genesys, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    state = locked_update_batch(state, genesys=genesys, lease=lease, settings=SETTINGS, now=NOW)  # type: ignore[arg-type]
    events = Events()
    state = export_batch(state, Counters(), events=events, bus_name="bus", now=NOW)
    assert [len(call) for call in events.calls] == [10, 2, 1], "PutEvents takes 10 at most; the refused one again"
    assert events.calls[2] == [user(0)]
    assert all(agent.export is not None for agent in state.agents), "every applied agent published once"
