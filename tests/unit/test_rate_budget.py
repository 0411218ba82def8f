"""The deployment's shared Genesys rate budget (a token bucket in the template's agent table, under moto)."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from presence_manager.errors import GenesysRateLimited, GenesysUnavailable
from presence_manager.genesys.budget import MICROS, RateBudget
from tests.aws_tables import create_table_from_template, mocked_aws_environment

TABLE = "agents"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    mocked_aws_environment(monkeypatch)
    # DynamoDB applies a conditional write to an item atomically; moto's in-process backend does not when called from
    # several threads, so the item operations are serialised here to give the threaded tests DynamoDB's guarantee.
    serial = threading.Lock()
    for name in ("get_item", "put_item", "update_item"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: Any, *args: Any, __original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with serial:
                return __original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)
    with mock_aws():
        resource = boto3.resource("dynamodb")
        create_table_from_template(resource, "AgentTable", TABLE)
        yield resource


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def one_per_second(dynamodb: Any, clock: Callable[[], float]) -> RateBudget:
    """70/minute with a burst of 10 and no send delay: refills exactly one token a second (10 + 60 * 1 = 70)."""
    return RateBudget(dynamodb, TABLE, per_minute=70, burst=10, spend_within_seconds=0, clock=clock)


def limited(budget: RateBudget, calls: int) -> int:
    """The retryAfterSeconds of a refused reservation (fails the test when it is granted)."""
    with pytest.raises(GenesysRateLimited) as refused:
        budget.reserve(calls)
    return refused.value.retry_after_seconds


def stored_tat(dynamodb: Any) -> int:
    item = dynamodb.Table(TABLE).get_item(Key={"pk": "BUDGET#genesys"}, ConsistentRead=True)["Item"]
    return int(item["tat"])


def run_together(worker: Callable[..., None], arguments: list[tuple[Any, ...]]) -> None:
    """``worker`` in one thread per argument tuple, started together; returns when all have ended."""
    threads = [threading.Thread(target=worker, args=args) for args in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """The most events in any closed window ``[t, t + window]`` (each window starting at an event is the worst)."""
    times = sorted(times)
    best, end = 0, 0
    for start, first in enumerate(times):
        while end < len(times) and times[end] <= first + window:
            end += 1
        best = max(best, end - start)
    return best


# ---- shape ---------------------------------------------------------------------------------------------------------


def test_given_defaults_then_the_burst_is_a_tenth_and_no_window_can_exceed_the_minute_limit() -> None:
    with mock_aws():
        budget = RateBudget(boto3.resource("dynamodb", region_name="us-east-1"), TABLE)
    assert (budget.per_minute, budget.burst, budget.spend_within_seconds) == (300, 30, 5.0)
    window = budget.burst + budget.refill_per_second * (60 + budget.spend_within_seconds)
    assert window <= 300
    assert window > 299.99, "the rounding of the refill interval is at most a microsecond per token"
    assert 240 < budget.refill_per_second * 60 < 270, "sustained rate: (300 - 30) / 65 s"


def test_given_an_impossible_shape_then_the_budget_refuses_to_start() -> None:
    with mock_aws():
        resource = boto3.resource("dynamodb", region_name="us-east-1")
        with pytest.raises(ValueError, match="burst"):
            RateBudget(resource, TABLE, per_minute=300, burst=300)
        with pytest.raises(ValueError, match="burst"):
            RateBudget(resource, TABLE, per_minute=300, burst=0)
        with pytest.raises(ValueError, match="per_minute"):
            RateBudget(resource, TABLE, per_minute=1)


# ---- refill and refusals -------------------------------------------------------------------------------------------


def test_given_a_drained_bucket_then_it_refills_at_its_rate_up_to_its_burst(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    assert budget.available() == 10.0, "a new bucket starts full"
    budget.reserve(10)
    assert budget.available() == 0.0
    assert limited(budget, 1) == 1
    clock.advance(2.5)
    assert budget.available() == 2.5
    budget.reserve(2)
    assert limited(budget, 1) == 1, "half a token: one more second"
    clock.advance(0.5)
    budget.reserve(1)
    clock.advance(3600)
    assert budget.available() == 10.0, "an idle bucket holds its burst, no more"
    budget.reserve(10)
    assert limited(budget, 1) == 1


def test_given_an_empty_bucket_then_the_refusal_is_a_429_like_error_with_the_seconds_to_wait_and_takes_nothing(
    dynamodb: Any,
) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    budget.reserve(10)
    clock.advance(2.5)
    with pytest.raises(GenesysRateLimited) as refused:
        budget.reserve(5)
    assert refused.value.retry_after_seconds == 3, "2.5 tokens short at one a second: 2.5 s, in whole seconds"
    message = json.loads(refused.value.to_state_machine_message())
    assert message["retryAfterSeconds"] == 3, "the state machine's Wait reads retryAfterSeconds, as for a 429"
    assert message["source"] == "budget"
    assert type(refused.value) is GenesysRateLimited, "the same errorType as a real 429"
    budget.reserve(2)  # the refused reservation took nothing: the 2.5 tokens are all still there
    assert limited(budget, 1) == 1


def test_given_a_reservation_above_the_burst_then_it_is_refused_clearly_and_zero_costs_nothing(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    with pytest.raises(ValueError, match="capped at the bucket's burst of 10"):
        budget.reserve(11)
    with pytest.raises(ValueError, match="negative"):
        budget.reserve(-1)
    budget.reserve(0)
    budget.reserve(10)  # nothing was taken by any of the above
    assert budget.available() == 0.0


def test_given_a_warm_container_then_a_reservation_costs_one_update_and_no_read(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    calls: list[str] = []
    dynamodb.meta.client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name), unique_id="count-budget-calls"
    )
    for _ in range(5):
        budget.reserve(1)
    assert calls[1:] == ["UpdateItem"] * 4, "busy bucket: one conditional increment each"
    assert calls[0] == "UpdateItem", "the first one (no item yet) too"
    clock.advance(60)
    other_container = one_per_second(dynamodb, clock)
    other_container.reserve(1)  # the bucket was idle; now it is busy again, unknown to ``budget``
    calls.clear()
    budget.reserve(1)
    assert calls == ["UpdateItem", "UpdateItem"], "a stale guess costs one more update (its failure tells), no read"
    assert budget.available() == 8.0


# ---- refunds, back-off, step reservations ------------------------------------------------------------------------


def test_given_calls_not_sent_then_a_refund_gives_them_back_but_never_above_the_burst(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    budget.reserve(10)
    budget.refund(4)
    budget.reserve(4)
    assert limited(budget, 1) == 1
    clock.advance(2)
    budget.refund(10)  # 2 tokens in the bucket, 10 refunded: full, not 12
    assert budget.available() == 10.0
    budget.reserve(10)
    assert limited(budget, 1) == 1
    clock.advance(3600)
    budget.refund(5)  # a full bucket stays full
    budget.reserve(10)
    assert limited(budget, 1) == 1


def test_given_a_real_429_then_back_off_makes_every_container_wait_out_its_retry_after(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    other_container = one_per_second(dynamodb, clock)
    budget.reserve(1)
    tat = stored_tat(dynamodb)
    budget.back_off(20)
    assert limited(other_container, 1) == 20
    assert budget.available() == 0
    budget.back_off(5)  # shorter than the hold already on: changes nothing
    clock.advance(19)
    assert limited(budget, 1) == 1
    assert stored_tat(dynamodb) == tat, "a hold only refuses: it takes no tokens"
    clock.advance(1)
    other_container.reserve(9)  # the hold is over and the bucket refilled meanwhile: a whole burst, at once
    assert limited(budget, 2) == 1


def test_given_a_hold_and_an_empty_bucket_then_the_wait_covers_both(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    budget.reserve(10)
    budget.back_off(3)
    assert limited(budget, 1) == 3, "the hold"
    assert limited(budget, 5) == 5, "past the hold, the tokens"


def test_given_a_step_reservation_then_calls_draw_from_it_and_what_is_left_is_refunded(dynamodb: Any) -> None:
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    with budget.reservation(4) as held:
        assert budget.available() == 6.0
        budget.spend()
        budget.spend()
        assert (held.spent, held.left) == (2, 2)
        assert budget.available() == 6.0, "spending reserved calls costs the bucket nothing more"
    assert budget.available() == 8.0, "the two calls not made were refunded"

    with budget.reservation(1):
        budget.spend()
        budget.spend()  # one more than reserved: reserved on the spot
    assert budget.available() == 6.0

    with pytest.raises(RuntimeError), budget.reservation(3):
        budget.spend()
        raise RuntimeError("the step failed after one call")
    assert budget.available() == 5.0, "a failed step refunds what it did not send"

    budget.spend()  # no reservation: reserves one
    assert budget.available() == 4.0


def test_given_a_step_refused_part_way_then_it_waits_until_the_bucket_holds_every_call_it_will_make_again(
    dynamodb: Any,
) -> None:
    """A step runs again from its start after the wait (a cold container makes its calls again): waiting for one
    call's worth would refuse it at the same point after every wait."""
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    budget.reserve(7)  # 3 tokens left, one more a second
    with pytest.raises(GenesysRateLimited) as refused, budget.reservation(1):
        for _ in range(4):
            budget.spend()
    assert refused.value.retry_after_seconds == 4, "the 4 calls of the step, not 1"
    assert budget.available() == 0.0, "the three calls made stay spent; the refused one took nothing"


