"""Per management unit: should presence follow the WFM schedule, and how (the planner reads this, planner.py).

One item ``AUTOMATION#<managementUnitId>`` in the agent table holds a unit's configuration (``config``, the JSON of
:class:`AutomationConfig`), who set it and when, and what the planner last did (``lastPlan``). One more item,
``AUTOMATION#index``, keeps the string set ``enabledUnits`` of the units whose automation is on, written in the same
transaction as the unit's item: the recurring planner run reads one item to know what to plan, never a scan.

Every field is strictly typed (``"5"`` is not a number of minutes, ``1`` is not ``true``), unknown fields are
refused, and presences (names or ids) are text without control characters (``presence_manager.validation``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationError
from pydantic.alias_generators import to_camel

from presence_manager.errors import InvalidRequest
from presence_manager.genesys.models import ActivityCategory
from presence_manager.timeutil import to_utc_iso
from presence_manager.validation import MAX_REQUESTED_BY_LENGTH, GenesysId, PresenceText
from presence_manager.workflow.models import MAX_RESPECT_OWN_CHANGES_MINUTES, validation_details

AUTOMATION_KEY_PREFIX = "AUTOMATION#"
INDEX_KEY = f"{AUTOMATION_KEY_PREFIX}index"
ENABLED_UNITS = "enabledUnits"
#: The activity categories of ``BusinessUnitActivityCode.category`` (the SDK's allowed values).
ACTIVITY_CATEGORIES: tuple[str, ...] = ActivityCategory.__args__  # type: ignore[attr-defined]

MAX_LEAD_MINUTES = 60
MAX_WINDOW_HOURS = 48


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class AutomationConfig(_Model):
    """What a supervisor sets for one management unit (``PUT /management-units/{muId}/automation``).

    - ``enabled``: the planner creates schedules for the unit (off: it creates none, and removes those planned);
    - ``leadMinutes``: move agents this many minutes before their activity starts (0-60; 1 = "pre-break");
    - ``mapping``: activity category -> presence (a name or a presence definition id); a category not mapped goes
      to the first of the activity code's own ``secondaryPresences`` (WFM's mapping), and an activity whose code
      has none is not followed;
    - ``dryRun``: the bulk changes only validate (each agent's outcome is ``dry_run``), nothing is written;
    - ``respectOwnChangesMinutes``: an agent who changed their own presence within this many minutes is left alone
      (0: never);
    - ``windowHours``: how far ahead each run plans (1-48);
    - ``businessHoursScheduleGroupId``: the Architect schedule group whose open hours are the unit's business hours
      (for every change of the unit's agents, not only automation's; none: the deployment's)."""

    enabled: StrictBool = False
    lead_minutes: StrictInt = Field(default=1, ge=0, le=MAX_LEAD_MINUTES)
    mapping: dict[ActivityCategory, PresenceText] = Field(default_factory=dict)
    dry_run: StrictBool = False
    respect_own_changes_minutes: StrictInt = Field(default=10, ge=0, le=MAX_RESPECT_OWN_CHANGES_MINUTES)
    window_hours: StrictInt = Field(default=12, ge=1, le=MAX_WINDOW_HOURS)
    business_hours_schedule_group_id: GenesysId | None = None


class StoredAutomation(AutomationConfig):
    """A unit's configuration as stored and shown (``GET``): the config, the unit, who set it, the last plan."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    management_unit_id: str
    stored: bool = True
    updated_at: str | None = None
    updated_by: str | None = None
    last_plan: dict[str, Any] | None = None

    def config(self) -> AutomationConfig:
        return AutomationConfig.model_validate(self.model_dump(include=set(AutomationConfig.model_fields)))


def parse_automation_config(data: Any) -> AutomationConfig:
    """A request body as an ``AutomationConfig``; anything wrong is ``InvalidRequest(invalid_automation)`` naming
    each bad field (what the API answers with 400)."""
    try:
        return AutomationConfig.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(
            "the automation configuration is invalid", code="invalid_automation", details=validation_details(exc)
        ) from exc


def default_automation(management_unit_id: str) -> StoredAutomation:
    """What a unit nobody configured shows: every default, automation off."""
    return StoredAutomation(management_unit_id=management_unit_id, stored=False)


class AutomationStore:
    """The automation items of the agent table (see the module docstring)."""

    def __init__(self, dynamodb: Any, agent_table: str) -> None:
        self._table = dynamodb.Table(agent_table)
        self._table_name = agent_table
        self._conditional_failed = self._table.meta.client.exceptions.ConditionalCheckFailedException

    @staticmethod
    def _key(management_unit_id: str) -> dict[str, str]:
        return {"pk": f"{AUTOMATION_KEY_PREFIX}{management_unit_id}"}

    def get(self, management_unit_id: str) -> StoredAutomation | None:
        item = self._table.get_item(Key=self._key(management_unit_id), ConsistentRead=True).get("Item")
        if item is None:
            return None
        config = AutomationConfig.model_validate(json.loads(str(item["config"])))
        last_plan = json.loads(str(item["lastPlan"])) if "lastPlan" in item else None
        return StoredAutomation(
            **config.model_dump(),
            management_unit_id=management_unit_id,
            updated_at=item.get("updatedAt"),
            updated_by=item.get("updatedBy"),
            last_plan=last_plan,
        )

    def save(
        self, management_unit_id: str, config: AutomationConfig, *, updated_by: str, now: datetime
    ) -> StoredAutomation:
        """Replace the unit's configuration and, in the same transaction, add it to (or remove it from) the index
        of enabled units."""
        unit = _unit_id(management_unit_id)
        who = updated_by[:MAX_REQUESTED_BY_LENGTH]
        item = {
            **self._key(unit),
            "managementUnitId": unit,
            "config": json.dumps(config.to_json(), sort_keys=True, separators=(",", ":")),
            "updatedAt": to_utc_iso(now),
            "updatedBy": who,
        }
        # The resource's client takes plain Python values (it serialises them as the Table does).
        self._table.meta.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self._table_name, "Item": item}},
                {
                    "Update": {
                        "TableName": self._table_name,
                        "Key": {"pk": INDEX_KEY},
                        "UpdateExpression": f"{'ADD' if config.enabled else 'DELETE'} #units :unit",
                        "ExpressionAttributeNames": {"#units": ENABLED_UNITS},
                        "ExpressionAttributeValues": {":unit": {unit}},
                    }
                },
            ]
        )
        return StoredAutomation(
            **config.model_dump(), management_unit_id=unit, updated_at=item["updatedAt"], updated_by=who
        )

    def enabled_units(self) -> list[str]:
        """The units whose automation is on (one consistent GetItem), sorted."""
        item = self._table.get_item(Key={"pk": INDEX_KEY}, ConsistentRead=True).get("Item") or {}
        return sorted(str(unit) for unit in item.get(ENABLED_UNITS, ()))

    def record_plan(self, management_unit_id: str, summary: dict[str, Any]) -> None:
        """Remember what the planner last did for a configured unit (a unit without configuration stays without:
        planning it was a preview)."""
        try:
            self._table.update_item(
                Key=self._key(management_unit_id),
                UpdateExpression="SET lastPlan = :plan",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":plan": json.dumps(summary, sort_keys=True, separators=(",", ":"))},
            )
        except self._conditional_failed:
            return


class _Unit(BaseModel):
    id: GenesysId


def _unit_id(value: str) -> str:
    try:
        return _Unit(id=value).id
    except ValidationError as exc:
        raise InvalidRequest(
            "managementUnitId must be a Genesys Cloud management unit id (a UUID)",
            code="invalid_management_unit_id",
            details=validation_details(exc),
        ) from exc


def management_unit_id_param(value: str) -> str:
    """A management unit id from a path: a UUID, lower-cased, else ``invalid_management_unit_id``."""
    return _unit_id(value)
