"""Fires EventBridge Scheduler one-time schedules (``at(...)``) locally: moto stores schedules but never runs them.

A daemon thread lists the schedules in moto every ``interval`` seconds; a due ``at()`` schedule whose target is a
Step Functions state machine starts an execution with the schedule's Input (as Scheduler's universal target does),
then is deleted when its ``ActionAfterCompletion`` is ``DELETE``. Every schedule group is read, so the revert
schedules (``<stack>-reverts``) and the planner's schedules (``<stack>-automation``: one bulk change per instant and
presence) both fire. Recurring ``cron()``/``rate()`` schedules are not fired locally: start the bulk state machine
with the same payload from ``events/`` instead, and run the planner (its ``rate(15 minutes)`` schedule) with
``presence-manager automation plan MU_ID`` or ``POST /management-units/{muId}/automation/plan``.

``paused()`` holds the runner (after the round in progress) for a test that must look at schedules before they fire."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

AT_FORMAT = "%Y-%m-%dT%H:%M:%S"


def due_at(expression: str, timezone_name: str | None) -> datetime | None:
    """The instant of an ``at(yyyy-mm-ddThh:mm:ss)`` expression (in its ScheduleExpressionTimezone)."""
    if not expression.startswith("at(") or not expression.endswith(")"):
        return None
    from zoneinfo import ZoneInfo

    local = datetime.strptime(expression[3:-1], AT_FORMAT)
    return local.replace(tzinfo=ZoneInfo(timezone_name or "UTC")).astimezone(UTC)


def _fires(when: datetime | None, now: datetime) -> bool:
    """An enabled one-time schedule that is due (``when`` is None for a recurring or disabled one: never locally)."""
    return when is not None and when <= now


class OneTimeScheduleRunner:
    def __init__(self, scheduler: Any, sfn: Any, *, interval: float = 1.0) -> None:
        self._scheduler = scheduler
        self._sfn = sfn
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="local-scheduler", daemon=True)
        self._round = threading.Lock()
        self._pauses = 0
        #: (group, name) -> (LastModificationDate, due instant or None): a schedule is read again only when it changed
        self._due: dict[tuple[str, str], tuple[Any, datetime | None]] = {}
        self.fired: list[dict[str, str]] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing fires inside (the round in progress, if any, finishes first)."""
        with self._round:
            self._pauses += 1
        try:
            yield
        finally:
            with self._round:
                self._pauses -= 1

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._round:
                if self._pauses:
                    continue
                try:
                    self.fire_due(datetime.now(UTC))
                except Exception:
                    continue

    def fire_due(self, now: datetime) -> list[dict[str, str]]:
        fired = []
        seen: dict[tuple[str, str], tuple[Any, datetime | None]] = {}
        for group in self._groups():
            for summary in self._scheduler.list_schedules(GroupName=group).get("Schedules", []):
                key, stamp = (group, summary["Name"]), summary.get("LastModificationDate")
                known = self._due.get(key)
                if known is not None and stamp is not None and known[0] == stamp and not _fires(known[1], now):
                    seen[key] = known  # read before, unchanged since and not due: no need to read it again
                    continue
                schedule = self._scheduler.get_schedule(Name=summary["Name"], GroupName=group)
                when = due_at(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"))
                seen[key] = (stamp, None if schedule.get("State") == "DISABLED" else when)
                if not _fires(seen[key][1], now):
                    continue
                target = schedule["Target"]
                if ":states:" in target["Arn"]:
                    # Scheduler names each execution itself (a UUID); moto would otherwise name it "None".
                    started = self._sfn.start_execution(
                        stateMachineArn=target["Arn"], name=str(uuid.uuid4()), input=target.get("Input", "{}")
                    )
                    fired.append({"schedule": schedule["Name"], "executionArn": started["executionArn"]})
                if schedule.get("ActionAfterCompletion") == "DELETE":
                    self._scheduler.delete_schedule(Name=schedule["Name"], GroupName=group)
                else:
                    self._scheduler.update_schedule(
                        Name=schedule["Name"],
                        GroupName=group,
                        ScheduleExpression=schedule["ScheduleExpression"],
                        FlexibleTimeWindow=schedule["FlexibleTimeWindow"],
                        Target=target,
                        State="DISABLED",
                    )
        self._due = seen
        self.fired.extend(fired)
        return fired

    def _groups(self) -> list[str]:
        groups = self._scheduler.list_schedule_groups().get("ScheduleGroups", [])
        return [group["Name"] for group in groups] or ["default"]
