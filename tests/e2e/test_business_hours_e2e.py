"""End to end: business hours from a Genesys Architect schedule group. The local stack names the simulator's group
of the default business unit (BusinessHoursScheduleGroupId), which every simulator reset builds around now; the
tests change the group's holiday schedules through the simulator's admin API and run changes through the API.

- a holiday on today's local date (in the group's zone) rejects Available with ``outside_business_hours``, the
  reason naming the holiday; Offline is still applied;
- a holiday that started before the zone's last DST change and ends 30 minutes after now (wall clock) still covers
  now, and one ending 30 minutes before now does not: occurrences are wall-clock times of the group's zone, so an
  end on the far side of a DST change is not off by the hour (measuring the occurrence in elapsed time from its
  start would end it an hour early after a fall-back, an hour late after a spring-forward: one of the two fails).

The DST arithmetic at the changes themselves (8 March / 1 November 2026 in New York, 29 March / 25 October 2026 in
London) is specified instant by instant in tests/unit/test_business_hours.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from presence_manager_local.scenarios import Api, Simulator
from presence_manager_local.simulator.architect import schedule_group_id

pytestmark = pytest.mark.e2e

GROUP_PATH = "/api/v2/architect/schedulegroups/{scheduleGroupId}"


@pytest.fixture(scope="module")
def sim(stack: Any) -> Iterator[Simulator]:
    simulator = Simulator(stack.sim_url)
    simulator.reset()
    stack._reset_caches()  # a warm Lambda's client caches the group for GENESYS_DEFINITIONS_CACHE_SECONDS
    yield simulator
    simulator.reset()
    stack._reset_caches()


@pytest.fixture(scope="module")
def group(stack: Any, sim: Simulator) -> dict[str, Any]:
    group_id = stack.template.parameters["BusinessHoursScheduleGroupId"]
    (found,) = [g for g in sim.state()["scheduleGroups"] if g["id"] == group_id]
    return found


@pytest.fixture(scope="module")
def agent(sim: Simulator) -> str:
    """An agent on shift doing off-queue work: Available fits the shift and the activity."""
    users = sim.state()["users"]
    return next(u["id"] for u in users if u["schedulePattern"] == "off_queue_work")


def set_holidays(stack: Any, group_id: str, *holidays: dict[str, str]) -> None:
    answer = httpx.post(
        f"{stack.sim_url}/__sim/schedulegroups/{group_id}", json={"holidaySchedules": list(holidays)}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    stack._reset_caches()  # as a new cold start would: read the group as it is now


def run(stack: Any, user_id: str, presence: str, *, dry_run: bool) -> dict[str, Any]:
    api = Api(stack.api_url)
    body = {"userId": user_id, "presence": presence, "reason": "business hours e2e", "dryRun": dry_run}
    started = api.post("/presence-changes", body)
    return api.wait_for_change(started["changeId"])


def violations(status: dict[str, Any]) -> list[dict[str, str]]:
    return list(((status.get("details") or {}).get("policy") or {}).get("violations", []))


def local_date_time(value: datetime) -> str:
    return f"{value:%Y-%m-%dT%H:%M:%S}.000"


def last_dst_change(zone: ZoneInfo, now: datetime) -> date:
    """The local date of the zone's last UTC-offset change before ``now`` (within a year)."""
    offset = now.astimezone(zone).utcoffset()
    for days in range(1, 367):
        earlier = now - timedelta(days=days)
        if earlier.astimezone(zone).utcoffset() != offset:
            return earlier.astimezone(zone).date()
    raise AssertionError(f"{zone.key} had no DST change in the last year")


def test_the_local_stack_takes_business_hours_from_the_simulators_schedule_group(
    stack: Any, sim: Simulator, group: dict[str, Any], agent: str
) -> None:
    assert group["id"] == schedule_group_id("America/New_York")
    assert group["timeZone"] == "America/New_York"
    log_start = len(sim.requests())
    status = run(stack, agent, "Available", dry_run=True)
    assert (status["status"], status["outcome"]) == ("SUCCEEDED", "dry_run"), violations(status)
    reads = [r for r in sim.requests()[log_start:] if r["route"] == GROUP_PATH]
    assert [(r["path"], r["status"]) for r in reads] == [(f"/api/v2/architect/schedulegroups/{group['id']}", 200)]


def test_a_holiday_on_todays_date_in_the_groups_zone_rejects_available_and_still_applies_offline(
    stack: Any, group: dict[str, Any], agent: str
) -> None:
    zone = ZoneInfo(group["timeZone"])
    today = datetime.now(UTC).astimezone(zone).date()
    # yearly since last year: the rule is expanded across the DST changes in between, on the group's wall clock
    years_back = 4 if (today.month, today.day) == (2, 29) else 1
    first = datetime.combine(today.replace(year=today.year - years_back), datetime.min.time())
    holiday = {
        "name": "Founders' Day",
        "start": local_date_time(first),
        "end": local_date_time(first + timedelta(days=1)),
        "rrule": "FREQ=YEARLY",
    }
    set_holidays(stack, group["id"], holiday)

    status = run(stack, agent, "Available", dry_run=False)
    assert (status["status"], status["outcome"]) == ("SUCCEEDED", "rejected")
    (violation,) = violations(status)
    assert violation["code"] == "outside_business_hours"
    assert f"in {group['timeZone']}; business hours follow schedule group '{group['name']}'" in violation["message"]
    assert (
        f"holiday schedule 'Founders' Day' ({today} 00:00 to {today + timedelta(days=1)} 00:00)"
        in (violation["message"])
    )

    offline = run(stack, agent, "Offline", dry_run=False)
    assert (offline["status"], offline["outcome"]) == ("SUCCEEDED", "applied"), violations(offline)
    (user,) = [u for u in Simulator(stack.sim_url).state()["users"] if u["id"] == agent]
    assert user["presence"]["systemPresence"] == "Offline"


def test_a_holiday_spanning_the_zones_last_dst_change_ends_at_its_wall_clock_end_in_the_groups_zone(
    stack: Any, group: dict[str, Any], agent: str
) -> None:
    zone = ZoneInfo(group["timeZone"])
    now = datetime.now(UTC)
    changed_on = last_dst_change(zone, now)
    start = datetime.combine(changed_on - timedelta(days=1), datetime.min.time())  # before the change
    wall_clock = now.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    assert start.replace(tzinfo=zone).utcoffset() != now.astimezone(zone).utcoffset(), "the span crosses a change"

    set_holidays(
        stack,
        group["id"],
        {
            "name": "Season closure",
            "start": local_date_time(start),
            "end": local_date_time(wall_clock + timedelta(minutes=30)),
        },
    )
    status = run(stack, agent, "Available", dry_run=True)
    assert status["outcome"] == "rejected", "ends 30 minutes from now on the group's clock: it still covers now"
    (violation,) = violations(status)
    assert violation["code"] == "outside_business_hours"
    assert "holiday schedule 'Season closure'" in violation["message"]

    set_holidays(
        stack,
        group["id"],
        {
            "name": "Season closure",
            "start": local_date_time(start),
            "end": local_date_time(wall_clock - timedelta(minutes=30)),
        },
    )
    status = run(stack, agent, "Available", dry_run=True)
    assert status["outcome"] == "dry_run", f"ended 30 minutes ago on the group's clock: {violations(status)}"
