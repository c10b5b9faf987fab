"""The Optimize panel at 1080p: a method list and a results table read without sideways scrolling (whole names,
every word inside its column), a race that runs its methods at the same time in worker processes, one colour per
method in both views with a legend, markers >= 8 px and paths >= 3 px, every restart kept, the winner marked."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore

from nnlab.ui.method_colors import PATH_PX, POINT_PX

USER = QtCore.Qt.ItemDataRole.UserRole


@pytest.fixture
def big_win(new_main_window, qtbot):
    from nnlab.ui.theme import BASE_POINT_SIZE

    w = new_main_window()
    w.view.point_size = BASE_POINT_SIZE  # (the app is shared: an earlier test may have left Ctrl + applied)
    w.resize(1920, 1080)
    w.docks["Optimize"].raise_()
    qtbot.wait(200)
    qtbot.waitUntil(lambda: not w.train_panel.slot.busy, timeout=60000)
    yield w
    w.close()
    assert not w.optimize_panel.slot.busy


def _words_fit(fm, text: str, width: int) -> bool:
    return all(fm.horizontalAdvance(word) <= width for line in text.split("\n") for word in line.split())


def _dock_scroll(win):
    return win.docks["Optimize"].widget()


@pytest.mark.parametrize("size", [(1920, 1080), (1024, 768)])
def test_method_list_shows_every_whole_name(big_win, qtbot, size):
    win = big_win
    win.resize(*size)
    qtbot.wait(300)
    op = win.optimize_panel
    lst = op.list
    assert lst.count() == len(op.entries) >= 10
    fm = lst.fontMetrics()
    width = lst.text_width()
    for r in range(lst.count()):
        item = lst.item(r)
        entry = op.entries[r]
        assert item.text().split("\n")[0] == entry.label  # the full name, not an abbreviation
        assert _words_fit(fm, item.text(), width), item.text()
        rect = fm.boundingRect(QtCore.QRect(0, 0, width, 10000), QtCore.Qt.TextFlag.TextWordWrap, item.text())
        assert rect.height() <= lst.visualItemRect(item).height(), (item.text(), rect, lst.visualItemRect(item))
    assert lst.verticalScrollBar().maximum() == 0  # every method in view: no inner scrolling
    assert _dock_scroll(win).horizontalScrollBar().maximum() == 0  # no sideways scrolling of the panel


def test_race_runs_at_once_and_is_readable(big_win, qtbot):
    win = big_win
    op = win.optimize_panel
    names = ["regions", "gradient", "random"]  # (list order)
    for r in range(op.list.count()):
        it = op.list.item(r)
        it.setCheckState(QtCore.Qt.CheckState.Checked if it.data(USER) in names else QtCore.Qt.CheckState.Unchecked)
    op.select("gradient")
    op.forms.currentWidget().set_values({"starts": 40, "draw_paths": 40, "steps": 400})
    op.select("random")
    # random sampling runs to the time limit (more samples than 5 s evaluate) and gradient for a while: methods of a
    # few ms could each finish before the next one's thread asked for a worker and so all reuse one (a pool's right;
    # seen once in a fresh-clone run: 1 pid), which says nothing about whether the race runs them at once
    op.forms.currentWidget().set_values({"samples": 500_000_000})
    op.time_limit.setValue(5.0)
    walks: list = []
    real_event = op._event

    def count(i, ev):
        from nnlab.engine.optimize.base import WalkPath

        if isinstance(ev, WalkPath) and op.runs[i].name == "gradient":
            walks.append(ev)
        hosts_now()  # the process that sent this event is still the slot's host (a fast method can finish
        real_event(i, ev)  # between two polls on a loaded machine: seen here, not only by waitUntil's polling)

    op._event = count
    pids: set = set()

    def hosts_now() -> int:  # worker processes running the race's jobs at this moment
        now = {s.worker.job.host.proc.pid for s in op.slot.slots
               if s.worker is not None and getattr(s.worker.job, "host", None) is not None}
        pids.update(now)
        return len(now)

    from nnlab.app.hosts import busy_hosts

    # every worker process free first: jobs of earlier tests still stopping (or the Info panel's metrics) held hosts
    # on a loaded machine, and the three methods then took turns on the one left (a fresh-clone run, 1 pid seen)
    qtbot.waitUntil(lambda: busy_hosts() == 0, timeout=60000)
    op.race_btn.click()
    assert [r.name for r in op.runs] == names and len(op.slot.slots) == 3
    assert all(s.busy for s in op.slot.slots)  # all three started together, none waits for another
    assert "Racing 3 methods at the same time" in op.status.text()
    qtbot.waitUntil(lambda: hosts_now() >= 2 or not op.slot.busy, timeout=60000)
    qtbot.waitUntil(lambda: not op.slot.busy, timeout=120000)
    qtbot.wait(2 * 80)  # the last redraw
    hosts_now()
    assert len(pids) >= 2, "the methods did not run in separate worker processes at the same time"

    values = [st.best_value for st in op.runs]
    assert all(v is not None for v in values), [st.words for st in op.runs]
    w = int(np.argmax(values))
    assert values[w] >= max(values) - 1e-12
    assert op.winner == w or values[op.winner] == values[w]
    w = op.winner
    assert op.table.item(w, 2).text().startswith("★ winner")
    assert op.table.item(w, 1).data(USER) == pytest.approx(values[w])
    assert f"Winner: <b>{op.runs[w].label}</b>" in op.status.text()
    assert op.win_mark.data["x"].size == 1 and op.win_mark.data["y"][0] == pytest.approx(values[w])
    assert "winner" in op.win_text.toPlainText()
    np.testing.assert_allclose(win.view.marker, op.runs[w].best)
    # the exact method proves its value: the winner cannot be beaten by the heuristics
    assert values[0] >= max(values) - 1e-9 and "proven optimal" in op.table.item(0, 2).text()

    # one colour per method everywhere, legend in both views, markers >= 8 px, paths >= 3 px
    traces = win.view.traces
    assert [t.method for t in traces] == names
    assert len(walks) == 40 and len(traces[1].paths) == 40  # every restart kept (30 were, before)
    hm = win.view2d
    pens = [hm.trace_items[i][0].opts["pen"] for i in range(3) if traces[i].paths]
    assert pens and all(p.widthF() >= 3 for p in pens)
    brushes = {hm.trace_items[i][1].opts["brush"].color().getRgb() for i in range(3)
               if traces[i].points is not None}
    assert len(brushes) == sum(t.points is not None for t in traces) >= 2
    assert all(hm.trace_items[i][1].opts["size"] >= 8 for i in range(3) if traces[i].points is not None)
    layer = win.overlays.traces3d
    assert layer.points.size >= 8 and POINT_PX >= 8 and layer.paths.width >= 3 and PATH_PX >= 3
    assert len({tuple(c) for c in np.round(layer.points.color, 3)}) >= 2
    for lab in win.overlays.legends:
        assert not lab.isHidden() and all(t.label in lab.text() for t in traces)  # (2-D: not on screen now)

    # the results table: no sideways scrolling, every word of every cell inside its column, rows tall enough
    t = op.table
    assert t.horizontalScrollBar().maximum() == 0 and _dock_scroll(win).horizontalScrollBar().maximum() == 0
    assert sum(t.columnWidth(c) for c in range(t.columnCount())) <= t.viewport().width()
    bold = t.font()
    bold.setBold(True)
    from PySide6 import QtGui

    fb = QtGui.QFontMetrics(bold)
    for r in range(t.rowCount()):
        for c in range(t.columnCount()):
            text = t.item(r, c).text()
            room = t.columnWidth(c) - 8 - (t.iconSize().width() + 8 if c == 0 else 0)
            assert _words_fit(fb, text, room), (text, room)  # bold: a row stays whole when it becomes the winner
            shown = QtGui.QFontMetrics(t.item(r, c).font())  # the height the cell needs in the font it has now
            need = shown.boundingRect(QtCore.QRect(0, 0, room, 10000), QtCore.Qt.TextFlag.TextWordWrap, text)
            assert need.height() <= t.rowHeight(r), (text, need, t.rowHeight(r))
    assert op.table.item(0, 0).text() == op.runs[0].label  # full names


def test_a_new_run_replaces_the_marks_of_the_last(big_win, qtbot):
    win = big_win
    op = win.optimize_panel
    op.select("random")
    op.forms.currentWidget().set_values({"samples": 2000})
    op.time_limit.setValue(10.0)
    op.run_btn.click()
    qtbot.waitUntil(lambda: not op.slot.busy and op.runs and op.runs[0].done, timeout=60000)
    qtbot.wait(200)
    first = win.view.traces
    assert len(first) == 1 and first[0].points is not None and len(first[0].points) > 0
    assert "Random sampling: finished" in op.status.text()
    op.clear_btn.click()
    assert win.view.traces == () and win.view.marker is None and op.table.rowCount() == 0
    assert not win.view2d.trace_items[0][1].data.size and not win.overlays.traces3d.points.visible()
