"""The 3-D view's picture without Qt: the display cube, the camera, the lighting shader's source, the overlay styles
and the data -> cube mapping, shared by the app's GL view (nnlab.ui.surface_view, through pyqtgraph) and the Qt-free
offscreen export renderer (nnlab.ui.egl_render), so both draw the same picture from the same numbers.

Imports numpy only (nnlab.ui imports nothing): the export command loads this without PySide6 or pyqtgraph.
"""
from __future__ import annotations

import math

import numpy as np

H = 1.2  # height of the display cube [-1,1]^2 x [0, H]
HOME = (28.0, -60.0, 5.6)  # elevation, azimuth, distance that fit the cube
CENTER = (0.0, 0.0, H * 0.35)  # the point the camera looks at
FOV = 45.0  # horizontal field of view in degrees (pyqtgraph's GLViewWidget convention)
BACKGROUNDS = {"dark": ((22, 24, 30, 255), (225, 228, 235, 255)), "white": ((255, 255, 255, 255), (40, 40, 48, 255))}

# overlay styles (RGBA floats; sizes and widths in output pixels)
POINT_COLOR = (0.97, 0.97, 0.97, 0.9)
POINT_SIZE = 5.0
PATH_COLOR = (1.0, 0.45, 0.05, 1.0)
PATH_WIDTH = 2.0
MARKER_COLOR = (1.0, 0.15, 0.1, 1.0)
MARKER_SIZE = 18.0
MARKER_LIFT = 0.02  # the optimum marker sits on the surface, not in it
STEM_COLOR = (1.0, 0.15, 0.1, 0.9)
GRID_ALPHA = 70  # floor grid: the axes colour at this alpha (0-255), lines every GRID_STEP
GRID_STEP = 0.25
BOX_ALPHA = 160

# Two-sided lighting that keeps colours close to the colormap (a lecture hall projector washes out dark shading);
# the light is fixed in eye space (it turns with the camera). GLSL 1.10 (no #version): desktop GL 2.1+ and ES 2.
LIT_VERTEX = """
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
"""
LIT_FRAGMENT = """
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
"""


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


def value_range(*stack: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values of the surfaces shown together; (0, 1) when there are none."""
    finite = np.concatenate([np.asarray(s, dtype=np.float64)[np.isfinite(s)] for s in stack])
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def cube_axis(v: np.ndarray) -> np.ndarray:
    """A grid axis mapped onto [-1, 1] (float32): its ends to -1 and 1; a single or constant axis evenly."""
    v = np.asarray(v, dtype=np.float64)
    if len(v) > 1 and v[-1] != v[0]:
        return (-1 + 2 * (v - v[0]) / (v[-1] - v[0])).astype(np.float32)
    return np.linspace(-1, 1, len(v)).astype(np.float32)


def cube_heights(z: np.ndarray, zr: tuple[float, float]) -> np.ndarray:
    """Values mapped onto [0, H] (float32) by the value range zr; a flat range to H/2."""
    lo, hi = zr
    if hi == lo:
        return np.full(np.shape(z), H / 2, dtype=np.float32)
    return (H * (np.asarray(z, dtype=np.float64) - lo) / (hi - lo)).astype(np.float32)


def cube_points(pts: np.ndarray, xr: tuple[float, float], yr: tuple[float, float],
                zr: tuple[float, float]) -> np.ndarray:
    """Data points (x1, x2, value) rows -> display-cube coordinates (float32)."""
    p = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
    out = np.empty_like(p)
    for k, (lo, hi, a, b) in enumerate(((xr[0], xr[1], -1, 1), (yr[0], yr[1], -1, 1), (zr[0], zr[1], 0, H))):
        out[:, k] = (a + b) / 2 if hi == lo else a + (b - a) * (p[:, k] - lo) / (hi - lo)
    return out.astype(np.float32)


def overlay_lift(z: np.ndarray) -> float:
    """How far export points and paths are lifted above the surface (1% of its height: out of the mesh)."""
    z = np.asarray(z)
    return 0.01 * float(np.ptp(z)) if z.size else 0.0


def camera_position(elevation: float, azimuth: float, distance: float,
                    center: tuple[float, float, float] = CENTER) -> np.ndarray:
    """The eye in world coordinates (pyqtgraph's cameraPosition, euler mode)."""
    e, a = math.radians(elevation), math.radians(azimuth)
    return np.array([center[0] + distance * math.cos(e) * math.cos(a),
                     center[1] + distance * math.cos(e) * math.sin(a),
                     center[2] + distance * math.sin(e)])


def _rotation(angle: float, axis: tuple[float, float, float]) -> np.ndarray:
    """4x4 rotation by `angle` degrees about `axis` (right-handed; QMatrix4x4.rotate)."""
    x, y, z = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    t = 1 - c
    m = np.eye(4)
    m[:3, :3] = [[t * x * x + c, t * x * y - s * z, t * x * z + s * y],
                 [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
                 [t * x * z - s * y, t * y * z + s * x, t * z * z + c]]
    return m


def view_matrix(elevation: float, azimuth: float, distance: float,
                center: tuple[float, float, float] = CENTER) -> np.ndarray:
    """World -> eye, row-major float64 (pyqtgraph GLViewWidget.viewMatrix, euler mode)."""
    move = np.eye(4)
    move[2, 3] = -distance
    back = np.eye(4)
    back[:3, 3] = [-c for c in center]
    return move @ _rotation(elevation - 90, (1, 0, 0)) @ _rotation(azimuth + 90, (0, 0, -1)) @ back


def projection_matrix(distance: float, width: int, height: int, fov: float = FOV) -> np.ndarray:
    """Eye -> clip, row-major float64: pyqtgraph's frustum (near = distance / 1000, far = distance * 1000,
    `fov` across the width)."""
    near, far = distance * 0.001, distance * 1000.0
    r = near * math.tan(0.5 * math.radians(fov))
    t = r * height / width
    m = np.zeros((4, 4))
    m[0, 0], m[1, 1] = near / r, near / t
    m[2, 2], m[2, 3] = -(far + near) / (far - near), -2 * far * near / (far - near)
    m[3, 2] = -1.0
    return m


def label_frame(elevation: float, azimuth: float, distance: float,
                matrix: np.ndarray | None = None) -> tuple[int, int, tuple[int, int]]:
    """Edges facing the camera for the x1/x2 ticks, and the left-most side corner for the output axis
    (see nnlab.ui.ticks.tick_texts). `matrix`: projection @ view of this camera if already at hand (any aspect:
    the screen x order does not depend on it)."""
    cam = camera_position(elevation, azimuth, distance)
    sy = 1 if cam[1] >= 0 else -1
    sx = 1 if cam[0] >= 0 else -1
    m = projection_matrix(distance, 100, 100) @ view_matrix(elevation, azimuth, distance) if matrix is None else matrix

    def screen_x(c: tuple[int, int]) -> float:
        p = m @ np.array([c[0], c[1], 0.0, 1.0])
        return p[0] / p[3]

    return sy, sx, min([(sx, -sy), (-sx, sy)], key=screen_x)
