"""Workforce management: units, activity codes, schedule searches (Genesys's asynchronous protocol), real-time
adherence and the download service.

Schedule searches follow Genesys: ``POST …/agentschedules/search`` answers ``Complete`` with ``result`` inline (up to
``scheduleInlineMaxUsers`` agents) or with a ``downloadUrl``, or ``Processing`` with an ``operationId`` whose result
Genesys delivers only through the notification topic ``v2.workforcemanagement.users.{id}.schedules.search`` — there
is no GET by operation id, and a second POST is a *new* search that never completes an earlier one. The simulator
answers ``Processing`` for ``forceAsync=true`` (that request only) and for a ``schedule_processing`` fault; a search
a fault made ``Processing`` stays so — re-POSTing the same search (same management unit, ``startDate``, ``endDate``
and set of ``userIds``) answers ``Processing`` again with a new ``operationId`` until ``POST /__sim/reset`` or
``DELETE /__sim/faults``, since what made Genesys process it asynchronously has not gone away. Processing searches
are recorded (:attr:`WfmMixin.async_searches`) for the notification topic, which the simulator does not publish yet.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, StrictInt, StrictStr, model_validator

from presence_manager_local.simulator.common import (
    check_fields,
    check_object,
    dedupe,
    iso_ms,
    parse_instant,
    user_ref,
)
from presence_manager_local.simulator.errors import bad_request, not_found
from presence_manager_local.simulator.fixture import (
    Activity,
    ActivityCategory,
    ActivityCodeSpec,
    AgentSchedule,
    BusinessUnitSpec,
    FixtureModel,
    Shift,
    floor_instant,
    with_activity,
)
from presence_manager_local.simulator.org import OrgBase, UserState

SCHEDULE_SEARCH_FIELDS = frozenset({"startDate", "endDate", "userIds"})
BUSINESS_UNIT_SETTINGS_EXPANDS = {"settings.startDayOfWeek": "startDayOfWeek", "settings.timeZone": "timeZone"}
#: ``WorkforceManagementApi.get_workforcemanagement_adherence``: "Min 1, Max of 100 userIds per request".
ADHERENCE_MAX_USERS = 100
#: downloads kept for ``GET /__sim/downloads/{id}`` (oldest dropped first, as Genesys's links expire)
MAX_DOWNLOADS = 1000
#: the activity a presence counts as, for ``actualActivityCategory``
ACTUAL_CATEGORY = {
    "OnQueue": "OnQueueWork",
    "Break": "Break",
    "Meal": "Meal",
    "Meeting": "Meeting",
    "Training": "Training",
    "Available": "OffQueueWork",
    "Busy": "OffQueueWork",
    "Away": "Unavailable",
    "Idle": "Unavailable",
    "Offline": "Unscheduled",
}
ON_QUEUE_IN_ADHERENCE = frozenset({"IDLE", "INTERACTING", "COMMUNICATING"})

SearchKey = tuple[str, datetime, datetime, frozenset[str] | None]


class ActivityRequest(FixtureModel):
    """``POST /__sim/managementunits/{muId}/activities``: put a scheduled activity on agents of the unit, starting at
    the whole minute ``startsInMinutes`` from now (WFM schedules are in whole minutes), e.g. a Break in 2 minutes.
    The activity code is ``activityCodeId``, else the business unit's default code of ``category``. ``userIds``: these
    agents (each must be on shift across the activity, else 400 and nothing changes); without: every agent of the
    unit on shift across it (the others are answered as ``skipped``)."""

    category: ActivityCategory | None = None
    activity_code_id: StrictStr | None = None
    starts_in_minutes: StrictInt = Field(ge=-1440, le=2880)
    length_minutes: StrictInt = Field(gt=0, le=1440)
    description: StrictStr | None = Field(default=None, max_length=200)
    user_ids: list[StrictStr] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _names_a_code(self) -> ActivityRequest:
        if self.category is None and self.activity_code_id is None:
            raise ValueError("category or activityCodeId is required")
        return self


@dataclass(frozen=True, slots=True)
class AsyncSearch:
    """A schedule search answered ``Processing``: its result would go to the notification topic only."""

    operation_id: str
    management_unit_id: str
    start: datetime
    end: datetime
    user_ids: tuple[str, ...] | None
    started: datetime
    reason: str  # "forceAsync" | "fault" | "sticky"

    def to_json(self) -> dict[str, Any]:
        return {
            "operationId": self.operation_id,
            "managementUnitId": self.management_unit_id,
            "startDate": iso_ms(self.start),
            "endDate": iso_ms(self.end),
            "userIds": list(self.user_ids) if self.user_ids is not None else None,
            "started": iso_ms(self.started),
            "reason": self.reason,
            "topics": (
                [f"v2.workforcemanagement.users.{u}.schedules.search" for u in self.user_ids]
                if self.user_ids is not None
                else []
            ),
        }


class WfmMixin(OrgBase):
    downloads: OrderedDict[str, Any]
    async_searches: dict[str, AsyncSearch]
    #: searches a fault made ``Processing``: re-POSTs of the same search answer ``Processing`` again
    processing_searches: set[SearchKey]
    schedule_inline_max_users: int
    activity_codes_inline_max: int | None

    def reset_wfm(self) -> None:
        """Forget downloads and asynchronous searches (call with :attr:`lock` held)."""
        self.downloads = OrderedDict()
        self.async_searches = {}
        self.processing_searches = set()

    def forget_processing_searches(self) -> None:
        with self.lock:
            self.processing_searches.clear()

    # ---- units --------------------------------------------------------------------------------------------------

    def agent_management_unit(self, agent_id: str) -> dict[str, Any]:
        with self.lock:
            user = self.users.get(agent_id)
            if user is None or user.management_unit_id is None or user.business_unit_id is None:
                raise not_found(f"No management unit found for agent {agent_id}", entity_id=agent_id)
            return {
                "user": user_ref(user.id),
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

    def list_management_units(self, division_ids: list[str] | None = None) -> dict[str, Any]:
        """``ManagementUnitListing``: every management unit of the org (business unit by business unit, in the
        fixture's order), each with its ``businessUnit`` and ``division``. Every unit is in the org's home division,
        so ``divisionId`` naming another division lists none. The SDK's other parameters (``pageSize``,
        ``pageNumber``, ``expand``: deprecated, "paging is not supported"; ``feature``: the caller's permissions,
        which the simulator's client has all of) change nothing."""
        with self.lock:
            division = self.fixture.organization.home_division_id
            if division_ids and division not in division_ids:
                return {"entities": []}
            entities = [
                {
                    "id": mu.id,
                    "name": mu.name,
                    "businessUnit": {
                        "id": unit.id,
                        "selfUri": f"/api/v2/workforcemanagement/businessunits/{unit.id}",
                    },
                    "division": {"id": division, "selfUri": f"/api/v2/authorization/divisions/{division}"},
                    "selfUri": f"/api/v2/workforcemanagement/managementunits/{mu.id}",
                }
                for mu, unit in self.management_units.values()
            ]
            return {"entities": entities}

    def management_unit_users(self, management_unit_id: str) -> dict[str, Any]:
        with self.lock:
            users = self._management_unit_users(management_unit_id)
            return {"entities": [user_ref(u.id) for u in users]}

    # ---- activity codes -----------------------------------------------------------------------------------------

    @staticmethod
    def _activity_code_json(unit: BusinessUnitSpec, code: ActivityCodeSpec) -> dict[str, Any]:
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
        return item

    def activity_codes(
        self, business_unit_id: str, *, base_url: str = "", force_download: bool = False
    ) -> dict[str, Any]:
        """``BusinessUnitActivityCodeListing``: ``entities`` inline, or — above ``activityCodesInlineMax`` codes or
        with ``forceDownloadService`` — empty ``entities`` and a ``downloadUrl`` serving ``{"entities": [...]}``."""
        with self.lock:
            unit = self._business_unit(business_unit_id)
            entities = [self._activity_code_json(unit, code) for code in unit.activity_codes]
            limit = self.activity_codes_inline_max
            if force_download or (limit is not None and len(entities) > limit):
                return {"entities": [], "downloadUrl": self._store_download({"entities": entities}, base_url)}
            return {"entities": entities}

    # ---- schedule search ----------------------------------------------------------------------------------------

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

    def _agent_schedule_json(
        self, user: UserState, unit: BusinessUnitSpec, start: datetime, end: datetime
    ) -> dict[str, Any]:
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
        return {
            "user": user_ref(user.id),
            "shifts": [self._shift_json(s) for s in schedule.shifts if s.intersects(start, end)],
            "fullDayTimeOffMarkers": markers,
        }

    def search_schedules(
        self,
        management_unit_id: str,
        body: Any,
        *,
        base_url: str,
        force_async: bool = False,
        force_download: bool = False,
        processing_fault: Callable[[frozenset[str]], bool] | None = None,
    ) -> dict[str, Any]:
        """``BuAsyncAgentSchedulesSearchResponse`` (see the module docstring): ``Processing`` for ``force_async``, for
        a search already made ``Processing`` by a fault, or when ``processing_fault(userIds)`` (the server's fault
        check, asked only when the search is not already ``Processing``) says so; else ``Complete`` with ``result``
        inline, or with a ``downloadUrl`` above ``schedule_inline_max_users`` agents or with ``force_download``."""
        body = check_object(body, "body")
        check_fields(body, SCHEDULE_SEARCH_FIELDS, "body")
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
            key: SearchKey = (management_unit_id, start, end, frozenset(user_ids) if user_ids is not None else None)
            reason = None
            if force_async:
                reason = "forceAsync"
            elif key in self.processing_searches:
                reason = "sticky"
            elif processing_fault is not None and processing_fault(frozenset(user_ids or ())):
                reason = "fault"
                self.processing_searches.add(key)
            operation_id = str(uuid.uuid4())
            if reason is not None:
                self.async_searches[operation_id] = AsyncSearch(
                    operation_id,
                    management_unit_id,
                    start,
                    end,
                    tuple(dedupe(user_ids)) if user_ids is not None else None,
                    self.now(),
                    reason,
                )
                return {"status": "Processing", "operationId": operation_id, "progress": 0}
            if user_ids is None:
                selected = members
            else:
                found = [
                    self.users[i]
                    for i in dedupe(user_ids)
                    if i in self.users and self.users[i].management_unit_id == management_unit_id
                ]
                selected = sorted(found, key=lambda u: self.member_rank[u.id])
            schedules = [self._agent_schedule_json(user, unit, start, end) for user in selected]
            result = {"agentSchedules": schedules, "businessUnitTimeZone": unit.time_zone}
            if force_download or len(schedules) > self.schedule_inline_max_users:
                return {
                    "status": "Complete",
                    "operationId": operation_id,
                    "downloadUrl": self._store_download(result, base_url),
                }
            return {"status": "Complete", "result": result}

    # ---- changing schedules (admin) -----------------------------------------------------------------------------

    def add_activity(self, management_unit_id: str, body: Any) -> dict[str, Any]:
        """Lay a scheduled activity into agents' shifts (:class:`ActivityRequest`); what schedule searches and
        adherence answer from then on (until the next reset, which rebuilds every schedule from its pattern)."""
        request = ActivityRequest.model_validate(body if body is not None else {})
        with self.lock:
            members = self._management_unit_users(management_unit_id)
            _, unit = self.management_units[management_unit_id]
            code = unit.code(request.activity_code_id) if request.activity_code_id else None
            if code is None:
                assert request.category is not None
                code = unit.default_code(request.category)
            elif request.category is not None and code.category != request.category:
                raise ValueError(f"activity code {code.id} is of category {code.category}, not {request.category}")
            start = floor_instant(self.now(), timedelta(minutes=1)) + timedelta(minutes=request.starts_in_minutes)
            activity = Activity(
                start=start,
                length_minutes=request.length_minutes,
                activity_code_id=code.id,
                category=code.category,
                description=request.description if request.description is not None else code.name,
                paid=code.counts_as_paid_time,
            )
            if request.user_ids is None:
                chosen, strict = members, False
            else:
                by_id = {u.id: u for u in members}
                strangers = [i for i in dedupe(request.user_ids) if i not in by_id]
                if strangers:
                    raise ValueError(f"not agents of management unit {management_unit_id}: {strangers}")
                chosen, strict = [by_id[i] for i in dedupe(request.user_ids)], True
            changed: dict[str, AgentSchedule] = {}
            skipped: list[dict[str, str]] = []
            for user in chosen:
                try:
                    changed[user.id] = with_activity(user.schedule or AgentSchedule(zone=unit.zone), activity)
                except ValueError as exc:
                    skipped.append({"userId": user.id, "reason": str(exc)})
            if strict and skipped:
                raise ValueError(f"not on shift across the activity (nothing changed): {skipped}")
            for user in chosen:
                if user.id in changed:
                    user.schedule = changed[user.id]
            return {
                "managementUnitId": management_unit_id,
                "activity": {
                    "startDate": iso_ms(activity.start),
                    "endDate": iso_ms(activity.end),
                    "lengthMinutes": activity.length_minutes,
                    "activityCodeId": code.id,
                    "category": code.category,
                    "name": code.name,
                    "description": activity.description,
                    "secondaryPresences": list(code.secondary_presences),
                },
                "userIds": list(changed),
                "skipped": skipped,
            }

    # ---- real-time adherence ------------------------------------------------------------------------------------

    def _adherence_json(self, user: UserState, now: datetime) -> dict[str, Any]:
        assert user.business_unit_id is not None and user.management_unit_id is not None
        codes = self.activity_code_index[user.business_unit_id]
        schedule = user.schedule or AgentSchedule()
        definition = self.definitions[user.definition_id]
        system = definition.system_presence
        time_off = schedule.time_off_at(now)
        activity = schedule.activity_at(now) if time_off is None else None
        code: ActivityCodeSpec | None = None
        if time_off is not None:
            scheduled, code = "TimeOff", codes.get(time_off.activity_code_id)
        elif activity is not None:
            scheduled, code = activity.category, codes.get(activity.activity_code_id)
        else:
            scheduled = "Unscheduled"
        if scheduled in ("Unscheduled", "TimeOff"):
            in_adherence = system == "Offline"
        elif scheduled == "OnQueueWork":
            in_adherence = system == "OnQueue" and user.routing_status in ON_QUEUE_IN_ADHERENCE
        else:
            in_adherence = code is not None and definition.id in code.secondary_presences
        actual = ACTUAL_CATEGORY.get(system, "Unscheduled")
        if in_adherence:
            state, impact = "InAdherence", "Neutral"
        else:
            state = "OutOfAdherence"
            impact = "Positive" if actual == "OnQueueWork" and scheduled != "OnQueueWork" else "Negative"
        body: dict[str, Any] = {
            "id": user.id,
            "name": user.name,
            "user": user_ref(user.id),
            "businessUnit": {
                "id": user.business_unit_id,
                "selfUri": f"/api/v2/workforcemanagement/businessunits/{user.business_unit_id}",
            },
            "managementUnit": {
                "id": user.management_unit_id,
                "selfUri": f"/api/v2/workforcemanagement/managementunits/{user.management_unit_id}",
            },
            "scheduledActivityCategory": scheduled,
        }
        if code is not None:
            body["scheduledActivityCode"] = {
                "id": code.id,
                "name": code.name,
                "secondaryPresences": [
                    {"id": p, "selfUri": f"/api/v2/presence/definitions/{p}"} for p in code.secondary_presences
                ],
                "selfUri": f"/api/v2/workforcemanagement/businessunits/{user.business_unit_id}/activitycodes/{code.id}",
            }
        body.update(
            {
                "systemPresence": system,
                "organizationSecondaryPresenceId": definition.id,
                "routingStatus": user.routing_status,
                "actualActivityCategory": actual,
                "isOutOfOffice": False,
                "adherenceState": state,
                "impact": impact,
                "timeOfAdherenceChange": iso_ms(user.modified_date),
                "presenceUpdateTime": iso_ms(user.modified_date),
                "removedFromManagementUnit": False,
            }
        )
        return body

    def adherence(self, user_ids: list[str]) -> list[dict[str, Any]]:
        """``GET /api/v2/workforcemanagement/adherence?userId=…`` → ``list[UserScheduleAdherence]``: 1 to
        :data:`ADHERENCE_MAX_USERS` ids (an ``ErrorBody`` 400 otherwise); users unknown or in no management unit are
        left out. Synchronous, with routing status, system presence and the scheduled activity now."""
        if not user_ids:
            raise bad_request("At least one userId is required", field="userId")
        if len(user_ids) > ADHERENCE_MAX_USERS:
            raise bad_request(
                f"A maximum of {ADHERENCE_MAX_USERS} userIds may be requested, got {len(user_ids)}", field="userId"
            )
        with self.lock:
            now = self.now()
            answer = []
            for user_id in dedupe(user_ids):
                user = self.users.get(user_id)
                if user is not None and user.management_unit_id is not None:
                    answer.append(self._adherence_json(user, now))
            return answer

    # ---- the download service -----------------------------------------------------------------------------------

    def _store_download(self, content: Any, base_url: str) -> str:
        key = str(uuid.uuid4())
        self.downloads[key] = content
        while len(self.downloads) > MAX_DOWNLOADS:
            self.downloads.popitem(last=False)
        return f"{base_url.rstrip('/')}/__sim/downloads/{key}"

    def download(self, key: str) -> Any:
        with self.lock:
            if key not in self.downloads:
                raise not_found(f"Download {key} not found or expired", entity_id=key)
            return self.downloads[key]
