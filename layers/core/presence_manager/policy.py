"""The validation policy: may this agent be given this presence now? Pure: every fact arrives in ``PolicyInput``.

Rules (each a small function returning a ``Violation`` or None; codes are machine-readable):

- ``outside_business_hours`` - any presence but Offline needs ``now`` within business hours: the daily window on
  the agent's clock, or the Architect schedule group's open hours in the group's time zone (``business_hours``).
- ``schedule_unknown`` - any presence but Offline needs the agent's schedule to be known: a schedule search that
  Genesys answered ``Processing`` delivers its result only through a notification topic, so for this change the
  schedule is unknown (``enforce`` rejects with this reason, ``warn`` applies with it as a warning).
- ``no_active_shift`` - any presence but Offline needs an active WFM shift. No schedule at all (no management
  unit), no covering shift, a full-day time off, or a covering activity of category ``TimeOff`` all fail it.
- ``activity_mismatch`` - on shift, when the covering activity's code lists ``secondaryPresences``, the requested
  definition must be one of them, or (for a System definition) have the system presence of one of them. An empty
  list puts no constraint. Offline is exempt.
- ``agent_changed_presence_recently`` - when the change asks for it (``respectOwnChangesMinutes``, as automation
  does), an agent who changed their own presence within that many minutes is left alone (any presence).
- ``live_interaction`` - an agent On Queue and INTERACTING/COMMUNICATING is not taken off queue (any requested
  system presence but OnQueue, Offline included) unless ``force``. Forcing it is allowed and leaves a warning
  ``live_interaction_forced``. ``force`` overrides nothing else.

Modes: ``off`` allows everything and checks nothing; ``warn`` allows and reports the violations as warnings;
``enforce`` allows only when there is no violation.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from presence_manager.business_hours import BusinessHoursSource
from presence_manager.genesys.models import (
    LIVE_INTERACTION_STATUSES,
    BusinessUnitActivityCode,
    OrganizationPresenceDefinition,
    normalize_system_presence,
)
from presence_manager.schedules import ScheduledState
from presence_manager.timeutil import require_aware, to_utc_iso

__all__ = [
    "RULES",
    "PolicyDecision",
    "PolicyInput",
    "PolicyMode",
    "Violation",
    "check_active_shift",
    "check_activity",
    "check_business_hours",
    "check_live_interaction",
    "check_recent_own_change",
    "check_schedule_known",
    "evaluate",
    "takes_live_agent_off_queue",
]

PolicyMode = Literal["enforce", "warn", "off"]

OUTSIDE_BUSINESS_HOURS = "outside_business_hours"
NO_ACTIVE_SHIFT = "no_active_shift"
ACTIVITY_MISMATCH = "activity_mismatch"
LIVE_INTERACTION = "live_interaction"
SCHEDULE_UNKNOWN = "schedule_unknown"
AGENT_CHANGED_PRESENCE_RECENTLY = "agent_changed_presence_recently"
LIVE_INTERACTION_FORCED = "live_interaction_forced"

OFFLINE = "Offline"
ON_QUEUE = "OnQueue"


class _PolicyModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Violation(_PolicyModel):
    """One rule's finding. ``code`` is machine-readable, ``message`` says what happened in the agent's local time."""

    code: str
    message: str


class PolicyInput(_PolicyModel):
    """Everything the policy looks at, observed by the Validate step."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, arbitrary_types_allowed=True)

    requested: OrganizationPresenceDefinition
    current_system_presence: str = Field(description='normalised: "OnQueue", not "On Queue"')
    routing_status: str = "OFF_QUEUE"
    scheduled: ScheduledState | None = Field(default=None, description="None: the agent has no WFM schedule")
    schedule_unknown: bool = Field(default=False, description="the schedule search did not complete (Processing)")
    own_change_at: AwareDatetime | None = Field(default=None, description="when the agent last set their own presence")
    respect_own_changes_minutes: int | None = Field(default=None, description="leave them alone that long after it")
    activity_code: BusinessUnitActivityCode | None = Field(default=None, description="code of scheduled.activity")
    business_hours: BusinessHoursSource = Field(
        description="the daily window (timeutil.BusinessHours) or a schedule group (business_hours)"
    )
    zone: ZoneInfo
    now: AwareDatetime
    force: bool = False
    definitions_by_id: dict[str, OrganizationPresenceDefinition] = Field(default_factory=dict)

    @field_validator("current_system_presence")
    @classmethod
    def _normalise_presence(cls, value: str) -> str:
        return normalize_system_presence(value)

    @field_validator("routing_status")
    @classmethod
    def _upper_routing_status(cls, value: str) -> str:
        return value.strip().upper()

    @property
    def requested_system_presence(self) -> str:
        return normalize_system_presence(self.requested.system_presence)

    @property
    def requested_is_offline(self) -> bool:
        return self.requested_system_presence == OFFLINE


