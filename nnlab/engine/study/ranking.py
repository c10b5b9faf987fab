"""The ranking question of the study: does the order of optimizers on random networks predict their order on trained
ones? Paired win rates of every pair of methods per network group, with bootstrap confidence intervals over networks,
Kendall's tau between the groups' rankings, and a verdict per pair: the ranking flips, holds, or the data cannot say.

Pairing (as in a paired comparison of solvers on the same instances): on each network, sense and budget, method a
beats method b when its gap (to the certified optimum or the best known value, in the study's scale) is smaller by
more than `tol`; a difference within `tol` is a tie and counts one half. Repeats of a randomised method on the same
network are averaged first, so a network counts once. The interval resamples networks with replacement (percentile
bootstrap, seeded: the same rows give the same numbers on every machine).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

TIE_TOL = 1e-9  # gaps are in units of the study's scale; differences below this are ties
N_BOOT = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class WinRate:
    """The share of networks on which `a` beats `b` (ties count 1/2), with its bootstrap interval."""

    a: str
    b: str
    rate: float
    low: float
    high: float
    n: int  # networks where both methods ran


@dataclass(frozen=True)
class Flip:
    """One pair of methods compared in two groups (e.g. random against trained networks)."""

    a: str
    b: str
    sense: str
    budget: Any
    first: WinRate
    second: WinRate
    verdict: str  # "flips", "holds", "unclear"


def mean_gaps(rows: Iterable[dict], group: str, sense: str, budget: Any) -> dict[str, dict[str, float]]:
    """method -> net_id -> mean gap over repeats, for rows of one group, sense and budget with a gap."""
    acc: dict[str, dict[str, list[float]]] = {}
    for r in rows:
        if r["group"] != group or r["sense"] != sense or r["budget"] != budget or r.get("gap") is None:
            continue
        acc.setdefault(r["method"], {}).setdefault(r["net_id"], []).append(float(r["gap"]))
    return {m: {n: sum(v) / len(v) for n, v in nets.items()} for m, nets in acc.items()}


def _wins(ga: np.ndarray, gb: np.ndarray, tol: float) -> np.ndarray:
    d = gb - ga
    return np.where(d > tol, 1.0, np.where(d < -tol, 0.0, 0.5))


def win_rate(gaps: dict[str, dict[str, float]], a: str, b: str, *, tol: float = TIE_TOL, n_boot: int = N_BOOT,
             level: float = LEVEL, seed: int = 0) -> WinRate:
    """Paired win rate of a over b on the networks where both have a gap; NaN interval when none."""
    nets = sorted(set(gaps.get(a, {})) & set(gaps.get(b, {})))
    if not nets:
        return WinRate(a, b, math.nan, math.nan, math.nan, 0)
    w = _wins(np.array([gaps[a][n] for n in nets]), np.array([gaps[b][n] for n in nets]), tol)
    rng = np.random.default_rng(seed)
    boot = w[rng.integers(0, len(w), size=(n_boot, len(w)))].mean(axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2])
    return WinRate(a, b, float(w.mean()), float(lo), float(hi), len(nets))


def ranking(gaps: dict[str, dict[str, float]], methods: Sequence[str], tol: float = TIE_TOL) -> dict[str, float]:
    """Copeland-style score per method: the sum of its paired win rates against every other method (higher is
    better). A score, not a position, so that Kendall's tau sees ties as ties."""
    score = {m: 0.0 for m in methods}
    for a, b in itertools.combinations(methods, 2):
        wr = win_rate(gaps, a, b, tol=tol, n_boot=1)
        if wr.n:
            score[a] += wr.rate
            score[b] += 1.0 - wr.rate
    return score


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> float:
    """Kendall's tau-b of two score lists (ties allowed); NaN when either list is constant."""
    if len(x) != len(y):
        raise ValueError("kendall_tau needs two lists of the same length")
    conc = disc = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tx += 1
        elif dy == 0:
            ty += 1
        elif dx == dy:
            conc += 1
        else:
            disc += 1
    denom = math.sqrt((conc + disc + tx) * (conc + disc + ty))
    return (conc - disc) / denom if denom else math.nan


