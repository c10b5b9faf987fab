"""A study's outputs from its cache: results.csv (one row per network, method and sense), summary.md, plots.

CSV columns (COLUMNS, fixed order; empty cell = not available):
  net_id, label, group ("<init>" for random nets, "<target> (trained)"), init, bias, target, trained, val_r2,
  dim, hidden ("100x100"), depth, width (max hidden width), seed, zero_bias, homogeneity_error,
  affine_r2, regions_sampled, n_samples, local_max, local_max_vertex, local_max_interior, local_min,
  local_min_vertex, local_min_interior  -- the network's landscape metrics, repeated on each of its rows;
  method ("exact" rows hold the exact method's max and min), sense, time_limit, status, proven (exact rows: proved
  optimal; heuristic rows: empty), value (network output at the method's point), bound (proven bound, exact rows),
  seconds, location (vertex | face | interior of the method's point), n_at_bound (its coordinates at a bound),
  vertex_value (best box vertex in this sense), beats_vertices (value strictly better than every vertex),
  best_known (best value any task found in this sense), range (best max - best min: the gap unit),
  gap_best ((best_known - value) / range, >= 0; for min the sign is flipped), gap_bound (gap to the exact method's
  bound when it has one, in the same unit; an upper bound on the true gap).
"""
from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

from nnlab.engine.optimize.base import better
from nnlab.engine.study import spec as S
from nnlab.engine.study.plots import best_points, write_plots
from nnlab.engine.files import atomic_write_bytes

COLUMNS = ["net_id", "label", "group", "init", "bias", "target", "trained", "val_r2", "dim", "hidden", "depth",
           "width", "seed", "zero_bias", "homogeneity_error", "affine_r2", "regions_sampled", "n_samples",
           "local_max", "local_max_vertex", "local_max_interior", "local_min", "local_min_vertex",
           "local_min_interior", "method", "sense", "time_limit", "status", "proven", "value", "bound", "seconds",
           "location", "n_at_bound", "vertex_value", "beats_vertices", "best_known", "range", "gap_best", "gap_bound"]


def group_of(net: S.NetConfig) -> str:
    return f"{net.target} (trained)" if net.trained else net.init


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
    rng = None if best["max"] is None or best["min"] is None else max(best["max"] - best["min"], 1e-12)
    exact = {t.sense: results.get(t) for t in tasks[1:3]}
    base = {"net_id": net.key(), "label": net.label, "group": group_of(net), "init": net.init, "bias": net.bias,
            "target": net.target, "trained": net.trained, "val_r2": info.get("val_r2"), "dim": net.dim,
            "hidden": "x".join(map(str, net.hidden)), "depth": len(net.hidden), "width": max(net.hidden),
            "seed": net.seed, "n_samples": land.get("n_samples")}
    for k in ("zero_bias", "homogeneity_error", "affine_r2", "regions_sampled", "local_max", "local_max_vertex",
              "local_max_interior", "local_min", "local_min_vertex", "local_min_interior"):
        base[k] = land.get(k)
    rows = []
    for t in tasks[1:]:
        r = results.get(t)
        if r is None:
            continue
        sgn = 1.0 if t.sense == "max" else -1.0
        v, ref, vert = r.get("value"), best[t.sense], land.get(f"vertex_{t.sense}")
        ex = exact.get(t.sense) or {}
        bound = ex.get("bound")
        row = dict(base, method="exact" if t.kind == "exact" else t.method, sense=t.sense, time_limit=t.time_limit,
                   status=r.get("status"), proven=r.get("proven") if t.kind == "exact" else None, value=v,
                   bound=r.get("bound") if t.kind == "exact" else None, seconds=r.get("seconds"),
                   location=r.get("location"), n_at_bound=r.get("n_at_bound"), vertex_value=vert,
                   beats_vertices=None if v is None or vert is None or rng is None
                   else bool(sgn * (v - vert) > 1e-9 * rng),
                   best_known=ref, range=rng)
        row["gap_best"] = None if v is None or rng is None else max(0.0, sgn * (ref - v) / rng)
        row["gap_bound"] = None if v is None or rng is None or bound is None else max(0.0, sgn * (bound - v) / rng)
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


