"""A batch of up to 50 agents of one management unit: the unit of work of a bulk change.

Each batch goes through the same named steps as one change - Validate, LockedUpdate, SkillOverride, Export,
Record - run by the same handlers, which call the same per-agent logic (``validate.decide``,
``locked_update.compare``, ``skill_override.apply_skill_overrides``, ``export.presence_changed_entry``,
``record.build_audit_record``). Only the Genesys I/O is batched: one bulk presence read, one schedule search,
one routing-status read (only for agents On Queue that the change takes off queue), one bulk re-read and one bulk
write per batch.

Every agent carries a ``status`` through the steps:

- ``pending``: to validate; ``allowed``: validated, to write; ``moved``: its presence moved since Validate (to
  validate again, the bounded 412 loop); ``waiting``: another change of ours holds its lease; ``unconfirmed``: our
  write's answer was lost (the lease is held while it settles, then it is re-read and reconciled);
- ``applied``: written (or nothing to write: skills only); ``done``: finished with its ``outcome``.

The state machine reads ``counts`` to choose the next state. Agents unfinished when a loop's budget runs out take
the batch's outcome (conflict, rate_limited, failed). Record writes one audit record per agent, in the batch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, computed_field

from presence_manager.errors import (
    GenesysRateLimited,
    GenesysWriteUnconfirmed,
    LeaseHeld,
    LiveInteraction,
    PreconditionFailed,
    PresenceManagerError,
    SupersededByOwnWrite,
)
from presence_manager.genesys.models import AgentManagementUnitReference, EntityRef, MutableUserPresence
from presence_manager.genesys.models import PresenceDefinition as PresenceRef
from presence_manager.lease import LastWrite
from presence_manager.observability import logger
from presence_manager.outcomes import APPLIED, DRY_RUN, FAILED, REJECTED, Outcome
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.bulk import agent_change_id
from presence_manager.workflow.export import presence_changed_entry, put_events
from presence_manager.workflow.locked_update import (
    compare,
    live_interaction_check,
    needs_routing_check,
    release_after,
    update_result,
)
from presence_manager.workflow.models import (
    CaughtError,
    ChangeRequest,
    Counters,
    ExportResult,
    SkillResult,
    StepInput,
    UpdateResult,
    ValidationResult,
    Violation,
    WorkflowModel,
    parse_change_request,
)
from presence_manager.workflow.skill_override import apply_skill_overrides
from presence_manager.workflow.validate import STEP_CALLS, AgentActivity, decide, observe_batch, snapshot

if TYPE_CHECKING:
    from presence_manager.audit import AuditRecord
    from presence_manager.config import AppSettings
    from presence_manager.genesys.client import GenesysClient
    from presence_manager.lease import AgentLease

MAX_BATCH_AGENTS = 50
AgentStatus = Literal["pending", "allowed", "moved", "waiting", "unconfirmed", "applied", "done"]
TO_VALIDATE = frozenset({"pending", "allowed", "moved", "waiting"})
TO_WRITE = frozenset({"allowed", "waiting", "unconfirmed"})
UNFINISHED = frozenset({"pending", "allowed", "moved", "waiting", "unconfirmed"})


def caught(error: PresenceManagerError) -> CaughtError:
    """An error as a Catch would have stored it (so the record shows it as for a single change)."""
    return CaughtError(Error=type(error).__name__, Cause=error.to_state_machine_message())


class BatchUnit(WorkflowModel):
    model_config = ConfigDict(
        alias_generator=WorkflowModel.model_config["alias_generator"], populate_by_name=True, frozen=True
    )

    management_unit_id: str
    business_unit_id: str

    def reference(self) -> AgentManagementUnitReference:
        return AgentManagementUnitReference(
            management_unit=EntityRef(id=self.management_unit_id), business_unit=EntityRef(id=self.business_unit_id)
        )


class BatchItem(WorkflowModel):
    """One item of the bulk's Distributed Map (an element of the S3 object of batches)."""

    batch: int
    unit: BatchUnit | None = None
    user_ids: list[str] = Field(min_length=1, max_length=MAX_BATCH_AGENTS)


