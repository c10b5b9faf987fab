"""`nnlab gui` as a user starts it: main.py in a subprocess quits on a timer, writes a screenshot, and rejects a bad
scene with one line and exit code 2; Ctrl+Q closes the window."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6 import QtCore, QtGui

ROOT = Path(__file__).resolve().parents[2]


def run_main(*args: str, timeout: float = 60.0, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "xcb"), NNLAB_NO_RESTORE="1")
    if home is not None:
        env["XDG_CONFIG_HOME"] = str(home)  # settings (recent files, theme) stay out of the real home
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_main_py_smoke_runs_and_writes_a_screenshot(tmp_path):
    shot = tmp_path / "win.png"
    r = run_main("gui", str(ROOT / "resources/scenes/default.toml"), "--quit-after", "8", "--screenshot", str(shot),
                 home=tmp_path)
    assert r.returncode == 0, r.stderr
    img = QtGui.QImage(str(shot))
    assert img.width() >= 800 and img.height() >= 500
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 100


def test_quit_after_exits_zero(tmp_path):
    r = run_main("resources/scenes/xavier.toml", "--quit-after", "1", home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr


def test_invalid_scene_is_one_line_and_exit_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[network]\nhidden = []\n")
    r = run_main("gui", str(bad), "--quit-after", "1")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "hidden" in lines[0] and lines[0].startswith("nnlab gui: error:")
    missing = run_main("gui", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def test_ctrl_q_closes_the_window(qtbot, monkeypatch):
    monkeypatch.setenv("NNLAB_NO_RESTORE", "1")
    from PySide6 import QtWidgets

    from nnlab.ui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    w.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=5000)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Q, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=3000)


def test_no_display_is_one_line_and_exit_2():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "gui"], capture_output=True, text=True, timeout=60,
                       env=env, cwd=ROOT)
    assert r.returncode == 2
    assert r.stderr.strip() == "nnlab gui: error: no display to open the window on: set DISPLAY " \
                               "(for a virtual screen: xvfb-run nnlab gui)"


def test_cycles_are_collected_on_the_gui_thread_and_full_passes_are_rare(qapp, qtbot, monkeypatch):
    """Collected by the GUI thread's timer (not by whatever thread allocates): a cycle made here is gone after a
    few ticks; a full collection (60-80 ms in the app) runs at most once per FULL_GC_EVERY."""
    import gc
    import weakref

    from nnlab.ui import app as app_mod

    calls: list[int] = []
    real = gc.collect
    monkeypatch.setattr(app_mod.gc, "collect", lambda g=2: calls.append(g) or real(g))
    timer = app_mod.collect_garbage_in_gui_thread(qapp, interval_ms=20)
    try:
        assert not gc.isenabled()

        class Node:
            pass

        probe = Node()
        probe.me = probe  # a cycle: only the collector frees it
        gone = weakref.ref(probe)
        del probe
        for _ in range(20000):  # more cycles, past the thresholds many times over
            x = Node()
            x.me = x
        del x
        qtbot.waitUntil(lambda: gone() is None, timeout=5000)
        assert calls and calls.count(2) == 0  # (the last full pass was under FULL_GC_EVERY ago: at the start)
    finally:
        timer.stop()
