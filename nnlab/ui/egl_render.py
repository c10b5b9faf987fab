"""Qt-free offscreen rendering of export frames: Mesa EGL without any window system, a framebuffer object and
OpenGL through ctypes (nnlab.ui.egl_gl), drawing the app's picture (nnlab.ui.cube: camera, lighting, overlay styles; nnlab.ui.ticks: the axes).

`EGLPanelRenderer(plan)` has the interface of nnlab.ui.render.GLPanelRenderer (the `make_renderer` that
nnlab.engine.export.run.run_export expects): `renderer(slot, panel, frame, width, height)` -> (h, w, 4) uint8 RGBA,
top row first, and `close()`. Differences from the Qt path, each for speed: animation frames are drawn at their own
size (no 2x supersampling, see ANTIALIAS_MODES; stills keep it); the surface's vertices, normals and colours are
uploaded once per surface (only the camera matrix changes per frame); tick labels are rendered once with Pillow
into one texture and drawn as quads; the image is rendered upside down (a flipped projection) so the read-back comes
out top-down with no copy; a transparent background is rendered once with alpha (not twice, over white and black).

The EGL display is Mesa's surfaceless platform (EGL_MESA_platform_surfaceless through eglGetPlatformDisplayEXT),
else the default display with a 1x1 pbuffer: no X server, no Xvfb. When no context can be made (no libEGL, no Mesa
EGL driver, GL older than 3.0) `open_context()` raises EGLUnavailable and the caller falls back to the Qt renderer.

Imports numpy, Pillow and ctypes only: never PySide6, pyqtgraph or PyOpenGL.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from dataclasses import dataclass

import numpy as np

from nnlab.engine.export.layout import pillow_font
from nnlab.engine.export.plan import Frame, Panel, Plan
from nnlab.ui import egl_gl
from nnlab.ui.colormaps import colorize
from nnlab.ui.cube import (
    BACKGROUNDS, BOX_ALPHA, GRID_ALPHA, GRID_STEP, H, HOME, LIT_FRAGMENT, LIT_VERTEX, MARKER_COLOR, MARKER_LIFT,
    MARKER_SIZE, PATH_COLOR, PATH_WIDTH, POINT_COLOR, POINT_SIZE, STEM_COLOR, cube_axis, cube_heights, cube_points,
    grid_normals, label_frame, overlay_lift, projection_matrix, value_range, view_matrix,
)
from nnlab.ui.ticks import box_lines, grid_lines, label_points, label_scale, tick_texts

# Anti-aliasing: "ss2" renders at 2x and averages down (the Qt path's way: the same picture), "msaa" multisamples
# (4 samples), "fast" draws at the output size with smooth lines, and the surface's border as smooth lines (its
# silhouette against the background). llvmpipe at 800x600, ms per frame on a loaded 2-core machine: fast ~9, ss2
# ~20-25, msaa ~35 (it shades per sample); FXAA (tried: a full-screen pass) ~28 and it broke 1-px lines. Animations
# use "fast" (the frame rate is the point), stills "ss2".
ANTIALIAS_MODES = ("fast", "ss2", "msaa")
MSAA_SAMPLES = 4
QT_DPI = 96.0  # Qt paints the labels' point sizes at 96 dpi on an image; Pillow sizes fonts in pixels

# EGL enums (EGL 1.5 and the extensions used)
_EGL_NONE = 0x3038
_EGL_EXTENSIONS = 0x3055
_EGL_SURFACE_TYPE, _EGL_PBUFFER_BIT = 0x3033, 0x0001
_EGL_RENDERABLE_TYPE, _EGL_OPENGL_BIT = 0x3040, 0x0008
_EGL_RED_SIZE, _EGL_GREEN_SIZE, _EGL_BLUE_SIZE, _EGL_ALPHA_SIZE = 0x3024, 0x3023, 0x3022, 0x3021
_EGL_WIDTH, _EGL_HEIGHT = 0x3057, 0x3056
_EGL_OPENGL_API = 0x30A2
_EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class EGLUnavailable(RuntimeError):
    """No usable EGL OpenGL context in this process (the reason is the message); the Qt renderer can be used."""


@dataclass
class _Context:
    lib: ctypes.CDLL
    display: int
    context: int
    surface: int  # EGL_NO_SURFACE (0) when surfaceless
    renderer: str  # GL_RENDERER, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)"
    gl: egl_gl.GL


_CONTEXT: _Context | None = None
_FAILED: str | None = None


def _egl_library() -> ctypes.CDLL:
    name = ctypes.util.find_library("EGL") or "libEGL.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as e:
        raise EGLUnavailable(f"libEGL not found ({e}); install libegl1 and libegl-mesa0") from None
    vp, i32, u32 = ctypes.c_void_p, ctypes.c_int32, ctypes.c_uint32
    for fn, res, args in (
        ("eglGetProcAddress", vp, [ctypes.c_char_p]), ("eglGetDisplay", vp, [vp]),
        ("eglInitialize", u32, [vp, ctypes.POINTER(i32), ctypes.POINTER(i32)]), ("eglQueryString", ctypes.c_char_p, [vp, i32]),
        ("eglChooseConfig", u32, [vp, ctypes.POINTER(i32), ctypes.POINTER(vp), i32, ctypes.POINTER(i32)]),
        ("eglBindAPI", u32, [u32]), ("eglCreateContext", vp, [vp, vp, vp, ctypes.POINTER(i32)]),
        ("eglCreatePbufferSurface", vp, [vp, vp, ctypes.POINTER(i32)]), ("eglMakeCurrent", u32, [vp, vp, vp, vp]),
        ("eglDestroyContext", u32, [vp, vp]), ("eglDestroySurface", u32, [vp, vp]), ("eglTerminate", u32, [vp]),
        ("eglGetError", i32, []), ("eglReleaseThread", u32, []),
    ):
        f = getattr(lib, fn)
        f.restype, f.argtypes = res, args
    return lib


def _attribs(*pairs: int) -> ctypes.Array:
    return (ctypes.c_int32 * (len(pairs) + 1))(*pairs, _EGL_NONE)


def open_context() -> _Context:
    """The process's EGL OpenGL context, made current (made once; the first call is the availability probe, about
    the cost of starting llvmpipe). EGLUnavailable says why not."""
    global _CONTEXT, _FAILED
    if _CONTEXT is not None:
        _CONTEXT.lib.eglMakeCurrent(_CONTEXT.display, _CONTEXT.surface, _CONTEXT.surface, _CONTEXT.context)
        return _CONTEXT
    if _FAILED is not None:
        raise EGLUnavailable(_FAILED)
    try:
        _CONTEXT = _make_context()
    except EGLUnavailable as e:
        _FAILED = str(e)
        raise
    return _CONTEXT


def _make_context() -> _Context:
    lib = _egl_library()
    client = lib.eglQueryString(None, _EGL_EXTENSIONS) or b""
    display = None
    address = lib.eglGetProcAddress(b"eglGetPlatformDisplayEXT") if b"EGL_EXT_platform_base" in client else None
    if address and b"EGL_MESA_platform_surfaceless" in client:
        get_platform_display = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint32, ctypes.c_void_p, ctypes.c_void_p)(
            address)
        display = get_platform_display(_EGL_PLATFORM_SURFACELESS_MESA, None, None)
    surfaceless = bool(display)
    if not display:
        display = lib.eglGetDisplay(None)  # EGL_DEFAULT_DISPLAY; a pbuffer surface below
    major, minor = ctypes.c_int32(), ctypes.c_int32()
    if not display or not lib.eglInitialize(display, ctypes.byref(major), ctypes.byref(minor)):
        raise EGLUnavailable(f"no EGL display (error 0x{lib.eglGetError():x})")
    try:
        config = ctypes.c_void_p()
        count = ctypes.c_int32()
        want = _attribs(_EGL_SURFACE_TYPE, _EGL_PBUFFER_BIT, _EGL_RENDERABLE_TYPE, _EGL_OPENGL_BIT, _EGL_RED_SIZE, 8,
                        _EGL_GREEN_SIZE, 8, _EGL_BLUE_SIZE, 8, _EGL_ALPHA_SIZE, 8)
        if not lib.eglChooseConfig(display, want, ctypes.byref(config), 1, ctypes.byref(count)) or count.value < 1:
            raise EGLUnavailable("no EGL config for desktop OpenGL with a pbuffer")
        if not lib.eglBindAPI(_EGL_OPENGL_API):
            raise EGLUnavailable("EGL cannot bind desktop OpenGL")
        context = lib.eglCreateContext(display, config, None, None)
        if not context:
            raise EGLUnavailable(f"no EGL OpenGL context (error 0x{lib.eglGetError():x})")
        exts = lib.eglQueryString(display, _EGL_EXTENSIONS) or b""
        surface = None
        if not (surfaceless and b"EGL_KHR_surfaceless_context" in exts):
            surface = lib.eglCreatePbufferSurface(display, config, _attribs(_EGL_WIDTH, 1, _EGL_HEIGHT, 1))
            if not surface:
                lib.eglDestroyContext(display, context)
                raise EGLUnavailable(f"no EGL pbuffer (error 0x{lib.eglGetError():x})")
        if not lib.eglMakeCurrent(display, surface, surface, context):
            raise EGLUnavailable(f"cannot make the EGL context current (error 0x{lib.eglGetError():x})")
        try:
            gl = egl_gl.GL(lib.eglGetProcAddress)
        except OSError as e:
            raise EGLUnavailable(str(e)) from None
        version = gl.glGetString(gl.GL_VERSION)
        head = version.split(b" ")[0].split(b".")
        if len(head) < 2 or not head[0].isdigit() or (int(head[0]), int(head[1][:1] or 0)) < (3, 0):
            raise EGLUnavailable(f"OpenGL {version.decode(errors='replace')} is older than 3.0 (framebuffers)")
        return _Context(lib, display, context, surface or 0, gl.glGetString(gl.GL_RENDERER).decode(), gl)
    except BaseException:
        lib.eglMakeCurrent(display, None, None, None)
        lib.eglTerminate(display)
        raise


def egl_unavailable() -> str | None:
    """None when offscreen EGL rendering works in this process (the context is made and kept), else why not."""
    try:
        open_context()
    except EGLUnavailable as e:
        return str(e)
    return None


# ---- GL programs --------------------------------------------------------------------------------------------
_FLAT_VERTEX = """#version 120
    uniform mat4 u_mvp;
    uniform float u_size;
    attribute vec4 a_position;
    void main() { gl_Position = u_mvp * a_position; gl_PointSize = u_size; }
