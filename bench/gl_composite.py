"""What one repaint costs in a maximized window that holds a 3-D view, under software GL (llvmpipe), three ways:
the app's way (the view is a QOpenGLWidget, so the whole window is composed by GL on every repaint of anything), a
QOpenGLWindow in a window container (the window stays a raster window; only the GL view renders with GL), and no GL
surface in the window at all: a hidden SurfaceView renders offscreen (its render_image, FBO + glReadPixels, at 1x with
4x MSAA as render_image does at 1x; the same without MSAA; and "lean": only paint + glReadPixels, no blit, no label
pass, the least an offscreen frame can cost) and a plain raster QWidget paints the pixels.

All are measured in one run, one after the other, on the same load: a bare QMainWindow at 1920x1080 with two docks,
a label in a dock changed 10 times a second and the same lit, colour-mapped, smooth 100x100 surface (SurfaceView's
shader, colours and camera; axes off) changed 4 times a second (about the training panel's rates), for SECONDS each.
It prints the median and max time of the window's repaints (raster widgets plus composition), of the view's own
frames (GL frame, or offscreen render + read-back), the longest event-loop gap, and the ratios. This is the floor under
bench/ui_latency.py: with a QOpenGLWidget at 1080p no repaint of anything is cheaper than one composition, and in
every mode one frame of the view is painted on the GUI thread.
Run: QT_QPA_PLATFORM=xcb LIBGL_ALWAYS_SOFTWARE=1 xvfb-run -a -s "-screen 0 1920x1080x24 -nolisten tcp" \
     .venv/bin/python bench/gl_composite.py [SECONDS]
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np


def run(mode: str, seconds: float) -> dict[str, np.ndarray]:
    import pyqtgraph.opengl as gl
    from OpenGL import GL
    from pyqtgraph.opengl.GLViewWidget import GLViewMixin
    from PySide6 import QtCore, QtGui, QtOpenGL, QtWidgets

    app = QtWidgets.QApplication.instance()
    ms: dict[str, list[float]] = {"window repaint": [], "GL frame": []}

    def timed(cls: type, key: str) -> type:
        class Timed(cls):
            def event(self, ev):  # noqa: N802 - Qt's name
                if ev.type() != QtCore.QEvent.Type.UpdateRequest:
                    return super().event(ev)
                t0 = time.perf_counter()
                try:
                    return super().event(ev)
                finally:
                    ms[key].append(1000.0 * (time.perf_counter() - t0))
        return Timed

    class GLWindow(GLViewMixin, QtOpenGL.QOpenGLWindow):
        def devicePixelRatioF(self) -> float:  # noqa: N802 - GLViewMixin asks a widget's name
            return self.devicePixelRatio()

    class ImageView(QtWidgets.QWidget):
        """A raster widget showing the offscreen-rendered frame (the window stays a raster window)."""

        def __init__(self) -> None:
            super().__init__()
            self.image = QtGui.QImage()
            self.flipped = False  # bottom row first (glReadPixels' order): mirrored while painting

        def paintEvent(self, ev) -> None:  # noqa: N802 - Qt's name
            painter = QtGui.QPainter(self)
            if self.flipped:
                painter.translate(0, self.image.height())
                painter.scale(1, -1)
            painter.drawImage(QtCore.QPoint(0, 0), self.image)
            painter.end()

    win = timed(QtWidgets.QMainWindow, "window repaint")()
    n = 100
    x = np.linspace(-1, 1, n)
    X, Y = np.meshgrid(x, x, indexing="ij")
    renderer = None
    if mode.startswith("offscreen"):
        from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

        from nnlab.ui.surface_view import SurfaceView

        samples = 4 if mode == "offscreen" else 0

        class Hidden(SurfaceView):
            def _targets(self, width: int, height: int, ss: int) -> tuple:
                """render_image's 1x targets with `samples` (it always takes 4x MSAA at 1x)."""
                if self._fbos is None or self._fbos[0] != (width, height, ss, samples):
                    self._fbos = None
                    fmt = QOpenGLFramebufferObjectFormat()
                    fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
                    fmt.setSamples(samples)
                    self._fbos = ((width, height, ss, samples), QOpenGLFramebufferObject(width, height, fmt),
                                  QOpenGLFramebufferObject(width, height))
                return self._fbos[1], self._fbos[2]

        renderer = Hidden()  # the app's view, hidden: its one offscreen path (FBO render + glReadPixels)
        renderer.supersample = 1  # on-screen size, no 2x supersampling
        renderer.keep_targets = True
        renderer.set_axes_visible(False)  # as the other two modes: a bare surface
        renderer.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        renderer.resize(64, 64)
        renderer.show()
        renderer.setUpdatesEnabled(False)  # never composes its own (hidden) window
        renderer.set_surface(x, x, np.zeros((n, n)))
        view = central = ImageView()
    elif mode == "widget":
        view = central = gl.GLViewWidget()
    else:
        view = timed(GLWindow, "GL frame")()
        central = QtWidgets.QWidget.createWindowContainer(view)
    if renderer is None:
        from nnlab.ui.gl_render import LIT_SHADER

        surface = gl.GLSurfacePlotItem(x=x, y=x, z=np.zeros((n, n), np.float32), shader=LIT_SHADER,
                                       computeNormals=False, smooth=True, glOptions="opaque")  # SurfaceView's
        view.addItem(surface)
        view.opts["fov"] = 45  # SurfaceView's camera, so every mode fills the same pixels
        view.setCameraPosition(pos=QtGui.QVector3D(0, 0, 0.42), elevation=28, azimuth=-60, distance=5.6)
    win.setCentralWidget(central)
    label = None
    for area in (QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea):
        dock = QtWidgets.QDockWidget("panel")
        label = QtWidgets.QLabel("epoch 0")
        label.setMinimumWidth(360)
        dock.setWidget(label)
        win.addDockWidget(area, dock)
    win.setGeometry(app.primaryScreen().availableGeometry())
    win.showMaximized()
    end = time.perf_counter() + 2.0
    while time.perf_counter() < end:  # first paints, shader compilation
        app.processEvents()
        time.sleep(0.001)
    for v in ms.values():
        v.clear()
    rng = np.random.default_rng(0)
    count = [0]

    def text() -> None:
        count[0] += 1
        label.setText(f"epoch {count[0]}")

    t_text, t_gl, t_tick = QtCore.QTimer(), QtCore.QTimer(), QtCore.QTimer()
    t_text.timeout.connect(text)

    def frame() -> None:  # a smooth surface in [0, 1.2] that moves (as while training; SurfaceView's cube)
        z = (0.6 + 0.6 * np.sin(3 * X + rng.random() * 6) * np.cos(2 * Y)).astype(np.float32)
        if renderer is None:  # the same lit, colour-mapped surface as SurfaceView draws
            from nnlab.ui.colormaps import colorize
            from nnlab.ui.gl_render import grid_normals

            surface.setData(z=z, colors=np.ascontiguousarray(colorize(z / 1.2, "viridis")))
            surface._meshdata._vertexNormals = grid_normals(x, x, z)
            return
        renderer.set_surface(x, x, z)  # (the app's path: colours and grid normals in numpy; not timed)
        t0 = time.perf_counter()  # the offscreen frame: render at the view's size, wrap, ask for a repaint
        w, h = view.width(), view.height()
        if mode == "offscreen-lean":  # the least an offscreen frame can cost: paint, read back, nothing else
            renderer.makeCurrent()
            fbo, _ = renderer._targets(w, h, 1)
            fbo.bind()
            GL.glViewport(0, 0, w, h)
            with renderer._sized_for(1):
                renderer.paint(region=(0, 0, w, h), viewport=(0, 0, w, h))
            GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 4)
            view.pixels = np.empty((h, w, 4), dtype=np.uint8)  # (kept alive: the QImage wraps it)
            GL.glReadPixels(0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, view.pixels)
            fbo.release()
            renderer.doneCurrent()
            view.image = QtGui.QImage(view.pixels.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGBX8888)
            view.flipped = True
        else:
            img = renderer.render_image(w, h)
            view.image = QtGui.QImage(img.data, w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888).copy()
        view.update()
        ms["GL frame"].append(1000.0 * (time.perf_counter() - t0))

    t_gl.timeout.connect(frame)
    ticks: list[float] = []
    t_tick.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    t_tick.timeout.connect(lambda: ticks.append(time.perf_counter()))
    t_text.start(100)
    t_gl.start(250)
    t_tick.start(5)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.0005)
    for t in (t_text, t_gl, t_tick):
        t.stop()
    size = (central.width(), central.height())
    if mode == "widget":
        ms["GL frame"] = []  # (composed inside the window's repaints)
    if renderer is not None:
        renderer.release_targets()
        renderer.close()
        renderer.deleteLater()
    win.close()
    win.deleteLater()
    QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete)  # (GL objects die while
    app.processEvents()  # the application still exists)
    return {"gaps": np.diff(ticks) * 1000.0, "size": size,
            **{k: np.array(v) for k, v in ms.items()}}


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    from PySide6 import QtCore, QtWidgets

    QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    app = QtWidgets.QApplication(sys.argv[:1])
    res = {mode: run(mode, seconds) for mode in ("widget", "window", "offscreen", "offscreen-noaa", "offscreen-lean")}
    size = app.primaryScreen().availableGeometry().size()
    print(f"{size.width()}x{size.height()}, {seconds:g} s each; "
          f"{subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()} ({os.cpu_count()} cores)")
    for mode, r in res.items():
        what = {"widget": "QOpenGLWidget (the app)", "window": "QOpenGLWindow in a container",
                "offscreen": "offscreen render (hidden SurfaceView, 1x + 4x MSAA) shown by a raster QWidget",
                "offscreen-noaa": "the same offscreen render without MSAA",
                "offscreen-lean": "offscreen, no MSAA, no blit or label pass: paint + glReadPixels only"}[mode]
        print(f"{what} ({r['size'][0]}x{r['size'][1]} view):")
        for key in ("window repaint", "GL frame"):
            v = r[key]
            if v.size:
                print(f"  {key:<15} {v.size:4d} x  median {np.median(v):6.1f} ms  max {v.max():6.1f} ms")
        g = r["gaps"]
        print(f"  event-loop gaps: p99 {np.percentile(g, 99):6.1f} ms  max {g.max():6.1f} ms")
    w = res["widget"]
    for mode, what in (("window", "the GL view in its own window"), ("offscreen", "the offscreen render"),
                       ("offscreen-noaa", "the offscreen render without MSAA"),
                       ("offscreen-lean", "the lean offscreen render")):
        c = res[mode]
        print(f"{what}: a repaint of the window {np.median(w['window repaint']) / np.median(c['window repaint']):.0f}x "
              f"cheaper (median), max event-loop gap {w['gaps'].max() / c['gaps'].max():.1f}x smaller")
    return 0


if __name__ == "__main__":
    sys.exit(main())
