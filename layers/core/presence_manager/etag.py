"""Our own ETag for an agent's presence.

Genesys presence has no ETag, no ``version`` and no ``If-Match`` (no presence endpoint answers 412). We derive one
from what ``GET /api/v2/users/{userId}/presences/purecloud`` returns: the presence definition id, the custom
message and ``modifiedDate`` (normalised to UTC milliseconds, so ``+02:00`` and ``Z`` spellings of one instant give
one ETag). Any change of presence or message through any client moves ``modifiedDate`` and so the ETag.

The read-then-write window: LockedUpdate re-reads the presence, compares this ETag with the expected one and then
PATCHes. Genesys cannot make that compare-and-set atomic, so a change made by someone else (the agent clicking in
their client, a supervisor, another integration) *between our GET and our PATCH* - milliseconds, while we hold our
own per-agent lease, which only serialises our own writers - is overwritten without a 412. The audit record keeps
the presence we observed and the one we wrote, and the next change's Validate observes whatever happened.
"""

from __future__ import annotations

import hashlib
import json

from presence_manager.genesys.models import UserPresence
from presence_manager.timeutil import to_utc_iso

__all__ = ["ETAG_VERSION", "presence_etag"]

ETAG_VERSION = "pm1"  # part of the hashed input: bump it if the fingerprint ever changes meaning
_HEX_LENGTH = 16


def presence_etag(presence: UserPresence) -> str:
    """A short stable ETag, ``'"<16 hex digits>"'`` (quoted, as in an HTTP ``ETag`` header).

    Hashes (presenceDefinition.id, message or "", modifiedDate in UTC ms); a missing message equals an empty one,
    and ``primary``, ``source`` and the definition's systemPresence spelling do not take part."""
    definition_id = presence.presence_definition.id if presence.presence_definition else ""
    modified = to_utc_iso(presence.modified_date) if presence.modified_date else ""
    fingerprint = json.dumps([ETAG_VERSION, definition_id, presence.message or "", modified], separators=(",", ":"))
    digest = hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:_HEX_LENGTH]
    return f'"{digest}"'