"""
_FLAT_FRAGMENT = """#version 120
    uniform vec4 u_color;
    uniform float u_round;  // 1: a round point sprite (pyqtgraph's GLScatterPlotItem)
    void main() {
        vec2 xy = (gl_PointCoord - 0.5) * 2.0;
        if (u_round > 0.5 && dot(xy, xy) > 1.0) discard;
        gl_FragColor = u_color;
    }
"""
_TEXT_VERTEX = """
    attribute vec2 a_position;
    attribute vec2 a_texcoord;
    varying vec2 v_texcoord;
    void main() { gl_Position = vec4(a_position, 0.0, 1.0); v_texcoord = a_texcoord; }
"""
_TEXT_FRAGMENT = """
    uniform sampler2D u_texture;
    varying vec2 v_texcoord;
    void main() { gl_FragColor = texture2D(u_texture, v_texcoord); }
"""


# ---- labels ------------------------------------------------------------------------------------------------
PAD = 2  # transparent pixels around each label in the atlas (no bleeding between labels)


def label_atlas(labels: list[tuple[str, str]], scale: float, color: tuple[int, int, int, int]
                ) -> tuple[np.ndarray, list[tuple[int, int, int, int, float, float]]]:
    """All labels in one premultiplied RGBA image (side by side) and, per label, (x, y, w, h) in it and the
    offset of the image's top-left from the point the label is centred on (Qt's placement in
    SurfaceView._paint_labels: the text's tight box centred on the projected point)."""
    from PIL import Image, ImageDraw

    boxes, images = [], []
    x = 0
    for text, kind in labels:
        # DejaVu Sans at the pixel size Qt resolves the view's label font to (bold for titles)
        font = pillow_font(round(label_points(kind, scale=scale) * QT_DPI / 72.0, 2), bold=kind == "title")
        left, top, right, bottom = font.getbbox(text, anchor="ls")  # ink box around the baseline origin
        w, h = right - left + 2 * PAD, bottom - top + 2 * PAD
        img = Image.new("RGBA", (max(1, w), max(1, h)), (0, 0, 0, 0))
        ImageDraw.Draw(img).text((PAD - left, PAD - top), text, fill=tuple(color), font=font, anchor="ls")
        images.append(img)
        tw, th = right - left, bottom - top
        # Qt: baseline origin at (px - tw/2, py + th/2); the ink box starts at origin + (left, top)
        boxes.append((x, 0, w, h, -tw / 2 - PAD, th / 2 + top - PAD))
        x += w
    atlas = np.zeros((max([im.height for im in images] + [1]), max(1, x), 4), dtype=np.uint8)
    for (bx, _, w, h, _, _), im in zip(boxes, images):
        a = np.asarray(im, dtype=np.uint16)
        atlas[:h, bx:bx + w, :3] = (a[..., :3] * a[..., 3:4] + 127) // 255  # premultiplied alpha
        atlas[:h, bx:bx + w, 3] = a[..., 3]
    return atlas, boxes


