"""The big-M encoding of a piecewise-linear network over a box, one builder for every model nnlab hands to HiGHS:
the exact MILP, LP bound tightening (plain and under an objective cutoff), relax-and-walk's LP relaxation and
enhanced sampling's small MILPs; the cvxpy path of the MILP reads the same model back (`matrices`).

Fischetti & Jo (2018) for the encoding, Tjeng, Xiao & Tedrake (2019) for fixing stable neurons. Every hidden unit
computes y = max(g, a g) of its pre-activation g = W h + b, with a = the activation's slope in the registry
(activations.py: relu 0, leaky_relu 0.01, leaky_relu:a any a in (0, 1), as a file's LeakyRelu(alpha) reads). With
bounds L <= g <= U:
- L >= 0 (or fixed on by the caller): y = g, linear, no binary;
- U <= 0 (or fixed off): y = a g, linear, no binary (relu: y = 0, the unit drops out of the model);
- else a column y in [a L, U] and a binary z (z = 1: y = g, z = 0: y = a g) with the rows
      y >= g,    y >= a g (a > 0 only: for relu the column bound y >= 0 is this row),
      y <= g - (1 - a) L (1 - z),    y <= a g + (1 - a) U z.
  Derivation: on the off side (z = 0, g in [L, 0]) y - g = (1 - a)(-g) <= -(1 - a) L, and y = a g is forced by
  y >= a g and the last row; on the on side (z = 1, g in [0, U]) y - a g = (1 - a) g <= (1 - a) U and y = g by the
  first and third rows. At a = 0 these are the ReLU rows h >= g, h <= g - L (1 - z), h <= U z, h in [0, U].

A linear unit is held one of two ways. `eliminate=False` (the MILP, bound tightening, the relaxation): each kept unit
has its own column (an equality row for a stable one), so any unit's value is a column and LPs over the model can
bound it. `eliminate=True` (sampling's MILP, nearly every unit fixed): a linear unit is an affine map of the earlier
columns and gets no column, so the model holds only x and one y and z per unstable unit; its bounds then come from
interval arithmetic on those maps (tighter than layer by layer, since fixed units keep their correlations).
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.highs import new_highs
from nnlab.engine.optimize.formulation.intervals import activate, affine_bounds, slope

FEAS_TOL = 1e-9  # HiGHS primal and MIP feasibility tolerance (defaults 1e-7 and 1e-6): see milp.tolerance_margin


class BigMModel:
    """A HiGHS model of a network over a box, built layer by layer (`add_layer`); z continuous in [0, 1] until
    `make_integer`. Columns: x, then per layer its new y columns followed by its z columns.

    Per layer k: `layers[k]` = (y columns, which units they are, z columns, which units are unstable), `prev_of[k]`
    = (columns, units) of the layer's input when `eliminate` is off (the input is those columns), and `z_of[k]` =
    the z column per unit (-1 for a linear unit).
    """

    def __init__(self, lower: np.ndarray, upper: np.ndarray, slope: float = 0.0, threads: int = 1,
                 tolerance: float | None = FEAS_TOL, presolve: bool = True, eliminate: bool = False) -> None:
        import highspy

        self.hs = highspy
        self.a = float(slope)
        self.eliminate = eliminate
        self.h = new_highs(threads)
        if tolerance is not None:
            for opt in ("primal_feasibility_tolerance", "dual_feasibility_tolerance", "mip_feasibility_tolerance"):
                self.h.setOptionValue(opt, tolerance)
        if not presolve:
            self.h.setOptionValue("presolve", "off")
        lo, hi = np.asarray(lower, float), np.asarray(upper, float)
        self.n0 = lo.size
        self.h.addVars(self.n0, lo, hi)
        self.col_lo, self.col_hi = [lo], [hi]  # column bounds as added (for interval arithmetic when eliminating)
        # the current layer's output: columns `prev_cols` hold units `prev_idx` (the others are 0) ...
        self.prev_cols = np.arange(self.n0)
        self.prev_idx = np.arange(self.n0)
        # ... or, when eliminating, h = M v[prev_cols] + c
        self._M: np.ndarray | None = np.eye(self.n0) if eliminate else None
        self._c = np.zeros(self.n0)
        self.z_cols: list[np.ndarray] = []
        self.z_of: list[np.ndarray] = []
        self.layers: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.prev_of: list[tuple[np.ndarray, np.ndarray]] = []
        self.bounds: list[tuple[np.ndarray, np.ndarray]] = []  # [L, U] each layer was built with
        self.infeasible = False  # a fixed unit's sign row with no x-dependence is violated: the model is empty

    @property
    def num_col(self) -> int:
        return int(self.h.getNumCol())

    def affine(self, w: np.ndarray, b: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(columns, coefficients (rows, columns), constants) of W h_prev + b, the next pre-activations, in model
        columns; a vector w gives one row."""
        w2 = np.atleast_2d(np.asarray(w, float))
        if self._M is None:
            return self.prev_cols, w2[:, self.prev_idx], np.broadcast_to(np.asarray(b, float), w2.shape[:1]).copy()
        return self.prev_cols, w2 @ self._M, w2 @ self._c + b

    def affine_objective(self, w_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(columns, costs) of w_row . h_prev, the pre-activation of a next-layer unit minus its bias (column mode)."""
        cols, G, _ = self.affine(w_row)
        return cols, G[0]

    def add_cutoff(self, w: np.ndarray, b: float, sense: str, cutoff: float) -> None:
        """Keep only points whose output w . h_last + b is at least (max) / at most (min) `cutoff`."""
        inf = self.hs.kHighsInf
        cols, G, g0 = self.affine(w, b)
        lo_, hi_ = (cutoff - g0[0], inf) if sense == "max" else (-inf, cutoff - g0[0])
        self.h.addRow(lo_, hi_, cols.size, cols.astype(np.int32), G[0])

    def add_layer(self, w: np.ndarray, b: np.ndarray, L: np.ndarray | None = None, U: np.ndarray | None = None,
                  enforce_inactive: bool = False, fixed: np.ndarray | None = None,
                  on: np.ndarray | None = None) -> None:
        """Append a hidden layer with pre-activation bounds [L, U] (None: interval arithmetic over the model).

        `fixed`/`on` (bool per unit): units fixed by the caller to on (g >= 0) or off (g <= 0), kept by a sign row.
        With `enforce_inactive`, a relu unit dropped as U <= 0 keeps the row W h_prev + b <= 0: needed when [L, U]
        holds only on part of the box (bounds under an objective cutoff), so that the model stays exact where it is
        feasible (a leaky unit's column bounds [a L, a U] already say g <= 0).
        """
        inf, a = self.hs.kHighsInf, self.a
        b = np.asarray(b, float)
        cols, G, gq = self.affine(w, b)
        if L is None or U is None:
            clo = np.concatenate(self.col_lo)[cols]
            chi = np.concatenate(self.col_hi)[cols]
            L, U = affine_bounds(G, gq, clo, chi)
        n = G.shape[0]
        fx = np.zeros(n, bool) if fixed is None else np.asarray(fixed, bool)
        fon = fx & np.asarray(on, bool) if fx.any() else fx
        act = (L >= 0) | fon
        dead = ((U <= 0) | (fx & ~fon)) & ~act
        unst = ~act & ~dead
        if not self.eliminate:
            self.prev_of.append((self.prev_cols, self.prev_idx))
        self.bounds.append((L, U))
        newcol = unst if self.eliminate else (act | unst | (dead & (a > 0)))
        keep = np.flatnonzero(newcol)
        nk, nu = keep.size, int(unst.sum())
        base = self.num_col
        hcols = base + np.arange(nk)
        vlo, vhi = self._act(L[keep]), self._act(U[keep])  # a fixed unit's sign comes from its sign row
        self.h.addVars(nk, vlo, vhi)
        zcols = base + nk + np.arange(nu)
        if nu:
            self.h.addVars(nu, np.zeros(nu), np.ones(nu))
        self.col_lo += [vlo, np.zeros(nu)]
        self.col_hi += [vhi, np.ones(nu)]
        uk = unst[keep]
        zmap = np.full(nk, -1)
        zmap[uk] = zcols
        zof = np.full(n, -1)
        zof[unst] = zcols
        Gk, gk = G[keep], gq[keep]
        m = cols.size
        u_r = np.flatnonzero(uk)
        ju = keep[u_r]
        pc = np.broadcast_to(cols, (nk, m))
        lin = np.where(dead[keep], a, 1.0)  # a linear unit: y = g (on) or y = a g (off)
        Lu, Uu = L[ju], U[ju]
        # rows as dense blocks (numpy, no per-unit Python: a 2000x2000 layer took seconds):
        # y - lin W h_prev (= | >=) lin b;  unstable: y - W h_prev - (1 - a) L z <= b - (1 - a) L,
        # y - a W h_prev - (1 - a) U z <= a b (relu: y - U z <= 0) and y - a W h_prev >= a b (a > 0 only)
        blocks = [(np.column_stack([hcols, pc]), np.column_stack([np.ones(nk), -lin[:, None] * Gk]), lin * gk,
                   np.where(uk, inf, lin * gk)),
                  (np.column_stack([hcols[u_r], pc[u_r], zmap[u_r]]),
                   np.column_stack([np.ones(nu), -Gk[u_r], -(1.0 - a) * Lu]), np.full(nu, -inf),
                   gk[u_r] - (1.0 - a) * Lu)]
        if a == 0.0:
            blocks.append((np.column_stack([hcols[u_r], zmap[u_r]]), np.column_stack([np.ones(nu), -Uu]),
                           np.full(nu, -inf), np.zeros(nu)))
        else:
            blocks += [(np.column_stack([hcols[u_r], pc[u_r], zmap[u_r]]),
                        np.column_stack([np.ones(nu), -a * Gk[u_r], -(1.0 - a) * Uu]), np.full(nu, -inf),
                        a * gk[u_r]),
                       (np.column_stack([hcols[u_r], pc[u_r]]), np.column_stack([np.ones(nu), -a * Gk[u_r]]),
                        a * gk[u_r], np.full(nu, inf))]
        sign = np.flatnonzero(fx | (dead & ~newcol & (enforce_inactive and not self.eliminate)))
        if sign.size:  # on: W h_prev + b >= 0, off: <= 0
            s_on = fon[sign]
            Gs = G[sign]
            zero = ~np.any(Gs != 0.0, axis=1)
            if np.any(np.where(s_on, -gq[sign], gq[sign])[zero] > 1e-12):
                self.infeasible = True
            sign, s_on, Gs = sign[~zero], s_on[~zero], Gs[~zero]
            blocks.append((np.broadcast_to(cols, (sign.size, m)), Gs, np.where(s_on, -gq[sign], -inf),
                           np.where(s_on, inf, -gq[sign])))
        for bcols, vals, rlo, rhi in blocks:
            nr, width = bcols.shape
            if nr == 0:
                continue
            self.h.addRows(nr, np.asarray(rlo, float), np.asarray(rhi, float), nr * width,
                           np.arange(0, nr * width, width, dtype=np.int32), bcols.astype(np.int32).ravel(),
                           np.ascontiguousarray(vals, dtype=float).ravel())
        self.layers.append((hcols, keep, zcols, np.flatnonzero(unst)))
        self.z_cols.append(zcols)
        self.z_of.append(zof)
        if self.eliminate:  # h = M' v[cols'] + c' with the new y columns appended
            M = np.zeros((n, m + nk))
            M[:, :m] = np.where(act, 1.0, a)[:, None] * G
            M[unst] = 0.0
            M[keep, m + np.arange(nk)] = 1.0
            self._c = np.where(act, 1.0, a) * gq
            self._c[unst] = 0.0
            self._M, self.prev_cols = M, np.concatenate([cols, hcols])
        else:
            self.prev_cols, self.prev_idx = hcols, keep

    def _act(self, z: np.ndarray) -> np.ndarray:
        return activate(z, self.a)

    def set_objective(self, w: np.ndarray, b: float, sense: str) -> None:
        """Objective w . h_last + b (the network's output), maximised or minimised."""
        cols, G, g0 = self.affine(w, b)
        n = self.num_col
        c = np.zeros(n)
        c[cols] = G[0]
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), c)
        self.h.changeObjectiveOffset(float(g0[0]))
        self.set_sense(sense)

    def set_sense(self, sense: str) -> None:
        self.h.changeObjectiveSense(self.hs.ObjSense.kMaximize if sense == "max" else self.hs.ObjSense.kMinimize)

    def all_z(self) -> np.ndarray:
        return np.concatenate(self.z_cols).astype(np.int32) if self.z_cols else np.zeros(0, np.int32)

    def make_integer(self, integer: bool = True) -> None:
        """Declare every z integer (the MILP) or continuous again."""
        zc = self.all_z()
        if zc.size:
            kind = self.hs.HighsVarType.kInteger if integer else self.hs.HighsVarType.kContinuous
            self.h.changeColsIntegrality(zc.size, zc, np.full(zc.size, kind.value, np.uint8))

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
        self.set_sense(sense)
        self.h.run()
        if self.h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
            return None
        return float(self.h.getInfo().objective_function_value)

    def column_values(self, x: np.ndarray, net_pre: Sequence[np.ndarray]) -> np.ndarray:
        """A full column vector for the point x (y = act(g), z = [g > 0]) to warm-start the MILP."""
        v = np.zeros(self.num_col)
        v[: self.n0] = x
        for (hcols, keep, zcols, unst), g in zip(self.layers, net_pre):
            v[hcols] = self._act(g[keep])
            v[zcols] = (g[unst] > 0).astype(float)
        return v

    def fix_z(self, fixed: dict[tuple[int, int], int]) -> None:
        """z of unit (k, j) fixed to 0/1 for the entries of `fixed` (linear units ignored), the others in [0, 1]."""
        zc = self.all_z()
        if not zc.size:
            return
        lo, hi = np.zeros(zc.size), np.ones(zc.size)
        for (k, j), v in fixed.items():
            c = self.z_of[k][j]
            if c >= 0:
                i = int(np.searchsorted(zc, c))
                lo[i] = hi[i] = float(v)
        self.h.changeColsBounds(zc.size, zc, lo, hi)

    def matrices(self) -> dict[str, Any]:
        """The model as arrays (sparse matrix A, row and column bounds, costs and offset, z integer) for another
        solver: the MILP's cvxpy path solves exactly this model."""
        from scipy.sparse import csc_matrix, csr_matrix

        lp = self.h.getLp()
        A = lp.a_matrix_
        kind = csr_matrix if A.format_ == self.hs.MatrixFormat.kRowwise else csc_matrix
        M = kind((np.asarray(A.value_), np.asarray(A.index_), np.asarray(A.start_)),
                 shape=(lp.num_row_, lp.num_col_)).tocsc()
        integ = np.zeros(lp.num_col_, bool)
        integ[self.all_z()] = True
        return {"A": M, "row_lower": np.asarray(lp.row_lower_), "row_upper": np.asarray(lp.row_upper_),
                "col_lower": np.asarray(lp.col_lower_), "col_upper": np.asarray(lp.col_upper_),
                "cost": np.asarray(lp.col_cost_), "offset": float(lp.offset_), "integer": integ}


def network_model(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray,
                  bounds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None, enforce_inactive: bool = False,
                  **options: Any) -> BigMModel:
    """The model of every hidden layer (bounds None: interval arithmetic over the model), without an objective."""
    model = BigMModel(lower, upper, slope(net), **options)
    for k, (w, b) in enumerate(net.layers()[:-1]):
        L, U = (None, None) if bounds is None else bounds[k]
        model.add_layer(w, b, L, U, enforce_inactive=enforce_inactive)
    return model
