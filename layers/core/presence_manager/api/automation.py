"""``/management-units/{muId}/automation``: show and set a unit's schedule-following automation, and plan it now.

- ``GET``: the stored configuration (or the defaults, ``stored: false``) with the last plan's summary;
- ``PUT``: replace it - strictly validated (``invalid_automation`` naming each field), every mapped presence must exist
  in the org (``unknown_presence``), the unit must exist in Genesys Cloud (404). Turning it off removes the unit's
  planned schedules at once; turning it on plans at the next planner run (every 15 minutes) or with ``POST .../plan``;
- ``POST .../plan``: run the planner for the unit now and answer what it planned: ``instants`` of ``{at, presence,
  category, agents}`` (a unit that is off is a preview: what it would plan, no schedule made)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from presence_manager.automation import AutomationStore, default_automation, parse_automation_config
from presence_manager.errors import GenesysNotFound

if TYPE_CHECKING:
    from presence_manager.genesys.client import GenesysClient
    from presence_manager.planner import Planner


def show(store: AutomationStore, management_unit_id: str) -> dict[str, Any]:
    return (store.get(management_unit_id) or default_automation(management_unit_id)).to_json()


def require_management_unit(genesys: GenesysClient, management_unit_id: str) -> None:
    """The unit exists in the org: in the (cached) listing, or - created since - it answers its member listing."""
    if any(unit.id == management_unit_id for unit in genesys.get_management_units()):
        return
    try:
        genesys.get_management_unit_users(management_unit_id)
    except GenesysNotFound:
        raise GenesysNotFound(
            f"no management unit {management_unit_id} in Genesys Cloud", managementUnitId=management_unit_id
        ) from None


def put(
    store: AutomationStore,
    planner: Planner,
    genesys: GenesysClient,
    management_unit_id: str,
    body: dict[str, Any],
    *,
    updated_by: str,
    now: datetime,
) -> dict[str, Any]:
    config = parse_automation_config(body)
    for presence in config.mapping.values():
        genesys.resolve_presence(presence)  # PresenceDefinitionNotFound: 400 unknown_presence, nothing stored
    require_management_unit(genesys, management_unit_id)
    stored = store.save(management_unit_id, config, updated_by=updated_by, now=now).to_json()
    if not config.enabled:
        stored["schedulesRemoved"] = len(planner.clear(management_unit_id).deleted)
    return stored


def plan(planner: Planner, management_unit_id: str) -> dict[str, Any]:
    return planner.plan(management_unit_id).to_json()
