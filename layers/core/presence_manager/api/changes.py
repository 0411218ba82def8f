"""Starting presence changes and reading them back (the API's service layer; no HTTP here)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from presence_manager.api.inputs import change_id_param
from presence_manager.audit import AuditRecord, AuditStore
from presence_manager.errors import PresenceManagerError
from presence_manager.workflow.models import ChangeRequest

#: Namespace of changeIds derived from an Idempotency-Key (uuid5), so a replayed key maps to the same execution.
IDEMPOTENCY_NAMESPACE = uuid.UUID("8f6b7e0e-4a4e-4c4f-9b7e-2f1d3c5a6b70")
CHANGE_ID_PREFIX = "chg-"


class IdempotencyConflict(PresenceManagerError):
    code = "idempotency_key_reused"


class ChangeNotFound(PresenceManagerError):
    code = "change_not_found"


class StartedChange(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    change_id: str
    execution_arn: str
    status: str
    replayed: bool = False


def change_id_for(idempotency_key: str | None) -> str:
    """A fresh changeId, or the one derived from an ``Idempotency-Key`` (validated by ``inputs.idempotency_key``)."""
    if idempotency_key is None:
        return f"{CHANGE_ID_PREFIX}{uuid.uuid4()}"
    return f"{CHANGE_ID_PREFIX}{uuid.uuid5(IDEMPOTENCY_NAMESPACE, idempotency_key.strip())}"


def execution_input(request: ChangeRequest) -> str:
    """Deterministic, so the same request under the same key is recognised as a replay."""
    return json.dumps(request.model_dump(mode="json", by_alias=True, exclude_none=True), sort_keys=True)


def execution_arn(state_machine_arn: str, name: str) -> str:
    prefix, machine = state_machine_arn.split(":stateMachine:")
    return f"{prefix}:execution:{machine}:{name}"


def start_execution(sfn: Any, state_machine_arn: str, name: str, payload: str) -> StartedChange:
    """Start one execution named ``name``; a replay of the same name and input returns the first one."""
    arn = execution_arn(state_machine_arn, name)
    try:
        existing = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        existing = None
    if existing is None:
        try:
            started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=payload)
            return StartedChange(change_id=name, execution_arn=started["executionArn"], status="RUNNING")
        except sfn.exceptions.ExecutionAlreadyExists:  # a concurrent twin started it first
            existing = sfn.describe_execution(executionArn=arn)
    if json.loads(existing.get("input") or "{}") != json.loads(payload):
        raise IdempotencyConflict("this Idempotency-Key was already used for a different request", changeId=name)
    return StartedChange(change_id=name, execution_arn=arn, status=existing["status"], replayed=True)


def start_change(
    sfn: Any, state_machine_arn: str, request: ChangeRequest, idempotency_key: str | None
) -> StartedChange:
    return start_execution(sfn, state_machine_arn, change_id_for(idempotency_key), execution_input(request))


def describe_change(sfn: Any, audit: AuditStore, state_machine_arn: str, change_id: str) -> dict[str, Any]:
    arn = execution_arn(state_machine_arn, change_id_param(change_id))
    try:
        execution = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise ChangeNotFound(f"no change {change_id}", changeId=change_id) from None
    record: AuditRecord | None = audit.find_by_change_id(change_id)
    return {
        "changeId": change_id,
        "executionArn": arn,
        "status": execution["status"],
        "startedAt": execution["startDate"].isoformat(),
        "stoppedAt": execution["stopDate"].isoformat() if execution.get("stopDate") else None,
        "outcome": record.outcome if record else None,
        "details": record.to_json() if record else None,
    }
