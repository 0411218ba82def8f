"""Validate: resolve the target presence and the agent's time zone, observe presence and schedule, apply policy."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from presence_manager.errors import GenesysNotFound, IfMatchFailed, InvalidRequest
from presence_manager.etag import presence_etag
from presence_manager.genesys.models import (
    AgentManagementUnitReference,
    OrganizationPresenceDefinition,
    UserPresence,
    normalize_system_presence,
)
from presence_manager.policy import OFFLINE, PolicyInput, evaluate
from presence_manager.schedules import find_agent_schedule, schedule_window, scheduled_state_at
from presence_manager.timeutil import BusinessHours, resolve_time_zone, to_utc_iso
from presence_manager.workflow.models import (
    ChangeRequest,
    PolicySummary,
    PresenceSnapshot,
    PresenceTarget,
    ScheduleSummary,
    ValidationResult,
    Violation,
)

if TYPE_CHECKING:
    from presence_manager.config import AppSettings
    from presence_manager.genesys.client import GenesysClient
    from presence_manager.schedules import ScheduledState


def snapshot(presence: UserPresence) -> PresenceSnapshot:
    definition = presence.presence_definition
    return PresenceSnapshot(
        definition_id=definition.id if definition else None,
        system_presence=normalize_system_presence(definition.system_presence or "")
        if definition and definition.system_presence
        else None,
        message=presence.message,
        modified_date=to_utc_iso(presence.modified_date) if presence.modified_date else None,
        etag=presence_etag(presence),
    )


def business_hours(settings: AppSettings) -> BusinessHours:
    return BusinessHours(
        start=settings.business_hours_start,
        end=settings.business_hours_end,
        weekdays=settings.business_weekdays,
    )


def validate_change(
    request: ChangeRequest, *, genesys: GenesysClient, settings: AppSettings, now: datetime
) -> ValidationResult:
    target_definition = genesys.resolve_presence(request.presence) if request.presence else None
    presence = genesys.get_user_presence(request.user_id)
    observed = snapshot(presence)
    if request.if_match is not None and request.if_match != observed.etag:
        raise IfMatchFailed(
            "ifMatch no longer matches the agent's presence",
            userId=request.user_id,
            ifMatch=request.if_match,
            currentEtag=observed.etag,
        )

    target = _target(request, target_definition) if target_definition else None
    routing_status: str | None = None
    policy = PolicySummary(mode=settings.policy_mode)
    schedule_summary: ScheduleSummary | None = None
    zone_name = request.time_zone
    zone_source = "request" if zone_name else "none"

    if target_definition is not None and settings.policy_mode != "off":
        if observed.system_presence == "OnQueue":
            routing_status = genesys.get_routing_status(request.user_id).status
        unit = _management_unit(genesys, request.user_id)
        scheduled: ScheduledState | None = None
        activity_code = None
        if unit is not None:
            start, end = schedule_window(now)
            schedules = genesys.search_agent_schedules(unit.management_unit.id, start, end, [request.user_id])
            if zone_name is None:
                zone_name = schedules.business_unit_time_zone or genesys.get_business_unit_time_zone(
                    unit.business_unit.id
                )
                zone_source = "businessUnit"
            agent_schedule = find_agent_schedule(schedules, request.user_id)
            if agent_schedule is not None:
                # Full-day time off is marked on business-unit dates: judge it in the business unit's zone.
                unit_zone = schedules.business_unit_time_zone or zone_name
                scheduled = scheduled_state_at(agent_schedule, now, resolve_time_zone(unit_zone) if unit_zone else None)
            if scheduled and scheduled.activity and scheduled.activity.activity_code_id:
                codes = {code.id: code for code in genesys.get_activity_codes(unit.business_unit.id)}
                activity_code = codes.get(scheduled.activity.activity_code_id)
            schedule_summary = _schedule_summary(scheduled, activity_code)
        if zone_name is None and normalize_system_presence(target_definition.system_presence) != OFFLINE:
            raise InvalidRequest(
                "the agent has no WFM management unit to take a time zone from; give timeZone in the request",
                code="time_zone_unknown",
                userId=request.user_id,
            )
        # Offline is exempt from business hours and shifts: an agent outside WFM can always be set Offline (the
        # live-interaction rule still applies; its message then tells the time in UTC).
        zone = resolve_time_zone(zone_name or "UTC")
        decision = evaluate(
            PolicyInput(
                requested=target_definition,
                current_system_presence=observed.system_presence or "Offline",
                routing_status=routing_status or "OFF_QUEUE",
                scheduled=scheduled,
                activity_code=activity_code,
                business_hours=business_hours(settings),
                zone=zone,
                now=now,
                force=request.force,
                definitions_by_id={d.id: d for d in genesys.get_presence_definitions()},
            ),
            settings.policy_mode,
        )
        policy = PolicySummary(
            mode=settings.policy_mode,
            violations=[Violation(code=v.code, message=v.message) for v in decision.violations],
            warnings=[Violation(code=v.code, message=v.message) for v in decision.warnings],
        )
        allowed = decision.allowed
    else:
        allowed = True

    return ValidationResult(
        allowed=allowed,
        dry_run=request.dry_run,
        changes_presence=target is not None,
        has_skill_overrides=bool(request.skill_overrides),
        target=target,
        observed=observed,
        routing_status=routing_status,
        expected_etag=observed.etag,
        if_match_supplied=request.if_match is not None,
        time_zone=zone_name,
        time_zone_source=zone_source,  # type: ignore[arg-type]
        schedule=schedule_summary,
        policy=policy,
        validated_at=to_utc_iso(now),
    )


def _target(request: ChangeRequest, definition: OrganizationPresenceDefinition) -> PresenceTarget:
    return PresenceTarget(
        requested=request.presence or definition.id,
        definition_id=definition.id,
        system_presence=normalize_system_presence(definition.system_presence),
        label=definition.label,
        type=definition.type,
    )


def _management_unit(genesys: GenesysClient, user_id: str) -> AgentManagementUnitReference | None:
    try:
        return genesys.get_agent_management_unit(user_id)
    except GenesysNotFound:
        return None


def _schedule_summary(scheduled: ScheduledState | None, activity_code: object | None) -> ScheduleSummary:
    if scheduled is None or not scheduled.on_shift:
        return ScheduleSummary(on_shift=False)
    activity = scheduled.activity
    return ScheduleSummary(
        on_shift=True,
        shift_start=to_utc_iso(scheduled.shift_start) if scheduled.shift_start else None,
        shift_end=to_utc_iso(scheduled.shift_end) if scheduled.shift_end else None,
        activity_code_id=activity.activity_code_id if activity else None,
        activity_category=getattr(activity_code, "category", None),
        activity_description=activity.description if activity else None,
    )
