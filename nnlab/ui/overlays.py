"""What the views draw over the surface besides the target: the exact linear regions and the optimizer traces.

The engine computes the geometry (nnlab.engine.analysis.regions_map: exact polygons, heights, triangles, edges);
here it is only drawn: in the 3-D view as GL items of a 3-D view layer, in the heatmap by HeatmapView itself.
`Overlays` listens to the Document and its ViewState, runs the region enumeration on a worker thread when the
network on screen changes, and hands both views what to draw, with the region count and the method legend shown
as corner labels.
"""
from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph.opengl as gl
from PySide6 import QtCore, QtWidgets

from nnlab.app.errors import describe
from nnlab.ui.colormaps import colorize, region_colors
from nnlab.ui.gl_render import LIT_SHADER
from nnlab.ui.method_colors import BEST_PX, PATH_PX, POINT_PX, method_color
from nnlab.ui.worker import TaskSlot

if TYPE_CHECKING:
    from nnlab.app.document import Document
    from nnlab.app.view import MethodTrace
    from nnlab.engine.analysis.regions_map import RegionPolygons
    from nnlab.ui.heatmap_view import HeatmapView
    from nnlab.ui.surface_view import SurfaceScene, SurfaceWindow

def _rgba(i: int, alpha: float = 1.0) -> tuple[float, float, float, float]:
    r, g, b = method_color(i)
    return r / 255.0, g / 255.0, b / 255.0, alpha


def legend_html(traces: "tuple[MethodTrace, ...]") -> str:
    """Coloured squares and method names (one line each)."""
    rows = []
    for i, t in enumerate(traces):
        r, g, b = method_color(i)
        rows.append(f'<span style="color: rgb({r},{g},{b})">&#9632;</span>&nbsp;{html.escape(t.label)}')
    return "<br>".join(rows)


class CornerLabel(QtWidgets.QLabel):
    """A label kept in a corner of its parent view (region count, legend); hidden when empty."""

    def __init__(self, parent: QtWidgets.QWidget, corner: str = "top-left") -> None:
        super().__init__(parent)
        self.corner = corner
        self.setObjectName("viewCornerLabel")
        self.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        parent.installEventFilter(self)
        self.hide()

    SCALE = 1.25  # the app's text size times this (it follows Ctrl +/-)

    def show_text(self, text: str) -> None:
        pt = QtWidgets.QApplication.font().pointSizeF() * self.SCALE
        self.setStyleSheet("QLabel#viewCornerLabel { background: rgba(12, 14, 18, 185); color: #f0f0f0;"
                           f" border-radius: 6px; padding: 6px 10px; font-size: {pt:.1f}pt; }}")
        self.setText(text)
        self.setVisible(bool(text))
        self.adjustSize()
        self._place()
        self.raise_()

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        if ev.type() == QtCore.QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        p = self.parentWidget()
        m = 12
        x = m if self.corner.endswith("left") else p.width() - self.width() - m
        y = m if self.corner.startswith("top") else p.height() - self.height() - m
        self.move(max(0, x), max(0, y))


class RegionLayer3D:
    """The exact regions in the 3-D view: the polygons lifted to their exact heights (the network is affine on
    each, so these flat facets are the surface itself, drawn instead of the sampled grid) and their boundaries.
    "filled": one colour per region; "boundaries": the colormap, with the boundary lines on top."""

    LIFT = 0.004  # display units the lines sit above the facets (no z-fighting)

    def __init__(self, view: "SurfaceScene") -> None:
        self.view = view
        self.rp: RegionPolygons | None = None
        self.mode = "filled"
        self.mesh = gl.GLMeshItem(smooth=False, computeNormals=True, shader=LIT_SHADER, glOptions="opaque")
        self.lines = gl.GLLinePlotItem(mode="lines", width=1.5, antialias=True, glOptions="translucent")
        for item in (self.mesh, self.lines):
            item.setVisible(False)
            view.addItem(item)
        view.layers.append(self)

    def set_regions(self, rp: "RegionPolygons | None", mode: str = "filled") -> None:
        self.rp, self.mode = rp, mode
        self.refresh()
        self.view.update()

    def sized_items(self) -> list:
        return []

    def width_items(self) -> list:
        return [self.lines]

    def refresh(self) -> None:
        v, rp = self.view, self.rp
        on = rp is not None and v._z is not None
        self.mesh.setVisible(on)
        self.lines.setVisible(on)
        if not on:
            return
        v.surface.setVisible(False)  # the exact facets are the surface
        pts = v._map(np.column_stack([rp.vertices, rp.heights]))
        if self.mode == "filled":
            owner = np.repeat(np.arange(len(rp)), rp.counts)
            colors = region_colors(rp.ids)[owner]
        else:
            colors = colorize(pts[:, 2] / max(float(v._mz(np.array([v._zr[1]]))[0]), 1e-9), v.colormap())
        self.mesh.setMeshData(vertexes=pts, faces=rp.triangles, vertexColors=np.ascontiguousarray(colors, np.float32))
        seg = pts[rp.edges].reshape(-1, 3).copy()
        seg[:, 2] += self.LIFT
        dark = v.background() == "dark"
        if self.mode == "filled":
            color, width = (0.05, 0.05, 0.08, 0.55), 1.5
        else:
            color, width = ((1.0, 1.0, 1.0, 0.9) if dark else (0.05, 0.05, 0.1, 0.9)), 2.0
        self.lines.setData(pos=seg, color=color, width=width)


