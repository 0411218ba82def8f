"""OAuth client credentials with a token cached until 60 s before it expires (never logged).

With a ``SharedTokenStore`` (the deployment's one token, KMS-encrypted in the agent table, see token_store.py) the
store decides when to log in: one writer for the whole deployment refreshes it, every other container reads it, and
a 401 rejects that token for everybody (``invalidate``) so that one refresh serves them all. Without a store (unit
tests, a client outside the deployment) this provider keeps its own token in memory, as before.

The token endpoint is rate-limited too: its 429 is ``GenesysRateLimited`` with the same capped Retry-After as an API
429 (the state machine waits it out), never "refused the OAuth client credentials". A login is not paid from the
deployment's API rate budget (genesys/budget.py): that budget is the per-token API limit
(``client.credentials.token.rate.per.minute``), which counts the requests made *with* a token; the token endpoint
is limited separately, and the shared store is what keeps logins rare (one per token lifetime for the deployment,
plus one per rejected token). A token-endpoint 429 therefore never empties the API budget either."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import httpx
from pydantic import SecretStr

from presence_manager.errors import GenesysRateLimited, GenesysUnauthorized, GenesysUnavailable
from presence_manager.genesys.models import TokenResponse
from presence_manager.genesys.settings import (
    DEFAULT_RETRY_AFTER_CAP_SECONDS,
    DEFAULT_RETRY_AFTER_SECONDS,
    parse_retry_after,
)

if TYPE_CHECKING:
    from presence_manager.genesys.token_store import SharedTokenStore

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
        store: SharedTokenStore | None = None,
    ) -> None:
        self._url = f"{login_url.rstrip('/')}/oauth/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._clock = clock
        self._retry_after = retry_after
        self._store = store
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._expires_at = 0.0

    @property
    def shared(self) -> bool:
        """Whether the token is the deployment's shared one."""
        return self._store is not None

    def token(self, *, timeout: float | None = None) -> str:
        """The token to send, fetched first when missing or about to expire. ``timeout`` bounds that fetch (the
        client passes what is left of its call budget)."""
        if self._store is not None:
            return self._store.token(lambda: self._login(timeout))
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                access_token, expires_in = self._login(timeout)
                self._token = SecretStr(access_token)
                self._expires_at = self._clock() + expires_in
            return self._token.get_secret_value()

    def invalidate(self, rejected: str | None = None) -> None:
        """Genesys answered 401 to ``rejected`` (the token a request carried; ``None``: whatever is current).

        Shared: the store never hands that token out again, in any container, and the next ``token`` refreshes it
        unless another Lambda already did. Unshared: the token is dropped unless it is already a newer one (another
        thread refreshed it meanwhile), so concurrent 401s of one container cost one login."""
        if self._store is not None:
            if rejected is not None:
                self._store.reject(rejected)
            return
        with self._lock:
            if rejected is None or (self._token is not None and self._token.get_secret_value() == rejected):
                self._token = None

    def _login(self, timeout: float | None) -> tuple[str, int]:
        """One ``POST /oauth/token``: ``(access_token, expires_in)``."""
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
        return answer.access_token, answer.expires_in
