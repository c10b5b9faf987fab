"""Offscreen rendering of export frames with the app's own GL view (SurfaceView), one hidden view per panel.

`GLPanelRenderer(plan)` is the `make_renderer` that nnlab.engine.export.run.run_export expects: it turns one panel of
one frame into (h, w, 4) RGBA pixels. Must run on the GUI thread (the GL context lives there).
"""
from __future__ import annotations

import ctypes
import sys

import numpy as np
from OpenGL import GL
from PySide6 import QtCore, QtWidgets
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

from nnlab.engine.export.plan import Frame, Panel, Plan
from nnlab.ui.gl_render import items_for_supersampling
from nnlab.ui.surface_view import BACKGROUNDS as VIEW_BACKGROUNDS, SurfaceView

def guard_none_refcount() -> bool:
    """PySide6 6.12.0 (abi3 wheel) on Python < 3.12 drops a reference to None on every call of a void C++ method
    (QPainter.setPen, QMatrix4x4.viewport, ...; about 100 per rendered frame), so a long export aborted with
    "none_dealloc: deallocating None". Like qt_compat's guard for True: probe, and if leaking give None a huge
    reference count (what Python 3.12 does by making it immortal). True when applied (now or before)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > 1 << 39:
        return True
    from PySide6 import QtGui

    m = QtGui.QMatrix4x4()
    before = sys.getrefcount(None)
    for _ in range(8):
        m.viewport(0, 0, 1, 1)
    if sys.getrefcount(None) >= before:
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40
    return True


guard_none_refcount()

POINT_COLOR = (0.97, 0.97, 0.97, 0.9)
PATH_COLOR = (1.0, 0.45, 0.05, 1.0)


class ExportView(SurfaceView):
    """SurfaceView whose render_image supersamples 2x and averages down on the GL side (a linear blit to half
    size = 2x2 box filter, flipped top-down on the way), so only the output size is read back, straight into a
    numpy array with no reduction or flip on the CPU. The framebuffers are kept between frames (allocating a
    1600x1200 colour + depth buffer per frame cost llvmpipe ~10 ms); MSAA 4x is slower than 2x supersampling there."""

    samples = 0
    supersample = 2

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._fbos: tuple | None = None  # (key, multisampled/supersampled target, output-size target)

    def _targets(self, width: int, height: int, ss: int) -> tuple:
        samples = self.samples if ss > 1 else max(self.samples, 4)  # big stills: multisampling instead
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
        """Free the cached framebuffers while the GL context still exists."""
        if self._fbos is not None:
            self.makeCurrent()
            self._fbos = None
            self.doneCurrent()

    def render_image(self, width: int, height: int) -> np.ndarray:
        width, height = int(width), int(height)
        if width < 1 or height < 1:
            raise ValueError(f"image size {width}x{height} must be positive")
        self.makeCurrent()
        ss = self.supersample if max(width, height) * self.supersample <= 8192 else 1
        W, H = width * ss, height * ss
        img = np.empty((height, width, 4), dtype=np.uint8)
        flip = ss > 1  # destination rows reversed in the blit: the read-back comes out top-down, as images want
        try:
            ms, out = self._targets(width, height, ss)
            with items_for_supersampling(self, ss):
                ms.bind()
                GL.glViewport(0, 0, W, H)
                self.paint(region=(0, 0, W, H), viewport=(0, 0, W, H))
                GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, ms.handle())
                GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, out.handle())
                # (a multisampled source may not be mirrored: big stills are flipped on the CPU instead)
                GL.glBlitFramebuffer(0, 0, W, H, 0, height if flip else 0, width, 0 if flip else height,
                                     GL.GL_COLOR_BUFFER_BIT, GL.GL_LINEAR if ss > 1 else GL.GL_NEAREST)
                GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, out.handle())
                GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 4)
                GL.glReadPixels(0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, img)
                out.release()
        finally:
            self.doneCurrent()
        if not flip:
            img = img[::-1].copy()
        img[..., 3] = 255
        return np.ascontiguousarray(self._paint_labels(img, 1))


class GLPanelRenderer:
    """Hidden SurfaceViews that render plan panels; surfaces and overlays are re-uploaded only when they change."""

    def __init__(self, plan: Plan) -> None:
        self.options = plan.options
        self._views: dict[int, SurfaceView] = {}
        self._shown: dict[int, tuple] = {}

    def view(self, slot: int, width: int = 400, height: int = 300) -> SurfaceView:
        v = self._views.get(slot)
        if v is None:
            o = self.options
            v = ExportView()
            v.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            v.resize(max(16, width), max(16, height))
            v.show()  # creates the GL context; never mapped on screen
            QtWidgets.QApplication.processEvents()
            v.set_background("dark" if o.background == "dark" else "white")
            v.set_colormap(o.colormap)
            v.set_axes_visible(o.axes)
            v.reset_camera()
            self._views[slot] = v
        return v

    def __call__(self, slot: int, panel: Panel, frame: Frame, width: int, height: int) -> np.ndarray:
        v = self.view(slot, width, height)
        shown = self._shown.get(slot, (None, None))
        if shown[0] is not panel.z:
            v.set_surface(panel.xs, panel.ys, panel.z)
        if shown[1] is not panel:
            self._overlays(v, panel)
        self._shown[slot] = (panel.z, panel)
        v.set_camera(frame.elevation, frame.azimuth, frame.distance if frame.distance > 0 else None)
        if self.options.background == "transparent":
            return transparent_image(v, width, height)
        return v.render_image(width, height)

    @staticmethod
    def _overlays(v: SurfaceView, panel: Panel) -> None:
        lift = 0.01 * float(np.ptp(panel.z)) if panel.z.size else 0.0  # keep points out of the surface
        if panel.points is not None and len(panel.points):
            v.set_points(panel.points + [0.0, 0.0, lift], color=POINT_COLOR, size=5)
        else:
            v.set_points(None)
        v.set_paths([p + [0.0, 0.0, lift] for p in panel.paths] if panel.paths else None, color=PATH_COLOR)
        v.set_marker(panel.marker)

    def close(self) -> None:
        for v in self._views.values():
            v.release_targets()
            v.close()
            v.deleteLater()
        self._views.clear()
        self._shown.clear()


def transparent_image(v: SurfaceView, width: int, height: int) -> np.ndarray:
    """RGBA with a transparent background: rendered over white and over black, alpha from the difference."""
    white = v.render_image(width, height).astype(np.int32)
    v.setBackgroundColor((0, 0, 0, 255))
    try:
        black = v.render_image(width, height).astype(np.int32)
    finally:
        v.setBackgroundColor(VIEW_BACKGROUNDS[v.background()][0])
    alpha = np.clip(255 - (white[..., :3] - black[..., :3]).max(axis=2), 0, 255)
    rgb = np.where(alpha[..., None] > 0, black[..., :3] * 255 // np.maximum(alpha, 1)[..., None], 0)
    out = np.empty((height, width, 4), dtype=np.uint8)
    out[..., :3] = np.clip(rgb, 0, 255)
    out[..., 3] = alpha
    return out