class BatchAgent(WorkflowModel):
    user_id: str
    change_id: str
    status: AgentStatus = "pending"
    outcome: Outcome | None = None
    counters: Counters = Field(default_factory=Counters)
    validation: ValidationResult | None = None
    update: UpdateResult | None = None
    skills: SkillResult | None = None
    export: ExportResult | None = None
    conflict: CaughtError | None = None
    lease_held: CaughtError | None = None
    live_interaction: CaughtError | None = None
    failure: CaughtError | None = None
    export_error: CaughtError | None = None
    warnings: list[Violation] = Field(default_factory=list, description="found right before the write (forced)")

    def finish(self, outcome: Outcome, failure: PresenceManagerError | None = None) -> None:
        self.status, self.outcome = "done", outcome
        if failure is not None:
            self.failure = caught(failure)


class Pause(WorkflowModel):
    """A step that stopped part-way on a 429 (or an empty budget), keeping what its agents went through: the same
    Retry-After wait follows, then ``resume_at`` (LockedUpdate resumes at Validate: validated again after a wait)."""

    retry_after_seconds: int = 0
    resume_at: Literal["Validate", "SkillOverride"] = "Validate"
    source: str = "genesys"


class BatchState(WorkflowModel):
    # ``counts`` is derived (serialised for the Choice states, ignored when read back).
    model_config = ConfigDict(extra="ignore")

    bulk_id: str
    batch: int
    execution_start_time: str
    request: dict[str, Any] = Field(description="the bulk's change fields, without its population")
    unit: BatchUnit | None = None
    user_ids: list[str] = Field(default_factory=list, max_length=MAX_BATCH_AGENTS)
    agents: list[BatchAgent] = Field(default_factory=list)
    pause: Pause = Field(default_factory=Pause)
    wait_seconds: int = 1
    timed_out: CaughtError | None = Field(
        default=None, description="the previous LockedUpdate ran out of time (its bulk write may have been sent)"
    )

    def model_post_init(self, context: Any) -> None:
        if not self.agents:
            self.agents = [
                BatchAgent(user_id=user, change_id=agent_change_id(self.bulk_id, user))
                for user in dict.fromkeys(self.user_ids)
            ]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def counts(self) -> dict[str, int]:
        """Agents per status, every status present (the state machine's Choice states read them)."""
        found = Counter(agent.status for agent in self.agents)
        counts = {status: found.get(status, 0) for status in AgentStatus.__args__}  # type: ignore[attr-defined]
        counts["skills"] = sum(1 for agent in self.agents if self._wants_skills(agent))
        return counts

    def _wants_skills(self, agent: BatchAgent) -> bool:
        return agent.status == "applied" and agent.skills is None and bool(self.request.get("skillOverrides"))

    def request_for(self, agent: BatchAgent) -> ChangeRequest:
        return parse_change_request({**self.request, "userId": agent.user_id})

    def in_status(self, statuses: frozenset[str]) -> list[BatchAgent]:
        return [agent for agent in self.agents if agent.status in statuses]

    def agent_step(self, agent: BatchAgent, counters: Counters, **batch_level: Any) -> StepInput:
        """One agent as a single change's state: what Export and Record read (one logic for both paths)."""
        merged = Counters(
            conflict_retries=agent.counters.conflict_retries,
            rate_limit_waits=counters.rate_limit_waits,
            budget_waits=counters.budget_waits,
            lease_waits=agent.counters.lease_waits,
            unconfirmed_writes=agent.counters.unconfirmed_writes,
        )
        return StepInput.model_validate(
            {
                "changeId": agent.change_id,
                "executionStartTime": self.execution_start_time,
                "request": {**self.request, "userId": agent.user_id},
                "counters": merged.to_json(),
                **{
                    key: value
                    for key, value in agent.model_dump(mode="json", by_alias=True, exclude_none=True).items()
                    if key in {"validation", "update", "skills", "export", "outcome"}
                    or key in {"conflict", "leaseHeld", "liveInteraction", "failure", "exportError"}
                },
                **{key: value for key, value in batch_level.items() if value is not None},
            }
        )


# ---- Validate ----------------------------------------------------------------------------------------------------


