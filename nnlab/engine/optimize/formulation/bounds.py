"""Bounds on the pre-activations of a ReLU network over a box: interval arithmetic and LP-based tightening.

The LP relaxation lives in `ReluModel`, a HiGHS model driven through highspy directly: rebuilding a cvxpy problem per
LP costs ~20 ms of compilation, while re-solving one HiGHS model with a new objective is warm-started.
"""
from __future__ import annotations

import time
from typing import Generator

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.highs import new_highs as _highs


def interval_bounds(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[L, U] of every hidden layer's pre-activations g^k by interval arithmetic.

    U = W+ u' + W- l' + b, L = W+ l' + W- u' + b, with [l', u'] the box for layer 1 and
    [max(0, L), max(0, U)] of the previous layer after.
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    out = []
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
        L = wp @ lo + wn @ hi + b
        U = wp @ hi + wn @ lo + b
        out.append((L, U))
        lo, hi = np.maximum(L, 0.0), np.maximum(U, 0.0)
    return out


# --- LP-based tightening ("RR"): max and min of each pre-activation over the LP relaxation of the layers before ---



FEAS_TOL = 1e-9  # HiGHS primal and MIP feasibility tolerance (defaults 1e-7 and 1e-6): see milp.tolerance_margin


class ReluModel:
    """A HiGHS model of a ReLU network over a box, built layer by layer (big-M, z relaxed until `make_integer`).

    Per hidden neuron with bounds [L, U] on g = W h_prev + b: U <= 0 is dropped (h = 0); L >= 0 is linear (h = g);
    else h >= g, h <= g - L (1 - z), h <= U z, h in [0, U], z in [0, 1].
    """

    def __init__(self, lower: np.ndarray, upper: np.ndarray, threads: int = 1) -> None:
        import highspy

        self.hs = highspy
        self.h = _highs(threads)
        for opt in ("primal_feasibility_tolerance", "dual_feasibility_tolerance", "mip_feasibility_tolerance"):
            self.h.setOptionValue(opt, FEAS_TOL)
        n0 = lower.size
        self.h.addVars(n0, np.asarray(lower, float), np.asarray(upper, float))
        self.n0 = n0
        self.prev_cols = np.arange(n0)  # columns of h_prev
        self.prev_idx = np.arange(n0)  # which entries of the previous layer's output those columns are
        self.z_cols: list[np.ndarray] = []
        self.layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # (h cols, idx, z cols, unst)
        self.prev_of: list[tuple[np.ndarray, np.ndarray]] = []  # (columns, indices) of each layer's input

    def add_cutoff(self, w: np.ndarray, b: float, sense: str, cutoff: float) -> None:
        """Keep only points whose output w . h_last + b is at least (max) / at most (min) `cutoff`."""
        inf = self.hs.kHighsInf
        vals = np.asarray(w, float)[self.prev_idx]
        lo_, hi_ = (cutoff - b, inf) if sense == "max" else (-inf, cutoff - b)
        self.h.addRow(lo_, hi_, self.prev_cols.size, self.prev_cols.astype(np.int32), vals)

    @property
    def num_col(self) -> int:
        return int(self.h.getNumCol())

    def affine_objective(self, w_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns, costs) of w_row . h_prev, the pre-activation of a next-layer neuron minus its bias."""
        return self.prev_cols, np.asarray(w_row, float)[self.prev_idx]

    def add_layer(self, w: np.ndarray, b: np.ndarray, L: np.ndarray, U: np.ndarray, enforce_inactive: bool = False
                  ) -> None:
        """Append a hidden layer with pre-activation bounds [L, U].

        With `enforce_inactive`, a dropped neuron keeps the row W h_prev + b <= 0: needed when [L, U] holds only on
        part of the box (bounds under an objective cutoff), so that the model stays exact where it is feasible.
        """
        inf = self.hs.kHighsInf
        self.prev_of.append((self.prev_cols, self.prev_idx))
        act = L >= 0
        unst = (L < 0) & (U > 0)
        keep = np.flatnonzero(act | unst)
        nk, nu = keep.size, int(unst.sum())
        base = self.num_col
        hcols = base + np.arange(nk)
        self.h.addVars(nk, np.maximum(L[keep], 0.0), np.maximum(U[keep], 0.0))
        zcols = base + nk + np.arange(nu)
        if nu:
            self.h.addVars(nu, np.zeros(nu), np.ones(nu))
        wk = np.asarray(w, float)[keep][:, self.prev_idx]
        m = self.prev_cols.size
        uk = unst[keep]
        zmap = np.full(nk, -1)
        zmap[uk] = zcols
        # rows as dense blocks (numpy, no per-neuron Python: a 2000x2000 layer took seconds):
        # h - W h_prev (= | >=) b;  unstable: h - W h_prev - L z <= b - L and h - U z <= 0
        u_r = np.flatnonzero(uk)
        ju = keep[u_r]
        pc = np.broadcast_to(self.prev_cols, (nk, m))
        blocks = [(np.column_stack([hcols, pc]), np.column_stack([np.ones(nk), -wk]), b[keep],
                   np.where(act[keep], b[keep], inf)),
                  (np.column_stack([hcols[u_r], pc[u_r], zmap[u_r]]),
                   np.column_stack([np.ones(nu), -wk[u_r], -L[ju]]), np.full(nu, -inf), b[ju] - L[ju]),
                  (np.column_stack([hcols[u_r], zmap[u_r]]), np.column_stack([np.ones(nu), -U[ju]]),
                   np.full(nu, -inf), np.zeros(nu))]
        if enforce_inactive:
            dead = np.flatnonzero(U <= 0)
            blocks.append((np.broadcast_to(self.prev_cols, (dead.size, m)),
                           np.asarray(w, float)[dead][:, self.prev_idx], np.full(dead.size, -inf), -b[dead]))
        for cols, vals, rlo, rhi in blocks:
            nr, width = cols.shape
            if nr == 0:
                continue
            self.h.addRows(nr, np.asarray(rlo, float), np.asarray(rhi, float), nr * width,
                           np.arange(0, nr * width, width, dtype=np.int32), cols.astype(np.int32).ravel(),
                           np.ascontiguousarray(vals, dtype=float).ravel())
        self.layers.append((hcols, keep, zcols, np.flatnonzero(unst)))
        self.z_cols.append(zcols)
        self.prev_cols, self.prev_idx = hcols, keep

    def optimize_linear(self, cols: np.ndarray, costs: np.ndarray, sense: str, deadline: float | None = None
                        ) -> float | None:
        """Optimum of sum(costs * col) (status optimal), else None (also when `deadline`, perf_counter seconds,
        passes first: one LP of a wide layer can take longer than a whole time limit). Only `cols` carry cost."""
        left = self.hs.kHighsInf if deadline is None else max(1e-3, deadline - time.perf_counter())
        self.h.setOptionValue("time_limit", float(left))
        n = self.num_col
        c = np.zeros(n)
        c[cols] = costs
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), c)
        self.h.changeObjectiveSense(self.hs.ObjSense.kMaximize if sense == "max" else self.hs.ObjSense.kMinimize)
        self.h.run()
        if self.h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
            return None
        return float(self.h.getInfo().objective_function_value)

    def column_values(self, x: np.ndarray, net_pre: list[np.ndarray]) -> np.ndarray:
        """A full column vector for the point x (h = relu(g), z = [g > 0]) to warm-start the MILP."""
        v = np.zeros(self.num_col)
        v[: self.n0] = x
        for (hcols, keep, zcols, unst), g in zip(self.layers, net_pre):
            v[hcols] = np.maximum(g[keep], 0.0)
            v[zcols] = (g[unst] > 0).astype(float)
        return v


def iter_lp_bounds(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, deadline: float | None = None
                   ) -> Generator[tuple[int, int, int], None, list[tuple[np.ndarray, np.ndarray]]]:
    """LP-tightened [L, U] per hidden layer, yielding (layer, neuron, LPs solved) as it goes.

    Layer 1 is exact by interval arithmetic; for each later neuron not stably inactive, U = max (and, if L < 0,
    L = min) of g over the LP
    relaxation of the layers before (HiGHS, one model kept and warm-started; only the objective changes). A value is
    loosened by 1e-7 relative for solver tolerance and never exceeds the interval bound. Past `deadline`
    (perf_counter seconds) the remaining neurons keep their interval bounds.
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    model = ReluModel(lo, hi)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    n_lp = 0
    try:
        for k, (w, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
            if k == 0:
                wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
                L, U = wp @ lo + wn @ hi + b, wp @ hi + wn @ lo + b
            else:
                pl, pu = np.maximum(out[-1][0], 0.0), np.maximum(out[-1][1], 0.0)
                wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
                L, U = wp @ pl + wn @ pu + b, wp @ pu + wn @ pl + b
                L, U = L.copy(), U.copy()
                for j in np.flatnonzero(U > 0):  # active ones too: a tighter U helps the next layers
                    if deadline is not None and time.perf_counter() > deadline:
                        break
                    cols, costs = model.affine_objective(w[j])
                    u = model.optimize_linear(cols, costs, "max", deadline)
                    n_lp += 1
                    if u is not None:
                        U[j] = min(U[j], u + b[j] + 1e-7 * (1.0 + abs(u + b[j])))
                    if U[j] > 0 and L[j] < 0:
                        lv = model.optimize_linear(cols, costs, "min", deadline)
                        n_lp += 1
                        if lv is not None:
                            L[j] = max(L[j], lv + b[j] - 1e-7 * (1.0 + abs(lv + b[j])))
                    yield k, int(j), n_lp
            out.append((L, U))
            if k < len(net.weights) - 2:
                model.add_layer(w, b, L, U)
    finally:
        model.h.clear()
    return out


def iter_cutoff_bounds(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray,
                       bounds: list[tuple[np.ndarray, np.ndarray]], sense: str, cutoff: float,
                       deadline: float | None = None) -> Generator[tuple[int, int, int], None,
                                                                   list[tuple[np.ndarray, np.ndarray]]]:
    """One pass of bound tightening over the LP relaxation of the WHOLE network plus the objective cutoff.

    Only points at least as good as `cutoff` (an incumbent's value, loosened by the caller) can be optimal, so each
    unstable neuron is bounded over {relaxation, output >= cutoff} (max). The bounds hold on that set only: a MILP
    built from them must use `enforce_inactive=True` (then it is exact wherever it is feasible, and every optimum
    better than the cutoff is kept). If the relaxation is infeasible, no point beats the cutoff: the input is
    returned unchanged.
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    model = ReluModel(lo, hi)
    out = [(L.copy(), U.copy()) for L, U in bounds]
    n_lp = 0
    try:
        for (w, b), (L, U) in zip(net.layers()[:-1], bounds):
            model.add_layer(w, b, L, U, enforce_inactive=True)
        model.add_cutoff(net.weights[-1][0], float(net.biases[-1][0]), sense, cutoff)
        for k, (w, b) in enumerate(net.layers()[:-1]):
            L, U = out[k]
            cols, idx = model.prev_of[k]
            for j in np.flatnonzero((L < 0) & (U > 0)):
                if deadline is not None and time.perf_counter() > deadline:
                    return out
                costs = np.asarray(w[j], float)[idx]
                u = model.optimize_linear(cols, costs, "max", deadline)
                n_lp += 1
                if u is None:
                    if model.h.getModelStatus() == model.hs.HighsModelStatus.kInfeasible:
                        return [(L0.copy(), U0.copy()) for L0, U0 in bounds]
                    continue
                U[j] = min(U[j], u + b[j] + 1e-7 * (1.0 + abs(u + b[j])))
                if U[j] > 0:
                    lv = model.optimize_linear(cols, costs, "min", deadline)
                    n_lp += 1
                    if lv is not None:
                        L[j] = max(L[j], lv + b[j] - 1e-7 * (1.0 + abs(lv + b[j])))
                yield k, int(j), n_lp
    finally:
        model.h.clear()
    return out


def lp_bounds(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, time_limit: float | None = None
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """LP-tightened pre-activation bounds (see iter_lp_bounds); within interval_bounds and valid over the box."""
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    return drain(iter_lp_bounds(net, lower, upper, deadline))
