"""``presence-manager timeline``: one agent's day drawn in the terminal from ``GET /agents/{userId}/timeline``'s JSON.

Pure (:func:`render_timeline`: the API's JSON in, text lines out). One column per 15 minutes of the local day (96 on
a usual day, 92 or 100 on a DST change), hour labels above; a lane for the schedule (a letter per activity category),
a lane for the presence (a letter per system presence) and under it a marker where a change happened (``*`` ours,
``!`` an outside change: the agent's own, a supervisor's, another app's); legends, then the list of changes.
A column shows what covers its middle (the column of now: the presence now).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

COLUMN_MINUTES = 15
LANE_WIDTH = 10
#: activity category -> letter of the schedule lane
CATEGORY_LETTERS = {
    "OnQueueWork": "Q",
    "Break": "B",
    "Meal": "M",
    "Meeting": "G",
    "OffQueueWork": "W",
    "Training": "T",
    "Unavailable": "U",
    "TimeOff": "X",
}
#: system presence -> letter of the presence lane
PRESENCE_LETTERS = {
    "OnQueue": "Q",
    "Available": "A",
    "Away": "W",
    "Busy": "U",
    "Break": "B",
    "Meal": "M",
    "Meeting": "G",
    "Training": "T",
    "Idle": "I",
    "Offline": "O",
}
OFF_SHIFT = "."  # no shift (schedule), or presence not known (presence)
ON_SHIFT = "="  # on shift, no activity
UNKNOWN = "?"  # a category or presence without a letter, or a schedule Genesys could not tell
LATER = " "  # presence after now
OURS, OUTSIDE, OURS_NOT_SET, SEVERAL = "*", "!", "-", "+"
MARKER_MEANINGS = {
    OURS: "our change",
    OUTSIDE: "outside change (the agent's own, a supervisor's, another app's)",
    OURS_NOT_SET: "our change that set nothing (rejected, dry run, failed)",
    SEVERAL: "several kinds in one column",
}
SCHEDULE_NOTES = {
    "unknown": "schedule unknown: Genesys answered the search Processing",
    "not_in_wfm": "no schedule: the agent is in no WFM management unit",
}


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _columns(timeline: dict[str, Any]) -> list[datetime]:
    """Each column's middle, as a UTC instant."""
    start = _instant(timeline["dayStart"])
    count = math.ceil(timeline["dayMinutes"] / COLUMN_MINUTES)
    half = timedelta(minutes=COLUMN_MINUTES / 2)
    return [start + timedelta(minutes=COLUMN_MINUTES * i) + half for i in range(count)]


def _hour_labels(timeline: dict[str, Any], zone: ZoneInfo) -> str:
    start = _instant(timeline["dayStart"])
    count = math.ceil(timeline["dayMinutes"] / COLUMN_MINUTES)
    cells = [" "] * count
    for i in range(count):
        local = (start + timedelta(minutes=COLUMN_MINUTES * i)).astimezone(zone)
        if local.minute == 0 and i + 2 <= count and cells[i] == " " and (i == 0 or cells[i - 1] == " "):
            cells[i : i + 2] = list(f"{local.hour:02d}")
    return "".join(cells)


def _covering(spans: list[tuple[datetime, datetime, str]], instant: datetime) -> str | None:
    """The letter of the latest-starting span covering ``instant`` (a meeting laid over on-queue work wins)."""
    found = [(start, letter) for start, end, letter in spans if start <= instant < end]
    return max(found)[1] if found else None


def _schedule_lane(timeline: dict[str, Any], columns: list[datetime]) -> tuple[str, set[str]]:
    schedule = timeline["schedule"]
    if schedule["status"] == "unknown":
        return UNKNOWN * len(columns), {UNKNOWN}
    shifts = [(_instant(s["start"]), _instant(s["end"]), ON_SHIFT) for s in schedule["shifts"]]
    activities = [
        (_instant(a["start"]), _instant(a["end"]), CATEGORY_LETTERS.get(a.get("category") or "", UNKNOWN))
        for s in schedule["shifts"]
        for a in s["activities"]
    ]
    time_off = [CATEGORY_LETTERS.get(t.get("category") or "TimeOff", UNKNOWN) for t in schedule["timeOff"]]
    lane = []
    for middle in columns:
        letter = _covering(activities, middle) or _covering(shifts, middle)
        if letter is None:
            letter = time_off[0] if time_off else OFF_SHIFT
        lane.append(letter)
    return "".join(lane), set(lane)


def _presence_lane(timeline: dict[str, Any], columns: list[datetime]) -> tuple[str, set[str]]:
    spans = [
        (_instant(p["start"]), _instant(p["end"]), PRESENCE_LETTERS.get(p.get("systemPresence") or "", UNKNOWN))
        for p in timeline["presence"]
    ]
    generated = _instant(timeline["generatedAt"])
    half = timedelta(minutes=COLUMN_MINUTES / 2)
    lane = []
    for middle in columns:
        if middle - half >= generated:
            lane.append(LATER)
            continue
        # the column of now shows the presence now
        letter = _covering(spans, min(middle, generated - timedelta(milliseconds=1)))
        lane.append(letter or OFF_SHIFT)
    return "".join(lane), set(lane)


