"""Neurons panel: every hidden unit of one layer as a small shaded surface over the domain (nnlab.app.relief, via the
Document); a click shows that unit in the big view. The layer list and the grid follow the network on screen (a
changed width rebuilds them), and every unit is reachable (the grid scrolls)."""
from __future__ import annotations

import time

from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.app.document import Document
from nnlab.ui.forms import combo
from nnlab.ui.thumbs import relief_pixmap

THUMB_RES = 32  # grid of each thumbnail's forward pass (one pass for the whole layer)
THUMB_PX = 52
COLUMNS = 5
SLICE_S = 0.008  # thumbnails drawn per turn of the event loop: until this much time is used (100 take ~40 ms)


class NeuronsPanel(QtWidgets.QWidget):
    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        lay = QtWidgets.QVBoxLayout(self)
        top = QtWidgets.QHBoxLayout()
        self.layer = combo([])
        self.back = QtWidgets.QPushButton("Show output")
        top.addWidget(QtWidgets.QLabel("Layer"))
        top.addWidget(self.layer, 1)
        top.addWidget(self.back)
        lay.addLayout(top)
        self.summary = QtWidgets.QLabel()
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)
        self.grid_host = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self.grid_host)
        self.grid.setSpacing(3)
        self.grid.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.grid_host)
        lay.addWidget(self.scroll, 1)
        self.buttons: list[QtWidgets.QToolButton] = []
        self._widths: tuple[int, ...] | None = None
        self._dirty = True
        self._todo = None  # the thumbnails still to draw: (index, relief) pairs of the last refresh, or None
        self.layer.currentIndexChanged.connect(self.refresh)
        self.back.clicked.connect(lambda: self.select(-1, -1))
        doc.network_changed.connect(self._mark)
        doc.scene_changed.connect(self._colormap)

    def select(self, layer: int, unit: int) -> None:
        """Show hidden unit `unit` of `layer` in the big view (unit < 0: the network output)."""
        self.doc.view.unit = None if unit < 0 else (layer, unit)

    def _mark(self) -> None:
        """A new network: redraw the thumbnails on the next turn of the event loop when they are on screen (100
        of them cost ~40 ms: apart from the rest of a network change, no stall is that long), else when shown."""
        self._dirty = True
        if self.isVisible():  # a second queued call finds nothing dirty and does nothing
            QtCore.QTimer.singleShot(0, self, self._refresh_queued)

    def _refresh_queued(self) -> None:
        if self._dirty and self.isVisible():
            self.refresh()

    def drawing(self) -> bool:
        """Are thumbnails of the last refresh still being drawn (a few per turn of the event loop)?"""
        return self._todo is not None

    def _draw_some(self, todo) -> None:
        """Draw thumbnails for SLICE_S, then go on in the next turn of the event loop: all 100 of a layer in one
        turn stalled the window for ~40 ms when a training run ended (bench/ui_latency.py)."""
        if todo is not self._todo:
            return  # a newer refresh took over
        t0 = time.perf_counter()
        for i, (u, shade) in todo:
            self.buttons[i].setIcon(QtGui.QIcon(relief_pixmap(u, shade, THUMB_PX, self._cmap)))
            if time.perf_counter() - t0 > SLICE_S:
                QtCore.QTimer.singleShot(0, self, lambda: self._draw_some(todo))
                return
        self._todo = None

    def _colormap(self) -> None:
        if getattr(self, "_cmap", None) != self.doc.scene.camera.colormap:
            self._mark()

    def showEvent(self, ev: QtGui.QShowEvent) -> None:  # thumbnails cost a forward pass: draw when seen
        super().showEvent(ev)
        if self._dirty:
            self.refresh()

    def _layers(self, widths: tuple[int, ...]) -> None:
        """The layer list of this architecture (rebuilt when any width changes, not only the layer count)."""
        if widths == self._widths:
            return
        keep = self.layer.currentIndex()
        self.layer.blockSignals(True)
        self.layer.clear()
        for k, w in enumerate(widths):
            self.layer.addItem(f"{k + 1} ({w} units)", k)
        self.layer.setCurrentIndex(min(max(keep, 0), len(widths) - 1) if widths else -1)
        self.layer.blockSignals(False)
        self._widths = widths

    def refresh(self) -> None:
        widths = tuple(self.doc.net.widths)
        self._layers(widths)
        layer = max(0, self.layer.currentIndex())
        self._cmap = self.doc.scene.camera.colormap
        if self.doc.net.input_dim != 2 or not widths:
            for b in self.buttons:
                b.setVisible(False)
            self.summary.setText("Unit surfaces show 2-input networks." if widths else "No hidden layer.")
            self._todo = None
            self._dirty = False
            return
        n = widths[layer]
        reliefs = self.doc.unit_reliefs(layer, THUMB_RES)
        while len(self.buttons) < n:
            b = QtWidgets.QToolButton()
            b.setIconSize(QtCore.QSize(THUMB_PX, THUMB_PX))
            b.setAutoRaise(True)
            i = len(self.buttons)
            b.clicked.connect(lambda _c=False, i=i: self.select(self.layer.currentIndex(), i))
            self.grid.addWidget(b, i // COLUMNS, i % COLUMNS)
            self.buttons.append(b)
        for i, b in enumerate(self.buttons):
            b.setVisible(i < n)
            if i < n:
                b.setToolTip(f"layer {layer + 1}, unit {i + 1} of {n}: click to show it in the big view")
        self.summary.setText(f"Layer {layer + 1}: all {n} units; click one to show "
                             "its surface in the big view.")
        self._todo = enumerate(reliefs)
        self._draw_some(self._todo)
        self._dirty = False
