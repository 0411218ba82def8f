"""What a handler's cold import loads, in fresh processes with the environment Lambda gives: structural facts about
the import graph (no timing thresholds here; ``python -m presence_manager_local.bench --cold-imports`` measures),
and the tracing that replaces the X-Ray SDK (the services' active tracing, the trace id on log lines and AWS calls)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from packaging.requirements import Requirement

from presence_manager.api.changes import start_execution
from presence_manager_local.bench import HANDLERS, IMPORT_HANDLER, ROOT, lambda_environment

API_HANDLERS = {"api"}
# Loaded on first use by the code paths that need them, never by the import Lambda times as cold start.
LAZY = ("boto3", "httpx", "tenacity", "presence_manager.genesys.client")
TRACE_ROOT = "1-5759e988-bd862e3fe1be46a994272793"


def modules_after_cold_import(handler: str) -> set[str]:
    """sys.modules of a fresh interpreter that imported the handler's ``app`` as the Lambda runtime does."""
    code = IMPORT_HANDLER + "import json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "functions" / handler,
        env=lambda_environment(handler),
        timeout=60,
    )
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.fixture(scope="module", params=HANDLERS)
def cold(request: pytest.FixtureRequest) -> tuple[str, set[str]]:
    return request.param, modules_after_cold_import(request.param)


def test_every_function_directory_is_measured() -> None:
    assert set(HANDLERS) == {path.parent.name for path in (ROOT / "functions").glob("*/app.py")}
    assert {"api", "validate", "locked_update", "skill_override", "export", "record"} <= set(HANDLERS)


def test_cold_import_runs_the_handler_from_its_task_root_with_the_layer(cold: tuple[str, set[str]]) -> None:
    handler, modules = cold
    env = lambda_environment(handler)
    assert env["LAMBDA_TASK_ROOT"] == str(ROOT / "functions" / handler)
    assert env["AWS_LAMBDA_FUNCTION_NAME"].endswith(handler)
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert {"app", "presence_manager.observability"} <= modules


def test_no_handler_imports_the_xray_sdk(cold: tuple[str, set[str]]) -> None:
    _, modules = cold
    assert not {m for m in modules if m == "aws_xray_sdk" or m.startswith("aws_xray_sdk.")}


def test_io_clients_are_built_on_first_use_not_at_import(cold: tuple[str, set[str]]) -> None:
    _, modules = cold
    assert not modules & set(LAZY)


def test_non_api_handlers_do_not_import_the_api(cold: tuple[str, set[str]]) -> None:
    handler, modules = cold
    api_modules = {m for m in modules if m == "presence_manager.api" or m.startswith("presence_manager.api.")}
    if handler in API_HANDLERS:
        assert "presence_manager.api.app" in modules
    else:
        assert not api_modules
        assert "aws_lambda_powertools.event_handler" not in modules


def powertools_requirement(lines: list[str]) -> Requirement:
    found = [Requirement(line) for line in lines if line.strip().startswith("aws-lambda-powertools")]
    assert len(found) == 1
    return found[0]


def test_the_layer_ships_no_tracing_sdk_and_both_pin_lists_agree() -> None:
    layer_lines = [
        line.strip()
        for line in (ROOT / "layers" / "core" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer, package = powertools_requirement(layer_lines), powertools_requirement(project)
    assert str(layer) == str(package)
    assert "tracer" not in layer.extras and "all" not in layer.extras
    names = {Requirement(line).name.lower() for line in layer_lines + project}
    assert not names & {"aws-xray-sdk", "opentelemetry-sdk", "opentelemetry-api"}


def test_lambda_step_functions_and_api_gateway_keep_active_tracing() -> None:
    from cfnlint.decode import cfn_yaml

    template = cfn_yaml.load(str(ROOT / "template.yaml"))
    assert template["Globals"]["Function"]["Tracing"] == "Active"
    resources = template["Resources"].values()
    functions = [r for r in resources if r["Type"] == "AWS::Serverless::Function"]
    assert functions and all(f["Properties"].get("Tracing", "Active") == "Active" for f in functions)
    machines = [r for r in resources if r["Type"] == "AWS::Serverless::StateMachine"]
    assert len(machines) >= 2 and all(m["Properties"]["Tracing"] == {"Enabled": True} for m in machines)
    apis = [r for r in resources if r["Type"] == "AWS::Serverless::Api"]
    assert apis and all(a["Properties"]["TracingEnabled"] is True for a in apis)


def test_every_log_line_carries_the_invocations_trace_id(tmp_path: Path) -> None:
    """Logs and traces join on ``xray_trace_id``: Lambda sets ``_X_AMZN_TRACE_ID`` per invocation, the Logger reads it
    for each line (so a warm container's next invocation logs its own trace)."""
    code = (
        "import os\n"
        "from presence_manager.observability import logger\n"
        f"os.environ['_X_AMZN_TRACE_ID'] = 'Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1'\n"
        "logger.info('first')\n"
        "os.environ['_X_AMZN_TRACE_ID'] = 'Root=1-00000000-000000000000000000000002;Sampled=0'\n"
        "logger.info('second')\n"
    )
    env = lambda_environment("validate")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path, env=env, timeout=60
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(line["message"], line["xray_trace_id"]) for line in lines] == [
        ("first", TRACE_ROOT),
        ("second", "1-00000000-000000000000000000000002"),
    ]
    assert all(line["service"] == "genesys-presence-manager" for line in lines)


class Body:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = json.dumps(payload).encode()

    def stream(self) -> list[bytes]:
        return [self.payload]


def header(request: AWSPreparedRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value.decode() if isinstance(value, bytes) else value


def test_starting_an_execution_continues_the_api_invocations_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an SDK the API -> state machine hop still joins one trace: inside Lambda, botocore sends the
    invocation's ``_X_AMZN_TRACE_ID`` as ``X-Amzn-Trace-Id`` with every AWS call, StartExecution included."""
    trace = f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "genesys-presence-manager-api")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", trace)
    sent: list[tuple[str, str | None]] = []
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:presence-change"

    def answer(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        target = str(header(request, "X-Amz-Target")).rsplit(".", 1)[-1]
        sent.append((target, header(request, "X-Amzn-Trace-Id")))
        if target == "DescribeExecution":
            return AWSResponse(request.url, 400, {}, Body({"__type": "ExecutionDoesNotExist", "message": "none"}))
        return AWSResponse(request.url, 200, {}, Body({"executionArn": f"{machine}:c-1", "startDate": 0}))

    sfn = boto3.client(
        "stepfunctions", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    sfn.meta.events.register("before-send.sfn", answer)
    started = start_execution(sfn, machine, "c-1", "{}")

    assert started.status == "RUNNING"
    assert sent == [("DescribeExecution", trace), ("StartExecution", trace)]
