"""Fault injection: the next ``count`` requests matching a fault get it.

Kinds:
- ``rate_limit``: answer 429 with ``Retry-After: retryAfter`` (default 1) and Genesys's rate-limit ``ErrorBody``,
  without processing the request;
- ``server_error``: answer ``status`` (default 503) with an ``ErrorBody``, without processing the request;
- ``server_error_after``: process the request (a PATCH or PUT lands, a token is issued) and *then* answer ``status``
  (default 503) with an ``ErrorBody`` instead of the real answer: a write whose answer was lost on the way back;
- ``latency``: sleep ``delayMs`` (default 1000), then process and serve normally. For a write the change lands
  after the delay, so a client that gave up waiting (timed out) still sees it land later;
- ``concurrent_edit``: right after serving a read of a user's presence (default: ``GET`` of one presence or of the
  bulk presences), change that user's presence as if the agent clicked in their own client (to ``presence`` if
  given, else a different one). ``userId`` picks the user among those read; without it, the path's user or the
  first user of a bulk read;
- ``schedule_processing``: answer a schedule search (default path) with ``status: Processing`` and no result. That
  search stays ``Processing``: re-POSTing it (same management unit, dates and ``userIds``) answers ``Processing``
  again with a new ``operationId``, as Genesys never completes a search through a second POST (see :mod:`.wfm`);
  ``DELETE /__sim/faults`` and ``POST /__sim/reset`` end that.

``path`` is a path or a template whose ``{placeholders}`` match any one segment; without a path, the faults that act
before a request match every ``/api/v2/`` path (never the token endpoint unless named: ``"path": "/oauth/token"``
works for ``rate_limit``, ``server_error``, ``server_error_after`` and ``latency``). ``method`` and ``userId``
narrow the match; ``userId`` matches the ``{userId}``/``{agentId}`` of the path and the users of a bulk request
(the ``id``/``userId`` query of the bulk reads, the ``id`` of each ``PUT /api/v2/users/presences/bulk`` item, the
``userIds`` of a schedule search).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

FaultKind = Literal[
    "rate_limit", "server_error", "server_error_after", "latency", "concurrent_edit", "schedule_processing"
]
PRESENCE_PATH = "/api/v2/users/{userId}/presences/purecloud"
BULK_PRESENCE_PATH = "/api/v2/users/presences/purecloud/bulk"
SCHEDULE_SEARCH_PATH = "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search"

#: kind → (method, the paths it matches by default)
DEFAULT_TARGETS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "concurrent_edit": ("GET", (PRESENCE_PATH, BULK_PRESENCE_PATH)),
    "schedule_processing": ("POST", (SCHEDULE_SEARCH_PATH,)),
}


class FaultSpec(BaseModel):
    """Body of ``POST /__sim/faults``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    kind: FaultKind
    method: str | None = None
    path: str | None = None
    count: int = Field(default=1, ge=1)
    retry_after: int = Field(default=1, ge=0)
    status: int = Field(default=503, ge=400, le=599)
    delay_ms: int = Field(default=1000, ge=0, le=120_000)
    user_id: str | None = None
    presence: str | None = None

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError("path must start with /")
        return value


def template_regex(template: str) -> re.Pattern[str]:
    """``/api/v2/users/{userId}/x`` → a regex matching any one segment for each placeholder."""
    parts = re.split(r"(\{[^/{}]+\})", template.rstrip("/") or "/")
    pattern = "".join("[^/]+" if part.startswith("{") and part.endswith("}") else re.escape(part) for part in parts)
    return re.compile(f"^{pattern}/?$")


@dataclass
class Fault:
    id: str
    kind: str
    method: str | None
    path: str | None
    remaining: int
    count: int
    retry_after: int
    status: int
    delay_ms: int
    user_id: str | None
    presence: str | None
    created: datetime
    applied: int = 0
    paths: tuple[str, ...] = ()
    _regexes: tuple[re.Pattern[str], ...] = field(default=(), repr=False)

    @classmethod
    def from_spec(cls, spec: FaultSpec, created: datetime) -> Fault:
        default_method, default_paths = DEFAULT_TARGETS.get(spec.kind, (None, ()))
        method = spec.method or default_method
        paths = (spec.path,) if spec.path else default_paths
        return cls(
            id=str(uuid.uuid4()),
            kind=spec.kind,
            method=method,
            path=paths[0] if paths else None,
            remaining=spec.count,
            count=spec.count,
            retry_after=spec.retry_after,
            status=spec.status,
            delay_ms=spec.delay_ms,
            user_id=spec.user_id,
            presence=spec.presence,
            created=created,
            paths=paths,
            _regexes=tuple(template_regex(p) for p in paths),
        )

    def matches(self, method: str, path: str, user_id: str | None, user_ids: Collection[str] = ()) -> bool:
        if self.method and self.method != method.upper():
            return False
        if self._regexes:
            if not any(regex.match(path) for regex in self._regexes):
                return False
        elif not path.startswith("/api/v2/"):
            return False
        return not self.user_id or self.user_id == user_id or self.user_id in user_ids

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "paths": list(self.paths),
            "count": self.count,
            "remaining": self.remaining,
            "applied": self.applied,
            "retryAfter": self.retry_after,
            "status": self.status,
            "delayMs": self.delay_ms,
            "userId": self.user_id,
            "presence": self.presence,
            "created": self.created.isoformat(),
        }


class FaultBook:
    """The active faults, in creation order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, spec: FaultSpec, created: datetime) -> Fault:
        fault = Fault.from_spec(spec, created)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(
        self, kinds: tuple[str, ...], method: str, path: str, user_id: str | None, user_ids: Collection[str] = ()
    ) -> Fault | None:
        """Consume one use of the oldest active fault of one of ``kinds`` matching the request (``user_ids``: the
        users of a bulk request)."""
        with self._lock:
            if not self._faults:
                return None
            for fault in self._faults:
                if fault.kind in kinds and fault.remaining > 0 and fault.matches(method, path, user_id, user_ids):
                    fault.remaining -= 1
                    fault.applied += 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            before = len(self._faults)
            self._faults = [f for f in self._faults if f.id != fault_id]
            return len(self._faults) != before

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count
