"""The I/O clients a warm Lambda reuses, built once on first use (cold start stays light)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from presence_manager.config import AppSettings, app_settings

if TYPE_CHECKING:
    from presence_manager.audit import AuditStore
    from presence_manager.bulk_progress import BulkStore
    from presence_manager.genesys.client import GenesysClient
    from presence_manager.lease import AgentLease


def settings() -> AppSettings:
    return app_settings()


def now() -> datetime:
    return datetime.now(UTC)


def genesys() -> GenesysClient:
    from presence_manager.genesys.client import client_from_env

    return client_from_env()


@cache
def aws_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


@lru_cache(maxsize=1)
def dynamodb() -> Any:
    import boto3

    return boto3.resource("dynamodb")


def audit_store() -> AuditStore:
    config = settings()
    return _audit_store(dynamodb(), config.audit_table_name, config.agent_table_name)


def agent_lease() -> AgentLease:
    return _agent_lease(dynamodb(), settings().agent_table_name)


def bulk_store() -> BulkStore:
    config = settings()
    return _bulk_store(dynamodb(), config.audit_table_name, config.agent_table_name)


# The stores hold only their boto3 Table resources (building one costs milliseconds: boto3 makes its class on each
# ``Table(...)``), so a warm Lambda keeps them, per resource and table names.
@lru_cache(maxsize=4)
def _audit_store(resource: Any, audit_table: str, agent_table: str) -> AuditStore:
    from presence_manager.audit import AuditStore

    return AuditStore(resource, audit_table, agent_table)


@lru_cache(maxsize=4)
def _agent_lease(resource: Any, agent_table: str) -> AgentLease:
    from presence_manager.lease import AgentLease

    return AgentLease(resource, agent_table)


@lru_cache(maxsize=4)
def _bulk_store(resource: Any, audit_table: str, agent_table: str) -> BulkStore:
    from presence_manager.bulk_progress import BulkStore

    return BulkStore(resource, audit_table, agent_table)


#: How long a warm Lambda reuses a management unit's configured schedule group.
UNIT_SETTINGS_CACHE_SECONDS = 300
_unit_groups: dict[str, tuple[float, str | None]] = {}


def unit_schedule_group(management_unit_id: str) -> str | None:
    """The Architect schedule group a management unit's configuration names (cached per warm Lambda)."""
    import time

    from presence_manager.automation import AutomationStore

    hit = _unit_groups.get(management_unit_id)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    stored = AutomationStore(dynamodb(), settings().agent_table_name).get(management_unit_id)
    group = stored.business_hours_schedule_group_id if stored else None
    _unit_groups[management_unit_id] = (time.monotonic() + UNIT_SETTINGS_CACHE_SECONDS, group)
    return group


def unit_schedule_groups_forget() -> None:
    _unit_groups.clear()
