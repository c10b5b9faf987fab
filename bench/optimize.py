"""Optimizer benchmarks, measured side by side in one run (ratios, not absolute numbers, are the point).

Sections (functions, each printing a table):
  regions_section  2-D linear-region enumeration of 2-100-100-1 nets: nnlab vs Regioncam (if installed)
  milp_section     exact MILP: nnlab's (LP bounds, stable neurons, warm start, HiGHS via highspy) vs a plain
                   cvxpy big-M + HiGHS with interval bounds, on 2-D nets (checked against the regions) and 10-100-1
Run: .venv/bin/python bench/optimize.py [--quick] [--time-limit S] [--sections regions,milp]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Callable

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnlab.engine.model.network import NetSnapshot, from_torch, initial_snapshot, to_torch  # noqa: E402
from nnlab.engine.optimize import run_method, run_to_result  # noqa: E402
from nnlab.engine.optimize.formulation.bounds import interval_bounds  # noqa: E402
from nnlab.engine.optimize.exact.regions import enumerate_regions  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402

from fitting import fit  # noqa: E402  (bench/fitting.py, beside this script)

UNIT = (np.zeros(2), np.ones(2))


def himmelblau_net(steps: int = 1200, seed: int = 0) -> NetSnapshot:
    """A 2-100-100-1 net fitted (Adam, fixed steps: deterministic) to -log(Himmelblau) clipped, on [-5, 5]^2."""
    import torch

    torch.manual_seed(seed)
    model = to_torch(initial_snapshot(NetworkSpec(2, (100, 100)), InitSpec(scheme="torch_default", seed=seed + 7)))
    rng = np.random.default_rng(seed)
    X = torch.tensor(rng.uniform(-5, 5, size=(20000, 2)), dtype=torch.float32)
    x, y = X[:, 0], X[:, 1]
    Y = (-torch.log((x ** 2 + y - 11) ** 2 + (x + y ** 2 - 7) ** 2 + 1e-3)).clamp(-8.0, 5.0)
    return from_torch(fit(model, X, Y, steps))


def bench_nets(quick: bool) -> list[tuple[str, NetSnapshot, np.ndarray, np.ndarray]]:
    """(name, net, lower, upper) of the 2-D benchmark networks."""
    seeds = (1,) if quick else (1, 2, 3)
    nets = []
    for s in seeds:
        nets.append((f"torch-default s{s}", initial_snapshot(NetworkSpec(2, (100, 100)),
                                                             InitSpec(scheme="torch_default", seed=s)), *UNIT))
    for s in seeds:
        net = initial_snapshot(NetworkSpec(2, (100, 100)), InitSpec(scheme="xavier_uniform", seed=s, bias="zero"))
        nets.append((f"xavier-0bias s{s} [0,1]^2", net, *UNIT))
        nets.append((f"xavier-0bias s{s} [-1,1]^2", net, -np.ones(2), np.ones(2)))
    nets.append(("himmelblau trained", himmelblau_net(400 if quick else 1200), -5 * np.ones(2), 5 * np.ones(2)))
    return nets


def _best_time(fn: Callable[[], int], reps: int) -> tuple[int, float]:
    best, out = float("inf"), 0
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def regioncam_count(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray) -> int:
    """Regions counted by Regioncam (float32): its square [-1,1]^2 mapped affinely onto the box first."""
    import regioncam

    rc = regioncam.Regioncam(1.0)
    rc.linear(np.diag((hi - lo) / 2).astype(np.float32), ((hi + lo) / 2).astype(np.float32))
    for k, (w, b) in enumerate(net.layers()):
        rc.linear(w.T.astype(np.float32), b.astype(np.float32))
        if k < len(net.weights) - 1:
            rc.relu()
    return int(rc.num_faces)


def regions_section(nets, reps: int) -> None:
    try:
        import regioncam  # noqa: F401
        have_rc = True
    except ImportError:
        have_rc = False
    print("\n== 2-D linear regions: nnlab (numpy, float64) vs Regioncam (Rust, float32); best of", reps, "runs ==")
    print(f"{'network':28s} {'regions':>8s} {'ms':>8s} {'Regioncam':>9s} {'ms':>8s} {'ratio':>6s}")
    for name, net, lo, hi in nets:
        n, t = _best_time(lambda: len(enumerate_regions(net, lo, hi)), reps)
        if have_rc:
            m, tr = _best_time(lambda: regioncam_count(net, lo, hi), reps)
            print(f"{name:28s} {n:8d} {t * 1e3:8.1f} {m:9d} {tr * 1e3:8.1f} {t / tr:6.2f}")
        else:
            print(f"{name:28s} {n:8d} {t * 1e3:8.1f} {'-':>9s} {'-':>8s} {'-':>6s}")


def plain_milp(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, time_limit: float,
               **options: float) -> tuple[str, float | None, float | None, float]:
    """Baseline: textbook big-M (a binary per neuron) in cvxpy with interval bounds, HiGHS (`options` passed to it,
    e.g. mip_rel_gap). -> status, value, bound, seconds."""
    import cvxpy as cp

    t0 = time.perf_counter()
    x = cp.Variable(lo.size)
    cons, h = [x >= lo, x <= hi], x
    for (w, b), (L, U) in zip(net.layers()[:-1], interval_bounds(net, lo, hi)):
        g = w @ h + b
        hv, z = cp.Variable(w.shape[0]), cp.Variable(w.shape[0], boolean=True)
        cons += [hv >= 0, hv >= g, hv <= g - cp.multiply(np.minimum(L, 0), 1 - z), hv <= cp.multiply(np.maximum(U, 0), z)]
        h = hv
    c = float(net.biases[-1][0])
    obj = net.weights[-1][0] @ h
    prob = cp.Problem(cp.Maximize(obj) if sense == "max" else cp.Minimize(obj), cons)
    try:
        prob.solve(solver="HIGHS", time_limit=time_limit, **options)
    except cp.error.SolverError:
        return "error", None, None, time.perf_counter() - t0
    info = prob.solver_stats.extra_stats
    value = None
    if x.value is not None and getattr(info, "primal_solution_status", 0) == 2:
        value = float(net.forward(np.clip(x.value, lo, hi)))  # re-evaluated: never trust the solver's objective
    db = getattr(info, "mip_dual_bound", None)
    bound = None if db is None or not np.isfinite(db) else (-db if sense == "max" else db) + c
    status = "optimal" if prob.status == "optimal" else "time_limit"
    return status, value, bound, time.perf_counter() - t0


def milp_problems(nets, quick: bool):
    by = {n: (net, lo, hi) for n, net, lo, hi in nets}
    probs = [("torch-default s1", "max"), ("torch-default s1", "min"), ("xavier-0bias s1 [0,1]^2", "max"),
             ("himmelblau trained", "max")]
    if quick:
        probs = probs[:2]
    out = [(n, s, *by[n]) for n, s in probs if n in by]
    net10 = initial_snapshot(NetworkSpec(10, (100,)), InitSpec(scheme="torch_default", seed=1))
    out += [("10-100-1 torch-default", s, net10, np.zeros(10), np.ones(10)) for s in ("max", "min")]
    return out


def milp_section(nets, time_limit: float, quick: bool) -> None:
    print(f"\n== exact MILP, time limit {time_limit:g} s per problem: nnlab milp vs plain cvxpy big-M + HiGHS "
          "(interval bounds) ==")
    print(f"{'problem':32s} {'truth':>10s} | {'nnlab':>10s} {'bound':>10s} {'status':>10s} {'s':>6s} "
          f"{'(bnd s)':>7s} | {'plain':>10s} {'bound':>10s} {'status':>10s} {'s':>6s} | {'speedup':>7s}")
    fmt = lambda v: f"{v:10.5f}" if v is not None else f"{'-':>10s}"  # noqa: E731
    for name, sense, net, lo, hi in milp_problems(nets, quick):
        truth = None
        if net.input_dim == 2:
            truth = run_to_result(run_method("regions", net, lo, hi, sense)).value
        r = run_to_result(run_method("milp", net, lo, hi, sense, time_limit, 0))
        ps, pv, pb, pt = plain_milp(net, lo, hi, sense, time_limit)
        speed = "-"
        if r.status == "optimal":  # ">" when the baseline did not finish: a lower bound on the speed-up
            speed = ("" if ps == "optimal" else ">") + f"{pt / r.seconds:.1f}"
        print(f"{name + ' ' + sense:32s} {fmt(truth)} | {fmt(r.value)} {fmt(r.bound)} {r.status:>10s} "
              f"{r.seconds:6.1f} {r.seconds_bounds:7.2f} | {fmt(pv)} {fmt(pb)} {ps:>10s} {pt:6.1f} | {speed:>7s}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer nets and problems, shorter limits")
    ap.add_argument("--time-limit", type=float, default=None, help="MILP time limit per problem (s)")
    ap.add_argument("--sections", default="regions,milp")
    a = ap.parse_args(argv)
    sections = set(a.sections.split(","))
    tl = a.time_limit or (5.0 if a.quick else 20.0)
    nets = bench_nets(a.quick)
    if "regions" in sections:
        regions_section(nets, 3 if a.quick else 5)
    if "milp" in sections:
        milp_section(nets, tl, a.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
