"""End to end: the fault matrix (presence_manager_local.fault_matrix), one test id per row.

Each row runs a change under one fault on the local stack and asserts the outcome, exactly one audit record, which
writes reached the simulator and the agent's live presence afterwards. The rows selected for this session run once,
together (independent rows side by side on distinct agents); each test then reads its row's result."""

from __future__ import annotations

from typing import Any

import pytest

from presence_manager_local.fault_matrix import CASES, ROLES, CaseResult, markdown_cases, plan, run_matrix

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def matrix(stack: Any, request: pytest.FixtureRequest) -> dict[str, CaseResult]:
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec") and "name" in item.callspec.params
    }
    cases = [case for case in CASES if case.name in selected]
    return {result.case.name: result for result in run_matrix(stack, cases)}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_fault_matrix(matrix: dict[str, CaseResult], name: str) -> None:
    result = matrix[name]
    assert result.ok, result.explain()


def test_the_matrix_has_at_least_40_distinct_cases_each_saying_what_it_proves() -> None:
    names = [case.name for case in CASES]
    assert len(names) >= 40
    assert len(set(names)) == len(names)
    assert all(case.proves and case.agent in ROLES for case in CASES)
    assert markdown_cases().count("\n") == len(CASES) + 1


def test_the_plan_gives_every_case_its_own_agent_within_a_group_and_runs_unscoped_faults_alone() -> None:
    from presence_manager_local.simulator.state import SimulatorState

    users = SimulatorState(None).snapshot()["users"]
    groups = plan(CASES, users)
    assert sorted(slot.case.name for group in groups for slot in group) == sorted(case.name for case in CASES)
    for group in groups:
        agents = [slot.agent["id"] for slot in group] + [slot.other["id"] for slot in group if slot.other]
        assert len(agents) == len(set(agents))
        assert all(ROLES[slot.case.agent](slot.agent) for slot in group)
        if any(slot.case.solo for slot in group):
            assert len(group) == 1
