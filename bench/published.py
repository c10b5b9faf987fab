"""Two published numbers reproduced in shape (issue 13), on networks built exactly as their papers' code builds them.

1. Gogeta.jl's example: a random 10-100-1 ReLU net on [0,1]^10; 1000 Latin-hypercube samples of the sampling
   heuristic (Perakis & Tsiourvas) found 0.0708 where the exact MILP proved 0.0790 (ratio 0.896). Gogeta's weights come
   from Julia's Flux (Glorot uniform, zero biases) and cannot be rebuilt bit for bit here: we build the same kind of net
   (Xavier uniform, zero bias, nnlab's seeded numpy init) for several seeds and report the ratio sampling / exact.
2. Tong, Cai & Serra (2024), section 4.1: 10-100-1 nets from `torch.manual_seed(seed)` and nn.Linear's default
   init, seeds 50-54, maximised over [0,1]^10; relax-and-walk against the exact optimum. These are rebuilt exactly
   (torch's own RNG stream: weight then bias, layer by layer, as nn.Sequential construction draws them).

Budgets are work, not only seconds: sampling gets 1000 samples, walk its default restarts; the exact method has a
generous time limit and its status says whether the optimum is proven. Prints one line per net and the medians.
Run: .venv/bin/python bench/published.py [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlab.engine.model.network import NetSnapshot, from_torch, initial_snapshot  # noqa: E402
from nnlab.engine.model.scene import InitSpec, NetworkSpec  # noqa: E402
from nnlab.engine.optimize import run_method, run_to_result  # noqa: E402


def torch_seeded(sizes: list[int], seed: int) -> NetSnapshot:
    """The net `torch.manual_seed(seed); nn.Sequential(nn.Linear, nn.ReLU, ..., nn.Linear)` builds (float64 copy)."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    mods: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        mods.append(nn.Linear(a, b))
        if k < len(sizes) - 2:
            mods.append(nn.ReLU())
    return from_torch(nn.Sequential(*mods))


def solve(method: str, net: NetSnapshot, n: int, limit: float, params: dict | None = None):
    return run_to_result(run_method(method, net, [0.0] * n, [1.0] * n, "max", time_limit=limit, seed=0,
                                    params=params or {}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 nets per experiment, shorter exact limit")
    args = ap.parse_args()
    limit = 20.0 if args.quick else 120.0
    seeds_g = range(2) if args.quick else range(5)
    seeds_t = [50, 51] if args.quick else [50, 51, 52, 53, 54]

    print("== Gogeta's example in shape: 10-100-1 Xavier, zero bias, [0,1]^10; sampling (1000 LHS) vs exact")
    ratios = []
    for s in seeds_g:
        net = initial_snapshot(NetworkSpec(input_dim=10, hidden=(100,)), InitSpec(scheme="xavier_uniform", seed=s))
        ex = solve("exact", net, 10, limit)
        sa = solve("sampling", net, 10, limit, {"samples": 1000, "scheme": "lhs"})
        r = sa.value / ex.value if ex.value else float("nan")
        ratios.append(r)
        print(f"seed {s}: exact {ex.value:.4f} ({ex.status}, bound {ex.bound:.4f}, {ex.seconds:.1f} s)  "
              f"sampling {sa.value:.4f} ({sa.seconds:.1f} s)  ratio {r:.3f}")
    print(f"median ratio sampling/exact {statistics.median(ratios):.3f}  (Gogeta: 0.0708/0.0790 = 0.896)")

    print("== Tong, Cai & Serra 4.1 cell: 10-100-1, torch.manual_seed 50-54 + nn.Linear defaults, [0,1]^10, max")
    gaps = []
    for s in seeds_t:
        net = torch_seeded([10, 100, 1], s)
        ex = solve("exact", net, 10, limit)
        wk = solve("walk", net, 10, limit)
        gap = (ex.value - wk.value) / max(1.0, abs(ex.value))
        gaps.append(gap)
        print(f"seed {s}: exact {ex.value:.5f} ({ex.status}, {ex.seconds:.1f} s)  walk {wk.value:.5f} "
              f"({wk.seconds:.1f} s)  relative gap {gap:.2e}")
    print(f"median relative gap walk vs exact {statistics.median(gaps):.2e}")


if __name__ == "__main__":
    main()
