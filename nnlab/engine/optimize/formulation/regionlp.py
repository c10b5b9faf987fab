"""The heuristics' LP building blocks, driven through highspy directly (no cvxpy compile step per LP).

- Region LP: the activation pattern a fixes a linear region; max/min P^K x + q^K over
  (2a^k - 1) * (P^k x + q^k) >= 0 and the box (ALGORITHMS.md). One Highs object is reused for every pattern.
- Big-M model (Fischetti & Jo) with interval bounds: its LP relaxation (z in [0, 1]) for relax-and-walk, with
  neurons fixed by column bounds on z. (Enhanced sampling's small MILP lives in sampling.py.)
Measured on a 10-200-200-1 net (bench/heuristics.py): ~1 ms per region LP here against ~5-6 ms for the same LP
built through cvxpy + HiGHS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator, Sequence

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.highs import new_highs, set_dense_rows



def flat_pattern(pattern: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per-layer bool vectors from net.pattern(x) of one point ((1, n_k) or (n_k,) arrays)."""
    return [np.asarray(a, dtype=bool).reshape(-1) for a in pattern]


def pattern_key(pattern: Sequence[np.ndarray]) -> bytes:
    """A hashable key of a pattern (for 'already seen' sets)."""
    if not len(pattern):
        return b""
    return np.packbits(np.concatenate([np.asarray(a, dtype=bool).reshape(-1) for a in pattern])).tobytes()


