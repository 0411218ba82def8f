"""The local runtime enforces each function's ``Timeout`` as Lambda does: a handler still running at its deadline
is answered with ``Sandbox.Timedout`` ("Task timed out after N.00 seconds", X-Amz-Function-Error), which is the
error a Step Functions task then fails with; the context's remaining time counts down to that deadline; and
every function of the local stack is created with its Timeout from template.yaml."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from presence_manager_local.emulation import (
    ACCOUNT,
    REGION,
    STACK,
    TEMPLATE,
    CapturedOutput,
    LambdaDispatcher,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def dispatcher(tmp_path: Path) -> Iterator[LambdaDispatcher]:
    """A dispatcher on its own log; the stdout it swaps in while a handler runs is put back afterwards."""
    saved = sys.stdout
    output = CapturedOutput(sys.stdout, tmp_path / "lambda.log")
    try:
        yield LambdaDispatcher(output)
    finally:
        sys.stdout = saved
        output.close_log()


class SlowHandler:
    """Blocks until released (or ``limit`` seconds), then records that it finished - its late side effect."""

    def __init__(self, limit: float = 5.0) -> None:
        self.release, self.finished, self._limit = threading.Event(), threading.Event(), limit

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.release.wait(self._limit)
        self.finished.set()
        return {"late": True}


def test_given_a_handler_slower_than_its_timeout_then_it_is_answered_as_a_lambda_timeout(
    dispatcher: LambdaDispatcher,
) -> None:
    slow = SlowHandler()
    dispatcher.handlers["slow"] = slow
    headers: dict[str, str] = {}
    started = time.monotonic()
    payload = json.loads(dispatcher.invoke("slow", b"{}", headers, timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1.00 seconds"}
    assert headers == {"x-amz-function-error": "Unhandled"}
    assert 1.0 <= elapsed < 2.0
    assert not slow.finished.is_set()
    assert dispatcher.invocations[-1]["function"] == "slow"
    assert dispatcher.invocations[-1]["errorType"] == "Sandbox.Timedout"
    # The thread cannot be killed: the handler's side effects still happen after the caller gave up (as in Lambda).
    slow.release.set()
    assert slow.finished.wait(2)


def test_given_a_handler_then_its_context_counts_down_to_the_functions_timeout(dispatcher: LambdaDispatcher) -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
        first = context.get_remaining_time_in_millis()
        time.sleep(0.3)
        return {"first": first, "second": context.get_remaining_time_in_millis()}

    dispatcher.handlers["measure"] = handler
    headers: dict[str, str] = {}
    answer = json.loads(dispatcher.invoke("measure", b"{}", headers, timeout_seconds=2))
    assert headers == {}
    assert 1800 < answer["first"] <= 2000
    assert answer["first"] - answer["second"] >= 280


def test_given_handlers_within_their_timeout_then_results_and_errors_are_answered_as_before(
    dispatcher: LambdaDispatcher,
) -> None:
    def fails(event: dict[str, Any], context: Any) -> None:
        raise ValueError(f"bad {event['n']}")

    dispatcher.handlers["echo"] = lambda event, context: {"got": event}
    dispatcher.handlers["fails"] = fails
    headers: dict[str, str] = {}
    assert json.loads(dispatcher.invoke("echo", b'{"n": 1}', headers, timeout_seconds=1)) == {"got": {"n": 1}}
    assert headers == {}
    error = json.loads(dispatcher.invoke("fails", b'{"n": 2}', headers, timeout_seconds=1))
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "bad 2")
    assert error["stackTrace"] and headers == {"x-amz-function-error": "Unhandled"}
    assert [i["errorType"] for i in dispatcher.invocations] == [None, "ValueError"]


def test_given_the_local_stack_then_every_function_has_its_template_timeout(stack: Any) -> None:
    from cfnlint.decode import cfn_yaml

    document = cfn_yaml.load(str(TEMPLATE))
    default = document["Globals"]["Function"]["Timeout"]
    lambda_client = stack.boto3_client("lambda")
    functions = stack.template.of_type("AWS::Serverless::Function")
    assert functions
    for logical, spec in functions.items():
        configuration = lambda_client.get_function_configuration(FunctionName=stack.template.physical[logical]["Ref"])
        assert configuration["Timeout"] == spec["Properties"].get("Timeout", default), logical


def test_given_a_step_slower_than_its_function_timeout_then_the_task_fails_with_sandbox_timedout(stack: Any) -> None:
    lambda_client, sfn = stack.boto3_client("lambda"), stack.boto3_client("stepfunctions")
    name = f"{STACK}-SlowProbe-{uuid.uuid4().hex[:8]}"
    slow = SlowHandler()
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=f"arn:aws:iam::{ACCOUNT}:role/{STACK}-exec",
        Handler="app.handler",
        Code={"ZipFile": b"local"},
        Timeout=1,
    )
    # The runtime has no public registry of handlers; a probe function is registered the way the stack does.
    stack._dispatcher.handlers[name] = slow
    machine_arn = None
    try:
        answer = lambda_client.invoke(FunctionName=name, Payload=b"{}")
        assert answer["FunctionError"] == "Unhandled"
        assert json.loads(answer["Payload"].read()) == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": "Task timed out after 1.00 seconds",
        }
        slow.release.set()
        assert slow.finished.wait(2)
        slow.release.clear()

        definition = {
            "StartAt": "Slow",
            "States": {
                "Slow": {"Type": "Task", "Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", "End": True}
            },
        }
        machine_arn = sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=f"arn:aws:iam::{ACCOUNT}:role/{STACK}-exec"
        )["stateMachineArn"]
        execution_arn = sfn.start_execution(stateMachineArn=machine_arn, input="{}")["executionArn"]
        deadline = time.monotonic() + 30
        while (execution := sfn.describe_execution(executionArn=execution_arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert (execution["status"], execution.get("error")) == ("FAILED", "Sandbox.Timedout")
        assert "Task timed out after 1.00 seconds" in execution.get("cause", "")
    finally:
        slow.release.set()
        if machine_arn:
            sfn.delete_state_machine(stateMachineArn=machine_arn)
        lambda_client.delete_function(FunctionName=name)
        stack._dispatcher.handlers.pop(name, None)
