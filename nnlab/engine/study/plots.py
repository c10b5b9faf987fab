"""PNG plots of a study's rows (matplotlib, Agg backend; no display needed).

- extrema_location.png: by input dimension, the share of networks whose best known max (left) and min (right) lies
  at a box vertex (solid) and inside the box (dashed), one colour per group and width (the exact method's point when
  it is the best known, else the best heuristic's: an unproven MILP's incumbent can be beaten).
- heuristic_gap.png: by dimension, the mean gap (to the certified optimum or bound, in units of the std of f) of
  each method at the largest budget (one column per method, one row per sense), one line per group.
- gap_by_budget.png (more than one budget): the mean gap of each method against the budget, one line per group
  and dimension: the anytime curve of each method at the study's budgets.
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
        fig, axes = plt.subplots(len(senses), len(methods), figsize=(3.6 * len(methods) + 2.6, 3.2 * len(senses)),
                                 squeeze=False, sharey=True)
        for i, s in enumerate(senses):
            for ax, m in zip(axes[i], methods):
                sub = [r for r in rows if r["method"] == m and r["sense"] == s and r["budget"] == last]
                for g, (xs, ys) in _series(sub, _mean_gap).items():
                    ax.plot(xs, ys, "o-", color=col[g], label=g)
                ax.set_title(f"{m} ({s}), budget {last}", fontsize=8)
                ax.set_xlabel("input dimension")
                ax.set_xticks(sorted({int(r["dim"]) for r in rows}))
                ax.grid(alpha=0.3)
            axes[i][0].set_ylabel("mean gap / std of f")
        fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=7, loc="center right")
        fig.tight_layout(rect=(0, 0, 1 - 2.4 / (3.6 * len(methods) + 2.6), 1))
        files.append(_save(fig, out / "heuristic_gap.png"))
        plt.close(fig)
    if methods and len(budgets) > 1:
        fig, axes = plt.subplots(len(senses), len(methods), figsize=(3.6 * len(methods) + 2.6, 3.2 * len(senses)),
                                 squeeze=False, sharey=True)
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
            axes[i][0].set_ylabel("mean gap / std of f")
        fig.legend(*axes[0][0].get_legend_handles_labels(), fontsize=6, loc="center right")
        fig.tight_layout(rect=(0, 0, 1 - 2.4 / (3.6 * len(methods) + 2.6), 1))
        files.append(_save(fig, out / "gap_by_budget.png"))
        plt.close(fig)

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
