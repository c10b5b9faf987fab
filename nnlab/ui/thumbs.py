"""Small colour-mapped pictures of grids (target preview, neuron thumbnails: shaded relief from nnlab.app.relief)."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

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


def relief_image(u: np.ndarray, shade: np.ndarray, cmap: str = "viridis") -> QtGui.QImage:
    """u in [0, 1] coloured by `cmap` and darkened by `shade` (both [i, j] at (xs[i], ys[j])), x2 upwards."""
    rgba = colorize(np.asarray(u, dtype=np.float64).T[::-1], cmap)
    rgba[..., :3] *= np.asarray(shade, dtype=np.float64).T[::-1, :, None]
    rgba = np.ascontiguousarray((np.clip(rgba, 0.0, 1.0) * 255).astype(np.uint8))
    h, w = rgba.shape[:2]
    return QtGui.QImage(rgba.tobytes(), w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888).copy()


def relief_pixmap(u: np.ndarray, shade: np.ndarray, size: int, cmap: str = "viridis") -> QtGui.QPixmap:
    return QtGui.QPixmap.fromImage(relief_image(u, shade, cmap)).scaled(
        size, size, mode=QtCore.Qt.TransformationMode.SmoothTransformation)
