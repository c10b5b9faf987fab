"""Info panel: parameter count, output range on the grid, where the grid maximum and minimum lie."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.ui.document import Document


class InfoPanel(QtWidgets.QWidget):
    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QtWidgets.QVBoxLayout(self)
        self.text = QtWidgets.QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(QtCore.Qt.TextFormat.RichText)
        lay.addWidget(self.text)
        lay.addStretch(1)
        doc.network_changed.connect(self.refresh)  # not every training frame: a relayout per frame costs a repaint
        doc.scene_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        d = self.doc
        z = d.z
        lo, hi = d.scene.domain()
        lines = [f"<b>{d.scene.title}</b>", d.scene.description or "",
                 f"Network {'-'.join(str(w) for w in (d.net.input_dim, *d.net.widths, 1))}, "
                 f"{d.net.activation}, <b>{d.net.n_params:,}</b> parameters",
                 "Trained" if d.trained else f"Initialized ({d.scene.init.scheme}, seed {d.scene.init.seed})"]
        if z.size and np.isfinite(z).any():
            lines.append(f"Output range on the {z.shape[0]}×{z.shape[1]} grid: "
                         f"[{np.nanmin(z):.4g}, {np.nanmax(z):.4g}]")
            for name, idx in (("max", np.nanargmax(z)), ("min", np.nanargmin(z))):
                i, j = np.unravel_index(idx, z.shape)
                x = np.array([d.xs[i], d.ys[j]])
                lines.append(f"Grid {name} {z[i, j]:.4g} at ({x[0]:.3g}, {x[1]:.3g}): {self._where(x, lo, hi)}")
        self.text.setText("<br>".join(s for s in lines if s))

    @staticmethod
    def _where(x: np.ndarray, lo, hi) -> str:
        try:
            from nnlab.engine.landscape import classify_location

            kind, _ = classify_location(x, lo[:2], hi[:2])
        except (ImportError, ValueError):
            return "?"
        return {"vertex": "a corner of the box", "face": "on the boundary", "interior": "interior"}.get(kind, kind)
