"""Unit tests never read the configuration of a local stack that may run in the same process."""

from __future__ import annotations

import pytest

from presence_manager.config import AppSettings


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for field in AppSettings.model_fields.values():
        if isinstance(field.validation_alias, str):
            monkeypatch.delenv(field.validation_alias, raising=False)


@pytest.fixture(autouse=True)
def fresh_schedule_searches() -> None:
    """The schedule searches a warm Lambda reuses are process-wide: every test starts with none."""
    from presence_manager.workflow.validate import schedule_searches

    schedule_searches.clear()
