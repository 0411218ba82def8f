"""Automation configuration per management unit: strict input (400 with codes), stored with the index of enabled
units in one transaction, shown and set through the API (turning it off removes the unit's schedules), planned on
demand, and driven by ``presence-manager automation show|enable|disable|plan``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager import dependencies as deps
from presence_manager.automation import INDEX_KEY, AutomationConfig, AutomationStore, parse_automation_config
from presence_manager.config import AppSettings
from presence_manager.errors import InvalidRequest
from presence_manager.workflow.bulk import parse_bulk_request
from presence_manager.workflow.models import parse_change_request
from presence_manager_local import cli
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler
from tests.unit.test_planner import BU, GROUP, MU, NOW, FakeWfm, agent, at, work_break_work

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
UNKNOWN_MU = "0b0b0b0b-1c1c-4d4d-8e8e-9f9f9f9f9f9f"


# ---- the configuration ---------------------------------------------------------------------------------------


def test_given_no_fields_then_the_defaults_are_off_one_minute_lead_ten_minutes_respect_twelve_hours() -> None:
    config = parse_automation_config({})
    assert config.to_json() == {
        "enabled": False,
        "leadMinutes": 1,
        "mapping": {},
        "dryRun": False,
        "respectOwnChangesMinutes": 10,
        "windowHours": 12,
        "businessHoursScheduleGroupId": None,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"enabled": "true"}, "enabled"),
        ({"enabled": 1}, "enabled"),
        ({"leadMinutes": "5"}, "leadMinutes"),
        ({"leadMinutes": 1.5}, "leadMinutes"),
        ({"leadMinutes": -1}, "leadMinutes"),
        ({"leadMinutes": 61}, "leadMinutes"),
        ({"dryRun": "no"}, "dryRun"),
        ({"respectOwnChangesMinutes": 241}, "respectOwnChangesMinutes"),
        ({"windowHours": 0}, "windowHours"),
        ({"windowHours": 49}, "windowHours"),
        ({"mapping": {"Lunch": "Meal"}}, "mapping.Lunch.[key]"),
        ({"mapping": {"Break": ""}}, "mapping.Break"),
        ({"mapping": {"Break": 3}}, "mapping.Break"),
        ({"mapping": {"Break": "Break\u202e"}}, "mapping.Break"),
        ({"mapping": {"Break": "Br\neak"}}, "mapping.Break"),
        ({"mapping": ["Break"]}, "mapping"),
        ({"managementUnitId": MU}, "managementUnitId"),
        ({"lastPlan": {}}, "lastPlan"),
    ],
)
def test_given_a_bad_configuration_then_invalid_automation_naming_the_field(body: dict, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_automation_config(body)
    assert refused.value.code == "invalid_automation"
    assert field in {d["field"] for d in refused.value.details["details"]}, refused.value.details


def test_respect_own_changes_is_a_strict_optional_field_of_both_change_requests() -> None:
    body = {"userIds": [USER], "presence": "Break", "respectOwnChangesMinutes": 10}
    request = parse_bulk_request(body)
    assert request.respect_own_changes_minutes == 10
    assert request.for_agent(USER).respect_own_changes_minutes == 10, "every agent's change carries it"
    assert parse_change_request({"userId": USER, "presence": "Break"}).respect_own_changes_minutes is None
    for bad in ("10", 0, 241, 1.0, True):
        with pytest.raises(InvalidRequest):
            parse_bulk_request({**body, "respectOwnChangesMinutes": bad})
        with pytest.raises(InvalidRequest):
            parse_change_request({"userId": USER, "presence": "Break", "respectOwnChangesMinutes": bad})


# ---- the store -------------------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        scheduler = boto3.client("scheduler")
        scheduler.create_schedule_group(Name=GROUP)
        yield {"dynamodb": dynamodb, "scheduler": scheduler, "store": AutomationStore(dynamodb, "agents")}


def test_given_units_enabled_and_disabled_then_the_index_lists_exactly_the_enabled_ones(aws: dict[str, Any]) -> None:
    store: AutomationStore = aws["store"]
    store.save(MU, AutomationConfig(enabled=True, lead_minutes=2), updated_by="alice", now=NOW)
    store.save(UNKNOWN_MU, AutomationConfig(enabled=True), updated_by="alice", now=NOW)
    assert store.enabled_units() == sorted([MU, UNKNOWN_MU])
    store.save(UNKNOWN_MU, AutomationConfig(enabled=False), updated_by="bob", now=NOW)
    store.save(MU.upper(), AutomationConfig(enabled=True, lead_minutes=3), updated_by="bob", now=NOW)
    assert store.enabled_units() == [MU]
    stored = store.get(MU)
    assert stored is not None
    assert (stored.lead_minutes, stored.updated_by, stored.updated_at) == (3, "bob", "2026-11-24T10:00:20.000Z")
    store.record_plan(MU, {"status": "planned"})
    assert store.get(MU).last_plan == {"status": "planned"}
    store.record_plan(USER, {"status": "preview"})
    assert store.get(USER) is None, "a preview of an unconfigured unit stores nothing"
    table = aws["dynamodb"].Table("agents")
    assert set(table.get_item(Key={"pk": INDEX_KEY})["Item"]["enabledUnits"]) == {MU}


# ---- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture
def api(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    wfm = FakeWfm({agent(n): [work_break_work(at(10, 30))] for n in range(5)})
    settings = AppSettings(
        AGENT_TABLE_NAME="agents", BULK_STATE_MACHINE_ARN="arn:aws:states:us-east-1:1:stateMachine:b"
    )
    monkeypatch.setattr(deps, "settings", lambda: settings)
    monkeypatch.setattr(deps, "genesys", lambda: wfm)
    monkeypatch.setattr(deps, "dynamodb", lambda: aws["dynamodb"])
    monkeypatch.setattr(deps, "now", lambda: NOW)
    monkeypatch.setenv("AUTOMATION_SCHEDULE_GROUP_NAME", GROUP)
    monkeypatch.setenv("SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/s")
    monkeypatch.setenv("BULK_STATE_MACHINE_ARN", "arn:aws:states:us-east-1:123456789012:stateMachine:b")
    deps.aws_client.cache_clear()
    yield {**aws, "wfm": wfm}
    deps.aws_client.cache_clear()


def call(method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "stage": "v1",
            "requestId": "r-1",
            "httpMethod": method,
            "resourcePath": path,
            "identity": {"sourceIp": "127.0.0.1", "userArn": "arn:aws:iam::123456789012:user/alice"},
        },
        "body": body if isinstance(body, str) or body is None else json.dumps(body),
        "isBase64Encoded": False,
    }
    response = load_handler("api").handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def test_given_a_unit_nobody_configured_then_get_shows_the_defaults_off(api: dict[str, Any]) -> None:
    status, body = call("GET", f"/management-units/{MU}/automation")
    assert status == 200
    assert (body["managementUnitId"], body["enabled"], body["stored"], body["leadMinutes"]) == (MU, False, False, 1)


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (f"/management-units/{MU}/automation", {"enabled": "yes"}, 400, "invalid_automation"),
        (f"/management-units/{MU}/automation", {"mapping": {"Break": "Coffee"}}, 400, "unknown_presence"),
        (f"/management-units/{MU}/automation", "[1]", 400, "invalid_json"),
        ("/management-units/not-a-unit/automation", {"enabled": True}, 400, "invalid_management_unit_id"),
        (f"/management-units/{UNKNOWN_MU}/automation", {"enabled": True}, 404, "not_found"),
    ],
)
def test_given_a_bad_put_then_it_is_refused_with_a_code_and_nothing_is_stored(
    api: dict[str, Any], path: str, body: Any, status: int, code: str
) -> None:
    answer_status, answer = call("PUT", path, body)
    assert (answer_status, answer["error"]["code"]) == (status, code), answer
    assert api["store"].enabled_units() == []
    assert api["store"].get(MU) is None


def test_given_a_put_then_it_is_stored_and_plan_creates_the_schedules_and_disabling_removes_them(
    api: dict[str, Any],
) -> None:
    status, stored = call("PUT", f"/management-units/{MU}/automation", {"enabled": True, "mapping": {"Break": "Away"}})
    assert status == 200 and stored["enabled"] is True and stored["mapping"] == {"Break": "Away"}
    assert stored["updatedBy"] == "arn:aws:iam::123456789012:user/alice"
    assert api["store"].enabled_units() == [MU]
    status, plan = call("POST", f"/management-units/{MU}/automation/plan")
    assert status == 200 and plan["status"] == "planned"
    assert [(i["at"], i["presence"], i["category"], i["agents"]) for i in plan["instants"]] == [
        ("2026-11-24T10:29:00.000Z", "Away", "Break", 5),
        ("2026-11-24T10:44:00.000Z", "On Queue", "OnQueueWork", 5),
    ]
    assert plan["schedules"]["created"] == 2
    assert len(api["scheduler"].list_schedules(GroupName=GROUP)["Schedules"]) == 2
    _, shown = call("GET", f"/management-units/{MU}/automation")
    assert shown["lastPlan"]["instants"] == 2 and shown["lastPlan"]["agents"] == 10
    status, off = call("PUT", f"/management-units/{MU}/automation", {"enabled": False})
    assert status == 200 and off["schedulesRemoved"] == 2
    assert api["scheduler"].list_schedules(GroupName=GROUP)["Schedules"] == []
    assert api["store"].enabled_units() == []
    _, preview = call("POST", f"/management-units/{MU}/automation/plan")
    assert preview["status"] == "preview" and len(preview["instants"]) == 2
    assert api["scheduler"].list_schedules(GroupName=GROUP)["Schedules"] == []


def test_the_template_routes_the_automation_paths_to_the_api_function() -> None:
    from presence_manager_local.emulation import ResolvedTemplate

    routes = set(ResolvedTemplate.load({"GenesysCredentialsSecretId": "x"}).api_routes())
    for method, path in (
        ("GET", "/management-units/{managementUnitId}/automation"),
        ("PUT", "/management-units/{managementUnitId}/automation"),
        ("POST", "/management-units/{managementUnitId}/automation/plan"),
    ):
        assert (method, path, "ApiFunction") in routes


def test_the_planner_function_and_its_schedules_are_in_the_template() -> None:
    from presence_manager_local.emulation import ResolvedTemplate

    template = ResolvedTemplate.load({"GenesysCredentialsSecretId": "x"})
    planner = template.resources["PlannerFunction"]["Properties"]
    assert planner["CodeUri"] == "functions/planner/"
    group = template.resolve(template.resources["AutomationScheduleGroup"]["Properties"]["Name"])
    assert group == "gpm-local-automation"
    assert template.resolve(planner["Environment"]["Variables"]["AUTOMATION_SCHEDULE_GROUP_NAME"]) == group
    recurring = template.resources["PlannerRecurringSchedule"]["Properties"]
    assert recurring["ScheduleExpression"] == "rate(15 minutes)"
    assert template.resolve(recurring["Target"]["Arn"]) == template.physical["PlannerFunction"]["Arn"]
    role = template.resources["PlannerScheduleRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert [s["Action"] for s in role] == ["lambda:InvokeFunction"]


# ---- the CLI ---------------------------------------------------------------------------------------------------


class FakeApi:
    def __init__(self, config: dict[str, Any], plan: dict[str, Any]) -> None:
        self.config, self.plan, self.calls = config, plan, []  # type: ignore[var-annotated]

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.calls.append((method, path, kwargs.get("json")))
        if method == "GET":
            return self.config
        if method == "PUT":
            self.config = {**self.config, **kwargs["json"], "stored": True}
            return self.config
        return self.plan


PLAN = {
    "managementUnitId": MU,
    "businessUnitId": BU,
    "status": "planned",
    "enabled": True,
    "dryRun": False,
    "leadMinutes": 1,
    "plannedAt": "2026-11-24T10:00:20.000Z",
    "windowStart": "2026-11-24T10:00:20.000Z",
    "windowEnd": "2026-11-24T22:00:20.000Z",
    "instants": [
        {"at": "2026-11-24T10:29:00.000Z", "presence": "Break", "presenceId": "p1", "category": "Break", "agents": 420},
        {
            "at": "2026-11-24T10:44:00.000Z",
            "presence": "On Queue",
            "presenceId": "p2",
            "category": "OnQueueWork",
            "agents": 7,
        },
    ],
    "schedules": {"created": 2, "updated": 0, "deleted": 0, "unchanged": 0, "kept": 0},
    "skipped": {"samePresence": 3},
    "message": None,
}
CONFIG = {
    "managementUnitId": MU,
    "enabled": False,
    "leadMinutes": 1,
    "mapping": {},
    "dryRun": False,
    "respectOwnChangesMinutes": 10,
    "windowHours": 12,
    "businessHoursScheduleGroupId": None,
    "stored": False,
    "updatedAt": None,
    "updatedBy": None,
    "lastPlan": None,
}


def run_cli(monkeypatch: pytest.MonkeyPatch, fake: FakeApi, argv: list[str]) -> int:
    monkeypatch.setattr(cli, "ApiClient", lambda *a, **k: fake)
    return cli.main(argv)


def test_given_automation_plan_then_it_prints_each_instant_and_how_many_agents_it_moves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeApi(dict(CONFIG), PLAN)
    assert run_cli(monkeypatch, fake, ["automation", "plan", MU]) == 0
    out = capsys.readouterr().out
    assert fake.calls == [("POST", f"/management-units/{MU}/automation/plan", None)]
    assert "2026-11-24T10:29:00.000Z  Break" in out and "420" in out
    assert "2 instants moving 427 agents" in out
    assert run_cli(monkeypatch, fake, ["automation", "plan", MU, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == PLAN
    processing = FakeApi(CONFIG, {**PLAN, "status": "processing", "instants": []})
    assert run_cli(monkeypatch, processing, ["automation", "plan", MU]) == 1, "no plan this run: exit 1"


def test_given_automation_enable_then_the_flag_is_set_keeping_the_rest_and_the_unit_is_planned(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeApi({**CONFIG, "leadMinutes": 4, "stored": True}, PLAN)
    argv = ["automation", "enable", MU, "--map", "Break=Away", "--dry-run", "--json"]
    assert run_cli(monkeypatch, fake, argv) == 0
    (get, put, plan) = fake.calls
    assert get == ("GET", f"/management-units/{MU}/automation", None)
    assert put == (
        "PUT",
        f"/management-units/{MU}/automation",
        {
            "enabled": True,
            "leadMinutes": 4,
            "mapping": {"Break": "Away"},
            "dryRun": True,
            "respectOwnChangesMinutes": 10,
            "windowHours": 12,
            "businessHoursScheduleGroupId": None,
        },
    ), "a PUT carries every field of the configuration it replaces"
    assert plan[0] == "POST"
    assert json.loads(capsys.readouterr().out)["plan"] == PLAN
    fake.calls.clear()
    assert run_cli(monkeypatch, fake, ["automation", "disable", MU]) == 0
    assert [c[0] for c in fake.calls] == ["GET", "PUT"], "disabling plans nothing"
    assert fake.calls[1][2]["enabled"] is False and fake.calls[1][2]["dryRun"] is True
    assert "automation disabled" in capsys.readouterr().out


def test_given_automation_show_then_the_configuration_is_printed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeApi({**CONFIG, "mapping": {"Break": "Away"}, "lastPlan": {"status": "planned"}}, PLAN)
    assert run_cli(monkeypatch, fake, ["automation", "show", MU]) == 0
    out = capsys.readouterr().out
    assert "automation disabled (defaults)" in out and "Break -> Away" in out and '"status": "planned"' in out
