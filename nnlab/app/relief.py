"""Shaded relief of a grid of values: what makes a small heat map read as a surface (the Neurons thumbnails).

Hillshading as in cartography (Horn 1981, "Hill shading and the reflectance map"): the slope of the surface, seen
under a light from the upper left, darkens the faces turned away; here on values normalised to [0, 1] so every
unit's thumbnail shows its shape whatever its scale. Qt-free: the UI only colours the result.
"""
from __future__ import annotations

import numpy as np

AZIMUTH_DEG = 315.0  # light from the upper left (north-west), the cartographers' convention
ALTITUDE_DEG = 45.0
RELIEF = 1.5  # vertical exaggeration of the unit square's [0, 1] range


def relief(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, shade) for z[i, j] at (xs[i], ys[j]): u = z scaled to [0, 1] (0.5 where z is constant or not finite),
    shade in [0.45, 1] from the slope and aspect of u (a flat grid is evenly lit, at 0.84)."""
    z = np.asarray(z, dtype=np.float64)
    finite = np.isfinite(z)
    lo, hi = (float(z[finite].min()), float(z[finite].max())) if finite.any() else (0.0, 0.0)
    u = np.full(z.shape, 0.5) if hi <= lo else np.where(finite, (z - lo) / (hi - lo), 0.5)
    n = max(z.shape[0] - 1, 1)
    dx, dy = np.gradient(u * RELIEF * n, axis=(0, 1)) if min(z.shape) > 1 else (np.zeros_like(u),) * 2
    # (dx, dy): slopes of RELIEF * u over the domain taken as the unit square
    az, alt = np.radians(AZIMUTH_DEG), np.radians(ALTITUDE_DEG)
    lx, ly = np.sin(az) * np.cos(alt), np.cos(az) * np.cos(alt)  # light direction in (x1, x2), and up
    lz = np.sin(alt)
    shade = (lz - dx * lx - dy * ly) / np.sqrt(1.0 + dx * dx + dy * dy)  # cosine between normal and light
    return u.astype(np.float32), (0.45 + 0.55 * np.clip(shade, 0.0, 1.0)).astype(np.float32)
