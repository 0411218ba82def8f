"""Per-agent write lease: serialises *our own* writers of one agent's presence (bulk runs, schedules, API calls).

A lease is an item ``LEASE#<userId>`` in the agent table, taken with a conditional put (free, expired, or already
ours) and released with a conditional delete (only if still ours). ``expiresAt`` doubles as the TTL attribute;
expiry is checked in the condition, so TTL's lazy deletion never matters. It does not stop a person clicking in
their own Genesys client: that is what the ETag comparison is for."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from presence_manager.errors import LeaseHeld

LEASE_KEY_PREFIX = "LEASE#"


class AgentLease:
    def __init__(self, dynamodb: Any, agent_table: str, *, clock: Callable[[], float] = time.time) -> None:
        self._table = dynamodb.Table(agent_table)
        self._clock = clock

    def acquire(self, user_id: str, owner: str, seconds: int) -> None:
        now = int(self._clock())
        try:
            self._table.put_item(
                Item={"pk": f"{LEASE_KEY_PREFIX}{user_id}", "owner": owner, "expiresAt": now + seconds},
                ConditionExpression="attribute_not_exists(pk) OR expiresAt <= :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": now, ":owner": owner},
            )
        except self._table.meta.client.exceptions.ConditionalCheckFailedException as exc:
            raise LeaseHeld(f"another change holds the lease on agent {user_id}", userId=user_id) from exc

    def release(self, user_id: str, owner: str) -> None:
        # A lease that expired and was taken over by another writer is theirs now: nothing of ours to release.
        with suppress(self._table.meta.client.exceptions.ConditionalCheckFailedException):
            self._table.delete_item(
                Key={"pk": f"{LEASE_KEY_PREFIX}{user_id}"},
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )

    @contextmanager
    def held(self, user_id: str, owner: str, seconds: int) -> Iterator[None]:
        self.acquire(user_id, owner, seconds)
        try:
            yield
        finally:
            self.release(user_id, owner)
