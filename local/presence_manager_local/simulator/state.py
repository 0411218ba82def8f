"""The simulated org as one facade, :class:`SimulatorState`, over its concerns:

- :mod:`.org` — the users and the indexes every concern shares (:class:`~.org.OrgBase`);
- :mod:`.presence` — presence definitions, user presence one and in bulk, the users listing;
- :mod:`.routing` — routing status and skills;
- :mod:`.wfm` — units, activity codes, schedule searches, adherence, downloads;
- :mod:`.architect` — Architect schedule groups and schedules (business hours);
- :mod:`.auth` — tokens and the per-token rate limit (:class:`~.auth.TokenBook`);
- :mod:`.admin` — the admin views; :mod:`.faults` — fault injection.

Thread-safe (one re-entrant lock for the org, one for tokens), no HTTP: methods take parsed JSON and return the JSON
Genesys answers (SDK field names), or raise :class:`~.errors.SimError`. The org is the fixture's (``data/org.json``)
or, with ``agents=N``, an org of N agents generated from it (:mod:`.scale`).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from presence_manager_local.simulator.admin import AdminViewsMixin
from presence_manager_local.simulator.architect import ArchitectMixin
from presence_manager_local.simulator.auth import RATE_WINDOW, TokenBook, TokenInfo
from presence_manager_local.simulator.common import (
    iso_ms,
    normalize_system_presence,
    parse_instant,
    truncate_ms,
    utc_now,
    wire_system_presence,
)
from presence_manager_local.simulator.events import EventEmitter, EventSink
from presence_manager_local.simulator.faults import Fault, FaultBook, FaultSpec
from presence_manager_local.simulator.fixture import Fixture, load_fixture
from presence_manager_local.simulator.org import SkillAssignment, UserState
from presence_manager_local.simulator.presence import BULK_PRESENCE_MAX_IDS, PresenceMixin
from presence_manager_local.simulator.routing import RoutingMixin
from presence_manager_local.simulator.scale import scaled_fixture
from presence_manager_local.simulator.wfm import ADHERENCE_MAX_USERS, WfmMixin

__all__ = [
    "ADHERENCE_MAX_USERS",
    "BULK_PRESENCE_MAX_IDS",
    "RATE_WINDOW",
    "REQUEST_LOG_MAX",
    "SimulatorState",
    "SkillAssignment",
    "TokenInfo",
    "UserState",
    "iso_ms",
    "normalize_system_presence",
    "parse_instant",
    "truncate_ms",
    "utc_now",
    "wire_system_presence",
]

#: the request log keeps this many entries (indexes keep counting; ``?since=`` past the oldest kept starts there)
REQUEST_LOG_MAX = 100_000


class SimulatorState(PresenceMixin, RoutingMixin, WfmMixin, ArchitectMixin, AdminViewsMixin):
    """The in-memory org. Every public method takes the lock."""

    def __init__(
        self,
        fixture: Path | str | None = None,
        *,
        now: Callable[[], datetime] | None = None,
        rate_limit_per_minute: int = 300,
        schedule_inline_max_users: int | None = None,
        activity_codes_inline_max: int | None = None,
        agents: int | None = None,
        management_units: int | None = None,
    ) -> None:
        """``agents``: an org of that many agents generated from the fixture (:func:`.scale.scaled_fixture`, over
        ``management_units`` management units); ``None``: the fixture's own org."""
        self.lock = threading.RLock()
        self.fixture_path = fixture
        self._clock = now or utc_now
        self._schedule_inline_max_users_override = schedule_inline_max_users
        self._activity_codes_inline_max_override = activity_codes_inline_max
        self.agents = agents
        self.management_unit_count = management_units
        self.auth = TokenBook(self.now, rate_limit_per_minute)
        self.faults = FaultBook()
        self.events = EventEmitter()
        self.reset()

    @property
    def event_sink(self) -> EventSink | None:
        """Called with ``(topicName, eventBody)`` after every presence or routing-status change, from a worker
        thread (:mod:`.events`); None (the default): no events."""
        return self.events.sink

    @event_sink.setter
    def event_sink(self, sink: EventSink | None) -> None:
        self.events.sink = sink

    # ---- lifecycle and configuration ----------------------------------------------------------------------------

    def build_fixture(self) -> Fixture:
        base = load_fixture(self.fixture_path)
        if self.agents is None:
            return base
        return scaled_fixture(base, self.agents, self.management_unit_count)

    def reset(self) -> None:
        """Reload the org, regenerate schedules around now, clear faults, log, tokens and rate windows."""
        with self.lock:
            fixture = self.build_fixture()
            self.load_org(fixture)
            self.auth.reset(fixture.oauth_clients)
            self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_MAX)
            self._request_count = 0
            self.reset_wfm()
            self.reset_architect()
            self.faults.clear()

    def reshape(self, agents: int | None, management_units: int | None = None) -> None:
        """Change the org's shape — ``agents`` generated agents over ``management_units`` management units, or
        ``None``: the fixture's org — and :meth:`reset` to it (the shape is kept by later resets)."""
        if agents is not None and (isinstance(agents, bool) or not isinstance(agents, int) or agents < 1):
            raise ValueError("agents must be a positive integer or null")
        if management_units is not None and (
            isinstance(management_units, bool) or not isinstance(management_units, int) or management_units < 1
        ):
            raise ValueError("managementUnits must be a positive integer or null")
        if agents is None and management_units is not None:
            raise ValueError("managementUnits needs agents")
        with self.lock:
            previous = (self.agents, self.management_unit_count)
            self.agents, self.management_unit_count = agents, management_units
            try:
                self.reset()
            except ValueError:
                self.agents, self.management_unit_count = previous
                raise

    @property
    def rate_limit_per_minute(self) -> int:
        return self.auth.rate_limit_per_minute

    @property
    def schedule_inline_max_users(self) -> int:
        if self._schedule_inline_max_users_override is not None:
            return self._schedule_inline_max_users_override
        return self.fixture.settings.schedule_inline_max_users

    @property
    def activity_codes_inline_max(self) -> int | None:
        if self._activity_codes_inline_max_override is not None:
            return self._activity_codes_inline_max_override
        return self.fixture.settings.activity_codes_inline_max

    def configure(
        self,
        *,
        rate_limit_per_minute: int | None = None,
        schedule_inline_max_users: int | None = None,
        token_lifetime_seconds: int | None = None,
        activity_codes_inline_max: int | None = None,
    ) -> dict[str, Any]:
        """Change server settings (kept across :meth:`reset`)."""
        with self.lock:
            if rate_limit_per_minute is not None:
                if rate_limit_per_minute < 1:
                    raise ValueError("rateLimitPerMinute must be at least 1")
                self.auth.rate_limit_per_minute = rate_limit_per_minute
            if schedule_inline_max_users is not None:
                if schedule_inline_max_users < 0:
                    raise ValueError("scheduleInlineMaxUsers must be at least 0")
                self._schedule_inline_max_users_override = schedule_inline_max_users
            if token_lifetime_seconds is not None:
                if token_lifetime_seconds < 1:
                    raise ValueError("tokenLifetimeSeconds must be at least 1")
                self.auth.token_lifetime_override = token_lifetime_seconds
            if activity_codes_inline_max is not None:
                if activity_codes_inline_max < 0:
                    raise ValueError("activityCodesInlineMax must be at least 0")
                self._activity_codes_inline_max_override = activity_codes_inline_max
            return self.settings()

    def settings(self) -> dict[str, Any]:
        return {
            "rateLimitPerMinute": self.rate_limit_per_minute,
            "scheduleInlineMaxUsers": self.schedule_inline_max_users,
            "activityCodesInlineMax": self.activity_codes_inline_max,
            "tokenLifetimeSeconds": self.auth.token_lifetime_override,
            "agents": self.agents,
            "managementUnits": len(self.management_units),
        }

    # ---- OAuth, tokens and the rate limit (delegated to the token book) -----------------------------------------

    def issue_token(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        return self.auth.issue(authorization, form)

    def authenticate(self, authorization: str | None) -> str:
        """The bearer token of a request, if valid and unexpired."""
        return self.auth.authenticate(authorization)

    def expire_tokens(self) -> int:
        return self.auth.expire_all()

    def admit(self, token: str) -> None:
        """Count one request against the token's sliding 60-second window, or raise a 429."""
        self.auth.admit(token)

    # ---- faults and the request log -----------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any] | FaultSpec) -> Fault:
        spec = spec if isinstance(spec, FaultSpec) else FaultSpec.model_validate(spec)
        if spec.presence:
            self.resolve_presence(spec.presence)
        if spec.user_id and spec.user_id not in self.users:
            raise KeyError(f"no user {spec.user_id}")
        return self.faults.add(spec, self.now())

    def clear_faults(self) -> int:
        """Clear every fault and what faults left behind (searches kept ``Processing``)."""
        self.forget_processing_searches()
        return self.faults.clear()

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.request_log.append({"index": self._request_count, **entry})
            self._request_count += 1

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            oldest = self._request_count - len(self.request_log)
            return [dict(e) for e in itertools.islice(self.request_log, max(0, since - oldest), None)]

    # ---- admin views --------------------------------------------------------------------------------------------

    def snapshot(self, *, include_users: bool = True) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            views = self.org_views(now, include_users)
            return {
                "now": iso_ms(now),
                "schedulesGeneratedAt": iso_ms(self.loaded_at),
                "organization": self.fixture.organization.model_dump(mode="json", by_alias=True),
                "settings": self.settings(),
                "oauthClients": [
                    {"clientId": c.client_id, "name": c.name, "tokenLifetimeSeconds": c.token_lifetime_seconds}
                    for c in self.fixture.oauth_clients
                ],
                **views,
                "asyncScheduleSearches": [s.to_json() for s in self.async_searches.values()],
                "scheduleGroups": self.schedule_group_views(),
                "faults": [f.to_json() for f in self.faults.active()],
            }