def test_given_a_step_that_resumes_earlier_steps_then_its_refusal_waits_for_their_calls_too(dynamodb: Any) -> None:
    """LockedUpdate resumes at Validate after a wait: a refusal waits for what validating again costs as well."""
    clock = FakeClock()
    budget = one_per_second(dynamodb, clock)
    budget.reserve(10)  # empty
    assert limited(budget, 3) == 3
    with pytest.raises(GenesysRateLimited) as refused, budget.reservation(3, resume_calls=6):
        pass
    assert refused.value.retry_after_seconds == 9
    clock.advance(9)
    with budget.reservation(6):  # Validate again, then LockedUpdate's 3: both paid
        pass
    with budget.reservation(3):
        pass


def test_given_the_table_unreachable_then_reserving_is_unavailable_and_refunds_never_fail_a_step(
    dynamodb: Any,
) -> None:
    budget = RateBudget(dynamodb, "no-such-table", clock=FakeClock())
    with pytest.raises(GenesysUnavailable, match="ResourceNotFoundException") as unavailable:
        budget.reserve(1)
    assert "nothing was sent" in str(unavailable.value)
    budget.refund(3)  # best effort: logged, never raised (a step's own error must not be masked)
    budget.back_off(10)


# ---- concurrency ---------------------------------------------------------------------------------------------------


