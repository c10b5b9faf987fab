"""Certified local maxima and minima of a 2-input piecewise-linear network over its box, from the exact linear
regions (nnlab.engine.optimize.exact.regions), not from multistart (issue 13: "in 2-D, certified counts from the
region enumeration").

Why vertices suffice: inside a region f is affine, and along an edge it is linear, so a *strict* local optimum of a
continuous piecewise-linear function over a box can only be a vertex of the region arrangement (box corners and the
points where region boundaries meet the box edge included). Near a vertex v, f(v + t d) = f(v) + t f'(v; d) for
small t >= 0, and the directional derivative f'(v; d) is linear in d inside each region's cone at v. So v is a local
maximum iff f'(v; d) <= 0 on every ray that bounds one of those cones (the edges leaving v of every region that
contains v), and on the inner normal of a cone of angle pi (a region that has v on a straight stretch of its
boundary: a T-junction); it is a strict local maximum iff all of those are < 0. The cones around v must fill the
box's tangent cone at v (angle 2 pi inside, pi on a box edge, pi/2 at a corner): a vertex whose cones fall short
is looked for on the other regions' edges (a T-junction), and any that still falls short is counted as
`unresolved` and certifies nothing.

Plateaus and flat edges: a slope within `tol` (relative to the steepest region) counts as zero. A vertex with every
slope <= 0 and some of them zero is a *non-strict* local maximum (it sits on a flat edge or a flat region at the
top); such vertices joined by flat edges or flat regions form one plateau, and plateaus are counted apart from the
strict optima (`plateaus`), never in `strict`. The inside of a flat region at any height is a non-strict local
maximum and minimum at once (f is constant around each of its points), so a plateau at the top is also counted as a
minimum plateau when the region has an inner vertex. A plateau with no vertex that is a local optimum (a flat ridge whose
ends both rise) is not counted; with torch-default (random, nonzero) biases ties have probability zero.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import check_box
from nnlab.engine.optimize.exact.regions import iter_regions

MERGE_TOL = 1e-9  # vertices closer than this (relative to the box size) are one point
SLOPE_TOL = 1e-9  # slopes within this (relative to the steepest region's gradient) count as zero
ANGLE_TOL = 1e-6  # radians: cones that fill the tangent cone up to this are complete


@dataclass(frozen=True)
class SenseOptima:
    """Local optima of one sense: strict ones (points, values, best first) and plateaus (one point each)."""

    strict: int
    plateaus: int
    points: list[list[float]]
    values: list[float]
    plateau_points: list[list[float]]
    plateau_values: list[float]
    locations: dict[str, int]  # strict optima at a box corner / on a box edge / inside


@dataclass(frozen=True)
class CertifiedOptima:
    """Certified local maxima and minima of a 2-input net over its box, with what the certificate rests on."""

    maxima: SenseOptima
    minima: SenseOptima
    regions: int
    vertices: int
    unresolved: int  # vertices whose incident regions could not be completed: nothing is claimed about them
    t_junctions: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _union_find(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Component label of each of n nodes joined by the pairs (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(a.size), (a, b)), shape=(n, n))
    return connected_components(g, directed=False)[1]


def _expected_angle(P: np.ndarray, lo: np.ndarray, hi: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Angle of the box's tangent cone at each point: 2 pi inside, pi on an edge, pi / 2 at a corner."""
    k = ((np.abs(P - lo) <= tol) | (np.abs(P - hi) <= tol)).sum(axis=1)
    return np.where(k == 0, 2 * np.pi, np.where(k == 1, np.pi, np.pi / 2))


