"""Relax-and-walk (Tong, Cai & Serra 2024): walks from region LP vertex to region LP vertex, started from the LP
relaxation of the big-M MILP and from relaxations with neurons flipped layer by layer.

Differences from the public codes (ALGORITHMS.md): the set of already picked neurons is per layer (the shared set
there meant only layer 1 was ever flipped), and an infeasible flip is undone and sampling goes on (no early break).

Work (baselines.Clock): each relaxation and each region LP is one LP solve; a walk's start, each LP vertex's value
and each stepped point's pattern is one forward pass. Under a work cap the relaxations run in simplex-iteration
slices (RELAX_ITERATIONS), not time slices, so timing cannot change their solutions.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator, Iterator

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, WalkPath, better, finish
from nnlab.engine.optimize.heuristics.baselines import Best, Clock, check_positive, value_and_pattern
from nnlab.engine.optimize.formulation.regionlp import BigM, RegionLP, RelaxSolution, flat_pattern, pattern_key

RELAX_ITERATIONS = 500  # simplex iterations per slice of a relaxation under a work cap (a yield between slices)
_now = time.perf_counter  # walk_steps' deadline clock (a test replaces it)


@dataclass(frozen=True)
class WalkParams:
    restarts: int = 10
    samples: int = 3
    eps: float = 0.01
    beta: float = 0.05
    max_steps: int = 1000
    max_forward: int | None = None  # work caps (None: no cap), see Clock
    max_lp: int | None = None  # relaxations and region LPs, one each


def walk_steps(net: NetSnapshot, lp: RegionLP, x0: np.ndarray, sense: str, eps: float = 0.01,
               max_steps: int = 1000, clock: Clock | None = None,
               start: tuple[float, list[np.ndarray]] | None = None, deadline: float | None = None
               ) -> Iterator[tuple[np.ndarray, float]]:
    """The walk from x0: each item is a region LP vertex x* whose network value strictly beats the previous one.

    From x, solve the LP of pattern(x) -> x*; then step past the vertex, x* + eps (x* - x) (coordinates that would
    leave the box stay at x*), and repeat while the value strictly improves. `start` is x0's (value, pattern) when
    the caller has them; `clock` counts the work and stops the walk before a step that does not fit its caps;
    `deadline` (perf_counter seconds) stops it before any region LP started after it (exact's incumbent search
    walks inside its time limit).
    """
    lo, hi = lp.lower, lp.upper
    x = np.asarray(x0, dtype=np.float64)
    if start is None:
        if clock is not None:
            if not clock.room(forward=1):
                return
            clock.count(forward=1)
        vals, pats = value_and_pattern(net, x[None])
        cur, pat = float(vals[0]), pats
    else:
        cur, pat = start
    for k in range(max_steps):
        if k:  # the pattern of the stepped point
            if clock is not None:
                if not clock.room(forward=1):
                    return
                clock.count(forward=1)
            pat = net.pattern(x[None])
        if deadline is not None and _now() >= deadline:
            return
        if clock is not None:
            if not clock.room(forward=1, lp=1):  # the region LP and the value at its vertex
                return
            before = lp.n_solved
        r = lp.solve(pat, sense)
        if clock is not None:
            clock.count(lp=lp.n_solved - before)
        if r is None:
            return
        xs = r[0]
        v = float(net.forward(xs))
        if clock is not None:
            clock.count(forward=1)
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
    """Solve the LP relaxation in slices, yielding heartbeats; None if infeasible, out of time or out of LP budget
    (one LP solve, however many slices)."""
    if not clock.room(lp=1):
        return None
    it = bm.relax_iter(sense, fixed, iterations=RELAX_ITERATIONS if clock.deterministic else None)
    clock.count(lp=1)
    while True:
        try:
            next(it)
        except StopIteration as stop:
            return stop.value
        if clock.over():
            it.close()
            return None
        yield clock.beat(best, stage)


def _walk_events(net: NetSnapshot, lp: RegionLP, x0: np.ndarray, start: tuple[float, list[np.ndarray]],
                 sense: str, params: WalkParams, best: Best, clock: Clock) -> Generator[Event, None, None]:
    """Run one walk from x0 (its value and pattern in `start`), yielding incumbents and its path (in segments
    when it runs long: the segments are events only, the walk is the same)."""
    v0 = start[0]
    inc = best.offer(x0, v0)
    if inc:
        yield inc
    path, vals, segments = [x0.copy()], [v0], 0
    for xs, v in walk_steps(net, lp, x0, sense, params.eps, params.max_steps, clock, start):
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


def _evaluate_start(net: NetSnapshot, x: np.ndarray, clock: Clock) -> tuple[float, list[np.ndarray]] | None:
    """(value, pattern) at a walk's start (one forward pass), or None when the forward budget is spent."""
    if not clock.room(forward=1):
        return None
    clock.count(forward=1)
    vals, pats = value_and_pattern(net, x[None])
    return float(vals[0]), pats