def test_given_concurrent_reservations_from_several_containers_then_the_bucket_is_never_over_granted(
    dynamodb: Any,
) -> None:
    clock = FakeClock()  # frozen: nothing refills, so exactly the burst can be granted
    containers = [RateBudget(dynamodb, TABLE, clock=clock) for _ in range(3)]
    granted: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def worker(budget: RateBudget) -> None:
        start.wait()
        for _ in range(15):
            try:
                budget.reserve(1)
            except GenesysRateLimited as exc:
                with lock:
                    refused.append(exc.retry_after_seconds)
            else:
                with lock:
                    granted.append(1)

    run_together(worker, [(containers[i % 3],) for i in range(6)])
    assert sum(granted) == 30, "all of the burst, and not one call more"
    assert len(refused) == 90 - 30
    assert all(seconds >= 1 for seconds in refused)
    assert stored_tat(dynamodb) == int(clock() * MICROS) + 30 * containers[0].interval_micros


def test_given_concurrent_reservations_while_time_passes_then_grants_stay_within_burst_plus_refill(
    dynamodb: Any,
) -> None:
    started = time.monotonic()
    base = 1_000_000.0

    def clock() -> float:  # simulated time at 20x real speed
        return base + (time.monotonic() - started) * 20

    containers = [RateBudget(dynamodb, TABLE, clock=clock) for _ in range(4)]
    granted: list[int] = []
    lock = threading.Lock()
    rng = random.Random(3)
    sizes = [[rng.randint(1, 5) for _ in range(400)] for _ in range(4)]

    def worker(index: int) -> None:
        budget = containers[index]
        for calls in sizes[index]:
            if clock() - base > 20:
                return
            try:
                budget.reserve(calls)
            except GenesysRateLimited:
                continue
            with lock:
                granted.append(calls)

    first = clock()
    run_together(worker, [(i,) for i in range(4)])
    elapsed = clock() - first
    rate = containers[0].refill_per_second
    assert sum(granted) <= 30 + rate * elapsed
    assert sum(granted) >= 30, "the burst at least was granted"


# ---- the guarantee Genesys counts: no 60-second window above per_minute ------------------------------------------


def test_given_a_long_random_run_of_several_containers_then_no_60_second_window_of_sent_calls_exceeds_the_limit(
    dynamodb: Any,
) -> None:
    """Four containers (each with its own cached view), reservations of 1-12 calls arriving faster than the budget
    allows, each reserved call sent up to 5 s later (``spend_within_seconds``), and some calls never sent and
    refunded a little later. The calls Genesys sees never exceed 300 in any 60 s window."""
    rng = random.Random(20261124)
    clock = FakeClock()
    containers = [RateBudget(dynamodb, TABLE, clock=clock) for _ in range(4)]
    budget = containers[0]
    sent: list[float] = []
    refunds: list[tuple[float, int, int]] = []  # (when, container, calls)
    started = clock()
    while clock() - started < 900:
        clock.advance(rng.expovariate(1 / 0.6))
        while refunds and refunds[0][0] <= clock():
            _, index, calls = refunds.pop(0)
            containers[index].refund(calls)
        index = rng.randrange(4)
        calls = rng.randint(1, 12)
        try:
            containers[index].reserve(calls)
        except GenesysRateLimited:
            continue
        unsent = rng.randint(1, calls) if rng.random() < 0.2 else 0
        sent.extend(clock() + rng.uniform(0, budget.spend_within_seconds) for _ in range(calls - unsent))
        if unsent:
            refunds.append((clock() + rng.uniform(0, budget.spend_within_seconds), index, unsent))
            refunds.sort()
    duration = clock() - started
    assert max_in_window(sent) <= 300
    assert len(sent) >= 0.9 * budget.refill_per_second * duration, "the budget is used, not wasted"
    assert max_in_window(sent) >= 250, "windows come close to the limit: the check above is not vacuous"


