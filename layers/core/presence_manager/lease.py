"""Per-agent write lease: serialises *our own* writers of one agent's presence (bulk runs, schedules, API calls),
and remembers the agent's last presence write by this deployment.

One item ``LEASE#<userId>`` in the agent table:

- ``owner`` + ``expiresAt``: the lease, taken with a conditional update (free, expired, or already ours) and
  released with a conditional update (only if still ours). Expiry is checked in the condition, so TTL never matters.
- ``settling``: set when a write's answer was lost; the lease is then held until ``expiresAt`` (the write may
  still land) and is handed back to the same change when it returns to reconcile.
- ``lastWriteEtag`` / ``lastWriteChangeId``: the ETag of the presence our last write produced, set atomically with
  the release. A presence that moved to exactly that ETag was moved by us (our own contention), not by a person.

And one item ``WRITE#<userId>#<etag>`` per presence we wrote (``changeId``, expiring after a day): how a presence
event from Genesys is told apart as ours (the presence, message and ``modifiedDate`` we wrote), whatever order the
events arrive in.

It does not stop a person clicking in their own Genesys client: that is what the ETag comparison is for."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from presence_manager.aws import throttling_is_transient
from presence_manager.errors import AwsThrottled, LeaseHeld

LEASE_KEY_PREFIX = "LEASE#"
WRITE_KEY_PREFIX = "WRITE#"
#: How long we remember a presence we wrote (events from Genesys arrive within seconds).
WRITE_MEMORY_SECONDS = 86_400
#: How long a change waits before trying again a lease held by a writer about to finish: jittered, so that many
#: changes queued behind one agent do not all come back at once.
BUSY_RETRY_SECONDS = (1, 3)
#: How many BatchGetItem rounds may leave keys unprocessed before it counts as throttled.
UNPROCESSED_ATTEMPTS = 5


def _marker_key(user_id: str, etag: str) -> str:
    """The key of the ``WRITE#`` marker of a presence we wrote."""
    return f"{WRITE_KEY_PREFIX}{user_id}#{etag}"


class LastWrite(BaseModel):
    change_id: str
    etag: str


