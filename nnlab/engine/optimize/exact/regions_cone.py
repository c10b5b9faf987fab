"""Fast path of the 2-D region enumeration for networks whose regions are sectors from one point: all first-layer
lines meet in a point p inside the box and every deeper hidden bias is zero (e.g. zero-bias Xavier nets, which are
positively homogeneous about p: relu and leaky_relu both are), so the boundary loop is split instead of the whole
box."""
from __future__ import annotations

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.exact.regions_kernels import mm as _mm, ranges as _ranges
from nnlab.engine.optimize.formulation.intervals import unit_slopes as _slopes


def apex(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, tol: float) -> np.ndarray | None:
    """A point p of the box where every first-layer neuron is zero, when all deeper hidden biases are zero: then the
    net is f(p) + a positively homogeneous function of x - p, and every region is a cone from p (a sector)."""
    if len(net.weights) < 2 or any(np.any(b != 0) for b in net.biases[1:-1]):
        return None
    w, b = net.weights[0], net.biases[0]
    p = np.linalg.lstsq(w, -b, rcond=None)[0] if np.any(b != 0) else np.zeros(2)
    if np.any(np.abs(w @ p + b) > tol * (np.abs(w) @ np.abs(p) + np.abs(b))) or np.any(p < lo) or np.any(p > hi):
        return None
    return p


def sectors(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, p: np.ndarray, tol: float
             ) -> tuple[np.ndarray, np.ndarray] | None:
    """Regions of a net homogeneous around p: the 1-D partition of the box boundary (split layer by layer, as the
    2-D polygons are), each piece joined to p. None when a boundary passes through a box corner (left to the
    general algorithm)."""
    X = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    edge = [p[1] == lo[1], p[0] == hi[0], p[1] == hi[1], p[0] == lo[0]]
    on_edge = any(edge)
    if on_edge:  # p on the boundary: the loop starts at p (a cut)
        k = next((i for i in range(4) if np.array_equal(X[i], p)), None)
        if k is None:
            k = edge.index(True) + 1
            X = np.insert(X, k, p, axis=0)
        X = np.roll(X, -k, axis=0)
    m = X.shape[0]
    x0, x1 = X, np.roll(X, -1, axis=0)
    cut = np.zeros(m, dtype=bool)
    cut[0] = on_edge
    corner = ~cut
    h0, h1 = x0.copy(), x1.copy()
    Sm = np.broadcast_to(np.maximum(np.abs(lo), np.abs(hi)), (m, 2))
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        G0, G1 = h0 @ w.T + b, h1 @ w.T + b
        S = Sm @ np.abs(w).T + np.abs(b)
        T = tol * S
        if np.any((np.abs(G0) <= T)[corner]):
            return None
        s0 = (G0 > T).astype(np.int8) - (G0 < -T)
        s1 = (G1 > T).astype(np.int8) - (G1 < -T)
        si, sj = np.nonzero(s0 * s1 < 0)
        g0 = G0[si, sj]
        t = g0 / (g0 - G1[si, sj])
        seg = np.concatenate((np.arange(x0.shape[0]), si))
        tt = np.concatenate((np.zeros(x0.shape[0]), t))
        o = np.lexsort((tt, seg))
        seg, tt = seg[o], tt[o]
        jj = np.concatenate((np.full(x0.shape[0], -1), sj))[o]
        # a crossing on the previous node of its segment (coincident lines) makes no new piece, as in 2-D
        dup = np.zeros(seg.size, dtype=bool)
        dup[1:] = (jj[1:] >= 0) & (seg[1:] == seg[:-1])
        dup[dup] = np.abs(G0[seg[dup], jj[dup]] + np.roll(tt, 1)[dup] * (G1 - G0)[seg[dup], jj[dup]]) \
            <= T[seg[dup], jj[dup]]
        if dup.any():
            o, seg, tt = o[~dup], seg[~dup], tt[~dup]
        nseg = np.roll(seg, -1)
        te = np.where(nseg == seg, np.roll(tt, -1), 1.0)
        cut = np.concatenate((cut, np.ones(t.size, dtype=bool)))[o]
        corner = np.concatenate((corner, np.zeros(t.size, dtype=bool)))[o]
        dx, dg = x1 - x0, G1 - G0
        x0, x1 = x0[seg] + tt[:, None] * dx[seg], x0[seg] + te[:, None] * dx[seg]
        g_a, g_b = G0[seg] + tt[:, None] * dg[seg], G0[seg] + te[:, None] * dg[seg]
        a = _slopes(net, (g_a + g_b) > 0)
        h0, h1 = g_a * a, g_b * a
        Sm = S[seg] * a
    c = np.flatnonzero(cut)
    if c.size < 2:
        return None
    N = x0.shape[0]
    nodes = np.vstack([x0, p])
    nxt = np.append(c[1:], c[0] + N)
    cnt = nxt - c + 1
    idx = _ranges(c, cnt) % N
    keep = ~((idx == 0) & on_edge)  # p itself, where a sector starts or ends on the boundary
    vcnt = np.add.reduceat(keep, np.cumsum(cnt) - cnt) + 1
    vi = np.empty(int(vcnt.sum()), dtype=np.intp)
    fst = np.zeros(vi.size, dtype=bool)
    fst[np.cumsum(vcnt) - vcnt] = True
    vi[fst] = N
    vi[~fst] = idx[keep]
    return nodes[vi], vcnt


def cone_maps(net: NetSnapshot, V: np.ndarray, cnt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Patterns (R, hidden) and output affine maps (R, 3) of given regions, from the sign at their centroids."""
    cen = np.add.reduceat(V, np.cumsum(cnt) - cnt, axis=0) / cnt[:, None]
    P = cnt.size
    A = np.array([[[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]]]).repeat(P, axis=1)
    pats = []
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        C = _mm(w, A.reshape(A.shape[0], P * 3)).reshape(w.shape[0], P, 3)
        C[:, :, 2] += b[:, None]
        a = (C[:, :, 0] * cen[:, 0] + C[:, :, 1] * cen[:, 1] + C[:, :, 2]) > 0
        pats.append(a.T)
        A = C * _slopes(net, a)[:, :, None]
    out = _mm(net.weights[-1], A.reshape(A.shape[0], P * 3)).reshape(P, 3)
    out[:, 2] += net.biases[-1][0]
    return np.concatenate(pats, axis=1), out
