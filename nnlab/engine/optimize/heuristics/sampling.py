"""Sampling (Perakis & Tsiourvas 2022): sample points, solve the region LP of each one's activation pattern, keep
the best. Enhanced: when a region's value is within rho of the best, free the neurons that are ~0 at its LP vertex
as binaries (the rest fixed), solve that small MILP, and repeat from its solution while it improves."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator, Iterator, Sequence

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, PointsVisited, better, finish
from nnlab.engine.optimize.heuristics.baselines import (SCHEMES, Best, Clock, check_positive, iter_points,
                                                        value_and_pattern)
from nnlab.engine.optimize.formulation.bigm import BigMModel
from nnlab.engine.optimize.formulation.intervals import slope
from nnlab.engine.optimize.formulation.regionlp import RegionLP, flat_pattern, pattern_key


@dataclass(frozen=True)
class SamplingParams:
    samples: int = 1000
    scheme: str = "lhs"
    enhanced: bool = False
    rho: float = 2 / 3
    tol: float = 1e-6
    max_free: int = 12
    milp_seconds: float = 0.2  # per MILP; ignored under a work cap (timing would decide the result)
    max_rounds: int = 20
    max_forward: int | None = None  # work caps (None: no cap), see Clock
    max_lp: int | None = None  # region LPs and enhanced MILPs, one each


def solve_free_milp(net: NetSnapshot, pattern: Sequence[np.ndarray], free: Sequence[np.ndarray], lower: np.ndarray,
                    upper: np.ndarray, sense: str, time_limit: float,
                    clock: Clock | None = None) -> tuple[np.ndarray, float] | None:
    """Enhanced sampling's MILP: neurons fixed to `pattern` except the `free` ones (bool per layer), which get a
    binary each. The big-M builder eliminates the fixed neurons (bigm.BigMModel, eliminate=True), so the model has
    only x and one y and z per free neuron; its big-M constants come from interval arithmetic on that small model
    (tighter than global bounds). Returns (x, network value at x) of the best solution found within the time limit,
    or None. On `clock`'s meter: one LP solve when HiGHS runs, one forward pass for the value at its solution."""
    pat = flat_pattern(pattern)
    fr = [np.asarray(f, dtype=bool).reshape(-1) for f in free]
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    # fresh (0.3 ms): HiGHS's clock and time limit semantics differ between LP and MIP on reuse
    model = BigMModel(lo, hi, slope(net), tolerance=None, eliminate=True)
    for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        model.add_layer(W, b, fixed=~fr[k], on=pat[k])
    if model.infeasible:
        return None
    model.set_objective(net.weights[-1][0], float(net.biases[-1][0]), sense)
    model.make_integer()
    h, hs = model.h, model.hs
    h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    h.run()
    if clock is not None:
        clock.count(lp=1)
    if h.getModelStatus() == hs.HighsModelStatus.kInfeasible or h.getInfo().primal_solution_status != 2:
        return None
    x = np.clip(np.asarray(h.getSolution().col_value[:lo.size], dtype=np.float64), lo, hi)
    if clock is not None:
        clock.count(forward=1)
    return x, float(net.forward(x))


