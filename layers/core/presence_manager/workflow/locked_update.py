"""LockedUpdate: under the agent's lease, re-read the presence, compare ETags, PATCH presence + message.

Genesys has no If-Match on presence: our precondition is the ETag we derive from what GET returns. The window
between our GET and our PATCH (milliseconds, under our own lease) is the one a person clicking in their client can
still hit; the next change's Validate observes the result, and the audit trail shows both."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from presence_manager.errors import IfMatchFailed, PreconditionFailed
from presence_manager.timeutil import to_utc_iso
from presence_manager.workflow.models import ChangeRequest, UpdateResult, ValidationResult
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
    now: datetime,
) -> UpdateResult:
    if validation.target is None:
        raise ValueError("locked_update needs a validated target presence")
    with lease.held(request.user_id, change_id, lease_seconds):
        live = snapshot(genesys.get_user_presence(request.user_id))
        if live.etag != validation.expected_etag:
            error = IfMatchFailed if validation.if_match_supplied else PreconditionFailed
            raise error(
                "the agent's presence changed since it was validated",
                userId=request.user_id,
                expectedEtag=validation.expected_etag,
                currentEtag=live.etag,
                currentSystemPresence=live.system_presence,
            )
        updated = genesys.patch_user_presence(request.user_id, validation.target.definition_id, request.message)
    new = snapshot(updated)
    return UpdateResult(previous_presence=live, new_presence=new, new_etag=new.etag, applied_at=to_utc_iso(now))
