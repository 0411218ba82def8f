"""pydantic models of the Genesys Cloud payloads we use.

Field JSON names are exactly those of ``purecloudplatformclientv2`` models' ``attribute_map`` (camelCase of the
snake_case attribute); enum values are the SDK setters' ``allowed_values``. Responses ignore fields we do not use,
requests never send a field the SDK model does not have (contract-tested in tests/contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SystemPresence = Literal[
    "Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal", "Training", "Meeting", "Break"
]
RoutingStatusValue = Literal["OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING"]
SkillState = Literal["active", "inactive", "deleted"]
ActivityCategory = Literal[
    "OnQueueWork", "Break", "Meal", "Meeting", "OffQueueWork", "TimeOff", "Training", "Unavailable"
]
ScheduleSearchStatus = Literal["Processing", "Complete", "Canceled", "Error"]

LIVE_INTERACTION_STATUSES: frozenset[str] = frozenset({"INTERACTING", "COMMUNICATING"})


def normalize_system_presence(value: str) -> str:
    """User presence payloads say ``"On Queue"`` on the wire while the definitions enum says ``OnQueue``."""
    compact = value.replace(" ", "").replace("_", "")
    for known in SystemPresence.__args__:  # type: ignore[attr-defined]
        if known.lower() == compact.lower():
            return known
    return value


class GenesysModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    def to_json(self) -> dict:
        """The wire form: SDK field names, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class EntityRef(GenesysModel):
    id: str
    self_uri: str | None = None


# ---- Errors ---------------------------------------------------------------------------------------------


class ErrorDetail(GenesysModel):
    error_code: str | None = None
    field_name: str | None = None
    entity_id: str | None = None
    entity_name: str | None = None


class ErrorLimit(GenesysModel):
    key: str | None = None
    namespace: str | None = None
    value: int | None = None


class ErrorBody(GenesysModel):
    message: str | None = None
    code: str | None = None
    status: int | None = None
    entity_id: str | None = None
    entity_name: str | None = None
    message_with_params: str | None = None
    message_params: dict[str, str] | None = None
    context_id: str | None = None
    details: list[ErrorDetail] | None = None
    errors: list[ErrorBody] | None = None
    limit: ErrorLimit | None = None


# ---- Auth -------------------------------------------------------------------------------------------------


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


# ---- Presence ---------------------------------------------------------------------------------------------


class OrganizationPresenceDefinition(GenesysModel):
    id: str
    name: str | None = None
    type: Literal["System", "User"] | None = None
    language_labels: dict[str, str] | None = None
    system_presence: str
    division_id: str | None = None
    deactivated: bool = False
    self_uri: str | None = None

    @property
    def label(self) -> str:
        """Human name: the en_US label, else the name, else the system presence."""
        labels = self.language_labels or {}
        return labels.get("en_US") or self.name or self.system_presence


class OrganizationPresenceDefinitionEntityListing(GenesysModel):
    total: int | None = None
    entities: list[OrganizationPresenceDefinition] = Field(default_factory=list)
    self_uri: str | None = None


class PresenceDefinition(GenesysModel):
    id: str
    system_presence: str | None = None
    self_uri: str | None = None


class UserPresence(GenesysModel):
    id: str | None = None
    name: str | None = None
    source: str | None = None
    source_id: str | None = None
    primary: bool | None = None
    presence_definition: PresenceDefinition | None = None
    future_presence_definition: PresenceDefinition | None = None
    message: str | None = None
    modified_date: AwareDatetime | None = None
    self_uri: str | None = None


class UserPresencePatch(GenesysModel):
    """Body of PATCH /api/v2/users/{userId}/presences/purecloud (SDK type UserPresence)."""

    presence_definition: PresenceDefinition | None = None
    message: str | None = None
    primary: bool | None = None


class MutableUserPresence(GenesysModel):
    """Element of PUT /api/v2/users/presences/bulk; ``id`` is the user id."""

    id: str
    presence_definition: PresenceDefinition | None = None
    message: str | None = None
    primary: bool | None = None


class UcUserPresence(GenesysModel):
    id: str | None = None
    name: str | None = None
    user_id: str | None = None
    source: str | None = None
    source_id: str | None = None
    presence_definition: PresenceDefinition | None = None
    message: str | None = None
    modified_date: AwareDatetime | None = None
    self_uri: str | None = None


# ---- Routing -------------------------------------------------------------------------------------------------


class RoutingStatus(GenesysModel):
    user_id: str | None = None
    status: RoutingStatusValue
    start_time: AwareDatetime | None = None


class User(GenesysModel):
    """The fields of the SDK's ``User`` we read (``routingStatus`` only when expanded, best effort)."""

    id: str
    name: str | None = None
    state: str | None = None
    routing_status: RoutingStatus | None = None
    presence: UserPresence | None = None
    self_uri: str | None = None


class UserEntityListing(GenesysModel):
    """GET /api/v2/users (``UsersApi.get_users``)."""

    entities: list[User] = Field(default_factory=list)
    page_size: int | None = None
    page_number: int | None = None
    total: int | None = None
    page_count: int | None = None
    next_uri: str | None = None


class UserRoutingSkill(GenesysModel):
    id: str
    name: str | None = None
    proficiency: float | None = None
    state: SkillState | None = None
    skill_uri: str | None = None
    self_uri: str | None = None


class UserRoutingSkillPost(GenesysModel):
    """Element of PATCH /api/v2/users/{userId}/routingskills/bulk (no ``state`` field in the SDK)."""

    id: str
    proficiency: float = Field(ge=0, le=5)
    skill_uri: str | None = None


