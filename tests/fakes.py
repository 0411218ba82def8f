"""An in-memory Genesys Cloud for unit tests of the workflow steps (the real client is tested on its own)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from presence_manager.errors import (
    GenesysNotFound,
    GenesysScheduleProcessing,
    GenesysWriteUnconfirmed,
    PresenceDefinitionNotFound,
)
from presence_manager.genesys.models import (
    AgentManagementUnitReference,
    BuAgentScheduleActivity,
    BuAgentScheduleSearchResponse,
    BuAgentScheduleShift,
    BuAgentSchedulesSearchResponse,
    BusinessUnitActivityCode,
    EntityRef,
    MutableUserPresence,
    OrganizationPresenceDefinition,
    PresenceDefinition,
    RoutingStatus,
    Schedule,
    ScheduleGroup,
    UcUserPresence,
    UserPresence,
    UserRoutingSkill,
    UserRoutingSkillPost,
)

DEFINITIONS = [
    OrganizationPresenceDefinition(id=f"def-{name.lower()}", name=name, type="System", system_presence=name)
    for name in ("Available", "Away", "Busy", "Offline", "OnQueue", "Break", "Meal")
]
ON_QUEUE_WORK = BusinessUnitActivityCode(id="code-work", name="Work", category="OnQueueWork")


@dataclass
class FakeGenesys:
    now: datetime
    presences: dict[str, UserPresence] = field(default_factory=dict)
    routing: dict[str, str] = field(default_factory=dict)
    skills: dict[str, dict[str, UserRoutingSkill]] = field(default_factory=dict)
    shifts: dict[str, list[BuAgentScheduleShift]] = field(default_factory=dict)
    units: set[str] = field(default_factory=set)
    time_zone: str = "America/New_York"
    calls: list[str] = field(default_factory=list)
    edit_after_get: int = 0  # concurrent edits: the next N presence GETs are followed by a change
    lose_patch_answers: int = 0  # the next N PATCHes: the answer is lost (GenesysWriteUnconfirmed)
    patch_lands: bool = True  # ... and whether such a PATCH lands anyway
    schedule_processing: bool = False  # schedule searches answer Processing
    lose_skill_answers: int = 0  # the next N bulk skill PATCHes land but their answer is lost
    reservations: list[int] = field(default_factory=list)  # calls each step reserved from the rate budget
    schedule_groups: dict[str, ScheduleGroup] = field(default_factory=dict)  # Architect business hours
    schedules: dict[str, Schedule] = field(default_factory=dict)

    def add_agent(self, user_id: str, presence: str = "Available", *, on_shift: bool = True) -> None:
        self.units.add(user_id)
        self.presences[user_id] = UserPresence(
            presence_definition=PresenceDefinition(id=f"def-{presence.lower()}", system_presence=presence),
            message="",
            modified_date=self.now - timedelta(hours=1),
        )
        self.skills[user_id] = {}
        start = self.now - timedelta(hours=2) if on_shift else self.now + timedelta(hours=3)
        activity = BuAgentScheduleActivity(start_date=start, length_minutes=480, activity_code_id=ON_QUEUE_WORK.id)
        self.shifts[user_id] = [
            BuAgentScheduleShift(id="s1", start_date=start, length_minutes=480, activities=[activity])
        ]

    # ---- the GenesysClient surface the workflow uses ----
    @contextmanager
    def reserved(self, calls: int, *, resume_calls: int = 0) -> Iterator[None]:
        self.reservations.append(calls)
        yield

    def calls_in_step(self) -> int:
        return len(self.calls)

    def get_presence_definitions(self) -> list[OrganizationPresenceDefinition]:
        return DEFINITIONS

    def resolve_presence(self, name_or_id: str) -> OrganizationPresenceDefinition:
        wanted = name_or_id.replace(" ", "").lower()
        for definition in DEFINITIONS:
            if wanted in {definition.id, definition.system_presence.lower()}:
                return definition
        raise PresenceDefinitionNotFound(f"unknown presence {name_or_id!r}")

    def get_user_presence(self, user_id: str) -> UserPresence:
        self.calls.append("GET presence")
        if user_id not in self.presences:
            raise GenesysNotFound("user not found", status=404)
        presence = self.presences[user_id]
        if self.edit_after_get:
            self.edit_after_get -= 1
            self._set(user_id, "Busy" if presence.presence_definition.system_presence != "Busy" else "Away", "clicked")
        return presence

    def get_users_presences_bulk(self, user_ids: list[str]) -> list[UcUserPresence]:
        assert len(user_ids) <= 50, "Genesys reads at most 50 presences at once"
        self.calls.append("GET presences bulk")
        found = []
        for user_id in user_ids:
            if user_id not in self.presences:
                continue
            presence = self.presences[user_id]
            found.append(
                UcUserPresence(
                    id=user_id,
                    presence_definition=presence.presence_definition,
                    message=presence.message,
                    modified_date=presence.modified_date,
                )
            )
            if self.edit_after_get:
                self.edit_after_get -= 1
                current = presence.presence_definition.system_presence
                self._set(user_id, "Busy" if current != "Busy" else "Away", "clicked")
        return found

    def put_users_presences_bulk(self, items: list[MutableUserPresence]) -> list[UserPresence]:
        self.calls.append("PUT presences bulk")
        if self.lose_patch_answers:
            self.lose_patch_answers -= 1
            if self.patch_lands:
                for item in items:
                    definition = next(d for d in DEFINITIONS if d.id == item.presence_definition.id)
                    self._set(item.id, definition.system_presence, item.message)
            raise GenesysWriteUnconfirmed("PUT timed out", retryAfterSeconds=60)
        written = []
        for item in items:
            definition = next(d for d in DEFINITIONS if d.id == item.presence_definition.id)
            written.append(
                self._set(item.id, definition.system_presence, item.message).model_copy(update={"id": item.id})
            )
        return written

    def get_users_routing_status(self, user_ids: list[str]) -> dict[str, str]:
        self.calls.append("GET users routingStatus")
        return {user_id: self.routing.get(user_id, "IDLE") for user_id in user_ids if user_id in self.presences}

    def agent_directory(self) -> dict[str, AgentManagementUnitReference]:
        self.calls.append("GET directory")
        return {user_id: self.get_agent_management_unit(user_id) for user_id in sorted(self.units)}

    def get_management_unit_users(self, management_unit_id: str) -> list[EntityRef]:
        self.calls.append("GET managementunit users")
        return [EntityRef(id=user_id) for user_id in sorted(self.units)]

    def patch_user_presence(self, user_id: str, definition_id: str, message: str | None) -> UserPresence:
        self.calls.append("PATCH presence")
        definition = next(d for d in DEFINITIONS if d.id == definition_id)
        if self.lose_patch_answers:
            self.lose_patch_answers -= 1
            if self.patch_lands:
                self._set(user_id, definition.system_presence, message)
            raise GenesysWriteUnconfirmed("PATCH timed out", retryAfterSeconds=60)
        return self._set(user_id, definition.system_presence, message)

    def _set(self, user_id: str, system_presence: str, message: str | None) -> UserPresence:
        old = self.presences[user_id]
        self.presences[user_id] = UserPresence(
            presence_definition=PresenceDefinition(
                id=f"def-{system_presence.lower()}", system_presence=system_presence
            ),
            message=message if message is not None else old.message,
            modified_date=(old.modified_date or self.now) + timedelta(seconds=1),
        )
        return self.presences[user_id]

    def get_routing_status(self, user_id: str) -> RoutingStatus:
        self.calls.append("GET routingstatus")
        return RoutingStatus(user_id=user_id, status=self.routing.get(user_id, "IDLE"))

    def get_agent_management_unit(self, user_id: str) -> AgentManagementUnitReference:
        self.calls.append("GET managementunit")
        if user_id not in self.units:
            raise GenesysNotFound("no management unit", status=404)
        return AgentManagementUnitReference(management_unit=EntityRef(id="mu-1"), business_unit=EntityRef(id="bu-1"))

    def get_business_unit_time_zone(self, bu_id: str) -> str:
        return self.time_zone

    def search_agent_schedules(
        self, management_unit_id: str, start: datetime, end: datetime, user_ids: list[str]
    ) -> BuAgentSchedulesSearchResponse:
        self.calls.append("POST schedules search")
        if self.schedule_processing:
            raise GenesysScheduleProcessing("Processing", operationId="op-1")
        return BuAgentSchedulesSearchResponse(
            agent_schedules=[
                BuAgentScheduleSearchResponse(user=EntityRef(id=u), shifts=self.shifts.get(u, [])) for u in user_ids
            ],
            business_unit_time_zone=self.time_zone,
        )

    def get_schedule_group(self, schedule_group_id: str) -> ScheduleGroup:
        self.calls.append("GET schedulegroup")
        return self.schedule_groups[schedule_group_id]

    def get_schedule(self, schedule_id: str) -> Schedule:
        self.calls.append("GET schedule")
        return self.schedules[schedule_id]

    def get_activity_codes(self, bu_id: str) -> list[BusinessUnitActivityCode]:
        return [ON_QUEUE_WORK]

    def get_user_routing_skills(self, user_id: str) -> list[UserRoutingSkill]:
        self.calls.append("GET skills")
        return list(self.skills[user_id].values())

    def patch_user_routing_skills_bulk(
        self, user_id: str, skills: list[UserRoutingSkillPost]
    ) -> list[UserRoutingSkill]:
        self.calls.append("PATCH skills bulk")
        if self.lose_skill_answers:
            self.lose_skill_answers -= 1
            for skill in skills:
                self.skills[user_id][skill.id] = UserRoutingSkill(
                    id=skill.id, name=f"Skill {skill.id}", proficiency=skill.proficiency, state="active"
                )
            raise GenesysWriteUnconfirmed("PATCH skills timed out", retryAfterSeconds=60)
        for skill in skills:
            self.skills[user_id][skill.id] = UserRoutingSkill(
                id=skill.id, name=f"Skill {skill.id}", proficiency=skill.proficiency, state="active"
            )
        return list(self.skills[user_id].values())

    def put_user_routing_skill(self, user_id: str, skill: UserRoutingSkill) -> UserRoutingSkill:
        self.calls.append("PUT skill")
        self.skills[user_id][skill.id] = skill
        return skill

    def delete_user_routing_skill(self, user_id: str, skill_id: str) -> None:
        self.calls.append("DELETE skill")
        self.skills[user_id].pop(skill_id, None)
