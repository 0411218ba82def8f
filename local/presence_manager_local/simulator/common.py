"""What every part of the simulator shares: instants as Genesys writes them, presence spellings on the wire and the
checks of request bodies against the SDK's JSON field names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from presence_manager_local.simulator.errors import bad_request

ROUTING_STATUSES = ("OFF_QUEUE", "IDLE", "INTERACTING", "NOT_RESPONDING", "COMMUNICATING")
SYSTEM_PRESENCES = ("Available", "Away", "Busy", "Offline", "Idle", "OnQueue", "Meal", "Training", "Meeting", "Break")


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


# ---- presence spellings -----------------------------------------------------------------------------------------


def wire_system_presence(system_presence: str) -> str:
    """User presence payloads spell ``OnQueue`` as ``"On Queue"`` on the wire."""
    return "On Queue" if system_presence == "OnQueue" else system_presence


def normalize_system_presence(value: str) -> str | None:
    compact = value.replace(" ", "").replace("_", "").lower()
    return next((known for known in SYSTEM_PRESENCES if known.lower() == compact), None)


# ---- request bodies and references ------------------------------------------------------------------------------


def self_uri_user(user_id: str) -> str:
    return f"/api/v2/users/{user_id}"


def user_ref(user_id: str) -> dict[str, str]:
    return {"id": user_id, "selfUri": self_uri_user(user_id)}


def check_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request(f"{where} must be a JSON object", field=where)
    return value


def check_fields(value: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    for key in value:
        if key not in allowed:
            raise bad_request(f'Unrecognized field "{key}" in {where}', field=key)


def optional_field(value: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    item = value.get(key)
    if item is None:
        return None
    if not isinstance(item, kind) or (kind in (int, float, (int, float)) and isinstance(item, bool)):
        raise bad_request(f"{where}.{key} has the wrong type", field=key)
    return item


def dedupe(ids: list[str]) -> list[str]:
    """The ids in their first-seen order, each once."""
    return list(dict.fromkeys(ids))


def page_listing(
    entities: list[Any], total: int, page_size: int, page_number: int, base: str, extra_query: str = ""
) -> dict[str, Any]:
    """The paging fields of an ``…EntityListing`` (``pageSize``, ``pageNumber``, ``total``, the URIs, ``pageCount``)
    around one page of ``entities``."""
    page_count = -(-total // page_size) if total else 1

    def uri(number: int) -> str:
        return f"{base}?pageSize={page_size}&pageNumber={number}{extra_query}"

    listing: dict[str, Any] = {
        "entities": entities,
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
