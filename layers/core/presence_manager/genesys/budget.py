"""One Genesys Cloud rate budget for the whole deployment: a token bucket in DynamoDB that every Lambda draws from.

Genesys limits a client-credentials token to ``per_minute`` requests a minute (300 unless raised by a support case)
and counts them per minute. A step *reserves* the calls it is about to make; when the bucket cannot pay for them the
reservation raises the same ``GenesysRateLimited(retryAfterSeconds)`` that a 429 raises, without taking anything, so
the state machine's one Wait path does the waiting.

Shape of the bucket (why no 60-second window can exceed ``per_minute``)
    Capacity (burst) ``B`` and refill rate ``r`` tokens a second. A token bucket grants at most ``B + r * T`` in any
    interval of length ``T`` (the tokens it holds at the start plus what refills meanwhile). A reserved call may be
    sent up to ``D = spend_within_seconds`` after its reservation (a step reserves first, then makes its calls), so
    the calls *sent* in any 60 s window were granted within a ``60 + D`` s window. Hence::

        r = (per_minute - B) / (60 + D)      =>      B + r * (60 + D) <= per_minute

    Defaults: ``B`` = 10 % of ``per_minute`` (30 of 300: several steps start at once, and the bucket keeps filling
    for ~7 s while rate-limited steps sit in their whole-second Wait), ``D`` = 5 s: 249 calls/minute sustained at 300.
    ``D = 0`` gives the plain ``B + 60 r = per_minute``. The refill interval is rounded *up* to a whole microsecond,
    so rounding only ever makes the bucket stricter.

Stored form (one item, ``pk = BUDGET#<name>``, attributes ``tat`` and, after a real 429, ``holdUntil``)
    The bucket is kept in its GCRA form: ``tat`` ("theoretical arrival time", epoch microseconds) is when the bucket
    will be full again; ``tokens(now) = B - max(0, tat - now) / T`` with ``T = 1/r``. Reserving ``n`` is allowed iff
    ``tat <= now + (B - n) T`` and sets ``tat = max(tat, now) + n T`` - exactly a token bucket, but the update is an
    *increment* DynamoDB applies atomically under a condition, with no read first:

    - busy bucket (``tat >= now``): ``SET tat = tat + :cost`` if ``tat BETWEEN :now AND :limit``;
    - idle bucket (``tat < now`` or no item): ``SET tat = :now + :cost`` if ``attribute_not_exists(tat) OR tat < :now``;
    - both only while no hold is on: ``AND (attribute_not_exists(holdUntil) OR holdUntil <= :now)`` (see ``back_off``).

    Cost: one ``UpdateItem`` per reservation, no ``GetItem``. The branch is guessed from the ``tat`` this container
    last saw (``UPDATED_NEW`` of its last update, free); a wrong guess fails its condition and the failure returns
    the item (``ReturnValuesOnConditionCheckFailure=ALL_OLD``), which is either proof that the bucket is too empty
    (refused, ``retryAfterSeconds`` computed from the real ``tat``) or the right branch for the next attempt. Under
    contention concurrent reservations on a busy bucket do not conflict with each other at all (unlike a
    compare-and-swap on ``tokens/updatedAt``, which would make all but one of them retry); only the idle -> busy
    switch can race, and the attempts are bounded (``max_attempts``; exhausted: refused with 1 s). The race is
    real when a call costs less than a round trip (a raised limit, a slow store): every idle-branch write carries its
    writer's ``now``, so a writer whose write lands after one with a later ``now`` fails its condition; a retry
    waits a short random pause first (``retry_pause_seconds``, growing with the attempt), which spreads the writers
    out instead of letting them collide again in step. Every grant is a conditional write checked by DynamoDB, so
    nothing is ever over-granted.

Clock skew between Lambdas
    There is no shared clock, so each writer uses its own. ``tat`` only moves forward under ``reserve`` (both updates
    only increase it: "keep the later timestamp"), and a ``tat`` in a writer's future is debt, never tokens: a state
    written by a clock ahead of yours mints nothing for you until your clock reaches it, and the available tokens are
    clamped at zero, never negative. What skew can do: a writer whose clock differs from the others' sees a little
    more of the bucket than they do, so the grants in a window can exceed ``per_minute`` by at most ``r * S`` for a
    clock spread of ``S`` seconds (and over any long run skew adds nothing: the total stays ``B + r * (T + S)``);
    and the writers behind a clock that runs ahead wait for it (liveness, not safety). Lambda's clock is synchronised
    by the Amazon Time Sync Service, so ``S`` is far below the ``D`` margin in practice.

A single reservation is capped at ``B`` (``ValueError`` above it, a programming error: split the work): a larger one
could never be paid for at once. ``refund`` gives back calls reserved but not sent (never above a full bucket).

A real 429 (``back_off``)
    Genesys answered 429 with ``Retry-After`` although the bucket had paid for the call: some limit the bucket does
    not model (another of Genesys's limits, clock skew) is spent. ``back_off`` puts a *hold* on the bucket until
    ``Retry-After`` has passed (``holdUntil``, epoch microseconds, only ever moved later): every reservation of
    every Lambda is refused until then (``retryAfterSeconds`` = the hold's remainder), so all of them wait it out,
    not just the one that drew it. ``tat`` is left alone: a hold only ever refuses, so the per-minute guarantee
    above is unchanged, and when it ends the bucket holds what it would have held anyway (it kept refilling) - a
    step resuming from its Wait after a 429 is not refused a second time for a bucket the 429 drained."""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from presence_manager.errors import GenesysRateLimited, GenesysUnavailable
