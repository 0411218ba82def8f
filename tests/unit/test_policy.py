"""Specification of the validation policy: each rule allowing and rejecting, the modes, and what force overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from presence_manager.genesys.models import BusinessUnitActivityCode, OrganizationPresenceDefinition
from presence_manager.policy import PolicyInput, evaluate
from presence_manager.schedules import ScheduledActivity, ScheduledState
from presence_manager.timeutil import BusinessHours, parse_instant

NEW_YORK = ZoneInfo("America/New_York")


def definition(def_id: str, system: str, type_: str = "System", label: str | None = None):
    return OrganizationPresenceDefinition(
        id=def_id, type=type_, system_presence=system, language_labels={"en_US": label or system}
    )


AVAILABLE = definition("def-available", "Available")
ON_QUEUE = definition("def-onqueue", "OnQueue", label="On Queue")
OFFLINE = definition("def-offline", "Offline")
MEAL = definition("def-meal", "Meal")
LUNCH = definition("def-lunch", "Meal", type_="User", label="Lunch")
DINNER = definition("def-dinner", "Meal", type_="User", label="Dinner")
BREAK = definition("def-break", "Break")
DEFINITIONS = {d.id: d for d in (AVAILABLE, ON_QUEUE, OFFLINE, MEAL, LUNCH, DINNER, BREAK)}


def code(code_id: str, category: str, *presences: OrganizationPresenceDefinition, name: str | None = None):
    return BusinessUnitActivityCode(
        id=code_id,
        name=name or category,
        category=category,
        secondary_presences=[{"id": p.id} for p in presences],
    )


ON_QUEUE_WORK = code("code-onqueue", "OnQueueWork", ON_QUEUE, name="Phones")
LUNCH_CODE = code("code-lunch", "Meal", LUNCH, name="Lunch")
MEETING_NO_MAPPING = code("code-meeting", "Meeting", name="Team meeting")
TIME_OFF_CODE = code("code-pto", "TimeOff", name="Doctor")

# Tuesday 10 March 2026, 10:00 EDT; the shift runs 08:00-17:00 EDT; the activity 09:00-12:00 EDT.
NOW = parse_instant("2026-03-10T14:00:00Z")
SHIFT = ScheduledState(
    on_shift=True,
    shift_id="s-1",
    shift_start=parse_instant("2026-03-10T12:00:00Z"),
    shift_end=parse_instant("2026-03-10T21:00:00Z"),
    activity=ScheduledActivity(
        start=parse_instant("2026-03-10T13:00:00Z"),
        end=parse_instant("2026-03-10T16:00:00Z"),
        activity_code_id="code-onqueue",
        description="Phones",
    ),
)
OFF_SHIFT = ScheduledState(on_shift=False)
TIME_OFF_DAY = ScheduledState(on_shift=False, full_day_time_off=True, time_off_activity_code_id="code-vacation")


def policy_input(**overrides: Any) -> PolicyInput:
    """A change that every rule allows: Available, at 10:00 local, on shift, no activity constraint, idle."""
    values: dict[str, Any] = {
        "requested": AVAILABLE,
        "current_system_presence": "Away",
        "routing_status": "OFF_QUEUE",
        "scheduled": SHIFT,
        "activity_code": None,
        "business_hours": BusinessHours(start="08:00", end="20:00"),
        "zone": NEW_YORK,
        "now": NOW,
        "force": False,
        "definitions_by_id": DEFINITIONS,
    }
    values.update(overrides)
    return PolicyInput(**values)


def codes(decision) -> list[str]:
    return [violation.code for violation in decision.violations]


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=NEW_YORK)


def test_given_a_change_every_rule_allows_when_enforced_then_allowed_with_nothing_to_report() -> None:
    decision = evaluate(policy_input(), "enforce")
    assert decision.allowed is True
    assert decision.violations == []
    assert decision.warnings == []


# ---- outside_business_hours -------------------------------------------------------------------------------------


def test_given_2114_local_when_available_is_requested_then_rejected_outside_business_hours_in_local_time() -> None:
    decision = evaluate(policy_input(now=local("2026-03-10T21:14:00")), "enforce")
    assert decision.allowed is False
    assert codes(decision) == ["outside_business_hours"]
    assert decision.violations[0].message.startswith("It is 21:14 in America/New_York; business hours are 08:00-20:00.")


@pytest.mark.parametrize(("clock", "allowed"), [("07:59:59", False), ("08:00:00", True), ("20:00:00", False)])
def test_given_the_window_edges_when_available_is_requested_then_half_open_business_hours_decide(
    clock: str, allowed: bool
) -> None:
    decision = evaluate(policy_input(now=local(f"2026-03-10T{clock}")), "enforce")
    assert ("outside_business_hours" not in codes(decision)) is allowed


def test_given_weekday_only_hours_when_asked_on_saturday_then_the_message_names_the_day() -> None:
    hours = BusinessHours(start="08:00", end="20:00", weekdays=frozenset({1, 2, 3, 4, 5}))
    decision = evaluate(policy_input(business_hours=hours, now=local("2026-03-14T10:00:00")), "enforce")
    assert codes(decision) == ["outside_business_hours"]
    assert decision.violations[0].message.startswith(
        "It is Sat 10:00 in America/New_York; business hours are 08:00-20:00 on Mon, Tue, Wed, Thu, Fri."
    )


def test_given_night_time_when_offline_is_requested_then_allowed() -> None:
    decision = evaluate(policy_input(requested=OFFLINE, now=local("2026-03-10T23:00:00"), scheduled=None), "enforce")
    assert decision.allowed is True


# ---- no_active_shift -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheduled", "fragment"),
    [
        (None, "no WFM schedule"),
        (OFF_SHIFT, "no scheduled shift"),
        (TIME_OFF_DAY, "full-day time off"),
    ],
)
def test_given_no_active_shift_when_available_is_requested_then_rejected_no_active_shift(
    scheduled: ScheduledState | None, fragment: str
) -> None:
    decision = evaluate(policy_input(scheduled=scheduled), "enforce")
    assert decision.allowed is False
    assert codes(decision) == ["no_active_shift"]
    message = decision.violations[0].message
    assert fragment in message
    assert "at 10:00 in America/New_York" in message
    assert "'Available' needs an active shift" in message


def test_given_a_time_off_activity_in_the_shift_when_available_is_requested_then_no_active_shift() -> None:
    decision = evaluate(policy_input(activity_code=TIME_OFF_CODE), "enforce")
    assert codes(decision) == ["no_active_shift"]
    assert "scheduled for time off (09:00-12:00)" in decision.violations[0].message


def test_given_an_active_shift_when_available_is_requested_then_no_shift_violation() -> None:
    assert "no_active_shift" not in codes(evaluate(policy_input(scheduled=SHIFT), "enforce"))


@pytest.mark.parametrize("scheduled", [None, OFF_SHIFT, TIME_OFF_DAY])
def test_given_no_active_shift_when_offline_is_requested_then_allowed(scheduled: ScheduledState | None) -> None:
    assert evaluate(policy_input(requested=OFFLINE, scheduled=scheduled), "enforce").allowed is True


# ---- activity_mismatch ------------------------------------------------------------------------------------------


def test_given_scheduled_on_queue_work_when_on_queue_is_requested_then_allowed() -> None:
    decision = evaluate(policy_input(requested=ON_QUEUE, activity_code=ON_QUEUE_WORK), "enforce")
    assert decision.allowed is True


def test_given_scheduled_on_queue_work_when_available_is_requested_then_rejected_activity_mismatch() -> None:
    decision = evaluate(policy_input(requested=AVAILABLE, activity_code=ON_QUEUE_WORK), "enforce")
    assert decision.allowed is False
    assert codes(decision) == ["activity_mismatch"]
    assert decision.violations[0].message == (
        "At 10:00 in America/New_York the agent is scheduled for 'Phones' (OnQueueWork, 09:00-12:00 "
        "America/New_York), which fits 'On Queue' (OnQueue); 'Available' does not."
    )


def test_given_a_lunch_activity_mapped_to_custom_lunch_when_that_definition_is_requested_then_allowed() -> None:
    assert evaluate(policy_input(requested=LUNCH, activity_code=LUNCH_CODE), "enforce").allowed is True


def test_given_a_lunch_activity_mapped_to_custom_lunch_when_system_meal_is_requested_then_allowed() -> None:
    """Given the activity lists the custom 'Lunch' (a Meal), when the System Meal definition is requested,
    then its system presence matches and it is allowed."""
    assert evaluate(policy_input(requested=MEAL, activity_code=LUNCH_CODE), "enforce").allowed is True


def test_given_a_lunch_activity_mapped_to_custom_lunch_when_another_custom_meal_is_requested_then_mismatch() -> None:
    decision = evaluate(policy_input(requested=DINNER, activity_code=LUNCH_CODE), "enforce")
    assert codes(decision) == ["activity_mismatch"]


def test_given_an_activity_with_no_secondary_presences_when_anything_is_requested_then_no_activity_constraint() -> None:
    for requested in (AVAILABLE, BREAK, ON_QUEUE):
        assert evaluate(policy_input(requested=requested, activity_code=MEETING_NO_MAPPING), "enforce").allowed


def test_given_scheduled_on_queue_work_when_offline_is_requested_then_the_activity_does_not_block_it() -> None:
    assert evaluate(policy_input(requested=OFFLINE, activity_code=ON_QUEUE_WORK), "enforce").allowed is True


def test_given_secondary_presences_unknown_to_the_lookup_when_a_system_presence_is_requested_then_mismatch() -> None:
    decision = evaluate(
        policy_input(requested=MEAL, activity_code=LUNCH_CODE, definitions_by_id={}),
        "enforce",
    )
    assert codes(decision) == ["activity_mismatch"]
    assert "'def-lunch'" in decision.violations[0].message


# ---- live_interaction ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["INTERACTING", "COMMUNICATING"])
@pytest.mark.parametrize("requested", [AVAILABLE, BREAK, OFFLINE])
def test_given_an_agent_on_a_live_interaction_when_taken_off_queue_then_rejected_live_interaction(
    status: str, requested: OrganizationPresenceDefinition
) -> None:
    decision = evaluate(
        policy_input(requested=requested, current_system_presence="On Queue", routing_status=status), "enforce"
    )
    assert decision.allowed is False
    assert codes(decision) == ["live_interaction"]
    assert f"On Queue and {status}" in decision.violations[0].message


@pytest.mark.parametrize("status", ["IDLE", "NOT_RESPONDING", "OFF_QUEUE"])
def test_given_an_on_queue_agent_without_a_live_interaction_when_taken_off_queue_then_allowed(status: str) -> None:
    decision = evaluate(policy_input(current_system_presence="OnQueue", routing_status=status), "enforce")
    assert decision.allowed is True


def test_given_an_agent_on_a_live_interaction_when_on_queue_is_requested_then_allowed() -> None:
    decision = evaluate(
        policy_input(requested=ON_QUEUE, current_system_presence="OnQueue", routing_status="INTERACTING"), "enforce"
    )
    assert decision.allowed is True


def test_given_an_agent_on_a_live_interaction_when_forced_off_queue_then_allowed_with_a_warning() -> None:
    decision = evaluate(
        policy_input(current_system_presence="OnQueue", routing_status="INTERACTING", force=True), "enforce"
    )
    assert decision.allowed is True
    assert decision.violations == []
    assert [w.code for w in decision.warnings] == ["live_interaction_forced"]


def test_given_force_when_outside_business_hours_and_off_shift_then_force_overrides_nothing_but_live_interaction() -> (
    None
):
    decision = evaluate(
        policy_input(
            now=local("2026-03-10T21:14:00"),
            scheduled=OFF_SHIFT,
            current_system_presence="OnQueue",
            routing_status="INTERACTING",
            force=True,
        ),
        "enforce",
    )
    assert decision.allowed is False
    assert codes(decision) == ["outside_business_hours", "no_active_shift"]


# ---- modes ------------------------------------------------------------------------------------------------------


def everything_wrong() -> PolicyInput:
    return policy_input(
        now=local("2026-03-10T21:14:00"),
        scheduled=OFF_SHIFT,
        current_system_presence="OnQueue",
        routing_status="COMMUNICATING",
    )


def test_given_violations_when_enforced_then_rejected_with_every_violation_in_rule_order() -> None:
    decision = evaluate(everything_wrong(), "enforce")
    assert decision.allowed is False
    assert decision.mode == "enforce"
    assert codes(decision) == ["outside_business_hours", "no_active_shift", "live_interaction"]
    assert decision.warnings == []


def test_given_violations_when_warn_mode_then_allowed_and_the_violations_become_warnings() -> None:
    decision = evaluate(everything_wrong(), "warn")
    assert decision.allowed is True
    assert decision.mode == "warn"
    assert decision.violations == []
    assert [w.code for w in decision.warnings] == ["outside_business_hours", "no_active_shift", "live_interaction"]


def test_given_violations_when_policy_is_off_then_allowed_and_nothing_is_checked() -> None:
    decision = evaluate(everything_wrong(), "off")
    assert decision.allowed is True
    assert decision.mode == "off"
    assert decision.violations == []
    assert decision.warnings == []


def test_given_an_unknown_mode_when_evaluated_then_value_error() -> None:
    with pytest.raises(ValueError):
        evaluate(policy_input(), "lenient")  # type: ignore[arg-type]


def test_given_a_decision_when_serialised_then_camel_case_json() -> None:
    assert evaluate(policy_input(scheduled=None), "enforce").to_json() == {
        "allowed": False,
        "mode": "enforce",
        "violations": [
            {
                "code": "no_active_shift",
                "message": "The agent has no WFM schedule (no management unit or no schedule) at 10:00 in "
                "America/New_York; 'Available' needs an active shift.",
            }
        ],
        "warnings": [],
    }


def test_given_a_naive_now_when_the_input_is_built_then_it_is_refused() -> None:
    with pytest.raises(ValueError):
        policy_input(now=datetime(2026, 3, 10, 10, 0))
