"""The local one-time schedule runner fires due ``at()`` schedules like EventBridge Scheduler would."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from presence_manager_local.scheduler import OneTimeScheduleRunner, due_at
from tests.aws_tables import mocked_aws_environment


def test_given_an_at_expression_then_its_instant_is_read_in_the_schedule_time_zone() -> None:
    assert due_at("at(2026-03-08T03:30:00)", "America/New_York") == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert due_at("at(2026-11-24T15:30:00)", None) == datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    assert due_at("cron(0 8 ? * MON-FRI *)", "UTC") is None


def test_given_a_due_schedule_then_it_starts_the_execution_once_and_is_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        sfn, scheduler = boto3.client("stepfunctions"), boto3.client("scheduler")
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
        arn = sfn.create_state_machine(name="pc", definition=definition, roleArn="arn:aws:iam::123456789012:role/r")[
            "stateMachineArn"
        ]
        for name, when in (("due", "2026-11-24T15:00:00"), ("later", "2026-11-24T18:00:00")):
            scheduler.create_schedule(
                Name=name,
                ScheduleExpression=f"at({when})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={"Arn": arn, "RoleArn": "arn:aws:iam::123456789012:role/s", "Input": json.dumps({"n": name})},
            )
        runner = OneTimeScheduleRunner(scheduler, sfn)
        fired = runner.fire_due(datetime(2026, 11, 24, 15, 0, 1, tzinfo=UTC))
        assert [f["schedule"] for f in fired] == ["due"]
        assert runner.fire_due(datetime(2026, 11, 24, 15, 0, 2, tzinfo=UTC)) == []
        executions = sfn.list_executions(stateMachineArn=arn)["executions"]
        assert len(executions) == 1
        assert json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"]) == {"n": "due"}
        assert [s["Name"] for s in scheduler.list_schedules()["Schedules"]] == ["later"]
