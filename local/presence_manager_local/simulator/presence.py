"""Presence definitions, user presence (one and in bulk) and the users listing (``GET /api/v2/users``)."""

from __future__ import annotations

from typing import Any

from presence_manager_local.simulator.common import (
    check_fields,
    check_object,
    dedupe,
    iso_ms,
    optional_field,
    page_listing,
    self_uri_user,
)
from presence_manager_local.simulator.errors import bad_request, not_found
from presence_manager_local.simulator.fixture import PresenceDefinitionSpec
from presence_manager_local.simulator.org import OrgBase, UserState

#: ``PresenceApi.get_users_presences_purecloud_bulk``: "A comma separated list of user IDs … Limit 50."
BULK_PRESENCE_MAX_IDS = 50
#: ``UsersApi.get_users``: ``pageSize`` defaults to 25; the SDK documents no maximum for it nor for ``id``.
USERS_DEFAULT_PAGE_SIZE = 25
#: ``expand`` values ``GET /api/v2/users`` knows (the API's enum); the simulator fills ``routingStatus``,
#: ``presence`` and ``skills`` and, as Genesys says it may ("best effort"), leaves the others out.
USER_EXPANDS = frozenset(
    {
        "routingStatus", "presence", "conversationSummary", "outOfOffice", "geolocation", "station", "authorization",
        "lasttokenissued", "authorization.unusedRoles", "team", "profileSkills", "certifications", "locations",
        "groups", "skills", "languages", "languagePreference", "employerInfo", "biography",
    }
)  # fmt: skip
USER_STATES = ("active", "inactive", "deleted", "any")

# JSON names of the SDK request models (attribute_map values) we accept in bodies.
USER_PRESENCE_FIELDS = frozenset(
    {
        "id",
        "name",
        "source",
        "sourceId",
        "primary",
        "presenceDefinition",
        "futurePresenceDefinition",
        "message",
        "modifiedDate",
        "selfUri",
    }
)
PRESENCE_DEFINITION_FIELDS = frozenset({"id", "systemPresence", "selfUri"})


