"""``GET /agents/{userId}/timeline`` through the API handler: the day's schedule beside ours and outside changes, as
camelCase JSON; a bad query is a 400 with a code naming the field, and reads nothing from Genesys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager import dependencies as deps
from presence_manager.audit import AuditStore
from presence_manager.config import AppSettings
from presence_manager.workflow.validate import schedule_searches
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler
from tests.unit.test_timeline import AWAY_EDT, BEFORE, TO_BREAK, USER, Genesys, fall_back_shifts

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AuditTable", "audit")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        settings = AppSettings(AUDIT_TABLE_NAME="audit", AGENT_TABLE_NAME="agents")
        genesys = Genesys(now=NOW)
        genesys.units.add(USER)
        genesys.shifts[USER] = fall_back_shifts()
        monkeypatch.setattr(deps, "settings", lambda: settings)
        monkeypatch.setattr(deps, "genesys", lambda: genesys)
        monkeypatch.setattr(deps, "now", lambda: NOW)
        deps.dynamodb.cache_clear()
        schedule_searches.clear()
        store = AuditStore(dynamodb, "audit", "agents")
        for item in (BEFORE, AWAY_EDT, TO_BREAK):
            store.record(item)
        yield {"genesys": genesys, "dynamodb": dynamodb}
        deps.dynamodb.cache_clear()
        schedule_searches.clear()


def call(path: str, query: dict[str, str] | None = None, multi: dict[str, list[str]] | None = None) -> tuple[int, Any]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi or ({k: [v] for k, v in query.items()} if query else None),
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "stage": "v1",
            "requestId": "r-1",
            "httpMethod": "GET",
            "resourcePath": path,
            "identity": {"sourceIp": "127.0.0.1", "userArn": "arn:aws:iam::123456789012:user/alice"},
        },
        "body": None,
        "isBase64Encoded": False,
    }
    response = load_handler("api").handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def test_given_a_date_then_the_days_schedule_and_changes_ours_and_outside_in_time_order(api: dict[str, Any]) -> None:
    status, body = call(f"/agents/{USER}/timeline", {"date": "2026-11-01"})
    assert status == 200, body
    assert (body["userId"], body["date"], body["timeZone"], body["dayMinutes"]) == (
        USER,
        "2026-11-01",
        "America/New_York",
        1500,
    )
    assert [(c["changeId"], c["source"], c["outcome"]) for c in body["changes"]] == [
        ("ext-edt", "external", "observed"),
        ("chg-break", "workflow", "applied"),
    ]
    ours = body["changes"][1]
    assert ours["requestedBy"] == "arn:aws:iam::123456789012:user/alice"
    assert (ours["previousPresence"]["systemPresence"], ours["newPresence"]["systemPresence"]) == ("Available", "Break")
    assert body["changes"][0]["requestedBy"] == "genesys:PURECLOUD"
    categories = [a["category"] for s in body["schedule"]["shifts"] for a in s["activities"]]
    assert categories == ["OnQueueWork", "OnQueueWork", "Break", "OnQueueWork"]
    assert body["presenceAtStart"]["presence"]["systemPresence"] == "Available"
    # back to Available at 01:30 EST is not on record here: the break change saw it
    assert [(p["systemPresence"], p["changeId"], p["seenBy"]) for p in body["presence"]] == [
        ("Available", None, None),
        ("Away", "ext-edt", None),
        ("Available", None, "chg-break"),
        ("Break", "chg-break", None),
    ]


def test_given_no_date_then_today_in_the_business_units_zone_and_a_zone_named_in_the_query_overrides_it(
    api: dict[str, Any],
) -> None:
    status, body = call(f"/agents/{USER}/timeline")
    assert status == 200, body
    assert (body["date"], body["timeZoneSource"], body["changes"]) == ("2026-11-24", "businessUnit", [])
    status, body = call(f"/agents/{USER}/timeline", {"date": "2026-11-01", "timeZone": "Europe/London"})
    assert status == 200, body
    assert (body["timeZone"], body["timeZoneSource"], body["dayStart"]) == (
        "Europe/London",
        "request",
        "2026-11-01T00:00:00.000Z",
    )


@pytest.mark.parametrize(
    ("query", "multi", "code", "field"),
    [
        ({"date": "2026-13-01"}, None, "invalid_time", "date"),
        ({"date": "01/11/2026"}, None, "invalid_time", "date"),
        ({"date": "2026-11-01", "limit": "5"}, None, "invalid_request", "limit"),
        ({"date": "2026-11-01\u0000"}, None, "invalid_request", "date"),
        ({"da\nte": "2026-11-01"}, None, "invalid_request", "query"),
        ({"date": "2026-11-01"}, {"date": ["2026-11-01", "2026-11-02"]}, "invalid_request", "date"),
        ({"timeZone": "Nowhere/Special"}, None, "invalid_time_zone", None),
    ],
)
def test_given_a_bad_query_then_400_with_a_code_and_nothing_read_from_genesys(
    api: dict[str, Any], query: dict[str, str], multi: dict[str, list[str]] | None, code: str, field: str | None
) -> None:
    status, body = call(f"/agents/{USER}/timeline", query, multi)
    assert (status, body["error"]["code"]) == (400, code), body
    if field is not None:
        assert field in {d["field"] for d in body["error"]["details"]}, body
    assert api["genesys"].calls == [] and api["genesys"].searches == []


def test_given_a_user_id_that_is_not_a_uuid_then_400(api: dict[str, Any]) -> None:
    status, body = call("/agents/not-a-user/timeline", {"date": "2026-11-01"})
    assert (status, body["error"]["code"]) == (400, "invalid_user_id")
    assert api["genesys"].calls == []
