"""The planner: agents grouped by (instant, presence), one schedule per group (at most 1,000 agents), lead minutes,
the mapping's default from the activity codes' secondary presences, unchanged presences skipped, and a re-plan
that creates the missing, updates the changed and deletes the disappeared schedules - against moto's Scheduler."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager.automation import AutomationConfig, AutomationStore
from presence_manager.errors import GenesysNotFound, GenesysScheduleProcessing, PresenceDefinitionNotFound
from presence_manager.genesys.models import (
    AgentManagementUnitReference,
    BuAgentScheduleActivity,
    BuAgentScheduleSearchResponse,
    BuAgentScheduleShift,
    BuAgentSchedulesSearchResponse,
    BusinessUnitActivityCode,
    EntityRef,
    ManagementUnit,
    OrganizationPresenceDefinition,
    SecondaryPresence,
)
from presence_manager.planner import (
    FROZEN_SECONDS,
    AutomationSettings,
    Planner,
    PresenceMapping,
    find_transitions,
    group_transitions,
    instant_of,
    parse_planner_event,
    schedule_name,
    unit_prefix,
)
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler

NOW = datetime(2026, 11, 24, 10, 0, 20, tzinfo=UTC)
MU = "3479a481-ad5b-4f37-a971-68ea3dddedfa"
OTHER_MU = "5d1f0a77-2b1c-4c1e-8f0a-0c9d8e7f6a55"
BU = "8c3f6f0e-3b2a-4d5c-9e8f-7a6b5c4d3e2f"
GROUP = "gpm-automation"
BULK_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:gpm-bulk-change"
ROLE_ARN = "arn:aws:iam::123456789012:role/gpm-scheduler"

DEFINITIONS = {
    d.id: d
    for d in (
        OrganizationPresenceDefinition(id="def-onqueue", name="On Queue", type="System", system_presence="OnQueue"),
        OrganizationPresenceDefinition(id="def-break", name="Break", type="System", system_presence="Break"),
        OrganizationPresenceDefinition(id="def-meal", name="Meal", type="System", system_presence="Meal"),
        OrganizationPresenceDefinition(id="def-lunch", name="Lunch", type="User", system_presence="Meal"),
        OrganizationPresenceDefinition(id="def-away", name="Away", type="System", system_presence="Away"),
        OrganizationPresenceDefinition(id="def-meeting", name="Meeting", type="System", system_presence="Meeting"),
    )
}


def code(code_id: str, category: str, *presences: str) -> BusinessUnitActivityCode:
    return BusinessUnitActivityCode(
        id=code_id, name=code_id, category=category, secondary_presences=[SecondaryPresence(id=p) for p in presences]
    )


CODES = [
    code("work", "OnQueueWork", "def-onqueue"),
    code("work-2", "OnQueueWork", "def-onqueue"),
    code("break", "Break", "def-break"),
    code("meal", "Meal", "def-lunch", "def-meal"),  # WFM lists Lunch first: the default is Lunch
    code("meeting", "Meeting", "def-meeting"),
    code("training", "Training"),  # no secondary presence: not followed unless mapped
]


def agent(number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"agent/{number}"))


def shift(*activities: tuple[str, datetime, int]) -> BuAgentScheduleShift:
    """Activities as (code, start, minutes), back to back or not."""
    start = min(a[1] for a in activities)
    end = max(a[1] + timedelta(minutes=a[2]) for a in activities)
    return BuAgentScheduleShift(
        id="s",
        start_date=start,
        length_minutes=int((end - start).total_seconds() // 60),
        activities=[
            BuAgentScheduleActivity(start_date=s, length_minutes=m, activity_code_id=c) for c, s, m in activities
        ],
    )


def at(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 24, hour, minute, second, tzinfo=UTC)


def work_break_work(break_at: datetime, minutes: int = 15) -> BuAgentScheduleShift:
    """On queue since 08:00, a break, back on queue."""
    return shift(
        ("work", at(8, 0), int((break_at - at(8, 0)).total_seconds() // 60)),
        ("break", break_at, minutes),
        ("work", break_at + timedelta(minutes=minutes), 120),
    )


@dataclass
class FakeWfm:
    """The GenesysClient surface the planner uses, over shifts per agent."""

    shifts: dict[str, list[BuAgentScheduleShift]] = field(default_factory=dict)
    processing: bool = False
    searches: list[tuple[str, datetime, datetime, list[str]]] = field(default_factory=list)

    def get_management_units(self) -> list[ManagementUnit]:
        return [
            ManagementUnit(id=MU, business_unit=EntityRef(id=BU)),
            ManagementUnit(id=OTHER_MU, business_unit=EntityRef(id=BU)),
        ]

    def get_management_unit_users(self, management_unit_id: str) -> list[EntityRef]:
        if management_unit_id not in {MU, OTHER_MU}:
            raise GenesysNotFound("no such management unit", status=404)
        return [EntityRef(id=user) for user in sorted(self.shifts)] if management_unit_id == MU else []

    def get_agent_management_unit(self, user_id: str) -> AgentManagementUnitReference:
        return AgentManagementUnitReference(management_unit=EntityRef(id=MU), business_unit=EntityRef(id=BU))

    def search_agent_schedules(
        self, management_unit_id: str, start: datetime, end: datetime, user_ids: list[str]
    ) -> BuAgentSchedulesSearchResponse:
        self.searches.append((management_unit_id, start, end, list(user_ids)))
        if self.processing:
            raise GenesysScheduleProcessing("Processing", operationId="op-1")
        return BuAgentSchedulesSearchResponse(
            agent_schedules=[
                BuAgentScheduleSearchResponse(user=EntityRef(id=user), shifts=shifts)
                for user, shifts in self.shifts.items()
                if user in user_ids
            ]
        )

    def get_activity_codes(self, business_unit_id: str) -> list[BusinessUnitActivityCode]:
        assert business_unit_id == BU
        return CODES

    def resolve_presence(self, name_or_id: str) -> OrganizationPresenceDefinition:
        for definition in DEFINITIONS.values():
            if name_or_id in {definition.id, definition.name}:
                return definition
        raise PresenceDefinitionNotFound(f"no presence {name_or_id!r}")


def mapping(config: AutomationConfig | None = None) -> PresenceMapping:
    wfm = FakeWfm()
    return PresenceMapping(CODES, (config or AutomationConfig()).mapping, wfm.resolve_presence)


def transitions_of(shifts: dict[str, list[BuAgentScheduleShift]], *, lead: int = 1, presence_map: Any = None):  # type: ignore[no-untyped-def]
    schedules = BuAgentSchedulesSearchResponse(
        agent_schedules=[BuAgentScheduleSearchResponse(user=EntityRef(id=u), shifts=s) for u, s in shifts.items()]
    )
    return find_transitions(
        schedules,
        presence_map or mapping(),
        lead_minutes=lead,
        now=NOW,
        frozen_until=NOW + timedelta(seconds=FROZEN_SECONDS),
        until=NOW + timedelta(hours=12),
    )


# ---- pure: transitions and groups ------------------------------------------------------------------------------


def test_given_agents_on_the_same_break_then_they_form_one_group_per_instant_and_presence() -> None:
    shifts = {agent(n): [work_break_work(at(10, 30))] for n in range(3)}
    shifts |= {agent(3): [work_break_work(at(11, 0))]}
    shifts |= {agent(4 + n): [shift(("work", at(8, 0), 150), ("meal", at(10, 30), 30))] for n in range(2)}
    found, _ = transitions_of(shifts)
    groups = group_transitions(found)
    summary = [(g.at, g.target.presence_id, len(g.user_ids)) for g in groups]
    assert summary == [
        (at(10, 29), "def-break", 3),
        (at(10, 29), "def-lunch", 2),
        (at(10, 44), "def-onqueue", 3),
        (at(10, 59), "def-break", 1),
        (at(11, 14), "def-onqueue", 1),
    ]
    assert len(found) == 10, "every agent's every transition ..."
    assert len(groups) == 5, "... in one group per (instant, presence), not one per agent"


def test_given_lead_minutes_then_the_instant_is_the_start_minus_lead_on_a_whole_minute() -> None:
    shifts = {agent(1): [work_break_work(at(10, 30, 40))]}
    found, _ = transitions_of(shifts, lead=5)
    assert [t.at for t in found] == [at(10, 25), at(10, 40)]  # 10:25:40 -> 10:25; 10:45:40 - 5 -> 10:40
    assert found[0].starts == at(10, 30, 40)
    found, _ = transitions_of(shifts, lead=0)
    assert [t.at for t in found] == [at(10, 30), at(10, 45)]


def test_given_no_mapping_then_the_activity_codes_first_secondary_presence_is_the_default() -> None:
    shifts = {agent(1): [shift(("work", at(8, 0), 150), ("meal", at(10, 30), 30), ("training", at(11, 0), 60))]}
    found, skipped = transitions_of(shifts)
    assert [(t.category, t.target.presence_id) for t in found] == [("Meal", "def-lunch")]
    assert skipped["unmapped"] == 1, "Training's code has no secondary presence: not followed"
    mapped = mapping(AutomationConfig(mapping={"Meal": "Meal", "Training": "Away"}))
    found, skipped = transitions_of(shifts, presence_map=mapped)
    assert [(t.category, t.target.presence_id, t.target.label) for t in found] == [
        ("Meal", "def-meal", "Meal"),
        ("Training", "def-away", "Away"),
    ]
    assert skipped["unmapped"] == 0


def test_given_a_mapping_to_a_presence_the_org_lacks_then_that_category_is_not_followed() -> None:
    mapped = mapping(AutomationConfig(mapping={"Break": "Coffee"}))
    found, skipped = transitions_of({agent(1): [work_break_work(at(10, 30))]}, presence_map=mapped)
    assert [t.category for t in found] == ["OnQueueWork"]
    assert skipped["unmapped"] == 1 and mapped.unresolved == {"Coffee"}


def test_given_the_next_activity_maps_to_the_same_presence_then_there_is_no_transition() -> None:
    back_to_back = shift(("work", at(8, 0), 150), ("work-2", at(10, 30), 60), ("meeting", at(11, 30), 30))
    found, skipped = transitions_of({agent(1): [back_to_back]})
    assert [(t.at, t.category) for t in found] == [(at(11, 29), "Meeting")]
    assert skipped["samePresence"] == 1
    with_gap = shift(("work", at(8, 0), 150), ("work-2", at(10, 40), 60))
    found, _ = transitions_of({agent(1): [with_gap]})
    assert [t.at for t in found] == [at(10, 39)], "after a gap the agent is not on queue: a transition"


def test_given_instants_already_due_or_beyond_the_window_then_they_are_not_planned() -> None:
    shifts = {
        agent(1): [work_break_work(at(10, 0, 40))],  # break: 09:59 - due; back on queue 10:15:40 -> 10:14
        agent(2): [work_break_work(at(10, 1, 0))],  # break: 10:00:00 <= now + 30 s - too soon; back 10:15
        agent(3): [work_break_work(at(22, 2))],  # break: 22:01 - beyond now + 12 h (22:00:20)
        agent(4): [work_break_work(at(22, 1))],  # break: 22:00 - the window's last minute
    }
    found, skipped = transitions_of(shifts)
    assert [(t.user_id, t.at) for t in found] == [
        (agent(1), at(10, 14)),
        (agent(2), at(10, 15)),
        (agent(4), at(22, 0)),
    ]
    assert skipped["tooSoon"] == 2, "agent 1's break (due already) and agent 2's (due within 30 s)"


def test_given_more_than_1000_agents_at_one_instant_then_the_group_is_split_in_stable_parts() -> None:
    shifts = {agent(n): [work_break_work(at(10, 30))] for n in range(1500)}
    found, _ = transitions_of(shifts)
    groups = [g for g in group_transitions(found) if g.target.presence_id == "def-break"]
    assert [(g.part, g.parts, len(g.user_ids)) for g in groups] == [(0, 2, 1000), (1, 2, 500)]
    assert sorted(groups[0].user_ids + groups[1].user_ids) == sorted(shifts)
    again = [g for g in group_transitions(reversed(found)) if g.target.presence_id == "def-break"]
    assert [g.user_ids for g in again] == [g.user_ids for g in groups], "the same parts whatever the order"
    names = {schedule_name(MU, g.at, g.target.presence_id, g.part) for g in groups}
    assert len(names) == 2


def test_schedule_names_are_deterministic_short_and_carry_their_unit_and_instant() -> None:
    name = schedule_name(MU, at(10, 29), "def-break", 0)
    assert name == schedule_name(MU, at(10, 29), "def-break", 0)
    assert name != schedule_name(MU, at(10, 29), "def-break", 1) != schedule_name(OTHER_MU, at(10, 29), "def-break", 0)
    assert name.startswith(unit_prefix(MU)) and not name.startswith(unit_prefix(OTHER_MU))
    assert len(name) <= 64 and name.replace("-", "").isalnum()
    assert instant_of(name, unit_prefix(MU)) == at(10, 29)
    assert instant_of("auto-other-name", unit_prefix(MU)) is None


# ---- the planner against moto's Scheduler ----------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        scheduler = boto3.client("scheduler")
        scheduler.create_schedule_group(Name=GROUP)
        yield {"dynamodb": dynamodb, "scheduler": scheduler, "store": AutomationStore(dynamodb, "agents")}


def make_planner(aws: dict[str, Any], wfm: FakeWfm, now: datetime = NOW) -> Planner:
    settings = AutomationSettings(
        AUTOMATION_SCHEDULE_GROUP_NAME=GROUP, SCHEDULER_ROLE_ARN=ROLE_ARN, BULK_STATE_MACHINE_ARN=BULK_ARN
    )
    return Planner(genesys=wfm, scheduler=aws["scheduler"], store=aws["store"], settings=settings, now=lambda: now)  # type: ignore[arg-type]


def enable(aws: dict[str, Any], **config: Any) -> None:
    aws["store"].save(MU, AutomationConfig(enabled=True, **config), updated_by="test", now=NOW)


def schedules(aws: dict[str, Any]) -> dict[str, dict[str, Any]]:
    scheduler = aws["scheduler"]
    names = [s["Name"] for s in scheduler.list_schedules(GroupName=GROUP)["Schedules"]]
    made = {name: scheduler.get_schedule(Name=name, GroupName=GROUP) for name in names}
    return {name: {k: v for k, v in schedule.items() if k != "ResponseMetadata"} for name, schedule in made.items()}


def test_given_a_plan_then_each_schedule_starts_one_bulk_change_for_its_group_at_its_instant(
    aws: dict[str, Any],
) -> None:
    wfm = FakeWfm({agent(n): [work_break_work(at(10, 30))] for n in range(4)})
    enable(aws, respect_own_changes_minutes=15, dry_run=True)
    result = make_planner(aws, wfm).plan(MU)
    assert result.status == "planned"
    assert [(i.at, i.presence, i.category, i.agents) for i in result.instants] == [
        ("2026-11-24T10:29:00.000Z", "Break", "Break", 4),
        ("2026-11-24T10:44:00.000Z", "On Queue", "OnQueueWork", 4),
    ]
    assert result.schedules.created == 2
    assert len(wfm.searches) == 1, "one schedule search for the unit"
    (mu, start, end, users) = wfm.searches[0]
    assert (mu, start, sorted(users)) == (MU, NOW, sorted(wfm.shifts))
    assert end == NOW + timedelta(hours=12, minutes=1)
    made = schedules(aws)
    assert set(made) == {name for i in result.instants for name in i.schedules}
    first = made[result.instants[0].schedules[0]]
    assert first["ScheduleExpression"] == "at(2026-11-24T10:29:00)"
    assert first["ScheduleExpressionTimezone"] == "UTC"
    assert first["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert first["ActionAfterCompletion"] == "DELETE"
    assert (first["Target"]["Arn"], first["Target"]["RoleArn"]) == (BULK_ARN, ROLE_ARN)
    assert json.loads(first["Target"]["Input"]) == {
        "userIds": sorted(wfm.shifts),
        "presence": "def-break",
        "reason": "follows the WFM schedule: Break at 2026-11-24T10:30:00.000Z",
        "requestedBy": f"automation:{MU}",
        "respectOwnChangesMinutes": 15,
        "dryRun": True,
        "activityAt": "2026-11-24T10:30:00.000Z",
    }, "made a minute ahead, judged against the Break it prepares for"
    last = aws["store"].get(MU).last_plan
    assert (last["status"], last["instants"], last["agents"]) == ("planned", 2, 8)


def test_given_a_second_run_with_nothing_changed_then_nothing_changes(aws: dict[str, Any]) -> None:
    wfm = FakeWfm({agent(n): [work_break_work(at(10, 30 + 5 * (n % 3)))] for n in range(30)})
    enable(aws)
    first = make_planner(aws, wfm).plan(MU)
    before = schedules(aws)
    second = make_planner(aws, wfm, NOW + timedelta(seconds=5)).plan(MU)
    assert first.schedules.created == 6
    assert second.schedules.model_dump() == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 6, "kept": 0}
    assert schedules(aws) == before


def test_given_the_schedule_changed_then_a_re_plan_creates_updates_and_deletes(aws: dict[str, Any]) -> None:
    wfm = FakeWfm(
        {
            agent(1): [work_break_work(at(10, 30))],
            agent(2): [work_break_work(at(10, 30))],
            agent(3): [work_break_work(at(12, 0))],
        }
    )
    enable(aws)
    make_planner(aws, wfm).plan(MU)
    before = schedules(aws)
    assert len(before) == 4  # 10:29 Break (2), 10:44 On Queue (2), 11:59 Break, 12:14 On Queue
    wfm.shifts[agent(2)] = [work_break_work(at(13, 0))]  # agent 2's break moved: 10:29 group loses agent 2
    wfm.shifts.pop(agent(3))  # agent 3 left the unit: 11:59 and 12:14 disappear
    result = make_planner(aws, wfm).plan(MU)
    assert result.schedules.model_dump() == {"created": 2, "updated": 2, "deleted": 2, "unchanged": 0, "kept": 0}
    after = schedules(aws)
    by_instant = {s["ScheduleExpression"]: json.loads(s["Target"]["Input"])["userIds"] for s in after.values()}
    assert by_instant == {
        "at(2026-11-24T10:29:00)": [agent(1)],
        "at(2026-11-24T10:44:00)": [agent(1)],
        "at(2026-11-24T12:59:00)": [agent(2)],
        "at(2026-11-24T13:14:00)": [agent(2)],
    }


def test_given_a_changed_config_then_the_same_schedules_are_updated_and_a_new_lead_replaces_them(
    aws: dict[str, Any],
) -> None:
    wfm = FakeWfm({agent(1): [work_break_work(at(10, 30))]})
    enable(aws)
    make_planner(aws, wfm).plan(MU)
    enable(aws, dry_run=True)
    updated = make_planner(aws, wfm).plan(MU)
    assert (updated.schedules.updated, updated.schedules.created) == (2, 0)
    assert all(json.loads(s["Target"]["Input"])["dryRun"] is True for s in schedules(aws).values())
    enable(aws, lead_minutes=3)
    moved = make_planner(aws, wfm).plan(MU)
    assert (moved.schedules.created, moved.schedules.deleted) == (2, 2)
    assert sorted(s["ScheduleExpression"] for s in schedules(aws).values()) == [
        "at(2026-11-24T10:27:00)",
        "at(2026-11-24T10:42:00)",
    ]


def test_given_automation_off_then_plan_is_a_preview_and_leaves_no_future_schedule(aws: dict[str, Any]) -> None:
    wfm = FakeWfm({agent(1): [work_break_work(at(10, 30))]})
    enable(aws)
    make_planner(aws, wfm).plan(MU)
    aws["store"].save(MU, AutomationConfig(enabled=False), updated_by="test", now=NOW)
    preview = make_planner(aws, wfm).plan(MU)
    assert preview.status == "preview" and len(preview.instants) == 2
    assert (preview.schedules.created, preview.schedules.deleted) == (0, 2)
    assert schedules(aws) == {}


def test_given_a_planned_schedule_about_to_fire_then_a_re_plan_leaves_it_alone(aws: dict[str, Any]) -> None:
    wfm = FakeWfm({agent(1): [work_break_work(at(10, 30))]})
    enable(aws)
    make_planner(aws, wfm).plan(MU)
    wfm.shifts.clear()
    almost = at(10, 29) - timedelta(seconds=10)  # the 10:29 schedule is due within 30 s: it may be firing
    result = make_planner(aws, wfm, almost).plan(MU)
    assert (result.schedules.deleted, result.schedules.kept) == (1, 1)
    assert [s["ScheduleExpression"] for s in schedules(aws).values()] == ["at(2026-11-24T10:29:00)"]


def test_given_a_schedule_with_our_prefix_that_another_unit_owns_then_it_is_never_deleted(aws: dict[str, Any]) -> None:
    enable(aws)
    name = f"{unit_prefix(MU)}202611241200-000000000000"
    aws["scheduler"].create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression="at(2026-11-24T12:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": BULK_ARN, "RoleArn": ROLE_ARN, "Input": json.dumps({"requestedBy": "someone-else"})},
    )
    result = make_planner(aws, FakeWfm()).plan(MU)
    assert (result.schedules.deleted, result.schedules.kept) == (0, 1)
    assert list(schedules(aws)) == [name]


def test_given_the_search_answers_processing_then_no_plan_this_run_and_nothing_changes(aws: dict[str, Any]) -> None:
    wfm = FakeWfm({agent(1): [work_break_work(at(10, 30))]})
    enable(aws)
    make_planner(aws, wfm).plan(MU)
    before = schedules(aws)
    wfm.processing = True
    wfm.shifts[agent(1)] = [work_break_work(at(12, 0))]  # moved - but this run cannot know
    result = make_planner(aws, wfm).plan(MU)
    assert result.status == "processing" and result.instants == []
    assert "Processing" in (result.message or "")
    assert schedules(aws) == before
    assert aws["store"].get(MU).last_plan["status"] == "processing"


def test_given_the_recurring_run_then_only_enabled_units_are_planned(aws: dict[str, Any]) -> None:
    wfm = FakeWfm({agent(1): [work_break_work(at(10, 30))]})
    enable(aws)
    aws["store"].save(OTHER_MU, AutomationConfig(enabled=False), updated_by="test", now=NOW)
    results = make_planner(aws, wfm).plan_enabled()
    assert [r.management_unit_id for r in results] == [MU]
    assert make_planner(aws, wfm).plan_business_unit(BU, None)[0].schedules.unchanged == 2
    assert make_planner(aws, wfm).plan_business_unit(BU, [OTHER_MU]) == []


def test_given_the_handler_then_events_reach_the_planner_and_bad_ones_are_dropped(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    wfm = FakeWfm({agent(1): [work_break_work(at(10, 30))]})
    enable(aws)
    handler = load_handler("planner")
    monkeypatch.setattr(handler, "planner_from_env", lambda: make_planner(aws, wfm))
    answer = handler.handler({}, LambdaContextStub())
    assert [p["managementUnitId"] for p in answer["plans"]] == [MU]
    assert answer["plans"][0]["schedules"]["created"] == 2
    event = genesys_event(BU, {"status": "Complete", "eventType": "Update", "result": {"published": True}})
    assert handler.handler(event, LambdaContextStub())["plans"][0]["schedules"]["unchanged"] == 2
    dropped = handler.handler({"detail": {"topicName": "v2.users.x.presence"}}, LambdaContextStub())
    assert dropped["plans"] == [] and "not a WFM schedule notification" in dropped["ignored"]


# ---- events ----------------------------------------------------------------------------------------------------


def genesys_event(business_unit: str, body: Any) -> dict[str, Any]:
    topic = f"v2.workforcemanagement.businessunits.{business_unit}.schedules"
    return {
        "version": "0",
        "detail-type": "v2.workforcemanagement.businessunits.{id}.schedules",
        "source": "aws.partner/genesys.com/cloud/org/name",
        "detail": {"topicName": topic, "version": "2", "eventBody": body, "metadata": {"CorrelationId": "c"}},
    }


def test_given_planner_events_then_each_is_understood_or_ignored_with_a_reason() -> None:
    assert parse_planner_event({}).kind == "enabled"
    assert parse_planner_event({"detail-type": "Scheduled Event", "detail": {}}).kind == "enabled"
    one = parse_planner_event({"managementUnitId": MU.upper()})
    assert (one.kind, one.management_unit_id) == ("unit", MU)
    assert parse_planner_event({"managementUnitId": "../x"}).kind == "ignored"
    body = {
        "status": "Complete",
        "eventType": "Update",
        "result": {"id": "w", "published": True, "managementUnits": [{"managementUnit": {"id": OTHER_MU}}]},
    }
    unit = parse_planner_event(genesys_event(BU, body))
    assert (unit.kind, unit.business_unit_id, unit.management_unit_ids) == ("businessUnit", BU, [OTHER_MU])
    assert parse_planner_event(genesys_event(BU, {"eventType": "Import"})).management_unit_ids is None
    ignored = {
        "processing": genesys_event(BU, {**body, "status": "Processing"}),
        "unpublished": genesys_event(BU, {**body, "result": {"published": False}}),
        "malformed": genesys_event(BU, {"status": 7}),
        "not a body": genesys_event(BU, "x"),
        "other topic": {"detail": {"topicName": f"v2.workforcemanagement.businessunits.{BU}.adherence"}},
        "bad id": genesys_event("..", body),
        "not an object": [],
    }
    for why, event in ignored.items():
        assert parse_planner_event(event).kind == "ignored", why
    deleted = genesys_event(BU, {**body, "eventType": "Delete", "result": {"published": False}})
    assert parse_planner_event(deleted).kind == "businessUnit", "a deleted schedule is re-planned"


def test_the_schedule_notification_models_use_the_sdks_field_names() -> None:
    import PureCloudPlatformClientV2 as sdk

    from presence_manager import planner

    pairs = [
        (planner.WfmBuScheduleTopicBuScheduleNotification, sdk.WfmBuScheduleTopicBuScheduleNotification),
        (planner.WfmBuScheduleTopicBuScheduleMetadata, sdk.WfmBuScheduleTopicBuScheduleMetadata),
        (
            planner.WfmBuScheduleTopicBuManagementUnitScheduleSummary,
            sdk.WfmBuScheduleTopicBuManagementUnitScheduleSummary,
        ),
        (planner.WfmBuScheduleTopicManagementUnit, sdk.WfmBuScheduleTopicManagementUnit),
    ]
    for ours, theirs in pairs:
        wire = {f.alias or name for name, f in ours.model_fields.items()}
        assert wire <= set(theirs().attribute_map.values()), ours.__name__
    status = planner.WfmBuScheduleTopicBuScheduleNotification.model_fields["status"].annotation
    assert "Complete" in str(status) and "Processing" in str(status)