def compose_region(net: NetSnapshot, pattern: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(A, r, c, d): the region is A x >= r (rows scaled to unit norm), the network there is c x + d."""
    pat = flat_pattern(pattern)
    if len(pat) != len(net.widths) or any(a.size != n for a, n in zip(pat, net.widths)):
        raise ValueError(f"the pattern's layer sizes {[a.size for a in pat]} do not match the network's {list(net.widths)}")
    P, q = net.weights[0], net.biases[0]
    rows, rhs = [], []
    for k, a in enumerate(pat):
        s = np.where(a, 1.0, -1.0)
        rows.append(s[:, None] * P)
        rhs.append(-s * q)
        P = net.weights[k + 1] @ (a[:, None] * P)
        q = net.weights[k + 1] @ (a * q) + net.biases[k + 1]
    A = np.vstack(rows) if rows else np.zeros((0, net.input_dim))
    r = np.concatenate(rhs) if rhs else np.zeros(0)
    norms = np.linalg.norm(A, axis=1)
    zero = norms <= 1e-300
    norms[zero] = 1.0
    A, r = A / norms[:, None], r / norms
    return A, r, P[0].copy(), float(q[0])


def _set_sense(h: Any, sense: str) -> None:
    import highspy

    h.changeObjectiveSense(highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize)


class RegionLP:
    """Solves region LPs of one network over one box, reusing a single Highs object (presolve off: tiny LPs)."""

    def __init__(self, net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> None:
        self.net = net
        self.lower = np.asarray(lower, dtype=np.float64)
        self.upper = np.asarray(upper, dtype=np.float64)
        self._h = new_highs()
        self._h.setOptionValue("presolve", "off")
        self.n_solved = 0

    def solve(self, pattern: Sequence[np.ndarray], sense: str = "max") -> tuple[np.ndarray, float] | None:
        """(x*, LP value) of the region's best point, or None when the region is empty (infeasible pattern)."""
        import highspy

        A, r, c, d = compose_region(self.net, pattern)
        # Rows with no x-dependence are constants: keep none of them, but an unmet one empties the region.
        const = ~np.any(A != 0.0, axis=1)
        if np.any(r[const] > 1e-12):
            return None
        A, r = A[~const], r[~const]
        m, n = A.shape
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = n, m
        lp.col_cost_ = c
        lp.col_lower_, lp.col_upper_ = self.lower, self.upper
        lp.row_lower_, lp.row_upper_ = r, np.full(m, highspy.kHighsInf)
        set_dense_rows(lp, A)
        lp.sense_ = highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize
        h = self._h
        h.passModel(lp)
        h.run()
        self.n_solved += 1
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        x = np.clip(np.asarray(h.getSolution().col_value, dtype=np.float64), self.lower, self.upper)
        return x, float(c @ x + d)


def solve_region_lp(net: NetSnapshot, pattern: Sequence[np.ndarray], lower: np.ndarray, upper: np.ndarray,
                    sense: str = "max") -> tuple[np.ndarray, float] | None:
    """One region LP: (x*, value) or None if the pattern's region is empty. Loops should keep a RegionLP."""
    return RegionLP(net, lower, upper).solve(pattern, sense)


@dataclass(frozen=True, eq=False)
class RelaxSolution:
    """A solution of the big-M model: input x and per-layer z (1 for stably active, 0 for stably inactive)."""

    x: np.ndarray
    z: list[np.ndarray]
    objective: float


class BigM:
    """Big-M model over the box with interval bounds; z of unstable neurons in [0, 1] unless fixed or integral.

    Columns: x (n0), h^k (n_k) per hidden layer, z (unstable neurons). Rows per unstable neuron:
    h - W h_prev >= b, h - U z <= 0, h - W h_prev - L z <= b - L; stably active: h - W h_prev = b.
    """

    def __init__(self, net: NetSnapshot, lower: np.ndarray, upper: np.ndarray,
                 bounds: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        import highspy
        from nnlab.engine.optimize.formulation.bounds import interval_bounds

        self.net = net
        lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        self.lower, self.upper = lo, hi
        bounds = bounds or interval_bounds(net, lo, hi)
        n0, widths = net.input_dim, net.widths
        inf = highspy.kHighsInf
        offs = np.cumsum([n0, *widths])  # h^k columns start at offs[k-1]
        self.unstable = [(L < 0) & (U > 0) for L, U in bounds]
        self.active = [L >= 0 for L, _ in bounds]
        nz = int(sum(u.sum() for u in self.unstable))
        ncol = int(offs[-1]) + nz
        self.zcol: list[np.ndarray] = []  # per layer: z column of each neuron (-1 when stable)
        col_lo, col_hi = [lo], [hi]
        rows_i: list[np.ndarray] = []
        rows_j: list[np.ndarray] = []
        rows_v: list[np.ndarray] = []
        rlo: list[float] = []
        rhi: list[float] = []
        nrow = 0
        zc = int(offs[-1])
        for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
            L, U = bounds[k]
            prev0 = 0 if k == 0 else int(offs[k - 1])
            hcol0 = int(offs[k])
            col_lo.append(np.zeros(widths[k]))
            col_hi.append(np.where(U > 0, U, 0.0))
            zcols = np.full(widths[k], -1)
            for j in range(widths[k]):
                if U[j] <= 0:
                    continue
                nzw = np.flatnonzero(W[j])
                hj = hcol0 + j

                def add(cols: list, vals: list, lo_: float, hi_: float) -> None:
                    nonlocal nrow
                    rows_i.append(np.full(len(cols), nrow))
                    rows_j.append(np.asarray(cols, dtype=np.int64))
                    rows_v.append(np.asarray(vals, dtype=np.float64))
                    rlo.append(lo_)
                    rhi.append(hi_)
                    nrow += 1

                cols = [hj, *(prev0 + nzw)]
                vals = [1.0, *(-W[j, nzw])]
                if L[j] >= 0:
                    add(cols, vals, b[j], b[j])
                    continue
                zcols[j] = zc
                add(cols, vals, b[j], inf)
                add([hj, zc], [1.0, -U[j]], -inf, 0.0)
                add(cols + [zc], vals + [-L[j]], -inf, b[j] - L[j])
                zc += 1
            self.zcol.append(zcols)
        col_lo.append(np.zeros(nz))
        col_hi.append(np.ones(nz))
        cost = np.zeros(ncol)
        cost[int(offs[-2]) if widths else 0:int(offs[-1])] = net.weights[-1][0]
        self.offset = float(net.biases[-1][0])
        self.n0, self.ncol, self.nz, self._offs = n0, ncol, nz, offs
        from scipy.sparse import csr_matrix

        if nrow:
            M = csr_matrix((np.concatenate(rows_v), (np.concatenate(rows_i), np.concatenate(rows_j))), shape=(nrow, ncol))
        else:
            M = csr_matrix((0, ncol))
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = ncol, nrow
        lp.col_cost_ = cost
        lp.col_lower_, lp.col_upper_ = np.concatenate(col_lo), np.concatenate(col_hi)
        lp.row_lower_, lp.row_upper_ = np.asarray(rlo, dtype=np.float64), np.asarray(rhi, dtype=np.float64)
        mat = lp.a_matrix_
        mat.format_ = highspy.MatrixFormat.kRowwise
        mat.num_col_, mat.num_row_ = ncol, nrow
        mat.start_, mat.index_, mat.value_ = M.indptr.astype(np.int32), M.indices.astype(np.int32), M.data
        self._h = new_highs()
        self._h.setOptionValue("presolve", "off")  # keeps hot starts after bound changes cheap
        self._h.passModel(lp)
        self._zall = np.arange(int(offs[-1]), ncol, dtype=np.int32)

    def _fix(self, fixed: dict[tuple[int, int], int]) -> None:
        lo, hi = np.zeros(self.nz), np.ones(self.nz)
        for (k, j), v in fixed.items():
            c = self.zcol[k][j]
            if c >= 0:
                lo[c - self._zall[0]] = hi[c - self._zall[0]] = float(v)
        if self.nz:
            self._h.changeColsBounds(self.nz, self._zall, lo, hi)

    def _read(self) -> RelaxSolution | None:
        import highspy

        h = self._h
        st = h.getModelStatus()
        ok = st == highspy.HighsModelStatus.kOptimal or (
            h.getInfo().primal_solution_status == 2 and st != highspy.HighsModelStatus.kInfeasible)
        if not ok:
            return None
        col = np.asarray(h.getSolution().col_value, dtype=np.float64)
        z = []
        for k, zc in enumerate(self.zcol):
            zk = np.where(self.active[k], 1.0, 0.0)
            m = zc >= 0
            zk[m] = col[zc[m]]
            z.append(zk)
        return RelaxSolution(np.clip(col[:self.n0], self.lower, self.upper), z, float(h.getInfo().objective_function_value) + self.offset)

    def relax_iter(self, sense: str, fixed: dict[tuple[int, int], int] | None = None,
                   chunk: float = 0.15) -> Generator[None, None, RelaxSolution | None]:
        """LP relaxation with z_kj fixed to 0/1 for the (k, j) in `fixed` (stable neurons ignored); None if infeasible.

        HiGHS runs in slices of `chunk` seconds (it resumes from its basis), yielding None between slices, so a
        caller can stay responsive on big nets (the first solve of a 10-500-500-1 relaxation takes seconds).
        A slice in which the simplex made no iteration doubles the slice length, so the loop always ends.
        Successive calls change only column bounds, so HiGHS hot-starts from the previous basis.
        """
        import highspy

        self._fix(fixed or {})
        _set_sense(self._h, sense)
        h = self._h
        try:
            while True:
                h.setOptionValue("time_limit", h.getRunTime() + chunk)
                h.run()
                if h.getModelStatus() != highspy.HighsModelStatus.kTimeLimit:
                    break
                if h.getInfo().simplex_iteration_count == 0:
                    chunk *= 2.0  # the slice did not even cover HiGHS's setup: lengthen it, or it never ends
                yield None
        finally:
            h.setOptionValue("time_limit", highspy.kHighsInf)
        return self._read()

    def relax(self, sense: str, fixed: dict[tuple[int, int], int] | None = None) -> RelaxSolution | None:
        """relax_iter run to the end."""
        return drain(self.relax_iter(sense, fixed))
