"""The simulated org: users, presences, routing status, skills, WFM units and schedules, tokens, rate windows,
faults and the request log. Thread-safe (one re-entrant lock), no HTTP: methods take parsed JSON and return the
JSON Genesys answers (SDK field names), or raise :class:`SimError`.
"""

from __future__ import annotations

import base64
import math
import secrets
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from presence_manager_local.simulator.errors import (
    OAuthError,
    bad_credentials,
    bad_request,
    missing_token,
    not_found,
    rate_limited,
)
from presence_manager_local.simulator.faults import Fault, FaultBook, FaultSpec
from presence_manager_local.simulator.fixture import (
    AgentSchedule,
    BusinessUnitSpec,
    Fixture,
    PresenceDefinitionSpec,
    Shift,
    generate_schedule,
    load_fixture,
)

RATE_WINDOW = timedelta(seconds=60)
BULK_PRESENCE_MAX_IDS = 50
ROUTING_STATUSES = ("OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING")
SKILL_STATES = ("active", "inactive", "deleted")
SYSTEM_PRESENCES = ("Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal", "Training", "Meeting", "Break")

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
USER_ROUTING_SKILL_POST_FIELDS = frozenset({"id", "proficiency", "skillUri", "selfUri"})
USER_ROUTING_SKILL_FIELDS = frozenset({"id", "name", "proficiency", "state", "skillUri", "selfUri"})
SCHEDULE_SEARCH_FIELDS = frozenset({"startDate", "endDate", "userIds"})
BUSINESS_UNIT_SETTINGS_EXPANDS = {"settings.startDayOfWeek": "startDayOfWeek", "settings.timeZone": "timeZone"}


# ---- time -------------------------------------------------------------------------------------------------------


def utc_now() -> datetime:
    return datetime.now(UTC)


def truncate_ms(instant: datetime) -> datetime:
    return instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def iso_ms(instant: datetime) -> str:
    """``2026-03-08T14:05:09.123Z``: UTC, milliseconds, ``Z`` — as Genesys writes instants."""
    instant = instant.astimezone(UTC)
    return instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"


