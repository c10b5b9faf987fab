"""UI tests: every test fails on Qt warnings (pytest-qt), except known harmless platform chatter."""
from __future__ import annotations

import pytest

IGNORED = ("QXcbConnection", "Could not find the Qt platform plugin", "propagateSizeHints", "XDG_RUNTIME_DIR")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ui" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*IGNORED))
