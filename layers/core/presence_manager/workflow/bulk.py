"""Bulk changes: one request for many agents, expanded into one change request per agent."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator, model_validator

from presence_manager.errors import InvalidRequest
from presence_manager.workflow.models import (
    MAX_MESSAGE_LENGTH,
    ChangeRequest,
    SkillOverride,
    WorkflowModel,
    iana_time_zone,
    parse_change_request,
    validation_details,
)

if TYPE_CHECKING:
    from presence_manager.genesys.client import GenesysClient

MAX_BULK_AGENTS = 1000


class BulkChangeRequest(WorkflowModel):
    user_ids: list[str] | None = Field(default=None, min_length=1, max_length=MAX_BULK_AGENTS)
    management_unit_id: str | None = Field(default=None, min_length=1, max_length=64)
    presence: str | None = Field(default=None, min_length=1, max_length=256)
    message: str | None = Field(default=None, max_length=MAX_MESSAGE_LENGTH)
    skill_overrides: list[SkillOverride] = Field(default_factory=list)
    time_zone: str | None = None
    force: bool = False
    reason: str | None = Field(default=None, max_length=500)
    dry_run: bool = False
    requested_by: str | None = Field(default=None, max_length=512)

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
    """Deterministic per agent, so a retried expansion never starts a second change for the same agent."""
    return f"chg-{uuid.uuid5(uuid.NAMESPACE_URL, f'{bulk_id}/{user_id}')}"


def expand(bulk_id: str, request: BulkChangeRequest, *, genesys: GenesysClient) -> list[dict[str, Any]]:
    if request.user_ids is not None:
        user_ids = list(dict.fromkeys(request.user_ids))
    else:
        user_ids = [user.id for user in genesys.get_management_unit_users(request.management_unit_id or "")]
    return [
        {"changeId": agent_change_id(bulk_id, user_id), "request": request.for_agent(user_id).to_json()}
        for user_id in user_ids
    ]
