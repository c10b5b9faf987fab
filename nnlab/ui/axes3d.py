"""Floor grid, bounding box and tick labels of the 3-D view, in the fixed display cube [-1,1]^2 x [0, h]."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph.opengl as gl
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from PySide6 import QtCore, QtGui


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values inside [lo, hi] (1-2-5 steps), at least the two ends when the range is degenerate."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi - lo <= 1e-12 * max(1.0, abs(lo)):
        return [lo]
    raw = (hi - lo) / max(1, target - 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + 1e-9 * step:
        ticks.append(0.0 if abs(v) < 1e-12 * step else v)
        v += step
    return ticks


def fmt_tick(v: float) -> str:
    """Short label: no trailing zeros, scientific only for very large/small values."""
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.1e}"
    return f"{v:.4g}"


class LabelsItem(GLGraphicsItem):
    """All tick labels drawn with one QPainter per frame (a GLTextItem each costs a QPainter begin/end)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[np.ndarray, str, QtGui.QFont]] = []
        self.color = QtGui.QColor(230, 230, 230)

    def set_items(self, items: list[tuple[np.ndarray, str, QtGui.QFont]], color: QtGui.QColor) -> None:
        self.items, self.color = items, color
        self.update()

    def paint(self) -> None:
        if not self.items:
            return
        self.setupGLState()
        rect = QtCore.QRectF(self.view().rect())
        to_px = QtGui.QMatrix4x4()
        to_px.viewport(rect.left(), rect.bottom(), rect.width(), -rect.height())
        project = to_px * self.mvpMatrix()
        painter = QtGui.QPainter(self.view())
        painter.setPen(self.color)
        painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
        for pos, text, font in self.items:
            painter.setFont(font)
            p = project.map(QtGui.QVector3D(*map(float, pos))).toPointF()
            r = QtGui.QFontMetricsF(font).tightBoundingRect(text)
            painter.drawText(QtCore.QPointF(p.x() - r.width() / 2, p.y() + r.height() / 2), text)
        painter.end()


class Axes3D:
    """Owns the grid, box and label items; `update` re-labels them for new data ranges."""

    def __init__(self, view: gl.GLViewWidget, height: float) -> None:
        self.view = view
        self.h = height
        self.grid = gl.GLGridItem(glOptions="translucent")
        self.grid.setSize(2, 2, 0)
        self.grid.setSpacing(0.25, 0.25, 1)
        self.box = gl.GLLinePlotItem(mode="lines", antialias=True, width=1.0, glOptions="translucent")
        self.box.setData(pos=self._box_lines())
        self.text_item = LabelsItem()
        self.labels = [self.text_item]
        self.color = (230, 230, 230, 255)
        self.font = QtGui.QFont("DejaVu Sans", 11)
        self.visible = True
        for item in (self.grid, self.box, self.text_item):
            view.addItem(item)
        self._texts: list[tuple[np.ndarray, str, str]] = []  # (pos, text, kind) kind: tick|title

    def _box_lines(self) -> np.ndarray:
        c = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (0, self.h)], dtype=np.float32)
        edges = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)]
        return np.array([c[i] for e in edges for i in e], dtype=np.float32)

    def set_color(self, rgba: tuple[int, int, int, int]) -> None:
        self.color = rgba
        self.grid.setColor((*rgba[:3], 70))
        self.box.setData(color=tuple(c / 255.0 for c in (*rgba[:3], 160)))
        self.text_item.set_items(self.text_item.items, QtGui.QColor(*rgba))

    def set_visible(self, on: bool) -> None:
        self.visible = on
        for item in (self.grid, self.box, *self.labels):
            item.setVisible(on)

    def update(self, xr: tuple[float, float], yr: tuple[float, float], zr: tuple[float, float],
               frame: tuple[int, int, tuple[int, int]] = (-1, 1, (-1, -1))) -> None:
        """Place ticks for the data ranges xr, yr, zr; `frame` = (side of the x1 ticks in y, side of the x2 ticks
        in x, corner of the output axis), chosen by the view so labels sit on the edges facing the camera."""
        texts: list[tuple[np.ndarray, str, str]] = []
        sy, sx, (cx, cy) = frame

        def lin(v: float, r: tuple[float, float], a: float, b: float) -> float:
            return a + (b - a) * (0.5 if r[1] == r[0] else (v - r[0]) / (r[1] - r[0]))

        for v in nice_ticks(*xr):
            texts.append((np.array([lin(v, xr, -1, 1), 1.14 * sy, 0.0]), fmt_tick(v), "tick"))
        for v in nice_ticks(*yr):
            texts.append((np.array([1.14 * sx, lin(v, yr, -1, 1), 0.0]), fmt_tick(v), "tick"))
        for v in nice_ticks(*zr, target=5):
            texts.append((np.array([1.1 * cx, 1.1 * cy, lin(v, zr, 0, self.h)]), fmt_tick(v), "tick"))
        texts.append((np.array([0.0, 1.4 * sy, 0.0]), "x1", "title"))
        texts.append((np.array([1.4 * sx, 0.0, 0.0]), "x2", "title"))
        texts.append((np.array([1.1 * cx, 1.1 * cy, self.h + 0.18]), "output", "title"))
        self._texts = texts
        self.text_item.set_items([(pos, text, self._font(kind)) for pos, text, kind in texts], QtGui.QColor(*self.color))

    def _font(self, kind: str, scale: float = 1.0) -> QtGui.QFont:
        f = QtGui.QFont(self.font)
        f.setPointSizeF(self.font.pointSizeF() * scale * (1.15 if kind == "title" else 1.0))
        f.setBold(kind == "title")
        return f

    def texts(self) -> list[tuple[np.ndarray, str, str]]:
        """The labels as (display position, text, kind), for painting onto exported images."""
        return list(self._texts) if self.visible else []
