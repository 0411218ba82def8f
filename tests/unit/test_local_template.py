"""The local runtime reads template.yaml itself: intrinsics resolve to the local stack's names, and business hours
are set around now so local runs pass at any hour."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from presence_manager.timeutil import BusinessHours
from presence_manager_local.emulation import ResolvedTemplate, business_hours_around_now


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
