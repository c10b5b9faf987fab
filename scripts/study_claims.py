"""The numbers behind docs/study/README.md's claims, recomputed from a study's results.csv (so a reader can check
each one): medians and shares per group with 95 % percentile bootstrap intervals over networks (2000 resamples,
seed 0), and counts.

Run:  .venv/bin/python scripts/study_claims.py docs/study/results.csv
"""
from __future__ import annotations

import argparse
import csv
import statistics
from collections import defaultdict

import numpy as np

N_BOOT = 2000


def interval(values: list[float], stat=statistics.median) -> str:
    """stat [95 % bootstrap interval over networks] (n)."""
    if not values:
        return "n/a"
    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(0)
    boot = [stat(list(v[rng.integers(0, len(v), len(v))])) for _ in range(N_BOOT)]
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return f"{stat(list(v)):.3g} [{lo:.3g}, {hi:.3g}] (n={len(v)})"


def share(flags: list[bool]) -> str:
    return interval([float(f) for f in flags], stat=statistics.fmean) if flags else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    args = ap.parse_args()
    rows = list(csv.DictReader(open(args.csv, newline="")))
    nets: dict[str, dict] = {}
    exact: dict[tuple[str, str], dict] = {}
    best: dict[tuple[str, str], dict] = {}
    for r in rows:
        nets.setdefault(r["net_id"], r)
        if r["method"] == "exact":
            exact[(r["net_id"], r["sense"])] = r
        if r["gap_best"] not in ("", None):
            k = (r["net_id"], r["sense"])
            if k not in best or float(r["gap_best"]) < float(best[k]["gap_best"]) - 1e-9:
                best[k] = r

    def group(n: dict) -> str:
        return f"{n['group']} {n['dim']}-D {n['hidden']}"

    by: dict[str, list[dict]] = defaultdict(list)
    for n in nets.values():
        by[group(n)].append(n)
    kinds: dict[str, list[dict]] = defaultdict(list)
    for n in nets.values():
        kinds["random (all)" if n["kind"] == "random" else n["group"]].append(n)

    print("## affine-fit R² (median over networks)")
    for k, ns in kinds.items():
        print(f"- {k}: {interval([float(n['affine_r2']) for n in ns])}")
    for g, ns in by.items():
        print(f"  - {g}: {interval([float(n['affine_r2']) for n in ns])}")

    print("\n## best known max / min inside the box (share of networks)")
    for k, ns in kinds.items():
        for s in ("max", "min"):
            flags = [best[(n["net_id"], s)]["location"] == "interior" for n in ns if (n["net_id"], s) in best]
            print(f"- {k} {s}: {share(flags)}")

    print("\n## best known max at a box vertex (share of networks)")
    for g, ns in by.items():
        flags = [best[(n["net_id"], "max")]["location"] == "vertex" for n in ns if (n["net_id"], "max") in best]
        print(f"- {g}: {share(flags)}")

    print("\n## certified local optima in 2-D (median; from the exact regions)")
    for g, ns in by.items():
        if ns[0]["dim"] == "2" and ns[0]["local_max_certified"] not in ("", None):
            print(f"- {g}: max {interval([float(n['local_max_certified']) for n in ns])}, "
                  f"min {interval([float(n['local_min_certified']) for n in ns])}")

    print("\n## local maxima found by multistart (a lower bound; median)")
    for g, ns in by.items():
        print(f"- {g}: {interval([float(n['local_max']) for n in ns])} from {ns[0]['local_starts']} starts; "
              f"minima {interval([float(n['local_min']) for n in ns])}")

    print("\n## exact runs proved optimal")
    total = proved = 0
    for g, ns in by.items():
        runs = [exact[(n["net_id"], s)] for n in ns for s in ("max", "min") if (n["net_id"], s) in exact]
        p = sum(r["proven"] == "True" for r in runs)
        total, proved = total + len(runs), proved + p
        secs = [float(r["seconds"]) for r in runs if r["proven"] == "True"]
        med = f", median {statistics.median(secs):.2g} s when proved" if secs else ""
        print(f"- {g}: {p} of {len(runs)}{med}")
    print(f"- all: {proved} of {total}")

    print("\n## zero-bias (Xavier) nets: exact or best known extremum at the origin (value 0) or on a far face")
    for g, ns in by.items():
        if ns[0]["zero_bias"] != "True":
            continue
        for s in ("max", "min"):
            origin = far = other = 0
            for n in ns:
                r = best.get((n["net_id"], s))
                if r is None:
                    continue
                x = np.array([float(v) for v in r["x"].split(";")])
                if np.all(x == 0) or abs(float(r["value"])) <= 1e-12:
                    origin += 1
                elif np.any(x >= 1.0):
                    far += 1
                else:
                    other += 1
            print(f"- {g} {s}: origin {origin}, far face {far}, elsewhere {other}")

    print("\n## gap to the best known value (gap_best: to the best value any run found, exact incumbents included; in"
          " std-of-f units; mean over networks of each network's mean over repeats): needs no proof, so it ranks the"
          " methods where nothing is proven")
    cell: dict[tuple, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in rows:
        if r["method"] != "exact" and r["gap_best"] not in ("", None):
            key = (r["kind"], int(r["dim"]), r["sense"], r["budget"])
            cell[key][r["method"]][r["net_id"]].append(float(r["gap_best"]))
    for key in sorted(cell, key=lambda k: (k[0], k[1], k[2], k[3])):
        parts = []
        for m, per_net in cell[key].items():
            means = [statistics.fmean(v) for v in per_net.values()]
            parts.append(f"{m} {interval(means, stat=statistics.fmean)}")
        print(f"- {key[0]} {key[1]}-D {key[2]}, {key[3]}: " + "; ".join(parts))

    print("\n## validation R² of the trained nets (median)")
    for g, ns in by.items():
        if ns[0]["trained"] == "True":
            print(f"- {g}: {interval([float(n['val_r2']) for n in ns])}")


if __name__ == "__main__":
    main()
