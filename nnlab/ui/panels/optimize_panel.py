"""Optimize panel: every registered method with a form generated from its parameter dataclass, Run, Race (several
methods one after another on the same network) and a results table. Events become the optimizer marks of the
model's ViewState (marker, points, paths), which the views show."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.app.document import Document
from nnlab.app.errors import describe
from nnlab.app.jobs import MethodDone
from nnlab.ui.forms import DataclassForm, FloatEdit, combo, set_quiet, spin_int
from nnlab.ui.worker import TaskSlot

COLUMNS = ("method", "status", "value", "x", "bound", "gap", "seconds")


def _methods():
    from nnlab.engine.optimize import METHODS  # (importing the package registers every method)

    return list(METHODS)


class OptimizePanel(QtWidgets.QWidget):
    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.slot = TaskSlot(self)
        self.entries = _methods()
        lay = QtWidgets.QVBoxLayout(self)
        self.list = QtWidgets.QListWidget()
        for e in self.entries:
            tags = ", ".join(sorted(f for f in e.flags if f in ("exact", "heuristic", "2d", "any_dim")))
            item = QtWidgets.QListWidgetItem(f"{e.label}  [{tags}]" if tags else e.label)
            item.setData(QtCore.Qt.ItemDataRole.UserRole, e.name)
            item.setToolTip(e.description)
            item.setFlags(item.flags() | QtCore.Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(QtCore.Qt.CheckState.Unchecked)
            self.list.addItem(item)
        self.list.setMaximumHeight(150)
        if not self.entries:
            self.list.addItem("(no optimizers registered yet)")
        lay.addWidget(QtWidgets.QLabel("Methods (tick several for a race)"))
        lay.addWidget(self.list)
        self.forms = QtWidgets.QStackedWidget()
        for e in self.entries:
            self.forms.addWidget(DataclassForm(e.params))
        box = QtWidgets.QGroupBox("Parameters")
        QtWidgets.QVBoxLayout(box).addWidget(self.forms)
        lay.addWidget(box)
        form = QtWidgets.QFormLayout()
        self.sense = combo([("max", "maximize"), ("min", "minimize")])
        self.time_limit = FloatEdit(0.1, 86400.0, 10.0)  # 0.25 s stays 0.25 s (a 1-decimal spin box sent 0.3)
        self.seed = spin_int(0, 2**31 - 1, 0)
        form.addRow("Sense", self.sense)
        form.addRow("Time limit (s)", self.time_limit)
        form.addRow("Seed", self.seed)
        lay.addLayout(form)
        btns = QtWidgets.QHBoxLayout()
        self.run_btn = QtWidgets.QPushButton("Run  (O)")
        self.race_btn = QtWidgets.QPushButton("Race ticked")
        self.cancel_btn = QtWidgets.QPushButton("Cancel")
        self.clear_btn = QtWidgets.QPushButton("Clear")
        for b in (self.run_btn, self.race_btn, self.cancel_btn, self.clear_btn):
            btns.addWidget(b)
        lay.addLayout(btns)
        self.status = QtWidgets.QLabel()
        lay.addWidget(self.status)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        lay.addWidget(self.table, 1)

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

    def race(self) -> None:
        names = [self.list.item(r).data(QtCore.Qt.ItemDataRole.UserRole) for r in range(len(self.entries))
                 if self.list.item(r).checkState() == QtCore.Qt.CheckState.Checked]
        if not names:
            self.doc.error.emit("tick the methods to race first")
            return
        self.run(names)

    def run(self, names: list[str]) -> None:
        sense, tl, seed = self.sense.currentData(), self.time_limit.value(), self.seed.value()
        params = {n: self.forms.widget(i).values() for i, n in enumerate(e.name for e in self.entries)}
        job = self.doc.race_job(names, sense, tl, seed, params)
        self.clear_markers()
        self._best = None
        self._visited: list[np.ndarray] = []
        self._walks: list[np.ndarray] = []
        self.status.setText(f"Running {', '.join(names)}…")
        self.slot.start(job, self._event, self._done, lambda e: self.doc.error.emit(f"optimizer failed: {describe(e)}"),
                        process=True)

    def _done(self, _result: object) -> None:
        self.status.setText("Done")

    def _event(self, ev: object) -> None:
        from nnlab.engine.optimize.base import BoundProgress, Incumbent, PointsVisited, WalkPath

        if isinstance(ev, Incumbent) and ev.x is not None and len(ev.x) == 2:
            self.doc.view.marker = np.array([ev.x[0], ev.x[1], ev.value])
            self.status.setText(f"incumbent {ev.value:.6g} after {ev.seconds:.2f} s")
        elif isinstance(ev, PointsVisited) and ev.points.shape[1:] == (2,):
            self._visited.append(np.column_stack([ev.points, ev.values]))
            self.doc.view.points = np.concatenate(self._visited[-50:])
        elif isinstance(ev, WalkPath) and ev.path.shape[1:] == (2,):
            self._walks.append(np.column_stack([ev.path, ev.values]))
            self.doc.view.paths = self._walks[-30:]
        elif isinstance(ev, BoundProgress):
            b = "—" if ev.bound is None else f"{ev.bound:.6g}"
            self.status.setText(f"{ev.stage} bound {b}, {ev.seconds:.1f} s")
        elif isinstance(ev, MethodDone):
            self._row(ev)

    def _row(self, ev: MethodDone) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        res = ev.result
        if res is None:
            cells = (ev.method, "error", "", ev.error, "", "", "")
        else:
            fmt = lambda v: "" if v is None else f"{v:.6g}"  # noqa: E731
            x = "" if res.x is None else "(" + ", ".join(f"{v:.4g}" for v in res.x) + ")"
            cells = (res.method, res.status, fmt(res.value), x, fmt(res.bound), fmt(res.gap), f"{res.seconds:.2f}")
            if res.x is not None and len(res.x) == 2 and res.value is not None:
                better = self._best is None or (res.value > self._best if res.sense == "max" else res.value < self._best)
                if better:
                    self._best = res.value
                    self.doc.view.marker = np.array([res.x[0], res.x[1], res.value])
        for c, text in enumerate(cells):
            item = QtWidgets.QTableWidgetItem(text)
            item.setToolTip(text)
            self.table.setItem(r, c, item)

    def cancel(self) -> None:
        self.slot.cancel()
        self.status.setText("Cancelled")

    def clear_markers(self) -> None:
        self.doc.view.clear_marks()

    def clear(self) -> None:
        self.slot.cancel()
        self.table.setRowCount(0)
        self.status.setText("")
        self.clear_markers()
