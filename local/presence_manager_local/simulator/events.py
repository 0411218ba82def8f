"""Notification events, as Genesys Cloud emits one for every presence and routing-status change, whoever made it: a
PATCH or bulk PUT of ours, the agent in their client (``POST /__sim/users/{id}/presence``, a ``concurrent_edit``
fault), a routing status set through the admin API, or the routing status a presence change moves.

The simulator hands ``(topicName, eventBody)`` to an optional sink (``SimulatorState.event_sink``; None: no events,
the default) - the local runtime's sink wraps them in the Amazon EventBridge integration's envelope and puts them on
the local partner event bus. Bodies are the SDK's ``PresenceEventUserPresence`` and
``UserRoutingStatusUserRoutingStatus`` (contract-tested in tests/contract/test_events_contract.py).

Events are queued while the org's lock is held (so they leave in the order the changes were made) and delivered by
one worker thread, outside every lock: a slow sink never slows the simulator's answers. A sink with a ``put_batch``
method is handed the events already queued together, up to ten (one PutEvents for the local runtime's sink).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

EventSink = Callable[[str, dict[str, Any]], None]
_STOP = object()
#: How many queued events go to a batch-taking sink at once (EventBridge's PutEvents takes 10 entries).
BATCH_EVENTS = 10


def presence_topic(user_id: str) -> str:
    return f"v2.users.{user_id}.presence"


def routing_status_topic(user_id: str) -> str:
    return f"v2.users.{user_id}.routingStatus"


class EventEmitter:
    """A queue and one daemon thread delivering ``(topic, body)`` to the sink, in order."""

    def __init__(self) -> None:
        self._sink: EventSink | None = None
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.delivered = 0
        self.failed = 0

    @property
    def sink(self) -> EventSink | None:
        return self._sink

    @sink.setter
    def sink(self, sink: EventSink | None) -> None:
        self._sink = sink
        if sink is not None:
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="genesys-sim-events", daemon=True)
                    self._thread.start()

    def emit(self, topic: str, body: dict[str, Any]) -> None:
        """Queue one event (never blocks); nothing without a sink."""
        if self._sink is not None:
            self._queue.put((topic, body))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event went to the sink; False if some had not after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def close(self) -> None:
        """No more events: the worker ends after the events already queued (or those are dropped without a sink)."""
        self._sink = None
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=5)
        self._thread = None

    def _run(self) -> None:
        while True:
            items = self._take()
            events = [item for item in items if item is not _STOP]
            try:
                sink = self._sink
                if sink is not None and events:
                    put_batch = getattr(sink, "put_batch", None)
                    if put_batch is not None:  # a sink that takes up to BATCH_EVENTS at once (PutEvents' limit)
                        put_batch(events)
                    else:
                        for topic, body in events:
                            sink(topic, body)
                    self.delivered += len(events)
            except Exception:  # a sink failing (the bus gone) must not end the worker
                self.failed += len(events)
                logger.warning("%d event(s) not delivered", len(events), exc_info=True)
            finally:
                for _ in items:
                    self._queue.task_done()
            if any(item is _STOP for item in items):
                return

    def _take(self) -> list[Any]:
        """The next event, and those already queued behind it, up to ``BATCH_EVENTS`` (in order)."""
        items = [self._queue.get()]
        while len(items) < BATCH_EVENTS and items[-1] is not _STOP:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return items