def near_zero(net: NetSnapshot, x: np.ndarray, tol: float, max_free: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(pattern, free) at x: neurons with |g| <= tol * max(1, max |g| of the layer), at most max_free of them
    (the smallest relative |g| first)."""
    gs = [g[0] for g in net.preactivations(x[None])]
    rel = [np.abs(g) / max(1.0, float(np.max(np.abs(g)))) if g.size else np.abs(g) for g in gs]
    free = [r <= tol for r in rel]
    allrel = np.concatenate([r[f] for r, f in zip(rel, free)]) if free else np.zeros(0)
    if allrel.size > max_free:
        cut = np.sort(allrel)[max_free - 1]
        budget = max_free
        for k, (r, f) in enumerate(zip(rel, free)):
            keep = f & (r <= cut)
            idx = np.flatnonzero(keep)[:budget]
            free[k] = np.zeros_like(f)
            free[k][idx] = True
            budget -= idx.size
    return [g > 0 for g in gs], free


def enhance(net: NetSnapshot, x: np.ndarray, v: float, lower: np.ndarray, upper: np.ndarray, sense: str,
            params: SamplingParams, clock: Clock) -> Iterator[tuple[np.ndarray, float]]:
    """The improving chain of MILP solutions from the vertex x (value v), one at a time; stops when one does not
    improve strictly, when no neuron is near zero, at the deadline or when a round does not fit the work caps (its
    pre-activations at x, the MILP and the value at its solution: 2 forward passes and 1 LP solve). Under a work cap
    a MILP has no time limit of its own (only the run's), so timing cannot change the chain."""
    for _ in range(params.max_rounds):
        if clock.over() or not clock.room(forward=2, lp=1):
            break
        pat, free = near_zero(net, x, params.tol, params.max_free)
        clock.count(forward=1)
        if not any(f.any() for f in free):
            break
        seconds = clock.remaining() if clock.deterministic else min(params.milp_seconds, clock.remaining())
        r = solve_free_milp(net, pat, free, lower, upper, sense, seconds, clock)
        if r is None or not better(r[1], v + (1e-9 * max(1.0, abs(v)) * (1 if sense == "max" else -1)), sense):
            break
        x, v = r
        yield x, v


@METHODS.register("sampling", label="Sampling (Perakis & Tsiourvas)", params=SamplingParams,
                  flags=("heuristic", "any_dim", "piecewise_linear"),
                  description="Uniform or Latin-hypercube samples; the region LP of each sample's activation pattern; "
                              "the best vertex. Enhanced: near-zero neurons of promising vertices freed as binaries in "
                              "a small MILP (HiGHS), repeated while it improves.")
def sampling(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: SamplingParams,
             time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    check_positive("samples", params.samples)
    if params.scheme not in SCHEMES:
        raise NnlabError(f"sampling scheme {params.scheme!r} is not allowed; expected one of {', '.join(SCHEMES)}")
    if not 0.0 <= params.rho <= 1.0:
        raise NnlabError(f"parameter 'rho' must lie in [0, 1], got {params.rho!r}")
    clock = Clock.of(params, time_limit)
    best = Best(net, sense, clock.t0, clock)
    lp = RegionLP(net, lower, upper)
    seen: set[bytes] = set()
    timed_out, n_milp, batch = False, 0, 64
    done = 0
    points = iter_points(params.scheme, params.samples, lower, upper, seed, batch)
    pending = np.zeros((0, lower.size))
    while not clock.capped and not timed_out:
        if not len(pending):
            pending = next(points, pending)
            if not len(pending):
                break
        # a sample costs one forward pass (value and pattern), its region LP one LP solve and its vertex one more
        # forward pass: under a forward cap take at most half the budget left, so the vertices of the batch fit
        left = clock.left_forward()
        m = len(pending) if left is None else min(len(pending), (left + 1) // 2)
        if m == 0:
            clock.room(forward=1)  # no sample fits: stopped by the cap
            break
        chunk, pending = pending[:m], pending[m:]
        vals, pats = value_and_pattern(net, chunk)
        clock.count(forward=m)
        yield PointsVisited(chunk.copy(), vals.copy())
        inc = best.offer_batch(chunk, vals)
        if inc:
            yield inc
        for i in range(len(chunk)):
            if clock.over():
                timed_out = True
                break
            if clock.due():  # progress only: changes nothing that is computed
                yield clock.beat(best, f"region LP {done + i}/{params.samples}")
            pat = [p[i] for p in pats]
            key = pattern_key(pat)
            if key in seen:
                continue
            if not clock.room(forward=1, lp=1):  # the LP and the value at its vertex
                break
            seen.add(key)
            before = lp.n_solved
            r = lp.solve(pat, sense)
            clock.count(lp=lp.n_solved - before)  # a pattern whose constant rows fail needs no solve
            if r is None:
                continue
            xs = r[0]
            v = float(net.forward(xs))
            clock.count(forward=1)
            inc = best.offer(xs, v)
            if inc:
                yield inc
            if params.enhanced and best.within(v, params.rho):
                n_milp += 1
                for xm, vm in enhance(net, xs, v, lower, upper, sense, params, clock):
                    inc = best.offer(xm, vm)
                    if inc:
                        yield inc
                    if clock.due():
                        yield clock.beat(best, "enhanced MILP")
                if clock.capped:
                    break
        done += len(chunk)
    return finish(net, "sampling", sense, best.x, clock.status(timed_out), clock.t0,
                  extra={"regions": len(seen), "lps": lp.n_solved, "enhanced_starts": n_milp, "work": clock.work()})
