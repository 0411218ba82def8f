"""``presence-manager timeline``: the API's JSON drawn as text (presence_manager_local/timeline_view.py, pure), one
column per 15 minutes of the local day with hour labels, the schedule and presence lanes, change markers, legends and
the list of changes; and the command passing its options to the API (``--json`` prints the API's JSON)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from presence_manager.genesys.models import (
    BuAgentScheduleActivity,
    BuAgentScheduleSearchResponse,
    BuAgentScheduleShift,
    BuAgentSchedulesSearchResponse,
    BusinessUnitActivityCode,
    EntityRef,
)
from presence_manager.timeline import ScheduleFound, build_timeline
from presence_manager_local import cli
from presence_manager_local.timeline_view import LANE_WIDTH, render_timeline
from tests.unit.test_timeline import CODES, DAY, FALL_BACK, USER, at, fall_back_shifts, presence, record

DAY_24 = date(2026, 11, 24)  # EST all day: 00:00 local = 05:00Z
CODES_24 = [*CODES, BusinessUnitActivityCode(id="code-meal", name="Lunch", category="Meal")]


def found(shifts: list[BuAgentScheduleShift], codes: list[BusinessUnitActivityCode] = CODES_24) -> ScheduleFound:
    response = BuAgentSchedulesSearchResponse(
        agent_schedules=[BuAgentScheduleSearchResponse(user=EntityRef(id=USER), shifts=shifts)]
    )
    return ScheduleFound("known", "mu-1", "bu-1", response, tuple(codes))


def work_day() -> list[BuAgentScheduleShift]:
    """09:00-17:00 EST: on-queue work, a break at 11:00, lunch at 13:00."""

    def activity(start: str, minutes: int, code: str) -> BuAgentScheduleActivity:
        return BuAgentScheduleActivity(start_date=at(start), length_minutes=minutes, activity_code_id=code)

    return [
        BuAgentScheduleShift(
            id="s-1",
            start_date=at("2026-11-24T14:00:00Z"),
            length_minutes=480,
            activities=[
                activity("2026-11-24T14:00:00Z", 120, "code-work"),
                activity("2026-11-24T16:00:00Z", 15, "code-break"),
                activity("2026-11-24T16:15:00Z", 105, "code-work"),
                activity("2026-11-24T18:00:00Z", 30, "code-meal"),
                activity("2026-11-24T18:30:00Z", 210, "code-work"),
            ],
        )
    ]


ON_QUEUE = record(
    "chg-on-queue",
    "2026-11-24T14:00:08.000Z",
    new=presence("OnQueue", "2026-11-24T14:00:10.000Z"),
    previous=presence("Offline", "2026-11-23T22:10:00.000Z"),
    requested="OnQueue",
)
AWAY = record(
    "ext-away",
    "2026-11-24T16:20:00.000Z",
    source="external",
    outcome="observed",
    requested_by="genesys:PURECLOUD",
    new=presence("Away", "2026-11-24T16:20:00.000Z"),
    previous=presence("OnQueue", "2026-11-24T14:00:10.000Z"),
)
REFUSED = record(
    "chg-refused",
    "2026-11-24T17:00:00.000Z",
    outcome="rejected",
    previous=presence("Away", "2026-11-24T16:20:00.000Z"),
    requested="Available",
)


def timeline_json(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "user_id": USER,
        "day": DAY_24,
        "zone_name": "America/New_York",
        "zone_source": "businessUnit",
        "found": found(work_day()),
        "records": [REFUSED, AWAY, ON_QUEUE],
        "before_day": [],
        "now": at("2026-11-24T20:00:00Z"),  # 15:00 EST
    }
    return build_timeline(**{**arguments, **overrides}).to_json()


def lane(lines: list[str], name: str) -> str:
    (line,) = [line for line in lines if line.startswith(name.ljust(LANE_WIDTH))]
    return line[LANE_WIDTH:]


def column(local_hhmm: str) -> int:
    hours, minutes = local_hhmm.split(":")
    return (int(hours) * 60 + int(minutes)) // 15


def test_given_a_day_then_96_columns_under_hour_labels_with_the_schedule_and_the_presence_in_their_lanes() -> None:
    lines = render_timeline(timeline_json())
    assert lines[0].startswith(f"agent {USER} on 2026-11-24 (America/New_York, UTC-05:00, 24 h")
    assert lines[1] == " " * LANE_WIDTH + "".join(f"{hour:02d}  " for hour in range(24)).rstrip()

    schedule = lane(lines, "schedule")
    assert len(schedule) == 96
    assert schedule[: column("09:00")] == "." * 36
    assert schedule[column("09:00") : column("11:00")] == "Q" * 8
    assert schedule[column("11:00")] == "B"
    assert schedule[column("13:00") : column("13:30")] == "MM"
    assert schedule[column("16:45")] == "Q" and schedule[column("17:00") :] == "." * 28

    presence_lane = lane(lines, "presence")
    assert presence_lane[: column("09:00")] == "O" * 36, "the presence at 00:00: seen by the first change"
    assert presence_lane[column("09:00") : column("11:15")] == "Q" * 9
    assert presence_lane[column("11:30") : column("15:00")] == "W" * 14
    assert len(presence_lane) == column("15:00"), "nothing drawn after now"

    markers = lane(lines, "changes")
    assert markers[column("09:00")] == "*" and markers[column("11:15")] == "!" and markers[column("12:00")] == "-"
    assert markers.count("*") + markers.count("!") + markers.count("-") == 3


def test_the_column_of_now_shows_the_presence_now() -> None:
    presence_lane = lane(render_timeline(timeline_json(now=at("2026-11-24T20:05:00Z"))), "presence")  # 15:05 EST
    assert len(presence_lane) == column("15:00") + 1 and presence_lane[-1] == "W"


def test_the_legends_name_the_letters_drawn_and_the_list_shows_each_change() -> None:
    lines = render_timeline(timeline_json())
    (schedule_legend,) = [line for line in lines if line.startswith("schedule: ")]
    assert schedule_legend == "schedule: B Break, M Meal, Q OnQueueWork, . off shift"
    (presence_legend,) = [line for line in lines if line.startswith("presence: ")]
    assert "O Offline" in presence_legend and "Q OnQueue" in presence_legend and "W Away" in presence_legend
    assert "B Break" not in presence_legend, "only the letters drawn"
    assert "presence at 00:00: Offline (seen by the day's first change, chg-on-queue)" in lines

    header = lines.index(next(line for line in lines if line.startswith("time ")))
    alice = "arn:aws:iam::123456789012:user/alice"
    rows = [line.split() for line in lines[header + 1 :]]
    assert rows == [
        ["09:00:10", "ours", alice, "Offline", "->", "OnQueue", "applied", "chg-on-queue"],
        ["11:20:00", "outside", "genesys:PURECLOUD", "OnQueue", "->", "Away", "observed", "ext-away"],
        ["12:00:00", "ours", alice, "Away", "->", "(asked", "Available)", "rejected", "chg-refused"],
    ]


def test_given_ours_and_an_outside_change_in_one_quarter_hour_then_one_marker_says_both() -> None:
    moment_later = record(
        "ext-soon",
        "2026-11-24T14:05:00.000Z",
        source="external",
        outcome="observed",
        new=presence("Available", "2026-11-24T14:05:00.000Z"),
    )
    markers = lane(render_timeline(timeline_json(records=[ON_QUEUE, moment_later])), "changes")
    assert markers.strip() == "+" and markers.index("+") == column("09:00")


def test_given_the_fall_back_day_then_100_columns_the_hour_01_twice_and_times_with_their_offset() -> None:
    body = build_timeline(
        user_id=USER,
        day=FALL_BACK,
        zone_name="America/New_York",
        zone_source="businessUnit",
        found=found(fall_back_shifts(), CODES),
        records=DAY,
        before_day=[],
        now=at("2026-11-02T12:00:00Z"),
    ).to_json()
    lines = render_timeline(body)
    assert "UTC-04:00/-05:00, 25 h" in lines[0]
    labels = lines[1][LANE_WIDTH:].split()
    assert labels[:4] == ["00", "01", "01", "02"] and labels[-1] == "23" and len(labels) == 25
    assert len(lane(lines, "schedule")) == len(lane(lines, "presence")) == 100
    assert any(line.startswith("01:30:00-04:00  outside") for line in lines)
    assert any(line.startswith("01:30:00-05:00  outside") for line in lines)


def test_given_a_schedule_genesys_could_not_tell_then_its_lane_says_unknown() -> None:
    body = timeline_json(found=ScheduleFound("unknown", "mu-1", "bu-1"), records=[])
    lines = render_timeline(body)
    assert lane(lines, "schedule") == "?" * 96
    assert "schedule unknown: Genesys answered the search Processing" in lines
    assert lines[-1] == "no changes this day"


class FakeApi:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str, dict[str, Any]]] = []

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        self.asked.append((method, path, kwargs))
        return self.answer


@pytest.mark.parametrize(
    "argv",
    [
        ["timeline", USER, "--date", "2026-11-24", "--json"],
        ["--json", "timeline", USER, "--date", "2026-11-24"],
    ],
)
def test_given_json_before_or_after_the_command_then_the_apis_json_is_printed(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = timeline_json()
    api = FakeApi(body)
    monkeypatch.setattr(cli, "ApiClient", lambda *_, **__: api)
    assert cli.main(argv) == cli.EXIT_OK
    assert api.asked == [("GET", f"/agents/{USER}/timeline", {"params": {"date": "2026-11-24"}})]
    assert json.loads(capsys.readouterr().out) == body


def test_given_no_json_then_the_day_is_drawn(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    body = timeline_json()
    api = FakeApi(body)
    monkeypatch.setattr(cli, "ApiClient", lambda *_, **__: api)
    assert cli.main(["timeline", USER, "--time-zone", "America/New_York"]) == cli.EXIT_OK
    assert api.asked == [("GET", f"/agents/{USER}/timeline", {"params": {"timeZone": "America/New_York"}})]
    assert capsys.readouterr().out.splitlines() == render_timeline(body)
