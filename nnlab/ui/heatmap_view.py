"""The 2-D view: the same surface as a heatmap with contour lines (pyqtgraph ImageItem + IsocurveItem), the exact
linear regions (polygons from nnlab.engine.analysis.regions_map, drawn as they are) and the optimizer traces in one
colour per method."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6 import QtCore, QtGui

from nnlab.ui.ticks import nice_ticks
from nnlab.ui.colormaps import pg_colormap
from nnlab.ui.method_colors import BEST_PX, PATH_PX, POINT_PX, method_color

N_LEVELS = 12


class PolygonsItem(pg.GraphicsObject):
    """Filled convex polygons, one brush each, recorded once into a QPicture (a repaint replays it)."""

    def __init__(self) -> None:
        super().__init__()
        self.picture = QtGui.QPicture()
        self._bounds = QtCore.QRectF()
        self.count = 0

    def set_polygons(self, vertices: np.ndarray | None, offsets: np.ndarray | None, rgba: np.ndarray | None) -> None:
        """Polygon r: vertices[offsets[r]:offsets[r+1]]; rgba (R, 4) in [0, 1]."""
        self.prepareGeometryChange()
        self.picture = QtGui.QPicture()
        self.count = 0 if offsets is None else len(offsets) - 1
        if self.count:
            p = QtGui.QPainter(self.picture)
            try:
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                cols = (np.clip(rgba, 0, 1) * 255).astype(int).tolist()
                V = np.ascontiguousarray(vertices, dtype=np.float64)
                off = offsets.tolist()
                for r in range(self.count):  # polygons filled straight from the array (pyqtgraph's helpers)
                    k = off[r + 1] - off[r]
                    poly = fn.create_qpolygonf(k)
                    fn.ndarray_from_qpolygonf(poly)[:] = V[off[r]:off[r + 1]]
                    p.setBrush(QtGui.QColor(*cols[r]))
                    p.drawPolygon(poly)
            finally:
                p.end()
            lo, hi = vertices.min(axis=0), vertices.max(axis=0)
            self._bounds = QtCore.QRectF(float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1]))
        else:
            self._bounds = QtCore.QRectF()
        self.update()

    def paint(self, painter: QtGui.QPainter, *args: Any) -> None:
        if self.count:
            painter.drawPicture(0, 0, self.picture)

    def boundingRect(self) -> QtCore.QRectF:  # noqa: N802 - Qt's name
        return self._bounds


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
        # exact linear regions (above the image, below the marks)
        self.region_fill = PolygonsItem()
        self.region_lines = pg.PlotCurveItem(connect="pairs", antialias=True)
        for item in (self.region_fill, self.region_lines):
            item.setZValue(5)
            item.setVisible(False)
            self.addItem(item, ignoreBounds=True)
        self.regions: Any = None
        self.region_mode = "filled"
        # optimizer traces: per method a walk curve, its points and its best point (set_traces)
        self.trace_items: list[tuple[pg.PlotDataItem, pg.ScatterPlotItem, pg.ScatterPlotItem]] = []
        for item in (self.dots, self.walks, self.marker):
            self.addItem(item)
        self.marker.setZValue(20)
        self._bg = "dark"
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
        self._bg = name
        if self.regions is not None:
            self.set_regions(self.regions, self.region_mode)
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

    def set_regions(self, rp: Any, mode: str = "filled") -> None:
        """Draw the exact region polygons (a RegionPolygons, or None for none): "filled" colours each region
        (translucent, the heatmap shows through) with thin boundaries; "boundaries" draws only the lines."""
        from nnlab.ui.colormaps import region_colors

        self.regions, self.region_mode = rp, mode
        if rp is None:
            self.region_fill.set_polygons(None, None, None)
            self.region_fill.setVisible(False)
            self.region_lines.setData([], [])
            self.region_lines.setVisible(False)
            return
        filled = mode == "filled"
        if filled:
            self.region_fill.set_polygons(rp.vertices, rp.offsets, region_colors(rp.ids, alpha=0.6))
        else:
            self.region_fill.set_polygons(None, None, None)
        self.region_fill.setVisible(filled)
        seg = rp.vertices[rp.edges].reshape(-1, 2)
        light = self._bg == "white"
        pen = (pg.mkPen(20, 20, 28, 150, width=1.2) if filled else
               pg.mkPen((20, 20, 28, 200) if light else (255, 255, 255, 190), width=1.5))
        pen.setCosmetic(True)
        self.region_lines.setData(seg[:, 0], seg[:, 1], pen=pen)
        self.region_lines.setVisible(True)

    def set_traces(self, traces: tuple) -> None:
        """Each method's walks (3 px), points (9 px) and best point (a star) in its own colour."""
        while len(self.trace_items) < len(traces):
            items = (pg.PlotDataItem(connect="finite"), pg.ScatterPlotItem(), pg.ScatterPlotItem())
            for z, item in zip((10, 11, 12), items):
                item.setZValue(z)
                self.addItem(item)
            self.trace_items.append(items)
        edge = pg.mkPen(15, 15, 20, 220, width=1.2)
        for i, (walk, dots, best) in enumerate(self.trace_items):
            t = traces[i] if i < len(traces) else None
            if t is None:
                walk.setData([], [])
                dots.setData([])
                best.setData([])
                continue
            c = method_color(i)
            if t.paths:
                x = np.concatenate([np.append(p[:, 0], np.nan) for p in t.paths])
                y = np.concatenate([np.append(p[:, 1], np.nan) for p in t.paths])
                walk.setData(x, y, pen=pg.mkPen(*c, 255, width=PATH_PX))
            else:
                walk.setData([], [])
            if t.points is not None and len(t.points):
                dots.setData(x=t.points[:, 0], y=t.points[:, 1], size=POINT_PX, brush=pg.mkBrush(*c, 220), pen=edge)
            else:
                dots.setData([])
            if t.best is not None:
                best.setData(x=[t.best[0]], y=[t.best[1]], size=BEST_PX + 4, symbol="star", brush=pg.mkBrush(*c),
                             pen=pg.mkPen(15, 15, 20, width=1.5))
            else:
                best.setData([])

    def render_image(self, width: int, height: int) -> np.ndarray:
        """(height, width, 4) RGBA uint8 of the plot, redrawn at that size."""
        from pyqtgraph.exporters import ImageExporter

        exp = ImageExporter(self.getPlotItem())
        exp.parameters()["width"] = int(width)
        img = exp.export(toBytes=True).convertToFormat(exp.export(toBytes=True).Format.Format_RGBA8888)
        img = img.scaled(int(width), int(height))
        ptr = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * img.height())
        return ptr.reshape(img.height(), img.bytesPerLine())[:, :4 * img.width()].reshape(img.height(), img.width(), 4).copy()
