"""One local stack (simulator + moto executing our ASL + API emulator) on free ports for the e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def stack() -> Iterator[Any]:
    from presence_manager_local.runtime import LocalRuntime

    runtime = LocalRuntime()
    runtime.start(api_port=0, sim_port=0, moto_port=0)
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture(autouse=True, scope="module")
def full_rate_budget(stack: Any) -> None:
    """Each module starts with the deployment's shared Genesys rate budget full (no item: a full bucket), so one
    module's load never shows as another's waits."""
    stack.boto3_client("dynamodb").delete_item(
        TableName=stack.table_name("AgentTable"), Key={"pk": {"S": "BUDGET#genesys"}}
    )
