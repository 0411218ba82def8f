"""Where Genesys Cloud is, how we log in and how long we wait for it: validated once at cold start."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from presence_manager.genesys.regions import REGIONS

#: Genesys's default ``client.credentials.token.rate.per.minute`` (budget.py's default too).
DEFAULT_PER_MINUTE = 300

DEFAULT_RETRY_AFTER_CAP_SECONDS = 180
DEFAULT_RETRY_AFTER_SECONDS = 3


def parse_retry_after(header: str | None, *, cap: int, default: int, now: datetime | None = None) -> int:
    """Seconds to wait for a 429's ``Retry-After`` (delta-seconds or an HTTP date), capped at ``cap``; ``default``
    when absent or unreadable. The one parser for API and token-endpoint 429s."""
    if header is None:
        return default
    value = header.strip()
    if value.isdigit():
        return max(0, min(int(value), cap))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0, min(int(delta + 0.999), cap))


class GenesysSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    region: str | None = Field(default=None, validation_alias="GENESYS_REGION")
    api_url_override: str | None = Field(default=None, validation_alias="GENESYS_API_URL")
    login_url_override: str | None = Field(default=None, validation_alias="GENESYS_LOGIN_URL")
    client_id: str | None = Field(default=None, validation_alias="GENESYS_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, validation_alias="GENESYS_CLIENT_SECRET")
    credentials_secret_id: str | None = Field(default=None, validation_alias="GENESYS_CREDENTIALS_SECRET_ID")
    #: One HTTP request (connect at most 5 s of it). See client.py for how it fits the call budget.
    timeout_seconds: float = Field(default=8.0, gt=0, le=60, validation_alias="GENESYS_TIMEOUT_SECONDS")
    #: Total time one client call may take, retries and back-off included (the Lambda timeout is 30 s).
    call_budget_seconds: float = Field(default=20.0, gt=0, le=900, validation_alias="GENESYS_CALL_BUDGET_SECONDS")
    retry_after_cap_seconds: int = Field(
        default=DEFAULT_RETRY_AFTER_CAP_SECONDS, ge=1, validation_alias="GENESYS_RETRY_AFTER_CAP_SECONDS"
    )
    retry_after_default_seconds: int = Field(
        default=DEFAULT_RETRY_AFTER_SECONDS, ge=1, validation_alias="GENESYS_RETRY_AFTER_DEFAULT_SECONDS"
    )
    #: How long a write whose answer was lost may still take to land (``GenesysWriteUnconfirmed.retryAfterSeconds``).
    write_settle_seconds: int = Field(default=60, ge=1, le=600, validation_alias="WRITE_SETTLE_SECONDS")
    definitions_cache_seconds: int = Field(default=300, ge=0, validation_alias="GENESYS_DEFINITIONS_CACHE_SECONDS")
    #: Extra hosts a ``downloadUrl`` may point to (comma-separated), besides the API host and its environment domain.
    download_hosts: Annotated[tuple[str, ...], NoDecode] = Field(default=(), validation_alias="GENESYS_DOWNLOAD_HOSTS")
    #: The OAuth client's ``client.credentials.token.rate.per.minute`` (300 unless raised by a Genesys support case):
    #: the deployment's shared rate budget (genesys/budget.py) keeps every window of 60 s under it.
    rate_per_minute: int = Field(default=DEFAULT_PER_MINUTE, ge=2, validation_alias="GENESYS_RATE_PER_MINUTE")
    #: The budget's burst (bucket capacity); unset: a tenth of ``rate_per_minute``.
    rate_burst: int | None = Field(default=None, ge=1, validation_alias="GENESYS_RATE_BURST")
    #: The table holding the shared token and rate budget (the agent table). Unset: nothing is shared - no rate
    #: budget, and each container logs in by itself (unit tests, a client outside the deployment).
    shared_state_table: str | None = Field(default=None, validation_alias="AGENT_TABLE_NAME")
    #: The KMS key the shared token is encrypted with. Unset: the token is not shared (each container logs in).
    token_kms_key_id: str | None = Field(default=None, validation_alias="GENESYS_TOKEN_KMS_KEY_ID")

    @field_validator(
        "region",
        "api_url_override",
        "login_url_override",
        "credentials_secret_id",
        "rate_burst",
        "shared_state_table",
        "token_kms_key_id",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("download_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(str(host).strip().lower().rstrip(".") for host in value if str(host).strip())
        return value

    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value not in REGIONS:
            raise ValueError(f"unknown Genesys Cloud region {value!r}; one of: {', '.join(REGIONS)}")
        return value

    @model_validator(mode="after")
    def _somewhere_to_go(self) -> GenesysSettings:
        if (self.api_url_override is None) != (self.login_url_override is None):
            raise ValueError("set GENESYS_API_URL and GENESYS_LOGIN_URL together")
        if self.api_url_override is None and self.region is None:
            raise ValueError("set GENESYS_REGION, or GENESYS_API_URL and GENESYS_LOGIN_URL")
        if self.call_budget_seconds < self.timeout_seconds:
            raise ValueError("GENESYS_CALL_BUDGET_SECONDS must be at least GENESYS_TIMEOUT_SECONDS")
        if self.rate_burst is not None and self.rate_burst >= self.rate_per_minute:
            raise ValueError("GENESYS_RATE_BURST must be below GENESYS_RATE_PER_MINUTE")
        return self

    def retry_after_seconds(self, header: str | None) -> int:
        """A 429's Retry-After, capped and defaulted by these settings."""
        return parse_retry_after(header, cap=self.retry_after_cap_seconds, default=self.retry_after_default_seconds)

    @property
    def api_url(self) -> str:
        return (self.api_url_override or f"https://api.{self.region}").rstrip("/")

    @property
    def login_url(self) -> str:
        return (self.login_url_override or f"https://login.{self.region}").rstrip("/")


def load_credentials(settings: GenesysSettings) -> tuple[str, SecretStr]:
    """Client id and secret: from the environment, else from the Secrets Manager secret (cached by Powertools)."""
    if settings.client_id and settings.client_secret:
        return settings.client_id, settings.client_secret
    if not settings.credentials_secret_id:
        raise ValueError("set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET, or GENESYS_CREDENTIALS_SECRET_ID")
    from aws_lambda_powertools.utilities import parameters

    secret = parameters.get_secret(settings.credentials_secret_id, transform="json", max_age=300)
    if not isinstance(secret, dict) or not secret.get("clientId") or not secret.get("clientSecret"):
        raise ValueError("the credentials secret must be JSON with clientId and clientSecret")
    return str(secret["clientId"]), SecretStr(str(secret["clientSecret"]))
