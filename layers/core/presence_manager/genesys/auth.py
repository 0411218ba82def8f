"""OAuth client credentials with a token cached until 60 s before it expires (never logged).

The token endpoint is rate-limited too: its 429 is ``GenesysRateLimited`` with the same capped Retry-After as an API
429 (the state machine waits it out), never "refused the OAuth client credentials"."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial

import httpx
from pydantic import SecretStr

from presence_manager.errors import GenesysRateLimited, GenesysUnauthorized, GenesysUnavailable
from presence_manager.genesys.models import TokenResponse
from presence_manager.genesys.settings import (
    DEFAULT_RETRY_AFTER_CAP_SECONDS,
    DEFAULT_RETRY_AFTER_SECONDS,
    parse_retry_after,
)

REFRESH_MARGIN_SECONDS = 60
#: Retry-After of a token-endpoint 429 when no settings are given (the client passes its settings' parser).
DEFAULT_RETRY_AFTER: Callable[[str | None], int] = partial(
    parse_retry_after, cap=DEFAULT_RETRY_AFTER_CAP_SECONDS, default=DEFAULT_RETRY_AFTER_SECONDS
)


class TokenProvider:
    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        http: httpx.Client,
        clock: Callable[[], float] = time.monotonic,
        retry_after: Callable[[str | None], int] = DEFAULT_RETRY_AFTER,
    ) -> None:
        self._url = f"{login_url.rstrip('/')}/oauth/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._clock = clock
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._expires_at = 0.0

    def token(self, *, timeout: float | None = None) -> str:
        """The cached token, fetched first when missing or about to expire. ``timeout`` bounds that fetch (the
        client passes what is left of its call budget)."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._fetch(timeout)
            assert self._token is not None
            return self._token.get_secret_value()

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self, timeout: float | None) -> None:
        extra = {} if timeout is None else {"timeout": httpx.Timeout(timeout, connect=min(5.0, timeout))}
        try:
            response = self._http.post(
                self._url,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
                **extra,
            )
        except httpx.HTTPError as exc:
            raise GenesysUnavailable(f"login failed: {type(exc).__name__}", path="/oauth/token") from exc
        status = response.status_code
        if status == 429:
            seconds = self._retry_after(response.headers.get("Retry-After"))
            raise GenesysRateLimited(
                "Genesys Cloud rate limit on the token endpoint (429)",
                status=status,
                retry_after_seconds=seconds,
                correlation_id=response.headers.get("ININ-Correlation-Id"),
                path="/oauth/token",
            )
        if status >= 500:
            raise GenesysUnavailable(f"login answered {status}", status=status, path="/oauth/token")
        if status != 200:
            raise GenesysUnauthorized(
                "Genesys Cloud refused the OAuth client credentials", status=status, path="/oauth/token"
            )
        answer = TokenResponse.model_validate(response.json())
        self._token = SecretStr(answer.access_token)
        self._expires_at = self._clock() + answer.expires_in
