"""UI tests: every test fails on Qt warnings (pytest-qt), except known harmless platform chatter. Without a DISPLAY
the UI tests start their own Xvfb (so plain `python -m pytest tests` works), which ends with the test process; a
missing Xvfb is an error, never a skip."""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys

import pytest

IGNORED = ("QXcbConnection", "Could not find the Qt platform plugin", "propagateSizeHints", "XDG_RUNTIME_DIR")


def start_xvfb(timeout: float = 30.0) -> subprocess.Popen:
    """An Xvfb on a free display number (Xvfb picks it and reports it through -displayfd); DISPLAY points at it."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        raise pytest.UsageError("the UI tests need an X display: DISPLAY is not set and Xvfb is not installed "
                                "(install the xvfb package, or run the tests under xvfb-run)")
    r, w = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(w), "-terminate", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], timeout)
        number = os.read(r, 64).decode().strip() if ready else ""
    finally:
        os.close(r)
    if not number.isdigit():
        proc.kill()
        proc.wait()
        raise pytest.UsageError(f"Xvfb did not start within {timeout:.0f} s (no display number reported)")
    os.environ["DISPLAY"] = f":{number}"
    os.environ.setdefault("LIBGL_ALWAYS_SOFTWARE", "1")  # Xvfb has no GPU: Mesa's software renderer
    # -terminate: the server exits when its last client disconnects. This process holds one connection until it
    # exits (however it exits), so the display outlives Qt's own connection and never outlives the tests.
    import ctypes
    import ctypes.util

    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    _HELD.append(x11.XOpenDisplay(os.environ["DISPLAY"].encode()))
    if not _HELD[-1]:
        _HELD.pop()
        proc.kill()
        proc.wait()
        raise pytest.UsageError(f"cannot connect to the Xvfb started on {os.environ['DISPLAY']}")
    return proc


_HELD: list = []


def pytest_configure(config: pytest.Config) -> None:
    if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
        for attempt in range(3):  # another server starting at the same moment can take the same number
            try:
                start_xvfb()
                return
            except pytest.UsageError:
                os.environ.pop("DISPLAY", None)
                if attempt == 2 or shutil.which("Xvfb") is None:
                    raise


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


@pytest.fixture(scope="session", autouse=True)
def gc_in_gui_thread(qapp):
    """As the app does (nnlab.ui.app.collect_garbage_in_gui_thread): cycles are collected on the GUI thread only,
    never on a job thread; the rest of the session gets the automatic collector back."""
    import gc

    from nnlab.ui.app import collect_garbage_in_gui_thread

    timer = collect_garbage_in_gui_thread(qapp)
    yield
    timer.stop()
    gc.collect()
    gc.enable()


@pytest.fixture
def new_main_window(qtbot, tmp_path, monkeypatch):
    """Call it to open a MainWindow (see open_main_window); the caller closes it."""
    return lambda: open_main_window(qtbot, tmp_path, monkeypatch)


@pytest.fixture
def win(new_main_window):
    """A MainWindow for one test; closing it must leave no job running (training, optimizers, compare, metrics)."""
    w = new_main_window()
    yield w
    w.close()
    assert not any(s.busy for s in (w.train_panel.slot, w.optimize_panel.slot, w.compare.slot, w.info_panel.slot))


@pytest.fixture
def small_scene():
    """A factory of a small peaks scene (12-12 hidden units, 300 samples) that trains in seconds: the training
    panel's tests need real runs, not the presets' minutes."""
    from nnlab.engine.model.scene import Scene

    def make(epochs: int = 8) -> Scene:
        s = Scene(title="small").replace("network", hidden=(12, 12), lower=(-3.0, -3.0), upper=(3.0, 3.0))
        s = s.replace("target", name="peaks")
        s = s.replace("train", samples=300, epochs=epochs, batch_size=64, lr=0.01, surface_every=2)
        return s.replace("camera", resolution=32)

    return make