class PresenceMixin(OrgBase):
    # ---- presence definitions -----------------------------------------------------------------------------------

    def list_definitions(self, deactivated: str | None = None) -> dict[str, Any]:
        """``deactivated`` is the SDK's string query parameter (default ``"false"``): ``"true"`` also lists
        deactivated definitions."""
        flag = (deactivated or "false").strip().lower()
        if flag not in {"true", "false"}:
            raise bad_request("deactivated must be TRUE or FALSE", field="deactivated")
        with self.lock:
            entities = [
                self._definition_json(d) for d in self.definitions.values() if flag == "true" or not d.deactivated
            ]
        return {"total": len(entities), "entities": entities, "selfUri": "/api/v2/presence/definitions"}

    def get_definition(self, definition_id: str) -> dict[str, Any]:
        with self.lock:
            definition = self.definitions.get(definition_id)
            if definition is None:
                raise not_found(f"Presence definition {definition_id} not found", entity_id=definition_id)
            return self._definition_json(definition)

    # ---- user presence ------------------------------------------------------------------------------------------

    def _uc_user_presence_json(self, user: UserState) -> dict[str, Any]:
        return {
            "id": user.id,
            "userId": user.id,
            "source": "PURECLOUD",
            "presenceDefinition": self._presence_definition_ref(user),
            "message": user.message,
            "modifiedDate": iso_ms(user.modified_date),
            "selfUri": f"/api/v2/users/{user.id}/presences/purecloud",
        }

    def get_presence(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            return self._user_presence_json(self._user(user_id))

    def _parse_presence_update(
        self, body: Any, where: str
    ) -> tuple[PresenceDefinitionSpec | None, str | None, bool | None]:
        body = check_object(body, where)
        check_fields(body, USER_PRESENCE_FIELDS, where)
        definition = None
        reference = body.get("presenceDefinition")
        if reference is not None:
            reference = check_object(reference, f"{where}.presenceDefinition")
            check_fields(reference, PRESENCE_DEFINITION_FIELDS, f"{where}.presenceDefinition")
            definition_id = reference.get("id")
            if not isinstance(definition_id, str) or not definition_id:
                raise bad_request("presenceDefinition.id is required", field="presenceDefinition.id")
            definition = self.definitions.get(definition_id)
            if definition is None:
                raise bad_request(
                    f"Invalid presence definition id: {definition_id}",
                    field="presenceDefinition.id",
                    entity_id=definition_id,
                )
            if definition.deactivated:
                raise bad_request(
                    f"The presence definition {definition_id} is deactivated",
                    field="presenceDefinition.id",
                    entity_id=definition_id,
                )
        message = optional_field(body, "message", str, where)
        primary = optional_field(body, "primary", bool, where)
        if definition is None and message is None and primary is None:
            raise bad_request("One of presenceDefinition, message or primary is required", field=where)
        return definition, message, primary

    def _apply_presence(
        self,
        user: UserState,
        definition: PresenceDefinitionSpec | None,
        message: str | None,
        primary: bool | None,
    ) -> None:
        stamp = self._stamp(user.modified_date)
        routing_before = (user.routing_status, user.routing_start)
        if definition is not None:
            was_on_queue = self.definitions[user.definition_id].system_presence == "OnQueue"
            user.definition_id = definition.id
            if definition.system_presence == "OnQueue" and not was_on_queue:
                user.routing_status, user.routing_start = "IDLE", stamp
            elif definition.system_presence != "OnQueue" and user.routing_status != "OFF_QUEUE":
                user.routing_status, user.routing_start = "OFF_QUEUE", stamp
        if message is not None:
            user.message = message
        if primary is not None:
            user.primary = primary
        user.modified_date = stamp
        self._emit_presence(user)
        if (user.routing_status, user.routing_start) != routing_before:
            self._emit_routing_status(user)

    def patch_presence(self, user_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            user = self._user(user_id)
            definition, message, primary = self._parse_presence_update(body, "body")
            self._apply_presence(user, definition, message, primary)
            return self._user_presence_json(user)

    def put_presences_bulk(self, body: Any) -> list[dict[str, Any]]:
        """``PUT /api/v2/users/presences/bulk``: all or nothing — every item is checked before any is applied. The SDK
        documents no maximum number of items (the request body limit of 512,000 bytes applies, in the server)."""
        if not isinstance(body, list):
            raise bad_request("The body must be a list of MutableUserPresence", field="body")
        with self.lock:
            updates = []
            for index, item in enumerate(body):
                item = check_object(item, f"body[{index}]")
                user_id = item.get("id")
                if not isinstance(user_id, str) or not user_id:
                    raise bad_request(f"body[{index}].id (the user id) is required", field="id")
                if user_id not in self.users:
                    raise bad_request(f"The user {user_id} could not be found.", field="id", entity_id=user_id)
                updates.append((self.users[user_id], *self._parse_presence_update(item, f"body[{index}]")))
            for user, definition, message, primary in updates:
                self._apply_presence(user, definition, message, primary)
            return [self._user_presence_json(user) for user, *_ in updates]

    def get_presences_bulk(self, ids: list[str]) -> list[dict[str, Any]]:
        """``GET /api/v2/users/presences/purecloud/bulk``: at most :data:`BULK_PRESENCE_MAX_IDS` ids (an ``ErrorBody``
        400 above); unknown ids are left out."""
        if not ids:
            raise bad_request("At least one user id is required", field="id")
        if len(ids) > BULK_PRESENCE_MAX_IDS:
            raise bad_request(
                f"A maximum of {BULK_PRESENCE_MAX_IDS} user ids may be requested, got {len(ids)}", field="id"
            )
        with self.lock:
            return [self._uc_user_presence_json(self.users[i]) for i in ids if i in self.users]

    def agent_sets_presence(self, user_id: str, presence: str | None = None, message: str | None = None) -> None:
        """The agent changes their own presence (as in their client): ``presence`` by id, label or system
        presence; without one, a different presence than the current (Away, or Busy when already Away)."""
        with self.lock:
            user = self._user(user_id)
            if presence:
                definition = self.resolve_presence(presence)
            else:
                current = self.definitions[user.definition_id].system_presence
                definition = self.resolve_presence("Busy" if current == "Away" else "Away")
            self._apply_presence(user, definition, message, None)

    # ---- the users listing --------------------------------------------------------------------------------------

    def _user_json(self, user: UserState, expand: set[str]) -> dict[str, Any]:
        division = self.fixture.organization.home_division_id
        body: dict[str, Any] = {
            "id": user.id,
            "name": user.name,
            "division": {"id": division, "name": "Home", "selfUri": f"/api/v2/authorization/divisions/{division}"},
        }
        if user.department:
            body["department"] = user.department
        body.update({"email": user.email, "state": "active", "username": user.email, "version": 1})
        if "routingStatus" in expand:
            body["routingStatus"] = self._routing_status_json(user)
        if "presence" in expand:
            body["presence"] = self._user_presence_json(user)
        if "skills" in expand:
            body["skills"] = [
                {
                    "id": a.skill_id,
                    "name": self.skills[a.skill_id].name,
                    "proficiency": a.proficiency,
                    "state": a.state,
                    "skillUri": f"/api/v2/routing/skills/{a.skill_id}",
                    "selfUri": f"/api/v2/users/{user.id}/routingskills/{a.skill_id}",
                }
                for a in self._sorted_skills(user)
            ]
        body["acdAutoAnswer"] = False
        body["selfUri"] = self_uri_user(user.id)
        return body

    def list_users(
        self,
        ids: list[str],
        expand: list[str],
        *,
        page_size: int = USERS_DEFAULT_PAGE_SIZE,
        page_number: int = 1,
        sort_order: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """``GET /api/v2/users`` → ``UserEntityListing``. With ``id``: those users (unknown ids left out) in the order
        asked, paged like any listing (so more ids than ``pageSize`` need ``pageSize`` raised or the next page);
        without: every user by name. ``expand=routingStatus`` (and ``presence``, ``skills``) fill those fields."""
        if page_size < 1 or page_number < 1:
            raise bad_request("pageSize and pageNumber must be positive", field="pageSize")
        unknown = sorted(set(expand) - USER_EXPANDS)
        if unknown:
            raise bad_request(f"Invalid expand value(s): {', '.join(unknown)}", field="expand")
        order = (sort_order or "ASC").strip().upper()
        if order not in {"ASC", "DESC", "ASCENDING", "DESCENDING"}:
            raise bad_request("sortOrder must be ASC or DESC", field="sortOrder")
        if state is not None and state not in USER_STATES:
            raise bad_request(f"state must be one of {', '.join(USER_STATES)}", field="state")
        with self.lock:
            if ids:
                selected = [self.users[i] for i in dedupe(ids) if i in self.users]
            else:
                selected = self.users_by_name if order.startswith("ASC") else self.users_by_name[::-1]
            if state in ("inactive", "deleted"):
                selected = []  # every simulated user is active
            wanted = set(expand)
            page = selected[(page_number - 1) * page_size : page_number * page_size]
            entities = [self._user_json(user, wanted) for user in page]
            query = (f"&id={','.join(ids)}" if ids else "") + (f"&expand={','.join(expand)}" if expand else "")
            return page_listing(entities, len(selected), page_size, page_number, "/api/v2/users", query)
