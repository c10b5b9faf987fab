"""GL pieces of the surface view: the lighting shader, fast grid normals, and offscreen rendering for export."""
from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import numpy as np
from OpenGL import GL
from pyqtgraph.opengl import shaders
from PySide6 import QtCore, QtGui
from PySide6.QtOpenGL import QOpenGLFramebufferObject, QOpenGLFramebufferObjectFormat

if TYPE_CHECKING:
    from nnlab.ui.surface_view import SurfaceView

# Two-sided lighting that keeps colours close to the colormap (a lecture hall projector washes out dark shading).
LIT_SHADER = shaders.ShaderProgram("nnlab_lit", [
    shaders.VertexShader("""
        uniform mat4 u_mvp;
        uniform mat3 u_normal;
        attribute vec4 a_position;
        attribute vec3 a_normal;
        attribute vec4 a_color;
        varying vec4 v_color;
        varying vec3 v_normal;
        void main() {
            v_normal = normalize(u_normal * a_normal);
            v_color = a_color;
            gl_Position = u_mvp * a_position;
        }
    """),
    shaders.FragmentShader("""
        #ifdef GL_ES
        precision mediump float;
        #endif
        varying vec4 v_color;
        varying vec3 v_normal;
        void main() {
            vec3 n = normalize(v_normal);
            float d = abs(dot(n, normalize(vec3(-0.35, 0.55, 0.75))));
            float d2 = d * d; float d4 = d2 * d2; float d8 = d4 * d4; float s = d8 * d8 * d8 * 0.18;
            vec3 rgb = v_color.rgb * (0.42 + 0.58 * d) + vec3(s);
            gl_FragColor = vec4(min(rgb, vec3(1.0)), v_color.a);
        }
    """),
])


def grid_normals(gx: np.ndarray, gy: np.ndarray, zd: np.ndarray) -> np.ndarray:
    """Unit vertex normals (n*m, 3) float32 of the height field zd[i, j] over (gx[i], gy[j])."""
    if len(gx) < 2 or len(gy) < 2:
        out = np.zeros((zd.size, 3), dtype=np.float32)
        out[:, 2] = 1.0
        return out
    dzdx, dzdy = np.gradient(zd.astype(np.float64), gx.astype(np.float64), gy.astype(np.float64))
    n = np.stack([-dzdx, -dzdy, np.ones_like(dzdx)], axis=-1).reshape(-1, 3)
    n /= np.linalg.norm(n, axis=1, keepdims=True)
    return n.astype(np.float32)




@contextmanager
def items_for_supersampling(view: "SurfaceView", ss: int) -> Iterator[None]:
    """Hide the GL tick labels (they are painted onto the image at the export size) and scale point sizes and
    line widths by the supersampling factor, restoring all of it afterwards."""
    shown = [item for item in view.axes.labels if item.visible()]
    sized = [(it, it.size) for it in (view.scatter, view.marker)]
    widths = [(it, it.width) for it in (view.path_lines, view.marker_stem, view.overlay_lines, view.axes.box)]
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

def render_view(self: "SurfaceView", width: int, height: int) -> np.ndarray:
    """(height, width, 4) RGBA uint8 of a SurfaceView's current camera, rendered into an offscreen framebuffer at
    2x and averaged down (smooth edges); tick labels are painted onto the image at the export size."""
    width, height = int(width), int(height)
    if width < 1 or height < 1:
        raise ValueError(f"image size {width}x{height} must be positive")
    ss = 2 if max(width, height) * 2 <= 8192 else 1
    W, Hh = width * ss, height * ss
    self.makeCurrent()
    fmt = QOpenGLFramebufferObjectFormat()
    fmt.setAttachment(QOpenGLFramebufferObject.Attachment.CombinedDepthStencil)
    fbo = QOpenGLFramebufferObject(W, Hh, fmt)
    try:
        with items_for_supersampling(self, ss):
            fbo.bind()
            GL.glViewport(0, 0, W, Hh)
            self.paint(region=(0, 0, W, Hh), viewport=(0, 0, W, Hh))
            buf = GL.glReadPixels(0, 0, W, Hh, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
    finally:
        fbo.release()
        self.doneCurrent()
    img = np.frombuffer(buf, dtype=np.uint8).reshape(Hh, W, 4)[::-1].copy()
    img[..., 3] = 255
    img = paint_labels(self, img, ss)
    if ss > 1:
        img = img.reshape(height, ss, width, ss, 4).mean(axis=(1, 3)).round().astype(np.uint8)
    return np.ascontiguousarray(img)


def paint_labels(self: "SurfaceView", img: np.ndarray, ss: int) -> np.ndarray:
    """Tick labels painted on the supersampled image, sized for the export (not the widget)."""
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
        scale = max(0.6, Hh / ss / 600.0) * ss  # legible at any export size
        for pos, text, kind in texts:
            font = self.axes._font(kind, scale)
            painter.setFont(font)
            p = mvp.map(QtGui.QVector3D(*map(float, pos))).toPointF()
            rect = QtGui.QFontMetricsF(font).tightBoundingRect(text)
            painter.drawText(QtCore.QPointF(p.x() - rect.width() / 2, p.y() + rect.height() / 2), text)
    finally:
        painter.end()
    out = np.frombuffer(qimg.constBits(), dtype=np.uint8, count=Hh * qimg.bytesPerLine())
    return out.reshape(Hh, qimg.bytesPerLine())[:, :4 * W].reshape(Hh, W, 4).copy()
