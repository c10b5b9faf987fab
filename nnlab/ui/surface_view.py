"""The 3-D surface view: a lit, colormapped surface in a fixed display cube, with axes, overlays and markers.

Data (x1, x2, value) are mapped into [-1,1]^2 x [0, H] so one camera fits every domain; items are updated in place.
`render_image` is the one offscreen render path (screenshots, export frames and stills, see nnlab.ui.render).
"""
from __future__ import annotations

import atexit
import weakref
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import pyqtgraph.opengl as gl
import shiboken6
from OpenGL import GL
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat, QOpenGLWindow

from nnlab.ui.axes3d import Axes3D, WidgetsItem
from nnlab.ui.colormaps import colorize
from nnlab.ui.cube import (  # the picture's numbers, shared with the Qt-free export renderer (nnlab.ui.egl_render)
    BACKGROUNDS, CENTER, FOV, HOME, MARKER_COLOR, MARKER_LIFT, MARKER_SIZE, PATH_WIDTH, STEM_COLOR, H, cube_axis,
    cube_heights, cube_points, value_range,
)
from nnlab.ui.gl_render import LIT_SHADER, grid_normals

__all__ = ["BACKGROUNDS", "H", "HOME", "SurfaceScene", "SurfaceView", "SurfaceWindow"]

