"""PNG plots of a study's rows (matplotlib, Agg backend; no display needed).

- extrema_location.png: by input dimension, the share of networks whose best known max (left) and min (right) lies
  at a box vertex (solid) and inside the box (dashed), one colour per group and width (the exact method's point when
  it is the best known, else the best heuristic's: an unproven MILP's incumbent can be beaten).
- heuristic_gap.png: by dimension, the mean gap (to the certified optimum or bound, in units of the std of f) of
  each method at the largest budget (one column per method, one row per sense), one line per group; a hollow
  marker where some network's optimum is unproven and its gap is measured to the bound (an upper bound on it).
- gap_by_budget.png (more than one budget): the mean gap of each method against the budget, one line per group
  and dimension: the anytime curve of each method at the study's budgets.
- gap_anytime.png (methods that meter their work): the anytime curve inside one run, read from the runs' traces
  (best value against forward passes, recorded at each new incumbent) at the largest budget: the median gap over
  runs against forward passes, one panel per method and sense, one line per group and dimension (solid: random
  nets, dashed: trained nets and files).
- landscape.png: by dimension, the median number of local maxima found, the median affine R² and the median
  number of activation patterns met per sample.
"""
from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any, Callable

from nnlab.engine.files import atomic_write_bytes


def _series(rows: list[dict], value: Callable[[list[dict]], float | None]) -> dict[str, tuple[list, list]]:
    """group -> (dims, values) with value computed over the rows of each (group, dim)."""
    by: dict[str, dict[int, list[dict]]] = {}
    for r in rows:
        by.setdefault(_label(r), {}).setdefault(int(r["dim"]), []).append(r)
    out = {}
    for grp, dims in by.items():
        xs, ys = [], []
        for d in sorted(dims):
            v = value(dims[d])
            if v is not None:
                xs.append(d)
                ys.append(v)
        out[grp] = (xs, ys)
    return out


def _label(r: dict) -> str:
    return f"{r['group']} {r['hidden']}"


def _share(key: str, what: str) -> Callable[[list[dict]], float | None]:
    def f(rs: list[dict]) -> float | None:
        rs = [r for r in rs if r.get(key) is not None]
        return None if not rs else sum(r[key] == what for r in rs) / len(rs)
    return f


def _median_per_net(key: str) -> Callable[[list[dict]], float | None]:
    def f(rs: list[dict]) -> float | None:
        vals = [r[key] for r in {r["net_id"]: r for r in rs}.values() if r.get(key) is not None]
        return None if not vals else float(statistics.median(vals))
    return f


def _save(fig: Any, path: Path) -> Path:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _colors(groups: list[str]) -> dict[str, Any]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {g: cmap(i % 10) for i, g in enumerate(groups)}


def best_points(rows: list[dict], sense: str) -> list[dict]:
    """Per network, the row whose point is the best known in this sense (the exact one on ties)."""
    best: dict[str, dict] = {}
    for r in rows:
        if r["sense"] != sense or r["gap_best"] is None:
            continue
        b = best.get(r["net_id"])
        if b is None or r["gap_best"] < b["gap_best"] - 1e-9:
            best[r["net_id"]] = r
    return list(best.values())


def _mean_gap(rs: list[dict]) -> float | None:
    v = [r["gap"] for r in rs if r.get("gap") is not None]
    return sum(v) / len(v) if v else None


def _vs_bound(rs: list[dict]) -> float | None:
    """1 when some row's gap is measured to the exact method's bound (its optimum unproven), else 0."""
    return float(any(r.get("gap_vs") == "bound" for r in rs)) if rs else None


