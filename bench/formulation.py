"""Benchmark behind the formulation layer's choices (run: .venv/bin/python bench/formulation.py [--steps 30]).

1. Multistart ascent: one step for 256 starts, numpy float64 (value_and_grad plus an Adam update) against torch
   (ascent.ascend, float32 and float64, 1 thread), on PyTorch-default 2-16-16-1, 10-200-200-1 and 10-500-500-1 nets;
   ms per step and the ratio numpy / torch, measured side by side in this run. Work: steps x starts forward and
   backward passes, the same for each.
2. The big-M builder: model size (columns, rows, binaries) of the MILP model (`eliminate=False`) and of enhanced
   sampling's small model (`eliminate=True`, 12 free units) on the same nets.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from nnlab.engine.jobs import drain  # noqa: E402
from nnlab.engine.model.network import initial_snapshot  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402
from nnlab.engine.optimize.formulation.bigm import BigMModel, network_model  # noqa: E402
from nnlab.engine.optimize.heuristics.ascent import ascend, value_and_grad  # noqa: E402

SIZES = ((2, (16, 16)), (10, (200, 200)), (10, (500, 500)))


def numpy_adam(net, u, lo, span, steps, lr=0.01):
    m, v = np.zeros_like(u), np.zeros_like(u)
    for t in range(1, steps + 1):
        _, gx = value_and_grad(net, lo + u * span)
        g = gx * span
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        u = np.clip(u + lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8), 0.0, 1.0)
    return u


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args()
    print(f"1. ascent, 256 starts, {args.steps} steps: ms per step")
    print(f"{'net':>14} {'numpy f64':>10} {'torch f32':>10} {'torch f64':>10} {'numpy/f32':>10} {'numpy/f64':>10}")
    for n0, hidden in SIZES:
        net = initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme="torch_default", seed=0))
        lo, hi = np.zeros(n0), np.ones(n0)
        u0 = np.random.default_rng(0).random((256, n0))
        for dtype in ("float32", "float64"):  # warm-up: torch's first calls pay one-off set-up
            drain(ascend(net, u0, lo, hi, "max", 2, 0.01, dtype=dtype, threads=1))
        t = time.perf_counter()
        numpy_adam(net, u0, lo, hi - lo, args.steps)
        tn = (time.perf_counter() - t) / args.steps
        ts = []
        for dtype in ("float32", "float64"):
            t = time.perf_counter()
            drain(ascend(net, u0, lo, hi, "max", args.steps, 0.01, dtype=dtype, threads=1))
            ts.append((time.perf_counter() - t) / args.steps)
        name = "-".join(map(str, (n0, *hidden, 1)))
        print(f"{name:>14} {tn * 1e3:10.2f} {ts[0] * 1e3:10.2f} {ts[1] * 1e3:10.2f} {tn / ts[0]:10.2f} {tn / ts[1]:10.2f}")
    print("2. big-M models: columns / rows / binaries")
    for n0, hidden in SIZES:
        net = initial_snapshot(NetworkSpec(n0, hidden), InitSpec(scheme="torch_default", seed=0))
        lo, hi = np.zeros(n0), np.ones(n0)
        full = network_model(net, lo, hi)
        x = np.full(n0, 0.5)
        pre = [g[0] for g in net.preactivations(x[None])]
        small = BigMModel(lo, hi, eliminate=True)
        for (w, b), g in zip(net.layers()[:-1], pre):
            free = np.zeros(g.size, bool)
            free[np.argsort(np.abs(g))[:6]] = True
            small.add_layer(w, b, fixed=~free, on=g > 0)
        name = "-".join(map(str, (n0, *hidden, 1)))
        for what, m in (("milp model", full), ("sampling model", small)):
            print(f"{name:>14} {what:>15}: {m.num_col} / {m.h.getNumRow()} / {m.all_z().size}")


if __name__ == "__main__":
    main()