class SurfaceScene:
    """What the 3-D view draws and how, for either GL surface: z[i, j] = f(xs[i], ys[j]) with optional points,
    paths, optimum marker and target overlay. Mixed into SurfaceView (a QOpenGLWidget: offscreen export views and
    tests) and SurfaceWindow (a QOpenGLWindow: the app's on-screen views); both are pyqtgraph GLViewMixins."""

    def _init_scene(self) -> None:
        self._xs = np.linspace(0, 1, 2)
        self._ys = np.linspace(0, 1, 2)
        self._z: np.ndarray | None = None
        self._overlay: np.ndarray | None = None
        self._overlay_mode = "wireframe"
        self._region_colors: np.ndarray | None = None
        self._cmap = "viridis"
        self._zr = (0.0, 1.0)
        self._pts: tuple[np.ndarray, tuple, float] | None = None
        self._paths: tuple[list[np.ndarray], tuple] | None = None
        self._marker: np.ndarray | None = None
        self._frame: tuple = ()
        self._last_cam: tuple = ()
        self._fbos: tuple | None = None  # (key, supersampled target, output-size target) of render_image
        self.surface = gl.GLSurfacePlotItem(smooth=True, computeNormals=True, shader=LIT_SHADER, glOptions="opaque")
        self.surface.setVisible(False)  # an empty mesh cannot be drawn
        self.addItem(self.surface)
        self.overlay_mesh = gl.GLSurfacePlotItem(smooth=False, computeNormals=False, glOptions="translucent",
                                                 color=(1.0, 1.0, 1.0, 0.28))
        self.overlay_lines = gl.GLLinePlotItem(mode="lines", width=1.0, antialias=True, glOptions="translucent")
        self.scatter = gl.GLScatterPlotItem(glOptions="translucent")
        self.path_lines = gl.GLLinePlotItem(mode="lines", width=PATH_WIDTH, antialias=True, glOptions="translucent")
        self.marker = gl.GLScatterPlotItem(glOptions="translucent")
        self.marker_stem = gl.GLLinePlotItem(mode="lines", width=PATH_WIDTH, antialias=True, glOptions="translucent")
        for item in (self.overlay_mesh, self.overlay_lines, self.scatter, self.path_lines, self.marker,
                     self.marker_stem):
            item.setVisible(False)
            self.addItem(item)
        self.axes = Axes3D(self, H)
        # extra items drawn in the cube (nnlab.ui.overlays: exact regions, optimizer traces): refresh() after each
        # surface change; sized_items() / width_items() are scaled like ours in supersampled renders
        self.layers: list = []
        self.set_background("dark")
        self.reset_camera()

    # ---- mapping data -> display cube -------------------------------------------------------------
    def _map(self, pts: np.ndarray) -> np.ndarray:
        return cube_points(pts, (self._xs[0], self._xs[-1]), (self._ys[0], self._ys[-1]), self._zr)

    def _mz(self, z: np.ndarray) -> np.ndarray:
        return cube_heights(z, self._zr)

    def data_ranges(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        return (float(self._xs[0]), float(self._xs[-1])), (float(self._ys[0]), float(self._ys[-1])), self._zr

    # ---- public API ----------------------------------------------------------------------------------
    def set_surface(self, xs: np.ndarray, ys: np.ndarray, z: np.ndarray) -> None:
        xs, ys = np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        if z.shape != (len(xs), len(ys)):
            raise ValueError(f"z has shape {z.shape}, expected ({len(xs)}, {len(ys)})")
        self._xs, self._ys, self._z = xs, ys, z
        if self._overlay is not None and self._overlay.shape != z.shape:
            self._overlay = None
        if self._region_colors is not None and self._region_colors.shape[:2] != z.shape:
            self._region_colors = None
        self._refresh()

    def clear(self) -> None:
        """Show nothing: no surface, overlay, points, paths or marker (a scene that failed to load)."""
        self._z = self._overlay = self._region_colors = None
        self._pts = self._paths = self._marker = None
        for item in (self.surface, self.overlay_mesh, self.overlay_lines):
            item.setVisible(False)
        self._refresh_markers()
        for layer in self.layers:
            layer.refresh()
        self.update()

    def _refresh(self) -> None:
        if self._z is None:
            return
        stack = [self._z] + ([self._overlay] if self._overlay is not None else [])
        self._zr = value_range(*stack)
        gx, gy = cube_axis(self._xs), cube_axis(self._ys)
        zd = np.nan_to_num(self._mz(self._z), nan=0.0)
        self.surface.setData(x=gx, y=gy, z=zd, colors=self._surface_colors(zd))
        # pyqtgraph averages face normals in a Python loop per vertex (~150 ms at 100x100, too slow while
        # training); on a grid the normal is (-dz/dx, -dz/dy, 1), which numpy gives in about a millisecond
        self.surface._meshdata._vertexNormals = grid_normals(gx, gy, zd)
        self.surface.setVisible(True)
        self._refresh_overlay(gx, gy)
        self._refresh_markers()
        for layer in self.layers:
            layer.refresh()
        self._frame = self._label_frame()
        self.axes.update(*self.data_ranges(), frame=self._frame)
        self.update()

    def _label_frame(self) -> tuple[int, int, tuple[int, int]]:
        """Edges facing the camera for the x1/x2 ticks, and the left-most side corner for the output axis."""
        cam = self.cameraPosition()
        sy = 1 if cam.y() >= 0 else -1
        sx = 1 if cam.x() >= 0 else -1
        m = self.projectionMatrix((0, 0, 100, 100), (0, 0, 100, 100)) * self.viewMatrix()
        corners = [(sx, -sy), (-sx, sy)]
        corner = min(corners, key=lambda c: m.map(QtGui.QVector3D(c[0], c[1], 0.0)).x())
        return sy, sx, corner

    def _follow_camera(self) -> None:
        """Move the tick labels to the edges facing the camera when it has moved to another side."""
        if self._z is not None and self._label_frame() != self._frame:
            self._frame = self._label_frame()
            self.axes.update(*self.data_ranges(), frame=self._frame)

    def paintGL(self) -> None:  # noqa: N802 - Qt's name
        self._follow_camera()
        GLViewMixin.paintGL(self)
        cam = self.camera()
        if cam != self._last_cam:
            self._last_cam = cam
            self.camera_changed.emit()

    def _surface_colors(self, zd: np.ndarray) -> np.ndarray:
        if self._region_colors is not None:
            return np.ascontiguousarray(self._region_colors, dtype=np.float32)
        return np.ascontiguousarray(colorize(zd / H, self._cmap))

    def _refresh_overlay(self, gx: np.ndarray, gy: np.ndarray) -> None:
        on = self._overlay is not None
        self.overlay_mesh.setVisible(on and self._overlay_mode == "translucent")
        self.overlay_lines.setVisible(on and self._overlay_mode == "wireframe")
        if not on:
            return
        oz = np.nan_to_num(self._mz(self._overlay), nan=0.0)
        if self._overlay_mode == "translucent":
            self.overlay_mesh.setData(x=gx, y=gy, z=oz)
            return
        step = max(1, len(gx) // 24)
        rows, cols = list(range(0, len(gx), step)), list(range(0, len(gy), step))
        segs = []
        for i in rows:  # lines along x2 at fixed x1
            p = np.column_stack([np.full(len(gy), gx[i]), gy, oz[i]])
            segs.append(np.repeat(p, 2, axis=0)[1:-1])
        for j in cols:
            p = np.column_stack([gx, np.full(len(gx), gy[j]), oz[:, j]])
            segs.append(np.repeat(p, 2, axis=0)[1:-1])
        self.overlay_lines.setData(pos=np.concatenate(segs).astype(np.float32), color=self._overlay_color)

    def _refresh_markers(self) -> None:
        if self._pts is not None:
            pts, color, size = self._pts
            self.scatter.setData(pos=self._map(pts), color=color, size=size)
        self.scatter.setVisible(self._pts is not None and len(self._pts[0]) > 0)
        if self._paths is not None:
            paths, color = self._paths
            segs = [np.repeat(self._map(p), 2, axis=0)[1:-1] for p in paths if len(p) >= 2]
            if segs:
                self.path_lines.setData(pos=np.concatenate(segs), color=color)
        self.path_lines.setVisible(self._paths is not None and any(len(p) >= 2 for p in self._paths[0]))
        if self._marker is not None:
            m = self._map(self._marker)
            m[0, 2] += MARKER_LIFT  # sit on the surface, not in it
            self.marker.setData(pos=m, color=MARKER_COLOR, size=MARKER_SIZE)
            self.marker_stem.setData(pos=np.array([[m[0, 0], m[0, 1], 0.0], m[0]], dtype=np.float32),
                                     color=STEM_COLOR)
        self.marker.setVisible(self._marker is not None)
        self.marker_stem.setVisible(self._marker is not None)

    def set_colormap(self, name: str) -> None:
        colorize(np.zeros(1), name)  # validates the name
        self._cmap = name
        self._refresh()

    def colormap(self) -> str:
        return self._cmap

    def set_background(self, name: str) -> None:
        if name not in BACKGROUNDS:
            raise ValueError(f"unknown background {name!r}; allowed: {', '.join(BACKGROUNDS)}")
        self._bg = name
        bg, fg = BACKGROUNDS[name]
        self.setBackgroundColor(bg)
        self.axes.set_color(fg)
        self._overlay_color = (1.0, 1.0, 1.0, 0.55) if name == "dark" else (0.1, 0.1, 0.15, 0.55)
        self.overlay_mesh.setColor((1.0, 1.0, 1.0, 0.28) if name == "dark" else (0.2, 0.2, 0.3, 0.25))
        self._refresh()

    def background(self) -> str:
        return self._bg

    def set_label_size(self, points: float) -> None:
        """Tick label size in points (bigger in lecture mode)."""
        self.axes.font.setPointSizeF(float(points))
        self._refresh()

    def set_axes_visible(self, on: bool) -> None:
        self.axes.set_visible(bool(on))
        self.update()

    def set_points(self, pts: np.ndarray | None, color=(1, 1, 1, 1), size: float = 6) -> None:
        self._pts = None if pts is None else (np.asarray(pts, dtype=np.float64).reshape(-1, 3), color, size)
        self._refresh_markers()
        self.update()

    def set_paths(self, paths: list[np.ndarray] | None, color=(1.0, 0.55, 0.1, 1.0)) -> None:
        self._paths = None if paths is None else ([np.asarray(p, dtype=np.float64).reshape(-1, 3) for p in paths],
                                                  color)
        self._refresh_markers()
        self.update()

    def set_marker(self, p: np.ndarray | None) -> None:
        self._marker = None if p is None else np.asarray(p, dtype=np.float64).reshape(3)
        self._refresh_markers()
        self.update()

    def set_overlay(self, z: np.ndarray | None, mode: str = "wireframe") -> None:
        if mode not in ("wireframe", "translucent"):
            raise ValueError(f"unknown overlay mode {mode!r}; allowed: wireframe, translucent")
        if z is not None and self._z is not None and np.shape(z) != self._z.shape:
            raise ValueError(f"overlay has shape {np.shape(z)}, expected {self._z.shape}")
        self._overlay = None if z is None else np.asarray(z, dtype=np.float64)
        self._overlay_mode = mode
        self._refresh()

    def set_region_colors(self, colors: np.ndarray | None) -> None:
        if colors is not None and self._z is not None and np.shape(colors) != (*self._z.shape, 4):
            raise ValueError(f"region colours have shape {np.shape(colors)}, expected {(*self._z.shape, 4)}")
        self._region_colors = None if colors is None else np.asarray(colors, dtype=np.float32)
        self._refresh()

    def set_camera(self, elevation: float, azimuth: float, distance: float | None = None) -> None:
        kw = {"elevation": float(elevation), "azimuth": float(azimuth)}
        if distance is not None and distance > 0:
            kw["distance"] = float(distance)
        self.setCameraPosition(pos=QtGui.QVector3D(*CENTER), **kw)
        self._follow_camera()  # offscreen renders paint without paintGL

    def camera(self) -> tuple[float, float, float]:
        return float(self.opts["elevation"]), float(self.opts["azimuth"]), float(self.opts["distance"])

    def reset_camera(self) -> None:
        self.opts["fov"] = FOV
        self.set_camera(*HOME)

    # ---- offscreen rendering (screenshots and export) ---------------------------------------------------
    supersample = 2  # rendered at 2x and averaged down on the GL side; MSAA 4x is slower than this in llvmpipe
    keep_targets = False  # keep the framebuffers for the next call (export views); a screenshot frees them

    def render_image(self, width: int, height: int, gl_labels: bool = False) -> np.ndarray:
        """(height, width, 4) RGBA uint8 of the current camera, top row first. With `gl_labels` the tick labels
        are the view's own (sized as on screen: a picture of the window), else painted for the image's size.

        Rendered at `supersample` x the size and averaged down by a linear blit to the output size (a 2x2 box
        filter, mirrored top-down on the way), so only the output size is read back, straight into a numpy array.
        With `keep_targets` the framebuffers are kept between calls (allocating a 1600x1200 colour + depth pair
        per frame cost llvmpipe ~10 ms; export views keep them, until release_targets()); tick labels are painted onto the output at its own size (legible at any size).
        Above 8192 pixels supersampled, 4x multisampling is used instead (and the image flipped on the CPU: a
        multisampled source cannot be mirrored by the blit)."""
        width, height = int(width), int(height)
        if width < 1 or height < 1:
            raise ValueError(f"image size {width}x{height} must be positive")
        self.makeCurrent()
        ss = self.supersample if max(width, height) * self.supersample <= 8192 else 1
        W, Hh = width * ss, height * ss
        img = np.empty((height, width, 4), dtype=np.uint8)
        flip = ss > 1  # destination rows reversed in the blit: the read-back comes out top-down, as images want
        try:
            ms, out = self._targets(width, height, ss)
            with self._sized_for(ss, hide_labels=not gl_labels):
                ms.bind()
                GL.glViewport(0, 0, W, Hh)
                self.paint(region=(0, 0, W, Hh), viewport=(0, 0, W, Hh))
                GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, ms.handle())
                GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, out.handle())
                GL.glBlitFramebuffer(0, 0, W, Hh, 0, height if flip else 0, width, 0 if flip else height,
                                     GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR if ss > 1 else GL.GL_NEAREST)
                GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, out.handle())
                GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 4)
                GL.glReadPixels(0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, img)
                out.release()
            if not self.keep_targets:
                self._fbos = None  # freed while the context is current
        finally:
            self.doneCurrent()
        if not flip:
            img = img[::-1].copy()
        img[..., 3] = 255
        return img if gl_labels else np.ascontiguousarray(self._paint_labels(img))

    def _targets(self, width: int, height: int, ss: int) -> tuple:
        """The (supersampled or multisampled, output-size) framebuffer pair, made when the size changes."""
        samples = 0 if ss > 1 else 4
        key = (width, height, ss, samples)
        if self._fbos is None or self._fbos[0] != key:
            self._fbos = None  # free the old pair first (the context is current)
            fmt = QOpenGLFramebufferObjectFormat()
            fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
            fmt.setSamples(samples)
            self._fbos = (key, QOpenGLFramebufferObject(width * ss, height * ss, fmt),
                          QOpenGLFramebufferObject(width, height))
        return self._fbos[1], self._fbos[2]

    def release_targets(self) -> None:
        """Free the kept framebuffers while the GL context still exists (before closing the view)."""
        if self._fbos is not None:
            self.makeCurrent()
            self._fbos = None
            self.doneCurrent()

    @contextmanager
    def _sized_for(self, ss: int, hide_labels: bool = True) -> Iterator[None]:
        """Hide the GL tick labels (painted onto the image at the output size instead) and scale point sizes and
        line widths by the supersampling factor, restoring all of it afterwards."""
        shown = [item for item in self.axes.labels if item.visible()] if hide_labels else []
        sized = [(it, it.size) for it in (self.scatter, self.marker)]
        widths = [(it, it.width) for it in (self.path_lines, self.marker_stem, self.overlay_lines, self.axes.box)]
        for layer in self.layers:
            sized += [(it, it.size) for it in layer.sized_items()]
            widths += [(it, it.width) for it in layer.width_items()]
        try:
            for item in shown:
                item.setVisible(False)
            for it, v in sized:
                it.size = v * ss
            for it, v in widths:
                it.width = v * ss
            yield
        finally:
            for item in shown:
                item.setVisible(True)
            for it, v in sized:
                it.size = v
            for it, v in widths:
                it.width = v

    def _paint_labels(self, img: np.ndarray) -> np.ndarray:
        """Tick labels painted on a rendered image, sized for the image (not the widget)."""
        texts = self.axes.texts()
        if not texts:
            return img
        Hh, W = img.shape[:2]
        qimg = QtGui.QImage(img.tobytes(), W, Hh, 4 * W, QtGui.QImage.Format.Format_RGBA8888).copy()
        mvp = QtGui.QMatrix4x4()
        mvp.viewport(0, Hh, W, -Hh)
        mvp = mvp * self.projectionMatrix((0, 0, W, Hh), (0, 0, W, Hh)) * self.viewMatrix()
        painter = QtGui.QPainter(qimg)
        try:  # an exception with the painter still active crashes when the image is freed
            painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
            painter.setPen(QtGui.QColor(*self.axes.color))
            scale = max(0.6, Hh / 600.0)  # legible at any export size
            fonts: dict[str, tuple[QtGui.QFont, QtGui.QFontMetricsF]] = {}  # one font per kind, not per label
            for pos, text, kind in texts:
                if kind not in fonts:
                    font = self.axes._font(kind, scale)
                    fonts[kind] = (font, QtGui.QFontMetricsF(font))
                font, metrics = fonts[kind]
                painter.setFont(font)
                p = mvp.map(QtGui.QVector3D(*map(float, pos))).toPointF()
                rect = metrics.tightBoundingRect(text)
                painter.drawText(QtCore.QPointF(p.x() - rect.width() / 2, p.y() + rect.height() / 2), text)
        finally:
            painter.end()
        out = np.frombuffer(qimg.constBits(), dtype=np.uint8, count=Hh * qimg.bytesPerLine())
        return out.reshape(Hh, qimg.bytesPerLine())[:, :4 * W].reshape(Hh, W, 4).copy()


