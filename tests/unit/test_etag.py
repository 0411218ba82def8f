"""Specification of our presence ETag (Genesys presence has none of its own)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from presence_manager.etag import presence_etag
from presence_manager.genesys.models import UserPresence

ON_QUEUE_ID = "6a3af858-942f-489d-9700-5f9bcdcdae9b"


def presence(**overrides: Any) -> UserPresence:
    """A presence as GET /api/v2/users/{userId}/presences/purecloud answers it."""
    body: dict[str, Any] = {
        "id": "PURECLOUD",
        "source": "PURECLOUD",
        "primary": True,
        "presenceDefinition": {"id": ON_QUEUE_ID, "systemPresence": "On Queue"},
        "message": "on the phones",
        "modifiedDate": "2026-03-08T07:00:00.123Z",
    }
    body.update(overrides)
    return UserPresence.model_validate(body)


def test_given_a_presence_when_its_etag_is_computed_then_sixteen_hex_digits_in_quotes() -> None:
    assert re.fullmatch(r'"[0-9a-f]{16}"', presence_etag(presence()))


def test_given_the_same_presence_when_computed_again_then_the_same_etag_as_ever() -> None:
    """Stable across calls, processes and releases: the golden value pins the fingerprint's definition."""
    assert presence_etag(presence()) == presence_etag(presence())
    assert presence_etag(presence()) == '"6dd605eef528535e"'


@pytest.mark.parametrize(
    "change",
    [
        {"presenceDefinition": {"id": "e08eaf1b-ee47-4fa9-a231-1200e284798f", "systemPresence": "Available"}},
        {"message": "lunch"},
        {"modifiedDate": "2026-03-08T07:00:00.124Z"},
    ],
)
def test_given_a_change_of_definition_message_or_modified_date_when_computed_then_the_etag_changes(
    change: dict[str, Any],
) -> None:
    assert presence_etag(presence(**change)) != presence_etag(presence())


def test_given_one_modified_instant_spelled_with_an_offset_when_computed_then_the_same_etag() -> None:
    assert presence_etag(presence(modifiedDate="2026-03-08T09:00:00.123+02:00")) == presence_etag(presence())


def test_given_no_message_or_an_empty_message_when_computed_then_the_same_etag() -> None:
    assert presence_etag(presence(message=None)) == presence_etag(presence(message=""))


def test_given_fields_outside_the_fingerprint_when_they_differ_then_the_etag_does_not() -> None:
    other = presence(
        primary=False,
        source="OTHER",
        presenceDefinition={"id": ON_QUEUE_ID, "systemPresence": "OnQueue"},
    )
    assert presence_etag(other) == presence_etag(presence())


def test_given_an_empty_presence_when_computed_then_still_an_etag() -> None:
    assert re.fullmatch(r'"[0-9a-f]{16}"', presence_etag(UserPresence()))
