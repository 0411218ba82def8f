"""End to end: one Genesys token and one rate budget for the whole local stack (issue 7, item 3).

- An empty shared budget makes a change wait in the state machine's WaitRetryAfter - the same path as a real 429 -
  and the change is then applied, with the simulator (the judge of 429s) never answering 429.
- Every Lambda of the stack uses one token: the simulator issues a single token while several changes run, every
  invocation in a fresh "container" (its own client, nothing in memory), and the agent table holds that token only
  encrypted."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from presence_manager_local.scenarios import Api, Simulator, execution_path

pytestmark = pytest.mark.e2e

TOKEN_PATH = "/oauth/token"
#: How long the test keeps the shared bucket empty.
EMPTY_SECONDS = 3


@pytest.fixture(scope="module")
def sim(stack: Any) -> Simulator:
    """A fresh simulator org: its request log starts here, and every token issued before is forgotten (the one the
    stack stored is refused with a 401, once, and replaced)."""
    simulator = Simulator(stack.sim_url)
    simulator.reset()
    return simulator


@pytest.fixture(scope="module")
def agents(sim: Simulator) -> Iterator[dict[str, Any]]:
    """On-shift agents who can go On Queue, from the end of the list (the scenario tests take the first ones)."""
    users = [
        u
        for u in sim.state()["users"]
        if u["schedulePattern"] == "on_queue"
        and u["presence"]["systemPresence"] != "OnQueue"
        and u["routingStatus"] == "OFF_QUEUE"
    ]
    assert len(users) >= 4, "the simulator org needs four on-shift agents who are not On Queue"
    return iter(reversed(users))


def change(
    stack: Any, user_id: str, reason: str, *, dry_run: bool = False
) -> tuple[dict[str, Any], list[str], list[float]]:
    api = Api(stack.api_url)
    body = {"userId": user_id, "presence": "On Queue", "reason": reason, "dryRun": dry_run}
    started = api.post("/presence-changes", body)
    status = api.wait_for_change(started["changeId"])
    path, waits = execution_path(stack.boto3_client("stepfunctions"), started["executionArn"])
    return status, path, waits


def budget_item(stack: Any) -> dict[str, Any]:
    return stack.boto3_client("dynamodb").get_item(
        TableName=stack.table_name("AgentTable"), Key={"pk": {"S": "BUDGET#genesys"}}, ConsistentRead=True
    )["Item"]


def stack_budget(stack: Any) -> Any:
    """The budget as the stack's Lambdas see it (their settings, the stack's table), to read its shape and level."""
    import boto3

    from presence_manager.genesys.budget import RateBudget
    from presence_manager.genesys.settings import GenesysSettings

    settings = GenesysSettings()
    assert settings.shared_state_table == stack.table_name("AgentTable")
    dynamodb = boto3.resource(
        "dynamodb",
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    return RateBudget(dynamodb, settings.shared_state_table, per_minute=settings.rate_per_minute)


@pytest.fixture
def cold_containers(stack: Any) -> Iterator[None]:
    """Every Lambda invocation in a fresh container: a new Genesys client, with no token or cache in memory."""
    from presence_manager.genesys import client as genesys_client

    handlers = stack._dispatcher.handlers
    originals = dict(handlers)

    def cold(handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def invoke(event: dict[str, Any], context: Any) -> Any:
            genesys_client._shared = None
            return handler(event, context)

        return invoke

    handlers.update({name: cold(handler) for name, handler in originals.items()})
    try:
        yield
    finally:
        handlers.update(originals)
        genesys_client._shared = None


def test_every_lambda_of_the_stack_uses_one_token_stored_only_encrypted(
    stack: Any, sim: Simulator, agents: Iterator[dict[str, Any]], cold_containers: None
) -> None:
    for number in range(3):
        status, path, _ = change(stack, next(agents)["id"], f"one token {number}")
        assert (status["status"], status["outcome"]) == ("SUCCEEDED", "applied"), path

    log = sim.requests()
    assert [r["path"] for r in log].count(TOKEN_PATH) == 1, "one login for the whole stack since the reset"
    assert sum(1 for r in log if r["path"].startswith("/api/v2/")) >= 3 * 3, "many calls, one token"
    assert [r for r in log if r["status"] == 429] == []

    item = stack.boto3_client("dynamodb").get_item(
        TableName=stack.table_name("AgentTable"), Key={"pk": {"S": "TOKEN#genesys"}}, ConsistentRead=True
    )["Item"]
    ciphertext = item["ciphertext"]["B"]
    context = {"purpose": "genesys-oauth-token", "item": "TOKEN#genesys"}
    token = stack.boto3_client("kms").decrypt(CiphertextBlob=ciphertext, EncryptionContext=context)["Plaintext"]
    assert token and token not in ciphertext, "the table holds the token encrypted, never in clear"
    answer = httpx.get(
        f"{stack.sim_url}/api/v2/presence/definitions", headers={"Authorization": f"Bearer {token.decode()}"}
    )
    assert answer.status_code == 200, "the stored token is the one the simulator issued"


@pytest.fixture
def full_budget_afterwards(stack: Any) -> Iterator[None]:
    """The test empties the shared bucket by hand: the tests after it find it full again (no item: a full bucket)."""
    yield
    stack.boto3_client("dynamodb").delete_item(
        TableName=stack.table_name("AgentTable"), Key={"pk": {"S": "BUDGET#genesys"}}
    )


def test_an_empty_budget_waits_in_wait_retry_after_like_a_429_then_applies_without_any_429(
    stack: Any, sim: Simulator, agents: Iterator[dict[str, Any]], full_budget_afterwards: None
) -> None:
    user_id = next(agents)["id"]
    # The API resolves the presence name from its cached definitions; make sure they are cached, so that the change
    # starts while the bucket is empty and it is the workflow's first Genesys call that finds it so.
    status, _, _ = change(stack, user_id, "warm up", dry_run=True)
    assert status["outcome"] == "dry_run"
    budget = stack_budget(stack)
    log_start = len(sim.requests())

    # Empty the shared bucket for EMPTY_SECONDS: its "full again" instant (tat, epoch microseconds) is pushed to
    # now + EMPTY_SECONDS + (burst - 1) refill intervals, so the first token is back after EMPTY_SECONDS.
    now = int(time.time() * 1_000_000)
    tat = now + EMPTY_SECONDS * 1_000_000 + (budget.burst - 1) * budget.interval_micros
    stack.boto3_client("dynamodb").update_item(
        TableName=stack.table_name("AgentTable"),
        Key={"pk": {"S": "BUDGET#genesys"}},
        UpdateExpression="SET tat = :tat",
        ExpressionAttributeValues={":tat": {"N": str(tat)}},
    )
    assert budget.available() < 1
    status, path, waits = change(stack, user_id, "empty budget")

    assert (status["status"], status["outcome"]) == ("SUCCEEDED", "applied"), path
    assert "WaitRetryAfter" in path and "BudgetWaitsLeft" in path
    first_validate = path.index("Validate")
    assert path[first_validate + 1 : first_validate + 2] != ["PolicyDecision"], "the first Validate was refused"
    assert waits[0] >= EMPTY_SECONDS - 1.5, "waited out the empty bucket"
    record = status["details"]
    assert "error" not in record, "a survived wait is an attempt, not an error"
    (attempt,) = record["attempts"]
    assert attempt["type"] == "RateBudget", "a wait for our own budget, counted apart from 429 waits"
    assert attempt["count"] == record["budgetWaits"] == len(waits) >= 1
    assert record["rateLimitWaits"] == 0
    assert "rate budget" in attempt["lastMessage"], "the wait came from the budget, not from a 429"
    assert int(budget_item(stack)["tat"]["N"]) > tat, "the change paid its calls from the shared bucket"

    log = sim.requests()[log_start:]
    assert [r for r in log if r["status"] == 429] == [], "the simulator never had to answer 429"
    assert [r for r in log if r.get("userId") == user_id and r["method"] == "PATCH" and r["status"] == 200]
