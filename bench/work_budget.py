"""Budgets in work, not seconds (issue 13): every heuristic at fixed forward-pass budgets (and LP-solve budgets for
the LP methods), repeated with the same seed; the value, the work counted, the seconds, and the spread of the
values over the repeats, which must be 0 (a capped run does not depend on timing).

Nets: a 10-100-100-1 PyTorch-default net on [0,1]^10 and the 2-100-100-1 net fitted to -log(Himmelblau) on
[-5,5]^2 (bench/optimize.py's himmelblau_net). Maximisation; the time limit is generous (600 s), so only the caps stop
a run. Method parameters: the defaults, made open-ended where a method has a size (random: 10^9 samples, walk
restarts = 0, gradient rounds = 0, sampling uniform 10^9 samples); lhs draws a design of exactly the budget; grid
takes the first budget points of the smallest grid that holds them.
Run: .venv/bin/python bench/work_budget.py [--repeats 3] [--budgets 1e3,1e4,1e5] [--lp-budgets 10,100,1000] [--quick]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnlab.engine.model.network import initial_snapshot  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402
from nnlab.engine.optimize import run_method, run_to_result  # noqa: E402

from optimize import himmelblau_net  # noqa: E402  (bench/optimize.py, beside this script)

TIME_LIMIT = 600.0


def method_params(method: str, n0: int, budget: int) -> dict:
    """Parameters that let the budget, not the method's own size, end the run."""
    if method == "random":
        return {"samples": 10**9}
    if method == "lhs":
        return {"samples": budget}
    if method == "grid":
        res = max(2, math.ceil(budget ** (1.0 / n0) - 1e-9))
        return {"resolution": res, "max_points": max(4_000_000, res ** n0)}
    if method == "gradient":
        return {"rounds": 0, "draw_paths": 0}
    if method == "walk":
        return {"restarts": 0}
    if method == "sampling":
        return {"samples": 10**9, "scheme": "uniform"}
    raise ValueError(method)


def run_cell(net, lo, hi, method: str, cap: str, budget: int, repeats: int, seed: int = 0) -> dict:
    params = {**method_params(method, lo.size, budget), cap: budget}
    results, seconds = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        results.append(run_to_result(run_method(method, net, lo, hi, "max", TIME_LIMIT, seed, params)))
        seconds.append(time.perf_counter() - t)
    first = results[0]
    spread = max(abs(r.value - first.value) for r in results)
    same_x = all(np.array_equal(r.x, first.x) and r.extra["work"] == first.extra["work"] for r in results)
    return {"value": first.value, "status": first.status, "work": first.extra["work"], "seconds": float(np.mean(seconds)),
            "spread": spread, "same": same_x}


def nets(quick: bool):
    net10 = initial_snapshot(NetworkSpec(10, (100, 100)), InitSpec(scheme="torch_default", seed=0))
    yield "10-100-100-1 torch-default s0, [0,1]^10", net10, np.zeros(10), np.ones(10)
    yield "2-100-100-1 himmelblau fit, [-5,5]^2", himmelblau_net(400 if quick else 1200), -5 * np.ones(2), 5 * np.ones(2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--budgets", default="1e3,1e4,1e5", help="forward-pass budgets")
    ap.add_argument("--lp-budgets", default="10,100,1000", help="LP-solve budgets (walk, sampling)")
    ap.add_argument("--methods", default="random,lhs,grid,gradient,sampling,walk")
    ap.add_argument("--quick", action="store_true", help="budgets 1e3,1e4 and 10,100; a shorter himmelblau fit")
    args = ap.parse_args(argv)
    fwd = [int(float(b)) for b in args.budgets.split(",")]
    lps = [int(float(b)) for b in args.lp_budgets.split(",")]
    if args.quick:
        fwd, lps = [b for b in fwd if b <= 10_000], [b for b in lps if b <= 100]
    methods = args.methods.split(",")
    print(f"work budgets, maximisation, seed 0, {args.repeats} repeats per cell, time limit {TIME_LIMIT:g} s "
          "(never reached); spread = max |value - value of run 1| over the repeats; same = identical x and work")
    header = ("method", "cap", "budget", "value", "status", "forward", "lp", "grad steps", "seconds", "spread", "same")
    bad = 0
    warm = initial_snapshot(NetworkSpec(2, (4,)), InitSpec(scheme="torch_default", seed=0))
    run_to_result(run_method("gradient", warm, np.zeros(2), np.ones(2), params={"starts": 2, "steps": 2}))  # torch
    for label, net, lo, hi in nets(args.quick):
        print(f"\n== {label}")
        rows = []
        for method in methods:
            cells = [("max_forward", b) for b in fwd]
            if method in ("walk", "sampling"):
                cells += [("max_lp", b) for b in lps]
            for cap, budget in cells:
                c = run_cell(net, lo, hi, method, cap, budget, args.repeats)
                bad += c["spread"] != 0 or not c["same"]
                w = c["work"]
                rows.append((method, cap, f"{budget:g}", f"{c['value']:.6f}", c["status"], w["forward"], w["lp"],
                             w["gradient_steps"], f"{c['seconds']:.2f}", f"{c['spread']:.1e}", "yes" if c["same"] else "NO"))
                print("  " + "  ".join(map(str, rows[-1])), file=sys.stderr, flush=True)
        widths = [max(len(str(v)) for v in col) for col in zip(header, *rows)]
        for row in (header, *rows):
            print("  ".join(str(v).ljust(w) for v, w in zip(row, widths)))
    print(f"\ncells whose repeats differ: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
