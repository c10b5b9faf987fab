"""Tick maths and the axes layout of the 3-D view without Qt: round tick values, their labels, where each label sits
in the display cube, the box edges and the floor grid. Used by the app's view (nnlab.ui.axes3d) and the Qt-free export
renderer (nnlab.ui.egl_render); imports numpy only.
"""
from __future__ import annotations

import math

import numpy as np

LABEL_FONT = "DejaVu Sans"
LABEL_POINTS = 11.0  # tick label size in points at a 600-pixel-high image (see label_scale)
TITLE_SCALE = 1.15  # axis titles: bold, this much bigger than the ticks

Label = tuple[np.ndarray, str, str]  # (display position, text, kind: tick | title)


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


def tick_texts(xr: tuple[float, float], yr: tuple[float, float], zr: tuple[float, float], h: float,
               frame: tuple[int, int, tuple[int, int]] = (-1, 1, (-1, -1))) -> list[Label]:
    """The tick labels and axis titles for the data ranges xr, yr, zr in the cube [-1,1]^2 x [0, h]; `frame` =
    (side of the x1 ticks in y, side of the x2 ticks in x, corner of the output axis), chosen from the camera so
    labels sit on the edges facing it (nnlab.ui.cube.label_frame)."""
    texts: list[Label] = []
    sy, sx, (cx, cy) = frame

    def lin(v: float, r: tuple[float, float], a: float, b: float) -> float:
        return a + (b - a) * (0.5 if r[1] == r[0] else (v - r[0]) / (r[1] - r[0]))

    for v in nice_ticks(*xr):
        texts.append((np.array([lin(v, xr, -1, 1), 1.14 * sy, 0.0]), fmt_tick(v), "tick"))
    for v in nice_ticks(*yr):
        texts.append((np.array([1.14 * sx, lin(v, yr, -1, 1), 0.0]), fmt_tick(v), "tick"))
    for v in nice_ticks(*zr, target=5):
        texts.append((np.array([1.1 * cx, 1.1 * cy, lin(v, zr, 0, h)]), fmt_tick(v), "tick"))
    texts.append((np.array([0.0, 1.4 * sy, 0.0]), "x1", "title"))
    texts.append((np.array([1.4 * sx, 0.0, 0.0]), "x2", "title"))
    texts.append((np.array([1.1 * cx, 1.1 * cy, h + 0.18]), "output", "title"))
    return texts


def label_scale(image_height: int) -> float:
    """Labels painted on an exported image grow with it (legible at any size)."""
    return max(0.6, image_height / 600.0)


def label_points(kind: str, base: float = LABEL_POINTS, scale: float = 1.0) -> float:
    """Font size in points of a label of `kind` (titles are bold and TITLE_SCALE bigger)."""
    return base * scale * (TITLE_SCALE if kind == "title" else 1.0)


def box_lines(h: float) -> np.ndarray:
    """The 12 edges of the cube [-1,1]^2 x [0, h] as (24, 3) float32 line-segment ends."""
    c = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (0, h)], dtype=np.float32)
    edges = [(0, 1), (2, 3), (4, 5), (6, 7), (0, 2), (1, 3), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6), (3, 7)]
    return np.array([c[i] for e in edges for i in e], dtype=np.float32)


def grid_lines(step: float, size: float = 2.0) -> np.ndarray:
    """The floor grid (pyqtgraph GLGridItem's lines: size x size centred at the origin, z = 0, every `step`) as
    (n, 3) float32 line-segment ends."""
    vals = np.arange(-size / 2, size / 2 + step * 0.001, step)
    a = np.zeros((len(vals), 6), dtype=np.float32)
    a[:, 0], a[:, 1], a[:, 3], a[:, 4] = vals, vals[0], vals, vals[-1]
    b = np.zeros((len(vals), 6), dtype=np.float32)
    b[:, 0], b[:, 1], b[:, 3], b[:, 4] = vals[0], vals, vals[-1], vals
    return np.vstack((a, b)).reshape(-1, 3)
