"""Sensitivity check of the study's one big ranking flip (docs/study/README.md): relax-and-walk ranks above sampling
on random nets and below it on every Styblinski-Tang net at the study's budgets (at most 100 LP solves). Is that the
method, or its LP budget? Walk takes one region LP per step, and a trained net has ~15x the linear regions of a
random one (docs/study: median 1530 against 98 sampled patterns in 2-D), so 100 LPs may not finish a single walk.

Runs walk (restarts until the budget, 2 repeats by default) on the conjecture study's own nets (trained weights from
resources/studies/nets) at LP budgets 100, 1000 and 10000 (forward passes 100x the LPs), maximising, and prints the
mean gap to the study's reference (the certified optimum, or the exact bound) in units of the std of f, with the
share of runs that reached it. Work budgets: the same numbers on every machine.

Run:  .venv/bin/python bench/walk_budget.py [--dims 2 5] [--groups styblinski_tang rosenbrock xavier_uniform ...]
      [--lps 100 1000 10000] [--repeats 2]   (the defaults: about 15 min on 2 cores, mostly the 10,000-LP runs;
      docs/study quotes --repeats 3 at 100 and 1,000 LPs and 2 at 10,000)
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nnlab.bundled import study_path  # noqa: E402
from nnlab.engine.jobs import drain  # noqa: E402
from nnlab.engine.model.network import NetSnapshot  # noqa: E402
from nnlab.engine.optimize import run_method  # noqa: E402
from nnlab.engine.study import spec as S  # noqa: E402
from nnlab.engine.study.cache import load_saved_net  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dims", type=int, nargs="+", default=[2])
    ap.add_argument("--groups", nargs="+", default=["styblinski_tang", "xavier_uniform"])
    ap.add_argument("--lps", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--csv", default=str(ROOT / "docs" / "study" / "results.csv"))
    args = ap.parse_args()
    conj = S.load_study(study_path("conjecture"))
    ref = {}
    for r in csv.DictReader(open(args.csv, newline="")):
        if r["method"] == "exact" and r["sense"] == "max":
            ref[r["net_id"]] = (float(r["reference"]), float(r["scale"]), r["proven"] == "True")
    print(f"walk, max, restarts until the budget, {args.repeats} repeats; mean gap / std of f (share of runs at "
          "the reference)")
    print(f"{'group':28s} {'dim':>3s} " + " ".join(f"{'lp ' + str(n):>22s}" for n in args.lps))
    for g in args.groups:
        for d in args.dims:
            nets = [n for n in conj.networks if n.dim == d and n.target in (g, "none") and
                    (n.target == g or n.init == g) and n.hidden == (100, 100)]
            if not nets:
                continue
            snaps = []  # built once, used at every LP budget
            for n in nets:
                built = load_saved_net(conj.weights, n) if S.saved_by_study(n) else S.build_network(n)
                snaps.append(NetSnapshot(tuple(built["weights"]), tuple(built["biases"]), built["activation"]))
            cells = []
            for lps in args.lps:
                gaps = []
                for n, snap in zip(nets, snaps):
                    lo, hi = n.scene().domain()
                    value, scale, _ = ref[n.key()]
                    for rep in range(args.repeats):
                        res = drain(run_method("walk", snap, lo, hi, "max", 600.0, S.run_seed(n.seed, "walk", rep),
                                               {"restarts": 0, "max_lp": lps, "max_forward": 100 * lps}))
                        gaps.append(max(0.0, value - res.value) / scale)
                hit = sum(x < 1e-6 for x in gaps) / len(gaps)
                cells.append(f"{statistics.fmean(gaps):9.3f} ({hit:4.0%} at ref)")
            print(f"{g:28s} {d:3d} " + " ".join(f"{c:>22s}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
