"""Exact linear regions of a 2-input piecewise-linear network (relu, leaky_relu: y = max(g, a g)) over a box, and
the `regions` optimizer built on them.

Regions are convex polygons split layer by layer: inside a region of layers < k every pre-activation of layer k is
affine, so each neuron of layer k cuts the region along one line (as SplineCam and Regioncam do). All polygons are
processed together in flat numpy arrays (vertices (N, 2), counts per polygon), one neuron at a time.

Degenerate arrangements (zero biases: every boundary through the origin) are handled by a tolerance on the sign of
a vertex: |g| <= tol * S counts as on the line, where S bounds the magnitude of the terms summed into g (so rounding
error of g is far below tol * S). A line through an existing vertex then never creates a sliver. The optimum of a
piecewise-linear function over a polygon is at a vertex, so the best region vertex (re-evaluated by the float64
forward pass) is the exact optimum.
"""
from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.errors import NnlabError
from nnlab.engine.jobs import drain, relay
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.intervals import slope as _slope, stopped_bound as _stopped_bound, unit_slopes
from nnlab.engine.optimize.certify import float_margin, is_optimal, outward
from nnlab.engine.optimize.exact.regions_cone import apex as _apex, cone_maps as _cone_maps, sectors as _sectors
from nnlab.engine.optimize.exact.regions_kernels import mm as _mm, ranges as _ranges
from nnlab.engine.optimize.base import (
    METHODS, BoundProgress, Event, Incumbent, OptResult, better, check_box, finish,
)





class RegionLimitError(NnlabError):
    """The partition grew past the allowed number of regions."""


@dataclass(frozen=True)
class RegionsParams:
    max_regions: int = 2_000_000
    tolerance: float = 1e-12


@dataclass(frozen=True, eq=False)
class RegionMap:
    """Linear regions: activation pattern (R, hidden) of every region, its output a1*x1 + a2*x2 + c (R, 3), and its
    polygon, stored flat: region r is vertices[offsets[r]:offsets[r + 1]] (counter-clockwise); `polygons` lists them.
    """

    patterns: np.ndarray
    affine: np.ndarray
    vertices: np.ndarray
    offsets: np.ndarray

    @functools.cached_property
    def polygons(self) -> list[np.ndarray]:
        """Vertices (k, 2) of each region, counter-clockwise."""
        return np.split(self.vertices, self.offsets[1:-1])

    def __len__(self) -> int:
        return int(self.affine.shape[0])


