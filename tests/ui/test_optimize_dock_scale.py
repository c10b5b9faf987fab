"""The Optimize dock at every text size the app offers (Ctrl +/- from the base size in steps of 1, MIN_POINT_SIZE to
MAX_POINT_SIZE), at 1920x1080 and at 1024x768: never a sideways scroll bar (the dock widens with the text, and what
still does not fit wraps), and a method name is never cut without its whole name in a tooltip."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtWidgets

from nnlab.ui.theme import BASE_POINT_SIZE, MAX_POINT_SIZE, MIN_POINT_SIZE

STEPS = [float(p) for p in np.arange(MIN_POINT_SIZE, MAX_POINT_SIZE + 0.5, 1.0)]  # what Ctrl +/- reach


def test_the_steps_are_the_ones_ctrl_plus_minus_reach(new_main_window, qtbot):
    """The window's Ctrl +/- step by 1 pt and Ctrl 0 resets (each press restyles the whole window: ~0.7 s); the walk
    over every step and two past each end uses the same WindowActions.font_step on a ViewState no window listens to
    (it reads only .view), so the range the other tests cover is the range the keys reach."""
    from types import SimpleNamespace

    from nnlab.app.view import ViewState
    from nnlab.ui.window_actions import WindowActions

    win = new_main_window()
    try:
        win.menus.font_step(1.0)
        assert win.view.point_size == BASE_POINT_SIZE + 1
        win.menus.font_step(-1.0)
        win.menus.font_step(-1.0)
        assert win.view.point_size == BASE_POINT_SIZE - 1
        win.menus.font_reset()
        assert win.view.point_size == BASE_POINT_SIZE
    finally:
        win.close()
    quiet = SimpleNamespace(view=ViewState(point_size=BASE_POINT_SIZE))
    reached = {quiet.view.point_size}
    for delta in (1.0, -1.0):
        WindowActions.font_reset(quiet)
        for _ in range(len(STEPS) + 2):  # every step from the base one way, and two presses past the end
            WindowActions.font_step(quiet, delta)
            reached.add(quiet.view.point_size)
    assert sorted(reached) == STEPS


def too_wide(root: QtWidgets.QWidget, width: int) -> list[str]:
    """The visible widgets under `root` whose minimum width exceeds `width` (what makes a panel scroll sideways)."""
    out = []
    for w in root.findChildren(QtWidgets.QWidget):
        least = w.minimumWidth() or w.minimumSizeHint().width()  # (what a layout grants it at least)
        if w.isVisibleTo(root) and least > width:
            out.append(f"{type(w).__name__}({w.objectName() or getattr(w, 'text', lambda: '')()!s:.30}) min {least}")
    return out


def cut_names(op) -> list[str]:
    """Method names not shown whole in the list without a tooltip that has the whole name."""
    lst = op.list
    fm = lst.fontMetrics()
    width = lst.text_width()
    bad = []
    for r, entry in enumerate(op.entries):
        item = lst.item(r)
        shown = item.text().split("\n")[0]
        rect = fm.boundingRect(QtCore.QRect(0, 0, width, 100000), QtCore.Qt.TextFlag.TextWordWrap, item.text())
        whole = (shown == entry.label and all(fm.horizontalAdvance(w) <= width for w in item.text().split())
                 and rect.height() <= lst.visualItemRect(item).height())
        if not whole and entry.label not in item.toolTip():
            bad.append(entry.label)
    return bad


@pytest.mark.parametrize("size", [(1920, 1080), (1024, 768)])
def test_no_sideways_scrolling_and_no_cut_names_at_any_text_size(new_main_window, qtbot, size):
    win = new_main_window()
    try:
        qtbot.waitUntil(lambda: not win.train_panel.slot.busy, timeout=60000)
        win.resize(*size)
        win.docks["Optimize"].raise_()
        scroll = win.docks["Optimize"].widget()
        op = win.optimize_panel
        failures = []
        for pt in STEPS:
            win.view.point_size = pt
            qtbot.wait(30)
            QtWidgets.QApplication.processEvents()
            assert abs(win.width() - size[0]) <= 2  # (the window keeps the size under test)
            bar = scroll.horizontalScrollBar()
            if bar.maximum() > 0 and bar.isVisible():
                failures.append(f"{pt:g} pt: scrolls {bar.maximum()} px sideways (viewport "
                                f"{scroll.viewport().width()} px; too wide: "
                                f"{too_wide(op, scroll.viewport().width() - 40)[:6]})")
            cut = cut_names(op)
            if cut:
                failures.append(f"{pt:g} pt: names cut without a tooltip: {cut}")
        assert not failures, "\n".join(failures)
    finally:
        win.view.point_size = BASE_POINT_SIZE
        win.close()
