"""Floor grid, bounding box and tick labels of the 3-D view, in the fixed display cube [-1,1]^2 x [0, h]. The labels are
text textures drawn by GL (no QPainter inside the GL draw call)."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph.opengl as gl
from OpenGL import GL
from pyqtgraph.opengl.GLGraphicsItem import GLGraphicsItem
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.ui.cube import BOX_ALPHA, GRID_ALPHA, GRID_STEP
from nnlab.ui.ticks import LABEL_FONT, LABEL_POINTS, box_lines, label_points, tick_texts


class LabelsItem(GLGraphicsItem):
    """All tick labels as pre-rendered text textures. Each label is drawn once with a QPainter on a CPU QImage (the
    raster engine, no GL) and uploaded as a texture; paint() only draws textured quads at the projected positions.
    A QPainter on the GL widget inside the GL draw call (GLTextItem's way) crashed a test run in Mesa."""

    MAX_TEXTURES = 256  # labels change with the data ranges: older textures are freed past this many

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[np.ndarray, str, QtGui.QFont]] = []
        self.color = QtGui.QColor(230, 230, 230)
        self.setGLOptions({GL.GL_DEPTH_TEST: False, GL.GL_BLEND: True, GL.GL_CULL_FACE: False,
                           "glBlendFunc": (GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)})  # premultiplied alpha
        self._images: dict[tuple, tuple[QtGui.QImage, QtCore.QPointF, float]] = {}
        self._gl: dict | None = None  # GL objects of the current context: program, buffer, textures

    def set_items(self, items: list[tuple[np.ndarray, str, QtGui.QFont]], color: QtGui.QColor) -> None:
        self.items, self.color = items, color
        self.update()

    @staticmethod
    def _key(text: str, font: QtGui.QFont, color: QtGui.QColor, dpr: float) -> tuple:
        return text, font.key(), color.rgba(), round(dpr, 3)

    def _image(self, text: str, font: QtGui.QFont, dpr: float) -> tuple[QtGui.QImage, QtCore.QPointF, float]:
        """The label rendered on the CPU: (RGBA premultiplied image, baseline origin inside it in logical pixels,
        device pixel ratio). Cached: only new texts are rendered."""
        key = self._key(text, font, self.color, dpr)
        hit = self._images.get(key)
        if hit is not None:
            return hit
        fm = QtGui.QFontMetricsF(font)
        br = fm.boundingRect(text)
        pad = 2.0
        w = max(1, math.ceil((br.width() + 2 * pad) * dpr))
        h = max(1, math.ceil((br.height() + 2 * pad) * dpr))
        img = QtGui.QImage(w, h, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        img.setDevicePixelRatio(dpr)
        img.fill(0)
        origin = QtCore.QPointF(pad - br.left(), pad - br.top())
        painter = QtGui.QPainter(img)
        painter.setPen(self.color)
        painter.setFont(font)
        painter.setRenderHints(QtGui.QPainter.RenderHint.Antialiasing | QtGui.QPainter.RenderHint.TextAntialiasing)
        painter.drawText(origin, text)
        painter.end()
        out = (img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888_Premultiplied), origin, dpr)
        if len(self._images) > 4 * self.MAX_TEXTURES:
            self._images.clear()
        self._images[key] = out
        return out

    def _context_objects(self) -> dict:
        """Program, vertex buffer and texture cache of the current GL context (made again if the widget got a
        new context, e.g. after moving to another window)."""
        ctx = QtGui.QOpenGLContext.currentContext()
        if self._gl is not None and self._gl["ctx"] is ctx:
            return self._gl
        from OpenGL.GL import shaders
        from PySide6.QtOpenGL import QOpenGLBuffer

        core = not ctx.isOpenGLES() and ctx.format().version() >= (3, 1)
        head = "#version 140\n" if core else ""
        vert = head + ("in vec2 a_position; in vec2 a_texcoord; out vec2 v_texcoord;" if core else
                       "attribute vec2 a_position; attribute vec2 a_texcoord; varying vec2 v_texcoord;") + """
            void main() { gl_Position = vec4(a_position, 0.0, 1.0); v_texcoord = a_texcoord; }"""
        frag = head + ("#ifdef GL_ES\nprecision mediump float;\n#endif\nuniform sampler2D u_texture;" +
                       ("in vec2 v_texcoord; out vec4 fragColor; void main() { fragColor = texture(u_texture, "
                        "v_texcoord); }" if core else
                        "varying vec2 v_texcoord; void main() { gl_FragColor = texture2D(u_texture, v_texcoord); }"))
        program = shaders.compileProgram(shaders.compileShader(vert, GL.GL_VERTEX_SHADER),
                                         shaders.compileShader(frag, GL.GL_FRAGMENT_SHADER))
        GL.glBindAttribLocation(program, 0, "a_position")
        GL.glBindAttribLocation(program, 1, "a_texcoord")
        GL.glLinkProgram(program)
        vbo = QOpenGLBuffer(QOpenGLBuffer.Type.VertexBuffer)
        vbo.create()
        self._gl = {"ctx": ctx, "program": program, "vbo": vbo, "textures": {}}
        return self._gl

    def _texture(self, objs: dict, key: tuple, img: QtGui.QImage) -> int:
        tex = objs["textures"].get(key)
        if tex is not None:
            return tex
        if len(objs["textures"]) >= self.MAX_TEXTURES:
            GL.glDeleteTextures(list(objs["textures"].values()))
            objs["textures"].clear()
        tex = int(GL.glGenTextures(1))
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        for name in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_NEAREST)  # drawn 1:1 on device pixels
        for name in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_CLAMP_TO_EDGE)
        w, h = img.width(), img.height()
        data = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * h)
        data = np.ascontiguousarray(data.reshape(h, img.bytesPerLine())[:, :4 * w])
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 4)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA, w, h, 0, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, data)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        objs["textures"][key] = tex
        return tex

    def paint(self) -> None:
        view = self.view()
        if not self.items or view is None or view.width() < 1 or view.height() < 1:
            return
        self.setupGLState()
        W, H = float(view.width()), float(view.height())  # logical pixels, as the fonts are measured
        dpr = float(view.devicePixelRatioF())
        mvp = self.mvpMatrix()
        objs = self._context_objects()
        quads, textures = [], []
        for pos, text, font in self.items:
            img, origin, _ = self._image(text, font, dpr)
            ndc = mvp.map(QtGui.QVector3D(*map(float, pos)))
            px, py = (ndc.x() + 1.0) * 0.5 * W, (1.0 - ndc.y()) * 0.5 * H
            r = QtGui.QFontMetricsF(font).tightBoundingRect(text)
            # the text's baseline origin where a QPainter would put it: the tight box centred on the point
            bx, by = px - r.width() / 2, py + r.height() / 2
            x0 = round((bx - origin.x()) * dpr) / dpr  # whole device pixels: the texture maps 1:1
            y0 = round((by - origin.y()) * dpr) / dpr
            quads.append(self._quad(x0, y0, x0 + img.width() / dpr, y0 + img.height() / dpr, W, H))
            textures.append(self._texture(objs, self._key(text, font, self.color, dpr), img))
        self._draw_quads(objs, quads, textures)

    @staticmethod
    def _quad(x0: float, y0: float, x1: float, y1: float, W: float, H: float) -> list[float]:
        """Two triangles (position, texture coordinate) covering the logical-pixel rectangle in a W x H view."""
        X0, X1 = 2 * x0 / W - 1, 2 * x1 / W - 1
        Y0, Y1 = 1 - 2 * y0 / H, 1 - 2 * y1 / H
        return [X0, Y0, 0, 0, X1, Y0, 1, 0, X0, Y1, 0, 1, X1, Y0, 1, 0, X1, Y1, 1, 1, X0, Y1, 0, 1]

    @staticmethod
    def _draw_quads(objs: dict, quads: list[list[float]], textures: list[int]) -> None:
        verts = np.asarray(quads, dtype=np.float32)
        vbo = objs["vbo"]
        vbo.bind()
        vbo.allocate(verts.tobytes(), verts.nbytes)
        GL.glVertexAttribPointer(0, 2, GL.GL_FLOAT, False, 16, None)
        GL.glVertexAttribPointer(1, 2, GL.GL_FLOAT, False, 16, GL.GLvoidp(8))
        vbo.release()
        GL.glEnableVertexAttribArray(0)
        GL.glEnableVertexAttribArray(1)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        try:
            GL.glUseProgram(objs["program"])
            GL.glUniform1i(GL.glGetUniformLocation(objs["program"], "u_texture"), 0)
            for i, tex in enumerate(textures):
                GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
                GL.glDrawArrays(GL.GL_TRIANGLES, 6 * i, 6)
        finally:
            GL.glUseProgram(0)
            GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
            GL.glDisableVertexAttribArray(0)
            GL.glDisableVertexAttribArray(1)


