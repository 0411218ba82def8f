"""Bulk requests expand into one valid change per agent; the CLI reads its arguments the documented way."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest

from presence_manager.errors import InvalidRequest
from presence_manager.workflow.bulk import agent_change_id, parse_bulk_request
from presence_manager_local.cli import _skill, build_parser, progress_bar

A = "6f1c1e1a-8d0e-4a43-9d4e-2b8a4c7f0a11"
B = "7a2d2f2b-9e1f-4b54-8e5f-3c9b5d8f1b22"
UNIT = "3479a481-ad5b-4f37-a971-68ea3dddedfa"
SKILL = "9ec711b7-04f6-4bef-8606-eb41d825f78a"
README = Path(__file__).resolve().parents[2] / "README.md"


def test_given_user_ids_then_each_agent_gets_its_own_deterministic_change() -> None:
    request = parse_bulk_request({"userIds": [A, B, A], "presence": "Away", "message": "m", "requestedBy": "me"})
    assert request.for_agent(A).user_id == A and request.for_agent(A).message == "m"
    assert agent_change_id("blk-1", A) == agent_change_id("blk-1", A) != agent_change_id("blk-2", A)
    assert agent_change_id("blk-1", A) != agent_change_id("blk-1", B)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"presence": "Away"}, None),
        ({"userIds": [A], "managementUnitId": UNIT, "presence": "Away"}, None),
        ({"userIds": [A, "nope"], "presence": "Away"}, "userIds.1"),
        ({"userIds": [A]}, None),
        ({"userIds": [], "presence": "Away"}, "userIds"),
        ({"userIds": A, "presence": "Away"}, "userIds"),
        ({"managementUnitId": "mu-1", "presence": "Away"}, "managementUnitId"),
        ({"managementUnitId": "../../users/x/presences/purecloud", "presence": "Away"}, "managementUnitId"),
        ({"userIds": [A], "presence": "Away", "force": "yes"}, "force"),
        ({"userIds": [A], "presence": "Away", "dryRun": 1}, "dryRun"),
        ({"userIds": [A], "presence": "Away\u202e"}, "presence"),
        ({"userIds": [A], "skillOverrides": [{"skillId": SKILL, "proficiency": "3"}]}, "skillOverrides.0.proficiency"),
        ({"userIds": [A], "skillOverrides": [{"skillId": "s1"}]}, "skillOverrides.0.skillId"),
    ],
)
def test_given_a_bad_bulk_request_then_invalid_request_naming_the_field(body: dict, field: str | None) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_bulk_request(body)
    assert refused.value.code == "invalid_request"
    if field is not None:
        assert field in {d["field"] for d in refused.value.details["details"]}


def test_given_a_bulk_request_then_each_agent_gets_the_same_strictly_typed_change() -> None:
    request = parse_bulk_request(
        {
            "userIds": [A.upper()],
            "presence": "Away",
            "force": True,
            "dryRun": False,
            "skillOverrides": [{"skillId": SKILL, "proficiency": 3, "revertAfterMinutes": 60}],
        }
    )
    change = request.for_agent(request.user_ids[0])  # type: ignore[index]
    assert change.user_id == A and change.force is True
    assert change.skill_overrides[0].proficiency == 3.0 and change.skill_overrides[0].revert_after_minutes == 60


def readme_cli_lines() -> list[list[str]]:
    """The command lines of the README's CLI section, exactly as documented (comments dropped)."""
    section = README.read_text().split("\n## CLI\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_every_command_line_the_readme_shows_parses_as_documented() -> None:
    lines = readme_cli_lines()
    assert len(lines) >= 8
    parser = build_parser()
    for line in lines:
        assert line[0] == "presence-manager"
        args = parser.parse_args(line[1:])
        assert args.command == line[1]
        assert args.json is ("--json" in line), line


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", A, "--json"],
        ["--json", "audit", A],
        ["--json", "audit", A, "--json"],
        ["bulk", "--users", A, B, "--presence", "Break", "--json"],
        ["metrics", A, "--json", "--api", "http://127.0.0.1:9"],
        ["--api", "http://127.0.0.1:9", "metrics", A, "--json"],
    ],
)
def test_given_global_options_before_or_after_the_command_then_they_apply(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PRESENCE_MANAGER_API", raising=False)
    args = build_parser().parse_args(argv)
    assert args.json is True
    assert args.api == ("http://127.0.0.1:9" if "--api" in argv else "http://127.0.0.1:3000")


def test_given_an_option_before_the_command_then_the_command_does_not_reset_it() -> None:
    args = build_parser().parse_args(["--api", "http://a:1", "--region", "eu-west-1", "--json", "presence", A])
    assert (args.api, args.region, args.json) == ("http://a:1", "eu-west-1", True)
    args = build_parser().parse_args(["--api", "http://a:1", "presence", A, "--api", "http://b:2"])
    assert args.api == "http://b:2", "the last one given wins, as everywhere in argparse"


def test_given_the_local_commands_then_api_options_are_not_theirs() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "--json"])


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