from presence_manager.genesys.settings import DEFAULT_PER_MINUTE

logger = logging.getLogger(__name__)

BUDGET_KEY_PREFIX = "BUDGET#"
#: Seconds a reserved call may wait before it is sent (see the module docstring).
DEFAULT_SPEND_WITHIN_SECONDS = 5.0
DEFAULT_MAX_ATTEMPTS = 8
#: The longest random pause before the first retry of a raced reservation (doubled for each further attempt).
DEFAULT_RETRY_PAUSE_SECONDS = 0.01
MICROS = 1_000_000
WINDOW_SECONDS = 60
#: Part of every reservation's condition: no 429's hold is on (``back_off``).
NO_HOLD = "(attribute_not_exists(holdUntil) OR holdUntil <= :now)"


class RateBudget:
    """The deployment's Genesys rate budget (see the module docstring). One instance per warm container."""

    def __init__(
        self,
        dynamodb: Any,
        table_name: str,
        *,
        per_minute: int = DEFAULT_PER_MINUTE,
        burst: int | None = None,
        spend_within_seconds: float = DEFAULT_SPEND_WITHIN_SECONDS,
        name: str = "genesys",
        clock: Callable[[], float] = time.time,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        retry_pause_seconds: float = DEFAULT_RETRY_PAUSE_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 2:
            raise ValueError(f"per_minute must be at least 2, not {per_minute}")
        burst = max(1, per_minute // 10) if burst is None else burst
        if not 1 <= burst < per_minute:
            raise ValueError(f"burst must be at least 1 and below per_minute ({per_minute}), not {burst}")
        if spend_within_seconds < 0:
            raise ValueError("spend_within_seconds must not be negative")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._table = dynamodb.Table(table_name)
        self._conditional_failed = self._table.meta.client.exceptions.ConditionalCheckFailedException
        self._key = {"pk": f"{BUDGET_KEY_PREFIX}{name}"}
        self._clock = clock
        self._max_attempts = max_attempts
        self._retry_pause_seconds = retry_pause_seconds
        self._sleep = sleep
        self.per_minute = per_minute
        self.burst = burst
        self.spend_within_seconds = spend_within_seconds
        #: Microseconds per token (``T = 1/r``), rounded up: B + (60 + D) / T <= per_minute.
        self.interval_micros = math.ceil(MICROS * (WINDOW_SECONDS + spend_within_seconds) / (per_minute - burst))
        self._seen_tat: int | None = None  # the last ``tat`` this container saw: picks the update to try first

    @property
    def refill_per_second(self) -> float:
        return MICROS / self.interval_micros

    def _now(self) -> int:
        return int(self._clock() * MICROS)

    # ---- reserve / refund / back off -----------------------------------------------------------------------------

    def reserve(self, calls: int) -> None:
        """Take ``calls`` tokens, or raise ``GenesysRateLimited`` (retryAfterSeconds: whole seconds until the bucket
        holds them) having taken none. ``calls`` is capped at ``burst``: ``ValueError`` above it. When the table
        cannot be reached the budget cannot be kept: ``GenesysUnavailable`` (send nothing; the state machine
        retries)."""
        if calls == 0:
            return
        if calls < 0:
            raise ValueError(f"cannot reserve a negative number of calls ({calls})")
        if calls > self.burst:
            raise ValueError(
                f"cannot reserve {calls} Genesys calls at once: a reservation is capped at the bucket's burst of "
                f"{self.burst}; reserve the work in parts"
            )
        cost = calls * self.interval_micros
        slack = (self.burst - calls) * self.interval_micros
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(random.uniform(0, self._retry_pause_seconds * 2 ** (attempt - 1)))
            now = self._now()
            limit = now + slack  # the latest ``tat`` that still holds ``calls`` tokens
            seen = self._seen_tat
            try:
                if seen is not None and seen >= now:
                    answer = self._update(
                        "SET tat = tat + :cost",
                        f"tat BETWEEN :now AND :limit AND {NO_HOLD}",
                        {":cost": cost, ":now": now, ":limit": limit},
                    )
                else:
                    answer = self._update(
                        "SET tat = :tat",
                        f"(attribute_not_exists(tat) OR tat < :now) AND {NO_HOLD}",
                        {":tat": now + cost, ":now": now},
                    )
            except self._conditional_failed as exc:
                actual = _stored_tat(exc)
                self._seen_tat = actual
                hold = _stored(exc, "holdUntil")
                if hold is not None and hold > now:  # a 429's Retry-After, then whatever the tokens need
                    wait = max(hold, (actual or 0) - slack) - now
                    raise self._empty(calls, math.ceil(wait / MICROS), held=True) from None
                if actual is not None and actual > limit:
                    raise self._empty(calls, math.ceil((actual - limit) / MICROS)) from None
                continue  # the other branch applies now: try it (bounded)
            self._seen_tat = int(answer["Attributes"]["tat"])
            return
        raise self._empty(calls, 1, contended=True)

    def refund(self, calls: int) -> None:
        """Give back ``calls`` reserved but not sent. Never fills the bucket above its capacity; best effort (a
        refund lost to a concurrent update only leaves the bucket emptier, never over-granting)."""
        calls = min(calls, self.burst)
        if calls <= 0:
            return
        try:
            self._refund(calls)
        except GenesysUnavailable:
            logger.warning("Genesys rate budget: a refund of %d call(s) was lost (table unavailable)", calls)

    def _refund(self, calls: int) -> None:
        cost = calls * self.interval_micros
        now = self._now()
        try:
            answer = self._update("SET tat = tat - :cost", "tat >= :floor", {":cost": cost, ":floor": now + cost})
        except self._conditional_failed as exc:
            actual = _stored_tat(exc)
            self._seen_tat = actual
            if actual is None or actual <= now:
                return  # already full
            try:  # less than ``calls`` of debt: the refund fills the bucket, no more
                answer = self._update(
                    "SET tat = :now", "tat BETWEEN :now AND :floor", {":now": now, ":floor": now + cost}
                )
            except self._conditional_failed as again:
                self._seen_tat = _stored_tat(again)
                return
        self._seen_tat = int(answer["Attributes"]["tat"])

    def back_off(self, seconds: int) -> None:
        """A real 429 said wait ``seconds``: hold the bucket until then, so that no Lambda of the deployment gets a
        call before the ``Retry-After`` has passed (the hold is only ever moved later; the tokens are untouched)."""
        if seconds <= 0:
            return
        hold = self._now() + seconds * MICROS
        try:
            self._update(
                "SET holdUntil = :hold", "attribute_not_exists(holdUntil) OR holdUntil < :hold", {":hold": hold}
            )
        except self._conditional_failed:
            return  # a longer hold is already on
        except GenesysUnavailable:  # the 429 itself still makes this step wait; the others find out by theirs
            logger.warning("Genesys rate budget: a back-off of %d s was not shared (table unavailable)", seconds)

    def available(self) -> float:
        """Tokens in the bucket now, by this container's clock (never negative). One consistent read."""
        item = self._table.get_item(Key=self._key, ConsistentRead=True).get("Item") or {}
        now = self._now()
        if int(item.get("holdUntil", 0)) > now:
            return 0.0
        if "tat" not in item:
            return float(self.burst)
        debt = max(0, int(item["tat"]) - now)
        return max(0.0, self.burst - debt / self.interval_micros)

    # ---- step-level reservations -----------------------------------------------------------------------------------

    @contextmanager
    def reservation(self, calls: int, *, resume_calls: int = 0) -> Iterator[Reservation]:
        """Reserve ``calls`` for the block; ``spend`` inside it draws from them, and what was not spent is refunded
        on the way out (exception or not). ``resume_calls``: what the steps run again after a refusal's wait will
        spend before this one (LockedUpdate resumes at Validate): a refusal then waits for those too, so the
        resumed path finds its calls in the bucket instead of draining it for this step to be refused again."""
        try:
            self.reserve(calls)
        except GenesysRateLimited as refused:
            if not resume_calls:
                raise
            raise self.wait_for_all(refused, calls + resume_calls) from None
        held = Reservation(self, calls)
        token = _ACTIVE.set(held)
        try:
            yield held
        finally:
            _ACTIVE.reset(token)
            held.close()

    def wait_for_all(self, refused: GenesysRateLimited, calls: int) -> GenesysRateLimited:
        """A refusal that waits until the bucket holds ``calls`` tokens (at most its burst), as this container last
        saw it (the ``tat`` the refused reservation returned) - or ``refused`` itself when that is already longer:
        the steps that run again after the wait will spend ``calls`` before this one can go on."""
        needed = min(max(calls, 1), self.burst)
        now = self._now()
        tat = self._seen_tat if self._seen_tat is not None else now
        seconds = max(1, math.ceil((tat - (now + (self.burst - needed) * self.interval_micros)) / MICROS))
        if seconds <= refused.retry_after_seconds:
            return refused
        return self._empty(calls, seconds)

    @staticmethod
    def spent_in_block() -> int:
        """The calls paid so far from the active reservation (of this thread or task), 0 outside one."""
        held = _ACTIVE.get()
        return held.spent if held is not None else 0

    def spend(self) -> None:
        """One call is about to be sent: paid from the active reservation of this budget when there is one (and it
        has calls left), else reserved now."""
        held = _ACTIVE.get()
        if held is not None and held.budget is self:
            held.take()
        else:
            self.reserve(1)

    # ---- internals -----------------------------------------------------------------------------------------------

    def _update(self, update: str, condition: str, values: dict[str, int]) -> Any:
        try:
            return self._table.update_item(
                Key=self._key,
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._conditional_failed:
            raise
        except (ClientError, BotoCoreError) as exc:
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            raise GenesysUnavailable(
                f"the Genesys rate budget is unavailable ({code or type(exc).__name__}): nothing was sent",
                source="budget",
            ) from exc

    def _empty(self, calls: int, seconds: int, *, contended: bool = False, held: bool = False) -> GenesysRateLimited:
        if held:
            reason = "held after a 429 until its Retry-After has passed"
        elif contended:
            reason = "too many concurrent reservations"
        else:
            reason = "the bucket is empty"
        return GenesysRateLimited(
            f"Genesys rate budget: {reason} for {calls} call(s) ({self.per_minute}/minute)",
            retry_after_seconds=max(1, seconds),
            source="budget",
        )


class Reservation:
    """Calls reserved for a step. ``take`` pays for one call from it (reserving one more when it is spent)."""

    def __init__(self, budget: RateBudget, reserved: int) -> None:
        self.budget = budget
        self.reserved = reserved
        self.spent = 0
        self._closed = False

    @property
    def left(self) -> int:
        return max(0, self.reserved - self.spent)

    def take(self) -> None:
        if self.spent >= self.reserved:
            try:
                self.budget.reserve(1)
            except GenesysRateLimited as refused:
                # A step refused part-way runs again from its start after the wait, making the calls it has made
                # so far again (a cold container has nothing cached): wait until the bucket holds them all, or the
                # step could be refused at the same point after every wait.
                raise self.budget.wait_for_all(refused, self.spent + 1) from None
            self.reserved += 1
        self.spent += 1

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.budget.refund(self.left)


_ACTIVE: ContextVar[Reservation | None] = ContextVar("presence_manager_rate_reservation", default=None)


def _stored_tat(exc: Any) -> int | None:
    """``tat`` of the item a failed conditional update returned (``ALL_OLD``, low-level form), if any."""
    return _stored(exc, "tat")


def _stored(exc: Any, attribute: str) -> int | None:
    """A number attribute of the item a failed conditional update returned (``ALL_OLD``, low-level form), if any."""
    item = exc.response.get("Item") or {}
    value = item.get(attribute)
    return int(value["N"]) if value else None
