"""The data that flows through the state machine: the change request (execution input) and each step's result.

JSON names are camelCase (what the ASL paths read); Python names are snake_case."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, field_validator, model_validator
from pydantic.alias_generators import to_camel

from presence_manager.outcomes import Outcome
from presence_manager.timeutil import resolve_time_zone
from presence_manager.validation import (
    ActivityInstant,
    ChangeIdText,
    ETagText,
    GenesysId,
    MessageText,
    PresenceText,
    ReasonText,
    RequestedByText,
    TimeZoneText,
)

MAX_SKILL_OVERRIDES = 50
MAX_REVERT_MINUTES = 7 * 24 * 60
#: ``respectOwnChangesMinutes``: leave an agent alone who changed their own presence within this many minutes.
MAX_RESPECT_OWN_CHANGES_MINUTES = 240


def iana_time_zone(value: str | None) -> str | None:
    """A request's optional time zone: an IANA name, or ``InvalidRequest(invalid_time_zone)``, never a silent UTC."""
    if value is not None:
        resolve_time_zone(value)
    return value


class WorkflowModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class SkillValue(WorkflowModel):
    state: Literal["active", "inactive", "deleted"] | None = None
    proficiency: StrictFloat | None = Field(default=None, ge=0, le=5)


class SkillOverride(WorkflowModel):
    """Strict types: ``"3"`` is not a proficiency and ``"60"`` is not a number of minutes (never coerced).

    ``expected``: apply only if the skill still has this value (a revert carries what its override set, so an
    admin's edit made during the override window is kept, not reverted away)."""

    skill_id: GenesysId
    state: Literal["active", "inactive", "deleted"] = "active"
    proficiency: StrictFloat | None = Field(default=None, ge=0, le=5)
    revert_after_minutes: StrictInt | None = Field(default=None, ge=1, le=MAX_REVERT_MINUTES)
    expected: SkillValue | None = None


class ChangeRequest(WorkflowModel):
    """One agent's change: the API body, and the state machine's execution input.

    Every field is strictly typed (``force: "yes"`` or ``dryRun: 1`` is refused, never coerced: ``force`` overrides
    a safety rule) and every text refuses control and bidirectional characters (``presence_manager.validation``)."""

    user_id: GenesysId
    presence: PresenceText | None = None
    message: MessageText | None = None
    skill_overrides: list[SkillOverride] = Field(default_factory=list, max_length=MAX_SKILL_OVERRIDES)
    time_zone: TimeZoneText | None = None
    if_match: ETagText | None = None
    force: StrictBool = False
    reason: ReasonText | None = None
    dry_run: StrictBool = False
    requested_by: RequestedByText | None = None
    revert_of: ChangeIdText | None = None
    #: Leave the agent alone (rejected, ``agent_changed_presence_recently``) when they changed their own presence
    #: in Genesys within this many minutes (the schedule-following automation sets it).
    respect_own_changes_minutes: StrictInt | None = Field(default=None, ge=1, le=MAX_RESPECT_OWN_CHANGES_MINUTES)
    #: The scheduled activity (and shift) the change is for, when it is made ahead of it (automation's lead minutes:
    #: a "Pre-Break" move is judged against the Break, up to an hour ahead). Business hours are judged at now.
    activity_at: ActivityInstant | None = None

    _time_zone_is_iana = field_validator("time_zone")(lambda value: iana_time_zone(value))

    @model_validator(mode="after")
    def _something_to_change(self) -> ChangeRequest:
        if self.presence is None and not self.skill_overrides:
            raise ValueError("give a presence, skillOverrides, or both")
        skill_ids = [override.skill_id for override in self.skill_overrides]
        if len(set(skill_ids)) != len(skill_ids):
            raise ValueError("each skillId may appear once in skillOverrides")
        return self


class PresenceTarget(WorkflowModel):
    requested: str
    definition_id: str
    system_presence: str
    label: str
    type: str | None = None


class PresenceSnapshot(WorkflowModel):
    definition_id: str | None = None
    system_presence: str | None = None
    message: str | None = None
    modified_date: str | None = None
    etag: str


class Violation(WorkflowModel):
    code: str
    message: str


class PolicySummary(WorkflowModel):
    mode: str
    violations: list[Violation] = Field(default_factory=list)
    warnings: list[Violation] = Field(default_factory=list)


