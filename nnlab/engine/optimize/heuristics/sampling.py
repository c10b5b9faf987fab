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
from nnlab.engine.optimize.heuristics.baselines import SCHEMES, Best, Clock, check_positive, iter_points
from nnlab.engine.optimize.formulation.highs import new_highs, set_dense_rows
from nnlab.engine.optimize.formulation.regionlp import RegionLP, flat_pattern, pattern_key


@dataclass(frozen=True)
class SamplingParams:
    samples: int = 1000
    scheme: str = "lhs"
    enhanced: bool = False
    rho: float = 2 / 3
    tol: float = 1e-6
    max_free: int = 12
    milp_seconds: float = 0.2
    max_rounds: int = 20


def solve_free_milp(net: NetSnapshot, pattern: Sequence[np.ndarray], free: Sequence[np.ndarray], lower: np.ndarray,
                    upper: np.ndarray, sense: str, time_limit: float) -> tuple[np.ndarray, float] | None:
    """Enhanced sampling's MILP: neurons fixed to `pattern` except the `free` ones (bool per layer), which get a
    binary each. Fixed neurons are eliminated as in the region LP, so the model has only x, one output y and one z
    per free neuron; big-M constants come from interval arithmetic on that small model (tighter than global bounds).
    Returns (x, network value at x) of the best solution found within the time limit, or None."""
    import highspy

    pat = flat_pattern(pattern)
    fr = [np.asarray(f, dtype=bool).reshape(-1) for f in free]
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    n0, nf = net.input_dim, int(sum(f.sum() for f in fr))
    nv = n0 + nf  # v = [x, y_free]; z columns follow
    vlo, vhi = np.concatenate([lo, np.zeros(nf)]), np.concatenate([hi, np.zeros(nf)])
    H, c = np.hstack([np.eye(n0), np.zeros((n0, nf))]), np.zeros(n0)
    rows: list[np.ndarray] = []
    rlo: list[float] = []
    rhi: list[float] = []
    zlo, zhi = np.zeros(nf), np.ones(nf)
    inf, f_at = highspy.kHighsInf, 0
    for k, (W, b) in enumerate(zip(net.weights[:-1], net.biases[:-1])):
        G, gq = W @ H, W @ c + b
        a, f = pat[k], fr[k]
        for j in np.flatnonzero(~f):
            s = 1.0 if a[j] else -1.0
            row = np.concatenate([s * G[j], np.zeros(nf)])
            if np.any(row != 0.0):
                rows.append(row), rlo.append(-s * gq[j]), rhi.append(inf)
            elif -s * gq[j] > 1e-12:
                return None
        Gp, Gn = np.maximum(G, 0.0), np.minimum(G, 0.0)
        Lk, Uk = Gp @ vlo + Gn @ vhi + gq, Gp @ vhi + Gn @ vlo + gq
        Hn, cn = a[:, None] * G, a * gq
        for j in np.flatnonzero(f):
            yc, zc = n0 + f_at, nv + f_at
            L, U = float(Lk[j]), float(Uk[j])
            vhi[yc] = max(U, 0.0)
            zlo[f_at] = 1.0 if L >= 0 else 0.0
            zhi[f_at] = 0.0 if U <= 0 else 1.0
            base = np.concatenate([-G[j], np.zeros(nf)])
            base[yc] += 1.0
            rows.append(base), rlo.append(gq[j]), rhi.append(inf)           # y >= g
            r2 = np.zeros(nv + nf)
            r2[yc], r2[zc] = 1.0, -U
            rows.append(r2), rlo.append(-inf), rhi.append(0.0)              # y <= U z
            r3 = base.copy()
            r3[zc] = -L
            rows.append(r3), rlo.append(-inf), rhi.append(gq[j] - L)        # y <= g - L (1 - z)
            Hn[j], cn[j] = 0.0, 0.0
            Hn[j, yc] = 1.0
            f_at += 1
        H, c = Hn, cn
    cost = np.concatenate([(net.weights[-1] @ H)[0], np.zeros(nf)])
    A = np.vstack(rows) if rows else np.zeros((0, nv + nf))
    m, n = A.shape
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = np.concatenate([vlo, zlo]), np.concatenate([vhi, zhi])
    lp.row_lower_, lp.row_upper_ = np.asarray(rlo, dtype=np.float64), np.asarray(rhi, dtype=np.float64)
    lp.sense_ = highspy.ObjSense.kMaximize if sense == "max" else highspy.ObjSense.kMinimize
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * nv + [highspy.HighsVarType.kInteger] * nf
    set_dense_rows(lp, A)
    h = new_highs()  # fresh (0.3 ms): HiGHS's clock and time limit semantics differ between LP and MIP on reuse
    h.setOptionValue("time_limit", max(float(time_limit), 1e-3))
    h.passModel(lp)
    h.run()
    st = h.getModelStatus()
    if st == highspy.HighsModelStatus.kInfeasible or h.getInfo().primal_solution_status != 2:
        return None
    x = np.clip(np.asarray(h.getSolution().col_value[:n0], dtype=np.float64), lo, hi)
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
    improve strictly, when no neuron is near zero, or at the deadline."""
    for _ in range(params.max_rounds):
        if clock.over():
            break
        pat, free = near_zero(net, x, params.tol, params.max_free)
        if not any(f.any() for f in free):
            break
        r = solve_free_milp(net, pat, free, lower, upper, sense, min(params.milp_seconds, clock.remaining()))
        if r is None or not better(r[1], v + (1e-9 * max(1.0, abs(v)) * (1 if sense == "max" else -1)), sense):
            break
        x, v = r
        yield x, v


@METHODS.register("sampling", label="Sampling (Perakis & Tsiourvas)", params=SamplingParams,
                  flags=("heuristic", "any_dim"),
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
    clock = Clock(time_limit)
    best = Best(net, sense, clock.t0)
    lp = RegionLP(net, lower, upper)
    seen: set[bytes] = set()
    status, n_milp, batch = "feasible", 0, 64
    start = 0
    for chunk in iter_points(params.scheme, params.samples, lower, upper, seed, batch):
        vals = net.forward(chunk)
        pats = net.pattern(chunk)
        yield PointsVisited(chunk.copy(), vals.copy())
        inc = best.offer_batch(chunk, vals)
        if inc:
            yield inc
        for i in range(len(chunk)):
            if clock.over():
                status = "time_limit"
                break
            if clock.due():
                yield clock.beat(best, f"region LP {start + i}/{params.samples}")
            pat = [p[i] for p in pats]
            key = pattern_key(pat)
            if key in seen:
                continue
            seen.add(key)
            r = lp.solve(pat, sense)
            if r is None:
                continue
            xs = r[0]
            v = float(net.forward(xs))
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
        if status == "time_limit":
            break
        start += len(chunk)
    return finish(net, "sampling", sense, best.x, status, clock.t0,
                  extra={"regions": len(seen), "lps": lp.n_solved, "enhanced_starts": n_milp})
