"""The 3-D views are QOpenGLWindows in window containers, not QOpenGLWidgets: one QOpenGLWidget makes Qt compose the
whole window with GL on every repaint of anything (17-30 ms per label change at 1080p under software GL, the
longest event-loop gaps of bench/ui_latency.py). The labels laid over a view are drawn by its GL window, which would
otherwise cover them; clicking the view gives it the keys."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtOpenGL, QtOpenGLWidgets, QtWidgets



@pytest.fixture
def active(win, qtbot):
    win.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is win, timeout=5000)
    return win


def frame(view) -> np.ndarray:
    """The view as the window shows it, the labels over it included: (h, w, 4) uint8."""
    return view.render_image(view.width(), view.height(), overlays=True)


class Repaints(QtCore.QObject):
    """The repaints a window was asked for (its UpdateRequest events), counted as they arrive."""

    def __init__(self, window) -> None:
        super().__init__()
        self.count = 0
        window.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 - Qt's name
        self.count += ev.type() == QtCore.QEvent.Type.UpdateRequest
        return False

    def __bool__(self) -> bool:
        return self.count > 0

    def clear(self) -> None:
        self.count = 0


def test_the_window_has_no_qopenglwidget(win, qtbot):
    assert win.findChildren(QtOpenGLWidgets.QOpenGLWidget) == []
    for view in (win.view3d, *win.compare.views):
        assert isinstance(view, QtOpenGL.QOpenGLWindow)
    assert win.stack.indexOf(win.view3d.widget) >= 0
    qtbot.waitUntil(win.view3d.isValid, timeout=5000)  # exposed on screen: it has its GL context
    assert win.current_view() is win.view3d


def test_an_overlay_label_is_drawn_by_the_gl_window_and_kept_out_of_stills(win, qtbot):
    view = win.view3d
    qtbot.waitUntil(view.isValid, timeout=5000)
    label = win.overlays.legends[0]
    qtbot.wait(300)  # (the layout settles, the first frames are drawn)
    painted = Repaints(view)
    label.show_text("<b>legend</b> of a test")
    qtbot.waitUntil(lambda: bool(painted), timeout=2000)  # a new label repaints the view (which draws it) on screen
    r = label.geometry()  # in the container's coordinates, as the GL window fills it
    dpr = view.devicePixelRatio()
    x0, y0, x1, y1 = (int(v * dpr) for v in (r.left(), r.top(), r.right(), r.bottom()))
    with_label = frame(view)[y0:y1, x0:x1]
    still = view.render_image(400, 300)
    painted.clear()
    label.show_text("")
    qtbot.waitUntil(lambda: bool(painted), timeout=2000)
    without = frame(view)[y0:y1, x0:x1]
    assert np.abs(with_label.astype(int) - without.astype(int)).max() > 100  # the text is there, then gone
    assert np.array_equal(view.render_image(400, 300), still)  # a still shows the scene, not the window's labels


def test_the_keys_card_and_the_lecture_caption_are_drawn_over_the_view(win, qtbot):
    view = win.view3d
    qtbot.waitUntil(view.isValid, timeout=5000)
    qtbot.wait(300)  # (the layout settles)
    before = frame(view)
    painted = Repaints(view)
    win.menus.keys.toggle()
    qtbot.waitUntil(lambda: bool(painted), timeout=2000)
    assert win.menus.keys.isVisible()
    r = win.menus.keys.geometry()  # (the card lies in the stack, which the 3-D view's container fills)
    after = frame(view)
    r = r.intersected(QtCore.QRect(0, 0, view.width(), view.height()))  # (a card wider than the view)
    box = (slice(r.top() + 4, r.bottom() - 4), slice(r.left() + 4, r.right() - 4))
    assert np.abs(after[box].astype(int) - before[box].astype(int)).mean() > 20
    win.menus.keys.toggle()
    assert np.abs(frame(view)[box].astype(int) - before[box].astype(int)).mean() < 5


def test_a_click_on_the_view_takes_the_keys_from_a_field(active, qtbot):
    win = active
    field = win.network_panel.findChild(QtWidgets.QLineEdit) or win.init_panel.seed
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=2000)
    qtbot.waitUntil(win.view3d.isValid, timeout=5000)
    center = QtCore.QPoint(win.view3d.width() // 2, win.view3d.height() // 2)
    qtbot.mouseClick(win.view3d, QtCore.Qt.MouseButton.LeftButton, pos=center)
    qtbot.waitUntil(win.view3d.widget.hasFocus, timeout=2000)
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_L)  # a one-key shortcut: it fires from the view
    assert win.view.lecture
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_L)
    assert not win.view.lecture