class WidgetsItem(LabelsItem):
    """Widgets laid over a QOpenGLWindow, drawn by it. The overlay labels (region count, legend, Lecture caption,
    keys card) are ordinary widgets over the view, but a native GL child window covers every widget below it, so
    the window draws their pictures itself, at the widgets' places: each grabbed once per change (its text, size,
    font or style sheet), uploaded as a texture, drawn as a quad after the scene."""

    def __init__(self, host) -> None:
        super().__init__()
        self.host = host  # the widget the GL window fills (its window container)
        self.widgets: list = []
        self._grabs: dict[int, tuple[tuple, QtGui.QImage]] = {}
        self.grabbing = False  # a grab paints the widget: its Paint event is ours, not a change
        self.suspended = False  # (offscreen renders of the scene alone)
        self.setDepthValue(10 ** 6)  # after every item of the scene

    def _grab(self, w) -> tuple[tuple, QtGui.QImage]:
        app = QtWidgets.QApplication.instance()
        key = (id(w), w.text() if hasattr(w, "text") else "", w.width(), w.height(), w.styleSheet(),
               w.font().key(), hash(app.styleSheet()) if app is not None else 0, round(w.devicePixelRatioF(), 3))
        hit = self._grabs.get(id(w))
        if hit is not None and hit[0] == key:
            return hit
        self.grabbing = True
        try:
            img = w.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGBA8888_Premultiplied)
        finally:
            self.grabbing = False
        self._grabs[id(w)] = (key, img)
        return key, img

    def paint(self) -> None:
        view = self.view()
        shown = [w for w in self.widgets if w.isVisible() and w.window() is self.host.window()]
        if not shown or self.suspended or view is None or view.width() < 1 or view.height() < 1:
            return
        self.setupGLState()
        W, H = float(view.width()), float(view.height())
        origin = self.host.mapTo(self.host.window(), QtCore.QPoint(0, 0))
        objs = self._context_objects()
        quads, textures = [], []
        for w in shown:
            p = w.mapTo(w.window(), QtCore.QPoint(0, 0)) - origin
            if p.x() >= W or p.y() >= H or p.x() + w.width() <= 0 or p.y() + w.height() <= 0:
                continue  # (a caption of the compare pair lies over one of its two views)
            key, img = self._grab(w)
            quads.append(self._quad(p.x(), p.y(), p.x() + w.width(), p.y() + w.height(), W, H))
            textures.append(self._texture(objs, key, img))
        if quads:
            self._draw_quads(objs, quads, textures)


