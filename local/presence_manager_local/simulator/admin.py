"""The admin views of the org (``GET /__sim/state``, ``GET /__sim/users/{userId}``): our own JSON, not Genesys's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from presence_manager_local.simulator.common import iso_ms
from presence_manager_local.simulator.org import OrgBase, UserState


class AdminViewsMixin(OrgBase):
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
            return list(self.by_pattern.get(pattern, ()))

    def org_views(self, now: datetime, include_users: bool) -> dict[str, Any]:
        """The org part of ``GET /__sim/state`` (call with :attr:`lock` held). Without users (``?users=false``) the
        per-user snapshots are left out, which keeps the state of a 10,000-agent org small and quick."""
        views: dict[str, Any] = {}
        if include_users:
            views["users"] = [self._user_snapshot(u, now) for u in self.users.values()]
        views["patterns"] = {
            name: {
                "description": pattern.description,
                "onShiftNow": pattern.on_shift_now,
                "activityNow": pattern.activity_now,
                "userIds": list(self.by_pattern.get(name, ())),
            }
            for name, pattern in self.fixture.schedule_patterns.items()
        }
        views["presenceDefinitions"] = [
            {**self._definition_json(d), "label": d.label} for d in self.definitions.values()
        ]
        views["skills"] = [{"id": s.id, "name": s.name} for s in self.skills.values()]
        views["businessUnits"] = [
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
        ]
        views["managementUnits"] = [
            {
                "id": mu.id,
                "name": mu.name,
                "businessUnitId": unit.id,
                "userIds": [u.id for u in self.members[mu.id]],
            }
            for mu, unit in self.management_units.values()
        ]
        return views