class SurfaceView(SurfaceScene, gl.GLViewWidget):
    """The surface in a QOpenGLWidget: the offscreen views of export and stills (nnlab.ui.render). Not for the
    app's window: one QOpenGLWidget makes Qt compose the whole window with GL on every repaint of anything, 17-30
    ms per label change at 1080p under software GL (bench/gl_composite.py); the window uses SurfaceWindow."""

    camera_changed = QtCore.Signal()  # emitted when a repaint shows a new camera (for linked views)

    def __init__(self, parent=None) -> None:
        gl.GLViewWidget.__init__(self, parent)
        self._init_scene()


_LIVE: "weakref.WeakSet[SurfaceWindow]" = weakref.WeakSet()


@atexit.register  # (after PySide's own exit handler is registered, so it runs before it)
def _delete_windows() -> None:
    """Delete the top-level windows that hold a SurfaceWindow (and with them their containers and GL windows)
    before PySide's exit clean-up. PySide counts a SurfaceWindow as Python's (it does not know that its container
    took it) and deleted it at exit while the container lived on; Qt then crashed destroying the container's
    top-level window (QWindowContainer::toplevelAboutToBeDestroyed reads the window it thinks it still has)."""
    for view in list(_LIVE):
        if shiboken6.isValid(view) and shiboken6.isValid(view.widget):
            shiboken6.delete(view.widget.window())


