"""Info panel: parameter count, output range on the grid, and the landscape metrics of the current network.

The metrics (exact max/min and where they lie, linear regions, affine R², local maxima, homogeneity, a one-line
verdict) come from nnlab.engine.analysis.landscape through a job on the panel's TaskSlot (nnlab.app.metrics); the panel
only formats them. A new network cancels the running job and starts another after a short pause (coalescing
bursts such as repeated "New sample").
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.app.document import Document
from nnlab.app.metrics import WHERE, NetMetrics, verdict
from nnlab.ui.worker import TaskSlot

PROCESS_JOBS = True  # metrics in a worker process (the GUI keeps its GIL); False: on a thread
DEBOUNCE_MS = 250


class InfoPanel(QtWidgets.QWidget):
    metrics_ready = QtCore.Signal(object)  # the final NetMetrics of the current network

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.slot = TaskSlot(self)
        self.metrics: NetMetrics | None = None
        self.error = ""
        self._key: tuple | None = None
        self._closed = False
        self._debounce = QtCore.QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._debounce.timeout.connect(self._start_metrics)
        lay = QtWidgets.QVBoxLayout(self)
        self.text = QtWidgets.QLabel()
        self.verdict = QtWidgets.QLabel()
        self.landscape = QtWidgets.QLabel()
        for w in (self.text, self.verdict, self.landscape):
            w.setWordWrap(True)
            w.setTextFormat(QtCore.Qt.TextFormat.RichText)
            w.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
            lay.addWidget(w)
        self.verdict.setStyleSheet("font-weight: bold; padding: 4px 0px")
        lay.addStretch(1)
        doc.network_changed.connect(self.refresh)  # not every training frame: a relayout per frame costs a repaint
        doc.scene_changed.connect(self.refresh)
        self.refresh()

    # ---- summary (cheap, on every scene change) ------------------------------------------------------------
    def refresh(self) -> None:
        d = self.doc
        z = d.z
        lo, hi = d.scene.domain()
        about = d.scene.description or ""
        if about and d.edited():  # the description speaks of the scene as opened, not of what is on screen now
            about = "<i>Edited since it was opened: the scene's description no longer applies.</i>"
        lines = [f"<b>{d.scene.title}</b>", about,
                 f"Network {'-'.join(str(w) for w in (d.net.input_dim, *d.net.widths, 1))}, "
                 f"{d.net.activation}, <b>{d.net.n_params:,}</b> parameters",
                 "Trained" if d.trained else f"Initialized ({d.scene.init.scheme}, seed {d.scene.init.seed})"]
        pts = self._grid_extremes()
        if pts:  # a surface grid exists (2-input nets only)
            lines.append(f"Output range on the {z.shape[0]}×{z.shape[1]} grid: "
                         f"[{np.nanmin(z):.4g}, {np.nanmax(z):.4g}]")
            for name, (i, j) in zip(("max", "min"), pts):
                x = np.array([d.xs[i], d.ys[j]])
                lines.append(f"Grid {name} {z[i, j]:.4g} at ({x[0]:.3g}, {x[1]:.3g}): {self._where(x, lo, hi)}")
        self.text.setText("<br>".join(s for s in lines if s))
        self._schedule()

    @staticmethod
    def _where(x: np.ndarray, lo, hi) -> str:
        from nnlab.engine.analysis.landscape import classify_location

        kind, _ = classify_location(x, lo[:2], hi[:2])  # raises no user error (scenes hold lower < upper): a bug shows
        return WHERE.get(kind, kind)

    def _grid_extremes(self) -> list[tuple[int, int]]:
        """Grid indices (i, j) of the surface's max and min, [] when there is no surface of this network."""
        z = self.doc.z
        if self.doc.net.input_dim != 2 or not z.size or not np.isfinite(z).any():
            return []
        return [tuple(int(v) for v in np.unravel_index(k, z.shape)) for k in (np.nanargmax(z), np.nanargmin(z))]

    # ---- landscape metrics (a worker job per network) ---------------------------------------------------------
    def _schedule(self) -> None:
        """A new network or domain: drop the old metrics, cancel their job, start a new one after a short pause."""
        if self._closed:
            return
        key = (self.doc.net, self.doc.domain())
        if self._key is not None and key[0] is self._key[0] and key[1] == self._key[1]:
            return
        self._key = key
        self.slot.cancel()
        self.metrics, self.error = None, ""
        self._render()
        self._debounce.start()

    def _start_metrics(self) -> None:
        if self._closed:
            return
        key = self._key
        d = self.doc
        seen = [[float(d.xs[i]), float(d.ys[j])] for i, j in self._grid_extremes()]  # never report worse than these
        self.slot.start(d.metrics_job(candidates=seen or None), lambda m: self._show(key, m),
                        lambda m: self._show(key, m, final=True), lambda e: self._failed(key, e),
                        process=PROCESS_JOBS)

    def _show(self, key: tuple, m: NetMetrics, final: bool = False) -> None:
        if key is not self._key or self._closed:
            return
        self.metrics = m
        self._render()
        if final:
            self.metrics_ready.emit(m)

    def _failed(self, key: tuple, e: Exception) -> None:
        if key is self._key and not self._closed:
            self.error = f"metrics failed: {e}"
            self._render()

    def shutdown(self, timeout_ms: int = 1500) -> bool:
        """Window closing: no new job, stop the running one (True if it ended in time)."""
        self._closed = True
        self._debounce.stop()
        return self.slot.shutdown(timeout_ms)

    @property
    def busy(self) -> bool:
        return self.slot.busy or self._debounce.isActive()

    def verdict_text(self) -> str:
        return "" if self.metrics is None else verdict(self.metrics)

    def _render(self) -> None:
        m = self.metrics
        self.verdict.setText(self.verdict_text())
        self.verdict.setVisible(bool(self.verdict.text()))
        if self.error:
            self.landscape.setText(f"<span style='color:#ff6b5e'>{self.error}</span>")
            return
        if m is None:
            self.landscape.setText("<i>Landscape metrics: computing…</i>")
            return
        lines = ["<b>Landscape over the domain</b>"]
        for name, e in (("Maximum", m.maximum), ("Minimum", m.minimum)):
            if e is not None:
                lines.append(f"{name} {_extremum(e)}")
        if m.regions is not None:
            lines.append(f"Linear regions: <b>{m.regions:,}</b> (exact)")
        if m.r2 is not None:
            lines.append(f"Affine fit R²: <b>{m.r2:.3f}</b> (1 = affine on the box)")
        lm = m.local_max
        if lm is not None:
            loc = lm.locations
            extra = f", {lm.unverified} unsettled" if lm.unverified else ""
            lines.append(f"Local maxima found: <b>{lm.count}</b> from {lm.starts} starts "
                         f"({loc.get('vertex', 0)} at corners, {loc.get('face', 0)} on the boundary, "
                         f"{loc.get('interior', 0)} interior{extra})")
            if lm.values and (m.maximum is None or not m.maximum.proven):
                lines.append(f"Best local maximum {lm.values[0]:.4g} at {_point(lm.points[0])}: "
                             f"{WHERE.get(m.best_local_location, m.best_local_location)} (not proven)")
        if m.zero_bias is not None:
            h = m.homogeneity_error
            if m.zero_bias:
                lines.append(f"Biases all zero: f(t·x) = t·f(x) for t ≥ 0 (error {h:.1e}), a cone from the origin"
                             if m.activation == "relu" else f"Biases all zero (homogeneity error {h:.2g})")
            else:
                lines.append(f"Biases not zero: homogeneity error {h:.2g}")
        if m.exact_note:
            lines.append(f"<span style='color:gray'>{m.exact_note}</span>")
        if m.stage:
            lines.append(f"<i>computing: {m.stage}…</i>")
        self.landscape.setText("<br>".join(lines))


def _point(x) -> str:
    x = list(x)
    s = ", ".join(f"{v:.3g}" for v in x[:4])
    return f"({s}{', …' if len(x) > 4 else ''})"


def _extremum(e) -> str:
    if e.value is None or e.x is None:
        return f"not found ({e.status})"
    where = WHERE.get(e.location, e.location)
    if e.proven:
        return f"<b>{e.value:.4g}</b> at {_point(e.x)}: <b>{where}</b> (exact)"
    if e.bound is None:
        proof = "no bound"
    else:
        rel = "≤" if e.sense == "max" else "≥"
        proof = f"true {e.sense} {rel} {e.bound:.4g}" + ("" if e.gap is None else f", gap {e.gap:.2g}")  # the bound
    return f"{e.value:.4g} at {_point(e.x)}: {where} (best found, unproven: {proof})"
