"""OAuth client-credentials tokens and the per-token rate limit.

The rate limit is a sliding 60-second window per token (``client.credentials.token.rate.per.minute``, 300 by
default): each token keeps the instants of its admitted requests in a deque, so admitting a request costs O(1)
amortised whatever the size of the org or the number of tokens. It is the only source of 429s besides faults.
"""

from __future__ import annotations

import base64
import math
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from presence_manager_local.simulator.errors import OAuthError, bad_credentials, missing_token, rate_limited
from presence_manager_local.simulator.fixture import OAuthClient

RATE_WINDOW = timedelta(seconds=60)


@dataclass(slots=True)
class TokenInfo:
    client_id: str
    issued: datetime
    expires: datetime


class TokenBook:
    """Issued tokens and their rate windows (thread-safe, its own lock)."""

    def __init__(self, now: Callable[[], datetime], rate_limit_per_minute: int = 300) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.rate_limit_per_minute = rate_limit_per_minute
        self.token_lifetime_override: int | None = None
        self.clients: dict[str, OAuthClient] = {}
        self.tokens: dict[str, TokenInfo] = {}
        self.rate_windows: dict[str, deque[datetime]] = {}

    def reset(self, clients: list[OAuthClient]) -> None:
        """Forget every token and rate window; accept ``clients`` from now on."""
        with self._lock:
            self.clients = {c.client_id: c for c in clients}
            self.tokens = {}
            self.rate_windows = {}

    def issue(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        """``POST /oauth/token``: client credentials in ``Authorization: Basic`` or in the form."""
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
                client_id, _, client_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise OAuthError(401, "invalid_client", "client not found") from exc
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        with self._lock:
            client = self.clients.get(client_id or "")
            if client is None or not secrets.compare_digest(client.client_secret, client_secret or ""):
                raise OAuthError(401, "invalid_client", "client not found")
            if grant_type != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type", f"grant type {grant_type} is not supported")
            lifetime = self.token_lifetime_override or client.token_lifetime_seconds
            token = secrets.token_urlsafe(48)
            issued = self._now()
            self.tokens[token] = TokenInfo(client.client_id, issued, issued + timedelta(seconds=lifetime))
            return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}

    def authenticate(self, authorization: str | None) -> str:
        """The bearer token of a request, if valid and unexpired."""
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise missing_token()
        token = authorization[7:].strip()
        with self._lock:
            info = self.tokens.get(token)
            if info is None or info.expires <= self._now():
                raise bad_credentials()
        return token

    def expire_all(self) -> int:
        with self._lock:
            now = self._now()
            for info in self.tokens.values():
                info.expires = min(info.expires, now)
            return len(self.tokens)

    def admit(self, token: str) -> None:
        """Count one request against the token's sliding 60-second window, or raise a 429 whose ``Retry-After`` is
        the time until the oldest request of the window leaves it."""
        with self._lock:
            now = self._now()
            window = self.rate_windows.get(token)
            if window is None:
                window = self.rate_windows[token] = deque()
            horizon = now - RATE_WINDOW
            while window and window[0] <= horizon:
                window.popleft()
            if len(window) >= self.rate_limit_per_minute:
                wait = (window[0] + RATE_WINDOW - now).total_seconds()
                raise rate_limited(max(1, math.ceil(wait)))
            window.append(now)