class SurfaceWindow(SurfaceScene, GLViewMixin, QOpenGLWindow):
    """The surface in a QOpenGLWindow, shown in the app's window through `widget` (its window container): the
    window stays a raster window and a repaint of a label costs about 1 ms instead of a GL composition of the
    whole window (bench/gl_composite.py). Widgets laid over the view (add_overlay) are drawn by the GL window."""

    camera_changed = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__()
        fmt = QtGui.QSurfaceFormat.defaultFormat()
        fmt.setDepthBufferSize(24)  # a QOpenGLWidget's framebuffer has one; a window's format must ask for it
        fmt.setStencilBufferSize(8)
        self.setFormat(fmt)
        self.widget = QtWidgets.QWidget.createWindowContainer(self, parent)
        _LIVE.add(self)
        self.widget.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.widget.setMinimumSize(64, 64)
        self._init_scene()
        self.overlay_widgets = WidgetsItem(self.widget)
        self.addItem(self.overlay_widgets)

    def devicePixelRatioF(self) -> float:  # noqa: N802 - GLViewMixin asks a widget's name
        return float(self.devicePixelRatio())

    def add_overlay(self, w: QtWidgets.QWidget) -> None:
        """Draw `w` over the view wherever it overlaps it (it is a widget above the view: see WidgetsItem)."""
        self.overlay_widgets.widgets.append(w)
        w.installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, ev: QtCore.QEvent) -> bool:  # noqa: N802 - Qt's name
        T = QtCore.QEvent.Type
        if ev.type() in (T.Show, T.Hide, T.Move, T.Resize, T.Paint, T.StyleChange, T.FontChange) \
                and not self.overlay_widgets.grabbing:
            self.update()  # an overlay changed (a new text repaints it): draw it again
        return False

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self.widget.setFocus(QtCore.Qt.FocusReason.MouseFocusReason)  # as a widget with ClickFocus: the keys
        super().mousePressEvent(ev)  # typed next go to the view, not to the field edited before

    def render_image(self, width: int, height: int, overlays: bool = False) -> np.ndarray:
        """SurfaceScene.render_image; with `overlays`, the labels laid over the view too (a picture of the window:
        grabFramebuffer would only read back whatever the window last drew). Stills and exports show the scene."""
        if not self.isValid():  # a QOpenGLWindow makes its context on its first exposure
            raise RuntimeError("the 3-D view has not been shown yet: it has no GL context to render with")
        self.overlay_widgets.suspended = not overlays
        try:
            return super().render_image(width, height, gl_labels=overlays)
        finally:
            self.overlay_widgets.suspended = False
