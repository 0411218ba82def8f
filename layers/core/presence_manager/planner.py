"""Presence that follows the WFM schedule: the planner.

For one management unit it reads the unit's members (one listing) and their published schedules for the next
``windowHours`` (one schedule search; a ``downloadUrl`` answer is followed by the client; ``Processing`` means no
plan this run), and the business unit's activity codes (cached by the client). Every activity that starts within
the window is a *transition* to the presence its category maps to (the unit's ``mapping``, else the activity code's
first ``secondaryPresences``), at the instant ``activity start - leadMinutes`` floored to the whole minute (UTC).
A transition is skipped when the activity before it (ending where it starts) already maps to the same presence, when
nothing maps, and when its instant is due within :data:`FROZEN_SECONDS`.

Transitions are grouped by *(instant, presence)*: each group becomes ONE EventBridge Scheduler one-time schedule
``at(...)`` (UTC, ``FlexibleTimeWindow`` OFF, deleted after it ran) in the automation schedule group, whose target
starts the bulk state machine with a bulk change body for those agents - at most 1,000 a schedule, a bigger group is
split in parts. A unit of 1,000 agents on a few shift patterns is a few dozen schedules, never one per agent.

Re-planning is idempotent. A schedule's name is ``auto-<unit hash>-<yyyymmddHHMM>-<hash of unit, instant, presence,
part>``: a run lists the group's schedules of the unit (name prefix :func:`unit_prefix`), creates the missing ones,
updates those whose bulk body changed (other agents, another config) and deletes the planned ones that no longer
appear (a moved break, a lead changed, automation disabled). What is due within :data:`FROZEN_SECONDS` is never
touched (it may be firing), and a schedule is deleted only when its body says it belongs to this unit.

The parts that decide are pure functions (:func:`find_transitions`, :func:`group_transitions`,
:func:`schedule_name`, :func:`schedule_spec`); :func:`sync_schedules` talks to Scheduler; :class:`Planner` ties them
to the Genesys client and the automation store."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_settings import BaseSettings, SettingsConfigDict

from presence_manager.automation import AutomationConfig, AutomationStore, default_automation
from presence_manager.errors import (
    GenesysNotFound,
    GenesysRateLimited,
    GenesysScheduleProcessing,
    PresenceDefinitionNotFound,
    PresenceManagerError,
)
from presence_manager.genesys.models import (
    BuAgentSchedulesSearchResponse,
    BusinessUnitActivityCode,
    GenesysModel,
    OrganizationPresenceDefinition,
)
from presence_manager.observability import logger
from presence_manager.timeutil import to_utc_iso
from presence_manager.validation import UUID_PATTERN
from presence_manager.workflow.bulk import MAX_BULK_AGENTS, parse_bulk_request

if TYPE_CHECKING:
    from presence_manager.genesys.client import GenesysClient

SCHEDULE_PREFIX = "auto-"
#: A schedule due this soon is left alone: not created (it would fire late or never), not updated, not deleted.
FROZEN_SECONDS = 30
AT_FORMAT = "%Y-%m-%dT%H:%M:%S"
NAME_INSTANT_FORMAT = "%Y%m%d%H%M"
REQUESTED_BY_PREFIX = "automation:"
#: ``detail.topicName`` of Genesys's WFM schedule notification (``WfmBuScheduleTopicBuScheduleNotification``).
SCHEDULE_TOPIC = re.compile(r"v2\.workforcemanagement\.businessunits\.([0-9A-Fa-f-]{36})\.schedules")


class AutomationSettings(BaseSettings):
    """Where the planner puts schedules and what they start (validated when a planner is built)."""

    model_config = SettingsConfigDict(extra="ignore")

    schedule_group_name: str = Field(default="default", validation_alias="AUTOMATION_SCHEDULE_GROUP_NAME")
    scheduler_role_arn: str | None = Field(default=None, validation_alias="SCHEDULER_ROLE_ARN")
    bulk_state_machine_arn: str | None = Field(default=None, validation_alias="BULK_STATE_MACHINE_ARN")


# ---- which presence an activity goes to ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """A presence agents are moved to: the definition id (what the bulk body names) and its label (for people)."""

    presence_id: str
    label: str


class PresenceMapping:
    """Activity code -> target presence: the unit's ``mapping`` for the code's category, else the code's first
    ``secondaryPresences``; ``None`` when neither names a presence the org has (resolved once per code)."""

    def __init__(
        self,
        codes: Iterable[BusinessUnitActivityCode],
        mapping: dict[str, str],
        resolve: Callable[[str], OrganizationPresenceDefinition],
    ) -> None:
        self._codes = {code.id: code for code in codes}
        self._mapping = mapping
        self._resolve = resolve
        self._targets: dict[str, Target | None] = {}
        self.unresolved: set[str] = set()

    def category(self, code_id: str | None) -> str | None:
        code = self._codes.get(code_id) if code_id else None
        return code.category if code is not None else None

    def target(self, code_id: str | None) -> Target | None:
        if code_id is None:
            return None
        if code_id not in self._targets:
            self._targets[code_id] = self._load(code_id)
        return self._targets[code_id]

    def _load(self, code_id: str) -> Target | None:
        code = self._codes.get(code_id)
        if code is None or code.category is None:
            return None
        wanted = self._mapping.get(code.category)
        if wanted is None and code.secondary_presences:
            wanted = code.secondary_presences[0].id
        if wanted is None:
            return None
        try:
            definition = self._resolve(wanted)
        except PresenceDefinitionNotFound:
            self.unresolved.add(wanted)
            logger.warning("automation presence not found", extra={"presence": wanted, "category": code.category})
            return None
        return Target(presence_id=definition.id, label=definition.label)


# ---- transitions and groups (pure) -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Transition:
    user_id: str
    at: datetime  # when to move the agent: activity start - lead, whole minute, UTC
    starts: datetime  # when the activity starts
    category: str
    target: Target


def floor_minute(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def find_transitions(
    schedules: BuAgentSchedulesSearchResponse,
    mapping: PresenceMapping,
    *,
    lead_minutes: int,
    now: datetime,
    frozen_until: datetime,
    until: datetime,
) -> tuple[list[Transition], Counter[str]]:
    """Every activity starting after ``now`` whose instant (start - lead, whole minute) is in ``(frozen_until,
    until]`` and moves the agent to another presence; and how many were skipped, by reason: ``samePresence`` (the
    activity before it, ending where it starts, maps to the same presence), ``unmapped`` (no presence for it),
    ``tooSoon`` (its instant is already due or within :data:`FROZEN_SECONDS`)."""
    found: list[Transition] = []
    skipped: Counter[str] = Counter()
    lead = timedelta(minutes=lead_minutes)
    for agent in schedules.agent_schedules:
        for shift in agent.shifts:
            previous: Target | None = None
            previous_end: datetime | None = None
            for activity in sorted(shift.activities, key=lambda a: a.start_date):
                start = activity.start_date.astimezone(UTC)
                target = mapping.target(activity.activity_code_id)
                category = mapping.category(activity.activity_code_id)
                before = previous if previous_end is not None and previous_end >= start else None
                previous, previous_end = target, start + timedelta(minutes=activity.length_minutes)
                at = floor_minute(start - lead)
                if start <= now or at > until:
                    continue
                if at <= frozen_until:
                    skipped["tooSoon"] += 1
                elif target is None or category is None:
                    skipped["unmapped"] += 1
                elif before is not None and before.presence_id == target.presence_id:
                    skipped["samePresence"] += 1
                else:
                    found.append(Transition(agent.user.id, at, start, category, target))
    return found, skipped


@dataclass(frozen=True, slots=True)
class PlannedGroup:
    """The agents one schedule moves: one (instant, presence), one part of at most ``MAX_BULK_AGENTS``."""

    at: datetime
    starts: datetime
    target: Target
    categories: tuple[str, ...]
    user_ids: tuple[str, ...]
    part: int
    parts: int


def group_transitions(transitions: Iterable[Transition], *, max_agents: int = MAX_BULK_AGENTS) -> list[PlannedGroup]:
    """One group per (instant, presence), its agents sorted (so parts are stable from run to run) and split in
    parts of ``max_agents``; ordered by instant, then presence label."""
    by_key: dict[tuple[datetime, str], list[Transition]] = defaultdict(list)
    for transition in transitions:
        by_key[(transition.at, transition.target.presence_id)].append(transition)
    groups: list[PlannedGroup] = []

    def order(item: tuple[tuple[datetime, str], list[Transition]]) -> tuple[datetime, str, str]:
        (at, presence_id), members = item
        return at, members[0].target.label, presence_id

    for (at, _), members in sorted(by_key.items(), key=order):
        users = sorted({member.user_id for member in members})
        parts = -(-len(users) // max_agents)
        for part in range(parts):
            groups.append(
                PlannedGroup(
                    at=at,
                    starts=min(member.starts for member in members),
                    target=members[0].target,
                    categories=tuple(sorted({member.category for member in members})),
                    user_ids=tuple(users[part * max_agents : (part + 1) * max_agents]),
                    part=part,
                    parts=parts,
                )
            )
    return groups


# ---- schedules (pure) ------------------------------------------------------------------------------------------


def unit_prefix(management_unit_id: str) -> str:
    """``auto-<12 hex of the unit id's SHA-256>-``: every schedule of the unit, and only those, starts with it."""
    return f"{SCHEDULE_PREFIX}{hashlib.sha256(management_unit_id.encode()).hexdigest()[:12]}-"