def summary_markdown(config: S.StudyConfig, rows: list[dict]) -> str:
    """The summary tables: where the exact extrema lie, local optima, linearity; heuristic gaps."""
    g = groups(rows)
    lines = [f"# {config.title}", "", config.description.strip(), "",
             f"Exact method: `{config.exact_method}`, {config.exact_time_limit:g} s per max and per min; heuristics: "
             f"{', '.join(config.methods)} at {config.time_limit:g} s each ({', '.join(config.senses)}).", "",
             "## Where the extrema lie and what the landscape looks like", "",
             "max/min location: exact optima at a box vertex / on a face / interior; in brackets the incumbents of "
             "MILPs not proven within the time limit. best max/min at: where the best point any method found lies "
             "(vertex/face/interior). coords@bound: mean share of the max's coordinates at a bound. beats vertices: share of nets "
             "whose max beats every vertex of the box. local max/min: median number found by multistart ascent "
             "(interior ones in brackets). R²: median affine-fit R². regions: median activation patterns met by "
             "the samples.", "",
             "| group | n | hidden | nets | max location | min location | best max at | best min at | coords@bound | "
             "beats vertices | local max | local min | affine R² | regions | train R² |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for (grp, dim, hid), rs in g.items():
        ex = {s: [r for r in rs if r["method"] == "exact" and r["sense"] == s] for s in ("max", "min")}
        nets = {r["net_id"]: r for r in rs}.values()
        mx = ex["max"]
        frac = _mean([r["n_at_bound"] / dim for r in mx if r["n_at_bound"] is not None])
        beats = _mean([float(r["beats_vertices"]) for r in mx if r["beats_vertices"] is not None])
        lm = f"{_med([r['local_max'] for r in nets])} ({_med([r['local_max_interior'] for r in nets])})"
        ln = f"{_med([r['local_min'] for r in nets])} ({_med([r['local_min_interior'] for r in nets])})"
        lines.append(f"| {grp} | {dim} | {hid} | {len(nets)} | {_locs(mx)} | {_locs(ex['min'])} | "
                     f"{_vfi(best_points(rs, 'max'))} | {_vfi(best_points(rs, 'min'))} | "
                     f"{'' if frac is None else f'{frac:.2f}'} | {'' if beats is None else f'{beats:.2f}'} | {lm} | "
                     f"{ln} | {_med([r['affine_r2'] for r in nets])} | {_med([r['regions_sampled'] for r in nets])} | "
                     f"{_med([r['val_r2'] for r in nets])} |")
    keys = [(m, s) for m in ("exact", *config.methods) for s in (("max", "min") if m == "exact" else config.senses)]
    lines += ["", "## Gap to the best known value", "",
              "Mean of (best known - value) / (best max - best min) over the nets, then the share of nets where the "
              "method reached the best known value (gap < 1e-6). For `exact`, a gap > 0 means a heuristic beat an "
              "unproven MILP incumbent.", "",
              "| group | n | hidden | " + " | ".join(f"{m} {s}" for m, s in keys) + " |",
              "|---|---|---|" + "---|" * len(keys)]
    for (grp, dim, hid), rs in g.items():
        cells = []
        for m, s in keys:
            gaps = [r["gap_best"] for r in rs if r["method"] == m and r["sense"] == s and r["gap_best"] is not None]
            cells.append("" if not gaps else f"{sum(gaps) / len(gaps):.3f} ({sum(x < 1e-6 for x in gaps) / len(gaps):.0%})")
        lines.append(f"| {grp} | {dim} | {hid} | " + " | ".join(cells) + " |")
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

    return files + write_plots(rows, out)