class Axes3D:
    """Owns the grid, box and label items; `update` re-labels them for new data ranges."""

    def __init__(self, view: gl.GLViewWidget, height: float) -> None:
        self.view = view
        self.h = height
        self.grid = gl.GLGridItem(glOptions="translucent")
        self.grid.setSize(2, 2, 0)
        self.grid.setSpacing(GRID_STEP, GRID_STEP, 1)
        self.box = gl.GLLinePlotItem(mode="lines", antialias=True, width=1.0, glOptions="translucent")
        self.box.setData(pos=self._box_lines())
        self.text_item = LabelsItem()
        self.labels = [self.text_item]
        self.color = (230, 230, 230, 255)
        self.font = QtGui.QFont(LABEL_FONT, LABEL_POINTS)
        self.visible = True
        for item in (self.grid, self.box, self.text_item):
            view.addItem(item)
        self._texts: list[tuple[np.ndarray, str, str]] = []  # (pos, text, kind) kind: tick|title

    def _box_lines(self) -> np.ndarray:
        return box_lines(self.h)

    def set_color(self, rgba: tuple[int, int, int, int]) -> None:
        self.color = rgba
        self.grid.setColor((*rgba[:3], GRID_ALPHA))
        self.box.setData(color=tuple(c / 255.0 for c in (*rgba[:3], BOX_ALPHA)))
        self.text_item.set_items(self.text_item.items, QtGui.QColor(*rgba))

    def set_visible(self, on: bool) -> None:
        self.visible = on
        for item in (self.grid, self.box, *self.labels):
            item.setVisible(on)

    def update(self, xr: tuple[float, float], yr: tuple[float, float], zr: tuple[float, float],
               frame: tuple[int, int, tuple[int, int]] = (-1, 1, (-1, -1))) -> None:
        """Place ticks for the data ranges xr, yr, zr; `frame` = (side of the x1 ticks in y, side of the x2 ticks
        in x, corner of the output axis), chosen by the view so labels sit on the edges facing the camera."""
        texts = tick_texts(xr, yr, zr, self.h, frame)
        self._texts = texts
        self.text_item.set_items([(pos, text, self._font(kind)) for pos, text, kind in texts], QtGui.QColor(*self.color))

    def _font(self, kind: str, scale: float = 1.0) -> QtGui.QFont:
        f = QtGui.QFont(self.font)
        f.setPointSizeF(label_points(kind, self.font.pointSizeF(), scale))
        f.setBold(kind == "title")
        return f

    def texts(self) -> list[tuple[np.ndarray, str, str]]:
        """The labels as (display position, text, kind), for painting onto exported images."""
        return list(self._texts) if self.visible else []
