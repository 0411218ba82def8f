"""The org the simulator serves: its runtime entities (users with presence, routing status, skills and schedule) and
:class:`OrgBase`, the part of :class:`~.state.SimulatorState` every concern shares — the lock, the clock, the org's
lookups and the indexes that keep every request O(ids asked for), never O(org size)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from presence_manager_local.simulator.common import (
    iso_ms,
    normalize_system_presence,
    truncate_ms,
    wire_system_presence,
)
from presence_manager_local.simulator.errors import not_found
from presence_manager_local.simulator.events import EventEmitter, presence_topic, routing_status_topic
from presence_manager_local.simulator.fixture import (
    ActivityCodeSpec,
    AgentSchedule,
    BusinessUnitSpec,
    Fixture,
    ManagementUnitSpec,
    PresenceDefinitionSpec,
    SkillSpec,
    pattern_schedule,
    personalize,
)


@dataclass(slots=True)
class SkillAssignment:
    skill_id: str
    proficiency: float
    state: str = "active"


@dataclass(slots=True)
class UserState:
    id: str
    name: str
    email: str
    department: str | None
    schedule_pattern: str
    management_unit_id: str | None
    business_unit_id: str | None
    definition_id: str
    message: str
    primary: bool
    modified_date: datetime
    routing_status: str
    routing_start: datetime
    skills: dict[str, SkillAssignment] = field(default_factory=dict)
    schedule: AgentSchedule | None = None


class OrgBase:
    """The org's data and lookups. Subclasses (the concerns) take :attr:`lock` in every public method."""

    lock: threading.RLock
    _clock: Callable[[], datetime]
    fixture: Fixture
    loaded_at: datetime
    definitions: dict[str, PresenceDefinitionSpec]
    skills: dict[str, SkillSpec]
    business_units: dict[str, BusinessUnitSpec]
    management_units: dict[str, tuple[ManagementUnitSpec, BusinessUnitSpec]]
    users: dict[str, UserState]
    #: management unit id → its agents in fixture order
    members: dict[str, list[UserState]]
    #: user id → position in their management unit (the order schedule searches answer in)
    member_rank: dict[str, int]
    #: schedule pattern → user ids
    by_pattern: dict[str, list[str]]
    #: every user, by name (``GET /api/v2/users`` without ids)
    users_by_name: list[UserState]
    #: business unit id → activity code id → code
    activity_code_index: dict[str, dict[str, ActivityCodeSpec]]
    #: notification events of every presence and routing-status change (:mod:`.events`)
    events: EventEmitter

    def now(self) -> datetime:
        instant = self._clock()
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)

    # ---- building -----------------------------------------------------------------------------------------------

    def load_org(self, fixture: Fixture) -> None:
        """Replace the org by ``fixture``'s, schedules generated around now (call with :attr:`lock` held)."""
        now = self.now()
        self.fixture = fixture
        self.loaded_at = now
        self.definitions = {d.id: d for d in fixture.presence_definitions}
        self.skills = {s.id: s for s in fixture.skills}
        self.business_units = {b.id: b for b in fixture.business_units}
        self.management_units = fixture.units_by_management_unit()
        self.activity_code_index = {b.id: {c.id: c for c in b.activity_codes} for b in fixture.business_units}
        self.users = {}
        self.members = {mu_id: [] for mu_id in self.management_units}
        self.member_rank = {}
        self.by_pattern = {name: [] for name in fixture.schedule_patterns}
        templates: dict[tuple[str, str], AgentSchedule] = {}
        presences: dict[str, PresenceDefinitionSpec] = {}
        for index, spec in enumerate(fixture.users):
            unit = self.management_units[spec.management_unit_id][1] if spec.management_unit_id else None
            schedule = None
            on_shift = False
            if unit is not None:
                key = (spec.schedule_pattern, unit.id)
                template = templates.get(key)
                if template is None:
                    template = pattern_schedule(fixture.schedule_patterns[spec.schedule_pattern], unit, now)
                    templates[key] = template
                schedule = personalize(template, spec.id)
                on_shift = template.on_shift_at(now)
            reference = spec.presence if on_shift or not spec.presence_off_shift else spec.presence_off_shift
            definition = presences.get(reference)
            if definition is None:
                definition = presences[reference] = self.resolve_presence(reference)
            age = index % 480
            changed = truncate_ms(now - timedelta(minutes=3 * (age + 1), seconds=17 * age))
            on_queue = definition.system_presence == "OnQueue"
            user = UserState(
                id=spec.id,
                name=spec.name,
                email=spec.email,
                department=spec.department,
                schedule_pattern=spec.schedule_pattern,
                management_unit_id=spec.management_unit_id,
                business_unit_id=unit.id if unit else None,
                definition_id=definition.id,
                message=spec.message,
                primary=True,
                modified_date=changed,
                routing_status=(spec.routing_status or "IDLE") if on_queue else "OFF_QUEUE",
                routing_start=changed,
                skills={s.id: SkillAssignment(s.id, float(s.proficiency), s.state) for s in spec.skills},
                schedule=schedule,
            )
            self.users[user.id] = user
            self.by_pattern[user.schedule_pattern].append(user.id)
            if user.management_unit_id is not None:
                mu_members = self.members[user.management_unit_id]
                self.member_rank[user.id] = len(mu_members)
                mu_members.append(user)
        self.users_by_name = sorted(self.users.values(), key=lambda u: (u.name.lower(), u.id))

    # ---- lookups ------------------------------------------------------------------------------------------------

    def resolve_presence(self, reference: str, *, active_only: bool = True) -> PresenceDefinitionSpec:
        """A presence definition by id, en_US label or system presence (``On Queue`` and ``OnQueue`` alike)."""
        with self.lock:
            if reference in self.definitions:
                return self.definitions[reference]
            candidates = [d for d in self.definitions.values() if not (active_only and d.deactivated)]
            lowered = reference.strip().lower()
            by_label = [d for d in candidates if d.label.lower() == lowered]
            if by_label:
                return sorted(by_label, key=lambda d: d.type != "System")[0]
            system = normalize_system_presence(reference)
            for definition in candidates:
                if definition.type == "System" and definition.system_presence == system:
                    return definition
            raise KeyError(f"no presence definition {reference!r}")

    def _user(self, user_id: str) -> UserState:
        user = self.users.get(user_id)
        if user is None:
            raise not_found(f"The user {user_id} could not be found.", entity_id=user_id)
        return user

    def _stamp(self, previous: datetime | None) -> datetime:
        """Now in milliseconds, strictly later than ``previous``."""
        stamp = truncate_ms(self.now())
        if previous is not None and stamp <= previous:
            stamp = previous + timedelta(milliseconds=1)
        return stamp

    def _business_unit(self, business_unit_id: str) -> BusinessUnitSpec:
        unit = self.business_units.get(business_unit_id)
        if unit is None:
            raise not_found(f"Business unit {business_unit_id} not found", entity_id=business_unit_id)
        return unit

    def _management_unit_users(self, management_unit_id: str) -> list[UserState]:
        members = self.members.get(management_unit_id)
        if members is None:
            raise not_found(f"Management unit {management_unit_id} not found", entity_id=management_unit_id)
        return members

    # ---- JSON shared by several concerns ------------------------------------------------------------------------

    def _definition_json(self, definition: PresenceDefinitionSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": definition.id,
            "type": definition.type,
            "languageLabels": dict(definition.language_labels),
            "systemPresence": definition.system_presence,
        }
        if definition.division_id:
            body["divisionId"] = definition.division_id
        body["deactivated"] = definition.deactivated
        body["selfUri"] = f"/api/v2/presence/definitions/{definition.id}"
        return body

    def _presence_definition_ref(self, user: UserState) -> dict[str, Any]:
        definition = self.definitions[user.definition_id]
        return {
            "id": definition.id,
            "systemPresence": wire_system_presence(definition.system_presence),
            "selfUri": f"/api/v2/presencedefinitions/{definition.id}",
        }

    def _user_presence_json(self, user: UserState) -> dict[str, Any]:
        return {
            "id": user.id,
            "source": "PURECLOUD",
            "primary": user.primary,
            "presenceDefinition": self._presence_definition_ref(user),
            "message": user.message,
            "modifiedDate": iso_ms(user.modified_date),
            "selfUri": f"/api/v2/users/{user.id}/presences/purecloud",
        }

    def _emit_presence(self, user: UserState) -> None:
        """``v2.users.{id}.presence`` with the presence now (SDK ``PresenceEventUserPresence``)."""
        definition = self.definitions[user.definition_id]
        system_presence = wire_system_presence(definition.system_presence)
        body: dict[str, Any] = {
            "source": "PURECLOUD",
            "presenceDefinition": {"id": definition.id, "systemPresence": system_presence},
            "primary": user.primary,
            "message": user.message,
            "modifiedDate": iso_ms(user.modified_date),
        }
        self.events.emit(presence_topic(user.id), body)

    def _emit_routing_status(self, user: UserState) -> None:
        """``v2.users.{id}.routingStatus`` with the routing status now (SDK ``UserRoutingStatusUserRoutingStatus``)."""
        routing = {"status": user.routing_status, "startTime": iso_ms(user.routing_start)}
        self.events.emit(routing_status_topic(user.id), {"id": user.id, "routingStatus": routing})

    def _routing_status_json(self, user: UserState) -> dict[str, Any]:
        return {"userId": user.id, "status": user.routing_status, "startTime": iso_ms(user.routing_start)}

    def _sorted_skills(self, user: UserState) -> list[SkillAssignment]:
        return sorted(user.skills.values(), key=lambda a: self.skills[a.skill_id].name.lower())
