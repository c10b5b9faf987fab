"""Exact optimum in n-D: input branch and bound with CROWN bounds (`bab`) vs nnlab's big-M MILP on HiGHS (`milp`),
side by side in one run, same time limit per problem; 2-D problems are checked against the linear regions.

Columns: status, value, proven bound, seconds of each method, and the ratio milp seconds / bab seconds (">" when the
MILP did not finish: a lower bound on the speed-up; "-" when bab did not finish either). The load average is printed
because other processes may share the cores.
Run: .venv/bin/python bench/bab.py [--time-limit S] [--quick] [--himmelblau]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from nnlab.engine.model.network import NetSnapshot, initial_snapshot  # noqa: E402
from nnlab.engine.optimize import run_method, run_to_result  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402


def net(n0: int, hidden: tuple[int, ...], scheme: str, seed: int = 1) -> NetSnapshot:
    extra = {"bias": "zero"} if scheme == "xavier_uniform" else {}
    return initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme=scheme, seed=seed, **extra))


def problems(quick: bool, himmelblau: bool) -> list[tuple[str, str, NetSnapshot, np.ndarray, np.ndarray]]:
    unit = lambda n: (np.zeros(n), np.ones(n))  # noqa: E731
    out = []
    n10 = net(10, (100,), "torch_default")
    out += [("10-100-1 torch-default", s, n10, *unit(10)) for s in ("max", "min")]
    out.append(("5-50-50-1 torch-default", "max", net(5, (50, 50), "torch_default"), *unit(5)))
    out.append(("5-50-50-1 xavier-0bias", "max", net(5, (50, 50), "xavier_uniform"), *unit(5)))
    if not quick:
        out.append(("5-50-50-1 torch-default", "min", net(5, (50, 50), "torch_default"), *unit(5)))
        out.append(("10-100-100-1 torch-default", "max", net(10, (100, 100), "torch_default"), *unit(10)))
        out.append(("10-100-100-1 xavier-0bias", "max", net(10, (100, 100), "xavier_uniform"), *unit(10)))
    x2 = net(2, (100, 100), "xavier_uniform")
    out.append(("2-100-100-1 xavier-0bias [0,1]^2", "max", x2, *unit(2)))
    out.append(("2-100-100-1 xavier-0bias [-1,1]^2", "max", x2, -np.ones(2), np.ones(2)))
    if himmelblau:
        from bench.optimize import himmelblau_net

        out.append(("2-100-100-1 himmelblau", "max", himmelblau_net(), -5 * np.ones(2), 5 * np.ones(2)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time-limit", type=float, default=20.0, help="per method and problem (s)")
    ap.add_argument("--quick", action="store_true", help="skip the 10-100-100-1 nets")
    ap.add_argument("--himmelblau", action="store_true", help="add the trained Himmelblau net (trains it first)")
    a = ap.parse_args(argv)
    import torch

    torch.zeros(1)  # the import is not part of any measurement
    print(f"bab vs milp, time limit {a.time_limit:g} s each; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    fmt = lambda v: f"{v:10.5f}" if v is not None else f"{'-':>10s}"  # noqa: E731
    print(f"{'problem':38s} {'truth':>10s} | {'bab':>10s} {'bound':>10s} {'status':>10s} {'s':>6s} | "
          f"{'milp':>10s} {'bound':>10s} {'status':>10s} {'s':>6s} | {'speedup':>7s}")
    for name, sense, nt, lo, hi in problems(a.quick, a.himmelblau):
        truth = None
        if nt.input_dim == 2:
            truth = run_to_result(run_method("regions", nt, lo, hi, sense)).value
        rb = run_to_result(run_method("bab", nt, lo, hi, sense, a.time_limit, 0))
        rm = run_to_result(run_method("milp", nt, lo, hi, sense, a.time_limit, 0))
        speed = "-"
        if rb.status == "optimal":
            speed = ("" if rm.status == "optimal" else ">") + f"{rm.seconds / rb.seconds:.1f}"
        print(f"{name + ' ' + sense:38s} {fmt(truth)} | {fmt(rb.value)} {fmt(rb.bound)} {rb.status:>10s} "
              f"{rb.seconds:6.1f} | {fmt(rm.value)} {fmt(rm.bound)} {rm.status:>10s} {rm.seconds:6.1f} | {speed:>7s}",
              flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