# ---- the renderer --------------------------------------------------------------------------------------------
class _Surface:
    """One panel surface's GL buffers (positions, normals, colours, triangle indices), uploaded once."""

    def __init__(self, GL, panel: Panel, colormap: str) -> None:
        nx, ny = np.shape(panel.z)
        self.shape = (nx, ny)
        # pyqtgraph GLSurfacePlotItem's triangles: (i, j), (i, j+1), (i+1, j) and (i+1, j), (i, j+1), (i+1, j+1)
        v = np.arange(nx * ny, dtype=np.uint32).reshape(nx, ny)
        a, b, c, d = v[:-1, :-1], v[:-1, 1:], v[1:, :-1], v[1:, 1:]
        faces = np.stack([np.stack([a, b, c], -1), np.stack([c, b, d], -1)], axis=1)  # rows: both triangles of a row
        self.faces = np.ascontiguousarray(faces.reshape(-1, 3))
        self.count = int(self.faces.size)
        # the mesh's border as line segments: drawn smooth over the surface when it is not supersampled, it
        # anti-aliases the silhouette against the background (a height field seen from above shows its border there)
        ring = np.concatenate([v[0, :], v[1:, -1], v[-1, -2::-1], v[-2:0:-1, 0]]) if nx > 1 and ny > 1 else v.ravel()
        self.edges = np.ascontiguousarray(np.stack([ring, np.roll(ring, -1)], axis=1).ravel(), dtype=np.uint32)
        self.buffers = [int(b) for b in np.atleast_1d(GL.glGenBuffers(5))]
        for buf, arr in ((self.buffers[3], self.faces), (self.buffers[4], self.edges)):
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, buf)
            GL.glBufferData(GL.GL_ELEMENT_ARRAY_BUFFER, arr.nbytes, arr, GL.GL_STATIC_DRAW)
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, 0)
        self.fill(GL, panel, colormap)

    def fill(self, GL, panel: Panel, colormap: str) -> None:
        """Upload a surface of this grid shape (positions, normals, colours): a training animation's morphing
        surface is re-filled per frame, its triangles and border uploaded once."""
        z = np.asarray(panel.z, dtype=np.float64)
        self.xr = (float(panel.xs[0]), float(panel.xs[-1]))
        self.yr = (float(panel.ys[0]), float(panel.ys[-1]))
        self.zr = value_range(z)
        gx, gy = cube_axis(panel.xs), cube_axis(panel.ys)
        zd = np.nan_to_num(cube_heights(z, self.zr), nan=0.0)
        nx, ny = zd.shape
        verts = np.empty((nx, ny, 3), dtype=np.float32)
        verts[..., 0], verts[..., 1], verts[..., 2] = gx[:, None], gy[None, :], zd
        colors = np.ascontiguousarray(colorize(zd / H, colormap), dtype=np.float32).reshape(-1, 4)
        normals = grid_normals(gx, gy, zd)
        for buf, arr in ((self.buffers[0], verts.reshape(-1, 3)), (self.buffers[1], normals), (self.buffers[2], colors)):
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buf)
            GL.glBufferData(GL.GL_ARRAY_BUFFER, arr.nbytes, np.ascontiguousarray(arr), GL.GL_STATIC_DRAW)
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        self.lift = overlay_lift(panel.z)
        self.labels: dict[tuple, tuple] = {}  # camera side -> (label texts and kinds, anchors (n, 4))

    def free(self, GL) -> None:
        GL.glDeleteBuffers(len(self.buffers), self.buffers)
        self.buffers = []


