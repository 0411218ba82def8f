"""End to end over real HTTP (the local API emulator, moto executing our ASL, the simulator): raw bytes a unit test
cannot send the same way - invalid UTF-8, percent-encoded control characters in paths and queries, 100 KiB and
10,000-level bodies - are refused with a code, and nothing starts, nothing is written to Genesys or DynamoDB.
And the CLI takes its global options after the command, exactly as the README shows."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from presence_manager_local.scenarios import Simulator

pytestmark = pytest.mark.e2e

SKILL = "9ec711b7-04f6-4bef-8606-eb41d825f78a"
WRITE_METHODS = frozenset({"PATCH", "PUT", "DELETE"})


@pytest.fixture(scope="module")
def agent(stack: Any) -> str:
    return str(Simulator(stack.sim_url).state()["users"][0]["id"])


def account_state(stack: Any) -> dict[str, Any]:
    sfn, dynamodb = stack.boto3_client("stepfunctions"), stack.boto3_client("dynamodb")
    machines = [stack.template.physical[m]["Ref"] for m in ("PresenceChangeStateMachine", "BulkChangeStateMachine")]
    tables = [stack.table_name(t) for t in ("AuditTable", "AgentTable")]
    return {
        "executions": sorted(
            e["executionArn"] for m in machines for e in sfn.list_executions(stateMachineArn=m)["executions"]
        ),
        "items": {t: dynamodb.scan(TableName=t, Select="COUNT")["Count"] for t in tables},
    }


def genesys_writes(stack: Any) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in Simulator(stack.sim_url).requests() if r["method"] in WRITE_METHODS]


@dataclass(frozen=True)
class HttpCase:
    id: str
    method: str
    path: str
    status: int
    code: str
    arguments: dict[str, Any] = field(default_factory=dict)  # httpx: content=, json=, params=


def cases(user: str) -> list[HttpCase]:
    change = json.dumps({"userId": user, "presence": "Available"})

    def post(case_id: str, body: Any, code: str = "invalid_request", status: int = 400) -> HttpCase:
        key = "content" if isinstance(body, bytes) else "json"
        return HttpCase(case_id, "POST", "/presence-changes", status, code, {key: body})

    def get(case_id: str, path: str, code: str = "invalid_request", **params: str) -> HttpCase:
        return HttpCase(case_id, "GET", path, 400, code, {"params": params} if params else {})

    bad_token = base64.urlsafe_b64encode(b'{"userId": 5, "sk": []}').decode()
    return [
        post("invalid-utf8", change.replace("Available", "Av\xff").encode("latin-1"), "invalid_json"),
        post("overlong-utf8", change.encode()[:-1] + b', "message": "\xc0\xaf"}', "invalid_json"),
        post("body-100KiB", {"userId": user, "presence": "Away", "message": "m" * 100_000}, "request_too_large", 413),
        post("nested-10000", b"[" * 10_000 + b"]" * 10_000, "invalid_json"),
        post("json-list", [user], "invalid_json"),
        post("force-yes", {"userId": user, "presence": "Away", "force": "yes"}),
        post("dryRun-1", {"userId": user, "presence": "Away", "dryRun": 1}),
        post("proficiency-string", {"userId": user, "skillOverrides": [{"skillId": SKILL, "proficiency": "3"}]}),
        post("skillId-traversal", {"userId": user, "skillOverrides": [{"skillId": f"../../{user}/presences/x"}]}),
        post("message-bidi", {"userId": user, "presence": "Away", "message": "\u202eevil"}),
        HttpCase("bulk-unit-traversal", "POST", "/bulk-changes", 400, "invalid_request",
                 {"json": {"managementUnitId": "../../x/presences/purecloud", "presence": "Away"}}),
        HttpCase("bulk-userIds-string", "POST", "/bulk-changes", 400, "invalid_request",
                 {"json": {"userIds": "abc", "presence": "Away"}}),
        get("audit-limit-newline", f"/agents/{user}/audit", limit="5\n"),
        get("audit-token-wrong-types", f"/agents/{user}/audit", "invalid_next_token", nextToken=bad_token),
        get("path-bidi", f"/agents/{user}\u202e/presence"),
        get("path-newline", "/presence-changes/chg-%0A1"),
        get("path-not-a-user", "/agents/6f1c1e1a8d0e4a439d4e2b8a4c7f0a11/metrics", "invalid_user_id"),
        get("bulk-id", "/bulk-changes/chg-1", "invalid_bulk_id"),
    ]  # fmt: skip


def test_given_hostile_bytes_over_http_then_each_is_refused_with_a_code_and_nothing_starts_or_is_written(
    stack: Any, agent: str
) -> None:
    before, writes_before = account_state(stack), genesys_writes(stack)
    observed = []
    with httpx.Client(base_url=stack.api_url, timeout=30) as http:
        for case in cases(agent):
            response = http.request(case.method, case.path, **case.arguments)
            body = response.json() if response.content else {}
            observed.append((case.id, response.status_code, (body.get("error") or {}).get("code")))
    assert observed == [(case.id, case.status, case.code) for case in cases(agent)]
    assert account_state(stack) == before, "nothing started, nothing recorded"
    assert genesys_writes(stack) == writes_before, "nothing written to Genesys"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "presence_manager_local.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_given_the_readme_command_lines_then_options_after_the_command_work(stack: Any, agent: str) -> None:
    audit = run_cli("audit", agent, "--json", "--api", stack.api_url)  # README: presence-manager audit USER_ID --json
    assert audit.returncode == 0, audit.stderr
    assert isinstance(json.loads(audit.stdout)["items"], list)
    metrics = run_cli("--api", stack.api_url, "metrics", agent, "--json")
    assert metrics.returncode == 0, metrics.stderr
    assert json.loads(metrics.stdout)["userId"] == agent

    before = account_state(stack)
    refused = run_cli("apply", agent, "--presence", "Available", "--skill", "../../x:4", "--api", stack.api_url)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    assert "skillOverrides.0.skillId" in refused.stderr
    assert account_state(stack) == before
