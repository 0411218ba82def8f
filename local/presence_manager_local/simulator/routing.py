"""Routing status and a user's routing skills."""

from __future__ import annotations

from typing import Any

from presence_manager_local.simulator.common import (
    ROUTING_STATUSES,
    check_fields,
    check_object,
    optional_field,
    page_listing,
)
from presence_manager_local.simulator.errors import bad_request, not_found
from presence_manager_local.simulator.org import OrgBase, SkillAssignment, UserState

SKILL_STATES = ("active", "inactive", "deleted")
USER_ROUTING_SKILL_POST_FIELDS = frozenset({"id", "proficiency", "skillUri", "selfUri"})
USER_ROUTING_SKILL_FIELDS = frozenset({"id", "name", "proficiency", "state", "skillUri", "selfUri"})


class RoutingMixin(OrgBase):
    # ---- routing status -----------------------------------------------------------------------------------------

    def get_routing_status(self, user_id: str) -> dict[str, Any]:
        """``GET /api/v2/users/{userId}/routingstatus``: ``OFF_QUEUE`` (no start time) for an unknown user, as
        Genesys answers."""
        with self.lock:
            user = self.users.get(user_id)
            if user is None:
                return {"userId": user_id, "status": "OFF_QUEUE"}
            return self._routing_status_json(user)

    def set_routing_status(self, user_id: str, status: str) -> dict[str, Any]:
        if status not in ROUTING_STATUSES:
            raise bad_request(f"status must be one of {', '.join(ROUTING_STATUSES)}", field="status")
        with self.lock:
            user = self._user(user_id)
            user.routing_status, user.routing_start = status, self._stamp(None)
            self._emit_routing_status(user)
            return self.get_routing_status(user_id)

    # ---- skills -------------------------------------------------------------------------------------------------

    def _skill_json(self, user: UserState, assignment: SkillAssignment) -> dict[str, Any]:
        return {
            "id": assignment.skill_id,
            "name": self.skills[assignment.skill_id].name,
            "proficiency": assignment.proficiency,
            "state": assignment.state,
            "skillUri": f"/api/v2/routing/skills/{assignment.skill_id}",
            "selfUri": f"/api/v2/users/{user.id}/routingskills/{assignment.skill_id}",
        }

    def list_skills(self, user_id: str, page_size: int = 25, page_number: int = 1) -> dict[str, Any]:
        if page_size < 1 or page_number < 1:
            raise bad_request("pageSize and pageNumber must be positive", field="pageSize")
        with self.lock:
            user = self._user(user_id)
            skills = self._sorted_skills(user)
            page = skills[(page_number - 1) * page_size : page_number * page_size]
            return page_listing(
                [self._skill_json(user, a) for a in page],
                len(skills),
                page_size,
                page_number,
                f"/api/v2/users/{user.id}/routingskills",
            )

    def patch_skills_bulk(self, user_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, list):
            raise bad_request("The body must be a list of UserRoutingSkillPost", field="body")
        with self.lock:
            user = self._user(user_id)
            updates: list[tuple[str, float]] = []
            for index, item in enumerate(body):
                where = f"body[{index}]"
                item = check_object(item, where)
                check_fields(item, USER_ROUTING_SKILL_POST_FIELDS, where)
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
            body = check_object(body, "body")
            check_fields(body, USER_ROUTING_SKILL_FIELDS, "body")
            proficiency = optional_field(body, "proficiency", (int, float), "body")
            if proficiency is not None and not 0 <= proficiency <= 5:
                raise bad_request(f"Proficiency must be between 0 and 5, got {proficiency}", field="proficiency")
            state = optional_field(body, "state", str, "body")
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
