"""What the two branch and bounds (input splitting in bab.py, ReLU splitting in relu_bab.py) share: the incumbent,
a best-first heap of open sub-problems, and the stopping rule. Both search the maximum of `inet` (a minimum is the
maximum of the negated network)."""
from __future__ import annotations

import itertools
import time

import numpy as np

from nnlab.engine.model.network import NetSnapshot


def negated(net: NetSnapshot) -> NetSnapshot:
    """-net (the min of net is minus the max of -net)."""
    return NetSnapshot(net.weights[:-1] + (-net.weights[-1],), net.biases[:-1] + (-net.biases[-1],), net.activation)


class BestFirst:
    """Incumbent (x, value: a numpy forward pass of inet at x), heap entries (-bound, id, ...), `closed` = the largest
    bound of a sub-problem closed without reaching the incumbent."""

    def __init__(self, inet: NetSnapshot, mip_gap: float) -> None:
        self.inet, self.mip_gap = inet, mip_gap
        self.heap: list = []
        self.ids = itertools.count()
        self.x: np.ndarray | None = None
        self.value = -np.inf
        self.closed = -np.inf
        self.improved = False

    def batch_values(self, pts: np.ndarray) -> np.ndarray:
        """Network values at many points (a subclass may use a faster batched pass; the winner is re-evaluated)."""
        return self.inet.forward(pts)

    def offer(self, pts: np.ndarray) -> None:
        """Take the best of the points as incumbent if it beats it (its value re-evaluated by the numpy pass)."""
        v = np.atleast_1d(self.batch_values(pts))
        i = int(np.argmax(v))
        if v[i] > self.value:
            vi = float(self.inet.forward(pts[i]))
            if vi > self.value:
                self.x, self.value, self.improved = pts[i].copy(), vi, True

    def polish(self, deadline: float | None = None) -> None:
        """Walk from the incumbent through region LPs (`self.lp`, a RegionLP of inet; each step a strictly better
        region vertex), as relax-and-walk does; no new step after `deadline` (perf_counter seconds)."""
        from nnlab.engine.optimize.heuristics.walk import walk_steps

        if self.x is not None and (deadline is None or time.perf_counter() < deadline):
            for x, _ in walk_steps(self.inet, self.lp, self.x, "max", max_steps=20, deadline=deadline):
                self.offer(np.asarray(x)[None])
        self.improved = False

    def tol(self) -> float:
        # 0.9: room for the outward float margin, so a search closed here passes certify.is_optimal
        return 0.9 * self.mip_gap * max(1.0, abs(self.value)) if np.isfinite(self.value) else 0.0

    def bound(self) -> float:
        top = -self.heap[0][0] if self.heap else -np.inf
        return float(max(top, self.closed, self.value))

    def done(self) -> bool:
        return not self.heap or self.bound() - self.value <= self.tol()
