"""The linear regions of a 2-input piecewise-linear network as drawable geometry: exact polygons, their heights,
triangles and boundary edges (the region overlay of the 3-D and heatmap views draws these and computes nothing).

The polygons are those of the exact enumeration (nnlab.engine.optimize.exact.regions, the layer-by-layer splitting
of SplineCam / Regioncam), not a grid sampling, so boundaries are straight lines wherever the grid resolution is.
Inside a region the network is affine, so the surface over a polygon is the flat polygon lifted by the region's
affine map: `heights` are exact up to rounding, and the boundary lines lie on the surface.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Generator

import numpy as np

from nnlab.engine.jobs import drain, relay
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.exact.regions import RegionLimitError, iter_regions
from nnlab.errors import NnlabError

OVERLAY_LIMIT = 50_000  # regions the overlay draws at most (a 2-100-100-1 net with random biases has ~11,000)


@dataclass(frozen=True, eq=False)
class RegionPolygons:
    """Region r is the convex polygon vertices[offsets[r]:offsets[r + 1]] (counter-clockwise); `heights` is the
    network's value at each vertex by its region's affine map; `ids` a stable fingerprint of each region's
    activation pattern (same pattern, same id: colours stay put from frame to frame)."""

    vertices: np.ndarray  # (N, 2)
    offsets: np.ndarray  # (R + 1,)
    heights: np.ndarray  # (N,)
    ids: np.ndarray  # (R,) uint64
    affine: np.ndarray  # (R, 3): value = a1 x1 + a2 x2 + c

    def __len__(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    @functools.cached_property
    def triangles(self) -> np.ndarray:
        """(T, 3) vertex indices: a fan of each convex polygon (k vertices, k - 2 triangles)."""
        k = self.counts
        n_tri = np.maximum(k - 2, 0)
        first = np.repeat(self.offsets[:-1], n_tri)
        i = np.arange(int(n_tri.sum())) - np.repeat(np.cumsum(n_tri) - n_tri, n_tri) + 1
        return np.column_stack([first, first + i, first + i + 1]).astype(np.int64)

    @functools.cached_property
    def triangle_region(self) -> np.ndarray:
        """(T,) the region of each triangle."""
        return np.repeat(np.arange(len(self)), np.maximum(self.counts - 2, 0))

    @functools.cached_property
    def edges(self) -> np.ndarray:
        """(E, 2) vertex indices of every polygon edge (a boundary shared by two regions appears in both)."""
        k = self.counts
        start = np.repeat(self.offsets[:-1], k)
        local = np.arange(self.vertices.shape[0]) - start
        nxt = start + (local + 1) % np.repeat(k, k)
        return np.column_stack([np.arange(self.vertices.shape[0]), nxt]).astype(np.int64)


def pattern_ids(patterns: np.ndarray) -> np.ndarray:
    """A stable uint64 fingerprint of each row of a boolean activation-pattern matrix (FNV-style mix of its bytes)."""
    packed = np.packbits(np.asarray(patterns, dtype=bool), axis=1)
    h = np.full(len(packed), np.uint64(14695981039346656037), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(packed.shape[1]):
            h = (h ^ packed[:, k].astype(np.uint64)) * np.uint64(1099511628211)
    return h


def iter_region_polygons(net: NetSnapshot, lower: Any, upper: Any, limit: int = OVERLAY_LIMIT
                         ) -> Generator[int, None, RegionPolygons]:
    """Enumerate the regions over the box [lower, upper] (first two coordinates), yielding the count so far after
    each splitting step (so a job can be stopped), and return their polygons.

    Refused with an NnlabError for a net that is not 2-input or not piecewise linear, and, before any drawing,
    for one with more than `limit` regions over the box."""
    if net.input_dim != 2:
        raise NnlabError(f"the region overlay needs a 2-input network, this one has {net.input_dim} inputs")
    if limit < 1:
        raise NnlabError(f"the region limit must be at least 1, got {limit}")
    lo = np.asarray(lower, dtype=np.float64)[:2]
    hi = np.asarray(upper, dtype=np.float64)[:2]
    gen = iter_regions(net, lo, hi, max_regions=limit)
    try:
        rmap = yield from relay(gen, lambda ev: ev[2])
    except RegionLimitError:
        raise RegionLimitError(f"this network has more than {limit:,} linear regions over the box; the overlay "
                               f"draws at most {limit:,} (shrink the box or use a smaller network)") from None
    finally:
        gen.close()
    V = np.asarray(rmap.vertices, dtype=np.float64)
    offsets = np.asarray(rmap.offsets, dtype=np.int64)
    aff = np.asarray(rmap.affine, dtype=np.float64)
    owner = np.repeat(np.arange(len(rmap)), np.diff(offsets))
    heights = aff[owner, 0] * V[:, 0] + aff[owner, 1] * V[:, 1] + aff[owner, 2]
    return RegionPolygons(vertices=V, offsets=offsets, heights=heights, ids=pattern_ids(rmap.patterns), affine=aff)


def region_polygons(net: NetSnapshot, lower: Any, upper: Any, limit: int = OVERLAY_LIMIT) -> RegionPolygons:
    """All region polygons at once (see iter_region_polygons)."""
    return drain(iter_region_polygons(net, lower, upper, limit))
