"""CROWN over a batch of boxes (formulation/crown.py, the bound of input branch and bound): its backward pass with the
shared rows times the per-box slopes as one large matrix product (Crown._rows_times_slopes) and two temporaries per
layer, against the pass it replaced (a batched matmul of B small products, `pos @ (su[:, :, None] * w)`, and five
temporaries; kept here as `old`) and its concretisation (A mid + |A| rad as batched products against three
temporaries), side by side in one run on the same boxes; then `bab` with each
for the same time limit on the nets of up to 20 inputs (boxes bounded, final bound: more boxes, tighter bound).

Printed: ms per batch of 512 boxes (median of 7) for CROWN and for alpha-lite (3 slope steps, bab's default), the
ratio old / new, and bab's boxes and bound at --time-limit for both. Both write the same terms per sum, so the bounds
agree to rounding (the largest difference is printed).
Run: .venv/bin/python bench/crown_batch.py [--time-limit S] [--quick]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnlab.engine.model.network import initial_snapshot  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402
from nnlab.engine.optimize import run_method, run_to_result  # noqa: E402
from nnlab.engine.optimize.formulation.crown import Crown  # noqa: E402

NEW = (Crown._backward, Crown._concretize)


def old(self, lam, const, top, relax, slopes=None):  # noqa: ANN001, ANN201
    """Crown._backward as it was (a batched matmul of B small products; five (B, m, n) temporaries per layer)."""
    self._lam0 = lam if top == 0 else None
    start = top
    if lam.dim() == 2 and slopes is None and top >= 0:
        su, tu, sl, _ = relax[top]
        pos, neg = lam.clamp(min=0), lam.clamp(max=0)
        w, bj = self.W[top], self.b[top]
        const = const + tu @ pos.T + (su * bj) @ pos.T + (sl * bj) @ neg.T
        lam = pos @ (su[:, :, None] * w) + neg @ (sl[:, :, None] * w)
        start = top - 1
    for j in range(start, -1, -1):
        if j == 0:
            self._lam0 = lam
        su, tu, sl, unst = relax[j]
        if slopes is not None:
            sl = self.torch.where(unst, slopes[j], sl)
        pos, neg = lam.clamp(min=0), lam.clamp(max=0)
        const = const + (pos * tu[:, None, :]).sum(-1)
        lam = pos * su[:, None, :] + neg * sl[:, None, :]
        const = const + lam @ self.b[j]
        lam = lam @ self.W[j]
    return lam, const


def old_concretize(self, A, const, mid, rad):  # noqa: ANN001, ANN201
    """Crown._concretize as it was (three (B, m, n0) temporaries)."""
    return (A * mid[:, None, :]).sum(-1) + (A.abs() * rad[:, None, :]).sum(-1) + const


OLD = (old, old_concretize)


def use(pair: tuple) -> None:
    Crown._backward, Crown._concretize = pair


def per_batch(nt, lo: np.ndarray, hi: np.ndarray, alpha: int, reps: int = 7) -> tuple[float, np.ndarray]:  # noqa: ANN001
    c = Crown(nt, alpha_iters=alpha)
    ub = c.bounds(lo, hi).ub
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        c.bounds(lo, hi)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times), ub


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=30.0, help="bab run per formula (s)")
    ap.add_argument("--quick", action="store_true", help="one net, 10 s bab runs")
    a = ap.parse_args(argv)
    tl = 10.0 if a.quick else a.time_limit
    shapes = [(10, (100, 100))] if a.quick else [(10, (100, 100)), (10, (50, 50, 50)), (20, (50, 50)), (784, (50, 50))]
    rng = np.random.default_rng(0)
    print(f"load average {os.getloadavg()[0]:.2f}")
    for n0, hidden in shapes:
        nt = initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme="torch_default", seed=1))
        lo = rng.uniform(0, 0.6, (512, n0))
        hi = lo + rng.uniform(0.05, 0.4, (512, n0))
        name = "-".join(map(str, (n0, *hidden, 1)))
        for alpha in (0, 3):
            rows = {}
            for label, pair in (("old", OLD), ("new", NEW)):
                use(pair)
                rows[label] = per_batch(nt, lo, hi, alpha)
            use(NEW)
            diff = float(np.max(np.abs(rows["old"][1] - rows["new"][1])))
            print(f"{name} {'alpha-lite' if alpha else 'CROWN':10s} 512 boxes: old {rows['old'][0]:7.1f} ms, "
                  f"new {rows['new'][0]:6.1f} ms, ratio {rows['old'][0] / rows['new'][0]:.2f}x "
                  f"(bounds differ by at most {diff:.1e})")
        if n0 > 20:
            continue  # bab (input splitting) is the path up to 12 inputs: no bab run on the 784-input net
        unit = (np.zeros(n0), np.ones(n0))
        for label, pair in (("old", OLD), ("new", NEW)):
            use(pair)
            try:
                r = run_to_result(run_method("bab", nt, *unit, "max", time_limit=tl, seed=0))
            finally:
                use(NEW)
            print(f"{name} bab max {tl:g} s, {label}: {r.extra['boxes']} boxes, bound {r.bound:.5g}, value "
                  f"{r.value:.5g}, load {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
