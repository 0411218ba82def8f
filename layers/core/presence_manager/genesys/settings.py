"""Where Genesys Cloud is and how we log in: validated once at cold start."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from presence_manager.genesys.regions import REGIONS


class GenesysSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    region: str | None = Field(default=None, validation_alias="GENESYS_REGION")
    api_url_override: str | None = Field(default=None, validation_alias="GENESYS_API_URL")
    login_url_override: str | None = Field(default=None, validation_alias="GENESYS_LOGIN_URL")
    client_id: str | None = Field(default=None, validation_alias="GENESYS_CLIENT_ID")
    client_secret: SecretStr | None = Field(default=None, validation_alias="GENESYS_CLIENT_SECRET")
    credentials_secret_id: str | None = Field(default=None, validation_alias="GENESYS_CREDENTIALS_SECRET_ID")
    timeout_seconds: float = Field(default=10.0, gt=0, le=60, validation_alias="GENESYS_TIMEOUT_SECONDS")
    retry_after_cap_seconds: int = Field(default=180, ge=1, validation_alias="GENESYS_RETRY_AFTER_CAP_SECONDS")
    retry_after_default_seconds: int = Field(default=3, ge=1, validation_alias="GENESYS_RETRY_AFTER_DEFAULT_SECONDS")
    definitions_cache_seconds: int = Field(default=300, ge=0, validation_alias="GENESYS_DEFINITIONS_CACHE_SECONDS")

    @field_validator("region", "api_url_override", "login_url_override", "credentials_secret_id", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

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
        return self

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
