"""The bad-input suite: every field of every route with wrong types, bounds, encodings and sizes is a 400 (or 413)
with a machine-readable code naming the field, and nothing is started (no StartExecution) and nothing is written
(no DynamoDB, SQS, EventBridge or Scheduler write), proven by a spy on every AWS call the handler makes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from presence_manager import dependencies as deps
from presence_manager.api.inputs import MAX_BODY_BYTES
from presence_manager.audit import AuditRecord, AuditStore
from presence_manager.config import AppSettings
from presence_manager.errors import PresenceDefinitionNotFound
from presence_manager.workflow.bulk import MAX_BULK_AGENTS
from presence_manager.workflow.models import MAX_REVERT_MINUTES
from tests.aws_tables import create_table_from_template, mocked_aws_environment
from tests.handlers import LambdaContextStub, load_handler

USER = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
OTHER = "7a2d2f2b-9e1f-4b54-8e5f-3c9b5d8f1b22"
SKILL = "9ec711b7-04f6-4bef-8606-eb41d825f78a"
UNIT = "3479a481-ad5b-4f37-a971-68ea3dddedfa"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})
WRITE_OPERATIONS = frozenset(
    {
        "StartExecution",
        "StartSyncExecution",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "SendMessage",
        "SendMessageBatch",
        "PutEvents",
        "CreateSchedule",
    }
)


class FakeGenesys:
    def resolve_presence(self, name_or_id: str) -> object:
        if name_or_id.lower() not in {"available", "away", "offline", "on queue"}:
            raise PresenceDefinitionNotFound(f"no presence named {name_or_id!r}")
        return object()


@pytest.fixture(scope="module")
def account() -> Iterator[dict[str, Any]]:
    """One mocked account for the whole module (each test checks that it left it as it found it, or only started
    what it meant to): the template's tables, both state machines, and a spy on every AWS call."""
    with pytest.MonkeyPatch.context() as patch, mock_aws():
        mocked_aws_environment(patch)
        boto3.setup_default_session()
        calls: list[str] = []
        boto3.DEFAULT_SESSION.events.register("before-call", lambda model, **_: calls.append(model.name))
        sfn = boto3.client("stepfunctions")
        role = "arn:aws:iam::123456789012:role/sfn"
        single = sfn.create_state_machine(name="pc", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        bulk = sfn.create_state_machine(name="bulk", definition=DEFINITION, roleArn=role)["stateMachineArn"]
        dynamodb = boto3.resource("dynamodb")
        create_table_from_template(dynamodb, "AuditTable", "audit")
        create_table_from_template(dynamodb, "AgentTable", "agents")
        settings = AppSettings(
            STATE_MACHINE_ARN=single, BULK_STATE_MACHINE_ARN=bulk, AUDIT_TABLE_NAME="audit", AGENT_TABLE_NAME="agents"
        )
        patch.setattr(deps, "settings", lambda: settings)
        patch.setattr(deps, "genesys", FakeGenesys)
        deps.aws_client.cache_clear()
        deps.dynamodb.cache_clear()
        try:
            yield {"sfn": sfn, "machines": [single, bulk], "dynamodb": dynamodb, "calls": calls}
        finally:
            deps.aws_client.cache_clear()
            deps.dynamodb.cache_clear()
            boto3.DEFAULT_SESSION = None


def stored(account: dict[str, Any]) -> dict[str, Any]:
    """What the account holds: every execution of both machines and every item of both tables."""
    sfn, dynamodb = account["sfn"], account["dynamodb"]
    return {
        "executions": sorted(
            e["name"] for m in account["machines"] for e in sfn.list_executions(stateMachineArn=m)["executions"]
        ),
        "items": {t: dynamodb.Table(t).scan()["Items"] for t in ("audit", "agents")},
    }


@pytest.fixture
def aws(account: dict[str, Any]) -> dict[str, Any]:
    account["calls"].clear()
    return {**account, "before": stored(account)}


@dataclass(frozen=True)
class Case:
    method: str
    path: str
    body: Any = None  # a dict/list is sent as JSON, a str as is, bytes base64-encoded (isBase64Encoded)
    query: dict[str, str] | None = None
    multi_query: dict[str, list[str]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    multi_headers: dict[str, list[str]] | None = None
    code: str = "invalid_request"
    fields: tuple[str, ...] = ()  # each must be named in error.details
    status: int = 400


def event(case: Case) -> dict[str, Any]:
    body, is_base64 = case.body, False
    if isinstance(body, bytes):
        body, is_base64 = base64.b64encode(body).decode(), True
    elif body is not None and not isinstance(body, str):
        body = json.dumps(body)
    return {
        "resource": case.path,
        "path": case.path,
        "httpMethod": case.method,
        "headers": {"Content-Type": "application/json", **case.headers},
        "multiValueHeaders": case.multi_headers or {k: [v] for k, v in case.headers.items()},
        "queryStringParameters": case.query,
        "multiValueQueryStringParameters": case.multi_query
        or ({k: [v] for k, v in case.query.items()} if case.query else None),
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "stage": "v1",
            "requestId": "r-1",
            "httpMethod": case.method,
            "resourcePath": case.path,
            "identity": {"sourceIp": "127.0.0.1", "userArn": "arn:aws:iam::123456789012:user/alice"},
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def call(case: Case) -> tuple[int, dict[str, Any]]:
    response = load_handler("api").handler(event(case), LambdaContextStub())
    return response["statusCode"], json.loads(response["body"])


def change(**fields: Any) -> dict[str, Any]:
    return {"userId": USER, "presence": "Available", **fields}


def skill(**fields: Any) -> dict[str, Any]:
    return change(skillOverrides=[{"skillId": SKILL, **fields}])


def bulk(**fields: Any) -> dict[str, Any]:
    return {"userIds": [USER, OTHER], "presence": "Away", **fields}


def post(body: Any, *fields: str, code: str = "invalid_request", status: int = 400, **kw: Any) -> Case:
    return Case("POST", "/presence-changes", body, fields=fields, code=code, status=status, **kw)


def post_bulk(body: Any, *fields: str, code: str = "invalid_request", status: int = 400, **kw: Any) -> Case:
    return Case("POST", "/bulk-changes", body, fields=fields, code=code, status=status, **kw)


def audit(query: dict[str, str], *fields: str, code: str = "invalid_request", **kw: Any) -> Case:
    return Case("GET", f"/agents/{USER}/audit", query=query, fields=fields, code=code, **kw)


RAW = "@RAW@"


def spliced(body: dict[str, Any], raw: str) -> str:
    """``body`` as JSON with the ``RAW`` placeholder replaced by ``raw``, JSON text that json.dumps cannot write."""
    text = json.dumps(body)
    assert text.count(f'"{RAW}"') == 1
    return text.replace(f'"{RAW}"', raw)


def token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


SK = "2026-11-24T10:00:00.000Z#chg-1"
NESTED = "[" * 10_000 + "]" * 10_000
CONTROL = {
    "nul": "\u0000",
    "newline": "\n",
    "carriage-return": "\r",
    "tab": "\t",
    "del": "\u007f",
    "next-line-c1": "\u0085",
    "csi-c1": "\u009b",
    "rlo-bidi": "\u202e",
    "lre-bidi": "\u202a",
    "rli-isolate": "\u2067",
    "pdi-isolate": "\u2069",
    "line-separator": "\u2028",
    "lone-surrogate": "\ud800",
    "replacement-char": "\ufffd",
}

CASES: dict[str, Case] = {
    # ---- POST /presence-changes: wrong types (never coerced) ----
    "force-yes": post(change(force="yes"), "force"),
    "force-1": post(change(force=1), "force"),
    "force-true-string": post(change(force="true"), "force"),
    "force-null": post(change(force=None), "force"),
    "dryRun-1": post(change(dryRun=1), "dryRun"),
    "dryRun-false-string": post(change(dryRun="false"), "dryRun"),
    "dryRun-object": post(change(dryRun={}), "dryRun"),
    "proficiency-string": post(skill(proficiency="3"), "skillOverrides.0.proficiency"),
    "proficiency-bool": post(skill(proficiency=True), "skillOverrides.0.proficiency"),
    "revertAfterMinutes-string": post(skill(revertAfterMinutes="60"), "skillOverrides.0.revertAfterMinutes"),
    "revertAfterMinutes-float": post(skill(revertAfterMinutes=60.0), "skillOverrides.0.revertAfterMinutes"),
    "revertAfterMinutes-bool": post(skill(revertAfterMinutes=True), "skillOverrides.0.revertAfterMinutes"),
    "userId-number": post(change(userId=5), "userId"),
    "userId-list": post(change(userId=[USER]), "userId"),
    "presence-number": post(change(presence=5), "presence"),
    "presence-object": post(change(presence={"name": "Available"}), "presence"),
    "message-number": post(change(message=5), "message"),
    "message-list": post(change(message=["hi"]), "message"),
    "skillOverrides-object": post(change(skillOverrides={"skillId": SKILL}), "skillOverrides"),
    "skillOverrides-string": post(change(skillOverrides=SKILL), "skillOverrides"),
    "skillOverrides-item-number": post(change(skillOverrides=[5]), "skillOverrides.0"),
    "skillId-number": post(change(skillOverrides=[{"skillId": 5}]), "skillOverrides.0.skillId"),
    "skill-state-unknown": post(skill(state="enabled"), "skillOverrides.0.state"),
    "timeZone-number": post(change(timeZone=0), "timeZone"),
    "ifMatch-number": post(change(ifMatch=5), "ifMatch"),
    "reason-bool": post(change(reason=True), "reason"),
    # ---- bounds ----
    "proficiency-above-5": post(skill(proficiency=5.5), "skillOverrides.0.proficiency"),
    "proficiency-negative": post(skill(proficiency=-1), "skillOverrides.0.proficiency"),
    "proficiency-1e400": post(
        spliced(skill(proficiency=RAW), "1e400"),
        "skillOverrides.0.proficiency",
    ),
    "revertAfterMinutes-0": post(skill(revertAfterMinutes=0), "skillOverrides.0.revertAfterMinutes"),
    "revertAfterMinutes-over-a-week": post(
        skill(revertAfterMinutes=MAX_REVERT_MINUTES + 1), "skillOverrides.0.revertAfterMinutes"
    ),
    "presence-empty": post(change(presence=""), "presence"),
    "presence-257": post(change(presence="A" * 257), "presence"),
    "message-1001": post(change(message="m" * 1001), "message"),
    "reason-501": post(change(reason="r" * 501), "reason"),
    "ifMatch-empty": post(change(ifMatch=""), "ifMatch"),
    "ifMatch-129": post(change(ifMatch='"' + "e" * 128), "ifMatch"),
    "timeZone-65": post(change(timeZone="Z" * 65), "timeZone"),
    "too-many-skillOverrides": post(
        change(skillOverrides=[{"skillId": f"{i:08x}-0000-4000-8000-000000000000"} for i in range(51)]),
        "skillOverrides",
    ),
    "duplicate-skillId": post(change(skillOverrides=[{"skillId": SKILL}, {"skillId": SKILL.upper()}])),
    "nothing-to-change": post({"userId": USER}),
    "unknown-field": post(change(colour="red"), "colour"),
    "requestedBy-set-by-caller": post(change(requestedBy="mallory")),
    "revertOf-set-by-caller": post(change(revertOf="chg-1")),
    "timeZone-unknown": post(change(timeZone="Mars/Olympus"), code="invalid_time_zone"),
    "timeZone-empty": post(change(timeZone=""), code="invalid_time_zone"),
    "presence-unknown": post(change(presence="Nap time"), code="unknown_presence"),
    # ---- ids: a Genesys id is a UUID, never a path ----
    "userId-path": post(change(userId="../../x"), "userId"),
    "userId-hex-without-hyphens": post(change(userId=USER.replace("-", "")), "userId"),
    "userId-braced": post(change(userId="{" + USER + "}"), "userId"),
    "userId-urn": post(change(userId="urn:uuid:" + USER), "userId"),
    "userId-padded": post(change(userId=f" {USER}"), "userId"),
    "skillId-path-traversal": post(
        change(skillOverrides=[{"skillId": f"../../{OTHER}/presences/purecloud"}]), "skillOverrides.0.skillId"
    ),
    "skillId-not-uuid": post(change(skillOverrides=[{"skillId": "s1"}]), "skillOverrides.0.skillId"),
    "skillId-percent-encoded": post(change(skillOverrides=[{"skillId": "%2e%2e%2f"}]), "skillOverrides.0.skillId"),
    # ---- encodings of the body ----
    "invalid-utf8": post(b'{"userId": "' + USER.encode() + b'", "presence": "Av\xffailable"}', code="invalid_json"),
    "overlong-slash": post(b'{"userId": "' + USER.encode() + b'", "message": "\xc0\xaf"}', code="invalid_json"),
    "overlong-nul": post(b'{"userId": "' + USER.encode() + b'", "message": "\xc0\x80"}', code="invalid_json"),
    "utf8-encoded-surrogate": post(
        b'{"userId": "' + USER.encode() + b'", "message": "\xed\xa0\x80"}', code="invalid_json"
    ),
    "truncated-utf8": post(b'{"userId": "' + USER.encode() + b'", "message": "\xe2\x82"}', code="invalid_json"),
    "gateway-replaced-bytes": post(
        json.dumps(change(presence="Av\ufffdailable"), ensure_ascii=False), code="invalid_json"
    ),
    "lone-surrogate-in-text-body": post(spliced(change(presence=RAW), '"\udcff"'), code="invalid_json"),
    "utf8-bom": post("\ufeff" + json.dumps(change()), code="invalid_json"),
    "nan": post(
        spliced(skill(proficiency=RAW), "NaN"),
        code="invalid_json",
    ),
    "infinity": post(
        spliced(skill(proficiency=RAW), "Infinity"),
        code="invalid_json",
    ),
    "integer-with-5000-digits": post(spliced(change(force=RAW), "9" * 5000), code="invalid_json"),
    "not-json": post("{not json", code="invalid_json"),
    "empty-body": post(None, code="invalid_json"),
    "blank-body": post("   ", code="invalid_json"),
    "json-list": post([change()], code="invalid_json"),
    "json-string": post('"hello"', code="invalid_json"),
    "json-null": post("null", code="invalid_json"),
    "json-number": post("42", code="invalid_json"),
    # ---- sizes ----
    "body-over-64KiB": post(change(message="m" * MAX_BODY_BYTES), code="request_too_large", status=413),
    "body-over-64KiB-base64": post(
        json.dumps(change(reason="r" * MAX_BODY_BYTES)).encode(), code="request_too_large", status=413
    ),
    "nested-10000-levels": post(NESTED, code="invalid_json"),
    "nested-10000-levels-in-a-field": post(spliced(change(message=RAW), NESTED), code="invalid_json"),
    "nested-50-levels": post(spliced(change(x=RAW), "[" * 50 + "]" * 50), code="invalid_json"),
    # ---- Idempotency-Key header ----
    "idempotency-key-empty": post(change(), code="invalid_idempotency_key", headers={"Idempotency-Key": " "}),
    "idempotency-key-256": post(change(), code="invalid_idempotency_key", headers={"Idempotency-Key": "k" * 256}),
    "idempotency-key-newline": post(change(), "Idempotency-Key", headers={"Idempotency-Key": "k\n1"}),
    "idempotency-key-c1": post(change(), "Idempotency-Key", headers={"Idempotency-Key": "k\u00851"}),
    "idempotency-key-bidi": post(change(), "Idempotency-Key", headers={"Idempotency-Key": "k\u202e1"}),
    "idempotency-key-twice": post(
        change(),
        code="invalid_idempotency_key",
        headers={"Idempotency-Key": "k-2"},
        multi_headers={"Idempotency-Key": ["k-1", "k-2"]},
    ),
    # ---- POST /bulk-changes ----
    "bulk-userIds-string": post_bulk(bulk(userIds="abc"), "userIds"),
    "bulk-userIds-number-item": post_bulk(bulk(userIds=[5]), "userIds.0"),
    "bulk-userIds-path": post_bulk(bulk(userIds=[USER, "../../x"]), "userIds.1"),
    "bulk-userIds-empty": post_bulk(bulk(userIds=[]), "userIds"),
    "bulk-userIds-over-1000": post_bulk(bulk(userIds=[USER] * (MAX_BULK_AGENTS + 1)), "userIds"),
    "bulk-userIds-control": post_bulk(bulk(userIds=[USER + "\n"]), "userIds.0"),
    "bulk-managementUnitId-path": post_bulk(
        {"managementUnitId": "../../x/presences/purecloud", "presence": "Away"}, "managementUnitId"
    ),
    "bulk-managementUnitId-number": post_bulk({"managementUnitId": 5, "presence": "Away"}, "managementUnitId"),
    "bulk-managementUnitId-control": post_bulk(
        {"managementUnitId": UNIT + "\u0000", "presence": "Away"}, "managementUnitId"
    ),
    "bulk-both-populations": post_bulk(bulk(managementUnitId=UNIT)),
    "bulk-no-population": post_bulk({"presence": "Away"}),
    "bulk-nothing-to-change": post_bulk({"userIds": [USER]}),
    "bulk-force-yes": post_bulk(bulk(force="yes"), "force"),
    "bulk-dryRun-1": post_bulk(bulk(dryRun=1), "dryRun"),
    "bulk-proficiency-string": post_bulk(
        bulk(skillOverrides=[{"skillId": SKILL, "proficiency": "3"}]), "skillOverrides.0.proficiency"
    ),
    "bulk-skillId-path": post_bulk(bulk(skillOverrides=[{"skillId": "../x"}]), "skillOverrides.0.skillId"),
    "bulk-too-many-skillOverrides": post_bulk(
        bulk(skillOverrides=[{"skillId": f"{i:08x}-0000-4000-8000-000000000000"} for i in range(51)]),
        "skillOverrides",
    ),
    "bulk-message-bidi": post_bulk(bulk(message="\u202eevil"), "message"),
    "bulk-reason-number": post_bulk(bulk(reason=5), "reason"),
    "bulk-timeZone-control": post_bulk(bulk(timeZone="Europe/London\n"), "timeZone"),
    "bulk-presence-unknown": post_bulk(bulk(presence="Nap time"), code="unknown_presence"),
    "bulk-requestedBy-set-by-caller": post_bulk(bulk(requestedBy="mallory")),
    "bulk-revertOf-unknown-field": post_bulk(bulk(revertOf="chg-1"), "revertOf"),
    "bulk-ifMatch-unknown-field": post_bulk(bulk(ifMatch='"e"'), "ifMatch"),
    "bulk-not-json": post_bulk("[", code="invalid_json"),
    "bulk-json-list": post_bulk([bulk()], code="invalid_json"),
    "bulk-invalid-utf8": post_bulk(b'{"userIds": ["\xff"], "presence": "Away"}', code="invalid_json"),
    "bulk-nested": post_bulk(NESTED, code="invalid_json"),
    "bulk-over-64KiB": post_bulk(bulk(message="m" * MAX_BODY_BYTES), code="request_too_large", status=413),
    "bulk-idempotency-key-control": post_bulk(bulk(), "Idempotency-Key", headers={"Idempotency-Key": "\u0000"}),
    # ---- GET /presence-changes/{changeId} ----
    "changeId-percent": Case("GET", "/presence-changes/chg-%0A", code="invalid_change_id", fields=("changeId",)),
    "changeId-dots": Case("GET", "/presence-changes/..", code="invalid_change_id"),
    "changeId-non-ascii": Case("GET", "/presence-changes/chg-\u00e9", code="invalid_change_id"),
    "changeId-81": Case("GET", "/presence-changes/" + "c" * 81, code="invalid_change_id"),
    "changeId-newline": Case("GET", "/presence-changes/chg-1\n", fields=("path",)),
    "changeId-bidi": Case("GET", "/presence-changes/chg-\u202e1", fields=("path",)),
    "changeId-query-control": Case("GET", "/presence-changes/chg-1", query={"x": "\u0007"}, fields=("x",)),
    "changeId-body-over-64KiB": Case(
        "GET", "/presence-changes/chg-1", body="x" * (MAX_BODY_BYTES + 1), code="request_too_large", status=413
    ),
    # ---- GET /agents/{userId}/presence|audit|metrics ----
    "presence-userId-not-uuid": Case("GET", "/agents/not-a-user/presence", code="invalid_user_id"),
    "presence-userId-dots": Case("GET", "/agents/../presence", code="invalid_user_id"),
    "presence-userId-bidi": Case("GET", f"/agents/{USER}\u202e/presence", fields=("path",)),
    "presence-userId-trailing-newline": Case("GET", f"/agents/{USER}/presence\n", fields=("path",)),
    "metrics-userId-not-uuid": Case("GET", "/agents/not-a-user/metrics", code="invalid_user_id"),
    "metrics-userId-hex": Case("GET", f"/agents/{USER.replace('-', '')}/metrics", code="invalid_user_id"),
    "metrics-userId-nul": Case("GET", f"/agents/{USER}\u0000/metrics", fields=("path",)),
    "audit-userId-percent": Case("GET", "/agents/%2e%2e/audit", code="invalid_user_id"),
    "audit-limit-0": audit({"limit": "0"}, "limit"),
    "audit-limit-101": audit({"limit": "101"}, "limit"),
    "audit-limit-word": audit({"limit": "ten"}, "limit"),
    "audit-limit-negative": audit({"limit": "-1"}, "limit"),
    "audit-limit-exponent": audit({"limit": "1e2"}, "limit"),
    "audit-limit-empty": audit({"limit": ""}, "limit"),
    "audit-limit-newline": audit({"limit": "5\n"}, "limit"),
    "audit-limit-twice": audit({"limit": "5"}, "limit", multi_query={"limit": ["5", "100"]}),
    "audit-from-word": audit({"from": "yesterday"}, "from", code="invalid_time"),
    "audit-from-naive": audit({"from": "2026-01-01T00:00:00"}, "from", code="invalid_time"),
    "audit-to-bidi": audit({"to": "2026-01-01T00:00:00Z\u2066"}, "to"),
    "audit-from-nul": audit({"from": "\u00002026-01-01T00:00:00Z"}, "from"),
    "audit-from-2049-chars": audit({"from": "2" * 2049}, "from"),
    "audit-unknown-param": audit({"colour": "red"}, "colour"),
    "audit-param-name-control": audit({"lim\nit": "5"}, "query"),
    "nextToken-not-base64": audit({"nextToken": "!!!"}, "nextToken", code="invalid_next_token"),
    "nextToken-not-json": audit({"nextToken": "bm90IGpzb24"}, "nextToken", code="invalid_next_token"),
    "nextToken-wrong-types": audit(
        {"nextToken": token({"userId": 5, "sk": []})}, "nextToken.userId", "nextToken.sk", code="invalid_next_token"
    ),
    "nextToken-list": audit({"nextToken": token([USER, SK])}, "nextToken", code="invalid_next_token"),
    "nextToken-string": audit({"nextToken": token("x")}, "nextToken", code="invalid_next_token"),
    "nextToken-missing-sk": audit({"nextToken": token({"userId": USER})}, "nextToken.sk", code="invalid_next_token"),
    "nextToken-extra-key": audit(
        {"nextToken": token({"userId": USER, "sk": SK, "x": 1})}, "nextToken.x", code="invalid_next_token"
    ),
    "nextToken-bad-sk": audit(
        {"nextToken": token({"userId": USER, "sk": "zzz"})}, "nextToken.sk", code="invalid_next_token"
    ),
    "nextToken-sk-control": audit(
        {"nextToken": token({"userId": USER, "sk": SK + "\n"})}, "nextToken.sk", code="invalid_next_token"
    ),
    "nextToken-another-agent": audit(
        {"nextToken": token({"userId": OTHER, "sk": SK})}, "nextToken", code="invalid_next_token"
    ),
    "nextToken-userId-path": audit(
        {"nextToken": token({"userId": "../x", "sk": SK})}, "nextToken.userId", code="invalid_next_token"
    ),
    "nextToken-outside-window": audit(
        {"nextToken": token({"userId": USER, "sk": SK}), "from": "2027-01-01T00:00:00Z"},
        "nextToken",
        code="invalid_next_token",
    ),
    "nextToken-invalid-utf8": audit(
        {"nextToken": base64.urlsafe_b64encode(b'{"userId": "\xff"}').decode()}, "nextToken", code="invalid_next_token"
    ),
    "nextToken-nested": audit(
        {"nextToken": base64.urlsafe_b64encode(b"[" * 300 + b"]" * 300).decode()},
        "nextToken",
        code="invalid_next_token",
    ),
    "nextToken-control": audit({"nextToken": "abc\n"}, "nextToken"),
    "nextToken-too-long": audit({"nextToken": "a" * 3000}, "nextToken"),
    # ---- GET /bulk-changes/{bulkId} ----
    "bulkId-change-id": Case("GET", "/bulk-changes/chg-1", code="invalid_bulk_id", fields=("bulkId",)),
    "bulkId-prefix-only": Case("GET", "/bulk-changes/blk-", code="invalid_bulk_id"),
    "bulkId-percent": Case("GET", "/bulk-changes/blk-%0A", code="invalid_bulk_id"),
    "bulkId-too-long": Case("GET", "/bulk-changes/blk-" + "b" * 77, code="invalid_bulk_id"),
    "bulkId-isolate": Case("GET", "/bulk-changes/blk-\u2066x", fields=("path",)),
    "bulk-limit-101": Case("GET", "/bulk-changes/blk-1", query={"limit": "101"}, fields=("limit",)),
    "bulk-limit-negative": Case("GET", "/bulk-changes/blk-1", query={"limit": "-1"}, fields=("limit",)),
    "bulk-limit-word": Case("GET", "/bulk-changes/blk-1", query={"limit": "none"}, fields=("limit",)),
    # ---- unknown routes: a control character is still a 400, not a 404 ----
    "unknown-route-control": Case("GET", "/nowhere\u0000", fields=("path",)),
}

TEXT_FIELDS = ("presence", "message", "reason", "timeZone", "ifMatch", "userId")
for name, char in CONTROL.items():
    for text_field in TEXT_FIELDS:
        value = USER + char if text_field == "userId" else f"x{char}y"
        CASES[f"{text_field}-{name}"] = post(change(**{text_field: value}), text_field)
    CASES[f"skillId-{name}"] = post(
        change(skillOverrides=[{"skillId": SKILL[:8] + char + SKILL[9:]}]), "skillOverrides.0.skillId"
    )
    CASES[f"bulk-presence-{name}"] = post_bulk(bulk(presence=f"Away{char}"), "presence")
    CASES[f"audit-from-{name}"] = audit({"from": f"2026-01-01T00:00:00Z{char}"}, "from")


def writes(aws: dict[str, Any]) -> list[str]:
    return [name for name in aws["calls"] if name in WRITE_OPERATIONS]


def assert_nothing_started_or_written(aws: dict[str, Any]) -> None:
    assert writes(aws) == [], f"AWS writes: {writes(aws)}"
    assert stored(aws) == aws["before"]


def test_the_suite_covers_every_route_with_more_than_sixty_cases() -> None:
    assert len(CASES) >= 60
    routes = {
        (c.method, c.path.split("/")[1], c.path.rsplit("/", 1)[-1] if "agents" in c.path else "")
        for c in CASES.values()
    }
    for expected in [
        ("POST", "presence-changes", ""),
        ("POST", "bulk-changes", ""),
        ("GET", "agents", "presence"),
        ("GET", "agents", "audit"),
        ("GET", "agents", "metrics"),
    ]:
        assert expected in routes
    assert any(c.method == "GET" and c.path.startswith("/presence-changes/") for c in CASES.values())
    assert any(c.method == "GET" and c.path.startswith("/bulk-changes/") for c in CASES.values())


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_given_bad_input_then_refused_with_a_code_naming_the_field_and_nothing_started_or_written(
    aws: dict[str, Any], case: Case
) -> None:
    status, answer = call(case)
    assert (status, answer["error"]["code"]) == (case.status, case.code), answer
    assert answer["error"]["message"]
    details = answer["error"]["details"] or []
    named = {d.get("field") for d in details} if isinstance(details, list) else set(details)
    assert set(case.fields) <= named, answer
    assert_nothing_started_or_written(aws)


# ---- the controls: the same harness sees a start, and accepts what is valid --------------------------------------


def test_given_a_valid_change_then_the_spy_sees_exactly_one_start(aws: dict[str, Any]) -> None:
    status, answer = call(post(skill(proficiency=3, revertAfterMinutes=60, state="active"), status=202))
    assert status == 202, answer
    assert writes(aws) == ["StartExecution"]


def test_given_duplicate_keys_then_the_last_one_counts(aws: dict[str, Any]) -> None:
    body = json.dumps(change(presence="Nap time"))[:-1] + ', "presence": "Away", "dryRun": true}'
    status, answer = call(post(body))
    assert status == 202, answer
    execution = aws["sfn"].describe_execution(executionArn=answer["executionArn"])
    assert json.loads(execution["input"])["presence"] == "Away"


def test_given_ids_in_upper_case_then_they_are_accepted_as_the_canonical_lower_case_id(aws: dict[str, Any]) -> None:
    status, answer = call(post(change(userId=USER.upper(), skillOverrides=[{"skillId": SKILL.upper()}])))
    assert status == 202, answer
    execution = json.loads(aws["sfn"].describe_execution(executionArn=answer["executionArn"])["input"])
    assert (execution["userId"], execution["skillOverrides"][0]["skillId"]) == (USER, SKILL)


def test_given_a_bulk_change_of_a_thousand_agents_then_it_fits_the_body_bound(aws: dict[str, Any]) -> None:
    user_ids = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(MAX_BULK_AGENTS)]
    body = json.dumps({"userIds": user_ids, "presence": "Away"}, indent=2)
    assert len(body.encode()) <= MAX_BODY_BYTES
    status, answer = call(post_bulk(body))
    assert status == 202, answer
    assert writes(aws) == ["StartExecution"]


def _record(change_id: str, started: str) -> AuditRecord:
    return AuditRecord.model_validate(
        {
            "userId": USER,
            "sk": f"{started}#{change_id}",
            "changeId": change_id,
            "outcome": "applied",
            "latencyMs": 100,
            "startedAt": started,
            "recordedAt": started,
            "expiresAt": 1,
        }
    )


def test_given_a_token_this_api_issued_then_the_next_page_follows_and_a_tampered_one_is_refused(
    aws: dict[str, Any],
) -> None:
    store = AuditStore(aws["dynamodb"], "audit", "agents")
    for minute in range(3):
        store.record(_record(f"chg-{minute}", f"2026-11-24T10:0{minute}:00.000Z"))
    status, first = call(audit({"limit": "2"}))
    assert status == 200 and [i["changeId"] for i in first["items"]] == ["chg-2", "chg-1"]
    status, second = call(audit({"limit": "2", "nextToken": first["nextToken"]}))
    assert status == 200 and [i["changeId"] for i in second["items"]] == ["chg-0"]

    key = json.loads(base64.urlsafe_b64decode(first["nextToken"]))
    for tampered in ({**key, "sk": key["sk"] + "\u202e"}, {**key, "sk": 5}, {**key, "userId": OTHER}):
        status, answer = call(audit({"nextToken": token(tampered)}))
        assert (status, answer["error"]["code"]) == (400, "invalid_next_token"), tampered
    status, answer = call(audit({"nextToken": first["nextToken"], "to": "2026-11-24T09:00:00Z"}))
    assert (status, answer["error"]["code"]) == (400, "invalid_next_token")