class EGLPanelRenderer:
    """Renders plan panels offscreen with EGL (see the module doc); one framebuffer per output size, one set of
    buffers per distinct surface (a training animation's morphing surface is uploaded per frame)."""

    def __init__(self, plan: Plan, antialias: str | None = None) -> None:
        self.options = plan.options
        ctx = open_context()
        self.gl_renderer = ctx.renderer
        self.GL = GL = ctx.gl
        if antialias is None:
            antialias = "ss2" if plan.options.fmt == "png" else "fast"
        if antialias not in ANTIALIAS_MODES:
            raise ValueError(f"unknown antialias {antialias!r}; allowed: {', '.join(ANTIALIAS_MODES)}")
        self.antialias = antialias
        self.samples = min(MSAA_SAMPLES, int(GL.glGetIntegerv(GL.GL_MAX_SAMPLES))) if antialias == "msaa" else 0
        self.ss = 2 if antialias == "ss2" else 1
        self._lit = GL.compile_program(LIT_VERTEX, LIT_FRAGMENT, ("a_position", "a_normal", "a_color"))
        self._flat = GL.compile_program(_FLAT_VERTEX, _FLAT_FRAGMENT, ("a_position",))
        self._text = GL.compile_program(_TEXT_VERTEX, _TEXT_FRAGMENT, ("a_position", "a_texcoord"))
        self._uniforms = {(p, n): GL.glGetUniformLocation(p, n) for p, names in (
            (self._lit, ("u_mvp", "u_normal")), (self._flat, ("u_mvp", "u_size", "u_color", "u_round")),
            (self._text, ("u_texture",))) for n in names}
        self._surfaces: dict[int, tuple[np.ndarray, _Surface]] = {}  # slot -> (z shown, its buffers)
        self._lines = int(GL.glGenBuffers(1))  # overlays, grid and box: small, written per draw
        self._quads = int(GL.glGenBuffers(1))
        self._atlas: dict[tuple, tuple] = {}  # (labels, scale) -> (texture, boxes, atlas width, height)
        self._fbo: tuple | None = None  # (key, framebuffers, renderbuffers)
        self._grid, self._box = grid_lines(GRID_STEP), box_lines(H)
        o = self.options
        view_bg = "dark" if o.background == "dark" else "white"
        bg, fg = BACKGROUNDS[view_bg]
        self.background = (0.0, 0.0, 0.0, 0.0) if o.background == "transparent" else tuple(c / 255.0 for c in bg)
        self.foreground = fg
        GL.glEnable(GL.GL_PROGRAM_POINT_SIZE)
        GL.glEnable(GL.GL_POINT_SPRITE)  # gl_PointCoord in a compatibility context
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)

    # ---- targets -------------------------------------------------------------------------------------------
    def _targets(self, width: int, height: int) -> tuple[int, int]:
        """(framebuffer the scene is drawn into, framebuffer the labels are drawn into and read from), made when
        the size changes: ss2 averages the first (2x the size) down into the second, msaa resolves the first into
        the second, fast uses one framebuffer for both."""
        GL = self.GL
        key = (width, height)
        if self._fbo is not None and self._fbo[0] == key:
            return self._fbo[1][0], self._fbo[1][-1]
        self._free_targets()
        fbos = [int(f) for f in np.atleast_1d(GL.glGenFramebuffers(2))]
        rbos = [int(r) for r in np.atleast_1d(GL.glGenRenderbuffers(3))]
        W, Hh = width * self.ss, height * self.ss
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbos[0])
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rbos[0])
        GL.glRenderbufferStorageMultisample(GL.GL_RENDERBUFFER, self.samples, GL.GL_RGBA8, W, Hh)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, rbos[0])
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rbos[1])
        GL.glRenderbufferStorageMultisample(GL.GL_RENDERBUFFER, self.samples, GL.GL_DEPTH24_STENCIL8, W, Hh)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_DEPTH_STENCIL_ATTACHMENT, GL.GL_RENDERBUFFER, rbos[1])
        ok = GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) == GL.GL_FRAMEBUFFER_COMPLETE
        if self.antialias != "fast":
            GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, rbos[2])
            GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, width, height)
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbos[1])
            GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, rbos[2])
            ok = ok and GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) == GL.GL_FRAMEBUFFER_COMPLETE
        else:
            fbos = fbos[:1]
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, 0)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        self._fbo = (key, fbos, rbos)
        if not ok:
            raise RuntimeError(f"incomplete framebuffer for {width}x{height} ({self.antialias})")
        return fbos[0], fbos[-1]

    def _free_targets(self) -> None:
        if self._fbo is not None:
            _, fbos, rbos = self._fbo
            self.GL.glDeleteFramebuffers(len(fbos), fbos)
            self.GL.glDeleteRenderbuffers(len(rbos), rbos)
            self._fbo = None

    # ---- drawing -------------------------------------------------------------------------------------------
    def _surface(self, slot: int, panel: Panel) -> _Surface:
        hit = self._surfaces.get(slot)
        if hit is not None and hit[0] is panel.z:
            return hit[1]
        if hit is not None and hit[1].shape == np.shape(panel.z):
            hit[1].fill(self.GL, panel, self.options.colormap)
            self._surfaces[slot] = (panel.z, hit[1])
            return hit[1]
        if hit is not None:
            hit[1].free(self.GL)
        s = _Surface(self.GL, panel, self.options.colormap)
        self._surfaces[slot] = (panel.z, s)
        return s

    def _flat_draw(self, mvp: np.ndarray, pts: np.ndarray, color: tuple, mode: int, size: float = 1.0,
                   width: float = 1.0) -> None:
        """Points (round sprites of `size` pixels) or line segments of one colour, blended, depth-tested."""
        GL = self.GL
        if len(pts) == 0:
            return
        u = self._uniforms
        GL.glUseProgram(self._flat)
        GL.glUniformMatrix4fv(u[self._flat, "u_mvp"], 1, GL.GL_TRUE, mvp)
        GL.glUniform1f(u[self._flat, "u_size"], float(size))
        GL.glUniform4f(u[self._flat, "u_color"], *map(float, color))
        GL.glUniform1f(u[self._flat, "u_round"], 1.0 if mode == GL.GL_POINTS else 0.0)
        GL.glLineWidth(float(width))
        if mode == GL.GL_LINES:  # pyqtgraph's antialiased lines
            GL.glEnable(GL.GL_LINE_SMOOTH)
            GL.glHint(GL.GL_LINE_SMOOTH_HINT, GL.GL_NICEST)
        data = np.ascontiguousarray(pts, dtype=np.float32)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._lines)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, data.nbytes, data, GL.GL_STREAM_DRAW)
        GL.glVertexAttribPointer(0, 3, GL.GL_FLOAT, False, 0, None)
        GL.glEnableVertexAttribArray(0)
        GL.glDrawArrays(mode, 0, len(data))
        GL.glDisable(GL.GL_LINE_SMOOTH)
        GL.glDisableVertexAttribArray(0)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)

    def __call__(self, slot: int, panel: Panel, frame: Frame, width: int, height: int) -> np.ndarray:
        GL = self.GL
        open_context()
        o = self.options
        width, height = int(width), int(height)
        fbo, final = self._targets(width, height)
        surf = self._surface(slot, panel)
        dist = frame.distance if frame.distance > 0 else HOME[2]
        view = view_matrix(frame.elevation, frame.azimuth, dist)
        pv = projection_matrix(dist, width, height) @ view
        mvp = pv.astype(np.float32)
        mvp[1] *= -1  # rendered upside down: the read-back rows come out top-down
        normal = np.ascontiguousarray(view[:3, :3], dtype=np.float32)  # a rotation: its own inverse transpose

        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glViewport(0, 0, width * self.ss, height * self.ss)
        GL.glClearColor(*self.background)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT | GL.GL_DEPTH_BUFFER_BIT)
        if self.samples:
            GL.glEnable(GL.GL_MULTISAMPLE)
        # the surface: opaque, lit (pyqtgraph's "opaque" GL options)
        GL.glEnable(GL.GL_DEPTH_TEST)
        GL.glDisable(GL.GL_BLEND)
        GL.glDisable(GL.GL_CULL_FACE)
        u = self._uniforms
        GL.glUseProgram(self._lit)
        GL.glUniformMatrix4fv(u[self._lit, "u_mvp"], 1, GL.GL_TRUE, mvp)
        GL.glUniformMatrix3fv(u[self._lit, "u_normal"], 1, GL.GL_TRUE, normal)
        for k, (buf, n) in enumerate(zip(surf.buffers[:3], (3, 3, 4))):
            GL.glBindBuffer(GL.GL_ARRAY_BUFFER, buf)
            GL.glVertexAttribPointer(k, n, GL.GL_FLOAT, False, 0, None)
            GL.glEnableVertexAttribArray(k)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, surf.buffers[3])
        GL.glDrawElements(GL.GL_TRIANGLES, surf.count, GL.GL_UNSIGNED_INT, None)
        if self.antialias == "fast":  # the border, lit like the surface, as smooth lines: a soft silhouette
            GL.glEnable(GL.GL_BLEND)
            GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
            GL.glEnable(GL.GL_LINE_SMOOTH)
            GL.glLineWidth(1.0)
            GL.glDepthFunc(GL.GL_LEQUAL)
            GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, surf.buffers[4])
            GL.glDrawElements(GL.GL_LINES, len(surf.edges), GL.GL_UNSIGNED_INT, None)
            GL.glDepthFunc(GL.GL_LESS)
            GL.glDisable(GL.GL_LINE_SMOOTH)
        GL.glBindBuffer(GL.GL_ELEMENT_ARRAY_BUFFER, 0)
        for k in range(3):
            GL.glDisableVertexAttribArray(k)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)

        # overlays, then the floor grid and box: blended, depth-tested (pyqtgraph's "translucent"), in the Qt
        # view's item order
        GL.glEnable(GL.GL_BLEND)
        GL.glBlendFuncSeparate(GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)
        lift = np.array([0.0, 0.0, surf.lift])
        if panel.points is not None and len(panel.points):
            pts = cube_points(np.asarray(panel.points, dtype=np.float64) + lift, surf.xr, surf.yr, surf.zr)
            self._flat_draw(mvp, pts, POINT_COLOR, GL.GL_POINTS, size=POINT_SIZE * self.ss)
        segs = [np.repeat(cube_points(np.asarray(p, dtype=np.float64) + lift, surf.xr, surf.yr, surf.zr), 2,
                          axis=0)[1:-1] for p in panel.paths if len(p) >= 2]
        if segs:
            self._flat_draw(mvp, np.concatenate(segs), PATH_COLOR, GL.GL_LINES, width=PATH_WIDTH * self.ss)
        if panel.marker is not None:
            m = cube_points(panel.marker, surf.xr, surf.yr, surf.zr)
            m[0, 2] += MARKER_LIFT
            self._flat_draw(mvp, m, MARKER_COLOR, GL.GL_POINTS, size=MARKER_SIZE * self.ss)
            self._flat_draw(mvp, np.array([[m[0, 0], m[0, 1], 0.0], m[0]], dtype=np.float32), STEM_COLOR,
                            GL.GL_LINES, width=PATH_WIDTH * self.ss)
        if o.axes:
            fg = self.foreground
            # as the Qt path: the grid 1 px wide in the rendered image (half a pixel at 2x), the box 1 px in the output
            grid_alpha = GRID_ALPHA / 255.0 / (2 if self.ss == 1 and self.antialias == "fast" else 1)
            self._flat_draw(mvp, self._grid, (*(c / 255.0 for c in fg[:3]), grid_alpha), GL.GL_LINES)
            self._flat_draw(mvp, self._box, (*(c / 255.0 for c in fg[:3]), BOX_ALPHA / 255.0), GL.GL_LINES,
                            width=self.ss)
        if final != fbo:  # ss2: a 2x2 box filter (linear blit at half size); msaa: resolve the samples
            GL.glBindFramebuffer(GL.GL_READ_FRAMEBUFFER, fbo)
            GL.glBindFramebuffer(GL.GL_DRAW_FRAMEBUFFER, final)
            GL.glBlitFramebuffer(0, 0, width * self.ss, height * self.ss, 0, 0, width, height, GL.GL_COLOR_BUFFER_BIT,
                                 GL.GL_LINEAR if self.ss > 1 else GL.GL_NEAREST)
            GL.glViewport(0, 0, width, height)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, final)
        if o.axes:  # labels last, on the output pixels (as the Qt path paints them on its image)
            self._labels(surf, frame, dist, pv, width, height)
        GL.glDisable(GL.GL_BLEND)
        GL.glUseProgram(0)

        out = np.empty((height, width, 4), dtype=np.uint8)
        GL.glReadPixels(0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE, out)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
        if o.background == "transparent":
            return unpremultiply(out)
        return out

    def _labels(self, surf: _Surface, frame: Frame, dist: float, pv: np.ndarray, width: int, height: int) -> None:
        """Tick labels and titles: textured quads on whole pixels at the projected anchor points (`pv`: projection
        @ view, not flipped). The labels of a surface are laid out once per side the camera looks from."""
        GL = self.GL
        side = label_frame(frame.elevation, frame.azimuth, dist, pv)
        if side not in surf.labels:
            texts = tick_texts(surf.xr, surf.yr, surf.zr, H, side)
            surf.labels[side] = (tuple((t, k) for _, t, k in texts),
                                 np.array([np.append(p, 1.0) for p, _, _ in texts], dtype=np.float64))
        names, anchors = surf.labels[side]
        scale = label_scale(height)
        key = (names, scale)
        if key not in self._atlas:
            if len(self._atlas) > 16:  # labels change with the surface's ranges (training): keep a few
                for tex, *_ in self._atlas.values():
                    GL.glDeleteTextures([tex])
                self._atlas.clear()
            atlas, boxes = label_atlas(list(names), scale, self.foreground)
            tex = int(GL.glGenTextures(1))
            GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
            for name in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_NEAREST)  # drawn 1:1 on pixels
            for name in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
                GL.glTexParameteri(GL.GL_TEXTURE_2D, name, GL.GL_CLAMP_TO_EDGE)
            GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, atlas.shape[1], atlas.shape[0], 0, GL.GL_RGBA,
                            GL.GL_UNSIGNED_BYTE, atlas)
            b = np.array(boxes, dtype=np.float64)  # (n, 6): x, y, w, h in the atlas; offset from the anchor
            uv = b[:, :4] / [atlas.shape[1], atlas.shape[0], atlas.shape[1], atlas.shape[0]]
            self._atlas[key] = (tex, b, uv)
        tex, b, uv = self._atlas[key]
        clip = anchors @ pv.T
        x0 = np.round((clip[:, 0] / clip[:, 3] + 1.0) * 0.5 * width + b[:, 4])  # whole pixels: the texture maps 1:1
        y0 = np.round((1.0 - clip[:, 1] / clip[:, 3]) * 0.5 * height + b[:, 5])
        X0, X1 = 2 * x0 / width - 1, 2 * (x0 + b[:, 2]) / width - 1
        Y0, Y1 = 2 * y0 / height - 1, 2 * (y0 + b[:, 3]) / height - 1  # top-down rows: y grows downwards here
        s0, t0 = uv[:, 0], uv[:, 1]
        s1, t1 = s0 + uv[:, 2], t0 + uv[:, 3]
        quads = np.stack([np.stack(c, axis=-1) for c in ((X0, Y0, s0, t0), (X1, Y0, s1, t0), (X0, Y1, s0, t1),
                                                          (X1, Y0, s1, t0), (X1, Y1, s1, t1), (X0, Y1, s0, t1))],
                         axis=1).astype(np.float32)
        n = len(anchors)
        GL.glDisable(GL.GL_DEPTH_TEST)
        GL.glBlendFunc(GL.GL_ONE, GL.GL_ONE_MINUS_SRC_ALPHA)  # premultiplied alpha
        GL.glUseProgram(self._text)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, tex)
        GL.glUniform1i(self._uniforms[self._text, "u_texture"], 0)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, self._quads)
        GL.glBufferData(GL.GL_ARRAY_BUFFER, quads.nbytes, quads, GL.GL_STREAM_DRAW)
        GL.glVertexAttribPointer(0, 2, GL.GL_FLOAT, False, 16, None)
        GL.glVertexAttribPointer(1, 2, GL.GL_FLOAT, False, 16, 8)
        GL.glEnableVertexAttribArray(0)
        GL.glEnableVertexAttribArray(1)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 6 * n)
        GL.glDisableVertexAttribArray(0)
        GL.glDisableVertexAttribArray(1)
        GL.glBindBuffer(GL.GL_ARRAY_BUFFER, 0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
        GL.glEnable(GL.GL_DEPTH_TEST)

    def close(self) -> None:
        """Free this renderer's GL objects (the process's context stays for the next export)."""
        if self.GL is None:
            return
        GL = self.GL
        open_context()
        for _, s in self._surfaces.values():
            s.free(GL)
        self._surfaces.clear()
        GL.glDeleteBuffers(2, [self._lines, self._quads])
        for tex, *_ in self._atlas.values():
            GL.glDeleteTextures([tex])
        self._atlas.clear()
        self._free_targets()
        for prog in (self._lit, self._flat, self._text):
            GL.glDeleteProgram(prog)
        GL.glFinish()
        self.GL = None


def unpremultiply(img: np.ndarray) -> np.ndarray:
    """Straight-alpha RGBA from the premultiplied pixels a transparent render leaves (blending over alpha 0)."""
    a = img[..., 3:4].astype(np.uint16)
    rgb = np.where(a > 0, np.minimum(255, (img[..., :3].astype(np.uint16) * 255 + a // 2) // np.maximum(a, 1)), 0)
    out = np.empty_like(img)
    out[..., :3] = rgb
    out[..., 3] = img[..., 3]
    return out