# ---- clock skew ----------------------------------------------------------------------------------------------------


def test_given_a_clock_ahead_then_its_future_state_mints_no_tokens_for_others_and_nothing_goes_negative(
    dynamodb: Any,
) -> None:
    real = FakeClock()
    correct = one_per_second(dynamodb, real)
    ahead = one_per_second(dynamodb, lambda: real() + 30)
    behind = one_per_second(dynamodb, lambda: real() - 30)

    correct.reserve(10)
    ahead.reserve(10)  # 30 s ahead, it sees a bucket full for 20 s: a fast clock's over-grant, one burst at most
    tat = stored_tat(dynamodb)
    assert tat == int((real() + 30) * MICROS) + 10 * MICROS, "the state moved to the later clock, not back"
    assert limited(correct, 1) == 31, "a state in the future is debt until this clock reaches it, never tokens"
    assert correct.available() == 0.0
    assert limited(behind, 1) == 61
    assert behind.available() == 0.0, "never negative, however far behind the clock"

    real.advance(20)
    assert limited(correct, 1) == 11, "still nothing minted from the future state"
    real.advance(11)
    correct.reserve(1)
    assert stored_tat(dynamodb) == tat + MICROS, "the state only moves forward"
    assert limited(behind, 1) == 31, "the clock behind never gets more than the clock on time"


def test_given_skewed_clocks_over_a_long_run_then_the_over_grant_stays_within_rate_times_the_clock_spread(
    dynamodb: Any,
) -> None:
    rng = random.Random(8)
    real = FakeClock()
    offsets = (30.0, -30.0, 0.0, 0.0)
    containers = [RateBudget(dynamodb, TABLE, clock=lambda o=o: real() + o) for o in offsets]
    budget = containers[0]
    rate, spread = budget.refill_per_second, max(offsets) - min(offsets)
    granted: list[float] = []
    last_tat = 0
    started = real()
    while real() - started < 600:
        real.advance(rng.expovariate(1 / 0.5))
        calls = rng.randint(1, 8)
        try:
            containers[rng.randrange(len(containers))].reserve(calls)
        except GenesysRateLimited:
            continue
        granted.extend([real()] * calls)
        tat = stored_tat(dynamodb)
        assert tat >= last_tat, "reservations never move the state back, whatever the clock"
        last_tat = tat
    duration = real() - started
    assert max_in_window(granted) <= 300 + rate * spread
    assert len(granted) <= 30 + rate * (duration + spread), "over the run, skew shifts grants but adds none"
    # Liveness is what skew costs: the containers behind the clock ahead wait for it (throughput lost, never added).
    assert len(granted) >= 0.4 * rate * duration, "the budget still serves"


def _slow_store(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Every update takes ``seconds`` on the way (a round trip longer than one call's share of the bucket)."""
    original = DynamoDBBackend.update_item

    def slow(self: Any, *args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "update_item", slow)


def test_given_many_containers_on_an_idle_bucket_with_a_slow_store_then_the_race_for_it_never_refuses_them(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A raised limit (100,000/minute: one call costs 0.6 ms of the bucket) and 5 ms round trips: every reservation
    races the idle -> busy switch with a stale ``now``. Twelve containers starting at once each get their calls."""
    _slow_store(monkeypatch, 0.005)
    containers = [RateBudget(dynamodb, TABLE, per_minute=100_000) for _ in range(12)]
    refused: list[str] = []
    start = threading.Barrier(len(containers))

    def worker(budget: RateBudget) -> None:
        start.wait()
        for _ in range(3):
            try:
                budget.reserve(1)
            except GenesysRateLimited as exc:
                refused.append(str(exc))

    run_together(worker, [(budget,) for budget in containers])
    assert refused == [], f"{len(refused)} of 36 refused with the bucket nearly full"