def certified_local_optima(net: NetSnapshot, lower: Any, upper: Any, max_regions: int = 200_000,
                           tol: float = SLOPE_TOL) -> CertifiedOptima:
    """Count the local maxima and minima of a 2-input ReLU (or leaky ReLU) net over the box from its exact regions
    (see the module docstring for the certificate and how plateaus are treated). Refused (NnlabError) for a net that
    is not 2-input or not piecewise linear, or with more than `max_regions` regions."""
    from scipy.spatial import cKDTree

    lo, hi = check_box(net, lower, upper, positive_width="certified local optima")
    rmap = drain(iter_regions(net, lo, hi, max_regions=max_regions))
    V = np.asarray(rmap.vertices, dtype=np.float64)
    cnt = np.diff(np.asarray(rmap.offsets))
    aff = np.asarray(rmap.affine, dtype=np.float64)
    G = aff[:, :2]
    span = float(np.max(hi - lo))
    mtol = MERGE_TOL * span
    stol = tol * max(float(np.max(np.linalg.norm(G, axis=1), initial=0.0)), 1e-300)

    # drop repeated consecutive vertices of a polygon (a zero-length edge has no direction)
    owner = np.repeat(np.arange(cnt.size), cnt)
    start = np.repeat(np.cumsum(cnt) - cnt, cnt)
    local = np.arange(V.shape[0]) - start
    nxt = start + (local + 1) % np.repeat(cnt, cnt)
    keep = np.linalg.norm(V[nxt] - V, axis=1) > mtol
    V, owner = V[keep], owner[keep]
    cnt = np.bincount(owner, minlength=cnt.size)
    start = np.repeat(np.cumsum(cnt) - cnt, cnt)
    local = np.arange(V.shape[0]) - start
    nxt = start + (local + 1) % np.repeat(cnt, cnt)
    prv = start + (local - 1) % np.repeat(cnt, cnt)

    # one id per point of the plane: polygon vertices within mtol of each other are the same vertex
    pairs = cKDTree(V).query_pairs(mtol, output_type="ndarray")
    vid = _union_find(V.shape[0], pairs[:, 0], pairs[:, 1]) if pairs.size else np.arange(V.shape[0])
    _, vid = np.unique(vid, return_inverse=True)
    nv = int(vid.max()) + 1 if vid.size else 0
    P = np.zeros((nv, 2))
    P[vid] = V  # any representative

    # each polygon corner: its two edge rays and the region's slopes along them (CCW: the region lies left of d1)
    d1, d2 = V[nxt] - V, V[prv] - V
    g = G[owner]
    s1 = np.einsum("ij,ij->i", g, d1) / np.linalg.norm(d1, axis=1)
    s2 = np.einsum("ij,ij->i", g, d2) / np.linalg.norm(d2, axis=1)
    cross = d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]
    ang = np.arctan2(cross, np.einsum("ij,ij->i", d1, d2)) % (2 * np.pi)  # interior angle, CCW from d1 to d2
    normal = np.column_stack([-d1[:, 1], d1[:, 0]]) / np.linalg.norm(d1, axis=1)[:, None]
    flat_angle = ang >= np.pi - ANGLE_TOL  # a straight corner: the cone is a half-plane, check its inner normal too
    sn = np.where(flat_angle, np.einsum("ij,ij->i", g, normal), np.nan)
    ent_v = [vid, vid, vid[flat_angle]]
    ent_s = [s1, s2, sn[flat_angle]]
    ang_sum = np.bincount(vid, weights=ang, minlength=nv)

    # T-junctions: a vertex whose cones fall short may lie on the straight edge of another region
    want = _expected_angle(P, lo, hi, mtol)
    short = np.flatnonzero(ang_sum < want - ANGLE_TOL)
    a_pts, b_pts = V, V[nxt]
    e = b_pts - a_pts
    elen2 = np.einsum("ij,ij->i", e, e)
    n_t = 0
    for v in short:
        w = P[v] - a_pts
        t = np.einsum("ij,ij->i", w, e) / elen2
        dist = np.linalg.norm(w - np.clip(t, 0.0, 1.0)[:, None] * e, axis=1)
        hit = np.flatnonzero((dist <= 10 * mtol) & (t > 0) & (t < 1) & (vid != v) & (vid[nxt] != v))
        for k in hit:
            u = e[k] / np.sqrt(elen2[k])
            gk = G[owner[k]]
            ent_v.append(np.full(3, v))
            ent_s.append(np.array([gk @ u, -(gk @ u), gk @ np.array([-u[1], u[0]])]))
            ang_sum[v] += np.pi
            n_t += 1
    unresolved = np.abs(ang_sum - want) > 1e-4

    ev, es = np.concatenate(ent_v), np.concatenate(ent_s)
    smax = np.full(nv, -np.inf)
    smin = np.full(nv, np.inf)
    np.maximum.at(smax, ev, es)
    np.minimum.at(smin, ev, es)
    fv = net.forward(P) if nv else np.zeros(0)

    # flat links: edges with zero slope, and every corner of a flat region, join plateau vertices
    flat_edge = np.abs(s1) <= stol
    flat_region = (np.linalg.norm(G, axis=1) <= stol)[owner]
    first = vid[start]
    link_a = np.concatenate([vid[flat_edge], vid[flat_region]])
    link_b = np.concatenate([vid[nxt][flat_edge], first[flat_region]])

    def sense(sgn: float) -> SenseOptima:
        top = -smin if sgn < 0 else smax  # the steepest way up (for minima: down)
        ok = ~unresolved
        strict = ok & (top < -stol)
        weak = ok & ~strict & (top <= stol)
        idx = np.flatnonzero(strict)
        idx = idx[np.argsort(-sgn * fv[idx], kind="stable")]
        keepl = weak[link_a] & weak[link_b]
        comp = _union_find(nv, link_a[keepl], link_b[keepl])
        w = np.flatnonzero(weak)
        labels, first_i = np.unique(comp[w], return_index=True)
        reps = w[first_i]
        reps = reps[np.argsort(-sgn * fv[reps], kind="stable")]
        k = ((np.abs(P[idx] - lo) <= mtol) | (np.abs(P[idx] - hi) <= mtol)).sum(axis=1)
        locs = {"vertex": int(np.sum(k == 2)), "face": int(np.sum(k == 1)), "interior": int(np.sum(k == 0))}
        return SenseOptima(int(idx.size), int(labels.size), P[idx].tolist(), fv[idx].tolist(), P[reps].tolist(),
                           fv[reps].tolist(), locs)

    return CertifiedOptima(sense(1.0), sense(-1.0), len(rmap), nv, int(unresolved.sum()), n_t)


def grid_local_optima(net: NetSnapshot, lower: Any, upper: Any, n: int = 801, window: int = 1
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The grid points (k, 2) strictly above (maxima), resp. below (minima), every other grid point within `window`
    steps (window 1: the 8 neighbours) on an n x n grid over the box. A check of certified_local_optima, not a
    certificate: ties, optima closer than `window` steps to a better point, and sloping ridges (a ridge crossing the
    grid obliquely gives a discrete maximum every few points along it, which a wider window removes) make the
    counts differ."""
    lo, hi = check_box(net, lower, upper, positive_width="grid local optima")
    xs, ys = np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    F = net.forward(np.column_stack([X.ravel(), Y.ravel()])).reshape(n, n)
    out = []
    for sgn in (1.0, -1.0):
        k = window
        Z = np.pad(sgn * F, k, constant_values=-np.inf)
        c = Z[k:-k, k:-k]
        best = np.ones(c.shape, dtype=bool)
        for dx in range(-k, k + 1):
            for dy in range(-k, k + 1):
                if dx or dy:
                    best &= c > Z[k + dx: n + k + dx, k + dy: n + k + dy]
        i, j = np.nonzero(best)
        out.append(np.column_stack([xs[i], ys[j]]))
    return out[0], out[1]