def write_plots(rows: list[dict], out: Path, budgets: list[str] | None = None) -> list[Path]:
    """Write the plots into `out`; returns their paths (none when there are no rows). `budgets`: the budget labels
    in config order (default: as met in the rows)."""
    if not rows:
        return []
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt


    groups = list(dict.fromkeys(_label(r) for r in rows))
    col = _colors(groups)
    files = []

    fig, axes = plt.subplots(1, 2, figsize=(13, 4), sharey=True)
    for ax, sense in zip(axes, ("max", "min")):
        ex = best_points(rows, sense)
        for g, (xs, ys) in _series(ex, _share("location", "vertex")).items():
            ax.plot(xs, ys, "o-", color=col[g], label=f"{g}: at a vertex")
        for g, (xs, ys) in _series(ex, _share("location", "interior")).items():
            ax.plot(xs, ys, "s--", color=col[g], alpha=0.7, label=f"{g}: interior")
        ax.set_title(f"best known {sense}imum: where it lies")
        ax.set_xlabel("input dimension")
        ax.set_xticks(sorted({int(r["dim"]) for r in rows}))
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of networks")
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="center right")
    fig.tight_layout(rect=(0, 0, 0.78, 1))
    files.append(_save(fig, out / "extrema_location.png"))
    plt.close(fig)

    methods = list(dict.fromkeys(r["method"] for r in rows if r["method"] != "exact"))
    senses = [s for s in ("max", "min") if any(r["sense"] == s and r["method"] != "exact" for r in rows)]
    budgets = budgets or list(dict.fromkeys(r["budget"] for r in rows if r["method"] != "exact"))
    if methods:
        last = budgets[-1]
        fig, axes = _method_grid(plt, senses, methods)
        for i, s in enumerate(senses):
            for ax, m in zip(axes[i], methods):
                sub = [r for r in rows if r["method"] == m and r["sense"] == s and r["budget"] == last]
                bound = _series(sub, _vs_bound)
                for g, (xs, ys) in _series(sub, _mean_gap).items():
                    ax.plot(xs, ys, "-", color=col[g], label=g)
                    hollow = dict(zip(*bound[g]))
                    for x, y in zip(xs, ys):  # hollow: measured to the bound (the optimum is unproven)
                        ax.plot([x], [y], "o", color=col[g], markerfacecolor="white" if hollow.get(x) else col[g])
                ax.set_title(f"{m} ({s}), budget {last}", fontsize=8)
                ax.set_xlabel("input dimension")
                ax.set_xticks(sorted({int(r["dim"]) for r in rows}))
                ax.set_yscale("symlog", linthresh=1e-2)
                ax.grid(alpha=0.3)
        fig.suptitle("filled: gap to the certified optimum; hollow: some optimum unproven, gap to the exact bound "
                     "(an upper bound on the true gap)", fontsize=8)
        files.append(_finish_grid(plt, fig, axes, "mean gap / std of f", out / "heuristic_gap.png", 7))
    if methods and len(budgets) > 1:
        fig, axes = _method_grid(plt, senses, methods)
        lines = list(dict.fromkeys((_label(r), int(r["dim"])) for r in rows if r["method"] != "exact"))
        for i, s in enumerate(senses):
            for ax, m in zip(axes[i], methods):
                for g, d in lines:
                    ys = [_mean_gap([r for r in rows if r["method"] == m and r["sense"] == s and r["budget"] == b
                                     and _label(r) == g and int(r["dim"]) == d]) for b in budgets]
                    xs = [k for k, y in enumerate(ys) if y is not None]
                    ax.plot(xs, [ys[k] for k in xs], "o-", color=col[g], alpha=0.5 + 0.5 * (d == max(x[1] for x in lines)),
                            label=f"{g} {d}-D")
                ax.set_title(f"{m} ({s})", fontsize=9)
                ax.set_xticks(range(len(budgets)), budgets, fontsize=6, rotation=20)
                ax.set_yscale("symlog", linthresh=1e-3)
                ax.grid(alpha=0.3)
        files.append(_finish_grid(plt, fig, axes, "mean gap / std of f", out / "gap_by_budget.png", 6))

    panels = [("local_max", "local maxima found (median)"), ("affine_r2", "affine-fit R² (median)"),
              ("regions_sampled", "activation patterns met (median)")]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    ex = [r for r in rows if r["method"] == "exact" and r["sense"] == "max"] or rows
    for ax, (key, title) in zip(axes, panels):
        for g, (xs, ys) in _series(ex, _median_per_net(key)).items():
            ax.plot(xs, ys, "o-", color=col[g], label=g)
        ax.set_title(title)
        ax.set_xlabel("input dimension")
        ax.set_xticks(sorted({int(r["dim"]) for r in rows}))
        ax.grid(alpha=0.3)
    axes[1].set_ylim(None, 1.02)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    files.append(_save(fig, out / "landscape.png"))
    plt.close(fig)
    return files


