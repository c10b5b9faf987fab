"""Benchmark of the heuristic optimizers (run: .venv/bin/python bench/heuristics.py [--budget 10] [--big]).

1. Region-LP speed: the same LPs through highspy directly (nnlab's RegionLP) and built through cvxpy + HiGHS, per-LP
   time and ratio, values compared.
2. Value reached by each heuristic against time (one run per method at the largest budget; its incumbent trace is
   read at every budget), maximising over [0,1]^10 on PyTorch-default 10-200-200-1 nets (and 10-500-500-1 with
   --big); the reference is the best value any method found in this run (gap = (ref - value) / |ref|).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nnlab.engine.model.network import initial_snapshot  # noqa: E402
from nnlab.engine.optimize import run_method  # noqa: E402
from nnlab.engine.optimize.base import Incumbent  # noqa: E402
from nnlab.engine.jobs import drain  # noqa: E402
from nnlab.engine.optimize.formulation.regionlp import RegionLP, compose_region  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402

METHODS = [
    ("sampling", {"samples": 20000}),
    ("sampling+", {"samples": 20000, "enhanced": True}),
    ("walk", {"restarts": 0}),
    ("gradient", {"rounds": 0}),
    ("random", {"samples": 10**9}),
]


def net_for(hidden: tuple[int, ...], seed: int):
    return initial_snapshot(NetworkSpec(input_dim=10, hidden=hidden), InitSpec(scheme="torch_default", seed=seed))


def lp_speed(n_highs: int = 300, n_cvxpy: int = 40) -> None:
    import cvxpy as cp

    net = net_for((200, 200), 1)
    lo, hi = np.zeros(10), np.ones(10)
    X = np.random.default_rng(0).random((n_highs, 10))
    pats = [net.pattern(x[None]) for x in X]
    lp = RegionLP(net, lo, hi)
    lp.solve(pats[0])  # warm-up (imports, banner)
    t = time.perf_counter()
    v_h = [lp.solve(p, "max")[1] for p in pats]
    per_h = (time.perf_counter() - t) / n_highs
    t = time.perf_counter()
    v_c = []
    for p in pats[:n_cvxpy]:
        A, r, c, d = compose_region(net, p)
        x = cp.Variable(10)
        prob = cp.Problem(cp.Maximize(c @ x + d), [A @ x >= r, x >= lo, x <= hi])
        prob.solve(solver="HIGHS")
        v_c.append(prob.value)
    per_c = (time.perf_counter() - t) / n_cvxpy
    diff = max(abs(a - b) for a, b in zip(v_h, v_c))
    print("Region LP on a 10-200-200-1 net (400 rows x 10 columns), same patterns:")
    print(f"  highspy direct (RegionLP, one Highs reused): {per_h * 1e3:7.2f} ms/LP  ({n_highs} LPs)")
    print(f"  cvxpy + HiGHS (built per LP):               {per_c * 1e3:7.2f} ms/LP  ({n_cvxpy} LPs)")
    print(f"  ratio cvxpy / highspy: {per_c / per_h:.1f}x; max |value difference| {diff:.2e}")


def trace(name: str, params: dict, net, budget: float, seed: int) -> list[tuple[float, float]]:
    method = "sampling" if name.startswith("sampling") else name
    gen = run_method(method, net, np.zeros(10), np.ones(10), "max", budget, seed, params)
    out = []
    res = drain(gen, lambda ev: out.append((ev.seconds, ev.value)) if isinstance(ev, Incumbent) else None)
    assert res.value is not None and abs(res.value - net.forward(res.x)) <= 1e-9 * max(1, abs(res.value))
    return out


def at(tr: list[tuple[float, float]], t: float) -> float | None:
    vals = [v for s, v in tr if s <= t]
    return vals[-1] if vals else None


def heuristics(hidden: tuple[int, ...], seeds: list[int], budgets: list[float]) -> None:
    for seed in seeds:
        net = net_for(hidden, seed)
        traces = {name: trace(name, p, net, max(budgets), 0) for name, p in METHODS}
        ref = max(v for tr in traces.values() for _, v in tr)
        arch = "-".join(str(n) for n in (10, *hidden, 1))
        print(f"\n{arch}, torch_default seed {seed}, maximise over [0,1]^10; reference (best found) {ref:.6f}")
        print("  method      " + "".join(f"{'value@' + format(b, 'g') + 's':>14}{'gap':>8}" for b in budgets)
              + "   first hit of ref (s)")
        for name, tr in traces.items():
            row = f"  {name:<11} "
            for b in budgets:
                v = at(tr, b)
                row += f"{'-':>14}{'-':>8}" if v is None else f"{v:14.6f}{(ref - v) / abs(ref):8.2%}"
            hit = [s for s, v in tr if v >= ref - 1e-9 * abs(ref)]
            row += f"   {hit[0]:.2f}" if hit else "   -"
            print(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=10.0, help="largest time budget per method (s)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--big", action="store_true", help="also a 10-500-500-1 net (first seed)")
    args = ap.parse_args()
    budgets = sorted({b for b in (1.0, 5.0, args.budget) if b <= args.budget})
    import scipy.stats.qmc  # noqa: F401  (one-off imports outside the timed runs)
    import torch  # noqa: F401

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (timings are noisy when loaded)")
    lp_speed()
    heuristics((200, 200), args.seeds, budgets)
    if args.big:
        heuristics((500, 500), args.seeds[:1], budgets)


if __name__ == "__main__":
    main()
