"""Relax-and-walk (Tong, Cai & Serra 2024): walks from region LP vertex to region LP vertex, started from the LP
relaxation of the big-M MILP and from relaxations with neurons flipped layer by layer.

Differences from the public codes (ALGORITHMS.md): the set of already picked neurons is per layer (the shared set
there meant only layer 1 was ever flipped), and an infeasible flip is undone and sampling goes on (no early break).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Iterator

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, WalkPath, better, finish
from nnlab.engine.optimize.heuristics.baselines import Best, Clock, check_positive
from nnlab.engine.optimize.formulation.regionlp import BigM, RegionLP, RelaxSolution, flat_pattern, pattern_key


@dataclass(frozen=True)
class WalkParams:
    restarts: int = 10
    samples: int = 3
    eps: float = 0.01
    beta: float = 0.05
    max_steps: int = 1000


def walk_steps(net: NetSnapshot, lp: RegionLP, x0: np.ndarray, sense: str, eps: float = 0.01,
               max_steps: int = 1000) -> Iterator[tuple[np.ndarray, float]]:
    """The walk from x0: each item is a region LP vertex x* whose network value strictly beats the previous one.

    From x, solve the LP of pattern(x) -> x*; then step past the vertex, x* + eps (x* - x) (coordinates that would
    leave the box stay at x*), and repeat while the value strictly improves.
    """
    lo, hi = lp.lower, lp.upper
    x = np.asarray(x0, dtype=np.float64)
    cur = float(net.forward(x))
    for _ in range(max_steps):
        r = lp.solve(net.pattern(x[None]), sense)
        if r is None:
            return
        xs = r[0]
        v = float(net.forward(xs))
        tol = 1e-9 * max(1.0, abs(cur))
        if not better(v, cur + (tol if sense == "max" else -tol), sense):
            return
        yield xs, v
        cur = v
        nxt = xs + eps * (xs - x)
        out = (nxt < lo) | (nxt > hi)
        nxt[out] = xs[out]
        x = nxt


def _relax(bm: BigM, sense: str, fixed: dict[tuple[int, int], int] | None, best: Best, clock: Clock,
           stage: str) -> Generator[Event, None, RelaxSolution | None]:
    """Solve the LP relaxation in slices, yielding heartbeats; None if infeasible or out of time."""
    it = bm.relax_iter(sense, fixed)
    while True:
        try:
            next(it)
        except StopIteration as stop:
            return stop.value
        if clock.over():
            it.close()
            return None
        yield clock.beat(best, stage)


def _walk_events(net: NetSnapshot, lp: RegionLP, x0: np.ndarray, sense: str, params: WalkParams, best: Best,
                 clock: Clock) -> Generator[Event, None, None]:
    """Run one walk, yielding incumbents and its path (in segments when it runs long)."""
    v0 = float(net.forward(x0))
    inc = best.offer(x0, v0)
    if inc:
        yield inc
    path, vals, segments = [x0.copy()], [v0], 0
    for xs, v in walk_steps(net, lp, x0, sense, params.eps, params.max_steps):
        path.append(xs.copy())
        vals.append(v)
        inc = best.offer(xs, v)
        if inc:
            yield inc
        if clock.over():
            break
        if clock.due():
            yield WalkPath(np.array(path), np.array(vals))
            path, vals, segments = [path[-1]], [vals[-1]], segments + 1
    if len(path) > 1 or segments == 0:
        yield WalkPath(np.array(path), np.array(vals))


@METHODS.register("walk", label="Relax-and-walk (Tong, Cai & Serra)", params=WalkParams,
                  flags=("heuristic", "any_dim", "piecewise_linear"),
                  description="Walks across linear regions (region LP, then a step past the vertex) started from the "
                              "big-M LP relaxation and from relaxations with sampled neurons flipped layer by layer. "
                              "restarts = 0 restarts until the time limit.")
def walk(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: WalkParams,
         time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    if params.restarts < 0:
        raise NnlabError(f"parameter 'restarts' must be >= 0, got {params.restarts!r}")
    check_positive("samples", params.samples)
    check_positive("eps", params.eps)
    check_positive("max_steps", params.max_steps)
    if params.beta < 0:
        raise NnlabError(f"parameter 'beta' must be >= 0, got {params.beta!r}")
    clock = Clock(time_limit)
    best = Best(net, sense, clock.t0)
    rng = np.random.default_rng(seed)
    lp = RegionLP(net, lower, upper)
    inc = best.offer(0.5 * (lower + upper))  # an incumbent even if the first relaxation outlasts the time limit
    if inc:
        yield inc
    bm = BigM(net, lower, upper)
    sol = yield from _relax(bm, sense, None, best, clock, "LP relaxation")
    if sol is None and clock.over():
        return finish(net, "walk", sense, best.x, "time_limit", clock.t0, extra={"walks": 0})
    x0 = sol.x if sol is not None else 0.5 * (lower + upper)
    a0 = flat_pattern(net.pattern(x0[None]))
    weights = [np.abs(a.astype(float) - z) + params.beta for a, z in zip(a0, sol.z)] if sol else \
        [np.ones(n) for n in net.widths]
    cands = [np.flatnonzero(u) for u in bm.unstable]
    seen = {pattern_key(a0)}
    n_walks, n_lp_relax, status = 1, 1, "feasible"
    yield from _walk_events(net, lp, x0, sense, params, best, clock)
    restart = 0
    while (params.restarts == 0 or restart < params.restarts) and any(c.size for c in cands):
        restart += 1
        fixed: dict[tuple[int, int], int] = {}
        for k, cand in enumerate(cands):
            picked: set[int] = set()  # per layer: a neuron is flipped at most once per layer and restart
            for _ in range(params.samples):
                if clock.over():
                    break
                if clock.due():
                    yield clock.beat(best, f"restart {restart}, layer {k + 1}")
                avail = np.array([j for j in cand if j not in picked], dtype=int)
                if avail.size == 0:
                    break
                p = weights[k][avail]
                j = int(rng.choice(avail, p=p / p.sum()))
                picked.add(j)
                fixed[(k, j)] = 1 - int(a0[k][j])
                rel = yield from _relax(bm, sense, fixed, best, clock, f"restart {restart}, layer {k + 1}")
                n_lp_relax += 1
                if rel is None:  # this flip empties the relaxation (or time ran out): undo it and keep sampling
                    del fixed[(k, j)]
                    continue
                key = pattern_key(net.pattern(rel.x[None]))
                if key in seen:
                    continue
                seen.add(key)
                n_walks += 1
                yield from _walk_events(net, lp, rel.x, sense, params, best, clock)
        if clock.over():
            status = "time_limit"
            break
    if clock.over():
        status = "time_limit"
    return finish(net, "walk", sense, best.x, status, clock.t0,
                  extra={"walks": n_walks, "relaxations": n_lp_relax, "region_lps": lp.n_solved})
