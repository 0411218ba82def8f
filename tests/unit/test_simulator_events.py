"""The simulator's notification events leave in the order the changes were made, through one worker; a sink that
takes batches (the local runtime's partner bus: one PutEvents) gets the events queued together, up to ten."""

from __future__ import annotations

import threading
from typing import Any

from presence_manager_local.simulator.events import BATCH_EVENTS, EventEmitter


class BatchSink:
    def __init__(self, gate: threading.Event) -> None:
        self.gate = gate
        self.batches: list[list[tuple[str, dict[str, Any]]]] = []

    def __call__(self, topic: str, body: dict[str, Any]) -> None:
        raise AssertionError("a batch-taking sink is handed batches")

    def put_batch(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        self.gate.wait(5)
        self.batches.append(events)


def test_given_events_queued_together_then_a_batch_sink_gets_them_ten_at_a_time_in_order() -> None:
    gate = threading.Event()
    sink = BatchSink(gate)
    emitter = EventEmitter()
    emitter.sink = sink
    try:
        for n in range(26):  # queued while the sink is held at its gate
            emitter.emit(f"v2.users.u{n}.presence", {"n": n})
        gate.set()
        assert emitter.flush(5)
    finally:
        emitter.close()
    sizes = [len(batch) for batch in sink.batches]
    assert all(size <= BATCH_EVENTS for size in sizes) and sizes.count(BATCH_EVENTS) >= 2, sizes
    assert len(sizes) <= 4, "one PutEvents per ten events queued together, not one per event"
    assert [body["n"] for batch in sink.batches for _, body in batch] == list(range(26)), "in order, each once"
    assert emitter.delivered == 26 and emitter.failed == 0


def test_given_a_plain_sink_then_it_is_called_once_per_event() -> None:
    seen: list[str] = []
    emitter = EventEmitter()
    emitter.sink = lambda topic, body: seen.append(topic)
    try:
        for n in range(3):
            emitter.emit(f"v2.users.u{n}.presence", {})
        assert emitter.flush(5)
    finally:
        emitter.close()
    assert seen == [f"v2.users.u{n}.presence" for n in range(3)]