class PolicyDecision(_PolicyModel):
    allowed: bool
    mode: PolicyMode
    violations: list[Violation] = Field(default_factory=list)
    warnings: list[Violation] = Field(default_factory=list)


# ---- Message helpers -------------------------------------------------------------------------------------------


def _clock(instant: datetime, zone: ZoneInfo) -> str:
    local = require_aware(instant, "instant").astimezone(zone)
    return local.strftime("%H:%M")


def _zone_name(zone: ZoneInfo) -> str:
    return zone.key or str(zone)


def _presence_label(definition: OrganizationPresenceDefinition) -> str:
    system = normalize_system_presence(definition.system_presence)
    label = definition.label
    return f"'{label}'" if label == system else f"'{label}' ({system})"


def _local_span(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    return f"{_clock(start, zone)}-{_clock(end, zone)}"


# ---- Rules -----------------------------------------------------------------------------------------------------


def check_business_hours(policy_input: PolicyInput) -> Violation | None:
    """``outside_business_hours``: any presence but Offline needs ``now`` within business hours."""
    if policy_input.requested_is_offline:
        return None
    hours, zone, now = policy_input.business_hours, policy_input.zone, policy_input.now
    if hours.is_open(now, zone):
        return None
    return Violation(
        code=OUTSIDE_BUSINESS_HOURS,
        message=f"{hours.closed_reason(now, zone)}. Only Offline may be set outside business hours.",
    )


def check_schedule_known(policy_input: PolicyInput) -> Violation | None:
    """``schedule_unknown``: any presence but Offline needs a schedule search that completed."""
    if policy_input.requested_is_offline or not policy_input.schedule_unknown:
        return None
    return Violation(
        code=SCHEDULE_UNKNOWN,
        message=(
            "Genesys answered the schedule search with Processing (its result only comes through a notification "
            f"topic), so the agent's schedule is unknown; {_presence_label(policy_input.requested)} needs a known "
            "active shift."
        ),
    )


def check_active_shift(policy_input: PolicyInput) -> Violation | None:
    """``no_active_shift``: any presence but Offline needs an active shift (full-day or scheduled time off is off)."""
    if policy_input.requested_is_offline or policy_input.schedule_unknown:
        return None
    zone, now, scheduled = policy_input.zone, policy_input.now, policy_input.scheduled
    at = f"at {_clock(now, zone)} in {_zone_name(zone)}"
    wanted = _presence_label(policy_input.requested)
    if scheduled is None:
        reason = f"The agent has no WFM schedule (no management unit or no schedule) {at}"
    elif scheduled.full_day_time_off:
        reason = f"The agent has a full-day time off {at}"
    elif not scheduled.on_shift:
        reason = f"The agent has no scheduled shift {at}"
    elif policy_input.activity_code is not None and policy_input.activity_code.category == "TimeOff":
        activity = scheduled.activity
        span = f" ({_local_span(activity.start, activity.end, zone)})" if activity else ""
        reason = f"The agent is scheduled for time off{span} {at}"
    else:
        return None
    return Violation(code=NO_ACTIVE_SHIFT, message=f"{reason}; {wanted} needs an active shift.")


def check_activity(policy_input: PolicyInput) -> Violation | None:
    """``activity_mismatch``: the requested presence must fit the scheduled activity's ``secondaryPresences``."""
    scheduled, code = policy_input.scheduled, policy_input.activity_code
    if policy_input.requested_is_offline or scheduled is None or not scheduled.on_shift or code is None:
        return None
    allowed_ids = [presence.id for presence in code.secondary_presences]
    if not allowed_ids:
        return None
    requested = policy_input.requested
    if requested.id in allowed_ids:
        return None
    allowed_definitions = [policy_input.definitions_by_id.get(pid) for pid in allowed_ids]
    if requested.type == "System":
        allowed_systems = {normalize_system_presence(d.system_presence) for d in allowed_definitions if d}
        if policy_input.requested_system_presence in allowed_systems:
            return None
    zone = policy_input.zone
    activity = scheduled.activity
    name = code.name or (activity.description if activity else None) or code.id
    category = f"{code.category}, " if code.category else ""
    span = f"{_local_span(activity.start, activity.end, zone)} " if activity else ""
    fits = ", ".join(
        _presence_label(d) if d else f"'{pid}'" for pid, d in zip(allowed_ids, allowed_definitions, strict=True)
    )
    return Violation(
        code=ACTIVITY_MISMATCH,
        message=(
            f"At {_clock(policy_input.now, zone)} in {_zone_name(zone)} the agent is scheduled for '{name}' "
            f"({category}{span}{_zone_name(zone)}), which fits {fits}; {_presence_label(requested)} does not."
        ),
    )


def takes_live_agent_off_queue(current_system_presence: str | None, routing_status: str, requested: str) -> bool:
    """True when an agent On Queue with a live interaction would be taken off queue by the ``requested`` presence
    (checked by Validate, and again by LockedUpdate right before the write)."""
    return (
        normalize_system_presence(current_system_presence or "") == ON_QUEUE
        and routing_status.strip().upper() in LIVE_INTERACTION_STATUSES
        and normalize_system_presence(requested) != ON_QUEUE
    )


def _takes_live_agent_off_queue(policy_input: PolicyInput) -> bool:
    return takes_live_agent_off_queue(
        policy_input.current_system_presence, policy_input.routing_status, policy_input.requested_system_presence
    )


def check_live_interaction(policy_input: PolicyInput) -> Violation | None:
    """``live_interaction``: never take an agent on a live interaction off queue, unless ``force``."""
    if policy_input.force or not _takes_live_agent_off_queue(policy_input):
        return None
    return Violation(
        code=LIVE_INTERACTION,
        message=(
            f"The agent is On Queue and {policy_input.routing_status} (a live interaction) at "
            f"{_clock(policy_input.now, policy_input.zone)} in {_zone_name(policy_input.zone)}; "
            f"{_presence_label(policy_input.requested)} would take them off queue. Use force to override."
        ),
    )


def check_recent_own_change(policy_input: PolicyInput) -> Violation | None:
    """``agent_changed_presence_recently``: when the change asks for it (automation does), an agent who changed their
    own presence within the last N minutes is left alone."""
    minutes, at = policy_input.respect_own_changes_minutes, policy_input.own_change_at
    if not minutes or at is None or (policy_input.now - at).total_seconds() >= minutes * 60:
        return None
    zone = policy_input.zone
    return Violation(
        code=AGENT_CHANGED_PRESENCE_RECENTLY,
        message=(
            f"The agent changed their own presence at {_clock(at, zone)} in {_zone_name(zone)}, less than {minutes} "
            "minutes ago: left alone."
        ),
    )


RULES: tuple[Callable[[PolicyInput], Violation | None], ...] = (
    check_recent_own_change,
    check_business_hours,
    check_schedule_known,
    check_active_shift,
    check_activity,
    check_live_interaction,
)


def _forced_warnings(policy_input: PolicyInput) -> list[Violation]:
    if not (policy_input.force and _takes_live_agent_off_queue(policy_input)):
        return []
    return [
        Violation(
            code=LIVE_INTERACTION_FORCED,
            message=(
                f"Forced: the agent was On Queue and {policy_input.routing_status} (a live interaction) at "
                f"{_clock(policy_input.now, policy_input.zone)} in {_zone_name(policy_input.zone)} "
                f"({to_utc_iso(policy_input.now)})."
            ),
        )
    ]


def evaluate(policy_input: PolicyInput, mode: PolicyMode) -> PolicyDecision:
    """Apply every rule in ``RULES`` under ``mode`` (see the module docstring)."""
    if mode == "off":
        return PolicyDecision(allowed=True, mode=mode)
    if mode not in ("enforce", "warn"):
        raise ValueError(f"unknown policy mode {mode!r} (enforce, warn or off)")
    violations = [found for rule in RULES if (found := rule(policy_input)) is not None]
    warnings = _forced_warnings(policy_input)
    if mode == "warn":
        return PolicyDecision(allowed=True, mode=mode, violations=[], warnings=violations + warnings)
    return PolicyDecision(allowed=not violations, mode=mode, violations=violations, warnings=warnings)
