"""Root cuts for the big-M model: the ideal single-neuron inequalities of Anderson et al. (2020).

For y = relu(w . v + b) with v in a box [l, u], l^_i = l_i if w_i >= 0 else u_i and u^_i the other end, every subset I
of the inputs gives the valid inequality
    y <= sum_{i in I} w_i (v_i - l^_i (1 - z)) + (b + sum_{i not in I} w_i u^_i) z,
and together they describe the convex hull of one neuron. Given an LP point, the most violated one is found in
linear time (i in I iff w_i v_i < w_i (l^_i (1 - z) + u^_i z)). A few rounds at the root (solve LP, add violated cuts)
tighten the relaxation that the plain big-M leaves loose; HiGHS then keeps them as ordinary rows. ReLU models
only (slope 0): the MILP adds none to a leaky one.
"""
from __future__ import annotations

import time

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.bigm import BigMModel


def _layer_inputs(model: BigMModel, k: int, lo: np.ndarray, hi: np.ndarray,
                  bounds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(columns, indices, lower, upper) of the inputs of hidden layer k in the model."""
    cols, idx = model.prev_of[k]
    if k == 0:
        return cols, idx, lo[idx], hi[idx]
    L, U = bounds[k - 1]
    return cols, idx, np.maximum(L[idx], 0.0), np.maximum(U[idx], 0.0)


def add_ideal_cuts(model: BigMModel, net: NetSnapshot, lo: np.ndarray, hi: np.ndarray,
                   bounds: list[tuple[np.ndarray, np.ndarray]], rounds: int = 8, deadline: float | None = None,
                   tol: float = 1e-6) -> tuple[int, float | None]:
    """Separate and add violated ideal cuts for every unstable neuron, `rounds` times, on the model's current
    objective (z still continuous). Returns (cuts added, last LP relaxation value)."""
    hs = model.hs
    inf = hs.kHighsInf
    total, lp_val = 0, None
    for _ in range(rounds):
        if deadline is not None and time.perf_counter() > deadline:
            break
        model.h.run()
        if model.h.getModelStatus() != hs.HighsModelStatus.kOptimal:
            break
        lp_val = float(model.h.getInfo().objective_function_value)
        v = np.asarray(model.h.getSolution().col_value, dtype=np.float64)
        starts, index, value, upper = [], [], [], []
        nnz = 0
        for k, ((hcols, keep, zcols, unst), (w, b)) in enumerate(zip(model.layers, net.layers())):
            if unst.size == 0:
                continue
            cols, idx, lb, ub = _layer_inputs(model, k, lo, hi, bounds)
            W = np.asarray(w, float)[unst][:, idx]  # (nu, m)
            yc = hcols[np.searchsorted(keep, unst)]
            vx, z, y = v[cols], v[zcols], v[yc]
            lh = np.where(W >= 0, lb, ub)
            uh = np.where(W >= 0, ub, lb)
            inI = W * vx < W * (lh * (1 - z[:, None]) + uh * z[:, None])
            rhs = np.where(inI, W * (vx - lh * (1 - z[:, None])), 0.0).sum(1) + \
                (b[unst] + np.where(inI, 0.0, W * uh).sum(1)) * z
            for r in np.flatnonzero(y > rhs + tol * (1.0 + np.abs(rhs))):
                sel = np.flatnonzero(inI[r] & (W[r] != 0))
                zc = np.sum(W[r, sel] * lh[r, sel]) + b[unst[r]] + np.sum(np.where(inI[r], 0.0, W[r] * uh[r]))
                starts.append(nnz)
                index.extend([yc[r], *cols[sel], zcols[r]])
                value.extend([1.0, *(-W[r, sel]), -zc])
                nnz += 2 + sel.size
                upper.append(-np.sum(W[r, sel] * lh[r, sel]))
        if not starts:
            break
        model.h.addRows(len(starts), np.full(len(starts), -inf), np.array(upper, float), nnz,
                        np.array(starts, np.int32), np.array(index, np.int32), np.array(value, float))
        total += len(starts)
    return total, lp_val