def _check_2d(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if net.input_dim != 2:
        raise NnlabError(f"linear-region enumeration needs a 2-input network, this one has {net.input_dim} inputs")
    _slope(net)  # a smooth activation has no linear regions: refused by name
    return check_box(net, lower, upper, positive_width="linear-region enumeration")



class _Buf:
    """A growable numpy array (append-only, capacity doubling)."""

    def __init__(self, init: np.ndarray) -> None:
        self.a = np.empty((max(16, 2 * len(init)),) + init.shape[1:], dtype=init.dtype)
        self.a[: len(init)] = init
        self.n = len(init)

    def extend(self, x: np.ndarray) -> None:
        if self.n + len(x) > len(self.a):
            grown = np.empty((2 * (self.n + len(x)),) + self.a.shape[1:], dtype=self.a.dtype)
            grown[: self.n] = self.a[: self.n]
            self.a = grown
        self.a[self.n: self.n + len(x)] = x
        self.n += len(x)

    @property
    def view(self) -> np.ndarray:
        return self.a[: self.n]


def _cuts(V: np.ndarray, cnt: np.ndarray, off: np.ndarray, cpar: np.ndarray, pp: np.ndarray, pj: np.ndarray,
          C: np.ndarray, S: np.ndarray, tol: float) -> np.ndarray:
    """Which (polygon pp, neuron pj) pairs really cut: the neuron's sign differs between two of the vertices."""
    out = np.zeros(pp.size, dtype=bool)
    chunk = max(1, 2_000_000 // max(1, int(cnt.max(initial=1))))
    for a in range(0, pp.size, chunk):  # in chunks, to bound memory
        q, j = pp[a: a + chunk], pj[a: a + chunk]
        c = cnt[q]
        idx = _ranges(off[q], c)
        cv = np.repeat(C[j, cpar[q]], c, axis=0)
        g = V[idx, 0] * cv[:, 0] + V[idx, 1] * cv[:, 1] + cv[:, 2]
        t = tol * np.repeat(S[j, cpar[q]], c)
        seg = np.cumsum(c) - c
        out[a: a + chunk] = (np.maximum.reduceat(g - t, seg) > 0) & (np.minimum.reduceat(g + t, seg) < 0)
    return out


def _split_layer(V: np.ndarray, cnt: np.ndarray, C: np.ndarray, S: np.ndarray, tol: float, max_regions: int,
                 phase_steps: int = 6) -> Generator[int, None, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Split every polygon by the zero line of each neuron of one layer; C (n, P, 3) affine per polygon at start.

    An exact test lists the (polygon, neuron) pairs that cut; children lie inside their parent, so only those
    neurons are applied to its descendants. Step t applies to the descendants of every listed polygon its t-th
    cutting neuron (the partition of a polygon does not depend on the order of its lines), all polygons at once.
    After `phase_steps` steps the pairs left are re-tested on the (smaller) current polygons, so a layer takes far
    fewer steps than neurons. Vertices live in an append-only buffer with (start, count) per polygon.
    """
    P0, n = cnt.size, C.shape[0]
    cpar = np.arange(P0)  # index into C's polygon axis, per polygon
    off = np.concatenate(([0], np.cumsum(cnt)[:-1]))
    vpar = np.repeat(np.arange(P0), cnt)
    might = np.zeros((P0, n), dtype=bool)
    K = int(cnt.max())
    if P0 * K <= 4 * V.shape[0]:  # first phase: all pairs, polygons padded to K vertices (max/min ignore repeats)
        Vp = V[off[:, None] + np.minimum(np.arange(K), cnt[:, None] - 1)]  # (P0, K, 2)
        C0, C1, C2 = (np.ascontiguousarray(C[:, :, i].T) for i in range(3))  # (P0, n) each
        T = tol * S.T
        blk = max(1, 2_000_000 // (K * n))
        for p0 in range(0, P0, blk):
            sl = slice(p0, p0 + blk)
            g = Vp[sl, :, 0, None] * C0[sl, None] + Vp[sl, :, 1, None] * C1[sl, None] + C2[sl, None]
            might[sl] = (g.max(axis=1) > T[sl]) & (g.min(axis=1) < -T[sl])
    else:
        blk = max(1, 2_000_000 // max(1, V.shape[0]))
        Ct, St = C.transpose(1, 0, 2), S.T
        for j0 in range(0, n, blk):  # first phase: all pairs, by broadcasting over blocks of neurons
            Cb = Ct[:, j0: j0 + blk][vpar]  # (N, blk, 3): vertex-major, so reduceat runs over contiguous rows
            g = Cb[:, :, 0] * V[:, :1] + Cb[:, :, 1] * V[:, 1:] + Cb[:, :, 2]
            t = tol * St[:, j0: j0 + blk][vpar]
            might[:, j0: j0 + blk] = (np.maximum.reduceat(g - t, off, axis=0) > 0) & \
                (np.minimum.reduceat(g + t, off, axis=0) < 0)
    pp, pj = np.nonzero(might)
    phase0 = True
    while True:
        if not phase0:  # later phases: re-test the pairs left on the current polygons
            keep = _cuts(V, cnt, off, cpar, pp, pj, C, S, tol)
            pp, pj = pp[keep], pj[keep]
        phase0 = False
        if pp.size == 0:
            break
        o = np.lexsort((pj, pp))
        pp, pj = pp[o], pj[o]
        P = cnt.size
        first = np.searchsorted(pp, np.arange(P))
        rank = np.arange(pp.size) - first[pp]
        n_steps = int(rank.max()) + 1
        n_steps = n_steps if n_steps <= 2 * phase_steps else phase_steps
        vb, sb, cb, pb = _Buf(V), _Buf(off), _Buf(cnt), _Buf(np.arange(P))
        jsel = np.full(P, -1)
        for step_t in range(n_steps):
            sel = rank == step_t
            jsel[:] = -1
            jsel[pp[sel]] = pj[sel]
            cand = np.flatnonzero(jsel[pb.view] >= 0)
            starts, cnts, par = sb.view[cand], cb.view[cand], pb.view[cand]
            jp, cp = jsel[par], cpar[par]
            idx = _ranges(starts, cnts)
            Vc = vb.view[idx]
            cv = np.repeat(C[jp, cp], cnts, axis=0)
            g = Vc[:, 0] * cv[:, 0] + Vc[:, 1] * cv[:, 1] + cv[:, 2]
            t = tol * np.repeat(S[jp, cp], cnts)
            s = (g > t).astype(np.int8) - (g < -t).astype(np.int8)
            loff = np.cumsum(cnts) - cnts
            split = (np.maximum.reduceat(s, loff) > 0) & (np.minimum.reduceat(s, loff) < 0)
            if split.any():
                vm = np.repeat(split, cnts)
                Vs, gs, ss = Vc[vm], g[vm], s[vm]
                scnt = cnts[split]
                soff = np.cumsum(scnt)
                sstart = soff - scnt
                nxt = np.arange(1, Vs.shape[0] + 1)
                nxt[soff - 1] = sstart
                cross = (ss * ss[nxt]) < 0
                tt = np.where(cross, gs / np.where(cross, gs - gs[nxt], 1.0), 0.0)
                cand2 = np.stack([Vs, Vs + tt[:, None] * (Vs[nxt] - Vs)], axis=1).reshape(-1, 2)
                kids = []
                for keep_v in (ss >= 0, ss <= 0):
                    mask = np.stack([keep_v, cross], axis=1)
                    kids.append((cand2[mask.ravel()], np.add.reduceat(mask.sum(axis=1), sstart)))
                (pv, pc), (nv, nc) = kids
                slots = cand[split]
                base = vb.n
                vb.extend(pv)
                vb.extend(nv)
                sb.a[slots] = base + np.cumsum(pc) - pc
                cb.a[slots] = pc
                sb.extend(base + pc.sum() + np.cumsum(nc) - nc)
                cb.extend(nc)
                pb.extend(par[split])
                if cb.n > max_regions:
                    raise RegionLimitError(f"more than {max_regions} linear regions; raise max_regions or shrink the box")
            yield cb.n
        cnt = cb.view.copy()
        V = vb.view[_ranges(sb.view, cnt)]
        off = np.cumsum(cnt) - cnt
        phase_par = pb.view.copy()
        cpar = cpar[phase_par]
        left = rank >= n_steps
        if not left.any():
            break
        # pairs left: (old polygon q, neuron j) -> (every current polygon descending from q, j)
        by_par = np.argsort(phase_par, kind="stable")
        kids_of = np.bincount(phase_par, minlength=P)
        kid_start = np.cumsum(kids_of) - kids_of
        q, j = pp[left], pj[left]
        pp = by_par[_ranges(kid_start[q], kids_of[q])]
        pj = np.repeat(j, kids_of[q])
    return V, cnt, cpar


def iter_regions(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, tolerance: float = 1e-12,
                 max_regions: int = 2_000_000) -> Generator[tuple[int, int, int], None, RegionMap]:
    """Enumerate regions, yielding (layer, step, regions so far) after each splitting step; returns the RegionMap."""
    lo, hi = _check_2d(net, lower, upper)
    p = _apex(net, lo, hi, tolerance)
    cone = _sectors(net, lo, hi, p, tolerance) if p is not None else None
    if cone is not None:  # every region a sector from p: built from the partition of the box boundary
        V, cnt = cone
        if cnt.size > max_regions:
            raise RegionLimitError(f"more than {max_regions} linear regions; raise max_regions or shrink the box")
        yield len(net.weights) - 2, 0, cnt.size
        patterns, out = _cone_maps(net, V, cnt)
        return RegionMap(patterns=patterns, affine=out, vertices=V, offsets=np.concatenate(([0], np.cumsum(cnt))))
    V = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    cnt = np.array([4])
    R = np.maximum(np.abs(lo), np.abs(hi))
    # affine map of the current layer's outputs per region, layout (n, P, 3) (coefficients of x1, x2, 1), and a
    # bound (n, P) on the magnitude of the terms summed into them (for the tolerance)
    A = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]])
    Sm = R[:, None]
    ancestors: list[np.ndarray] = []
    pats: list[np.ndarray] = []
    for k, (w, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        n_in, P = A.shape[0], A.shape[1]
        C = _mm(w, A.reshape(n_in, P * 3)).reshape(w.shape[0], P, 3)
        C[:, :, 2] += b[:, None]
        S = _mm(np.abs(w), Sm) + np.abs(b)[:, None]
        j = itertools.count()
        V, cnt, ppar = yield from relay(_split_layer(V, cnt, C, S, tolerance, max_regions),
                                        lambda n_now: (k, next(j), n_now))
        starts = np.concatenate(([0], np.cumsum(cnt)[:-1]))
        cen = np.add.reduceat(V, starts, axis=0) / cnt[:, None]
        A = np.take(C, ppar, axis=1)  # (n, P, 3)
        a = (A[:, :, 0] * cen[:, 0] + A[:, :, 1] * cen[:, 1] + A[:, :, 2]) > 0
        ancestors = [anc[ppar] for anc in ancestors] + [np.arange(cnt.size)]
        pats.append(a)
        d = unit_slopes(net, a)
        A *= d[:, :, None]
        if k < len(net.weights) - 2:  # the magnitude bound is needed only by a following hidden layer
            Sm = np.take(S, ppar, axis=1) * d
    n_in, P = A.shape[0], A.shape[1]
    out = _mm(net.weights[-1], A.reshape(n_in, P * 3)).reshape(P, 3)
    out[:, 2] += net.biases[-1][0]
    patterns = (np.concatenate([p.T[i] for p, i in zip(pats, ancestors)], axis=1) if pats
                else np.zeros((cnt.size, 0), dtype=bool))
    offsets = np.concatenate(([0], np.cumsum(cnt)))
    return RegionMap(patterns=patterns, affine=out, vertices=V, offsets=offsets)


def enumerate_regions(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, tolerance: float = 1e-12
                      ) -> RegionMap:
    """All linear regions of a 2-input ReLU network over the box [lower, upper] (used by overlays and metrics)."""
    return drain(iter_regions(net, lower, upper, tolerance))


def region_count(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> int:
    """Number of linear regions over the box."""
    return len(enumerate_regions(net, lower, upper))


def best_vertex(net: NetSnapshot, rmap: RegionMap, sense: str, top: int = 64) -> tuple[np.ndarray, float]:
    """The best region vertex: ranked by the regions' affine maps, the top few re-evaluated by the forward pass.

    Returns (x, bound) where bound is the best vertex value by the affine maps or the forward pass, whichever is more
    extreme, so that it never falls short of the reported value.
    """
    V = rmap.vertices
    vpar = np.repeat(np.arange(len(rmap)), np.diff(rmap.offsets))
    aff = rmap.affine[vpar]
    val = aff[:, 0] * V[:, 0] + aff[:, 1] * V[:, 1] + aff[:, 2]
    sgn = 1.0 if sense == "max" else -1.0
    k = min(top, val.size)
    idx = np.argpartition(-sgn * val, k - 1)[:k]
    fx = net.forward(V[idx])
    i = int(np.argmax(sgn * fx))
    bound = sgn * max(float(np.max(sgn * val[idx])), float(sgn * fx[i]))
    return V[idx[i]].copy(), bound


@METHODS.register("regions", label="Exact 2-D linear regions", params=RegionsParams,
                  flags=("exact", "2d", "piecewise_linear"),
                  description="enumerate the linear regions over the box (2-input nets) and take the best vertex")
def regions(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: RegionsParams,
            time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Exact optimum of a 2-input net: best vertex of its linear regions."""
    del seed
    t0 = time.perf_counter()
    params = params or RegionsParams()
    lo, hi = _check_2d(net, lower, upper)
    corners = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    cv = net.forward(corners)
    sgn = 1.0 if sense == "max" else -1.0
    ib = int(np.argmax(sgn * cv))
    best_x, best_v = corners[ib], float(cv[ib])
    yield Incumbent(best_v, best_x.copy(), time.perf_counter() - t0)
    gen = iter_regions(net, lo, hi, params.tolerance, params.max_regions)
    last = time.perf_counter()
    try:
        while True:
            try:
                layer, j, n = next(gen)
            except StopIteration as stop:
                rmap = stop.value
                break
            now = time.perf_counter()
            if now - t0 > time_limit:  # stopped before the proof: the incumbent and an honest CROWN bound
                return finish(net, "regions", sense, best_x, "time_limit", t0, bound=_stopped_bound(net, lo, hi, sense),
                              seconds_solve=now - t0, message=f"time limit during layer {layer + 1}, {n} regions so far")
            if now - last > 0.2:
                last = now
                yield BoundProgress(None, best_v, now - t0, f"layer {layer + 1} neuron {j + 1}: {n} regions")
    except RegionLimitError as e:
        return finish(net, "regions", sense, best_x, "error", t0, message=str(e))
    finally:
        gen.close()
    x, bound = best_vertex(net, rmap, sense)
    if better(float(net.forward(x)), best_v, sense):
        best_x = x
        yield Incumbent(float(net.forward(x)), x.copy(), time.perf_counter() - t0)
    bound = bound if better(bound, float(net.forward(best_x)), sense) else float(net.forward(best_x))
    # vertices are rounded and the sign test merges within tolerance * S: a proof after the outward margin
    bound = outward(bound, sense, float_margin(net, lo, hi, params.tolerance))
    status = "optimal" if is_optimal(float(net.forward(best_x)), bound, sense) else "feasible"
    yield BoundProgress(bound, float(net.forward(best_x)), time.perf_counter() - t0, f"{len(rmap)} regions")
    return finish(net, "regions", sense, best_x, status, t0, bound=bound, seconds_solve=time.perf_counter() - t0,
                  extra={"regions": len(rmap)})
