"""SkillOverride: apply the agent's routing-skill overrides, remember the previous values, schedule the revert.

Proficiency changes of skills that stay active go in one bulk PATCH (``UserRoutingSkillPost`` has no state);
a state change (activate an inactive skill, deactivate, remove) is a PUT/DELETE of that one skill. A time-boxed
override creates a one-time EventBridge Scheduler schedule that starts this workflow with the previous values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from presence_manager.errors import GenesysWriteUnconfirmed
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


#: What the step reserves from the rate budget before its first call: the skills read and the bulk write.
SKILL_STEP_CALLS = 2


def apply_skill_overrides(
    change_id: str,
    request: ChangeRequest,
    *,
    genesys: GenesysClient,
    scheduler: Any | None,
    settings: AppSettings,
    now: datetime,
) -> SkillResult:
    with genesys.reserved(SKILL_STEP_CALLS):
        before = {skill.id: skill for skill in genesys.get_user_routing_skills(request.user_id)}
        after, skipped = _apply(request, before, genesys)
    return _result(change_id, request, before, after, skipped, scheduler=scheduler, settings=settings, now=now)


def _apply(
    request: ChangeRequest, before: dict[str, UserRoutingSkill], genesys: GenesysClient
) -> tuple[dict[str, SkillValue], set[str]]:
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
                _confirmed(
                    genesys,
                    request.user_id,
                    {override.skill_id: SkillValue(state="deleted")},
                    lambda _ids, sid=override.skill_id: _deleted(genesys, request.user_id, sid),
                )
            after[override.skill_id] = SkillValue(state="deleted", proficiency=None)
        elif override.state == "active" and (current is None or current.state == "active"):
            bulk.append(UserRoutingSkillPost(id=override.skill_id, proficiency=proficiency))
        else:
            skill = UserRoutingSkill(id=override.skill_id, state=override.state, proficiency=proficiency)
            after.update(
                _confirmed(
                    genesys,
                    request.user_id,
                    {skill.id: SkillValue(state=override.state, proficiency=proficiency)},
                    lambda _ids, skill=skill: _values([genesys.put_user_routing_skill(request.user_id, skill)]),
                )
            )
    if bulk:
        wanted = {post.id: SkillValue(state="active", proficiency=post.proficiency) for post in bulk}
        after.update(
            _confirmed(
                genesys,
                request.user_id,
                wanted,
                lambda ids: _values(
                    genesys.patch_user_routing_skills_bulk(request.user_id, [b for b in bulk if b.id in ids]), ids
                ),
            )
        )
    return after, skipped


def _result(
    change_id: str,
    request: ChangeRequest,
    before: dict[str, UserRoutingSkill],
    after: dict[str, SkillValue],
    skipped: set[str],
    *,
    scheduler: Any | None,
    settings: AppSettings,
    now: datetime,
) -> SkillResult:
    """What changed (before, after, or skipped) per override, and the revert schedule of a time-boxed one."""
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


def _values(skills: list[UserRoutingSkill], only: set[str] | None = None) -> dict[str, SkillValue]:
    return {
        skill.id: SkillValue(state=skill.state or "active", proficiency=skill.proficiency)
        for skill in skills
        if only is None or skill.id in only
    }


def _deleted(genesys: GenesysClient, user_id: str, skill_id: str) -> dict[str, SkillValue]:
    genesys.delete_user_routing_skill(user_id, skill_id)
    return {skill_id: SkillValue(state="deleted")}


def _confirmed(
    genesys: GenesysClient,
    user_id: str,
    wanted: dict[str, SkillValue],
    write: Callable[[set[str]], dict[str, SkillValue]],
) -> dict[str, SkillValue]:
    """Write; when the answer was lost (it may have landed), never repeat it blindly: re-read the agent's skills,
    take what landed as written, and write once more only what did not."""
    try:
        return write(set(wanted))
    except GenesysWriteUnconfirmed:
        current = {skill.id: skill for skill in genesys.get_user_routing_skills(user_id)}
        landed = {skill_id: value for skill_id, value in wanted.items() if _still(current.get(skill_id), value)}
        missing = set(wanted) - set(landed)
        return {**landed, **(write(missing) if missing else {})}
