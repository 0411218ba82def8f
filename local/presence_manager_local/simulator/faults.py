"""Fault injection: the next ``count`` requests matching a fault get it.

Kinds:
- ``rate_limit``: answer 429 with ``Retry-After: retryAfter`` (default 1) and Genesys's rate-limit ``ErrorBody``;
- ``server_error``: answer ``status`` (default 503) with an ``ErrorBody``;
- ``latency``: sleep ``delayMs`` (default 1000), then serve normally;
- ``concurrent_edit``: right after serving a GET of a user's presence (default path), change that user's presence
  as if the agent clicked in their own client (to ``presence`` if given, else a different one);
- ``schedule_processing``: answer a schedule search (default path) with ``status: Processing`` and no result.

``path`` is a path or a template whose ``{placeholders}`` match any one segment; without a path, the faults that act
before a request match every ``/api/v2/`` path (never the token endpoint unless named). ``method`` and ``userId``
(the ``{userId}``/``{agentId}`` of the path) narrow the match.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

FaultKind = Literal["rate_limit", "server_error", "latency", "concurrent_edit", "schedule_processing"]
PRESENCE_PATH = "/api/v2/users/{userId}/presences/purecloud"
SCHEDULE_SEARCH_PATH = "/api/v2/workforcemanagement/managementunits/{managementUnitId}/agentschedules/search"

DEFAULT_TARGETS: dict[str, tuple[str | None, str | None]] = {
    "concurrent_edit": ("GET", PRESENCE_PATH),
    "schedule_processing": ("POST", SCHEDULE_SEARCH_PATH),
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
    _regex: re.Pattern[str] | None = field(default=None, repr=False)

    @classmethod
    def from_spec(cls, spec: FaultSpec, created: datetime) -> Fault:
        method, path = spec.method, spec.path
        default_method, default_path = DEFAULT_TARGETS.get(spec.kind, (None, None))
        method = method or default_method
        path = path or default_path
        return cls(
            id=str(uuid.uuid4()),
            kind=spec.kind,
            method=method,
            path=path,
            remaining=spec.count,
            count=spec.count,
            retry_after=spec.retry_after,
            status=spec.status,
            delay_ms=spec.delay_ms,
            user_id=spec.user_id,
            presence=spec.presence,
            created=created,
            _regex=template_regex(path) if path else None,
        )

    def matches(self, method: str, path: str, user_id: str | None) -> bool:
        if self.method and self.method != method.upper():
            return False
        if self._regex is not None:
            if not self._regex.match(path):
                return False
        elif not path.startswith("/api/v2/"):
            return False
        return not (self.user_id and self.user_id != user_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
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

    def take(self, kinds: tuple[str, ...], method: str, path: str, user_id: str | None) -> Fault | None:
        """Consume one use of the oldest active fault of one of ``kinds`` matching the request."""
        with self._lock:
            for fault in self._faults:
                if fault.kind in kinds and fault.remaining > 0 and fault.matches(method, path, user_id):
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