class UserSkillEntityListing(GenesysModel):
    entities: list[UserRoutingSkill] = Field(default_factory=list)
    page_size: int | None = None
    page_number: int | None = None
    total: int | None = None
    page_count: int | None = None
    next_uri: str | None = None


# ---- Workforce management ------------------------------------------------------------------------------------


class AgentManagementUnitReference(GenesysModel):
    user: EntityRef | None = None
    management_unit: EntityRef
    business_unit: EntityRef


class BusinessUnitSettingsResponse(GenesysModel):
    start_day_of_week: str | None = None
    time_zone: str | None = None


class BusinessUnitResponse(GenesysModel):
    id: str
    name: str | None = None
    settings: BusinessUnitSettingsResponse | None = None


class BuSearchAgentSchedulesRequest(GenesysModel):
    start_date: datetime
    end_date: datetime
    user_ids: list[str] | None = None


class BuAgentScheduleActivity(GenesysModel):
    start_date: AwareDatetime
    length_minutes: int
    description: str | None = None
    activity_code_id: str | None = None
    paid: bool | None = None


class BuAgentScheduleShift(GenesysModel):
    id: str | None = None
    start_date: AwareDatetime
    length_minutes: int
    activities: list[BuAgentScheduleActivity] = Field(default_factory=list)


class BuFullDayTimeOffMarker(GenesysModel):
    business_unit_date: str | None = None
    length_minutes: int | None = None
    description: str | None = None
    activity_code_id: str | None = None
    paid: bool | None = None


class BuAgentScheduleSearchResponse(GenesysModel):
    user: EntityRef
    shifts: list[BuAgentScheduleShift] = Field(default_factory=list)
    full_day_time_off_markers: list[BuFullDayTimeOffMarker] = Field(default_factory=list)


class BuAgentSchedulesSearchResponse(GenesysModel):
    agent_schedules: list[BuAgentScheduleSearchResponse] = Field(default_factory=list)
    business_unit_time_zone: str | None = None


class BuAsyncAgentSchedulesSearchResponse(GenesysModel):
    status: ScheduleSearchStatus
    operation_id: str | None = None
    result: BuAgentSchedulesSearchResponse | None = None
    progress: int | None = None
    download_url: str | None = None


class SecondaryPresence(GenesysModel):
    id: str
    self_uri: str | None = None


class BusinessUnitActivityCode(GenesysModel):
    id: str
    name: str | None = None
    active: bool | None = None
    default_code: bool | None = None
    category: ActivityCategory | None = None
    length_in_minutes: int | None = None
    secondary_presences: list[SecondaryPresence] = Field(default_factory=list)


class BusinessUnitActivityCodeListing(GenesysModel):
    entities: list[BusinessUnitActivityCode] = Field(default_factory=list)
    download_url: str | None = None


class ManagementUnit(GenesysModel):
    """Element of GET /api/v2/workforcemanagement/managementunits (the fields of the SDK's ``ManagementUnit`` we
    read; ``startDayOfWeek``/``timeZone``/``settings`` are deprecated there, moving to the business unit)."""

    id: str
    name: str | None = None
    business_unit: EntityRef | None = None
    division: EntityRef | None = None
    self_uri: str | None = None


class ManagementUnitListing(GenesysModel):
    """GET /api/v2/workforcemanagement/managementunits (``WorkforceManagementApi.get_workforcemanagement_
    managementunits``): every management unit of the org in one answer (its paging parameters are deprecated)."""

    entities: list[ManagementUnit] = Field(default_factory=list)
    page_size: int | None = None
    page_number: int | None = None
    total: int | None = None
    page_count: int | None = None
    next_uri: str | None = None
    self_uri: str | None = None


class WfmUserEntityListing(GenesysModel):
    """GET /api/v2/workforcemanagement/managementunits/{managementUnitId}/users: SDK entities are UserReference."""

    entities: list[EntityRef] = Field(default_factory=list)


# ---- Architect schedules ----------------------------------------------------------------------------------------


class DomainEntityRef(GenesysModel):
    id: str
    name: str | None = None
    self_uri: str | None = None


class ScheduleGroup(GenesysModel):
    """GET /api/v2/architect/schedulegroups/{scheduleGroupId} (``ArchitectApi.get_architect_schedulegroup``): the
    group's IANA ``timeZone`` and references to its open, closed and holiday schedules. ``state`` (SDK values
    active, inactive, deleted) is read as text: a value the SDK does not know yet must not fail the read."""

    id: str
    name: str | None = None
    state: str | None = None
    time_zone: str | None = None
    open_schedules: list[DomainEntityRef] = Field(default_factory=list)
    closed_schedules: list[DomainEntityRef] = Field(default_factory=list)
    holiday_schedules: list[DomainEntityRef] = Field(default_factory=list)
    self_uri: str | None = None


class Schedule(GenesysModel):
    """GET /api/v2/architect/schedules/{scheduleId} (``ArchitectApi.get_architect_schedule``). ``start`` and ``end``
    are the SDK's ``LocalDateTime``: wall-clock date-times without an offset (``2026-11-26T08:00:00.000``), read in
    the time zone of the schedule group using the schedule; ``rrule`` is an iCalendar recurrence rule (none: one
    occurrence)."""

    id: str
    name: str | None = None
    state: str | None = None
    start: datetime
    end: datetime
    rrule: str | None = None
    self_uri: str | None = None
