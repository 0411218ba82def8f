"""Bulk requests expand into one valid change per agent; the CLI reads its arguments the documented way."""

from __future__ import annotations

import argparse

import pytest

from presence_manager.errors import InvalidRequest
from presence_manager.workflow.bulk import agent_change_id, expand, parse_bulk_request
from presence_manager_local.cli import _skill, build_parser, progress_bar

A = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
B = "7a2d2f2b-9e1f-4b54-8e5f-3c9b5d8f1b22"


class Units:
    def get_management_unit_users(self, management_unit_id: str) -> list:
        from presence_manager.genesys.models import EntityRef

        assert management_unit_id == "mu-1"
        return [EntityRef(id=A), EntityRef(id=B)]


def test_given_user_ids_then_each_agent_gets_its_own_deterministic_change() -> None:
    request = parse_bulk_request({"userIds": [A, B, A], "presence": "Away", "message": "m", "requestedBy": "me"})
    items = expand("blk-1", request, genesys=Units())  # type: ignore[arg-type]
    assert [i["request"]["userId"] for i in items] == [A, B], "duplicates collapse"
    assert items[0]["changeId"] == agent_change_id("blk-1", A) != agent_change_id("blk-2", A)
    assert items[0]["request"]["message"] == "m" and items[0]["request"]["requestedBy"] == "me"


def test_given_a_management_unit_then_its_agents_are_expanded() -> None:
    request = parse_bulk_request({"managementUnitId": "mu-1", "presence": "Offline"})
    assert [i["request"]["userId"] for i in expand("blk-1", request, genesys=Units())] == [A, B]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body",
    [
        {"presence": "Away"},
        {"userIds": [A], "managementUnitId": "mu-1", "presence": "Away"},
        {"userIds": [A, "nope"], "presence": "Away"},
        {"userIds": [A]},
        {"userIds": [], "presence": "Away"},
    ],
)
def test_given_a_bad_bulk_request_then_invalid_request(body: dict) -> None:
    with pytest.raises(InvalidRequest):
        parse_bulk_request(body)


def test_given_skill_arguments_then_they_become_overrides() -> None:
    assert _skill("s1") == {"skillId": "s1"}
    assert _skill("s1:4") == {"skillId": "s1", "proficiency": 4.0}
    assert _skill("s1::inactive") == {"skillId": "s1", "state": "inactive"}
    assert _skill("s1:5::60") == {"skillId": "s1", "proficiency": 5.0, "revertAfterMinutes": 60}
    with pytest.raises(argparse.ArgumentTypeError):
        _skill("s1:lots")


def test_given_the_bulk_command_then_exactly_one_population_is_required() -> None:
    parser = build_parser()
    args = parser.parse_args(["bulk", "--users", A, B, "--presence", "Away"])
    assert args.users == [A, B] and args.presence == "Away"
    with pytest.raises(SystemExit):
        parser.parse_args(["bulk", "--users", A, "--management-unit", "mu", "--presence", "Away"])
    with pytest.raises(SystemExit):
        parser.parse_args(["bulk", "--users", A])


def test_progress_bar_shows_done_of_total() -> None:
    assert progress_bar(0, 4, width=4) == "[....] 0/4"
    assert progress_bar(3, 4, width=4) == "[###.] 3/4"
    assert progress_bar(0, 0, width=2) == "[..] 0/0"
