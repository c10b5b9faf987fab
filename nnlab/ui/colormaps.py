"""Colour tables for surfaces and heatmaps, without matplotlib (pyqtgraph ships viridis & co; coolwarm is built here)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

COLORMAPS = ("viridis", "cividis", "plasma", "inferno", "magma", "turbo", "coolwarm")

# Moreland's "smooth cool-warm" diverging map, sampled at 9 points (RGB 0-255).
_COOLWARM = np.array([
    [59, 76, 192], [98, 130, 234], [141, 176, 254], [184, 208, 249], [221, 221, 221],
    [245, 196, 173], [244, 154, 123], [222, 96, 77], [180, 4, 38]], dtype=np.float64)


@lru_cache(maxsize=None)
def lookup_table(name: str, n: int = 256) -> np.ndarray:
    """(n, 4) float32 RGBA in [0, 1] for a colormap name; ValueError names the allowed ones."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colormap {name!r}; allowed: {', '.join(COLORMAPS)}")
    if name == "coolwarm":
        t = np.linspace(0.0, 1.0, len(_COOLWARM))
        s = np.linspace(0.0, 1.0, n)
        rgb = np.column_stack([np.interp(s, t, _COOLWARM[:, k]) for k in range(3)]) / 255.0
    else:
        import pyqtgraph as pg

        rgb = pg.colormap.get(name).getLookupTable(0.0, 1.0, nPts=n, alpha=False).astype(np.float64) / 255.0
    out = np.ones((n, 4), dtype=np.float32)
    out[:, :3] = rgb
    out.flags.writeable = False
    return out


def colorize(values01: np.ndarray, name: str) -> np.ndarray:
    """RGBA float32 (..., 4) for values already scaled to [0, 1] (NaN -> grey)."""
    lut = lookup_table(name)
    v = np.nan_to_num(np.asarray(values01, dtype=np.float64), nan=0.5)
    idx = np.clip((v * (len(lut) - 1)).round().astype(np.int64), 0, len(lut) - 1)
    return lut[idx]


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