def validate_batch(
    state: BatchState,
    *,
    genesys: GenesysClient,
    settings: AppSettings,
    now: datetime,
    agents: AgentActivity | None = None,
    unit_schedule_group: Callable[[str], str | None] | None = None,
) -> BatchState:
    todo = state.in_status(TO_VALIDATE)
    if not todo:
        return state
    fields = state.request_for(todo[0])
    target = genesys.resolve_presence(fields.presence) if fields.presence else None
    observed = observe_batch(
        [agent.user_id for agent in todo],
        state.unit.reference() if state.unit else None,
        schedule_users=[agent.user_id for agent in state.agents],
        dry_run=fields.dry_run,
        needs_schedule=target is not None and settings.policy_mode != "off",
        genesys=genesys,
        now=now,
    )
    if fields.respect_own_changes_minutes and agents is not None:  # one read for the batch
        own = agents.last_external_changes([agent.user_id for agent in todo])
        observed = {user: replace(seen, own_change_at=own.get(user)) for user, seen in observed.items()}
    for agent in todo:
        seen = observed.get(agent.user_id)
        if seen is None:
            agent.finish(FAILED, PresenceManagerError("Genesys Cloud does not know this user", userId=agent.user_id))
            continue
        try:
            validation = decide(
                state.request_for(agent),
                target,
                seen,
                genesys=genesys,
                settings=settings,
                now=now,
                unit_schedule_group=unit_schedule_group,
            )
        except GenesysRateLimited:
            raise  # the batch waits Retry-After, then validates again (validating writes nothing)
        except PresenceManagerError as error:  # e.g. time_zone_unknown: this agent's own failure
            agent.finish(FAILED, error)
            continue
        agent.validation = validation
        if not validation.allowed:
            agent.finish(REJECTED)
        elif validation.dry_run:
            agent.finish(DRY_RUN)
        elif validation.changes_presence:
            agent.status = "allowed"
        else:
            agent.status = "applied"
    return state


# ---- LockedUpdate -----------------------------------------------------------------------------------------------


def locked_update_batch(
    state: BatchState,
    *,
    genesys: GenesysClient,
    lease: AgentLease,
    settings: AppSettings,
    now: datetime,
) -> BatchState:
    """Leases, one bulk re-read, the per-agent precondition, one routing read, one bulk write, under the leases."""
    state.pause = Pause()
    if state.timed_out is not None:
        _after_timeout(state)
    todo = state.in_status(TO_WRITE)
    held: list[BatchAgent] = []
    for agent in todo:
        try:
            lease.acquire(agent.user_id, agent.change_id, settings.lease_seconds)
            held.append(agent)
        except LeaseHeld as error:
            agent.status, agent.lease_held = "waiting", caught(error)
            agent.counters.lease_waits += 1
            state.wait_seconds = max(state.wait_seconds, int(error.details.get("retryAfterSeconds", 1)))
    written: dict[str, LastWrite] = {}
    settling: set[str] = set()
    try:
        with genesys.reserved(STEP_CALLS):  # the bulk re-read, the routing read, the bulk write
            to_send = _compare_all(state, held, genesys=genesys, lease=lease, settings=settings, now=now, wrote=written)
            if to_send:
                _write_all(state, to_send, genesys=genesys, lease=lease, settings=settings, now=now, wrote=written)
                settling = {agent.user_id for agent in to_send if agent.status == "unconfirmed"}
    except GenesysRateLimited as error:  # nothing written by the call refused; what the agents went through stays
        state.pause = Pause(
            retry_after_seconds=max(1, error.retry_after_seconds), resume_at="Validate", source=error.source
        )
    finally:
        for agent in held:
            if agent.user_id not in settling:
                release_after(lease, agent.user_id, agent.change_id, written.get(agent.user_id), mark=False)
        _mark_writes(lease, {user: wrote for user, wrote in written.items() if user not in settling})
    return state


def _mark_writes(lease: AgentLease, written: dict[str, LastWrite]) -> None:
    """The batch's ``WRITE#`` markers in a few requests. Each lease item already remembers its agent's write, so
    a refused marker write loses nothing the precondition needs; Observe then tells our write by the lease item
    until the agent's next change of ours."""
    try:
        lease.mark_writes(written)
    except PresenceManagerError:
        logger.warning("the batch's write markers could not be written", extra={"agents": len(written)})