def anytime_curves(rows: list[dict], traces: list[dict], points: int = 40
                   ) -> dict[tuple[str, str, str, int], tuple[list[float], list[float]]]:
    """(method, sense, group label, dim) -> (forward passes, median gap) from the runs' traces at their largest
    budget. A run's gap at w forward passes is that of its best value among the trace points with at most w passes
    (|reference - value| / scale, as in results.csv); the median is over the runs that had an incumbent by then.
    Traces without a work count (methods that meter none) are left out."""
    import numpy as np

    ref = {(r["net_id"], r["sense"]): (r["reference"], r["scale"], _label(r), int(r["dim"])) for r in rows
           if r["method"] == "exact"}
    by: dict[tuple[str, str, str, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    top = 1
    for t in traces:
        rs = ref.get((t["net_id"], t["sense"]))
        pts = [p for p in t["trace"] if p[0] is not None]
        if rs is None or rs[0] is None or rs[1] is None or not pts:
            continue
        w = np.array([p[0] for p in pts], dtype=float)
        gap = np.abs(rs[0] - np.array([p[3] for p in pts], dtype=float)) / rs[1]
        by.setdefault((t["method"], t["sense"], rs[2], rs[3]), []).append((w, gap))
        top = max(top, int(w.max()), int(t.get("forward_budget") or 0))
    grid = np.unique(np.round(np.geomspace(1, top, points)))
    out = {}
    for key, runs in by.items():
        cols = []
        for w, gap in runs:
            i = np.searchsorted(w, grid, side="right") - 1  # the last incumbent with at most grid[k] passes
            cols.append(np.where(i >= 0, np.minimum.accumulate(gap)[np.maximum(i, 0)], np.nan))
        M = np.array(cols)
        ok = np.sum(~np.isnan(M), axis=0) * 2 >= len(runs)  # a median only once most runs have an incumbent
        med = np.where(ok, np.nanmedian(np.where(np.isnan(M), np.inf, M), axis=0), np.nan)
        keep = ~np.isnan(med)
        out[key] = ([float(x) for x in grid[keep]], [float(y) for y in med[keep]])
    return out


def write_anytime(rows: list[dict], traces: list[dict], out: Path) -> list[Path]:
    """gap_anytime.png (see the module docstring); nothing when no trace has a work count."""
    curves = anytime_curves(rows, traces)
    if not curves:
        return []
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    kinds = {_label(r): r["kind"] for r in rows}
    methods = list(dict.fromkeys(k[0] for k in curves))
    senses = [s for s in ("max", "min") if any(k[1] == s for k in curves)]
    col = _colors(list(dict.fromkeys(k[2] for k in curves)))
    dims = sorted({k[3] for k in curves})
    fig, axes = _method_grid(plt, senses, methods)
    for i, s in enumerate(senses):
        for ax, m in zip(axes[i], methods):
            for (mm, ss, g, d), (xs, ys) in curves.items():
                if mm == m and ss == s:
                    ax.plot(xs, ys, "-" if kinds.get(g) == "random" else "--", color=col[g],
                            alpha=0.4 + 0.6 * (d == dims[-1]) if len(dims) > 1 else 1.0, label=f"{g} {d}-D")
            ax.set_title(f"{m} ({s})", fontsize=9)
            ax.set_xscale("log")
            ax.set_yscale("symlog", linthresh=1e-3)
            ax.set_xlabel("forward passes")
            ax.grid(alpha=0.3)
    return [_finish_grid(plt, fig, axes, "median gap / std of f", out / "gap_anytime.png", 6)]


def _method_grid(plt: Any, senses: list[str], methods: list[str]) -> tuple[Any, Any]:
    """One panel per (sense, method), rows of senses, a shared y axis, room on the right for the legend."""
    return plt.subplots(len(senses), len(methods), figsize=(3.6 * len(methods) + 2.6, 3.2 * len(senses)),
                        squeeze=False, sharey=True)


def _finish_grid(plt: Any, fig: Any, axes: Any, ylabel: str, path: Path, legend_size: int) -> Path:
    """Label the rows, one legend of every panel's lines on the right, save and close."""
    handles: dict[str, Any] = {}
    for row in axes:
        row[0].set_ylabel(ylabel)
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), fontsize=legend_size, loc="center right")
    fig.tight_layout(rect=(0, 0, 1 - 2.4 / fig.get_size_inches()[0], 0.95 if fig.get_suptitle() else 1))
    saved = _save(fig, path)
    plt.close(fig)
    return saved
