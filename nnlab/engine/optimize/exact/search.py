"""What the two branch and bounds (input splitting in bab.py, ReLU splitting in relu_bab.py) share: the incumbent,
a best-first heap of open sub-problems, and the stopping rule. Both search the maximum of `inet` (a minimum is the
maximum of the negated network)."""
from __future__ import annotations

import itertools
import time

import numpy as np

from nnlab.engine.model.network import NetSnapshot


class Cone:
    """The boundary reduction of a positively homogeneous net (every bias zero, (leaky) ReLU: f(t x) = t f(x) for
    t >= 0) over a box [lo, hi] holding the origin.

    Why: the article's random nets (Xavier / Glorot, zero biases) are cones. For x != 0 in the box let s in (0, 1]
    be the largest of x_i / hi_i (x_i > 0) and x_i / lo_i (x_i < 0): x / s is in the box, on an outer face
    (x_i = hi_i > 0 or x_i = lo_i < 0), and f(x) = s f(x / s). So if M = max f > 0 every maximiser is on an outer
    face, and else M = f(0) = 0. A sub-box that touches no outer face then holds no maximiser (the search offers
    the origin as incumbent and drops it), and one that touches exactly one holds its candidates on that face (it
    is flattened onto it: one input dimension fewer to split). A minimum is the maximum of -f, a cone too.
    Sub-boxes touching several outer faces are kept whole: searching each face apart from the start refines the
    corners and edges where they meet, where the maximisers of these nets often lie, once per face (10-32-32-1
    Xavier nets over [0, 1]^10, 6 s, max and min of seeds 0-7: certified 11 of 16 this way, 10 with the faces
    searched apart, 9 without the reduction; up to 2x the boxes to a proof with the faces apart)."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo, self.hi = lo, hi

    @staticmethod
    def of(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray) -> "Cone | None":
        """The reduction when it holds for `net` over the box, else None."""
        if not (net.activation == "relu" or net.activation.startswith("leaky_relu")):
            return None
        if any(np.any(b != 0) for b in net.biases) or not (np.all(lo <= 0) and np.all(hi >= 0)):
            return None
        return Cone(lo, hi) if np.any(hi > lo) else None

    def reduce(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sub-boxes (B, n): (lo, hi) with the one-face boxes flattened onto their face (copies), and which to keep
        (False: touches no outer face)."""
        top = (hi == self.hi) & (self.hi > 0)  # (B, n) touches the outer face x_i = hi_i
        bot = (lo == self.lo) & (self.lo < 0)
        n_faces = top.sum(axis=1) + bot.sum(axis=1)
        lo, hi = lo.copy(), hi.copy()
        one = n_faces == 1
        t1, b1 = top & one[:, None], bot & one[:, None]
        lo[t1] = hi[t1]
        hi[b1] = lo[b1]
        return lo, hi, n_faces > 0


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