def _after_timeout(state: BatchState) -> None:
    """The previous LockedUpdate ran out of time and its answer is lost: any agent it was to write may have been
    written, so each is an unconfirmed write, reconciled on the fresh read (landed, written again, or moved), never
    written blindly a second time."""
    for agent in state.in_status(TO_WRITE):
        if agent.status != "unconfirmed":
            agent.status = "unconfirmed"
            agent.counters.unconfirmed_writes += 1
    state.timed_out = None


def _compare_all(
    state: BatchState,
    held: list[BatchAgent],
    *,
    genesys: GenesysClient,
    lease: AgentLease,
    settings: AppSettings,
    now: datetime,
    wrote: dict[str, LastWrite],
) -> list[BatchAgent]:
    if not held:
        return []
    live = {p.id or p.user_id: snapshot(p) for p in genesys.get_users_presences_bulk([a.user_id for a in held])}
    candidates: list[BatchAgent] = []
    for agent in held:
        validation, request = agent.validation, state.request_for(agent)
        presence = live.get(agent.user_id)
        if validation is None or validation.target is None or presence is None:
            agent.finish(FAILED, PresenceManagerError("the agent's presence could not be read again"))
            continue
        try:
            verdict = compare(
                agent.change_id, request, validation, presence, lease, unconfirmed=agent.status == "unconfirmed"
            )
        except SupersededByOwnWrite as error:
            agent.status, agent.lease_held = "moved", caught(error)
            agent.counters.lease_waits += 1
            continue
        except PreconditionFailed as error:
            agent.status, agent.conflict = "moved", caught(error)
            agent.counters.conflict_retries += 1
            continue
        if verdict == "landed":
            agent.status, agent.update = "applied", update_result(validation.observed, presence, now, reconciled=True)
            wrote[agent.user_id] = LastWrite(change_id=agent.change_id, etag=presence.etag)
        else:
            candidates.append(agent)
    check = [
        a
        for a in candidates
        if a.validation
        and a.validation.target
        and needs_routing_check(live[a.user_id], a.validation.target, settings.policy_mode)
    ]
    statuses = genesys.get_users_routing_status([a.user_id for a in check]) if check else {}
    to_send = []
    for agent in candidates:
        target = agent.validation.target if agent.validation else None
        if agent in check and target is not None:
            status = str(statuses.get(agent.user_id, "OFF_QUEUE"))
            try:
                agent.warnings = live_interaction_check(state.request_for(agent), target, status, settings.policy_mode)
            except LiveInteraction as error:
                agent.live_interaction = caught(error)
                agent.finish(REJECTED)
                continue
        to_send.append(agent)
    for agent in to_send:  # what the write is compared against: the fresh read
        if agent.validation is not None:
            agent.validation.observed = live[agent.user_id]
    return to_send


def _write_all(
    state: BatchState,
    to_send: list[BatchAgent],
    *,
    genesys: GenesysClient,
    lease: AgentLease,
    settings: AppSettings,
    now: datetime,
    wrote: dict[str, LastWrite],
) -> None:
    body = [
        MutableUserPresence(
            id=agent.user_id,
            presence_definition=PresenceRef(id=agent.validation.target.definition_id),
            message=state.request.get("message"),
        )
        for agent in to_send
        if agent.validation and agent.validation.target
    ]
    try:
        answered = {p.id: snapshot(p) for p in genesys.put_users_presences_bulk(body) if p.id}
    except GenesysWriteUnconfirmed:
        answered = {}
    for agent in to_send:
        new = answered.get(agent.user_id)
        if new is None:  # sent, not confirmed: it may still land
            agent.status = "unconfirmed"
            agent.counters.unconfirmed_writes += 1
            lease.hold_while_settling(
                agent.user_id, agent.change_id, settings.write_settle_seconds + settings.lease_seconds
            )
            continue
        previous = agent.validation.observed if agent.validation else new
        agent.status = "applied"
        agent.update = update_result(previous, new, now, reconciled=False, warnings=agent.warnings)
        wrote[agent.user_id] = LastWrite(change_id=agent.change_id, etag=new.etag)


# ---- SkillOverride ------------------------------------------------------------------------------------------------