def _marker_lane(timeline: dict[str, Any], count: int) -> tuple[str, set[str]]:
    start = _instant(timeline["dayStart"])
    cells: list[set[str]] = [set() for _ in range(count)]
    for change in timeline["changes"]:
        index = int((_instant(change["at"]) - start).total_seconds() // (COLUMN_MINUTES * 60))
        kind = OURS if change["presenceChanged"] else OURS_NOT_SET
        if change["source"] == "external":
            kind = OUTSIDE
        cells[min(max(index, 0), count - 1)].add(kind)
    lane = "".join(" " if not kinds else kinds.pop() if len(kinds) == 1 else SEVERAL for kinds in cells)
    return lane, set(lane) - {" "}


def _legend(used: set[str], names: dict[str, str], extra: dict[str, str]) -> str:
    by_letter: dict[str, list[str]] = {}
    for name, letter in names.items():
        by_letter.setdefault(letter, []).append(name)
    parts = [f"{letter} {'/'.join(by_letter[letter])}" for letter in sorted(by_letter) if letter in used]
    parts += [
        f"{symbol if symbol.strip() else '(blank)'} {meaning}" for symbol, meaning in extra.items() if symbol in used
    ]
    return ", ".join(parts) or "-"


def _presence_name(presence: dict[str, Any] | None) -> str:
    if not presence:
        return "?"
    return presence.get("systemPresence") or presence.get("definitionId") or "?"


def _offsets(timeline: dict[str, Any]) -> list[str]:
    """The UTC offsets of the day: one, or the one at its start and the one at its end across a DST change."""
    first, last = timeline["dayStartLocal"][-6:], timeline["dayEndLocal"][-6:]
    return [first] if first == last else [first, last]


def _change_row(change: dict[str, Any], with_offset: bool) -> list[str]:
    ours = change["source"] == "workflow"
    before = _presence_name(change.get("previousPresence"))
    if change["presenceChanged"]:
        after = _presence_name(change.get("newPresence"))
    else:
        requested = change.get("requestedPresence") or {}
        after = f"(asked {requested.get('label') or requested.get('systemPresence')})" if requested else "(none)"
    return [
        change["atLocal"][11:19] + (change["atLocal"][-6:] if with_offset else ""),
        "ours" if ours else "outside",
        change.get("requestedBy") or "-",
        f"{before} -> {after}",
        change["outcome"],
        change["changeId"],
    ]


def _table(rows: list[list[str]], header: list[str]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return lines


def render_timeline(timeline: dict[str, Any]) -> list[str]:
    """The day as text lines (see the module docstring)."""
    zone = ZoneInfo(timeline["timeZone"])
    columns = _columns(timeline)
    hours = timeline["dayMinutes"] / 60
    offsets = _offsets(timeline)
    lines = [
        f"agent {timeline['userId']} on {timeline['date']} ({timeline['timeZone']}, UTC{'/'.join(offsets)}, "
        f"{hours:g} h; one column = {COLUMN_MINUTES} min)",
    ]
    schedule_lane, schedule_used = _schedule_lane(timeline, columns)
    presence_lane, presence_used = _presence_lane(timeline, columns)
    marker_lane, markers_used = _marker_lane(timeline, len(columns))
    lines += [
        f"{'':<{LANE_WIDTH}}{_hour_labels(timeline, zone)}".rstrip(),
        f"{'schedule':<{LANE_WIDTH}}{schedule_lane}",
        f"{'presence':<{LANE_WIDTH}}{presence_lane}".rstrip(),
        f"{'changes':<{LANE_WIDTH}}{marker_lane}".rstrip(),
        "",
        "schedule: "
        + _legend(schedule_used, CATEGORY_LETTERS, {ON_SHIFT: "on shift", OFF_SHIFT: "off shift", UNKNOWN: "unknown"}),
        "presence: "
        + _legend(presence_used, PRESENCE_LETTERS, {OFF_SHIFT: "not known", UNKNOWN: "other", LATER: "not yet"}),
    ]
    if markers_used:
        lines.append("changes:  " + ", ".join(f"{s} {m}" for s, m in MARKER_MEANINGS.items() if s in markers_used))
    note = SCHEDULE_NOTES.get(timeline["schedule"]["status"])
    if note:
        lines.append(note)
    for time_off in timeline["schedule"]["timeOff"]:
        lines.append(f"full-day time off: {time_off.get('name') or time_off.get('description') or 'time off'}")
    start = timeline.get("presenceAtStart")
    if start:
        basis = "seen by the day's first change" if start["basis"] == "first_change" else "from the last change before"
        at = timeline["dayStartLocal"][11:16]
        lines.append(f"presence at {at}: {_presence_name(start['presence'])} ({basis}, {start['changeId']})")
    lines.append("")
    if timeline["changes"]:
        header = ["time", "kind", "who", "from -> to", "outcome", "changeId"]
        with_offset = len(offsets) > 1  # a DST change: the same wall-clock time may come twice
        lines += _table([_change_row(c, with_offset) for c in timeline["changes"]], header)
    else:
        lines.append("no changes this day")
    if timeline.get("truncated"):
        lines.append("(only the newest changes of the day are shown)")
    return lines
