"""Sizes for a projector, in the real window: a first start opens maximized with the surface over half the window;
the Lecture view (L) hides the docks and enlarges the surface's labels and a caption; Ctrl +/-/0 scale every text
(plot ticks and 3-D labels too) and the docks follow; 1024x768 and a 2x scale factor work; the window and dock layout
are remembered, with View > Reset layout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.ui.presets import SCENES


def use_settings_in(tmp_path) -> None:
    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope, str(tmp_path))


@pytest.fixture
def open_window(qtbot, tmp_path, monkeypatch):
    """Open a MainWindow the way `nnlab gui` does (open_on_screen), settings in tmp_path, last session restored."""
    monkeypatch.delenv("NNLAB_NO_RESTORE", raising=False)
    use_settings_in(tmp_path)
    from nnlab.ui.main_window import MainWindow

    opened = []

    def make():
        from nnlab.ui.theme import apply_theme

        w = MainWindow()
        qtbot.addWidget(w)
        apply_theme(QtWidgets.QApplication.instance(), w.view.theme, w.view.point_size)
        w.open_on_screen()
        qtbot.waitExposed(w)
        w.windowHandle().requestActivate()  # window shortcuts need the active window
        qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=5000)
        assert w.load_scene_file(SCENES / "default.toml")
        QtWidgets.QApplication.processEvents()
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


def toolbar_clipped(win) -> bool:
    tb = win.findChild(QtWidgets.QToolBar, "viewToolbar")
    ext = tb.findChild(QtWidgets.QToolButton, "qt_toolbar_ext_button")
    return ext is not None and ext.isVisible()


def maximized(win) -> bool:
    """Maximized, or (no window manager under Xvfb to grant the state) sized to the whole available screen."""
    return win.isMaximized() or win.geometry().size() == win.screen().availableGeometry().size()


def pixel_size(font: QtGui.QFont) -> int:
    return QtGui.QFontInfo(font).pixelSize()


def test_first_start_is_maximized_and_the_surface_gets_half_the_window(open_window, qtbot):
    win = open_window()
    avail = win.screen().availableGeometry()
    assert maximized(win)
    assert win.width() >= 0.95 * avail.width() and win.height() >= 0.9 * avail.height()
    qtbot.waitUntil(lambda: win.stack.width() >= win.width() / 2, timeout=3000)
    assert win.stack.height() >= 0.7 * win.height()
    assert not toolbar_clipped(win)


def test_lecture_view_hides_the_docks_and_enlarges_labels_and_caption(open_window, qtbot, tmp_path):
    win = open_window()
    normal_ticks = pixel_size(win.view3d.axes._font("tick"))
    win.view3d.widget.setFocus()
    win.menus.lecture.trigger()  # (the L key: see test_lecture_keys)
    assert win.view.lecture and win.menus.lecture.isChecked()
    assert not any(d.isVisible() for d in win.docks.values())
    qtbot.waitUntil(lambda: win.stack.width() >= 0.95 * win.width(), timeout=3000)
    scale = win.screen().geometry().height() / 1080
    ticks = pixel_size(win.view3d.axes._font("tick"))
    assert ticks >= 28 * scale and ticks > normal_ticks
    assert win.caption.isVisible() and win.doc.caption() in win.caption.text()
    from nnlab.ui.stills import in_frame

    v = win.view3d
    qtbot.waitUntil(lambda: in_frame(v, v.width(), v.height()), timeout=3000)  # the box's front corner on screen
    assert win.caption.geometry().bottom() < 0.2 * v.height()  # the caption runs along the top
    assert pixel_size(win.caption.font()) >= 28 * scale
    win.doc.message.emit("Optimum 1.234 at (0.5, -0.25)")  # a result shows in the caption
    qtbot.waitUntil(lambda: "Optimum 1.234" in win.caption.text(), timeout=3000)
    win.save_window_png(tmp_path / "lecture.png")
    img = QtGui.QImage(str(tmp_path / "lecture.png"))
    assert img.width() >= win.width()
    distance = win._lecture_distance
    win.view.lecture = False
    assert win.docks["Network"].isVisible() and not win.caption.isVisible()
    qtbot.waitUntil(lambda: v.camera()[2] == distance, timeout=3000)
    assert pixel_size(win.view3d.axes._font("tick")) == normal_ticks


def test_ctrl_plus_minus_zero_scale_every_text_and_the_docks_follow(open_window, qtbot):
    win = open_window()
    base = win.view.point_size
    plot = win.train_panel.loss_plot.getAxis("left")
    dock = win.docks["Network"]

    def sizes():
        return (QtWidgets.QApplication.font().pointSizeF(), win.view3d.axes.font.pointSizeF(),
                plot.style["tickFont"].pointSizeF() if plot.style.get("tickFont") else None, dock.minimumWidth())

    app0, labels0, ticks0, dock0 = sizes()
    win.view3d.widget.setFocus()
    for _ in range(3):
        qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_Plus, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_Equal, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert win.view.point_size == base + 4
    app1, labels1, ticks1, dock1 = sizes()
    assert app1 == base + 4 and labels1 == labels0 + 4 and ticks1 == base + 4 and dock1 > dock0
    assert dock.width() >= dock1
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_Minus, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert win.view.point_size == base + 3
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_0, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert win.view.point_size == base
    assert sizes()[:2] == (app0, labels0) and sizes()[3] == dock0


def test_1024x768_keeps_the_toolbar_whole(open_window, qtbot):
    win = open_window()
    win.showNormal()
    win.setGeometry(0, 0, 1024, 768)
    qtbot.waitUntil(lambda: win.width() == 1024, timeout=3000)
    qtbot.waitUntil(lambda: win.stack.width() >= 380, timeout=3000)  # the docks narrow to leave it room
    assert not toolbar_clipped(win) and win.stack.height() >= 450


def test_window_and_docks_are_remembered_and_reset_layout_restores_them(open_window, qtbot, tmp_path):
    win = open_window()
    win.showNormal()
    win.setGeometry(50, 60, 1300, 900)
    qtbot.waitUntil(lambda: win.width() == 1300, timeout=3000)
    L, R = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea
    assert win.dockWidgetArea(win.docks["Info"]) == L
    win.addDockWidget(R, win.docks["Info"])
    win.close()
    again = open_window()
    assert again.menus.restored and not maximized(again)
    assert (again.width(), again.height()) == (1300, 900)
    assert again.dockWidgetArea(again.docks["Info"]) == R
    again.menus.reset_layout()
    assert again.dockWidgetArea(again.docks["Info"]) == L and maximized(again)
    from nnlab.ui.window_actions import settings

    assert settings().value("window_state") is None and settings().fileName().startswith(str(tmp_path))


HIDPI_SCRIPT = textwrap.dedent("""
    import json
    from PySide6 import QtCore, QtGui, QtWidgets
    from nnlab.ui.app import make_app
    from nnlab.ui.presets import SCENES
    app = make_app()
    from nnlab.ui.main_window import MainWindow
    from nnlab.ui.theme import apply_theme
    w = MainWindow()
    apply_theme(app, "dark", w.view.point_size)
    w.open_on_screen()
    assert w.load_scene_file(SCENES / "default.toml")
    for _ in range(20):
        app.processEvents()
    tb = w.findChild(QtWidgets.QToolBar, "viewToolbar")
    ext = tb.findChild(QtWidgets.QToolButton, "qt_toolbar_ext_button")
    w.view.lecture = True
    app.processEvents()
    img = w.view3d.render_image(400, 300)
    print(json.dumps({"dpr": w.devicePixelRatioF(), "size": [w.width(), w.height()], "max": w.isMaximized(),
                      "stack": w.stack.width(), "clipped": bool(ext is not None and ext.isVisible()),
                      "ticks_px": QtGui.QFontInfo(w.view3d.axes._font("tick")).pixelSize(),
                      "screen_h": w.screen().geometry().height(), "lit": int(img[..., :3].max())}))
    w.close()
""")


def test_a_2x_scale_factor_works(tmp_path):
    """QT_SCALE_FACTOR=2 on the 1920x1080 display: a 960x540 logical screen at 2 device pixels per pixel."""
    env = dict(os.environ, QT_SCALE_FACTOR="2", NNLAB_NO_RESTORE="1", XDG_CONFIG_HOME=str(tmp_path),
               HOME=str(tmp_path), QT_QPA_PLATFORM="xcb")
    out = subprocess.run([sys.executable, "-c", HIDPI_SCRIPT], env=env, capture_output=True, text=True,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["dpr"] == 2.0 and r["size"][0] >= 0.95 * 960
    assert not r["clipped"] and r["stack"] >= 0.9 * r["size"][0]  # Lecture view: the surface takes the width
    assert r["ticks_px"] >= 28 * r["screen_h"] / 1080 and r["lit"] > 0
