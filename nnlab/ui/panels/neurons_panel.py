"""Neurons panel: thumbnails of the hidden units of one layer over the domain; a click shows one in the big view."""
from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.app.document import Document
from nnlab.ui.forms import combo
from nnlab.ui.thumbs import heat_pixmap

MAX_UNITS = 48
THUMB_RES = 40


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
        self.grid_host = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self.grid_host)
        self.grid.setSpacing(3)
        self.grid.setAlignment(QtCore.Qt.AlignmentFlag.AlignTop | QtCore.Qt.AlignmentFlag.AlignLeft)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        lay.addWidget(scroll, 1)
        self.buttons: list[QtWidgets.QToolButton] = []
        self._dirty = True
        self.layer.currentIndexChanged.connect(self.refresh)
        self.back.clicked.connect(lambda: self.select(-1, -1))
        doc.network_changed.connect(self._mark)

    def select(self, layer: int, unit: int) -> None:
        """Show hidden unit `unit` of `layer` in the big view (unit < 0: the network output)."""
        self.doc.view.unit = None if unit < 0 else (layer, unit)

    def _mark(self) -> None:
        self._dirty = True
        if self.isVisible():
            self.refresh()

    def showEvent(self, ev: QtGui.QShowEvent) -> None:  # thumbnails cost a forward pass: draw when seen
        super().showEvent(ev)
        if self._dirty:
            self.refresh()

    def refresh(self) -> None:
        widths = self.doc.net.widths
        if self.layer.count() != len(widths):
            self.layer.blockSignals(True)
            self.layer.clear()
            for k, w in enumerate(widths):
                self.layer.addItem(f"{k + 1} ({w} units)", k)
            self.layer.blockSignals(False)
        layer = max(0, self.layer.currentIndex())
        if self.doc.net.input_dim != 2 or not widths:
            return
        surfaces = self.doc.unit_surfaces(layer, THUMB_RES)[:MAX_UNITS]
        while len(self.buttons) < len(surfaces):
            b = QtWidgets.QToolButton()
            b.setIconSize(QtCore.QSize(56, 56))
            i = len(self.buttons)
            b.clicked.connect(lambda _c=False, i=i: self.select(self.layer.currentIndex(), i))
            self.grid.addWidget(b, i // 4, i % 4)
            self.buttons.append(b)
        cmap = self.doc.scene.camera.colormap
        for i, b in enumerate(self.buttons):
            b.setVisible(i < len(surfaces))
            if i < len(surfaces):
                b.setIcon(QtGui.QIcon(heat_pixmap(surfaces[i], 56, cmap)))
                b.setToolTip(f"layer {layer + 1}, unit {i + 1}")
        self._dirty = False
