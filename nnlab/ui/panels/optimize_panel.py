"""Optimize panel: every registered method with a form generated from its parameter dataclass, Run, Race and a
results table, sized to be read from the back row.

Run and Race are one thing: each method of the run gets its own job in its own worker process (nnlab.app.hosts),
all started at once, so a race is a race. Each method has one colour (nnlab.ui.overlays.METHOD_COLORS) in the
table, the best-value-against-time plot, the views and their legend; its points, walks and every restart stay on
screen until the next run. The views draw the ViewState's `traces`; the overall best point is its `marker`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.app.document import Document
from nnlab.app.errors import describe
from nnlab.app.jobs import MethodDone
from nnlab.app.view import MethodTrace
from nnlab.ui.forms import (DataclassForm, FloatEdit, combo, fit_form, narrow_form, set_quiet, spin_int,
                            wrap_labels)
from nnlab.ui.method_colors import method_color
from nnlab.ui.panels.train_panel import PlainAxis
from nnlab.ui.worker import TaskSlot

COLUMNS = ("method", "best value", "status")
MAX_POINTS = 20_000  # visited points kept per method (beyond: the first ones stay, and the status says so)
MAX_PATHS = 2_000  # walks and restarts kept per method
MAX_DRAWN_POINTS = 800  # points drawn per method: evenly thinned over all kept (early ones do not vanish)
REDRAW_MS = 80  # events are drawn at most this often
STATUS_WORDS = {"optimal": "proven optimal", "feasible": "best found, not proven", "time_limit": "time limit reached",
                "cancelled": "cancelled", "error": "could not run", "node_limit": "node limit reached"}
TAG_WORDS = {"exact": "exact", "heuristic": "heuristic", "baseline": "baseline", "2d": "2-input nets only",
             "any_dim": "any input size"}


def _methods():
    from nnlab.engine.optimize import METHODS  # (importing the package registers every method)

    return list(METHODS)


def _fmt(v: float | None) -> str:
    return "" if v is None or not math.isfinite(v) else f"{v:.6g}"


def _swatch(rgb: tuple[int, int, int], px: int = 14) -> QtGui.QIcon:
    pm = QtGui.QPixmap(px, px)
    pm.fill(QtGui.QColor(*rgb))
    return QtGui.QIcon(pm)


@dataclass
class MethodRun:
    """What one method of the current run has reported so far."""

    name: str
    label: str
    index: int  # its colour
    started: float = 0.0
    curve: list[tuple[float, float]] = field(default_factory=list)  # (seconds, best value so far)
    best: np.ndarray | None = None  # (x1, x2, value) of a 2-input net
    best_value: float | None = None
    points: list[np.ndarray] = field(default_factory=list)
    n_points: int = 0
    paths: list[np.ndarray] = field(default_factory=list)
    bound: float | None = None
    words: str = "waiting for a worker"
    result: object = None
    error: str = ""
    done: bool = False
    dropped: int = 0  # points or walks not kept (beyond the caps)


class SlotGroup(QtCore.QObject):
    """Several TaskSlots used as one (a race runs one job per method at the same time): busy while any is,
    cancel and shutdown apply to all, with one shared deadline."""

    busy_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.slots: list[TaskSlot] = []
        self._busy = False

    def slot(self, i: int) -> TaskSlot:
        while len(self.slots) <= i:
            s = TaskSlot(self)
            s.busy_changed.connect(self._changed)
            self.slots.append(s)
        return self.slots[i]

    def _changed(self, _busy: bool) -> None:
        busy = self.busy
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    @property
    def busy(self) -> bool:
        return any(s.busy for s in self.slots)

    def cancel(self) -> None:
        for s in self.slots:
            s.cancel()

    def shutdown(self, timeout_ms: int = 5000, deadline: float | None = None) -> bool:
        import time

        if deadline is None:
            deadline = time.monotonic() + timeout_ms / 1000.0
        self.cancel()
        ok = True
        for s in self.slots:
            ok = s.shutdown(deadline=deadline) and ok
        return ok


class MethodList(QtWidgets.QListWidget):
    """The methods, full names on wrapped lines, tall enough to show every one (no inner scrolling)."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)
        self.setTextElideMode(QtCore.Qt.TextElideMode.ElideNone)
        self.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QtWidgets.QListView.ResizeMode.Adjust)
        self.setSpacing(2)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)

    def text_width(self) -> int:
        """Width the item text gets at most (the viewport less the check box and generous margins)."""
        return max(40, self.viewport().width() - self.style().pixelMetric(
            QtWidgets.QStyle.PixelMetric.PM_IndicatorWidth) - 24)

    def relayout(self) -> None:
        """Each row as wide as the viewport and as tall as its text wrapped to that width (Qt's list does not
        wrap by itself in list mode: rows grew wider than the view and were cut)."""
        fm = self.fontMetrics()
        tw = self.text_width()
        for r in range(self.count()):
            item = self.item(r)
            rect = fm.boundingRect(QtCore.QRect(0, 0, tw, 100000), QtCore.Qt.TextFlag.TextWordWrap, item.text())
            item.setSizeHint(QtCore.QSize(1, rect.height() + 8))  # (list mode stretches rows to the viewport)
        self.updateGeometry()

    def content_height(self) -> int:
        h = sum(self.item(r).sizeHint().height() + 2 * self.spacing() for r in range(self.count()))
        return h + 2 * self.frameWidth() + 4

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt's name
        return QtCore.QSize(120, self.content_height())  # any width: the rows wrap

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return self.sizeHint()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(ev)
        if ev.size().width() != ev.oldSize().width():
            self.relayout()  # wrapped rows change height with the width

    def changeEvent(self, ev: QtCore.QEvent) -> None:  # noqa: N802
        super().changeEvent(ev)
        if ev.type() in (QtCore.QEvent.Type.FontChange, QtCore.QEvent.Type.StyleChange):
            self.relayout()


