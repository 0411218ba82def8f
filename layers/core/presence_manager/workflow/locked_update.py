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
    SupersededByOwnWrite,
)
from presence_manager.lease import LastWrite
from presence_manager.policy import takes_live_agent_off_queue
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import (
    ChangeRequest,
    PresenceSnapshot,
    PresenceTarget,
    UpdateResult,
    ValidationResult,
)
from presence_manager.workflow.validate import snapshot

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
    enforce_live_interaction: bool,
    now: datetime,
    unconfirmed: bool = False,
) -> UpdateResult:
    target = validation.target
    if target is None:
        raise ValueError("locked_update needs a validated target presence")
    user_id = request.user_id
    lease.acquire(user_id, change_id, lease_seconds)
    wrote: LastWrite | None = None
    settling = False
    try:
        live = snapshot(genesys.get_user_presence(user_id))
        if compare(change_id, request, validation, live, lease, unconfirmed=unconfirmed) == "landed":
            wrote = LastWrite(change_id=change_id, etag=live.etag)
            return update_result(validation.observed, live, now, reconciled=True)
        if needs_routing_check(request, live, target, enforce=enforce_live_interaction):
            refuse_live_interaction(user_id, target, genesys.get_routing_status(user_id).status)
        try:
            updated = snapshot(genesys.patch_user_presence(user_id, target.definition_id, request.message))
        except GenesysWriteUnconfirmed:
            lease.hold_while_settling(user_id, change_id, settle_seconds + lease_seconds)
            settling = True
            raise
        wrote = LastWrite(change_id=change_id, etag=updated.etag)
        return update_result(live, updated, now, reconciled=False)
    finally:
        if not settling:
            lease.release(user_id, change_id, wrote=wrote)


def compare(
    change_id: str,
    request: ChangeRequest,
    validation: ValidationResult,
    live: PresenceSnapshot,
    lease: AgentLease,
    *,
    unconfirmed: bool,
) -> str:
    """The precondition on a fresh read under the lease: ``"landed"`` (a lost write of ours is there), ``"write"``
    (unchanged since Validate), or an error saying who moved it (the caller's ifMatch, us, someone else)."""
    target = validation.target
    if unconfirmed and target is not None and is_target(live, target.definition_id, request.message):
        return "landed"
    if live.etag == validation.expected_etag:
        return "write"
    details = {
        "userId": request.user_id,
        "expectedEtag": validation.expected_etag,
        "currentEtag": live.etag,
        "currentSystemPresence": live.system_presence,
    }
    if validation.if_match_supplied:
        raise IfMatchFailed("the agent's presence no longer matches ifMatch", **details)
    ours = lease.last_write(request.user_id)
    if ours is not None and ours.etag == live.etag and ours.change_id != change_id:
        raise SupersededByOwnWrite(
            "another change of ours wrote the agent's presence since it was validated",
            byChangeId=ours.change_id,
            **details,
        )
    raise PreconditionFailed("the agent's presence changed since it was validated", **details)


def needs_routing_check(
    request: ChangeRequest, live: PresenceSnapshot, target: PresenceTarget, *, enforce: bool
) -> bool:
    """Routing status matters only for an On Queue agent the change would take off queue (and not when forced)."""
    return enforce and not request.force and live.system_presence == "OnQueue" and target.system_presence != "OnQueue"


def refuse_live_interaction(user_id: str, target: PresenceTarget, status: str) -> None:
    if takes_live_agent_off_queue("OnQueue", status, target.system_presence):
        raise LiveInteraction(
            f"the agent is On Queue and {status} (a live interaction); {target.label} would take them off queue, "
            "so nothing was written. Use force to override.",
            userId=user_id,
            routingStatus=status,
        )


def is_target(live: PresenceSnapshot, definition_id: str, message: str | None) -> bool:
    return live.definition_id == definition_id and (live.message or "") == (message or "")


def update_result(
    previous: PresenceSnapshot, new: PresenceSnapshot, now: datetime, *, reconciled: bool
) -> UpdateResult:
    return UpdateResult(
        previous_presence=previous,
        new_presence=new,
        new_etag=new.etag,
        applied_at=to_utc_iso(now),
        reconciled=reconciled,
    )
