"""Bulk changes: one request for many agents, expanded into one change request per agent."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from presence_manager.errors import BulkIncomplete, InvalidRequest
from presence_manager.timeutil import parse_instant
from presence_manager.validation import (
    ActivityInstant,
    GenesysId,
    MessageText,
    PresenceText,
    ReasonText,
    RequestedByText,
    TimeZoneText,
)
from presence_manager.workflow.models import (
    MAX_RESPECT_OWN_CHANGES_MINUTES,
    MAX_SKILL_OVERRIDES,
    ChangeRequest,
    SkillOverride,
    WorkflowModel,
    iana_time_zone,
    parse_change_request,
    validation_details,
)

if TYPE_CHECKING:
    from presence_manager.bulk_progress import BulkProgress, BulkStore
    from presence_manager.genesys.client import GenesysClient
    from presence_manager.workflow.batch import BatchItem

MAX_BULK_AGENTS = 1000


class BulkChangeRequest(WorkflowModel):
    """The same strict types and text rules as ``ChangeRequest``; every id is a Genesys id (a UUID)."""

    user_ids: list[GenesysId] | None = Field(default=None, min_length=1, max_length=MAX_BULK_AGENTS)
    management_unit_id: GenesysId | None = None
    presence: PresenceText | None = None
    message: MessageText | None = None
    skill_overrides: list[SkillOverride] = Field(default_factory=list, max_length=MAX_SKILL_OVERRIDES)
    time_zone: TimeZoneText | None = None
    force: StrictBool = False
    reason: ReasonText | None = None
    dry_run: StrictBool = False
    requested_by: RequestedByText | None = None
    #: Every agent of the bulk: see ``ChangeRequest.respect_own_changes_minutes``.
    respect_own_changes_minutes: StrictInt | None = Field(default=None, ge=1, le=MAX_RESPECT_OWN_CHANGES_MINUTES)
    #: Every agent of the bulk: see ``ChangeRequest.activity_at``.
    activity_at: ActivityInstant | None = None

    _time_zone_is_iana = field_validator("time_zone")(lambda value: iana_time_zone(value))

    @model_validator(mode="after")
    def _one_population(self) -> BulkChangeRequest:
        if (self.user_ids is None) == (self.management_unit_id is None):
            raise ValueError("give exactly one of userIds or managementUnitId")
        if self.presence is None and not self.skill_overrides:
            raise ValueError("give a presence, skillOverrides, or both")
        return self

    def for_agent(self, user_id: str) -> ChangeRequest:
        fields = self.model_dump(by_alias=True, exclude={"user_ids", "management_unit_id"})
        return parse_change_request({**fields, "userId": user_id})


def parse_bulk_request(data: Any) -> BulkChangeRequest:
    from pydantic import ValidationError

    try:
        request = BulkChangeRequest.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest("the bulk change request is invalid", details=validation_details(exc)) from exc
    for user_id in request.user_ids or []:
        request.for_agent(user_id)  # every id must be a valid change on its own
    return request


def agent_change_id(bulk_id: str, user_id: str) -> str:
    """Deterministic per agent, so a retried step never makes a second change (or record) for the same agent."""
    return f"chg-{uuid.uuid5(uuid.NAMESPACE_URL, f'{bulk_id}/{user_id}')}"


class BulkPlan(WorkflowModel):
    """What PlanBatches hands the Distributed Map: where the batches are, and the change every agent gets."""

    bucket: str
    key: str
    total: int
    batches: int
    request: dict[str, Any]


def change_fields(request: BulkChangeRequest) -> dict[str, Any]:
    """The change every agent of the bulk gets (without the population: batches carry their own user ids)."""
    return request.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"user_ids", "management_unit_id"})


def plan_batches(request: BulkChangeRequest, *, genesys: GenesysClient) -> list[BatchItem]:
    """Batches of up to 50 agents, each of one management unit (one schedule search per batch). A management
    unit's agents come from one listing; a list of user ids is grouped through the agent directory (one listing
    per unit, cached), never with one Genesys call per agent. Agents outside WFM form batches of their own."""
    from presence_manager.workflow.batch import MAX_BATCH_AGENTS, BatchItem, BatchUnit

    groups: dict[BatchUnit | None, list[str]] = {}
    if request.management_unit_id is not None:
        users = [user.id for user in genesys.get_management_unit_users(request.management_unit_id)]
        unit = None
        if users:
            reference = genesys.get_agent_management_unit(users[0])
            unit = BatchUnit(
                management_unit_id=reference.management_unit.id, business_unit_id=reference.business_unit.id
            )
        groups[unit] = list(dict.fromkeys(users))
    else:
        directory = genesys.agent_directory()
        for user_id in dict.fromkeys(request.user_ids or []):
            reference = directory.get(user_id)
            unit = (
                BatchUnit(management_unit_id=reference.management_unit.id, business_unit_id=reference.business_unit.id)
                if reference is not None
                else None
            )
            groups.setdefault(unit, []).append(user_id)
    items: list[BatchItem] = []
    for unit, users in groups.items():
        for start in range(0, len(users), MAX_BATCH_AGENTS):
            items.append(BatchItem(batch=len(items), unit=unit, user_ids=users[start : start + MAX_BATCH_AGENTS]))
    return items


def plan_bulk(
    bulk_id: str,
    request: BulkChangeRequest,
    *,
    started_at: str,
    genesys: GenesysClient,
    s3: Any,
    bucket: str,
    store: BulkStore,
    retention_days: int,
) -> BulkPlan:
    """Write the batches to S3 (the Distributed Map's ItemReader) and the bulk's size to DynamoDB."""
    items = plan_batches(request, genesys=genesys)
    key = f"bulk/{bulk_id}/batches.json"
    body = json.dumps([item.to_json() for item in items], separators=(",", ":"))
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    total = sum(len(item.user_ids) for item in items)
    expires_at = int(parse_instant(started_at).timestamp()) + retention_days * 86400
    store.start(bulk_id, total=total, batches=len(items), started_at=started_at, expires_at=expires_at)
    return BulkPlan(bucket=bucket, key=key, total=total, batches=len(items), request=change_fields(request))


def summarize_bulk(bulk_id: str, *, store: BulkStore) -> BulkProgress:
    """The bulk's counters; ``BulkIncomplete`` when some agent has no audit record (a batch failed unrecorded)."""
    progress = store.get(bulk_id)
    if progress is None:
        raise BulkIncomplete("the bulk change was never planned", bulkId=bulk_id)
    if progress.done < progress.total:
        raise BulkIncomplete(
            f"{progress.total - progress.done} of {progress.total} agents have no outcome recorded",
            bulkId=bulk_id,
            total=progress.total,
            done=progress.done,
        )
    return progress
