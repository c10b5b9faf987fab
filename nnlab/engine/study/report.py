"""A study's outputs from its cache: results.csv (one row per network, method, sense, budget and repeat, plus the
exact max and min of each network), summary.md and plots.

CSV columns (COLUMNS, fixed order; empty cell = not available):
  net_id, label, group ("<init>" for random nets, "<target> (trained)", the block label for files), kind (random |
  trained | file), source (init | files), init, bias, target, trained, val_r2, dim, hidden ("100x100"), depth,
  width (max hidden width), seed, zero_bias, homogeneity_error, affine_r2, regions_sampled, n_samples,
  local_starts (multistart starts: local_* counts are lower bounds at this budget), local_max, local_max_vertex,
  local_max_interior, local_min, local_min_vertex, local_min_interior, local_max_certified, local_min_certified
  (2-D only: the exact number of strict local maxima/minima over the box, from the linear regions;
  analysis.local_optima), local_max_plateaus, local_min_plateaus (2-D: flat non-strict ones, counted apart) --
  the network's landscape metrics, repeated on each of its rows;
  method ("exact" rows hold the exact method's max and min), sense, budget ("forward 1000, lp 10"; "none": no work
  budget), budget_forward, budget_lp, repeat (0..repeats-1), run_seed, time_limit (the safety cap), status
  (work_limit: stopped by its budget; time_limit: by the safety cap), value (network output at the point),
  x (the point, coordinates joined by ';'), work_forward, work_lp, work_gradient_steps (work done, from the
  method's report; empty when it reports none), seconds, location (vertex | face | interior), n_at_bound,
  vertex_value (best box vertex in this sense), beats_vertices,
  reference (the certified optimum of this sense, else the exact method's bound), proven (the reference is a proven
  optimum), gap_vs ("optimum" | "bound" | "best_known" when the exact method gave no bound), gap (|reference -
  value| / scale), best_known (best value any task found in this sense), gap_best ((best_known - value) / scale
  signed so that >= 0), scale (standard deviation of f over the landscape task's uniform sample of the box).
The timing columns are `seconds` only: everything else repeats on any machine when no run hits its time cap.
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

from nnlab.engine.optimize.base import better
from nnlab.engine.study import ranking
from nnlab.engine.study import spec as S
from nnlab.engine.study.plots import best_points, write_anytime, write_plots
from nnlab.engine.files import atomic_write_bytes

COLUMNS = ["net_id", "label", "group", "kind", "source", "init", "bias", "target", "trained", "val_r2", "dim",
           "hidden", "depth", "width", "seed", "zero_bias", "homogeneity_error", "affine_r2", "regions_sampled",
           "n_samples", "local_starts", "local_max", "local_max_vertex", "local_max_interior", "local_min",
           "local_min_vertex", "local_min_interior", "local_max_certified", "local_min_certified",
           "local_max_plateaus", "local_min_plateaus", "method", "sense", "budget", "budget_forward", "budget_lp",
           "repeat", "run_seed", "time_limit", "status", "value", "x", "work_forward", "work_lp",
           "work_gradient_steps", "seconds", "location", "n_at_bound", "vertex_value", "beats_vertices", "reference",
           "proven", "gap_vs", "gap", "best_known", "gap_best", "scale"]
TIMING_COLUMNS = ("seconds",)
AT_OPT = 1e-6  # a gap below this (in scale units) counts as reaching the reference


def group_of(net: S.NetConfig) -> str:
    if net.source == "files":
        return net.label
    return f"{net.target} (trained)" if net.trained else net.init


def _reference(ex: dict | None, best: float | None) -> tuple[float | None, bool, str]:
    """(reference, proven, gap_vs) of one sense: the proven optimum, else the exact method's bound, else the best
    known value."""
    if ex and ex.get("proven") and ex.get("value") is not None:
        return float(ex["value"]), True, "optimum"
    if ex and ex.get("bound") is not None:
        return float(ex["bound"]), False, "bound"
    return best, False, "best_known"


def network_rows(config: S.StudyConfig, net: S.NetConfig, results: dict[S.Task, dict], info: dict) -> list[dict]:
    """The CSV rows of one network from its cached task results (missing tasks give no row)."""
    tasks = config.tasks(net)
    land = results.get(tasks[0], {})
    best: dict[str, float | None] = {"max": None, "min": None}

    def offer(sense: str, v: Any) -> None:
        if v is not None and (best[sense] is None or better(v, best[sense], sense)):
            best[sense] = float(v)

    for s in ("max", "min"):
        for k in (f"local_{s}_best", f"sample_{s}", f"vertex_{s}"):
            offer(s, land.get(k))
    for t in tasks[1:]:
        if t in results:
            offer(t.sense, results[t].get("value"))
    std = land.get("sample_std")
    scale = None if std is None else max(float(std), 1e-12)
    exact = {t.sense: results.get(t) for t in tasks[1:3]}
    refs = {s: _reference(exact.get(s), best[s]) for s in ("max", "min")}
    base = {"net_id": net.key(), "label": net.label, "group": group_of(net), "kind": net.kind, "source": net.source,
            "init": net.init, "bias": net.bias, "target": net.target, "trained": net.trained,
            "val_r2": info.get("val_r2"), "dim": net.dim, "hidden": "x".join(map(str, net.hidden)),
            "depth": len(net.hidden), "width": max(net.hidden, default=0), "seed": net.seed,
            "n_samples": land.get("n_samples"), "local_starts": land.get("starts")}
    for k in ("zero_bias", "homogeneity_error", "affine_r2", "regions_sampled", "local_max", "local_max_vertex",
              "local_max_interior", "local_min", "local_min_vertex", "local_min_interior", "local_max_certified",
              "local_min_certified", "local_max_plateaus", "local_min_plateaus"):
        base[k] = land.get(k)
    rows = []
    for t in tasks[1:]:
        r = results.get(t)
        if r is None:
            continue
        sgn = 1.0 if t.sense == "max" else -1.0
        v, vert = r.get("value"), land.get(f"vertex_{t.sense}")
        ref, proven, vs = refs[t.sense]
        b, work = dict(t.budget), r.get("work") or {}
        row = dict(base, method="exact" if t.kind == "exact" else t.method, sense=t.sense,
                   budget="" if t.kind == "exact" else S.budget_label(t.budget), budget_forward=b.get("forward"),
                   budget_lp=b.get("lp"), repeat=None if t.kind == "exact" else t.repeat,
                   run_seed=None if t.kind == "exact" else t.seed, time_limit=t.time_limit, status=r.get("status"),
                   value=v, x=None if r.get("x") is None else ";".join(f"{c:.17g}" for c in r["x"]),
                   work_forward=work.get("forward"), work_lp=work.get("lp"),
                   work_gradient_steps=work.get("gradient_steps"), seconds=r.get("seconds"),
                   location=r.get("location"), n_at_bound=r.get("n_at_bound"), vertex_value=vert,
                   beats_vertices=None if v is None or vert is None or scale is None
                   else bool(sgn * (v - vert) > 1e-9 * scale),
                   reference=ref, proven=proven, gap_vs=vs, best_known=best[t.sense], scale=scale)
        row["gap"] = None if v is None or ref is None or scale is None else abs(ref - v) / scale
        row["gap_best"] = None if v is None or scale is None or best[t.sense] is None \
            else max(0.0, sgn * (best[t.sense] - v) / scale)
        rows.append(row)
    return rows


def collect_rows(config: S.StudyConfig, out: Path) -> list[dict]:
    """Every row of the study, read from the cache, networks in config order."""
    from nnlab.engine.study.cache import load_net, read_cached

    rows = []
    for net in config.networks:
        results = {t: r for t in config.tasks(net) if (r := read_cached(out, t)) is not None}
        info = (load_net(out, net) or {}) if net.trained else {}
        rows += network_rows(config, net, results, info)
    return rows


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.10g}"
    return str(v)


def csv_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in COLUMNS])
    return buf.getvalue()


def _med(vals: list) -> str:
    vals = [v for v in vals if v is not None]
    return "" if not vals else f"{statistics.median(vals):.3g}"


def _mean(vals: list) -> float | None:
    vals = [v for v in vals if v is not None]
    return None if not vals else sum(vals) / len(vals)


def _vfi(rows: list[dict]) -> str:
    return "/".join(str(sum(r["location"] == k for r in rows)) for k in ("vertex", "face", "interior"))


def _locs(rows: list[dict]) -> str:
    """'vertex/face/interior' counts of proven optima, then those of unproven incumbents, marked."""
    pr = [r for r in rows if r["proven"]]
    un = [r for r in rows if not r["proven"]]
    return _vfi(pr) + (f" (+{_vfi(un)} unproven)" if un else "")


def groups(rows: list[dict]) -> dict[tuple, list[dict]]:
    """Rows by (group, dim, hidden), in first-seen order."""
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        out.setdefault((r["group"], r["dim"], r["hidden"]), []).append(r)
    return out


def _ranking_rows(rows: list[dict], group: dict[str, str]) -> list[dict]:
    """Method rows with a gap, their group replaced by group[kind or group] (rows of other groups dropped)."""
    out = []
    for r in rows:
        if r["method"] == "exact" or r["gap"] is None:
            continue
        g = group.get(r["group"], group.get(r["kind"]))
        if g is not None:
            out.append(dict(r, group=g))
    return out


def flip_section(config: S.StudyConfig, rows: list[dict]) -> list[str]:
    """"Where a ranking flips and where it does not": paired win rates of every pair of methods on random against
    trained networks (pooled, then each trained or file group), per budget and sense (ranking.compare_groups)."""
    methods = list(config.methods)
    comparisons: list[tuple[str, dict[str, str]]] = []
    kinds = {r["kind"] for r in rows}
    others = list(dict.fromkeys(r["group"] for r in rows if r["kind"] != "random"))
    if {"random", "trained"} <= kinds:
        comparisons.append(("all trained", {"random": "random", "trained": "all trained"}))
    if "random" in kinds:
        if len(others) > 1 or "trained" not in kinds:  # one trained group alone is the pooled comparison
            comparisons += [(g, {"random": "random", g: g}) for g in others]
    lines = ["## Where a ranking flips and where it does not", "",
             "For each pair of methods (a vs b), budget and sense: the share of networks on which a's gap is smaller "
             "than b's (ties 1/2; a randomised method's repeats averaged per network first), with 95 % percentile "
             f"bootstrap intervals over networks ({ranking.N_BOOT} resamples, seed 0), on random networks and on "
             "trained ones. flips: both intervals clear of 1/2 on opposite sides; holds: on the same side; unclear: "
             "otherwise. Gaps are in units of the standard deviation of f over the box (see below)."]
    if len(methods) < 2 or not comparisons:
        return lines + ["", "(needs at least two methods and both random and trained networks)", ""]
    for name, mapping in comparisons:
        sub = _ranking_rows(rows, mapping)
        flips: list[ranking.Flip] = []
        taus: dict[tuple, float] = {}
        bands: dict[tuple, tuple[float, float]] = {}
        for label in config.budget_labels():
            f, t = ranking.compare_groups([r for r in sub if r["budget"] == label], "random", name, methods,
                                          intervals=bands)
            flips += f
            taus.update(t)
        count = {v: sum(f.verdict == v for f in flips) for v in ("flips", "holds", "unclear")}
        lines += ["", f"### random vs {name} networks", "",
                  f"{count['flips']} flips, {count['holds']} holds, {count['unclear']} unclear "
                  f"of {len(flips)} comparisons.", "", ranking.flips_markdown(flips, taus, "random", name, bands)]
    return lines


def gap_section(config: S.StudyConfig, rows: list[dict]) -> list[str]:
    """Per budget and sense: the mean gap of each method per (group, dim, hidden), with its interval."""
    g = groups([r for r in rows if r["method"] != "exact"])
    lines = ["## Gaps", "",
             "gap = |reference - value| / scale. scale: the standard deviation of f over the "
             f"{config.samples} uniform samples of the box (column `scale`; its median per group is shown). "
             "reference: the certified optimum of that sense, or, where it is not proven, the exact method's bound "
             "(then the gap is an upper bound on the true gap; `vs bound` counts those networks). Cells: mean gap "
             f"[95 % interval, bootstrap over networks x repeats] (share of runs with gap < {AT_OPT:g})."]
    for label in config.budget_labels():
        for s in config.senses:
            lines += ["", f"### budget {label}, {s}", "",
                      "| group | n | hidden | nets | scale | vs bound | " + " | ".join(config.methods) + " |",
                      "|---|---|---|---|---|---|" + "---|" * len(config.methods)]
            for (grp, dim, hid), rs in g.items():
                rs = [r for r in rs if r["budget"] == label and r["sense"] == s]
                if not rs:
                    continue
                nets = {r["net_id"]: r for r in rs}
                vs_bound = sum(r["gap_vs"] != "optimum" for r in nets.values())
                cells = []
                for m in config.methods:
                    per_net: dict[str, list[float]] = {}
                    for r in rs:
                        if r["method"] == m and r["gap"] is not None:
                            per_net.setdefault(r["net_id"], []).append(r["gap"])
                    if not per_net:
                        cells.append("")
                        continue
                    mean, lo, hi = ranking.bootstrap_mean(per_net)
                    flat = [x for v in per_net.values() for x in v]
                    cells.append(f"{mean:.3f} [{lo:.3f}, {hi:.3f}] ({sum(x < AT_OPT for x in flat) / len(flat):.0%})")
                lines.append(f"| {grp} | {dim} | {hid} | {len(nets)} | {_med([r['scale'] for r in nets.values()])} | "
                             f"{vs_bound} | " + " | ".join(cells) + " |")
    return lines


def landscape_section(config: S.StudyConfig, rows: list[dict]) -> list[str]:
    g = groups(rows)
    lines = ["## Where the extrema lie and what the landscape looks like", "",
             "max/min location: exact optima at a box vertex / on a face / interior; in brackets the incumbents of "
             "exact runs not proven within the time limit. best max/min at: where the best point any method found "
             "lies (vertex/face/interior). coords@bound: mean share of the max's coordinates at a bound. beats "
             "vertices: share of nets whose max beats every vertex of the box. local max/min ≥: median number found "
             f"by multistart ascent from {config.starts} starts and {config.steps} steps each, a lower bound at that "
             "start budget (interior ones in brackets). certified max/min (2-D only): median exact number of strict "
             "local maxima/minima over the box from the linear regions (vertex test on every region's slopes), flat "
             "(non-strict) plateaus apart after a '+'. R²: "
             f"median affine-fit R². regions: median activation patterns met by the {config.samples} samples "
             "(saturates at that count).", "",
             "| group | n | hidden | nets | max location | min location | best max at | best min at | coords@bound | "
             "beats vertices | local max ≥ | local min ≥ | certified max | certified min | affine R² | regions | "
             "train R² |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (grp, dim, hid), rs in g.items():
        ex = {s: [r for r in rs if r["method"] == "exact" and r["sense"] == s] for s in ("max", "min")}
        nets = {r["net_id"]: r for r in rs}.values()
        mx = ex["max"]
        frac = _mean([r["n_at_bound"] / dim for r in mx if r["n_at_bound"] is not None])
        beats = _mean([float(r["beats_vertices"]) for r in mx if r["beats_vertices"] is not None])
        lm = f"{_med([r['local_max'] for r in nets])} ({_med([r['local_max_interior'] for r in nets])})"
        ln = f"{_med([r['local_min'] for r in nets])} ({_med([r['local_min_interior'] for r in nets])})"
        cert = {s: "" if not any(r[f"local_{s}_certified"] is not None for r in nets) else
                f"{_med([r[f'local_{s}_certified'] for r in nets])} + {_med([r[f'local_{s}_plateaus'] for r in nets])}"
                for s in ("max", "min")}
        lines.append(f"| {grp} | {dim} | {hid} | {len(nets)} | {_locs(mx)} | {_locs(ex['min'])} | "
                     f"{_vfi(best_points(rs, 'max'))} | {_vfi(best_points(rs, 'min'))} | "
                     f"{'' if frac is None else f'{frac:.2f}'} | {'' if beats is None else f'{beats:.2f}'} | {lm} | "
                     f"{ln} | {cert['max']} | {cert['min']} | {_med([r['affine_r2'] for r in nets])} | {_med([r['regions_sampled'] for r in nets])} | "
                     f"{_med([r['val_r2'] for r in nets])} |")
    return lines


def summary_markdown(config: S.StudyConfig, rows: list[dict]) -> str:
    """summary.md: the ranking flips first, then the gaps per budget and sense, the landscape, the exact runs."""
    runs = [r for r in rows if r["method"] != "exact"]
    capped = sum(r["status"] == "time_limit" for r in runs)
    uncapped = config.uncapped() if config.budgets != ((),) else []
    reps = ", ".join(m for m in config.methods if S.randomised(m))
    lines = [f"# {config.title}", "", config.description.strip(), "",
             f"Methods: {', '.join(config.methods)}; senses: {', '.join(config.senses)}; budgets: "
             f"{'; '.join(config.budget_labels())} (forward passes, LP solves); {config.repeats} repeat(s) of each "
             f"randomised method ({reps or 'none'}), run seeds from the network seed, method and repeat. "
             f"time_limit {config.time_limit:g} s per run is a safety cap only: {capped} of {len(runs)} runs hit it "
             "(status time_limit; their rows depend on the machine). Exact reference: "
             f"`{config.exact_method}`, {config.exact_time_limit:g} s per max and per min."]
    if uncapped:
        lines += ["", f"Not budgeted: {', '.join(uncapped)} take no work caps in this version, so they ran to their "
                  "own counts (their parameters), the same at every budget."]
    lines += [""] + flip_section(config, rows) + [""] + gap_section(config, rows) + [""] + \
        landscape_section(config, rows)
    ex_rows = [r for r in rows if r["method"] == "exact"]
    lines += ["", f"Exact runs: {sum(bool(r['proven']) for r in ex_rows)} of {len(ex_rows)} proved optimal; "
              f"median time {_med([r['seconds'] for r in ex_rows])} s.", ""]
    return "\n".join(lines)


def write_reports(config: S.StudyConfig, out: Path) -> list[Path]:
    """results.csv, summary.md and the PNG plots; returns the paths written."""
    rows = collect_rows(config, out)
    files = [out / "results.csv", out / "summary.md"]
    atomic_write_bytes(files[0], csv_text(rows).encode())
    atomic_write_bytes(files[1], summary_markdown(config, rows).encode())
    return files + write_plots(rows, out, config.budget_labels()) + write_anytime(rows, collect_traces(config, out),
                                                                              out)


def collect_traces(config: S.StudyConfig, out: Path) -> list[dict]:
    """The anytime curves of the method runs at the study's largest budget, from the cache (not in results.csv):
    net_id, method, sense, repeat, forward_budget and trace ([forward, lp, seconds, value] per new incumbent)."""
    from nnlab.engine.study.cache import read_cached

    last = config.budgets[-1]
    out_rows = []
    for net in config.networks:
        for t in config.tasks(net):
            if t.kind != "method" or t.budget != last:
                continue
            r = read_cached(out, t)
            if r and r.get("trace"):
                out_rows.append({"net_id": net.key(), "method": t.method, "sense": t.sense, "repeat": t.repeat,
                                 "forward_budget": dict(t.budget).get("forward"), "trace": r["trace"]})
    return out_rows
