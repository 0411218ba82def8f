"""The workflow steps against an in-memory Genesys: what Validate observes and decides, how LockedUpdate keeps
its precondition, and what SkillOverride remembers for the revert."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager.config import AppSettings
from presence_manager.errors import (
    AwsThrottled,
    GenesysWriteUnconfirmed,
    IfMatchFailed,
    InvalidRequest,
    LeaseHeld,
    LiveInteraction,
    PreconditionFailed,
    SupersededByOwnWrite,
)
from presence_manager.lease import AgentLease
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.locked_update import locked_update
from presence_manager.workflow.models import ChangeRequest, SkillOverride
from presence_manager.workflow.skill_override import apply_skill_overrides, revert_request
from presence_manager.workflow.validate import validate_change
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.fakes import FakeGenesys

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in America/New_York
SKILL_NEW, SKILL_OLD, SKILL_OFF = (f"5a0b1c2d-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
AGENT = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
OFF_SHIFT = "7a2d2f2b-9e1f-4b54-8e5f-3c9b5d8f1b22"
SETTINGS = AppSettings()


@pytest.fixture
def genesys() -> FakeGenesys:
    fake = FakeGenesys(now=NOW)
    fake.add_agent(AGENT, "Away")
    fake.add_agent(OFF_SHIFT, "Offline", on_shift=False)
    return fake


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        yield {"lease": AgentLease(dynamodb, "agents"), "scheduler": boto3.client("scheduler")}


def update(
    change_id: str, request: ChangeRequest, validation: Any, genesys: Any, aws: dict[str, Any], **kw: Any
) -> Any:
    options: dict[str, Any] = {"lease_seconds": 30, "settle_seconds": 60, "policy_mode": "enforce", **kw}
    return locked_update(change_id, request, validation, genesys=genesys, lease=aws["lease"], now=NOW, **options)


def change(user: str = AGENT, **fields: Any) -> ChangeRequest:
    return ChangeRequest.model_validate({"userId": user, "presence": "Available", **fields})


def test_given_an_agent_on_shift_when_validated_then_allowed_with_what_was_observed(genesys: FakeGenesys) -> None:
    result = validate_change(change(message="hi"), genesys=genesys, settings=SETTINGS, now=NOW)
    assert result.allowed is True
    assert result.target and result.target.definition_id == "def-available"
    assert result.observed.system_presence == "Away"
    assert result.expected_etag == result.observed.etag
    assert (result.time_zone, result.time_zone_source) == ("America/New_York", "businessUnit")
    assert result.schedule and result.schedule.on_shift is True
    assert "GET routingstatus" not in genesys.calls, "routing status only matters while On Queue"


def test_given_an_off_shift_agent_asked_to_go_on_queue_then_rejected_with_a_reason(genesys: FakeGenesys) -> None:
    result = validate_change(change(OFF_SHIFT, presence="On Queue"), genesys=genesys, settings=SETTINGS, now=NOW)
    assert result.allowed is False
    assert [v.code for v in result.policy.violations] == ["no_active_shift"]


def test_given_warn_mode_then_the_same_change_is_allowed_with_warnings(genesys: FakeGenesys) -> None:
    warn = AppSettings(POLICY_MODE="warn")
    result = validate_change(change(OFF_SHIFT, presence="On Queue"), genesys=genesys, settings=warn, now=NOW)
    assert result.allowed is True
    assert [w.code for w in result.policy.warnings] == ["no_active_shift"]


def test_given_a_request_time_zone_then_it_wins_over_the_business_unit(genesys: FakeGenesys) -> None:
    result = validate_change(change(timeZone="Asia/Tokyo"), genesys=genesys, settings=SETTINGS, now=NOW)
    assert (result.time_zone, result.time_zone_source) == ("Asia/Tokyo", "request")
    assert [v.code for v in result.policy.violations] == ["outside_business_hours"]  # 00:00 in Tokyo


def test_given_an_agent_without_wfm_and_no_time_zone_then_invalid_never_silent_utc(genesys: FakeGenesys) -> None:
    genesys.units.discard(AGENT)
    with pytest.raises(InvalidRequest) as raised:
        validate_change(change(), genesys=genesys, settings=SETTINGS, now=NOW)
    assert raised.value.code == "time_zone_unknown"


def test_given_a_stale_if_match_then_validate_fails_at_once(genesys: FakeGenesys) -> None:
    with pytest.raises(IfMatchFailed):
        validate_change(change(ifMatch='"stale"'), genesys=genesys, settings=SETTINGS, now=NOW)


def test_given_an_agent_on_a_live_interaction_then_not_taken_off_queue_unless_forced(genesys: FakeGenesys) -> None:
    genesys.add_agent(AGENT, "OnQueue")
    genesys.routing[AGENT] = "INTERACTING"
    refused = validate_change(change(presence="Away", dryRun=True), genesys=genesys, settings=SETTINGS, now=NOW)
    assert [v.code for v in refused.policy.violations] == ["live_interaction"], "a dry run says it would be refused"
    forced = validate_change(change(presence="Away", force=True), genesys=genesys, settings=SETTINGS, now=NOW)
    assert forced.allowed is True
    assert "GET routingstatus" in genesys.calls
    genesys.calls.clear()
    validate_change(change(presence="Away"), genesys=genesys, settings=SETTINGS, now=NOW)
    assert "GET routingstatus" not in genesys.calls, "LockedUpdate reads it right before the write instead"


def test_given_an_unchanged_presence_then_locked_update_patches_and_returns_the_new_etag(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change(message="back soon")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    result = update("chg-1", request, validation, genesys, aws)
    assert result.previous_presence.system_presence == "Away"
    assert result.new_presence.system_presence == "Available"
    assert result.new_presence.message == "back soon"
    assert result.new_etag != validation.expected_etag
    aws["lease"].acquire(AGENT, "someone-else", 30)  # the lease was released


def test_given_a_concurrent_edit_after_validate_then_precondition_failed_and_nothing_written(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change()
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.edit_after_get = 1  # the agent clicks right after our next read
    genesys.get_user_presence(AGENT)
    with pytest.raises(PreconditionFailed) as raised:
        update("chg-1", request, validation, genesys, aws)
    assert type(raised.value) is PreconditionFailed
    assert "PATCH presence" not in genesys.calls
    assert json.loads(str(raised.value))["expectedEtag"] == validation.expected_etag


def test_given_a_caller_if_match_and_a_later_edit_then_if_match_failed_is_final(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    etag = validate_change(change(), genesys=genesys, settings=SETTINGS, now=NOW).expected_etag
    request = change(ifMatch=etag)
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.edit_after_get = 1
    genesys.get_user_presence(AGENT)  # the agent clicks right after this read
    with pytest.raises(IfMatchFailed):
        update("chg-1", request, validation, genesys, aws)


def test_given_another_writer_holds_the_lease_then_lease_held(genesys: FakeGenesys, aws: dict[str, Any]) -> None:
    request = change()
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    aws["lease"].acquire(AGENT, "chg-other", 30)
    with pytest.raises(LeaseHeld):
        update("chg-1", request, validation, genesys, aws)


def test_given_a_patch_whose_answer_is_lost_then_the_lease_is_held_while_it_settles(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change(message="back soon")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.lose_patch_answers = 1
    with pytest.raises(GenesysWriteUnconfirmed):
        update("chg-1", request, validation, genesys, aws)
    with pytest.raises(LeaseHeld) as held:
        aws["lease"].acquire(AGENT, "chg-other", 30)
    assert json.loads(str(held.value))["retryAfterSeconds"] > 60, "nobody writes while ours may still land"


def test_given_a_lost_answer_whose_patch_landed_then_reconciling_applies_it_without_a_second_patch(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change(message="back soon")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.lose_patch_answers = 1
    with pytest.raises(GenesysWriteUnconfirmed):
        update("chg-1", request, validation, genesys, aws)
    result = update("chg-1", request, validation, genesys, aws, unconfirmed=True)
    assert result.reconciled is True
    assert result.new_presence.system_presence == "Available"
    assert genesys.calls.count("PATCH presence") == 1
    aws["lease"].acquire(AGENT, "chg-other", 30)  # released once reconciled


def test_given_a_lost_answer_whose_patch_never_landed_then_it_is_written_again_under_the_lease(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change(message="back soon")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.lose_patch_answers, genesys.patch_lands = 1, False
    with pytest.raises(GenesysWriteUnconfirmed):
        update("chg-1", request, validation, genesys, aws)
    result = update("chg-1", request, validation, genesys, aws, unconfirmed=True)
    assert result.reconciled is False
    assert genesys.calls.count("PATCH presence") == 2
    assert genesys.presences[AGENT].message == "back soon"


def test_given_a_lost_answer_and_then_an_edit_by_someone_else_then_reconciling_is_a_412(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change(message="back soon")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.lose_patch_answers, genesys.patch_lands = 1, False
    with pytest.raises(GenesysWriteUnconfirmed):
        update("chg-1", request, validation, genesys, aws)
    genesys._set(AGENT, "Busy", "in a meeting")  # the agent clicked while ours was settling
    with pytest.raises(PreconditionFailed):
        update("chg-1", request, validation, genesys, aws, unconfirmed=True)
    assert genesys.calls.count("PATCH presence") == 1


def test_given_routing_status_moved_to_a_live_interaction_after_validate_then_nothing_is_written(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    genesys.add_agent(AGENT, "OnQueue")
    genesys.routing[AGENT] = "IDLE"
    request = change(presence="Away")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    assert validation.allowed is True
    genesys.routing[AGENT] = "INTERACTING"  # an ACD alert: routing status moves, presence does not
    with pytest.raises(LiveInteraction):
        update("chg-1", request, validation, genesys, aws)
    assert "PATCH presence" not in genesys.calls
    forced = change(presence="Away", force=True)
    update("chg-2", forced, validate_change(forced, genesys=genesys, settings=SETTINGS, now=NOW), genesys, aws)
    assert genesys.presences[AGENT].presence_definition.system_presence == "Away"


def test_given_another_change_of_ours_wrote_first_then_it_is_our_own_contention_not_a_conflict(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    first, second = change(message="first"), change(presence="Busy", message="second")
    validation_first = validate_change(first, genesys=genesys, settings=SETTINGS, now=NOW)
    validation_second = validate_change(second, genesys=genesys, settings=SETTINGS, now=NOW)
    update("chg-1", first, validation_first, genesys, aws)
    with pytest.raises(SupersededByOwnWrite) as raised:
        update("chg-2", second, validation_second, genesys, aws)
    assert json.loads(str(raised.value))["byChangeId"] == "chg-1"
    genesys._set(AGENT, "Meal", "lunch")  # now a person: a real conflict
    with pytest.raises(PreconditionFailed) as external:
        update("chg-2", second, validation_second, genesys, aws)
    assert type(external.value) is PreconditionFailed


def test_given_a_schedule_search_answered_processing_then_the_schedule_is_unknown_under_the_policy_mode(
    genesys: FakeGenesys,
) -> None:
    genesys.schedule_processing = True
    refused = validate_change(change(), genesys=genesys, settings=SETTINGS, now=NOW)
    assert refused.allowed is False
    assert [v.code for v in refused.policy.violations] == ["schedule_unknown"]
    warned = validate_change(change(), genesys=genesys, settings=AppSettings(POLICY_MODE="warn"), now=NOW)
    assert warned.allowed is True and [w.code for w in warned.policy.warnings] == ["schedule_unknown"]
    offline = validate_change(change(presence="Offline"), genesys=genesys, settings=SETTINGS, now=NOW)
    assert offline.allowed is True, "Offline needs no schedule"
    assert genesys.calls.count("POST schedules search") == 3, "Processing is never cached, never re-POSTed"


def test_given_warm_caches_then_validating_the_same_agent_again_costs_one_genesys_call(genesys: FakeGenesys) -> None:
    validate_change(change(), genesys=genesys, settings=SETTINGS, now=NOW)
    genesys.calls.clear()
    validate_change(change(message="again"), genesys=genesys, settings=SETTINGS, now=NOW)
    uncached = [call for call in genesys.calls if call != "GET managementunit"]  # the client caches the unit
    assert uncached == ["GET presence"], "the schedule search is reused within the hour"


def test_given_locked_update_delivered_twice_then_the_second_recognises_its_own_write(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    request = change(message="once")
    validation = validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW)
    update("chg-1", request, validation, genesys, aws)
    again = update("chg-1", request, validation, genesys, aws)  # the same step, delivered again
    assert again.reconciled is True
    assert genesys.calls.count("PATCH presence") == 1, "never written twice"


def test_given_a_forced_change_of_an_agent_on_a_live_interaction_then_written_with_a_warning(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    genesys.add_agent(AGENT, "OnQueue")
    genesys.routing[AGENT] = "INTERACTING"
    request = change(presence="Away", force=True)
    result = update(
        "chg-1", request, validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW), genesys, aws
    )
    assert [w.code for w in result.warnings] == ["live_interaction_forced"]
    warned = change(presence="Busy")
    genesys.add_agent(AGENT, "OnQueue")
    validation = validate_change(warned, genesys=genesys, settings=SETTINGS, now=NOW)
    result = update("chg-2", warned, validation, genesys, aws, policy_mode="warn")
    assert [w.code for w in result.warnings] == ["live_interaction"], "warn mode writes and says so"


def test_given_a_skills_write_whose_answer_is_lost_then_it_is_reconciled_not_repeated(genesys: FakeGenesys) -> None:
    genesys.lose_skill_answers = 1
    overrides = [{"skillId": SKILL_NEW, "proficiency": 4}]
    result = apply_skill_overrides(
        "chg-1", change(skillOverrides=overrides), genesys=genesys, scheduler=None, settings=SETTINGS, now=NOW
    )
    assert genesys.calls.count("PATCH skills bulk") == 1, "it had landed: not written again"
    assert result.changes[0].after and result.changes[0].after.proficiency == 4


def test_given_the_lease_table_throttles_then_it_is_a_transient_aws_throttled(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    from botocore.exceptions import ClientError

    table = aws["lease"]._table
    original = table.update_item

    def throttled(**call: Any) -> Any:
        table.update_item = original
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    table.update_item = throttled
    request = change()
    with pytest.raises(AwsThrottled):
        update("chg-1", request, validate_change(request, genesys=genesys, settings=SETTINGS, now=NOW), genesys, aws)
    assert "PATCH presence" not in genesys.calls


class Activity:
    """When agents last changed their own presence (what Observe keeps in the agent table)."""

    def __init__(self, **at: str) -> None:
        self.at = at

    def last_external_changes(self, user_ids: list[str]) -> dict[str, str]:
        return {user: self.at[user] for user in user_ids if user in self.at}


def test_given_automation_respecting_own_changes_then_an_agent_who_just_clicked_is_left_alone(
    genesys: FakeGenesys,
) -> None:
    activity = Activity(**{AGENT: "2026-11-24T14:55:00.000Z"})  # 5 minutes before NOW
    respectful = change(respectOwnChangesMinutes=10)
    left_alone = validate_change(respectful, genesys=genesys, settings=SETTINGS, now=NOW, agents=activity)
    assert left_alone.allowed is False
    assert [v.code for v in left_alone.policy.violations] == ["agent_changed_presence_recently"]
    later = change(respectOwnChangesMinutes=3)
    assert validate_change(later, genesys=genesys, settings=SETTINGS, now=NOW, agents=activity).allowed is True
    plain = validate_change(change(), genesys=genesys, settings=SETTINGS, now=NOW, agents=activity)
    assert plain.allowed is True, "a person's request is not held back by the agent's own change"


def test_given_a_change_made_ahead_of_an_activity_then_it_is_judged_against_that_activity(genesys: FakeGenesys) -> None:
    from presence_manager.genesys.models import BuAgentScheduleActivity, BuAgentScheduleShift

    start = NOW - timedelta(hours=1)
    shift = BuAgentScheduleShift(
        id="s1",
        start_date=start,
        length_minutes=480,
        activities=[
            BuAgentScheduleActivity(start_date=start, length_minutes=61, activity_code_id="code-work"),
            BuAgentScheduleActivity(
                start_date=NOW + timedelta(minutes=1), length_minutes=15, activity_code_id="code-off"
            ),
            BuAgentScheduleActivity(
                start_date=NOW + timedelta(minutes=59), length_minutes=5, activity_code_id="code-hour"
            ),
        ],
    )
    genesys.shifts[AGENT] = [shift]
    ahead = change(presence="Offline", activityAt=to_utc_iso(NOW + timedelta(minutes=1)))
    now_result = validate_change(change(presence="Offline"), genesys=genesys, settings=SETTINGS, now=NOW)
    ahead_result = validate_change(ahead, genesys=genesys, settings=SETTINGS, now=NOW)
    assert now_result.schedule and now_result.schedule.activity_code_id == "code-work"
    assert ahead_result.schedule and ahead_result.schedule.activity_code_id == "code-off"
    far = change(presence="Offline", activityAt=to_utc_iso(NOW + timedelta(hours=5)))
    capped = validate_change(far, genesys=genesys, settings=SETTINGS, now=NOW)
    assert capped.schedule and capped.schedule.activity_code_id == "code-hour", "never judged more than an hour ahead"


def test_given_a_unit_naming_its_own_schedule_group_then_its_agents_follow_those_hours(genesys: FakeGenesys) -> None:
    from presence_manager.genesys.models import DomainEntityRef, Schedule, ScheduleGroup

    genesys.schedules["night"] = Schedule(  # open 20:00-06:00 New York: closed at NOW (10:00 there)
        id="night", start=datetime(2026, 11, 1, 20, 0), end=datetime(2026, 11, 2, 6, 0), rrule="FREQ=DAILY"
    )
    genesys.schedule_groups["g-night"] = ScheduleGroup(
        id="g-night", time_zone="America/New_York", open_schedules=[DomainEntityRef(id="night")]
    )
    own = validate_change(
        change(), genesys=genesys, settings=SETTINGS, now=NOW, unit_schedule_group={"mu-1": "g-night"}.get
    )
    assert [v.code for v in own.policy.violations] == ["outside_business_hours"]
    other = validate_change(change(), genesys=genesys, settings=SETTINGS, now=NOW, unit_schedule_group={}.get)
    assert other.allowed is True, "units naming none keep the deployment's hours"


def test_given_an_agent_outside_wfm_then_offline_is_still_allowed(genesys: FakeGenesys) -> None:
    genesys.units.discard(AGENT)
    result = validate_change(change(presence="Offline"), genesys=genesys, settings=SETTINGS, now=NOW)
    assert result.allowed is True
    assert result.time_zone is None


def test_given_skill_overrides_then_one_bulk_patch_one_put_and_the_previous_values_remembered(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    genesys.patch_user_routing_skills_bulk(AGENT, [])
    genesys.put_user_routing_skill(AGENT, genesys_skill(SKILL_OLD, 2.0, "active"))
    genesys.calls.clear()
    overrides = [
        SkillOverride(skill_id=SKILL_NEW, proficiency=4),
        SkillOverride(skill_id=SKILL_OLD, proficiency=5),
        SkillOverride(skill_id=SKILL_OFF, state="inactive"),
    ]
    result = apply_skill_overrides(
        "chg-1",
        change(skillOverrides=[o.to_json() for o in overrides]),
        genesys=genesys,
        scheduler=None,
        settings=SETTINGS,
        now=NOW,
    )
    assert genesys.calls == ["GET skills", "PUT skill", "PATCH skills bulk"]
    by_id = {c.skill_id: c for c in result.changes}
    assert by_id[SKILL_NEW].before is None and by_id[SKILL_NEW].after.proficiency == 4
    assert by_id[SKILL_OLD].before.proficiency == 2.0 and by_id[SKILL_OLD].after.proficiency == 5
    assert by_id[SKILL_OFF].after.state == "inactive"
    assert result.revert_schedule is None


def test_given_a_time_boxed_override_then_a_one_time_revert_schedule_restores_the_previous_values(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    settings = AppSettings(
        REVERT_TARGET_ARN="arn:aws:states:us-east-1:123456789012:stateMachine:pc",
        SCHEDULER_ROLE_ARN="arn:aws:iam::123456789012:role/scheduler",
    )
    genesys.put_user_routing_skill(AGENT, genesys_skill(SKILL_OLD, 2.0, "active"))
    request = change(skillOverrides=[{"skillId": SKILL_OLD, "proficiency": 5, "revertAfterMinutes": 30}])
    result = apply_skill_overrides(
        "chg-9", request, genesys=genesys, scheduler=aws["scheduler"], settings=settings, now=NOW
    )
    assert result.revert_at == "2026-11-24T15:30:00.000Z"
    schedule = aws["scheduler"].get_schedule(Name=result.revert_schedule, GroupName="default")
    assert schedule["ScheduleExpression"] == "at(2026-11-24T15:30:00)"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    revert = json.loads(schedule["Target"]["Input"])
    assert revert["revertOf"] == "chg-9"
    assert revert["skillOverrides"] == [
        {
            "skillId": SKILL_OLD,
            "state": "active",
            "proficiency": 2.0,
            "revertAfterMinutes": None,
            "expected": {"state": "active", "proficiency": 5.0},
        }
    ]
    assert revert["presence"] is None, "a revert touches skills only"


def test_given_an_admin_edit_during_the_override_window_then_the_revert_keeps_it(
    genesys: FakeGenesys, aws: dict[str, Any]
) -> None:
    genesys.put_user_routing_skill(AGENT, genesys_skill(SKILL_OLD, 2.0, "active"))
    genesys.put_user_routing_skill(AGENT, genesys_skill(SKILL_NEW, 1.0, "active"))
    overrides = [{"skillId": SKILL_OLD, "proficiency": 5}, {"skillId": SKILL_NEW, "proficiency": 3}]
    applied = apply_skill_overrides(
        "chg-9", change(skillOverrides=overrides), genesys=genesys, scheduler=None, settings=SETTINGS, now=NOW
    )
    genesys.put_user_routing_skill(AGENT, genesys_skill(SKILL_OLD, 4.0, "active"))  # an admin's edit meanwhile
    revert = revert_request("chg-9", change(skillOverrides=overrides), applied.changes)
    genesys.calls.clear()
    result = apply_skill_overrides("chg-r", revert, genesys=genesys, scheduler=None, settings=SETTINGS, now=NOW)
    by_id = {c.skill_id: c for c in result.changes}
    assert by_id[SKILL_OLD].skipped == "changed_since_override"
    assert genesys.skills[AGENT][SKILL_OLD].proficiency == 4.0, "the admin's value stands"
    assert by_id[SKILL_NEW].skipped is None and genesys.skills[AGENT][SKILL_NEW].proficiency == 1.0, "reverted"


def genesys_skill(skill_id: str, proficiency: float, state: str) -> Any:
    from presence_manager.genesys.models import UserRoutingSkill

    return UserRoutingSkill(id=skill_id, name=skill_id, proficiency=proficiency, state=state)
