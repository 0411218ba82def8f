"""Application settings, validated once at cold start (never ``os.environ`` in domain logic)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from presence_manager.policy import PolicyMode


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    audit_table_name: str = Field(default="presence-audit", validation_alias="AUDIT_TABLE_NAME")
    agent_table_name: str = Field(default="presence-agents", validation_alias="AGENT_TABLE_NAME")
    event_bus_name: str = Field(default="default", validation_alias="EVENT_BUS_NAME")
    state_machine_arn: str | None = Field(default=None, validation_alias="STATE_MACHINE_ARN")
    bulk_state_machine_arn: str | None = Field(default=None, validation_alias="BULK_STATE_MACHINE_ARN")
    policy_mode: PolicyMode = Field(default="enforce", validation_alias="POLICY_MODE")
    business_hours_start: str = Field(default="08:00", validation_alias="BUSINESS_HOURS_START")
    business_hours_end: str = Field(default="20:00", validation_alias="BUSINESS_HOURS_END")
    business_days: str = Field(default="1,2,3,4,5,6,7", validation_alias="BUSINESS_DAYS")
    #: an Architect schedule group whose open hours are business hours (the window above is then not used); empty:
    #: the window. A management unit may name its own (``business_hours.business_hours_for``).
    business_hours_schedule_group_id: str | None = Field(
        default=None, validation_alias="BUSINESS_HOURS_SCHEDULE_GROUP_ID"
    )
    audit_retention_days: int = Field(default=400, ge=1, validation_alias="AUDIT_RETENTION_DAYS")
    lease_seconds: int = Field(default=30, ge=1, le=900, validation_alias="LEASE_SECONDS")
    write_settle_seconds: int = Field(default=60, ge=1, le=600, validation_alias="WRITE_SETTLE_SECONDS")
    bulk_bucket_name: str = Field(default="presence-bulk", validation_alias="BULK_BUCKET_NAME")
    scheduler_group_name: str = Field(default="default", validation_alias="SCHEDULER_GROUP_NAME")
    scheduler_role_arn: str | None = Field(default=None, validation_alias="SCHEDULER_ROLE_ARN")
    revert_target_arn: str | None = Field(default=None, validation_alias="REVERT_TARGET_ARN")

    @field_validator("business_hours_schedule_group_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        """The template passes ``""`` when no group is named."""
        return (value or "").strip() or None

    @property
    def business_weekdays(self) -> frozenset[int]:
        return frozenset(int(day) for day in self.business_days.split(",") if day.strip())


@lru_cache(maxsize=1)
def app_settings() -> AppSettings:
    return AppSettings()
