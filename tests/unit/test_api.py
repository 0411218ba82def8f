"""The REST API: bad input is a 400 with a machine-readable code and starts nothing; good input starts one
execution whose name is the changeId, and a replayed Idempotency-Key never starts a second."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager import dependencies as deps
from presence_manager.config import AppSettings
from presence_manager.errors import PresenceDefinitionNotFound
from tests.aws_tables import mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
SKILL = "9ec711b7-04f6-4bef-8606-eb41d825f78a"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


class FakeGenesys:
    def resolve_presence(self, name_or_id: str) -> object:
        if name_or_id.lower() not in {"available", "away", "on queue", "offline"}:
            raise PresenceDefinitionNotFound(f"no presence named {name_or_id!r}", available=["Available"])
        return object()


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    mocked_aws_environment(monkeypatch)
    with mock_aws():
        sfn = boto3.client("stepfunctions")
        role = "arn:aws:iam::123456789012:role/sfn"
        single = sfn.create_state_machine(name="pc", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        bulk = sfn.create_state_machine(name="bulk", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        settings = AppSettings(STATE_MACHINE_ARN=single, BULK_STATE_MACHINE_ARN=bulk)
        monkeypatch.setattr(deps, "settings", lambda: settings)
        monkeypatch.setattr(deps, "genesys", lambda: FakeGenesys())
        deps.aws_client.cache_clear()
        yield {"sfn": sfn, "arn": single}
        deps.aws_client.cache_clear()


def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    handler = load_handler("api").handler
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", **(headers or {})},
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
    response = handler(event, LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def executions(api: dict[str, Any]) -> list[dict]:
    return api["sfn"].list_executions(stateMachineArn=api["arn"])["executions"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "invalid_json"),
        ([1, 2], "invalid_json"),
        ({"userId": "bob", "presence": "Available"}, "invalid_request"),
        ({"userId": USER}, "invalid_request"),
        ({"userId": USER, "presence": "Available", "timeZone": "Mars/Olympus"}, "invalid_time_zone"),
        ({"userId": USER, "presence": "Nap time"}, "unknown_presence"),
        (
            {"userId": USER, "presence": "Available", "skillOverrides": [{"skillId": SKILL, "proficiency": 9}]},
            "invalid_request",
        ),
        ({"userId": USER, "presence": "Available", "force": "yes"}, "invalid_request"),
        ({"userId": USER, "presence": "Available", "dryRun": 1}, "invalid_request"),
        ({"userId": USER, "skillOverrides": [{"skillId": SKILL, "proficiency": "3"}]}, "invalid_request"),
        ({"userId": USER, "skillOverrides": [{"skillId": "../../x/presences/purecloud"}]}, "invalid_request"),
        ({"userId": USER, "presence": "Available", "message": "line\nbreak"}, "invalid_request"),
        ({"userId": USER, "presence": "Available", "colour": "red"}, "invalid_request"),
        ({"userId": USER, "presence": "Available", "requestedBy": "mallory"}, "invalid_request"),
    ],
)
def test_given_bad_input_when_posting_a_change_then_400_with_a_code_and_nothing_starts(
    api: dict[str, Any], body: Any, code: str
) -> None:
    status, answer = call("POST", "/presence-changes", body)
    assert status == 400
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    assert executions(api) == []


def test_given_a_valid_change_when_posted_then_202_and_one_execution_named_by_the_change_id(
    api: dict[str, Any],
) -> None:
    status, answer = call("POST", "/presence-changes", {"userId": USER, "presence": "Available", "message": "hi"})
    assert status == 202
    assert answer["changeId"].startswith("chg-")
    assert answer["executionArn"].endswith(f":{answer['changeId']}")
    started = executions(api)
    assert [e["name"] for e in started] == [answer["changeId"]]
    execution_input = json.loads(api["sfn"].describe_execution(executionArn=answer["executionArn"])["input"])
    assert execution_input["requestedBy"] == "arn:aws:iam::123456789012:user/alice"
    assert execution_input["message"] == "hi"


def test_given_a_replayed_idempotency_key_then_no_second_execution_starts(api: dict[str, Any]) -> None:
    body = {"userId": USER, "presence": "Away"}
    first = call("POST", "/presence-changes", body, {"Idempotency-Key": "k-1"})
    second = call("POST", "/presence-changes", body, {"Idempotency-Key": "k-1"})
    assert first[0] == 202 and second[0] == 202
    assert first[1]["changeId"] == second[1]["changeId"]
    assert second[1]["replayed"] is True
    assert len(executions(api)) == 1


def test_given_a_reused_idempotency_key_with_another_body_then_409(api: dict[str, Any]) -> None:
    call("POST", "/presence-changes", {"userId": USER, "presence": "Away"}, {"Idempotency-Key": "k-2"})
    status, answer = call(
        "POST", "/presence-changes", {"userId": USER, "presence": "Offline"}, {"Idempotency-Key": "k-2"}
    )
    assert status == 409
    assert answer["error"]["code"] == "idempotency_key_reused"
    assert len(executions(api)) == 1


def test_given_an_unknown_change_id_then_404(api: dict[str, Any]) -> None:
    status, answer = call("GET", "/presence-changes/chg-nope")
    assert status == 404
    assert answer["error"]["code"] == "change_not_found"


def test_given_a_bulk_change_with_both_populations_then_400(api: dict[str, Any]) -> None:
    status, answer = call("POST", "/bulk-changes", {"userIds": [USER], "managementUnitId": "mu", "presence": "Away"})
    assert status == 400
    assert answer["error"]["code"] == "invalid_request"


def test_given_a_strictly_typed_change_then_the_execution_input_keeps_the_types(api: dict[str, Any]) -> None:
    body = {
        "userId": USER,
        "presence": "Available",
        "force": True,
        "dryRun": True,
        "skillOverrides": [{"skillId": SKILL, "proficiency": 3, "revertAfterMinutes": 60}],
    }
    status, answer = call("POST", "/presence-changes", body)
    assert status == 202, answer
    execution_input = json.loads(api["sfn"].describe_execution(executionArn=answer["executionArn"])["input"])
    assert (execution_input["force"], execution_input["dryRun"]) == (True, True)
    assert execution_input["skillOverrides"] == [
        {"skillId": SKILL, "state": "active", "proficiency": 3.0, "revertAfterMinutes": 60}
    ]


def test_given_a_bad_user_id_in_a_path_then_400(api: dict[str, Any]) -> None:
    status, answer = call("GET", "/agents/not-a-user/metrics")
    assert status == 400
    assert answer["error"]["code"] == "invalid_user_id"