@METHODS.register("walk", label="Relax-and-walk (Tong, Cai & Serra)", params=WalkParams,
                  flags=("heuristic", "any_dim", "piecewise_linear"),
                  description="Walks across linear regions (region LP, then a step past the vertex) started from the "
                              "big-M LP relaxation and from relaxations with sampled neurons flipped layer by layer. "
                              "restarts = 0 restarts until the time limit (or a work cap).")
def walk(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: WalkParams,
         time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    if params.restarts < 0:
        raise NnlabError(f"parameter 'restarts' must be >= 0, got {params.restarts!r}")
    check_positive("samples", params.samples)
    check_positive("eps", params.eps)
    check_positive("max_steps", params.max_steps)
    if params.beta < 0:
        raise NnlabError(f"parameter 'beta' must be >= 0, got {params.beta!r}")
    clock = Clock.of(params, time_limit)
    best = Best(net, sense, clock.t0, clock)
    rng = np.random.default_rng(seed)
    lp = RegionLP(net, lower, upper)
    inc = best.offer(0.5 * (lower + upper))  # an incumbent even if the first relaxation outlasts the time limit
    if inc:
        yield inc

    def done(walks: int) -> OptResult:
        return finish(net, "walk", sense, best.x, clock.status(), clock.t0,
                      extra={"walks": walks, "relaxations": clock.lp - lp.n_solved, "region_lps": lp.n_solved,
                             "work": clock.work()})

    bm = BigM(net, lower, upper)
    sol = yield from _relax(bm, sense, None, best, clock, "LP relaxation")
    if sol is None and clock.stopped():
        return done(0)
    x0 = sol.x if sol is not None else 0.5 * (lower + upper)
    start = _evaluate_start(net, x0, clock)
    if start is None:
        return done(0)
    a0 = flat_pattern(start[1])
    weights = [np.abs(a.astype(float) - z) + params.beta for a, z in zip(a0, sol.z)] if sol else \
        [np.ones(n) for n in net.widths]
    cands = [np.flatnonzero(u) for u in bm.unstable]
    seen = {pattern_key(a0)}
    n_walks = 1
    yield from _walk_events(net, lp, x0, start, sense, params, best, clock)
    restart = 0
    while (params.restarts == 0 or restart < params.restarts) and any(c.size for c in cands) and not clock.stopped():
        restart += 1
        fixed: dict[tuple[int, int], int] = {}
        for k, cand in enumerate(cands):
            picked: set[int] = set()  # per layer: a neuron is flipped at most once per layer and restart
            for _ in range(params.samples):
                if clock.stopped():
                    break
                if clock.due():  # progress only: changes nothing that is computed
                    yield clock.beat(best, f"restart {restart}, layer {k + 1}")
                avail = np.array([j for j in cand if j not in picked], dtype=int)
                if avail.size == 0:
                    break
                p = weights[k][avail]
                j = int(rng.choice(avail, p=p / p.sum()))
                picked.add(j)
                fixed[(k, j)] = 1 - int(a0[k][j])
                rel = yield from _relax(bm, sense, fixed, best, clock, f"restart {restart}, layer {k + 1}")
                if rel is None:  # this flip empties the relaxation (or time or work ran out): undo it, keep sampling
                    del fixed[(k, j)]
                    continue
                st = _evaluate_start(net, rel.x, clock)
                if st is None:
                    break
                key = pattern_key(st[1])
                if key in seen:
                    continue
                seen.add(key)
                n_walks += 1
                yield from _walk_events(net, lp, rel.x, st, sense, params, best, clock)
    return done(n_walks)