def parse_instant(value: Any, field_name: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise bad_request(f"{field_name} must be an ISO-8601 date-time", field=field_name)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise bad_request(f"{field_name} is not an ISO-8601 date-time: {value}", field=field_name) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def wire_system_presence(system_presence: str) -> str:
    """User presence payloads spell ``OnQueue`` as ``"On Queue"`` on the wire."""
    return "On Queue" if system_presence == "OnQueue" else system_presence


def normalize_system_presence(value: str) -> str | None:
    compact = value.replace(" ", "").replace("_", "").lower()
    return next((known for known in SYSTEM_PRESENCES if known.lower() == compact), None)


# ---- runtime entities -------------------------------------------------------------------------------------------


@dataclass
class SkillAssignment:
    skill_id: str
    proficiency: float
    state: str = "active"


@dataclass
class UserState:
    id: str
    name: str
    email: str
    department: str | None
    schedule_pattern: str
    management_unit_id: str | None
    business_unit_id: str | None
    definition_id: str
    message: str
    primary: bool
    modified_date: datetime
    routing_status: str
    routing_start: datetime
    skills: dict[str, SkillAssignment] = field(default_factory=dict)
    schedule: AgentSchedule | None = None


@dataclass
class TokenInfo:
    client_id: str
    issued: datetime
    expires: datetime


def _self_uri_user(user_id: str) -> str:
    return f"/api/v2/users/{user_id}"


def _check_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be a JSON object", field=where)
    return value


def _check_fields(value: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise bad_request(f'Unrecognized field "{key}" in {where}', field=key)


def _optional(value: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    item = value.get(key)
    if item is None:
        return None
    if not isinstance(item, kind) or (kind in (int, float, (int, float)) and isinstance(item, bool)):
        raise bad_request(f"{where}.{key} has the wrong type", field=key)
    return item


class SimulatorState:
    """The in-memory org. Every public method takes the lock."""

    def __init__(
        self,
        fixture: Path | str | None = None,
        *,
        now: Callable[[], datetime] | None = None,
        rate_limit_per_minute: int = 300,
        schedule_inline_max_users: int | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.fixture_path = fixture
        self._clock = now or utc_now
        self.rate_limit_per_minute = rate_limit_per_minute
        self._schedule_inline_max_users_override = schedule_inline_max_users
        self._token_lifetime_override: int | None = None
        self.faults = FaultBook()
        self.reset()

    # ---- lifecycle and configuration ----------------------------------------------------------------------

    def now(self) -> datetime:
        instant = self._clock()
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)

    def reset(self) -> None:
        """Reload the fixture, regenerate schedules around now, clear faults, log, tokens and rate windows."""
        with self.lock:
            self.fixture: Fixture = load_fixture(self.fixture_path)
            self.loaded_at = self.now()
            self.definitions: dict[str, PresenceDefinitionSpec] = {d.id: d for d in self.fixture.presence_definitions}
            self.skills = {s.id: s for s in self.fixture.skills}
            self.business_units = {b.id: b for b in self.fixture.business_units}
            self.management_units = {
                mu.id: (mu, unit) for unit in self.fixture.business_units for mu in unit.management_units
            }
            self.clients = {c.client_id: c for c in self.fixture.oauth_clients}
            self.users: dict[str, UserState] = {}
            for index, spec in enumerate(self.fixture.users):
                self.users[spec.id] = self._build_user(spec, index)
            self.tokens: dict[str, TokenInfo] = {}
            self.rate_windows: dict[str, deque[datetime]] = {}
            self.request_log: list[dict[str, Any]] = []
            self.downloads: dict[str, Any] = {}
            self.faults.clear()

    def configure(
        self,
        *,
        rate_limit_per_minute: int | None = None,
        schedule_inline_max_users: int | None = None,
        token_lifetime_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Change server settings (kept across :meth:`reset`)."""
        with self.lock:
            if rate_limit_per_minute is not None:
                if rate_limit_per_minute < 1:
                    raise ValueError("rateLimitPerMinute must be at least 1")
                self.rate_limit_per_minute = rate_limit_per_minute
            if schedule_inline_max_users is not None:
                if schedule_inline_max_users < 0:
                    raise ValueError("scheduleInlineMaxUsers must be at least 0")
                self._schedule_inline_max_users_override = schedule_inline_max_users
            if token_lifetime_seconds is not None:
                if token_lifetime_seconds < 1:
                    raise ValueError("tokenLifetimeSeconds must be at least 1")
                self._token_lifetime_override = token_lifetime_seconds
            return self.settings()

    @property
    def schedule_inline_max_users(self) -> int:
        if self._schedule_inline_max_users_override is not None:
            return self._schedule_inline_max_users_override
        return self.fixture.settings.schedule_inline_max_users

    def settings(self) -> dict[str, Any]:
        return {
            "rateLimitPerMinute": self.rate_limit_per_minute,
            "scheduleInlineMaxUsers": self.schedule_inline_max_users,
            "tokenLifetimeSeconds": self._token_lifetime_override,
        }

    def _build_user(self, spec: Any, index: int) -> UserState:
        now = self.now()
        unit = self.fixture.business_unit_of(spec.management_unit_id) if spec.management_unit_id else None
        pattern = self.fixture.schedule_patterns[spec.schedule_pattern]
        schedule = generate_schedule(pattern, unit, spec.id, now) if unit is not None else None
        on_shift = schedule.on_shift_at(now) if schedule is not None else False
        presence_ref = spec.presence if on_shift or not spec.presence_off_shift else spec.presence_off_shift
        definition = self.resolve_presence(presence_ref)
        changed = truncate_ms(now - timedelta(minutes=3 * (index + 1), seconds=17 * index))
        on_queue = definition.system_presence == "OnQueue"
        return UserState(
            id=spec.id,
            name=spec.name,
            email=spec.email,
            department=spec.department,
            schedule_pattern=spec.schedule_pattern,
            management_unit_id=spec.management_unit_id,
            business_unit_id=unit.id if unit else None,
            definition_id=definition.id,
            message=spec.message,
            primary=True,
            modified_date=changed,
            routing_status=(spec.routing_status or "IDLE") if on_queue else "OFF_QUEUE",
            routing_start=changed,
            skills={s.id: SkillAssignment(s.id, float(s.proficiency), s.state) for s in spec.skills},
            schedule=schedule,
        )

    # ---- lookups ------------------------------------------------------------------------------------------

    def resolve_presence(self, reference: str, *, active_only: bool = True) -> PresenceDefinitionSpec:
        """A presence definition by id, en_US label or system presence (``On Queue`` and ``OnQueue`` alike)."""
        with self.lock:
            if reference in self.definitions:
                return self.definitions[reference]
            candidates = [d for d in self.definitions.values() if not (active_only and d.deactivated)]
            lowered = reference.strip().lower()
            by_label = [d for d in candidates if d.label.lower() == lowered]
            if by_label:
                return sorted(by_label, key=lambda d: d.type != "System")[0]
            system = normalize_system_presence(reference)
            for definition in candidates:
                if definition.type == "System" and definition.system_presence == system:
                    return definition
            raise KeyError(f"no presence definition {reference!r}")

    def _user(self, user_id: str) -> UserState:
        user = self.users.get(user_id)
        if user is None:
            raise not_found(f"The user {user_id} could not be found.", entity_id=user_id)
        return user

    def _stamp(self, previous: datetime | None) -> datetime:
        """Now in milliseconds, strictly later than ``previous``."""
        stamp = truncate_ms(self.now())
        if previous is not None and stamp <= previous:
            stamp = previous + timedelta(milliseconds=1)
        return stamp

    # ---- OAuth, tokens and the rate limit -----------------------------------------------------------------

    def issue_token(self, authorization: str | None, form: dict[str, str]) -> dict[str, Any]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
                client_id, _, client_secret = decoded.partition(":")
            except (ValueError, UnicodeDecodeError) as exc:
                raise OAuthError(401, "invalid_client", "client not found") from exc
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        with self.lock:
            client = self.clients.get(client_id or "")
            if client is None or not secrets.compare_digest(client.client_secret, client_secret or ""):
                raise OAuthError(401, "invalid_client", "client not found")
            if grant_type != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type", f"grant type {grant_type} is not supported")
            lifetime = self._token_lifetime_override or client.token_lifetime_seconds
            token = secrets.token_urlsafe(48)
            issued = self.now()
            self.tokens[token] = TokenInfo(client.client_id, issued, issued + timedelta(seconds=lifetime))
            return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}

    def authenticate(self, authorization: str | None) -> str:
        """The bearer token of a request, if valid and unexpired."""
        if not authorization or not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            raise missing_token()
        token = authorization[7:].strip()
        with self.lock:
            info = self.tokens.get(token)
            if info is None or info.expires <= self.now():
                raise bad_credentials()
        return token

    def expire_tokens(self) -> int:
        with self.lock:
            now = self.now()
            for info in self.tokens.values():
                info.expires = min(info.expires, now)
            return len(self.tokens)

    def admit(self, token: str) -> None:
        """Count one request against the token's sliding 60-second window, or raise a 429."""
        with self.lock:
            now = self.now()
            window = self.rate_windows.setdefault(token, deque())
            while window and window[0] <= now - RATE_WINDOW:
                window.popleft()
            if len(window) >= self.rate_limit_per_minute:
                wait = (window[0] + RATE_WINDOW - now).total_seconds()
                raise rate_limited(max(1, math.ceil(wait)))
            window.append(now)

    # ---- presence definitions -----------------------------------------------------------------------------

    def _definition_json(self, definition: PresenceDefinitionSpec) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": definition.id,
            "type": definition.type,
            "languageLabels": dict(definition.language_labels),
            "systemPresence": definition.system_presence,
        }
        if definition.division_id:
            body["divisionId"] = definition.division_id
        body["deactivated"] = definition.deactivated
        body["selfUri"] = f"/api/v2/presence/definitions/{definition.id}"
        return body

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

    # ---- user presence ------------------------------------------------------------------------------------

    def _presence_definition_ref(self, user: UserState) -> dict[str, Any]:
        definition = self.definitions[user.definition_id]
        return {
            "id": definition.id,
            "systemPresence": wire_system_presence(definition.system_presence),
            "selfUri": f"/api/v2/presencedefinitions/{definition.id}",
        }

    def _user_presence_json(self, user: UserState) -> dict[str, Any]:
        return {
            "id": user.id,
            "source": "PURECLOUD",
            "primary": user.primary,
            "presenceDefinition": self._presence_definition_ref(user),
            "message": user.message,
            "modifiedDate": iso_ms(user.modified_date),
            "selfUri": f"/api/v2/users/{user.id}/presences/purecloud",
        }

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
        body = _check_object(body, where)
        _check_fields(body, USER_PRESENCE_FIELDS, where)
        definition = None
        reference = body.get("presenceDefinition")
        if reference is not None:
            reference = _check_object(reference, f"{where}.presenceDefinition")
            _check_fields(reference, PRESENCE_DEFINITION_FIELDS, f"{where}.presenceDefinition")
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
        message = _optional(body, "message", str, where)
        primary = _optional(body, "primary", bool, where)
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

    def patch_presence(self, user_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            user = self._user(user_id)
            definition, message, primary = self._parse_presence_update(body, "body")
            self._apply_presence(user, definition, message, primary)
            return self._user_presence_json(user)

    def put_presences_bulk(self, body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list):
            raise bad_request("The body must be a list of MutableUserPresence", field="body")
        with self.lock:
            updates = []
            for index, item in enumerate(body):
                item = _check_object(item, f"body[{index}]")
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

    # ---- routing status and skills ------------------------------------------------------------------------

    def get_routing_status(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                return {"userId": user_id, "status": "OFF_QUEUE"}
            return {"userId": user.id, "status": user.routing_status, "startTime": iso_ms(user.routing_start)}

    def set_routing_status(self, user_id: str, status: str) -> dict[str, Any]:
        if status not in ROUTING_STATUSES:
            raise bad_request(f"status must be one of {', '.join(ROUTING_STATUSES)}", field="status")
        with self.lock:
            user = self._user(user_id)
            user.routing_status, user.routing_start = status, self._stamp(None)
            return self.get_routing_status(user_id)

    def _skill_json(self, user: UserState, assignment: SkillAssignment) -> dict[str, Any]:
        return {
            "id": assignment.skill_id,
            "name": self.skills[assignment.skill_id].name,
            "proficiency": assignment.proficiency,
            "state": assignment.state,
            "skillUri": f"/api/v2/routing/skills/{assignment.skill_id}",
            "selfUri": f"/api/v2/users/{user.id}/routingskills/{assignment.skill_id}",
        }

    def _sorted_skills(self, user: UserState) -> list[SkillAssignment]:
        return sorted(user.skills.values(), key=lambda a: self.skills[a.skill_id].name.lower())

    def list_skills(self, user_id: str, page_size: int = 25, page_number: int = 1) -> dict[str, Any]:
        if page_size < 1 or page_number < 1:
            raise bad_request("pageSize and pageNumber must be positive", field="pageSize")
        with self.lock:
            user = self._user(user_id)
            skills = self._sorted_skills(user)
            total = len(skills)
            page_count = math.ceil(total / page_size) if total else 1
            page = skills[(page_number - 1) * page_size : page_number * page_size]
            base = f"/api/v2/users/{user.id}/routingskills"

            def uri(number: int) -> str:
                return f"{base}?pageSize={page_size}&pageNumber={number}"

            listing: dict[str, Any] = {
                "entities": [self._skill_json(user, a) for a in page],
                "pageSize": page_size,
                "pageNumber": page_number,
                "total": total,
                "firstUri": uri(1),
                "selfUri": uri(page_number),
                "lastUri": uri(page_count),
                "pageCount": page_count,
            }
            if page_number < page_count:
                listing["nextUri"] = uri(page_number + 1)
            if page_number > 1:
                listing["previousUri"] = uri(page_number - 1)
            return listing

    def patch_skills_bulk(self, user_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, list):
            raise bad_request("The body must be a list of UserRoutingSkillPost", field="body")
        with self.lock:
            user = self._user(user_id)
            updates: list[tuple[str, float]] = []
            for index, item in enumerate(body):
                where = f"body[{index}]"
                item = _check_object(item, where)
                _check_fields(item, USER_ROUTING_SKILL_POST_FIELDS, where)
                skill_id = item.get("id")
                if not isinstance(skill_id, str) or skill_id not in self.skills:
                    raise bad_request(f"Invalid skill id: {skill_id}", field="id", entity_id=str(skill_id))
                proficiency = item.get("proficiency")
                if isinstance(proficiency, bool) or not isinstance(proficiency, int | float):
                    raise bad_request(f"{where}.proficiency is required (0 to 5)", field="proficiency")
                if not 0 <= proficiency <= 5:
                    raise bad_request(f"Proficiency must be between 0 and 5, got {proficiency}", field="proficiency")
                updates.append((skill_id, float(proficiency)))
            for skill_id, proficiency in updates:
                assignment = user.skills.get(skill_id)
                if assignment is None:
                    user.skills[skill_id] = SkillAssignment(skill_id, proficiency)
                else:
                    assignment.proficiency = proficiency
            return self.list_skills(user_id, page_size=max(25, len(user.skills)))

    def put_skill(self, user_id: str, skill_id: str, body: Any) -> dict[str, Any]:
        with self.lock:
            user = self._user(user_id)
            if skill_id not in self.skills:
                raise not_found(f"The skill {skill_id} could not be found.", entity_id=skill_id)
            body = _check_object(body, "body")
            _check_fields(body, USER_ROUTING_SKILL_FIELDS, "body")
            proficiency = _optional(body, "proficiency", (int, float), "body")
            if proficiency is not None and not 0 <= proficiency <= 5:
                raise bad_request(f"Proficiency must be between 0 and 5, got {proficiency}", field="proficiency")
            state = _optional(body, "state", str, "body")
            if state is not None and state not in SKILL_STATES:
                raise bad_request(f"state must be one of {', '.join(SKILL_STATES)}", field="state")
            assignment = user.skills.get(skill_id)
            if assignment is None:
                if proficiency is None:
                    raise bad_request("proficiency is required to add a skill", field="proficiency")
                assignment = SkillAssignment(skill_id, float(proficiency))
                user.skills[skill_id] = assignment
            if proficiency is not None:
                assignment.proficiency = float(proficiency)
            if state is not None:
                assignment.state = state
            result = self._skill_json(user, assignment)
            if assignment.state == "deleted":
                del user.skills[skill_id]
            return result

    def delete_skill(self, user_id: str, skill_id: str) -> None:
        with self.lock:
            user = self._user(user_id)
            if skill_id not in self.skills:
                raise not_found(f"The skill {skill_id} could not be found.", entity_id=skill_id)
            user.skills.pop(skill_id, None)

    # ---- workforce management -----------------------------------------------------------------------------

    def _business_unit(self, business_unit_id: str) -> BusinessUnitSpec:
        unit = self.business_units.get(business_unit_id)
        if unit is None:
            raise not_found(f"Business unit {business_unit_id} not found", entity_id=business_unit_id)
        return unit

    def agent_management_unit(self, agent_id: str) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(agent_id)
            if user is None or user.management_unit_id is None or user.business_unit_id is None:
                raise not_found(f"No management unit found for agent {agent_id}", entity_id=agent_id)
            return {
                "user": {"id": user.id, "selfUri": _self_uri_user(user.id)},
                "managementUnit": {
                    "id": user.management_unit_id,
                    "selfUri": f"/api/v2/workforcemanagement/managementunits/{user.management_unit_id}",
                },
                "businessUnit": {
                    "id": user.business_unit_id,
                    "selfUri": f"/api/v2/workforcemanagement/businessunits/{user.business_unit_id}",
                },
            }

    def business_unit(self, business_unit_id: str, expand: list[str] | None = None) -> dict[str, Any]:
        """``settings`` only when expanded: ``settings`` (all) or ``settings.timeZone``/``settings.startDayOfWeek``."""
        with self.lock:
            unit = self._business_unit(business_unit_id)
            division = self.fixture.organization.home_division_id
            body: dict[str, Any] = {"id": unit.id, "name": unit.name}
            values = {"startDayOfWeek": unit.start_day_of_week, "timeZone": unit.time_zone}
            wanted = set(expand or [])
            settings = {
                key: value
                for key, value in values.items()
                if "settings" in wanted or any(BUSINESS_UNIT_SETTINGS_EXPANDS.get(e) == key for e in wanted)
            }
            if settings:
                body["settings"] = settings
            body["division"] = {"id": division, "selfUri": f"/api/v2/authorization/divisions/{division}"}
            body["selfUri"] = f"/api/v2/workforcemanagement/businessunits/{unit.id}"
            return body

    def activity_codes(self, business_unit_id: str) -> dict[str, Any]:
        with self.lock:
            unit = self._business_unit(business_unit_id)
            entities = []
            for code in unit.activity_codes:
                item: dict[str, Any] = {
                    "id": code.id,
                    "name": code.name,
                    "active": code.active,
                    "defaultCode": code.default_code,
                    "category": code.category,
                }
                if code.length_in_minutes is not None:
                    item["lengthInMinutes"] = code.length_in_minutes
                item.update(
                    {
                        "countsAsPaidTime": code.counts_as_paid_time,
                        "countsAsWorkTime": code.counts_as_work_time,
                        "agentTimeOffSelectable": code.agent_time_off_selectable,
                        "secondaryPresences": [
                            {"id": p, "selfUri": f"/api/v2/presence/definitions/{p}"} for p in code.secondary_presences
                        ],
                        "selfUri": f"/api/v2/workforcemanagement/businessunits/{unit.id}/activitycodes/{code.id}",
                    }
                )
                entities.append(item)
            return {"entities": entities}

    def _management_unit_users(self, management_unit_id: str) -> list[UserState]:
        if management_unit_id not in self.management_units:
            raise not_found(f"Management unit {management_unit_id} not found", entity_id=management_unit_id)
        return [u for u in self.users.values() if u.management_unit_id == management_unit_id]

    def management_unit_users(self, management_unit_id: str) -> dict[str, Any]:
        with self.lock:
            users = self._management_unit_users(management_unit_id)
            return {"entities": [{"id": u.id, "selfUri": _self_uri_user(u.id)} for u in users]}

    @staticmethod
    def _shift_json(shift: Shift) -> dict[str, Any]:
        return {
            "id": shift.id,
            "startDate": iso_ms(shift.start),
            "lengthMinutes": shift.length_minutes,
            "activities": [
                {
                    "startDate": iso_ms(a.start),
                    "lengthMinutes": a.length_minutes,
                    "description": a.description,
                    "activityCodeId": a.activity_code_id,
                    "paid": a.paid,
                }
                for a in shift.activities
            ],
        }

    def search_schedules(
        self,
        management_unit_id: str,
        body: Any,
        *,
        base_url: str,
        processing: bool = False,
        force_download: bool = False,
    ) -> dict[str, Any]:
        """``BuAsyncAgentSchedulesSearchResponse``: ``Complete`` with ``result`` inline, or with a ``downloadUrl``
        when more than ``schedule_inline_max_users`` users are in the answer (or ``forceDownloadService``), or
        ``Processing`` without a result (fault ``schedule_processing`` or ``forceAsync``)."""
        body = _check_object(body, "body")
        _check_fields(body, SCHEDULE_SEARCH_FIELDS, "body")
        if body.get("startDate") is None or body.get("endDate") is None:
            raise bad_request("startDate and endDate are required", field="startDate")
        start = parse_instant(body["startDate"], "startDate")
        end = parse_instant(body["endDate"], "endDate")
        if end <= start:
            raise bad_request("endDate must be after startDate", field="endDate")
        user_ids = body.get("userIds")
        if user_ids is not None and (not isinstance(user_ids, list) or not all(isinstance(i, str) for i in user_ids)):
            raise bad_request("userIds must be a list of user ids", field="userIds")
        with self.lock:
            members = self._management_unit_users(management_unit_id)
            _, unit = self.management_units[management_unit_id]
            operation_id = str(uuid.uuid4())
            if processing:
                return {"status": "Processing", "operationId": operation_id, "progress": 0}
            wanted = set(user_ids) if user_ids is not None else None
            schedules = []
            for user in members:
                if wanted is not None and user.id not in wanted:
                    continue
                schedule = user.schedule or AgentSchedule()
                markers = []
                for marker in schedule.time_off:
                    day_start, day_end = marker.local_span(unit.zone)
                    if day_start < end and day_end > start:
                        markers.append(
                            {
                                "businessUnitDate": marker.business_unit_date.isoformat(),
                                "lengthMinutes": marker.length_minutes,
                                "description": marker.description,
                                "activityCodeId": marker.activity_code_id,
                                "paid": marker.paid,
                            }
                        )
                schedules.append(
                    {
                        "user": {"id": user.id, "selfUri": _self_uri_user(user.id)},
                        "shifts": [self._shift_json(s) for s in schedule.shifts if s.intersects(start, end)],
                        "fullDayTimeOffMarkers": markers,
                    }
                )
            result = {"agentSchedules": schedules, "businessUnitTimeZone": unit.time_zone}
            if force_download or len(schedules) > self.schedule_inline_max_users:
                key = str(uuid.uuid4())
                self.downloads[key] = result
                return {
                    "status": "Complete",
                    "operationId": operation_id,
                    "downloadUrl": f"{base_url.rstrip('/')}/__sim/downloads/{key}",
                }
            return {"status": "Complete", "result": result}

    def download(self, key: str) -> Any:
        with self.lock:
            if key not in self.downloads:
                raise not_found(f"Download {key} not found or expired", entity_id=key)
            return self.downloads[key]

    # ---- faults and the request log -----------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any] | FaultSpec) -> Fault:
        spec = spec if isinstance(spec, FaultSpec) else FaultSpec.model_validate(spec)
        if spec.presence:
            self.resolve_presence(spec.presence)
        if spec.user_id and spec.user_id not in self.users:
            raise KeyError(f"no user {spec.user_id}")
        return self.faults.add(spec, self.now())

    def log_request(self, entry: dict[str, Any]) -> None:
        with self.lock:
            entry = {"index": len(self.request_log), **entry}
            self.request_log.append(entry)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.request_log[max(0, since) :]]

    # ---- admin views --------------------------------------------------------------------------------------

    def _span_json(self, start: datetime, end: datetime) -> dict[str, str]:
        return {"start": iso_ms(start), "end": iso_ms(end)}

    def _user_snapshot(self, user: UserState, now: datetime) -> dict[str, Any]:
        definition = self.definitions[user.definition_id]
        schedule = user.schedule
        shift = schedule.shift_at(now) if schedule else None
        activity = schedule.activity_at(now) if schedule else None
        time_off = schedule.time_off_at(now) if schedule else None
        upcoming = [s for s in (schedule.shifts if schedule else ()) if s.start > now]
        return {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "department": user.department,
            "presence": {
                "definitionId": definition.id,
                "systemPresence": definition.system_presence,
                "label": definition.label,
                "type": definition.type,
                "message": user.message,
                "primary": user.primary,
                "modifiedDate": iso_ms(user.modified_date),
            },
            "routingStatus": user.routing_status,
            "routingStatusStartTime": iso_ms(user.routing_start),
            "skills": [
                {
                    "id": a.skill_id,
                    "name": self.skills[a.skill_id].name,
                    "proficiency": a.proficiency,
                    "state": a.state,
                }
                for a in self._sorted_skills(user)
            ],
            "schedulePattern": user.schedule_pattern,
            "managementUnitId": user.management_unit_id,
            "businessUnitId": user.business_unit_id,
            "onShift": schedule.on_shift_at(now) if schedule else False,
            "timeOffToday": time_off is not None,
            "currentShift": ({"id": shift.id, **self._span_json(shift.start, shift.end)} if shift else None),
            "scheduledActivity": (
                {
                    "category": activity.category,
                    "activityCodeId": activity.activity_code_id,
                    "description": activity.description,
                    **self._span_json(activity.start, activity.end),
                }
                if activity
                else None
            ),
            "nextShift": (
                {"id": upcoming[0].id, **self._span_json(upcoming[0].start, upcoming[0].end)} if upcoming else None
            ),
        }

    def user_snapshot(self, user_id: str) -> dict[str, Any]:
        with self.lock:
            return self._user_snapshot(self._user(user_id), self.now())

    def users_with_pattern(self, pattern: str) -> list[str]:
        with self.lock:
            return [u.id for u in self.users.values() if u.schedule_pattern == pattern]

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            now = self.now()
            users = [self._user_snapshot(u, now) for u in self.users.values()]
            patterns = {
                name: {
                    "description": pattern.description,
                    "onShiftNow": pattern.on_shift_now,
                    "activityNow": pattern.activity_now,
                    "userIds": [u["id"] for u in users if u["schedulePattern"] == name],
                }
                for name, pattern in self.fixture.schedule_patterns.items()
            }
            return {
                "now": iso_ms(now),
                "schedulesGeneratedAt": iso_ms(self.loaded_at),
                "organization": self.fixture.organization.model_dump(mode="json", by_alias=True),
                "settings": self.settings(),
                "oauthClients": [
                    {"clientId": c.client_id, "name": c.name, "tokenLifetimeSeconds": c.token_lifetime_seconds}
                    for c in self.clients.values()
                ],
                "users": users,
                "patterns": patterns,
                "presenceDefinitions": [
                    {**self._definition_json(d), "label": d.label} for d in self.definitions.values()
                ],
                "skills": [{"id": s.id, "name": s.name} for s in self.skills.values()],
                "businessUnits": [
                    {
                        "id": unit.id,
                        "name": unit.name,
                        "timeZone": unit.time_zone,
                        "managementUnitIds": [mu.id for mu in unit.management_units],
                        "activityCodes": [
                            {
                                "id": code.id,
                                "name": code.name,
                                "category": code.category,
                                "defaultCode": code.default_code,
                                "secondaryPresences": list(code.secondary_presences),
                            }
                            for code in unit.activity_codes
                        ],
                    }
                    for unit in self.business_units.values()
                ],
                "managementUnits": [
                    {
                        "id": mu.id,
                        "name": mu.name,
                        "businessUnitId": unit.id,
                        "userIds": [u.id for u in self.users.values() if u.management_unit_id == mu.id],
                    }
                    for mu, unit in self.management_units.values()
                ],
                "faults": [f.to_json() for f in self.faults.active()],
            }
