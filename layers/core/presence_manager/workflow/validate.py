"""Validate: resolve the target presence and the agent's time zone, observe presence and schedule, apply policy.

One decision per agent (:func:`decide`, pure but for cached look-ups), fed by two ways of observing:

- one agent (:func:`validate_change`): its presence, and its schedule from a search cached per management unit,
  agent and hour (a warm Lambda validating the same agent again costs one Genesys call);
- a batch of up to 50 agents of one management unit (:func:`observe_batch`): one bulk presence read and one
  schedule search for the whole batch.

What the write depends on and may move on its own is checked again by LockedUpdate right before the write: the
presence (ETag) and, for a change taking an On Queue agent off queue, the routing status. Validate reads routing
status only for dry runs, which never reach LockedUpdate and should still say whether they would be refused."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from presence_manager.business_hours import business_hours_for
from presence_manager.errors import GenesysNotFound, GenesysScheduleProcessing, IfMatchFailed, InvalidRequest
from presence_manager.etag import presence_etag
from presence_manager.genesys.models import (
    AgentManagementUnitReference,
    BuAgentSchedulesSearchResponse,
    OrganizationPresenceDefinition,
    UcUserPresence,
    UserPresence,
    normalize_system_presence,
)
from presence_manager.policy import OFFLINE, PolicyInput, evaluate
from presence_manager.schedules import find_agent_schedule, schedule_window, scheduled_state_at
from presence_manager.timeutil import parse_instant, resolve_time_zone, to_utc_iso
from presence_manager.validation import MAX_ACTIVITY_LEAD_MINUTES
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

#: A schedule search is reused for this long by a warm Lambda (schedules are published ahead; the window it
#: searches reaches a day either side, so any instant of the cached hour is covered).
SCHEDULE_CACHE_SECONDS = 300
#: What a step reserves from the deployment's rate budget before its first call (one wait, never half-way):
#: a read of presence(s) and a schedule search (and a routing read or a write in LockedUpdate).
STEP_CALLS = 3


def snapshot(presence: UserPresence | UcUserPresence) -> PresenceSnapshot:
    if isinstance(presence, UcUserPresence):
        presence = UserPresence(
            presence_definition=presence.presence_definition,
            message=presence.message,
            modified_date=presence.modified_date,
        )
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


class AgentActivity(Protocol):
    """When agents last changed their own presence (the agent table, kept by Observe)."""

    def last_external_changes(self, user_ids: list[str]) -> dict[str, str]: ...


@dataclass(frozen=True)
class Observed:
    """What Validate saw of one agent before deciding."""

    presence: PresenceSnapshot
    unit: AgentManagementUnitReference | None
    schedules: BuAgentSchedulesSearchResponse | None = None
    schedule_unknown: bool = False
    routing_status: str | None = None
    own_change_at: str | None = None


class ScheduleSearches:
    """Schedule searches, one per management unit and set of agents, reused within the hour by a warm Lambda.
    ``None`` means the search answered ``Processing``: the schedule is unknown for now."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl_seconds: float = SCHEDULE_CACHE_SECONDS):
        self._clock = clock
        self._ttl = ttl_seconds
        self._entries: dict[tuple[str, str, frozenset[str]], tuple[float, BuAgentSchedulesSearchResponse]] = {}
        self._lock = threading.Lock()

    def search(
        self, genesys: GenesysClient, management_unit_id: str, user_ids: Iterable[str], now: datetime
    ) -> BuAgentSchedulesSearchResponse | None:
        hour = now.replace(minute=0, second=0, microsecond=0)
        start, end = schedule_window(hour, hours_before=24, hours_after=25)
        users = frozenset(user_ids)
        key = (management_unit_id, to_utc_iso(hour), users)
        with self._lock:
            hit = self._entries.get(key)
            if hit and hit[0] > self._clock():
                return hit[1]
        try:
            found = genesys.search_agent_schedules(management_unit_id, start, end, sorted(users))
        except GenesysScheduleProcessing:
            return None
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (self._clock() + self._ttl, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


schedule_searches = ScheduleSearches()


def validate_change(
    request: ChangeRequest,
    *,
    genesys: GenesysClient,
    settings: AppSettings,
    now: datetime,
    searches: ScheduleSearches = schedule_searches,
    agents: AgentActivity | None = None,
    unit_schedule_group: Callable[[str], str | None] | None = None,
) -> ValidationResult:
    with genesys.reserved(STEP_CALLS):  # the presence read and the schedule search (refunded when cached)
        target = genesys.resolve_presence(request.presence) if request.presence else None
        presence = snapshot(genesys.get_user_presence(request.user_id))
        check_if_match(request, presence)
        observed = Observed(presence=presence, unit=None)
        if target is not None and settings.policy_mode != "off":
            unit = management_unit(genesys, request.user_id)
            schedules = searches.search(genesys, unit.management_unit.id, [request.user_id], now) if unit else None
            routing = None
            if request.dry_run and presence.system_presence == "OnQueue":
                routing = genesys.get_routing_status(request.user_id).status
            observed = Observed(presence, unit, schedules, unit is not None and schedules is None, routing)
        if request.respect_own_changes_minutes and agents is not None:
            own = agents.last_external_changes([request.user_id]).get(request.user_id)
            observed = dataclasses.replace(observed, own_change_at=own)
        result = decide(
            request,
            target,
            observed,
            genesys=genesys,
            settings=settings,
            now=now,
            unit_schedule_group=unit_schedule_group,
        )
        return result.model_copy(update={"genesys_calls": genesys.calls_in_step()})


def observe_batch(
    user_ids: list[str],
    unit: AgentManagementUnitReference | None,
    *,
    schedule_users: list[str] | None = None,
    dry_run: bool,
    needs_schedule: bool,
    genesys: GenesysClient,
    now: datetime,
    searches: ScheduleSearches = schedule_searches,
) -> dict[str, Observed]:
    """A batch of agents of one management unit (or of none): one bulk presence read, one schedule search (of
    ``schedule_users``, the whole batch, so validating some of its agents again reuses it), and for a dry run one
    routing-status read for those On Queue. Agents Genesys does not know are left out."""
    with genesys.reserved(STEP_CALLS):
        return _observe_batch(user_ids, unit, schedule_users, dry_run, needs_schedule, genesys, now, searches)


def _observe_batch(
    user_ids: list[str],
    unit: AgentManagementUnitReference | None,
    schedule_users: list[str] | None,
    dry_run: bool,
    needs_schedule: bool,
    genesys: GenesysClient,
    now: datetime,
    searches: ScheduleSearches,
) -> dict[str, Observed]:
    presences = {p.id or p.user_id: snapshot(p) for p in genesys.get_users_presences_bulk(user_ids)}
    schedules = None
    if needs_schedule and unit is not None:
        schedules = searches.search(genesys, unit.management_unit.id, schedule_users or user_ids, now)
    routing: dict[str, str] = {}
    on_queue = [user for user, presence in presences.items() if presence.system_presence == "OnQueue"]
    if dry_run and on_queue:
        routing = {user: str(status) for user, status in genesys.get_users_routing_status(on_queue).items()}
    unknown = needs_schedule and unit is not None and schedules is None
    return {
        user: Observed(presence, unit, schedules, unknown, routing.get(user))
        for user, presence in presences.items()
        if user
    }


def check_if_match(request: ChangeRequest, presence: PresenceSnapshot) -> None:
    if request.if_match is not None and request.if_match != presence.etag:
        raise IfMatchFailed(
            "ifMatch no longer matches the agent's presence",
            userId=request.user_id,
            ifMatch=request.if_match,
            currentEtag=presence.etag,
        )


def decide(
    request: ChangeRequest,
    target_definition: OrganizationPresenceDefinition | None,
    observed: Observed,
    *,
    genesys: GenesysClient,
    settings: AppSettings,
    now: datetime,
    unit_schedule_group: Callable[[str], str | None] | None = None,
) -> ValidationResult:
    """The policy decision for one agent, from what was observed (the same for a single change and a batch)."""
    target = _target(request, target_definition) if target_definition else None
    policy = PolicySummary(mode=settings.policy_mode)
    schedule_summary: ScheduleSummary | None = None
    zone_name = request.time_zone
    zone_source = "request" if zone_name else "none"
    allowed = True

    if target_definition is not None and settings.policy_mode != "off":
        unit, schedules = observed.unit, observed.schedules
        scheduled: ScheduledState | None = None
        activity_code = None
        if unit is not None:
            if zone_name is None:
                zone_name = (schedules.business_unit_time_zone if schedules else None) or (
                    genesys.get_business_unit_time_zone(unit.business_unit.id)
                )
                zone_source = "businessUnit"
            agent_schedule = find_agent_schedule(schedules, request.user_id) if schedules else None
            if agent_schedule is not None and schedules is not None:
                # Full-day time off is marked on business-unit dates: judge it in the business unit's zone.
                unit_zone = schedules.business_unit_time_zone or zone_name
                scheduled = scheduled_state_at(
                    agent_schedule, _activity_instant(request, now), resolve_time_zone(unit_zone) if unit_zone else None
                )
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
        decision = evaluate(
            PolicyInput(
                requested=target_definition,
                current_system_presence=observed.presence.system_presence or "Offline",
                routing_status=observed.routing_status or "OFF_QUEUE",
                scheduled=scheduled,
                schedule_unknown=observed.schedule_unknown,
                own_change_at=parse_instant(observed.own_change_at) if observed.own_change_at else None,
                respect_own_changes_minutes=request.respect_own_changes_minutes,
                activity_code=activity_code,
                business_hours=business_hours_for(
                    unit.management_unit.id if unit else None,
                    settings=settings,
                    genesys=genesys,
                    unit_schedule_group=unit_schedule_group,
                ),
                zone=resolve_time_zone(zone_name or "UTC"),
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

    return ValidationResult(
        allowed=allowed,
        dry_run=request.dry_run,
        changes_presence=target is not None,
        has_skill_overrides=bool(request.skill_overrides),
        target=target,
        observed=observed.presence,
        routing_status=observed.routing_status,
        expected_etag=observed.presence.etag,
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


def management_unit(genesys: GenesysClient, user_id: str) -> AgentManagementUnitReference | None:
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


def _activity_instant(request: ChangeRequest, now: datetime) -> datetime:
    """When the scheduled activity is judged: now, or the activity a change made ahead of it is for (at most
    ``MAX_ACTIVITY_LEAD_MINUTES`` ahead; never in the past)."""
    if request.activity_at is None:
        return now
    ahead = parse_instant(request.activity_at)
    return min(max(ahead, now), now + timedelta(minutes=MAX_ACTIVITY_LEAD_MINUTES))
