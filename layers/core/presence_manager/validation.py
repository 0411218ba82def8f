"""Reusable input types for every boundary (request bodies, query strings, headers, path segments, page tokens).

One rule for text, applied everywhere through ``SafeStr``: a string is exactly a JSON/Python ``str`` (never a
coerced number or bool) and holds no control character, no bidirectional override and no encoding debris:

- C0 controls U+0000-U+001F (``\\t``, ``\\n``, ``\\r`` included) and DEL U+007F;
- C1 controls U+0080-U+009F (U+0085 NEXT LINE included);
- bidirectional embeddings/overrides/isolates U+202A-U+202E, U+2066-U+2069 and the marks U+200E, U+200F, U+061C;
- line/paragraph separators U+2028, U+2029 (line breaks to logs and to JavaScript);
- lone surrogates U+D800-U+DFFF (a ``"\\ud800"`` JSON escape; not encodable as UTF-8);
- U+FFFD (what a gateway puts where it met invalid UTF-8) and the noncharacters U+FFFE, U+FFFF.

Genesys Cloud ids (users, skills, management units) are ``GenesysId``: a canonical UUID, returned lower-case, so an
id can never be a path (``../../x/presences/purecloud``) or smuggle anything into a URL.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, StrictStr, StringConstraints

FORBIDDEN_CHARACTERS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffd\ufffe\uffff]"
)
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: Deepest JSON any of our request bodies has: body → skillOverrides[] → override object.
MAX_JSON_DEPTH = 8


def forbidden_character(value: str) -> str | None:
    """A description of the first forbidden character in ``value`` (None when there is none)."""
    match = FORBIDDEN_CHARACTERS.search(value)
    if match is None:
        return None
    return f"U+{ord(match.group()):04X} at position {match.start()}"


def refuse_control_characters(value: str) -> str:
    found = forbidden_character(value)
    if found is not None:
        raise ValueError(f"control, bidirectional or invalid character ({found}) is not allowed")
    return value


def genesys_id(value: str) -> str:
    if UUID_PATTERN.fullmatch(value) is None:
        raise ValueError("must be a Genesys Cloud id (a UUID such as 6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11)")
    return value.lower()


#: The rule for text, as an annotation: a real ``str`` without control, bidirectional or invalid characters.
NoControlCharacters = AfterValidator(refuse_control_characters)
#: Unbounded safe text (bound it where it is used with a ``StringConstraints`` placed *before* the rule, as the
#: aliases below do, so that a bound's message reads "String should have at most N characters").
SafeStr = Annotated[StrictStr, NoControlCharacters]
#: A Genesys Cloud entity id (user, skill, management unit): a canonical UUID, lower-cased.
GenesysId = Annotated[StrictStr, NoControlCharacters, AfterValidator(genesys_id)]

MAX_PRESENCE_LENGTH = 256
MAX_MESSAGE_LENGTH = 1000
MAX_REASON_LENGTH = 500
MAX_REQUESTED_BY_LENGTH = 512
MAX_ETAG_LENGTH = 128
MAX_CHANGE_ID_LENGTH = 80
MAX_TIME_ZONE_LENGTH = 64

PresenceText = Annotated[
    StrictStr, StringConstraints(min_length=1, max_length=MAX_PRESENCE_LENGTH), NoControlCharacters
]
MessageText = Annotated[StrictStr, StringConstraints(max_length=MAX_MESSAGE_LENGTH), NoControlCharacters]
ReasonText = Annotated[StrictStr, StringConstraints(max_length=MAX_REASON_LENGTH), NoControlCharacters]
RequestedByText = Annotated[StrictStr, StringConstraints(max_length=MAX_REQUESTED_BY_LENGTH), NoControlCharacters]
ETagText = Annotated[StrictStr, StringConstraints(min_length=1, max_length=MAX_ETAG_LENGTH), NoControlCharacters]
ChangeIdText = Annotated[StrictStr, StringConstraints(max_length=MAX_CHANGE_ID_LENGTH), NoControlCharacters]
#: Only bounded here: an empty or unknown name is ``invalid_time_zone`` (``timeutil.resolve_time_zone``).
TimeZoneText = Annotated[StrictStr, StringConstraints(max_length=MAX_TIME_ZONE_LENGTH), NoControlCharacters]


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``value`` (parsed JSON) nests objects/arrays deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


#: How far ahead a change may be judged against the schedule (``activityAt``): automation's lead minutes at most.
MAX_ACTIVITY_LEAD_MINUTES = 60


def _utc_instant(value: str) -> str:
    from presence_manager.timeutil import parse_instant, to_utc_iso

    return to_utc_iso(parse_instant(value))


#: An ISO-8601 instant with an offset (normalised to UTC ``Z``); Validate uses it at most
#: ``MAX_ACTIVITY_LEAD_MINUTES`` ahead of the moment the change runs.
ActivityInstant = Annotated[
    StrictStr, StringConstraints(max_length=40), NoControlCharacters, AfterValidator(_utc_instant)
]