def tau_interval(g1: dict[str, dict[str, float]], g2: dict[str, dict[str, float]], methods: Sequence[str], *,
                 tol: float = TIE_TOL, n_boot: int = 1000, level: float = LEVEL, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Kendall's tau between the two groups' rankings: each resample draws the
    networks of each group with replacement and ranks the methods again (a tau from 4 methods moves in steps of
    1/3, so a single tau says little without it). Resamples where a ranking is constant (tau undefined) are left
    out; NaNs when every one is."""
    rng = np.random.default_rng(seed)
    pairs = list(itertools.combinations(methods, 2))

    def wins(g: dict[str, dict[str, float]]) -> np.ndarray:
        """(pairs, nets) wins of a over b, NaN where one of the two has no gap on that net."""
        nets = sorted(set().union(*(g.get(m, {}) for m in methods)))
        out = np.full((len(pairs), len(nets)), np.nan)
        for k, (a, b) in enumerate(pairs):
            ga, gb = g.get(a, {}), g.get(b, {})
            for j, n in enumerate(nets):
                if n in ga and n in gb:
                    out[k, j] = _wins(np.array(ga[n]), np.array(gb[n]), tol)
        return out

    def scores(w: np.ndarray) -> np.ndarray:
        """(methods, n_boot) Copeland scores of n_boot resamples of the nets (columns) of w."""
        idx = rng.integers(0, w.shape[1], size=(n_boot, w.shape[1]))
        picked = w[:, idx]  # (pairs, n_boot, nets)
        have = ~np.isnan(picked)
        cnt = have.sum(axis=2)
        rate = np.where(cnt > 0, np.where(have, picked, 0.0).sum(axis=2) / np.maximum(cnt, 1), np.nan)
        sc = np.zeros((len(methods), n_boot))
        pos = {m: i for i, m in enumerate(methods)}
        for k, (a, b) in enumerate(pairs):
            ok = ~np.isnan(rate[k])
            sc[pos[a]] += np.where(ok, rate[k], 0.0)
            sc[pos[b]] += np.where(ok, 1.0 - rate[k], 0.0)
        return sc

    w1, w2 = wins(g1), wins(g2)
    if w1.shape[1] == 0 or w2.shape[1] == 0:
        return math.nan, math.nan
    s1, s2 = scores(w1), scores(w2)
    taus = np.array([kendall_tau(s1[:, i], s2[:, i]) for i in range(n_boot)])
    taus = taus[~np.isnan(taus)]
    if not taus.size:
        return math.nan, math.nan
    lo, hi = np.quantile(taus, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def _verdict(p: WinRate, q: WinRate) -> str:
    """Both intervals clear of 1/2 on opposite sides: the ranking flips; on the same side: it holds; else unclear."""
    if p.n == 0 or q.n == 0:
        return "unclear"
    side_p = 1 if p.low > 0.5 else -1 if p.high < 0.5 else 0
    side_q = 1 if q.low > 0.5 else -1 if q.high < 0.5 else 0
    if side_p and side_q:
        return "flips" if side_p != side_q else "holds"
    return "unclear"


def compare_groups(rows: Sequence[dict], first: str, second: str, methods: Sequence[str], *,
                   tol: float = TIE_TOL, n_boot: int = N_BOOT, seed: int = 0,
                   intervals: dict[tuple, tuple[float, float]] | None = None) -> tuple[list[Flip], dict[tuple, float]]:
    """Every pair of methods in both groups, for each sense and budget present in the rows, and Kendall's tau
    between the two groups' rankings per (sense, budget); tau's bootstrap interval goes into `intervals` when
    given. Rows need: group, net_id, method, sense, budget, gap."""
    flips: list[Flip] = []
    taus: dict[tuple, float] = {}
    keys = sorted({(r["sense"], r["budget"]) for r in rows}, key=lambda k: (k[0], str(k[1])))
    for sense, budget in keys:
        g1, g2 = mean_gaps(rows, first, sense, budget), mean_gaps(rows, second, sense, budget)
        for a, b in itertools.combinations(methods, 2):
            p = win_rate(g1, a, b, tol=tol, n_boot=n_boot, seed=seed)
            q = win_rate(g2, a, b, tol=tol, n_boot=n_boot, seed=seed)
            flips.append(Flip(a, b, sense, budget, p, q, _verdict(p, q)))
        s1, s2 = ranking(g1, methods, tol), ranking(g2, methods, tol)
        taus[(sense, budget)] = kendall_tau([s1[m] for m in methods], [s2[m] for m in methods])
        if intervals is not None:
            intervals[(sense, budget)] = tau_interval(g1, g2, methods, tol=tol, n_boot=min(n_boot, 1000), seed=seed)
    return flips, taus


def flips_markdown(flips: Sequence[Flip], taus: dict[tuple, float], first: str, second: str,
                   intervals: dict[tuple, tuple[float, float]] | None = None) -> str:
    """The flip table as markdown: one line per pair, sense and budget, rates with their 95 % intervals (and tau's,
    from tau_interval, when given)."""
    def fmt(w: WinRate) -> str:
        return "n/a" if w.n == 0 else f"{w.rate:.2f} [{w.low:.2f}, {w.high:.2f}] (n={w.n})"

    lines = [f"| sense | budget | a vs b | a beats b on {first} | on {second} | verdict |", "|---|---|---|---|---|---|"]
    for f in flips:
        lines.append(f"| {f.sense} | {f.budget} | {f.a} vs {f.b} | {fmt(f.first)} | {fmt(f.second)} | {f.verdict} |")
    lines.append("")
    lines.append(f"Kendall's tau between the rankings on {first} and on {second} networks (1: same order, "
                 "-1: reversed)" + (", with its 95 % bootstrap interval (networks of both groups resampled):"
                                    if intervals else ":"))
    lines.append("")
    for (sense, budget), tau in taus.items():
        ci = (intervals or {}).get((sense, budget))
        band = f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and not math.isnan(ci[0]) else ""
        lines.append(f"- {sense}, budget {budget}: tau = {'n/a' if math.isnan(tau) else f'{tau:.2f}'}{band}")
    return "\n".join(lines) + "\n"


def bootstrap_mean(samples: dict[Any, Sequence[float]], *, n_boot: int = N_BOOT, level: float = LEVEL,
                   seed: int = 0) -> tuple[float, float, float]:
    """(mean, low, high) of values grouped by network (a list of repeats each): the mean over networks of each
    network's mean, and a two-stage percentile bootstrap interval that resamples networks with replacement and
    then each chosen network's repeats with replacement (so both the spread between networks and between a
    randomised method's runs count). Seeded: the same values give the same interval on every machine. NaNs when
    there is no value."""
    groups = [np.asarray(v, dtype=np.float64) for _, v in sorted(samples.items(), key=lambda kv: str(kv[0])) if len(v)]
    if not groups:
        return math.nan, math.nan, math.nan
    counts = np.array([len(g) for g in groups])
    table = np.full((len(groups), int(counts.max())), np.nan)
    for i, g in enumerate(groups):
        table[i, :len(g)] = g
    mean = float(np.mean([g.mean() for g in groups]))
    rng = np.random.default_rng(seed)
    nets = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    reps = (rng.random((n_boot, len(groups), int(counts.max()))) * counts[nets][:, :, None]).astype(int)
    picked = np.take_along_axis(table[nets], reps, axis=2)  # (n_boot, nets, max repeats): draws of repeats
    mask = np.arange(int(counts.max()))[None, None, :] < counts[nets][:, :, None]  # a net draws its own count
    net_means = np.where(mask, picked, 0.0).sum(axis=2) / counts[nets]
    boot = net_means.mean(axis=1)
    lo, hi = np.quantile(boot, [(1 - level) / 2, 1 - (1 - level) / 2])
    return mean, float(lo), float(hi)
