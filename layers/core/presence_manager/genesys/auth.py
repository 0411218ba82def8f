"""OAuth client credentials with a token cached until 60 s before it expires (never logged)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from presence_manager.errors import GenesysUnauthorized, GenesysUnavailable
from presence_manager.genesys.models import TokenResponse

REFRESH_MARGIN_SECONDS = 60


class TokenProvider:
    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: SecretStr,
        *,
        http: httpx.Client,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = f"{login_url.rstrip('/')}/oauth/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._http = http
        self._clock = clock
        self._lock = threading.Lock()
        self._token: SecretStr | None = None
        self._expires_at = 0.0
        self.fetches = 0

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - REFRESH_MARGIN_SECONDS:
                self._fetch()
            assert self._token is not None
            return self._token.get_secret_value()

    def invalidate(self) -> None:
        with self._lock:
            self._token = None

    def _fetch(self) -> None:
        try:
            response = self._http.post(
                self._url,
                data={"grant_type": "client_credentials"},
                auth=(self._client_id, self._client_secret.get_secret_value()),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise GenesysUnavailable(f"login failed: {type(exc).__name__}") from exc
        if response.status_code >= 500:
            raise GenesysUnavailable(f"login answered {response.status_code}", status=response.status_code)
        if response.status_code != 200:
            raise GenesysUnauthorized("Genesys Cloud refused the OAuth client credentials", status=response.status_code)
        answer = TokenResponse.model_validate(response.json())
        self._token = SecretStr(answer.access_token)
        self._expires_at = self._clock() + answer.expires_in
        self.fetches += 1
