"""Bounds on the pre-activations of a piecewise-linear network over a box: interval arithmetic (intervals.py, the
one copy) and LP-based tightening over the big-M relaxation (bigm.py, the one model).

The LP relaxation is a HiGHS model driven through highspy directly: rebuilding a cvxpy problem per LP costs ~20 ms
of compilation, while re-solving one HiGHS model with a new objective is warm-started.
"""
from __future__ import annotations

import time
from typing import Generator

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.bigm import BigMModel
from nnlab.engine.optimize.formulation.intervals import activate, affine_bounds, interval_bounds, slope

__all__ = ["interval_bounds", "iter_lp_bounds", "iter_cutoff_bounds", "lp_bounds"]


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
    a = slope(net)
    model = BigMModel(lo, hi, a)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    n_lp = 0
    try:
        for k, (w, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
            if k == 0:
                L, U = affine_bounds(w, b, lo, hi)
            else:
                L, U = affine_bounds(w, b, activate(out[-1][0], a), activate(out[-1][1], a))
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
    model = BigMModel(lo, hi, slope(net))
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
