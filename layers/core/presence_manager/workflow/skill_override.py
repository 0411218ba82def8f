"""SkillOverride: apply the agent's routing-skill overrides, remember the previous values, schedule the revert.

Proficiency changes of skills that stay active go in one bulk PATCH (``UserRoutingSkillPost`` has no state);
a state change (activate an inactive skill, deactivate, remove) is a PUT/DELETE of that one skill. A time-boxed
override creates a one-time EventBridge Scheduler schedule that starts this workflow with the previous values."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from presence_manager.genesys.models import UserRoutingSkill, UserRoutingSkillPost
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import (
    ChangeRequest,
    SkillChange,
    SkillOverride,
    SkillResult,
    SkillValue,
)

if TYPE_CHECKING:
    from presence_manager.config import AppSettings
    from presence_manager.genesys.client import GenesysClient


def apply_skill_overrides(
    change_id: str,
    request: ChangeRequest,
    *,
    genesys: GenesysClient,
    scheduler: Any | None,
    settings: AppSettings,
    now: datetime,
) -> SkillResult:
    before = {skill.id: skill for skill in genesys.get_user_routing_skills(request.user_id)}
    bulk: list[UserRoutingSkillPost] = []
    after: dict[str, SkillValue] = {}
    skipped: set[str] = set()
    for override in request.skill_overrides:
        current = before.get(override.skill_id)
        if override.expected is not None and not _still(current, override.expected):
            skipped.add(override.skill_id)  # changed by someone else since: theirs stands
            continue
        proficiency = _proficiency(override, current)
        if override.state == "deleted":
            if current is not None:
                genesys.delete_user_routing_skill(request.user_id, override.skill_id)
            after[override.skill_id] = SkillValue(state="deleted", proficiency=None)
        elif override.state == "active" and (current is None or current.state == "active"):
            bulk.append(UserRoutingSkillPost(id=override.skill_id, proficiency=proficiency))
        else:
            updated = genesys.put_user_routing_skill(
                request.user_id,
                UserRoutingSkill(id=override.skill_id, state=override.state, proficiency=proficiency),
            )
            after[override.skill_id] = SkillValue(state=updated.state, proficiency=updated.proficiency)
    if bulk:
        for skill in genesys.patch_user_routing_skills_bulk(request.user_id, bulk):
            if skill.id in {post.id for post in bulk}:
                after[skill.id] = SkillValue(state=skill.state or "active", proficiency=skill.proficiency)

    changes = [
        SkillChange(
            skill_id=override.skill_id,
            name=before[override.skill_id].name if override.skill_id in before else None,
            before=_value(before.get(override.skill_id)),
            after=_value(before.get(override.skill_id))
            if override.skill_id in skipped
            else after.get(override.skill_id),
            skipped="changed_since_override" if override.skill_id in skipped else None,
        )
        for override in request.skill_overrides
    ]
    revert_minutes = [o.revert_after_minutes for o in request.skill_overrides if o.revert_after_minutes]
    result = SkillResult(changes=changes)
    if revert_minutes and scheduler is not None and request.revert_of is None:
        revert_at = now + timedelta(minutes=min(revert_minutes))
        result.revert_schedule = schedule_revert(
            change_id, request, changes, revert_at, scheduler=scheduler, settings=settings
        )
        result.revert_at = to_utc_iso(revert_at)
        for change in changes:
            change.revert_at = result.revert_at
    return result


def revert_request(change_id: str, request: ChangeRequest, changes: list[SkillChange]) -> ChangeRequest:
    """The change that restores the remembered values (a skill the agent did not have is removed again)."""
    overrides = [
        SkillOverride(
            skill_id=change.skill_id,
            state=change.before.state if change.before and change.before.state else "deleted",
            proficiency=change.before.proficiency if change.before else None,
            expected=change.after or SkillValue(state="deleted"),
        )
        for change in changes
        if change.skipped is None
    ]
    return ChangeRequest(
        user_id=request.user_id,
        skill_overrides=overrides,
        reason=f"automatic revert of {change_id}",
        requested_by="scheduler:revert",
        revert_of=change_id,
    )


def schedule_revert(
    change_id: str,
    request: ChangeRequest,
    changes: list[SkillChange],
    revert_at: datetime,
    *,
    scheduler: Any,
    settings: AppSettings,
) -> str:
    name = f"revert-{change_id}"[:64]
    scheduler.create_schedule(
        Name=name,
        GroupName=settings.scheduler_group_name,
        ScheduleExpression=f"at({revert_at.strftime('%Y-%m-%dT%H:%M:%S')})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Description=f"Reverts the skill overrides of change {change_id}",
        Target={
            "Arn": settings.revert_target_arn,
            "RoleArn": settings.scheduler_role_arn,
            "Input": json.dumps(revert_request(change_id, request, changes).to_json()),
        },
    )
    return name


def _proficiency(override: SkillOverride, current: UserRoutingSkill | None) -> float:
    if override.proficiency is not None:
        return override.proficiency
    if current is not None and current.proficiency is not None:
        return current.proficiency
    return 0.0


def _value(skill: UserRoutingSkill | None) -> SkillValue | None:
    return SkillValue(state=skill.state, proficiency=skill.proficiency) if skill else None


def _still(current: UserRoutingSkill | None, expected: SkillValue) -> bool:
    """Whether the skill still has the value a change expects (a removed skill is ``deleted``)."""
    if current is None or current.state == "deleted":
        return expected.state in (None, "deleted")
    if expected.state is not None and current.state != expected.state:
        return False
    return expected.proficiency is None or current.proficiency == expected.proficiency