class TraceLayer3D:
    """The optimizer traces in the 3-D view: each method's points, walks and best point in its own colour."""

    LIFT = 0.012  # display units above the surface, so points on it stay visible

    def __init__(self, view: "SurfaceScene") -> None:
        self.view = view
        self.traces: tuple = ()
        self.points = gl.GLScatterPlotItem(glOptions="translucent")
        self.paths = gl.GLLinePlotItem(mode="lines", width=PATH_PX, antialias=True, glOptions="translucent")
        self.best = gl.GLScatterPlotItem(glOptions="translucent")
        for item in (self.paths, self.points, self.best):
            item.setVisible(False)
            view.addItem(item)
        view.layers.append(self)

    def set_traces(self, traces: tuple) -> None:
        self.traces = tuple(traces)
        self.refresh()
        self.view.update()

    def sized_items(self) -> list:
        return [self.points, self.best]

    def width_items(self) -> list:
        return [self.paths]

    def refresh(self) -> None:
        v = self.view
        pts, pcol, segs, scol, best, bcol = [], [], [], [], [], []
        if v._z is not None:
            for i, t in enumerate(self.traces):
                if t.points is not None and len(t.points):
                    pts.append(v._map(t.points))
                    pcol.append(np.tile(_rgba(i, 0.9), (len(t.points), 1)))
                for p in t.paths:
                    if len(p) >= 2:
                        s = np.repeat(v._map(p), 2, axis=0)[1:-1]
                        segs.append(s)
                        scol.append(np.tile(_rgba(i, 1.0), (len(s), 1)))
                if t.best is not None:
                    best.append(v._map(t.best))
                    bcol.append(np.array([_rgba(i)]))
        for item, data, col, size in ((self.points, pts, pcol, POINT_PX), (self.best, best, bcol, BEST_PX)):
            if data:
                pos = np.concatenate(data)
                pos[:, 2] += self.LIFT
                item.setData(pos=pos, color=np.concatenate(col).astype(np.float32), size=size)
            item.setVisible(bool(data))
        if segs:
            pos = np.concatenate(segs)
            pos[:, 2] += self.LIFT
            self.paths.setData(pos=pos, color=np.concatenate(scol).astype(np.float32))
        self.paths.setVisible(bool(segs))


