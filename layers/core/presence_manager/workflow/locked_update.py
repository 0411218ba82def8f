"""LockedUpdate: under the agent's lease, re-read the presence, compare ETags, re-check what the write depends on,
PATCH presence + message.

Genesys has no If-Match on presence: our precondition is the ETag we derive from what GET returns. The window
between our GET and our PATCH (milliseconds, under our own lease) is the one a person clicking in their client can
still hit; the next change's Validate observes the result, and the audit trail shows both.

Safety rules (DESIGN.md):
- Routing status moves without touching presence (an ACD alert): right before a write that takes an On Queue agent
  off queue, it is read again, and a live interaction stops the write (``LiveInteraction``, outcome rejected).
- A PATCH whose answer was lost may still land. It is never repeated blindly: the lease is held while it settles
  (``GenesysWriteUnconfirmed`` goes to the state machine's settle Wait), then this step runs again with
  ``unconfirmed=True``, re-reads and reconciles: our presence is there → applied; the presence we compared
  against is still there → written again under the lease; anything else → someone else moved it (412).
- A presence moved to exactly the ETag of our own last write is our own contention (``SupersededByOwnWrite``),
  not a conflict with a person."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from presence_manager.errors import (
    GenesysWriteUnconfirmed,
    IfMatchFailed,
    LiveInteraction,
    PreconditionFailed,
    PresenceManagerError,
    SupersededByOwnWrite,
)
from presence_manager.lease import LastWrite
from presence_manager.observability import logger
from presence_manager.policy import (
    LIVE_INTERACTION,
    LIVE_INTERACTION_FORCED,
    PolicyMode,
    takes_live_agent_off_queue,
)
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import (
    ChangeRequest,
    PresenceSnapshot,
    PresenceTarget,
    UpdateResult,
    ValidationResult,
    Violation,
)
from presence_manager.workflow.validate import STEP_CALLS, snapshot

if TYPE_CHECKING:
    from presence_manager.genesys.client import GenesysClient
    from presence_manager.lease import AgentLease


def locked_update(
    change_id: str,
    request: ChangeRequest,
    validation: ValidationResult,
    *,
    genesys: GenesysClient,
    lease: AgentLease,
    lease_seconds: int,
    settle_seconds: int,
    policy_mode: PolicyMode,
    now: datetime,
    unconfirmed: bool = False,
) -> UpdateResult:
    target = validation.target
    if target is None:
        raise ValueError("locked_update needs a validated target presence")
    # The re-read, the routing re-check and the write are reserved from the rate budget at once: one wait, never
    # a refusal half-way. A refusal resumes at Validate: the wait covers validating again too.
    with genesys.reserved(STEP_CALLS, resume_calls=validation.genesys_calls):
        user_id = request.user_id
        lease.acquire(user_id, change_id, lease_seconds)
        wrote: LastWrite | None = None
        settling = False
        try:
            live = snapshot(genesys.get_user_presence(user_id))
            if compare(change_id, request, validation, live, lease, unconfirmed=unconfirmed) == "landed":
                wrote = LastWrite(change_id=change_id, etag=live.etag)
                return update_result(validation.observed, live, now, reconciled=True)
            warnings: list[Violation] = []
            if needs_routing_check(live, target, policy_mode):
                warnings = live_interaction_check(
                    request, target, genesys.get_routing_status(user_id).status, policy_mode
                )
            try:
                updated = snapshot(genesys.patch_user_presence(user_id, target.definition_id, request.message))
            except GenesysWriteUnconfirmed:
                lease.hold_while_settling(user_id, change_id, settle_seconds + lease_seconds)
                settling = True
                raise
            wrote = LastWrite(change_id=change_id, etag=updated.etag)
            return update_result(live, updated, now, reconciled=False, warnings=warnings)
        finally:
            if not settling:
                release_after(lease, user_id, change_id, wrote)


def release_after(
    lease: AgentLease, user_id: str, change_id: str, wrote: LastWrite | None, *, mark: bool = True
) -> None:
    """Give the lease back. After a confirmed write, a refused release must not turn the change into a failure
    (and a retry into a second write): the lease then simply expires."""
    try:
        lease.release(user_id, change_id, wrote=wrote, mark=mark)
    except PresenceManagerError:
        if wrote is None:
            raise
        logger.warning("the lease could not be released after a confirmed write; it expires by itself")


def compare(
    change_id: str,
    request: ChangeRequest,
    validation: ValidationResult,
    live: PresenceSnapshot,
    lease: AgentLease,
    *,
    unconfirmed: bool,
) -> str:
    """The precondition on a fresh read under the lease: ``"landed"`` (a write of this change is there: its lost
    answer, or a duplicate delivery of this step), ``"write"`` (unchanged since Validate), or an error saying who
    moved it (the caller's ifMatch, another change of ours, someone else)."""
    target = validation.target
    if unconfirmed and target is not None and is_target(live, target.definition_id, request.message):
        return "landed"
    if live.etag == validation.expected_etag:
        return "write"
    ours = lease.last_write(request.user_id)
    if ours is not None and ours.etag == live.etag and ours.change_id == change_id:
        return "landed"  # this change already wrote it (the step was delivered twice): never write again
    details = {
        "userId": request.user_id,
        "expectedEtag": validation.expected_etag,
        "currentEtag": live.etag,
        "currentSystemPresence": live.system_presence,
    }
    if validation.if_match_supplied:
        raise IfMatchFailed("the agent's presence no longer matches ifMatch", **details)
    if ours is not None and ours.etag == live.etag:
        raise SupersededByOwnWrite(
            "another change of ours wrote the agent's presence since it was validated",
            byChangeId=ours.change_id,
            **details,
        )
    raise PreconditionFailed("the agent's presence changed since it was validated", **details)


def needs_routing_check(live: PresenceSnapshot, target: PresenceTarget, policy_mode: PolicyMode) -> bool:
    """Routing status matters only for an On Queue agent the change would take off queue."""
    return policy_mode != "off" and live.system_presence == "OnQueue" and target.system_presence != "OnQueue"


def live_interaction_check(
    request: ChangeRequest, target: PresenceTarget, status: str, policy_mode: PolicyMode
) -> list[Violation]:
    """Right before the write: a live interaction stops it (``LiveInteraction``) unless forced (then a
    ``live_interaction_forced`` warning) or the policy only warns (a ``live_interaction`` warning)."""
    if not takes_live_agent_off_queue("OnQueue", status, target.system_presence):
        return []
    message = f"the agent is On Queue and {status} (a live interaction); {target.label} takes them off queue"
    if request.force:
        return [Violation(code=LIVE_INTERACTION_FORCED, message=f"Forced: {message}.")]
    if policy_mode == "warn":
        return [Violation(code=LIVE_INTERACTION, message=f"{message}.")]
    raise LiveInteraction(
        f"{message}, so nothing was written. Use force to override.", userId=request.user_id, routingStatus=status
    )


def is_target(live: PresenceSnapshot, definition_id: str, message: str | None) -> bool:
    return live.definition_id == definition_id and (live.message or "") == (message or "")


def update_result(
    previous: PresenceSnapshot,
    new: PresenceSnapshot,
    now: datetime,
    *,
    reconciled: bool,
    warnings: list[Violation] | None = None,
) -> UpdateResult:
    return UpdateResult(
        previous_presence=previous,
        new_presence=new,
        new_etag=new.etag,
        applied_at=to_utc_iso(now),
        reconciled=reconciled,
        warnings=warnings or [],
    )
