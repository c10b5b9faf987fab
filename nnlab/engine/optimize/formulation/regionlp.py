"""The heuristics' LP building blocks, driven through highspy directly (no cvxpy compile step per LP).

- Region LP: the activation pattern a fixes a linear region; max/min P^K x + q^K over
  (2a^k - 1) * (P^k x + q^k) >= 0 and the box (ALGORITHMS.md). One Highs object is reused for every pattern.
- Big-M model (bigm.py, the one builder) with interval bounds: its LP relaxation (z in [0, 1]) for relax-and-walk,
  with neurons fixed by column bounds on z. (Enhanced sampling's small MILP, built by the same builder, lives in
  sampling.py.)
Both hold for every piecewise-linear activation y = max(g, a g) (relu a = 0, leaky_relu): in a region a unit is
y = g (on) or y = a g (off).
Measured on a 10-200-200-1 net (bench/heuristics.py): ~1 ms per region LP here against ~5-6 ms for the same LP
built through cvxpy + HiGHS.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Sequence

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.formulation.bigm import BigMModel, network_model
from nnlab.engine.optimize.formulation.highs import new_highs, set_dense_rows
from nnlab.engine.optimize.formulation.intervals import unit_slopes



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
        d = unit_slopes(net, a)  # each unit's slope in this region
        P = net.weights[k + 1] @ (d[:, None] * P)
        q = net.weights[k + 1] @ (d * q) + net.biases[k + 1]
    A = np.vstack(rows) if rows else np.zeros((0, net.input_dim))
    r = np.concatenate(rhs) if rhs else np.zeros(0)
    norms = np.linalg.norm(A, axis=1)
    zero = norms <= 1e-300
    norms[zero] = 1.0
    A, r = A / norms[:, None], r / norms
    return A, r, P[0].copy(), float(q[0])


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
    """The big-M model (bigm.network_model) over the box with interval bounds, as an LP: z of unstable neurons in
    [0, 1] unless fixed; presolve off (keeps hot starts after bound changes cheap) and HiGHS's default tolerances.
    `unstable[k]` / `active[k]`: per layer, which neurons have a z / are stably on."""

    def __init__(self, net: NetSnapshot, lower: np.ndarray, upper: np.ndarray,
                 bounds: list[tuple[np.ndarray, np.ndarray]] | None = None) -> None:
        self.net = net
        self.lower, self.upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
        self.model: BigMModel = network_model(net, self.lower, self.upper, bounds, tolerance=None, presolve=False)
        self.unstable = [(L < 0) & (U > 0) for L, U in self.model.bounds]
        self.active = [L >= 0 for L, _ in self.model.bounds]
        self.n0 = net.input_dim
        self.model.set_objective(net.weights[-1][0], float(net.biases[-1][0]), "max")
        self._h = self.model.h

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
        for k, zc in enumerate(self.model.z_of):
            zk = np.where(self.active[k], 1.0, 0.0)
            m = zc >= 0
            zk[m] = col[zc[m]]
            z.append(zk)
        return RelaxSolution(np.clip(col[:self.n0], self.lower, self.upper), z,
                             float(h.getInfo().objective_function_value))

    def relax_iter(self, sense: str, fixed: dict[tuple[int, int], int] | None = None,
                   chunk: float = 0.15, iterations: int | None = None) -> Generator[None, None, RelaxSolution | None]:
        """LP relaxation with z_kj fixed to 0/1 for the (k, j) in `fixed` (stable neurons ignored); None if infeasible.

        HiGHS runs in slices of `chunk` seconds (it resumes from its basis), yielding None between slices, so a
        caller can stay responsive on big nets (the first solve of a 10-500-500-1 relaxation takes seconds).
        A slice in which the simplex made no iteration doubles the slice length, so the loop always ends.
        Successive calls change only column bounds, so HiGHS hot-starts from the previous basis.
        With `iterations`, slices are that many simplex iterations instead: where the slices end (and so the
        solution's last bits) then does not depend on timing (heuristics under a work cap).
        """
        import highspy

        self.model.fix_z(fixed or {})
        self.model.set_sense(sense)
        h = self._h
        try:
            while True:
                if iterations is None:
                    h.setOptionValue("time_limit", h.getRunTime() + chunk)
                else:
                    h.setOptionValue("simplex_iteration_limit", int(iterations))
                h.run()
                if h.getModelStatus() not in (highspy.HighsModelStatus.kTimeLimit,
                                              highspy.HighsModelStatus.kIterationLimit):
                    break
                if h.getInfo().simplex_iteration_count == 0:
                    chunk *= 2.0  # the slice did not even cover HiGHS's setup: lengthen it, or it never ends
                yield None
        finally:
            h.setOptionValue("time_limit", highspy.kHighsInf)
            h.setOptionValue("simplex_iteration_limit", highspy.kHighsIInf)
        return self._read()

    def relax(self, sense: str, fixed: dict[tuple[int, int], int] | None = None) -> RelaxSolution | None:
        """relax_iter run to the end."""
        return drain(self.relax_iter(sense, fixed))