class Overlays(QtCore.QObject):
    """Keeps the region overlay and the optimizer traces of both views in step with the Document.

    Regions are enumerated again (on a worker thread) whenever the network on screen changes; while training shows
    surfaces of a network not yet on screen they are hidden ("updates when training stops"), so what is drawn
    always belongs to the surface under it."""

    def __init__(self, doc: "Document", view3d: "SurfaceWindow", view2d: "HeatmapView",
                 parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.view3d, self.view2d = doc, view3d, view2d
        self.regions3d = RegionLayer3D(view3d)
        self.traces3d = TraceLayer3D(view3d)
        self.count_labels = [CornerLabel(view3d.widget, "top-left"), CornerLabel(view2d, "top-left")]
        self.legends = [CornerLabel(view3d.widget, "top-right"), CornerLabel(view2d.viewport(), "top-right")]
        view3d.add_overlay(self.count_labels[0])  # (drawn by the GL window, which covers them)
        view3d.add_overlay(self.legends[0])
        self.slot = TaskSlot(self)
        self.rp: RegionPolygons | None = None
        self._for: tuple = ()  # (network, box) the polygons belong to
        self._hidden = False  # training shows surfaces of networks not on screen yet
        self._pending: tuple = (None, None)  # the (network, box) being enumerated
        self.limit: int | None = None  # regions drawn at most (None: the engine's OVERLAY_LIMIT)
        self.note = ""  # what the count label says
        doc.network_changed.connect(self._network_changed)
        doc.surface_changed.connect(self._surface_changed)
        doc.scene_changed.connect(self._scene_changed)
        doc.view.changed.connect(self._view_changed)
        doc.training.changed.connect(self._training_changed)

    # ---- regions ------------------------------------------------------------------------------------------
    def _wanted(self) -> bool:
        v = self.doc.view
        return v.show_regions and v.unit is None and self.doc.net.input_dim == 2

    def _network_changed(self) -> None:
        self.rp, self._for, self._hidden = None, (), False
        self.update_regions()

    def _surface_changed(self) -> None:
        if self.doc.training.running and self._wanted() and not self._hidden:
            self._hidden = True
            self.slot.cancel()
            self._draw_regions(None, "Linear regions: shown again when training stops")

    def _training_changed(self, name: str, value: Any) -> None:
        if name == "running" and not value and self._hidden:
            self._hidden = False
            self.update_regions()

    def _scene_changed(self) -> None:
        if self._for and self._for[1] != self.doc._box():
            self._network_changed()  # a new box: new regions
        elif self.rp is not None and not self._hidden and self._wanted():
            self._draw_regions(self.rp)  # (colormap)

    def update_regions(self) -> None:
        """Draw the regions of the network on screen (enumerated on a worker when not known yet)."""
        if not self._wanted():
            self.slot.cancel()
            self._draw_regions(None, "")
            return
        if self._hidden:
            return
        key = (self.doc.net, self.doc._box())
        if self.rp is not None and self._for[0] is key[0] and self._for[1] == key[1]:
            self._draw_regions(self.rp)
            return
        self._draw_regions(None, "Linear regions: computing…")
        if self.slot.busy and self._pending[0] is key[0] and self._pending[1] == key[1]:
            return  # (already being enumerated: a mode switch does not start it again)
        self._pending = key
        # in a worker process: the enumeration (about a second for 15,000 regions) never stalls the GUI
        self.slot.start(self.doc.regions_job(self.limit), None, lambda rp, key=key: self._arrived(rp, key),
                        self._failed, process=True)

    def _arrived(self, rp: "RegionPolygons", key: tuple) -> None:
        if key[0] is not self.doc.net or key[1] != self.doc._box():
            return
        self.rp, self._for = rp, key
        if self._wanted() and not self._hidden:
            self._draw_regions(rp)

    def _failed(self, err: Exception) -> None:
        msg = describe(err)
        self._draw_regions(None, f"Linear regions not drawn: {html.escape(msg)}")
        self.doc.error.emit(f"region overlay: {msg}")

    def _draw_regions(self, rp: "RegionPolygons | None", note: str | None = None) -> None:
        mode = self.doc.view.region_mode
        self.regions3d.set_regions(rp, mode)
        self.view2d.set_regions(rp, mode)
        if rp is None and self.view3d._z is not None:
            self.view3d.surface.setVisible(True)
        if note is None:
            note = f"<b>{len(rp):,}</b> linear regions (exact)" if rp is not None else ""
        self.note = note
        for lab in self.count_labels:
            lab.show_text(note)

    # ---- optimizer traces ---------------------------------------------------------------------------------
    def _draw_traces(self) -> None:
        v = self.doc.view
        traces = v.traces if v.unit is None else ()
        self.traces3d.set_traces(traces)
        self.view2d.set_traces(traces)
        text = legend_html(traces)
        for lab in self.legends:
            lab.show_text(text)

    def _view_changed(self, name: str, value: Any) -> None:
        if name in ("show_regions", "unit", "region_mode"):
            self.update_regions()
        if name in ("traces", "unit"):
            self._draw_traces()
        if name == "theme" and self.rp is not None and self._wanted() and not self._hidden:
            self._draw_regions(self.rp)
        if name == "point_size":  # the labels follow the text size
            for lab in (*self.count_labels, *self.legends):
                if lab.text():
                    lab.show_text(lab.text())

    def shutdown(self, deadline: float | None = None) -> bool:
        return self.slot.shutdown(deadline=deadline)
