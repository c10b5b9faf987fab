"""Small colour-mapped pictures of grids (target preview, neuron thumbnails)."""
from __future__ import annotations

import numpy as np
from PySide6 import QtGui

from nnlab.ui.colormaps import colorize


def heat_image(z: np.ndarray, cmap: str = "viridis") -> QtGui.QImage:
    """z[i, j] at (xs[i], ys[j]) drawn with x1 to the right and x2 upwards."""
    z = np.asarray(z, dtype=np.float64)
    finite = z[np.isfinite(z)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    u = np.zeros_like(z) + 0.5 if hi <= lo else (z - lo) / (hi - lo)
    rgba = (colorize(u.T[::-1], cmap) * 255).astype(np.uint8)  # rows = x2 from the top
    rgba = np.ascontiguousarray(rgba)
    h, w = rgba.shape[:2]
    return QtGui.QImage(rgba.tobytes(), w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888).copy()


def heat_pixmap(z: np.ndarray, size: int, cmap: str = "viridis") -> QtGui.QPixmap:
    return QtGui.QPixmap.fromImage(heat_image(z, cmap)).scaled(size, size)