class ScheduleSummary(WorkflowModel):
    on_shift: bool
    shift_start: str | None = None
    shift_end: str | None = None
    activity_code_id: str | None = None
    activity_category: str | None = None
    activity_description: str | None = None


class ValidationResult(WorkflowModel):
    allowed: bool
    dry_run: bool
    changes_presence: bool
    has_skill_overrides: bool
    target: PresenceTarget | None = None
    observed: PresenceSnapshot
    routing_status: str | None = None
    expected_etag: str
    if_match_supplied: bool
    time_zone: str | None = None
    time_zone_source: Literal["request", "businessUnit", "none"] = "none"
    schedule: ScheduleSummary | None = None
    policy: PolicySummary
    validated_at: str
    genesys_calls: int = Field(
        default=0, ge=0, description="the Genesys calls this validation made (what validating again costs)"
    )


class UpdateResult(WorkflowModel):
    previous_presence: PresenceSnapshot
    new_presence: PresenceSnapshot
    new_etag: str
    applied_at: str
    reconciled: bool = Field(default=False, description="a write whose answer was lost was found to have landed")
    warnings: list[Violation] = Field(default_factory=list, description="found right before the write (forced)")


class SkillChange(WorkflowModel):
    skill_id: str
    name: str | None = None
    before: SkillValue | None = None
    after: SkillValue | None = None
    revert_at: str | None = None
    skipped: Literal["changed_since_override"] | None = Field(
        default=None, description="not applied: the skill no longer had the value the change expected"
    )


class SkillResult(WorkflowModel):
    changes: list[SkillChange]
    revert_schedule: str | None = None
    revert_at: str | None = None


class ExportResult(WorkflowModel):
    event_id: str
    bus_name: str
    published_at: str


class CaughtError(BaseModel):
    """What a Catch stores: ``{"Error", "Cause"}`` (for a Lambda error, Cause is JSON with ``errorMessage``)."""

    model_config = ConfigDict(extra="allow")

    Error: str
    Cause: str | None = None


class Counters(WorkflowModel):
    """The execution's survived retries: external edits, Retry-After waits, our own contention, lost answers."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    conflict_retries: int = 0
    rate_limit_waits: int = 0
    budget_waits: int = 0
    lease_waits: int = 0
    unconfirmed_writes: int = 0


class StepInput(BaseModel):
    """What each task receives: the whole execution state (unknown keys, e.g. a caught error, are kept)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    change_id: str
    execution_start_time: str
    request: dict[str, Any]
    counters: Counters = Field(default_factory=lambda: Counters())
    validation: ValidationResult | None = None
    update: UpdateResult | None = None
    skills: SkillResult | None = None
    export: ExportResult | None = None
    outcome: Outcome | None = None
    # Each kind of caught error has its own path: survived retries (the last of each kind) and the final failure.
    rate_limited: CaughtError | None = None
    conflict: CaughtError | None = None
    lease_held: CaughtError | None = None
    unconfirmed_write: CaughtError | None = None
    live_interaction: CaughtError | None = None
    failure: CaughtError | None = None
    export_error: CaughtError | None = None

    def change_request(self) -> ChangeRequest:
        """The execution's request, validated (an ``InvalidRequest`` when started with a bad input)."""
        return parse_change_request(self.request)


def validation_details(exc: Exception) -> list[dict[str, Any]]:
    """pydantic errors as ``[{field, problem}]`` for a 400 answer."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [{"field": None, "problem": str(exc)}]
    return [
        {"field": ".".join(str(part) for part in error["loc"]) or None, "problem": error["msg"]}
        for error in exc.errors(include_url=False)
    ]


def parse_change_request(data: Any) -> ChangeRequest:
    """Validate a change request; anything wrong is an ``InvalidRequest`` naming each bad field."""
    from pydantic import ValidationError

    from presence_manager.errors import InvalidRequest

    try:
        return ChangeRequest.model_validate(data)  # an invalid time zone raises its own InvalidRequest
    except ValidationError as exc:
        raise InvalidRequest("the change request is invalid", details=validation_details(exc)) from exc


def parse_step_input(event: Any) -> StepInput:
    from pydantic import ValidationError

    from presence_manager.errors import InvalidRequest

    try:
        return StepInput.model_validate(event)
    except ValidationError as exc:
        raise InvalidRequest("the step input is not a workflow state", details=validation_details(exc)) from exc