def schedule_name(management_unit_id: str, at: datetime, presence_id: str, part: int) -> str:
    """Deterministic (a re-plan finds its own schedules), at most 43 characters of ``[0-9a-z-]`` (Scheduler: 64)."""
    digest = hashlib.sha256(f"{management_unit_id}|{to_utc_iso(at)}|{presence_id}|{part}".encode()).hexdigest()[:12]
    return f"{unit_prefix(management_unit_id)}{at.astimezone(UTC):{NAME_INSTANT_FORMAT}}-{digest}"


def instant_of(name: str, prefix: str) -> datetime | None:
    """The instant a schedule name of ours carries (``None``: not a name of ours)."""
    if not name.startswith(prefix):
        return None
    try:
        return datetime.strptime(name[len(prefix) : len(prefix) + 12], NAME_INSTANT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def requested_by(management_unit_id: str) -> str:
    return f"{REQUESTED_BY_PREFIX}{management_unit_id}"


def bulk_body(group: PlannedGroup, management_unit_id: str, config: AutomationConfig) -> dict[str, Any]:
    """The bulk change a schedule starts, validated as the bulk state machine will validate it."""
    body: dict[str, Any] = {
        "userIds": list(group.user_ids),
        "presence": group.target.presence_id,
        "reason": f"follows the WFM schedule: {'/'.join(group.categories)} at {to_utc_iso(group.starts)}",
        "requestedBy": requested_by(management_unit_id),
        "dryRun": config.dry_run,
        # Made lead minutes ahead: judged against the activity it prepares for, not the one ending.
        "activityAt": to_utc_iso(group.starts),
    }
    if config.respect_own_changes_minutes:
        body["respectOwnChangesMinutes"] = config.respect_own_changes_minutes
    parse_bulk_request(body)
    return body


def schedule_spec(
    group: PlannedGroup, management_unit_id: str, config: AutomationConfig, *, target_arn: str, role_arn: str
) -> dict[str, Any]:
    """CreateSchedule/UpdateSchedule arguments (all but ``Name`` and ``GroupName``)."""
    body = bulk_body(group, management_unit_id, config)
    part = f" part {group.part + 1}/{group.parts}" if group.parts > 1 else ""
    description = (
        f"presence follows the schedule: {len(group.user_ids)} agents of management unit {management_unit_id} to "
        f"{group.target.label} ({'/'.join(group.categories)}){part}"
    )
    return {
        "ScheduleExpression": f"at({group.at.astimezone(UTC):{AT_FORMAT}})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "State": "ENABLED",
        "Description": description[:512],
        "Target": {
            "Arn": target_arn,
            "RoleArn": role_arn,
            "Input": json.dumps(body, sort_keys=True, separators=(",", ":")),
        },
    }


def _fingerprint(schedule: dict[str, Any]) -> tuple[Any, ...]:
    target = schedule.get("Target") or {}
    return (
        schedule.get("ScheduleExpression"),
        schedule.get("ScheduleExpressionTimezone") or "UTC",
        schedule.get("State") or "ENABLED",
        target.get("Arn"),
        target.get("RoleArn"),
        target.get("Input"),
    )


def _owner(schedule: dict[str, Any]) -> str | None:
    try:
        body = json.loads((schedule.get("Target") or {}).get("Input") or "{}")
    except ValueError:
        return None
    return body.get("requestedBy") if isinstance(body, dict) else None


# ---- Scheduler -------------------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # not planned any more, but due within FROZEN_SECONDS (or not ours)


def list_schedule_names(scheduler: Any, group_name: str, prefix: str) -> set[str]:
    names: set[str] = set()
    token: str | None = None
    while True:
        page = scheduler.list_schedules(
            GroupName=group_name, NamePrefix=prefix, **({"NextToken": token} if token else {})
        )
        names.update(s["Name"] for s in page.get("Schedules", []) if s["Name"].startswith(prefix))
        token = page.get("NextToken")
        if not token:
            return names


def _get(scheduler: Any, group_name: str, name: str) -> dict[str, Any] | None:
    try:
        return scheduler.get_schedule(Name=name, GroupName=group_name)
    except scheduler.exceptions.ResourceNotFoundException:
        return None  # it ran (and deleted itself) since it was listed


def sync_schedules(
    scheduler: Any,
    group_name: str,
    prefix: str,
    desired: dict[str, dict[str, Any]],
    *,
    owner: str,
    frozen_until: datetime,
) -> SyncResult:
    """Make the group's schedules named ``prefix*`` be ``desired``: create the missing, update the changed, delete
    the others of ``owner`` that are not due within the frozen horizon."""
    result = SyncResult()
    existing = list_schedule_names(scheduler, group_name, prefix)
    for name, spec in sorted(desired.items()):
        current = _get(scheduler, group_name, name) if name in existing else None
        if current is None:
            try:
                scheduler.create_schedule(Name=name, GroupName=group_name, **spec)
                result.created.append(name)
                continue
            except scheduler.exceptions.ConflictException:  # another run created it meanwhile
                current = _get(scheduler, group_name, name)
        if current is not None and _fingerprint(current) == _fingerprint(spec):
            result.unchanged.append(name)
            continue
        scheduler.update_schedule(Name=name, GroupName=group_name, **spec)
        result.updated.append(name)
    for name in sorted(existing - desired.keys()):
        at = instant_of(name, prefix)
        if at is None or at <= frozen_until:
            result.kept.append(name)
            continue
        current = _get(scheduler, group_name, name)
        if current is None:
            continue
        if _owner(current) != owner:
            logger.warning("schedule with our prefix is not ours; left alone", extra={"schedule": name})
            result.kept.append(name)
            continue
        try:
            scheduler.delete_schedule(Name=name, GroupName=group_name)
        except scheduler.exceptions.ResourceNotFoundException:
            continue
        result.deleted.append(name)
    return result


# ---- what a run answers ----------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class PlannedInstant(_Model):
    """One instant and presence: when, to what, why, how many agents, and its schedule(s)."""

    at: str
    presence: str
    presence_id: str
    category: str
    agents: int
    schedules: list[str] = Field(default_factory=list)


class ScheduleChanges(_Model):
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    kept: int = 0


PlanStatus = Literal["planned", "preview", "processing", "failed"]


class PlanResult(_Model):
    """``planned``: schedules made to match; ``preview``: automation is off - the instants it would plan, and none
    of its schedules left; ``processing``: the schedule search answered Processing - nothing changed this run."""

    management_unit_id: str
    business_unit_id: str | None = None
    status: PlanStatus
    enabled: bool
    dry_run: bool
    lead_minutes: int
    planned_at: str
    window_start: str
    window_end: str
    instants: list[PlannedInstant] = Field(default_factory=list)
    schedules: ScheduleChanges = Field(default_factory=ScheduleChanges)
    skipped: dict[str, int] = Field(default_factory=dict)
    message: str | None = None

    def summary(self) -> dict[str, Any]:
        """What the unit's configuration keeps as ``lastPlan``."""
        return {
            "plannedAt": self.planned_at,
            "status": self.status,
            "instants": len(self.instants),
            "agents": sum(instant.agents for instant in self.instants),
            "schedules": self.schedules.to_json(),
            "message": self.message,
        }


def summarize_instants(groups: list[PlannedGroup], names: list[str]) -> list[PlannedInstant]:
    instants: dict[tuple[datetime, str], PlannedInstant] = {}
    for group, name in zip(groups, names, strict=True):
        key = (group.at, group.target.presence_id)
        instant = instants.get(key)
        if instant is None:
            instants[key] = PlannedInstant(
                at=to_utc_iso(group.at),
                presence=group.target.label,
                presence_id=group.target.presence_id,
                category="/".join(group.categories),
                agents=len(group.user_ids),
                schedules=[name],
            )
        else:
            instant.agents += len(group.user_ids)
            instant.schedules.append(name)
    return list(instants.values())


# ---- the planner -----------------------------------------------------------------------------------------------


class Planner:
    def __init__(
        self,
        *,
        genesys: GenesysClient,
        scheduler: Any,
        store: AutomationStore,
        settings: AutomationSettings,
        now: Callable[[], datetime],
    ) -> None:
        self._genesys = genesys
        self._scheduler = scheduler
        self._store = store
        self._settings = settings
        self._now = now

    def _business_unit(self, management_unit_id: str, users: list[str]) -> str:
        for unit in self._genesys.get_management_units():
            if unit.id == management_unit_id and unit.business_unit is not None:
                return unit.business_unit.id
        if users:  # a unit created after the cached listing: its first agent names its business unit
            return self._genesys.get_agent_management_unit(users[0]).business_unit.id
        raise GenesysNotFound(
            f"no management unit {management_unit_id} with agents in Genesys Cloud", managementUnitId=management_unit_id
        )

    def plan(self, management_unit_id: str) -> PlanResult:
        """Plan one unit now (see the module docstring); its result is also kept as the unit's ``lastPlan``."""
        mu = management_unit_id
        config = (self._store.get(mu) or default_automation(mu)).config()
        now = self._now().astimezone(UTC)
        frozen_until = now + timedelta(seconds=FROZEN_SECONDS)
        until = now + timedelta(hours=config.window_hours)
        users = [user.id for user in self._genesys.get_management_unit_users(mu)]
        business_unit = self._business_unit(mu, users)
        result = PlanResult(
            management_unit_id=mu,
            business_unit_id=business_unit,
            status="planned" if config.enabled else "preview",
            enabled=config.enabled,
            dry_run=config.dry_run,
            lead_minutes=config.lead_minutes,
            planned_at=to_utc_iso(now),
            window_start=to_utc_iso(now),
            window_end=to_utc_iso(until),
        )
        schedules = BuAgentSchedulesSearchResponse()
        if users:
            end = until + timedelta(minutes=config.lead_minutes)
            try:
                schedules = self._genesys.search_agent_schedules(mu, now, end, users)
            except GenesysScheduleProcessing as exc:
                logger.warning("schedule search Processing: no plan this run", extra={"managementUnitId": mu})
                result.status = "processing"
                result.message = f"the schedule search answered Processing; nothing changed this run ({exc.message})"
                self._store.record_plan(mu, result.summary())
                return result
        mapping = PresenceMapping(
            self._genesys.get_activity_codes(business_unit), config.mapping, self._genesys.resolve_presence
        )
        transitions, skipped = find_transitions(
            schedules, mapping, lead_minutes=config.lead_minutes, now=now, frozen_until=frozen_until, until=until
        )
        groups = group_transitions(transitions)
        names = [schedule_name(mu, g.at, g.target.presence_id, g.part) for g in groups]
        desired: dict[str, dict[str, Any]] = {}
        if config.enabled and groups:
            target_arn, role_arn = self._targets()
            desired = {
                name: schedule_spec(group, mu, config, target_arn=target_arn, role_arn=role_arn)
                for group, name in zip(groups, names, strict=True)
            }
        sync = sync_schedules(
            self._scheduler,
            self._settings.schedule_group_name,
            unit_prefix(mu),
            desired,
            owner=requested_by(mu),
            frozen_until=frozen_until,
        )
        result.instants = summarize_instants(groups, names)
        result.schedules = ScheduleChanges(
            created=len(sync.created),
            updated=len(sync.updated),
            deleted=len(sync.deleted),
            unchanged=len(sync.unchanged),
            kept=len(sync.kept),
        )
        result.skipped = dict(sorted(skipped.items()))
        if mapping.unresolved:
            result.message = f"presences not found in the org (not followed): {', '.join(sorted(mapping.unresolved))}"
        logger.info(
            "automation planned",
            extra={
                "managementUnitId": mu,
                "status": result.status,
                "agents": len(users),
                "instants": len(result.instants),
                "schedules": result.schedules.to_json(),
                "skipped": result.skipped,
            },
        )
        self._store.record_plan(mu, result.summary())
        return result

    def _targets(self) -> tuple[str, str]:
        target, role = self._settings.bulk_state_machine_arn, self._settings.scheduler_role_arn
        if not target or not role:
            raise RuntimeError("BULK_STATE_MACHINE_ARN and SCHEDULER_ROLE_ARN must be configured to plan schedules")
        return target, role

    def clear(self, management_unit_id: str) -> SyncResult:
        """Remove the unit's planned schedules (not those due within the frozen horizon): automation turned off."""
        now = self._now().astimezone(UTC)
        return sync_schedules(
            self._scheduler,
            self._settings.schedule_group_name,
            unit_prefix(management_unit_id),
            {},
            owner=requested_by(management_unit_id),
            frozen_until=now + timedelta(seconds=FROZEN_SECONDS),
        )

    def plan_units(self, management_unit_ids: Iterable[str]) -> list[PlanResult]:
        """Plan several units, one failing not stopping the others (an empty rate budget stops the run: the next
        run plans what is left). A failure is kept as the unit's ``lastPlan``."""
        results: list[PlanResult] = []
        for mu in management_unit_ids:
            try:
                results.append(self.plan(mu))
            except PresenceManagerError as exc:
                logger.warning("automation plan failed", extra={"managementUnitId": mu, "error": exc.message})
                planned_at = to_utc_iso(self._now())
                self._store.record_plan(
                    mu, {"plannedAt": planned_at, "status": "failed", "message": f"{exc.code}: {exc.message}"}
                )
                if isinstance(exc, GenesysRateLimited):
                    break
        return results

    def plan_enabled(self) -> list[PlanResult]:
        """The recurring run: every unit whose automation is on."""
        return self.plan_units(self._store.enabled_units())

    def plan_business_unit(self, business_unit_id: str, management_unit_ids: list[str] | None) -> list[PlanResult]:
        """A WFM schedule of a business unit changed: re-plan its enabled units (those the notification names, or
        every unit of the business unit when it names none)."""
        enabled = self._store.enabled_units()
        if management_unit_ids:
            wanted = set(management_unit_ids)
        else:
            wanted = {
                unit.id
                for unit in self._genesys.get_management_units()
                if unit.business_unit is not None and unit.business_unit.id == business_unit_id
            }
        return self.plan_units(mu for mu in enabled if mu in wanted)


def planner_from_env() -> Planner:
    from presence_manager import dependencies as deps

    return Planner(
        genesys=deps.genesys(),
        scheduler=deps.aws_client("scheduler"),
        store=AutomationStore(deps.dynamodb(), deps.settings().agent_table_name),
        settings=AutomationSettings(),
        now=deps.now,
    )


# ---- what invokes the planner ----------------------------------------------------------------------------------


class WfmBuScheduleTopicManagementUnit(GenesysModel):
    id: str


class WfmBuScheduleTopicBuManagementUnitScheduleSummary(GenesysModel):
    management_unit: WfmBuScheduleTopicManagementUnit | None = None
    start_date: AwareDatetime | None = None
    end_date: AwareDatetime | None = None
    agent_count: int | None = None


class WfmBuScheduleTopicBuScheduleMetadata(GenesysModel):
    id: str | None = None
    week_date: str | None = None
    week_count: int | None = None
    description: str | None = None
    published: bool | None = None
    management_units: list[WfmBuScheduleTopicBuManagementUnitScheduleSummary] = Field(default_factory=list)


class WfmBuScheduleTopicBuScheduleNotification(GenesysModel):
    """``eventBody`` of ``v2.workforcemanagement.businessunits.{id}.schedules`` (the SDK model of the same name)."""

    status: Literal["Processing", "Complete", "Canceled", "Error"] | None = None
    operation_id: str | None = None
    event_type: Literal["Update", "Import", "Copy", "Delete"] | None = None
    result: WfmBuScheduleTopicBuScheduleMetadata | None = None


@dataclass(frozen=True, slots=True)
class PlannerRequest:
    """What an invocation asks: one unit, every enabled unit, a business unit's units, or nothing (``reason``)."""

    kind: Literal["unit", "enabled", "businessUnit", "ignored"]
    management_unit_id: str | None = None
    business_unit_id: str | None = None
    management_unit_ids: list[str] | None = None
    reason: str | None = None


def _ignored(reason: str) -> PlannerRequest:
    return PlannerRequest(kind="ignored", reason=reason)


def parse_planner_event(event: Any) -> PlannerRequest:
    """``{"managementUnitId": id}``; ``{}`` (the recurring schedule) or an EventBridge "Scheduled Event"; or a
    Genesys EventBridge event whose ``detail.topicName`` is a business unit's schedules topic. Anything else is
    ignored with the reason (logged by the handler, never raised: a bad event must not fail a batch)."""
    if not isinstance(event, dict):
        return _ignored("the event is not an object")
    if not event or event.get("detail-type") == "Scheduled Event":
        return PlannerRequest(kind="enabled")
    if "managementUnitId" in event:
        unit = event["managementUnitId"]
        if not isinstance(unit, str) or UUID_PATTERN.fullmatch(unit) is None:
            return _ignored("managementUnitId is not a Genesys Cloud id")
        return PlannerRequest(kind="unit", management_unit_id=unit.lower())
    detail = event.get("detail")
    topic = detail.get("topicName") if isinstance(detail, dict) else None
    match = SCHEDULE_TOPIC.fullmatch(topic) if isinstance(topic, str) else None
    if match is None or UUID_PATTERN.fullmatch(match.group(1)) is None:
        return _ignored(f"not a WFM schedule notification (topic {str(topic)[:120]!r})")
    assert isinstance(detail, dict)
    try:
        body = WfmBuScheduleTopicBuScheduleNotification.model_validate(detail.get("eventBody"))
    except ValidationError as exc:
        return _ignored(f"malformed schedule notification: {exc.error_count()} problem(s)")
    if body.status not in (None, "Complete"):
        return _ignored(f"schedule notification {body.status}")
    if body.result is not None and body.result.published is False and body.event_type != "Delete":
        return _ignored("the schedule is not published")
    units = [
        summary.management_unit.id.lower()
        for summary in (body.result.management_units if body.result else [])
        if summary.management_unit is not None
    ]
    return PlannerRequest(
        kind="businessUnit", business_unit_id=match.group(1).lower(), management_unit_ids=units or None
    )