def skill_override_batch(
    state: BatchState, *, genesys: GenesysClient, scheduler: Any | None, settings: AppSettings, now: datetime
) -> BatchState:
    """Each agent's overrides (skills are per agent in Genesys). A 429 part-way pauses the batch: the agents done
    keep their results, the Wait follows, and this step resumes with the others."""
    state.pause = Pause()
    for agent in state.agents:
        if not state._wants_skills(agent):
            continue
        try:
            agent.skills = apply_skill_overrides(
                agent.change_id,
                state.request_for(agent),
                genesys=genesys,
                scheduler=scheduler,
                settings=settings,
                now=now,
            )
        except GenesysRateLimited as error:
            state.pause = Pause(
                retry_after_seconds=max(1, error.retry_after_seconds), resume_at="SkillOverride", source=error.source
            )
            return state
        except PresenceManagerError as error:
            agent.finish(FAILED, error)
    return state


# ---- Export -------------------------------------------------------------------------------------------------------


def export_batch(
    state: BatchState, counters: Counters, *, events: Any, bus_name: str, now: datetime, attempts: int = 3
) -> BatchState:
    """PutEvents 10 entries at a time; failed entries are sent again (never the accepted ones), then given up on
    (the agent is still applied; its record says the export failed)."""
    pending = [agent for agent in state.agents if agent.status == "applied" and agent.export is None]
    for _ in range(attempts):
        if not pending:
            break
        entries = [
            presence_changed_entry(state.agent_step(agent, counters), bus_name=bus_name, now=now) for agent in pending
        ]
        failures = put_events(events, entries)
        still = []
        for agent, failure in zip(pending, failures, strict=True):
            if failure is None:
                agent.export, agent.export_error = (
                    ExportResult(event_id=agent.change_id, bus_name=bus_name, published_at=to_utc_iso(now)),
                    None,
                )
            else:
                agent.export_error = CaughtError(Error="ExportFailed", Cause=str(failure))
                still.append(agent)
        pending = still
    return state


# ---- Record -------------------------------------------------------------------------------------------------------


def finish_batch(state: BatchState, outcome: Outcome | None) -> None:
    """Agents still unfinished take the batch's outcome (a loop's budget ran out, or the batch failed); an agent
    is ``applied`` only if it was written, never because its batch ended well."""
    for agent in state.agents:
        if agent.status == "applied":
            agent.finish(APPLIED)
        elif agent.status in UNFINISHED:
            ended = outcome if outcome not in (None, APPLIED) else FAILED
            if ended == FAILED and agent.failure is None and outcome in (None, APPLIED):
                agent.failure = caught(PresenceManagerError(f"the batch ended with this agent {agent.status}"))
            agent.status, agent.outcome = "done", ended


def batch_records(
    state: BatchState,
    counters: Counters,
    outcome: Outcome | None,
    *,
    batch_failure: CaughtError | None,
    rate_limited: CaughtError | None,
    build: Any,
) -> list[AuditRecord]:
    """One audit record per agent, built by the single change's own ``build_audit_record`` (``build``)."""
    finish_batch(state, outcome)
    records = []
    for agent in state.agents:
        failure = agent.failure or (batch_failure if agent.outcome == FAILED else None)
        step = state.agent_step(
            agent,
            counters,
            failure=failure.model_dump() if failure else None,
            rateLimited=rate_limited.model_dump() if rate_limited else None,
        )
        record = build(step)
        records.append(record.model_copy(update={"bulk_id": state.bulk_id}))
    return records


# ---- the handlers' input ------------------------------------------------------------------------------------------


class BatchStep(WorkflowModel):
    """What a batch-aware step receives: the batch, the batch's loop counters, and (for Record) how it ended."""

    model_config = ConfigDict(
        alias_generator=WorkflowModel.model_config["alias_generator"], populate_by_name=True, extra="ignore"
    )

    batch: BatchState
    counters: Counters = Field(default_factory=Counters)
    outcome: Outcome | None = None
    failure: CaughtError | None = None
    rate_limited: CaughtError | None = None


def is_batch_step(event: Any) -> bool:
    return isinstance(event, dict) and isinstance(event.get("batch"), dict)


def parse_batch_step(event: Any) -> BatchStep:
    from pydantic import ValidationError

    from presence_manager.errors import InvalidRequest
    from presence_manager.workflow.models import validation_details

    try:
        return BatchStep.model_validate(event)
    except ValidationError as exc:
        raise InvalidRequest("the step input is not a batch state", details=validation_details(exc)) from exc