class AgentLease:
    def __init__(self, dynamodb: Any, agent_table: str, *, clock: Callable[[], float] = time.time) -> None:
        self._table = dynamodb.Table(agent_table)
        self._conditional_failed = self._table.meta.client.exceptions.ConditionalCheckFailedException
        self._clock = clock

    @staticmethod
    def _key(user_id: str) -> dict[str, str]:
        return {"pk": f"{LEASE_KEY_PREFIX}{user_id}"}

    # Every call: throttling (after boto3's own retries) is ``AwsThrottled``, which the state machine retries.
    def _update(self, **call: Any) -> Any:
        with throttling_is_transient("the agent's lease"):
            return self._table.update_item(**call)

    def _put(self, **call: Any) -> Any:
        with throttling_is_transient("the agent's write marker"):
            return self._table.put_item(**call)

    def _get(self, **call: Any) -> Any:
        with throttling_is_transient("reading the agent's lease"):
            return self._table.get_item(**call)

    def acquire(self, user_id: str, owner: str, seconds: int) -> None:
        """Take the lease (or keep it: the owner may take its own lease again, e.g. to reconcile a lost write)."""
        now = int(self._clock())
        try:
            self._update(
                Key=self._key(user_id),
                UpdateExpression="SET #owner = :owner, expiresAt = :expires REMOVE settling",
                ConditionExpression="attribute_not_exists(#owner) OR expiresAt <= :now OR #owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":now": now, ":owner": owner, ":expires": now + seconds},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._conditional_failed as exc:
            raise LeaseHeld(
                f"another change holds the lease on agent {user_id}",
                userId=user_id,
                retryAfterSeconds=self._wait_for(exc, now),
            ) from exc

    def _wait_for(self, exc: Any, now: int) -> int:
        """A lease held while a lost write settles stays taken until it expires; any other is released soon."""
        item = exc.response.get("Item") or {}
        if "settling" in item and "expiresAt" in item:
            return max(BUSY_RETRY_SECONDS[0], int(item["expiresAt"]["N"]) - now)
        return random.randint(*BUSY_RETRY_SECONDS)

    def hold_while_settling(self, user_id: str, owner: str, seconds: int) -> None:
        """A write of ours may still land: keep the lease for ``seconds`` more (nobody else writes meanwhile)."""
        now = int(self._clock())
        self._update(
            Key=self._key(user_id),
            UpdateExpression="SET expiresAt = :expires, settling = :true",
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":owner": owner, ":expires": now + seconds, ":true": True},
        )

    def release(self, user_id: str, owner: str, *, wrote: LastWrite | None = None, mark: bool = True) -> None:
        """Give the lease back; ``wrote`` records the presence our write produced, in the same update, and (unless
        ``mark`` is False: the caller marks many at once with :meth:`mark_writes`) in its ``WRITE#`` marker."""
        update = "REMOVE #owner, expiresAt, settling"
        values: dict[str, Any] = {":owner": owner}
        if wrote is not None:
            update = "SET lastWriteEtag = :etag, lastWriteChangeId = :change " + update
            values.update({":etag": wrote.etag, ":change": wrote.change_id})
        try:
            self._update(
                Key=self._key(user_id),
                UpdateExpression=update,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues=values,
            )
        except self._conditional_failed:
            # A lease that expired and was taken over by another writer is theirs now: nothing of ours to release.
            if wrote is not None:
                self._remember(user_id, wrote)
        if wrote is not None and mark:
            self._put(Item=self._marker(user_id, wrote))

    def mark_writes(self, writes: dict[str, LastWrite]) -> None:
        """The ``WRITE#`` markers of many agents' writes (a batch's), 25 to a request instead of one each."""
        if not writes:
            return
        with throttling_is_transient("the agents' write markers"), self._table.batch_writer() as batch:
            for user_id, wrote in writes.items():
                batch.put_item(Item=self._marker(user_id, wrote))

    def _marker(self, user_id: str, wrote: LastWrite) -> dict[str, Any]:
        return {
            "pk": _marker_key(user_id, wrote.etag),
            "changeId": wrote.change_id,
            "expiresAt": int(self._clock()) + WRITE_MEMORY_SECONDS,
        }

    def written_by(self, user_id: str, etag: str) -> str | None:
        """The change of ours that wrote this presence (by its ETag), or None: someone else set it."""
        item = self._get(Key={"pk": _marker_key(user_id, etag)}).get("Item")
        return str(item["changeId"]) if item else None

    def written_by_many(self, writes: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """:meth:`written_by` for many (user id, ETag) pairs at once (100 to a BatchGetItem): the pairs of ours,
        each with the change that wrote it; a pair left out was written by someone else."""
        client = self._table.meta.client  # a resource's client: plain Python values in and out
        wanted = sorted(writes)
        found: dict[tuple[str, str], str] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": [{"pk": _marker_key(user, etag)} for user, etag in wanted[start : start + 100]],
                    "ProjectionExpression": "pk, changeId",
                }
            }
            for attempt in range(UNPROCESSED_ATTEMPTS):
                if attempt:
                    time.sleep(0.05 * 2**attempt)  # keys left unprocessed: DynamoDB throttled part of the request
                with throttling_is_transient("reading the agents' write markers"):
                    answer = client.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self._table.name, []):
                    user, _, etag = str(item["pk"]).removeprefix(WRITE_KEY_PREFIX).partition("#")
                    found[(user, etag)] = str(item["changeId"])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise AwsThrottled("reading the agents' write markers was throttled by AWS (keys left unprocessed)")
        return found

    def _remember(self, user_id: str, wrote: LastWrite) -> None:
        self._update(
            Key=self._key(user_id),
            UpdateExpression="SET lastWriteEtag = :etag, lastWriteChangeId = :change",
            ExpressionAttributeValues={":etag": wrote.etag, ":change": wrote.change_id},
        )

    def last_write(self, user_id: str) -> LastWrite | None:
        item = self._get(Key=self._key(user_id), ConsistentRead=True).get("Item") or {}
        if "lastWriteEtag" not in item:
            return None
        return LastWrite(change_id=str(item["lastWriteChangeId"]), etag=str(item["lastWriteEtag"]))
