"""The local runtime reads template.yaml itself: intrinsics resolve to the local stack's names, and business hours
are set around now so local runs pass at any hour."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from presence_manager.timeutil import BusinessHours
from presence_manager_local.emulation import (
    LOCAL_PARAMETERS,
    TEMPLATE,
    ResolvedTemplate,
    business_hours_around_now,
    function_timeout,
)


@pytest.mark.parametrize("hour", range(24))
def test_local_business_hours_always_contain_now(hour: int) -> None:
    now = datetime(2026, 3, 8, hour, 30, tzinfo=UTC)
    window = business_hours_around_now("America/New_York", now)
    hours = BusinessHours(start=window["BusinessHoursStart"], end=window["BusinessHoursEnd"])
    assert hours.contains(now, ZoneInfo("America/New_York"))


def test_the_template_resolves_to_local_names_and_substitutes_the_state_machine() -> None:
    template = ResolvedTemplate.load({"GenesysCredentialsSecretId": "s", "RateLimitMaxWaits": "2"})
    env = template.function_environment()
    assert env["AUDIT_TABLE_NAME"] == template.physical["AuditTable"]["Ref"]
    assert env["STATE_MACHINE_ARN"] == template.physical["PresenceChangeStateMachine"]["Arn"]
    assert env["REVERT_TARGET_ARN"] == env["STATE_MACHINE_ARN"]
    definition = json.loads(template.state_machine_definition("PresenceChangeStateMachine"))
    assert definition["States"]["Validate"]["Resource"] == template.physical["ValidateFunction"]["Arn"]
    assert definition["States"]["RateLimitBudgetLeft"]["Choices"][0]["NumericGreaterThanEquals"] == 2
    routes = {(method, path) for method, path, _ in template.api_routes()}
    assert ("POST", "/presence-changes") in routes and ("GET", "/bulk-changes/{bulkId}") in routes


def test_the_local_parameters_fill_every_placeholder_of_both_state_machines() -> None:
    template = ResolvedTemplate.load(LOCAL_PARAMETERS)
    for logical in template.of_type("AWS::Serverless::StateMachine"):
        text = template.state_machine_definition(logical)
        assert "${" not in text, logical
        json.loads(text)
    definition = json.loads(template.state_machine_definition("PresenceChangeStateMachine"))
    assert definition["States"]["WaitForWriteToSettle"]["Seconds"] == 6
    assert template.function_environment()["WRITE_SETTLE_SECONDS"] == "6"


def test_every_function_gets_the_template_timeout_its_own_over_the_globals_one() -> None:
    from cfnlint.decode import cfn_yaml

    template = ResolvedTemplate.load(LOCAL_PARAMETERS)
    default = cfn_yaml.load(str(TEMPLATE))["Globals"]["Function"]["Timeout"]
    functions = template.of_type("AWS::Serverless::Function")
    assert functions
    for logical, spec in functions.items():
        assert function_timeout(template, logical) == spec["Properties"].get("Timeout", default)
    logical = next(iter(functions))
    template.resources[logical] = {
        **functions[logical],
        "Properties": {**functions[logical]["Properties"], "Timeout": 7},
    }
    assert function_timeout(template, logical) == 7


def test_the_new_hardening_resources_resolve_to_local_names() -> None:
    """Dead-letter queue, log groups and managed policies are in the template; the local stack names them (and
    creates the queues) without knowing their types."""
    template = ResolvedTemplate.load(LOCAL_PARAMETERS)
    assert template.physical["AuditFallbackDeadLetterQueue"]["QueueName"] == "gpm-local-AuditFallbackDeadLetterQueue"
    assert set(template.of_type("AWS::SQS::Queue")) == {
        "AuditFallbackQueue",
        "AuditFallbackDeadLetterQueue",
        "ObservedEventsQueue",
        "ObservedEventsDeadLetterQueue",
    }
    assert template.of_type("AWS::Logs::LogGroup") and template.of_type("AWS::IAM::ManagedPolicy")
