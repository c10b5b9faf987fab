"""The 2-D view: the same surface as a heatmap with contour lines (pyqtgraph ImageItem + IsocurveItem)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore

from nnlab.ui.axes3d import nice_ticks
from nnlab.ui.colormaps import pg_colormap

N_LEVELS = 12


class HeatmapView(pg.PlotWidget):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setAspectLocked(False)
        self.setLabel("bottom", "x1")
        self.setLabel("left", "x2")
        self.image = pg.ImageItem(axisOrder="col-major")
        self.addItem(self.image)
        self.curves: list[pg.IsocurveItem] = []
        self.marker = pg.ScatterPlotItem(size=16, brush=pg.mkBrush(230, 40, 30), pen=pg.mkPen("w", width=2))
        self.dots = pg.ScatterPlotItem(size=4, brush=pg.mkBrush(255, 255, 255, 160), pen=None)
        self.walks = pg.PlotDataItem(pen=pg.mkPen(255, 140, 25, width=2), connect="finite")
        for item in (self.dots, self.walks, self.marker):
            self.addItem(item)
        self.bar = pg.ColorBarItem(interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=self.getPlotItem())
        self._cmap = "viridis"
        self._z: np.ndarray | None = None
        self.set_colormap("viridis")

    def set_surface(self, xs: np.ndarray, ys: np.ndarray, z: np.ndarray) -> None:
        z = np.asarray(z, dtype=np.float32)
        self._z = z
        finite = z[np.isfinite(z)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1e-9
        self.image.setImage(z, autoLevels=False, levels=(lo, hi))
        self.bar.setLevels((lo, hi))
        self.image.setRect(QtCore.QRectF(float(xs[0]), float(ys[0]), float(xs[-1] - xs[0]), float(ys[-1] - ys[0])))
        levels = nice_ticks(lo, hi, N_LEVELS)
        while len(self.curves) < len(levels):
            c = pg.IsocurveItem(pen=pg.mkPen(255, 255, 255, 150, width=1))
            c.setParentItem(self.image)
            self.curves.append(c)
        for c, lev in zip(self.curves, levels):
            c.setData(z, level=lev)
            c.setVisible(True)
        for c in self.curves[len(levels):]:
            c.setVisible(False)
        w, h = float(xs[-1] - xs[0]), float(ys[-1] - ys[0])
        self.setAspectLocked(bool(w > 0 and h > 0 and 1 / 3 <= w / h <= 3))  # square domains look square
        self.getPlotItem().setRange(xRange=(xs[0], xs[-1]), yRange=(ys[0], ys[-1]), padding=0.0)

    def set_colormap(self, name: str) -> None:
        self._cmap = name
        self.bar.setColorMap(pg_colormap(name))

    def set_background(self, name: str) -> None:
        self.setBackground("w" if name == "white" else (22, 24, 30))
        fg = (40, 40, 48) if name == "white" else (225, 228, 235)
        for ax in ("left", "bottom"):
            self.getPlotItem().getAxis(ax).setTextPen(fg)
            self.getPlotItem().getAxis(ax).setPen(fg)

    def set_marker(self, p: np.ndarray | None) -> None:
        self.marker.setData([] if p is None else [{"pos": (float(p[0]), float(p[1]))}])

    def set_points(self, pts: np.ndarray | None, color=(1, 1, 1, 1), size: float = 6) -> None:
        if pts is None or len(pts) == 0:
            self.dots.setData([])
        else:
            self.dots.setData(x=pts[:, 0], y=pts[:, 1])

    def set_paths(self, paths: list[np.ndarray] | None, color=None) -> None:
        if not paths:
            self.walks.setData([], [])
            return
        x = np.concatenate([np.append(p[:, 0], np.nan) for p in paths])
        y = np.concatenate([np.append(p[:, 1], np.nan) for p in paths])
        self.walks.setData(x, y)

    def render_image(self, width: int, height: int) -> np.ndarray:
        """(height, width, 4) RGBA uint8 of the plot, redrawn at that size."""
        from pyqtgraph.exporters import ImageExporter

        exp = ImageExporter(self.getPlotItem())
        exp.parameters()["width"] = int(width)
        img = exp.export(toBytes=True).convertToFormat(exp.export(toBytes=True).Format.Format_RGBA8888)
        img = img.scaled(int(width), int(height))
        ptr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * img.height())
        return ptr.reshape(img.height(), img.bytesPerLine())[:, :4 * img.width()].reshape(img.height(), img.width(), 4).copy()