class OptimizePanel(QtWidgets.QWidget):
    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.slot = SlotGroup(self)
        self.entries = _methods()
        self.runs: list[MethodRun] = []
        self.winner: int | None = None
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)  # (at the biggest text a 1024-pixel window's dock has little room)
        self.list = MethodList()
        for e in self.entries:
            tags = " · ".join(TAG_WORDS[f] for f in ("exact", "heuristic", "baseline", "2d", "any_dim")
                              if f in e.flags)
            item = QtWidgets.QListWidgetItem(f"{e.label}\n{tags}" if tags else e.label)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, e.name)
            item.setToolTip(f"{e.label}\n{e.description}")  # the whole name, also when a narrow dock breaks it
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Unchecked)
            self.list.addItem(item)
        if not self.entries:
            self.list.addItem("(no optimizers registered yet)")
        self.list.relayout()
        head = QtWidgets.QLabel("Methods: click one to Run it; tick several to Race them at the same time")
        head.setWordWrap(True)
        lay.addWidget(head)
        lay.addWidget(self.list)
        self.forms = QtWidgets.QStackedWidget()
        for e in self.entries:
            self.forms.addWidget(DataclassForm(e.params))
        self.forms.currentChanged.connect(self._fit_form)
        self._fit_form(0)
        # a group box title never wraps and sets the box's minimum width (it scrolled the dock sideways at big
        # text): the heading is a wrapping label inside the box instead
        self.params_box = QtWidgets.QGroupBox()
        box = QtWidgets.QVBoxLayout(self.params_box)
        box.setContentsMargins(4, 4, 4, 4)
        self.params_title = QtWidgets.QLabel("Parameters of the selected method")
        self.params_title.setWordWrap(True)
        box.addWidget(self.params_title)
        box.addWidget(self.forms)
        self.form = form = QtWidgets.QFormLayout()
        narrow_form(form)
        self.sense = combo([("max", "maximize"), ("min", "minimize")])
        self.time_limit = FloatEdit(0.1, 86400.0, 10.0)  # 0.25 s stays 0.25 s (a 1-decimal spin box sent 0.3)
        self.seed = spin_int(0, 2**31 - 1, 0)
        form.addRow("Sense", self.sense)
        form.addRow("Time limit (s)", self.time_limit)
        form.addRow("Seed", self.seed)
        wrap_labels(form)
        lay.addLayout(form)
        self.buttons_grid = btns = QtWidgets.QGridLayout()
        self.run_btn = QtWidgets.QPushButton("Run  (O)")
        self.race_btn = QtWidgets.QPushButton("Race ticked")
        self.cancel_btn = QtWidgets.QPushButton("Cancel")
        self.clear_btn = QtWidgets.QPushButton("Clear")
        self._button_columns = 0
        self._place_buttons(2)
        lay.insertLayout(2, btns)  # under the list: results follow, the parameters come last
        self.status = QtWidgets.QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(QtCore.Qt.TextFormat.RichText)
        lay.addWidget(self.status)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Fixed)  # widths: _fit_columns
        hh.setStretchLastSection(False)
        self.table.installEventFilter(self)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(True)
        self.table.setTextElideMode(QtCore.Qt.TextElideMode.ElideNone)
        self.table.setHorizontalScrollBarPolicy(QtCore.Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(160)
        lay.addWidget(self.table, 1)
        self.plot = pg.PlotWidget(axisItems={"left": PlainAxis("left"), "bottom": PlainAxis("bottom")})  # 0.04 s,
        # not "seconds (x0.001)" with 40
        self.plot.setMinimumHeight(230)
        self.plot.setLabel("bottom", "seconds")
        self.plot.setLabel("left", "best value")
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setToolTip("each method's best value so far against its running time; ★ marks the winner")
        lay.addWidget(self.plot)
        lay.addWidget(self.params_box)
        self.curves: list[pg.PlotDataItem] = []
        self.win_mark = pg.ScatterPlotItem(symbol="star", size=24, pen=pg.mkPen("w", width=1.5))
        self.win_text = pg.TextItem(anchor=(0.0, 1.0))
        self.plot.addItem(self.win_mark)
        self.plot.addItem(self.win_text)
        self.redraw_timer = QtCore.QTimer(self, singleShot=True, interval=REDRAW_MS)
        self.redraw_timer.timeout.connect(self._redraw)

        self.list.currentRowChanged.connect(self._show_form)
        self.run_btn.clicked.connect(self.run_current)
        self.race_btn.clicked.connect(self.race)
        self.cancel_btn.clicked.connect(self.cancel)
        self.clear_btn.clicked.connect(self.clear)
        self.slot.busy_changed.connect(self._buttons)
        doc.network_changed.connect(self.clear)
        if self.entries:
            self.list.setCurrentRow(0)
        self._synced_from: object = None
        doc.scene_changed.connect(self.sync)
        self.sync()

    # ---- fitting the dock's width at any text size --------------------------------------------------------------
    def _place_buttons(self, columns: int) -> None:
        """Run/Race/Cancel/Clear in `columns` columns (two, or one when two would not fit the dock)."""
        if columns == self._button_columns:
            return
        self._button_columns = columns
        for k, b in enumerate((self.run_btn, self.race_btn, self.cancel_btn, self.clear_btn)):
            self.buttons_grid.removeWidget(b)
            self.buttons_grid.addWidget(b, k // columns, k % columns)

    def _reflow(self) -> None:
        """Two button columns when they fit the width the dock gives (its scroll area's viewport), else one: at a
        big text size two columns were wider than the dock and it scrolled sideways."""
        if not hasattr(self, "clear_btn"):
            return  # (a style change while the panel is being built)
        host = self.parentWidget()
        room = (host.width() if host is not None else self.width()) - self.layout().contentsMargins().left() - \
            self.layout().contentsMargins().right()
        widest = max(b.sizeHint().width() for b in (self.run_btn, self.race_btn, self.cancel_btn, self.clear_btn))
        self._place_buttons(2 if 2 * widest + self.buttons_grid.horizontalSpacing() <= room else 1)
        box = self.params_box.layout().contentsMargins()
        for form, space in [(self.form, room)] + [(self.forms.widget(k).layout(), room - box.left() - box.right() - 8)
                                                  for k in range(self.forms.count())]:
            fit_form(form, space)

    def event(self, ev: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if ev.type() == QtCore.QEvent.Type.ParentChange:
            host = self.parentWidget()
            if host is not None:
                host.installEventFilter(self)  # the scroll area's viewport: its width is the room there is
        return super().event(ev)

    def changeEvent(self, ev: QtCore.QEvent) -> None:  # noqa: N802
        super().changeEvent(ev)
        if ev.type() in (QtCore.QEvent.Type.FontChange, QtCore.QEvent.Type.StyleChange):
            self._later_reflow()

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(ev)
        self._later_reflow()

    def _later_reflow(self) -> None:
        """Reflow after the event that asked for it: moving buttons between grid cells inside a StyleChange, while
        QApplication.setStyleSheet repolishes every widget, crashed Qt (a segfault in a font step)."""
        if not hasattr(self, "_reflow_timer"):
            self._reflow_timer = QtCore.QTimer(self)
            self._reflow_timer.setSingleShot(True)
            self._reflow_timer.setInterval(0)
            self._reflow_timer.timeout.connect(self._reflow)
        self._reflow_timer.start()

    def sync(self) -> None:
        """Take method, sense, time limit, seed and parameters from the scene's [optimizer] (O runs them)."""
        spec = self.doc.scene.optimizer
        if spec == self._synced_from:
            return
        self._synced_from = spec
        names = [e.name for e in self.entries]
        if spec.method in names:
            self.select(spec.method)
            self.forms.widget(names.index(spec.method)).set_values(dict(spec.params))
        set_quiet(self.sense, spec.sense)
        set_quiet(self.time_limit, min(spec.time_limit, self.time_limit.maximum()))
        set_quiet(self.seed, spec.seed)
        self._buttons(False)

    def _fit_form(self, index: int) -> None:
        """The stack as tall as the form shown (not the tallest one)."""
        for k in range(self.forms.count()):
            pol = QtWidgets.QSizePolicy.Policy.Preferred if k == index else QtWidgets.QSizePolicy.Policy.Ignored
            self.forms.widget(k).setSizePolicy(pol, pol)
        self.forms.adjustSize()

    def _show_form(self, row: int) -> None:
        if 0 <= row < self.forms.count():
            self.forms.setCurrentIndex(row)

    def _buttons(self, busy: bool) -> None:
        self.run_btn.setEnabled(bool(self.entries) and not busy)
        self.race_btn.setEnabled(bool(self.entries) and not busy)
        self.cancel_btn.setEnabled(busy)

    def select(self, name: str) -> None:
        for r in range(self.list.count()):
            if self.list.item(r).data(QtCore.Qt.ItemDataRole.UserRole) == name:
                self.list.setCurrentRow(r)

    def current_method(self) -> str | None:
        r = self.list.currentRow()
        return self.entries[r].name if 0 <= r < len(self.entries) else None

    def run_current(self) -> None:
        m = self.current_method()
        if m:
            self.run([m])

    def ticked(self) -> list[str]:
        return [self.list.item(r).data(QtCore.Qt.ItemDataRole.UserRole) for r in range(len(self.entries))
                if self.list.item(r).checkState() == QtCore.Qt.CheckState.Checked]

    def race(self) -> None:
        names = self.ticked()
        if not names:
            self.doc.error.emit("tick the methods to race first")
            return
        self.run(names)

    # ---- running: one job per method, all at once ---------------------------------------------------------
    def run(self, names: list[str]) -> None:
        import time

        sense, tl, seed = self.sense.currentData(), self.time_limit.value(), self.seed.value()
        params = {n: self.forms.widget(i).values() for i, n in enumerate(e.name for e in self.entries)}
        labels = {e.name: e.label for e in self.entries}
        self.slot.cancel()
        self.clear_markers()
        self._sense = sense
        now = time.monotonic()
        self.runs = [MethodRun(n, labels.get(n, n), i, started=now) for i, n in enumerate(names)]
        self.winner = None
        self._reset_table_and_plot()
        for i, name in enumerate(names):
            job = self.doc.race_job([name], sense, tl, seed, params)
            self.slot.slot(i).start(job, lambda ev, i=i: self._event(i, ev), None,
                                    lambda e, i=i: self._failed(i, e), lambda i=i: self._finished(i), process=True)
        self._redraw()

    def _event(self, i: int, ev: object) -> None:
        from nnlab.engine.optimize.base import BoundProgress, Incumbent, PointsVisited, WalkPath

        st = self.runs[i]
        if isinstance(ev, Incumbent):
            self._improve(st, ev.value, ev.seconds, ev.x)
            st.words = f"best {_fmt(ev.value)} after {ev.seconds:.2f} s"
        elif isinstance(ev, PointsVisited) and ev.points.shape[1:] == (2,):
            if st.n_points < MAX_POINTS:
                st.points.append(np.column_stack([ev.points, ev.values]))
                st.n_points += len(ev.points)
            else:
                st.dropped += len(ev.points)
        elif isinstance(ev, WalkPath) and ev.path.shape[1:] == (2,):
            if len(st.paths) < MAX_PATHS:
                st.paths.append(np.column_stack([ev.path, ev.values]))
            else:
                st.dropped += 1
        elif isinstance(ev, BoundProgress):
            if ev.bound is not None:
                st.bound = ev.bound
            if ev.incumbent is not None:
                self._improve(st, ev.incumbent, ev.seconds, None)
            b = "" if ev.bound is None else f", bound {_fmt(ev.bound)}"
            st.words = f"{ev.stage or 'working'}{b} ({ev.seconds:.1f} s)"
        elif isinstance(ev, MethodDone):
            st.done = True
            if ev.result is None:
                st.error = ev.error
                st.words = f"could not run: {ev.error}"
            else:
                res = ev.result
                st.result = res
                if res.value is not None:
                    self._improve(st, res.value, res.seconds, res.x)
                    st.curve.append((res.seconds, st.best_value))  # the line runs to where it stopped
                if res.bound is not None:
                    st.bound = res.bound
                st.words = STATUS_WORDS.get(res.status, res.status)
                if res.status == "error" and res.message:
                    st.words += f": {res.message}"
        if not self.redraw_timer.isActive():
            self.redraw_timer.start()

    def _improve(self, st: MethodRun, value: float, seconds: float, x: np.ndarray | None) -> None:
        from nnlab.engine.optimize.base import better

        if value is None or not math.isfinite(value):
            return
        if st.best_value is None or better(value, st.best_value, self._sense):
            st.best_value = float(value)
            st.curve.append((float(seconds), float(value)))
            if x is not None and len(x) == 2:
                st.best = np.array([x[0], x[1], value], dtype=np.float64)

    def _failed(self, i: int, e: Exception) -> None:
        st = self.runs[i]
        st.done, st.error, st.words = True, describe(e), f"failed: {describe(e)}"
        self.doc.error.emit(f"optimizer {st.label} failed: {describe(e)}")
        self._redraw()

    def _finished(self, i: int) -> None:
        st = self.runs[i] if i < len(self.runs) else None
        if st is not None and not st.done:
            st.done = True
            if not st.error:
                st.words = "stopped"
        self._redraw()

    # ---- what is shown ------------------------------------------------------------------------------------
    def _reset_table_and_plot(self) -> None:
        self.table.setRowCount(0)
        for c in self.curves:
            self.plot.removeItem(c)
        self.curves = []
        self.win_mark.setData([])
        self.win_text.setText("")
        for st in self.runs:
            rgb = method_color(st.index)
            curve = pg.PlotDataItem(pen=pg.mkPen(*rgb, width=3), symbol="o", symbolSize=7,
                                    symbolBrush=pg.mkBrush(*rgb), symbolPen=None, name=st.label)
            self.plot.addItem(curve)
            self.curves.append(curve)
            r = self.table.rowCount()
            self.table.insertRow(r)
            item = QtWidgets.QTableWidgetItem(_swatch(rgb), st.label)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, st.name)
            item.setToolTip(st.name)
            self.table.setItem(r, 0, item)
            for c in (1, 2):
                self.table.setItem(r, c, QtWidgets.QTableWidgetItem(""))

    def _pick_winner(self) -> int | None:
        """The best value (proven ones first among equals, then the faster); None until one has a value."""
        from nnlab.engine.optimize.base import better

        best = None
        for k, st in enumerate(self.runs):
            if st.best_value is None:
                continue
            if best is None:
                best = k
                continue
            b = self.runs[best]
            tie = abs(st.best_value - b.best_value) <= 1e-9 * (1.0 + abs(b.best_value))
            if (not tie and better(st.best_value, b.best_value, self._sense)) or (tie and self._rank(st) < self._rank(b)):
                best = k
        return best

    @staticmethod
    def _rank(st: MethodRun) -> tuple:
        proven = st.result is not None and getattr(st.result, "status", "") == "optimal"
        t = st.curve[-1][0] if st.curve else math.inf
        return (0 if proven else 1, t)

    def _redraw(self) -> None:
        self.redraw_timer.stop()
        if not self.runs:
            return
        self.winner = self._pick_winner()
        all_done = all(st.done for st in self.runs)
        traces = []
        for k, st in enumerate(self.runs):
            pts = np.concatenate(st.points) if st.points else None
            if pts is not None and len(pts) > MAX_DRAWN_POINTS:
                pts = pts[np.linspace(0, len(pts) - 1, MAX_DRAWN_POINTS).astype(int)]
            traces.append(MethodTrace(st.name, st.label, pts, tuple(st.paths), st.best))
            self._row(k, st, all_done)
            if st.curve:
                t = np.array([c[0] for c in st.curve])
                v = np.array([c[1] for c in st.curve])
                xs = np.repeat(t, 2)[1:]  # a step: the best value holds until the next improvement
                ys = np.repeat(v, 2)[:-1]
                self.curves[k].setData(xs, ys)
            else:
                self.curves[k].setData([], [])
        self._fit_columns()
        w = self.runs[self.winner] if self.winner is not None else None
        if w is not None and w.curve:
            t_best = next(t for t, v in w.curve if v == w.best_value)
            self.win_mark.setData([{"pos": (t_best, w.best_value), "brush": pg.mkBrush(*method_color(w.index))}])
            self.win_text.setText(("winner: " if all_done else "leading: ") + w.label)
            self.win_text.setColor(method_color(w.index))
            self.win_text.setPos(t_best, w.best_value)
        self.doc.view.set(traces=tuple(traces), marker=None if w is None or w.best is None else w.best.copy())
        self.status.setText(self._words(all_done))

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.table and ev.type() == QtCore.QEvent.Type.Resize:
            QtCore.QTimer.singleShot(0, self._fit_columns)
        elif obj is self.parentWidget() and ev.type() == QtCore.QEvent.Type.Resize:
            self._later_reflow()
        return False

    def _fit_columns(self) -> None:
        """Columns that fit the table's width with every text whole (HTML's automatic table layout): each column
        at least its longest word, the room left shared in proportion to how much more its longest line needs;
        cells wrap between words and rows grow to their text."""
        t = self.table
        avail = t.viewport().width()
        if avail <= 0:
            return
        bold = QtGui.QFont(t.font())
        bold.setBold(True)
        fb = QtGui.QFontMetrics(bold)
        pad = 2 * t.style().pixelMetric(QtWidgets.QStyle.PixelMetric.PM_FocusFrameHMargin) + 12
        icon = t.iconSize().width() + 8
        natural, least = [], []
        for c in range(t.columnCount()):
            texts = [t.horizontalHeaderItem(c).text()] + [t.item(r, c).text() for r in range(t.rowCount())
                                                          if t.item(r, c) is not None]
            extra = pad + (icon if c == 0 else 0)
            lines = [ln for s in texts for ln in s.split("\n")]
            words = [wd for ln in lines for wd in ln.split()]
            natural.append(max(fb.horizontalAdvance(ln) for ln in lines) + extra)
            least.append(max((fb.horizontalAdvance(wd) for wd in words), default=20) + extra)
        widths = list(natural)
        if sum(natural) > avail:
            room = max(0, avail - sum(least))
            want = [n - m for n, m in zip(natural, least)]
            total = sum(want) or 1
            widths = [m + room * w // total for m, w in zip(least, want)]
        else:
            widths[0] += avail - sum(natural)  # the method names get what is left
        for c, w in enumerate(widths):
            t.setColumnWidth(c, w)
        t.resizeRowsToContents()

    def _row(self, k: int, st: MethodRun, all_done: bool) -> None:
        value = _fmt(st.best_value)
        if st.best is not None:
            value += f"\nat ({st.best[0]:.4g}, {st.best[1]:.4g})"
        status = st.words
        res = st.result
        if res is not None:
            status += f", {res.seconds:.2f} s"
            if res.bound is not None:
                gap = "" if res.gap is None else f", gap {res.gap:.2g}"
                status += f"\nbound {_fmt(res.bound)}{gap}"
        if st.dropped:
            status += f"\n(first {st.n_points:,} points and {len(st.paths):,} walks shown)"
        if k == self.winner:
            status = ("★ winner\n" if all_done else "leading\n") + status
        self.table.item(k, 1).setText(value)
        self.table.item(k, 1).setData(QtCore.Qt.ItemDataRole.UserRole, st.best_value)
        self.table.item(k, 2).setText(status)
        font = self.table.item(k, 0).font()
        font.setBold(k == self.winner)
        for c in range(3):
            self.table.item(k, c).setFont(font)

    def _words(self, all_done: bool) -> str:
        n, done = len(self.runs), sum(st.done for st in self.runs)
        w = self.runs[self.winner] if self.winner is not None else None
        proof = ""
        if w is not None and w.result is not None:
            proof = f" ({STATUS_WORDS.get(w.result.status, w.result.status)})"
        if n == 1:
            st = self.runs[0]
            head = f"{st.label}: " + ("finished" if st.done else "running in a worker process")
            return head + (f", best {_fmt(st.best_value)}{proof}" if st.best_value is not None else "") + "."
        if not all_done:
            lead = f" Leading: <b>{w.label}</b> with {_fmt(w.best_value)}." if w is not None else ""
            return f"Racing {n} methods at the same time (one worker process each): {done} of {n} finished.{lead}"
        if w is None:
            return f"Race over: none of the {n} methods found a value."
        rest = sorted((st for st in self.runs if st is not w and st.best_value is not None),
                      key=lambda s: -s.best_value if self._sense == "max" else s.best_value)
        runner = f" Runner-up: {rest[0].label} with {_fmt(rest[0].best_value)}." if rest else ""
        return f"Race over. Winner: <b>{w.label}</b> with {_fmt(w.best_value)}{proof}.{runner}"

    def cancel(self) -> None:
        self.slot.cancel()
        for st in self.runs:
            if not st.done:
                st.done, st.words = True, "cancelled"
        self._redraw()

    def clear_markers(self) -> None:
        self.doc.view.clear_marks()

    def clear(self) -> None:
        self.slot.cancel()
        self.runs = []
        self.winner = None
        self._reset_table_and_plot()
        self.status.setText("")
        self.clear_markers()
