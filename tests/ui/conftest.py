"""UI tests: every test fails on Qt warnings (pytest-qt), except known harmless platform chatter."""
from __future__ import annotations

import pytest

IGNORED = ("QXcbConnection", "Could not find the Qt platform plugin", "propagateSizeHints", "XDG_RUNTIME_DIR")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/ui" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*IGNORED))


def open_main_window(qtbot, tmp_path, monkeypatch):
    """A shown MainWindow on the default preset, with settings kept in tmp_path (no restore of a last session)."""
    from PySide6 import QtCore

    from nnlab.ui.presets import SCENES

    monkeypatch.setenv("NNLAB_NO_RESTORE", "1")
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, str(tmp_path))
    from nnlab.ui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1200, 800)
    w.show()
    qtbot.waitExposed(w)
    assert w.load_scene_file(SCENES / "default.toml")
    return w


@pytest.fixture
def new_main_window(qtbot, tmp_path, monkeypatch):
    """Call it to open a MainWindow (see open_main_window); the caller closes it."""
    return lambda: open_main_window(qtbot, tmp_path, monkeypatch)
