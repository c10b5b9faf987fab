"""Colour tables for surfaces and heatmaps: a thin reader of the engine's colormap registry
(nnlab.engine.model.colormaps holds the numbers), plus the pyqtgraph form and the region colours."""
from __future__ import annotations

import numpy as np

from nnlab.engine.model import colormaps as _maps

COLORMAPS = tuple(_maps.COLORMAPS.names())


def lookup_table(name: str, n: int = 256) -> np.ndarray:
    """(n, 4) float32 RGBA in [0, 1] for a colormap name; ValueError names the allowed ones."""
    if name not in _maps.COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; allowed: {', '.join(COLORMAPS)}")
    return _maps.lookup_table(name, n)


def colorize(values01: np.ndarray, name: str) -> np.ndarray:
    """RGBA float32 (..., 4) for values already scaled to [0, 1] (NaN -> grey)."""
    lookup_table(name, 2)  # the name check, with the ValueError the views expect
    return _maps.colorize(values01, name)


def pg_colormap(name: str):
    """A pyqtgraph ColorMap (for 2-D images and colour bars)."""
    import pyqtgraph as pg

    lut = lookup_table(name, 64)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), (lut * 255).astype(np.uint8))


def region_colors(ids: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """(…, 4) RGBA: one pastel colour per activation-pattern id, the same id always the same colour."""
    ids = np.asarray(ids, dtype=np.uint64)
    mixed = (ids ^ (ids >> np.uint64(29))) * np.uint64(0xBF58476D1CE4E5B9)
    hue = ((mixed >> np.uint64(40)).astype(np.float64) / float(1 << 24)) % 1.0
    sat = 0.45 + 0.3 * (((mixed >> np.uint64(8)) & np.uint64(255)).astype(np.float64) / 255.0)
    val = 0.95 - 0.2 * (((mixed >> np.uint64(20)) & np.uint64(255)).astype(np.float64) / 255.0)
    h6 = hue * 6.0
    k = lambda n: (n + h6) % 6.0  # noqa: E731
    f = lambda n: val - val * sat * np.clip(np.minimum(k(n), 4.0 - k(n)), 0.0, 1.0)  # noqa: E731
    out = np.empty((*ids.shape, 4), dtype=np.float32)
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = f(5.0), f(3.0), f(1.0), alpha
    return out
