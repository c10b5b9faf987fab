"""Exact optimum in any dimension: the big-M MILP of the network (Fischetti & Jo; formulation/bigm.py, for every
piecewise-linear activation: relu and leaky_relu), solved by HiGHS.

HiGHS is driven through highspy directly (the same model class as the LP bound tightening): it runs in a worker
thread while the generator reports its bound and incumbents, and a HiGHS interrupt callback stops it within
milliseconds when the consumer closes the generator. Other MIP-capable solvers go through cvxpy on the same model
(BigMModel.matrices; no progress events, no cancellation while the solver runs).

Steps: a quick incumbent (corners, random points, projected gradient; warmstart.py) -> bounds (interval or LP-based,
stable neurons fixed or dropped) -> MILP warm-started from the incumbent. Every x is clipped to the box and
re-evaluated by the float64 forward pass.

Soundness: HiGHS's dual bound under its default tolerances (feasibility 1e-6) was measured below the true optimum by
up to 1e-5 relative on PyTorch-default 2-100-100-1 nets (issue 9). HiGHS now runs with feasibility tolerances of
FEAS_TOL, and the reported bound is its dual bound moved outward by `tolerance_margin` (what a row violation of
FEAS_TOL per neuron can add to the output, through the big-M constants) plus exact.float_margin. "optimal" is
exact.is_optimal of that bound, whatever HiGHS's own status says.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.errors import NnlabError

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import (
    METHODS, BoundProgress, Event, Incumbent, OptResult, better, check_box, finish,
)
from nnlab.engine.optimize.formulation.cuts import add_ideal_cuts
from nnlab.engine.optimize.certify import OPTIMAL_GAP, float_margin, is_optimal, outward
from nnlab.engine.optimize.formulation.bigm import FEAS_TOL, network_model
from nnlab.engine.optimize.formulation.bounds import interval_bounds, iter_cutoff_bounds, iter_lp_bounds
from nnlab.engine.optimize.formulation.intervals import stopped_bound
from nnlab.engine.optimize.exact.warmstart import LateHeuristics, warm_start


HEURISTICS_UNSTABLE = 40  # unstable neurons after the bounds from which the MILP takes gradient's and walk's best
# points before HiGHS starts (on 10-D to 100-D nets they beat the warm start by 0.3-26 %; small MILPs close sooner)


def tolerance_margin(net: NetSnapshot, bounds: list[tuple[np.ndarray, np.ndarray]], tol: float = FEAS_TOL) -> float:
    """How much a solution that violates every row and integrality by `tol` can overstate the output.

    Per hidden neuron the big-M rows y >= g, y <= g - (1 - a) L (1 - z), y <= a g + (1 - a) U z and z in {0, 1}
    within tol let y exceed act(g) by tol (1 + |L| + |U|) (as 0 <= a < 1) plus what the inputs' errors add through
    |W| (a |W| <= |W|); the output adds |w| times the last layer's error and tol. Why: HiGHS accepts such points, so
    its bound is one of the perturbed problem.
    """
    err = np.zeros(net.input_dim) + tol  # a box bound may be violated by tol too
    for (w, _), (L, U) in zip(net.layers()[:-1], bounds):
        err = np.abs(w) @ err + tol * (3.0 + np.abs(L) + np.abs(U))
    return float(np.abs(net.weights[-1][0]) @ err + tol)


@dataclass(frozen=True)
class MilpParams:
    bounds: str = "lp"  # "interval" | "lp"
    solver: str = "HIGHS"  # or any MIP-capable solver installed for cvxpy (e.g. SCIPY, SCIP, GUROBI)
    mip_gap: float = OPTIMAL_GAP  # HiGHS stops at half of this (the rest is room for the safety margin)
    warm_start: bool = True
    bound_time_fraction: float = 0.4  # share of the time limit LP tightening may use
    cutoff_passes: int = 2  # passes of tightening under the incumbent's objective cutoff (0: off)
    cut_rounds: int = 8  # rounds of ideal (Anderson et al.) cuts at the root (0: off)
    threads: int = 1


def _check_params(p: MilpParams) -> None:
    if p.bounds not in ("interval", "lp"):
        raise NnlabError(f"milp bounds {p.bounds!r} is not allowed; expected interval or lp")
    if not 0 <= p.mip_gap < 1:
        raise NnlabError(f"mip_gap {p.mip_gap!r} must be in [0, 1)")
    if p.solver.upper() != "HIGHS":
        import cvxpy as cp

        if p.solver.upper() not in cp.installed_solvers():
            raise NnlabError(f"solver {p.solver!r} is not installed for cvxpy; installed: {', '.join(cp.installed_solvers())}")


def _drain(gen: Generator, t0: float, inc: float | None, what: str) -> Generator[Event, None, object]:
    """Run a bounds generator, turning its (layer, neuron, LPs) steps into a BoundProgress every 0.25 s."""
    last = time.perf_counter()
    try:
        while True:
            try:
                k, j, n_lp = next(gen)
            except StopIteration as stop:
                return stop.value
            if time.perf_counter() - last > 0.25:
                last = time.perf_counter()
                yield BoundProgress(None, inc, last - t0, f"{what}: layer {k + 1}, neuron {j + 1} ({n_lp} LPs)")
    finally:
        gen.close()


def _bounds(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, p: MilpParams, t0: float,
            time_limit: float, inc: float | None) -> Generator[Event, None, tuple[list, bool]]:
    """(bounds, cut): interval or LP bounds, then passes under the incumbent's cutoff (cut = True if any ran)."""
    deadline = t0 + p.bound_time_fraction * time_limit
    if p.bounds == "interval":
        return interval_bounds(net, lo, hi), False
    bounds = interval_bounds(net, lo, hi)
    if len(net.weights) >= 3:
        bounds = yield from _drain(iter_lp_bounds(net, lo, hi, deadline), t0, inc, "LP bounds")
    cut = False
    if inc is not None:
        cutoff = inc - 1e-6 * (1.0 + abs(inc)) if sense == "max" else inc + 1e-6 * (1.0 + abs(inc))
        for _ in range(p.cutoff_passes):
            if time.perf_counter() > deadline:
                break
            before = sum(int(((L < 0) & (U > 0)).sum()) for L, U in bounds)
            bounds = yield from _drain(iter_cutoff_bounds(net, lo, hi, bounds, sense, cutoff, deadline), t0, inc,
                                       "cutoff bounds")
            cut = True
            if sum(int(((L < 0) & (U > 0)).sum()) for L, U in bounds) == before:
                break
    return bounds, cut


def _solve_highs(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, p: MilpParams,
                 bounds: list[tuple[np.ndarray, np.ndarray]], cut: bool, x0: np.ndarray | None, t0: float,
                 time_limit: float, seed: int, state: dict) -> Generator[Event, None, tuple[str, float | None, np.ndarray | None]]:
    """Run HiGHS in a thread; yield progress and incumbents; return (status, bound, x of HiGHS's best)."""
    import highspy as hs

    model = network_model(net, lo, hi, bounds, enforce_inactive=cut, threads=p.threads)
    h = model.h
    zc = model.all_z()
    n = model.num_col
    model.set_objective(net.weights[-1][0], float(net.biases[-1][0]), sense)
    if zc.size and p.cut_rounds > 0 and model.a == 0.0:  # the ideal cuts are ReLU's (Anderson et al.)
        h.setOptionValue("time_limit", max(0.01, 0.5 * time_limit - (time.perf_counter() - t0)))
        n_cuts, root = add_ideal_cuts(model, net, lo, hi, bounds, p.cut_rounds, t0 + 0.5 * time_limit)
        state["cuts"] = n_cuts
        yield BoundProgress(root, state["value"], time.perf_counter() - t0, f"root LP with {n_cuts} ideal cuts")
    model.make_integer()
    h.setOptionValue("time_limit", max(0.01, time_limit - (time.perf_counter() - t0)))
    h.setOptionValue("mip_rel_gap", 0.5 * float(p.mip_gap))
    h.setOptionValue("mip_abs_gap", 0.5 * float(p.mip_gap))  # with rel: gap <= mip_gap/2 * max(1, |value|)
    h.setOptionValue("random_seed", int(seed) % (2 ** 31))
    if x0 is not None:
        pre0 = [g[0] for g in net.preactivations(x0[None])]
        h.setSolution(n, np.arange(n, dtype=np.int32), model.column_values(x0, pre0))
    stop = threading.Event()
    sols: queue.SimpleQueue = queue.SimpleQueue()
    info = {"dual": None}

    def on_interrupt(e: "hs.HighsCallbackEvent") -> None:
        info["dual"] = float(e.data_out.mip_dual_bound)
        if stop.is_set():
            e.interrupt()

    def on_solution(e: "hs.HighsCallbackEvent") -> None:
        sols.put(np.array(e.data_out.mip_solution[: lo.size], dtype=np.float64))

    h.cbMipInterrupt.subscribe(on_interrupt)
    h.cbSimplexInterrupt.subscribe(lambda e: e.interrupt() if stop.is_set() else None)
    h.cbMipImprovingSolution.subscribe(on_solution)
    worker = threading.Thread(target=h.run, daemon=True, name="nnlab-highs")
    worker.start()
    last = 0.0
    try:
        while worker.is_alive():
            worker.join(0.1)
            while not sols.empty():
                x = np.clip(sols.get(), lo, hi)
                v = float(net.forward(x))
                if better(v, state["value"], sense):
                    state["x"], state["value"] = x, v
                    yield Incumbent(v, x.copy(), time.perf_counter() - t0)
            now = time.perf_counter()
            if now - last > 0.25:
                last = now
                yield BoundProgress(info["dual"], state["value"], now - t0, "MILP")
    finally:  # on gen.close() too: the interrupt callbacks stop HiGHS within milliseconds
        stop.set()
        worker.join()
    stop.clear()
    status = h.getModelStatus()
    hinfo = h.getInfo()
    x_best = None
    if zc.size:
        bound = float(hinfo.mip_dual_bound)
    else:
        bound = float(hinfo.objective_function_value) if status == hs.HighsModelStatus.kOptimal else None
    if hinfo.primal_solution_status == 2:  # kSolutionStatusFeasible: HiGHS has a feasible point
        cv = np.array(h.getSolution().col_value, dtype=np.float64)
        x_best = np.clip(cv[: lo.size], lo, hi)
        if zc.size and time.perf_counter() - t0 < time_limit:  # polish: the LP of the solution's region
            zv = np.round(cv[zc])
            model.make_integer(False)
            h.changeColsBounds(zc.size, zc, zv, zv)
            h.setOptionValue("time_limit", max(0.01, min(5.0, time_limit - (time.perf_counter() - t0))))
            h.run()
            if h.getModelStatus() == hs.HighsModelStatus.kOptimal:
                xp = np.clip(np.array(h.getSolution().col_value[: lo.size], dtype=np.float64), lo, hi)
                if not better(float(net.forward(x_best)), float(net.forward(xp)), sense):
                    x_best = xp
    if bound is not None and not np.isfinite(bound):
        bound = None
    name = {hs.HighsModelStatus.kOptimal: "optimal", hs.HighsModelStatus.kTimeLimit: "time_limit",
            hs.HighsModelStatus.kInterrupt: "time_limit", hs.HighsModelStatus.kInfeasible: "infeasible"}
    model.h.clear()
    return name.get(status, "error"), bound, x_best


def _solve_cvxpy(net: NetSnapshot, lo: np.ndarray, hi: np.ndarray, sense: str, p: MilpParams,
                 bounds: list[tuple[np.ndarray, np.ndarray]], cut: bool, time_limit: float
                 ) -> tuple[str, float | None, np.ndarray | None]:
    """The same big-M model (BigMModel.matrices) through cvxpy, for solvers other than HiGHS."""
    import cvxpy as cp

    model = network_model(net, lo, hi, bounds, enforce_inactive=cut)
    model.set_objective(net.weights[-1][0], float(net.biases[-1][0]), sense)
    m = model.matrices()
    model.h.clear()
    v = cp.Variable(m["A"].shape[1])
    z = np.flatnonzero(m["integer"])
    cons = [v >= m["col_lower"], v <= m["col_upper"]]
    if z.size:
        zb = cp.Variable(z.size, boolean=True)
        cons.append(v[z] == zb)
    if m["A"].shape[0]:
        Av = m["A"] @ v
        for bound, keep_ge in ((m["row_lower"], True), (m["row_upper"], False)):
            fin = np.flatnonzero(np.isfinite(bound) & (np.abs(bound) < 1e30))
            if fin.size:
                cons.append(Av[fin] >= bound[fin] if keep_ge else Av[fin] <= bound[fin])
    obj_expr = m["cost"] @ v + m["offset"]
    prob = cp.Problem(cp.Maximize(obj_expr) if sense == "max" else cp.Minimize(obj_expr), cons)
    opts = {"SCIP": {"scip_params": {"limits/time": time_limit}}, "GUROBI": {"TimeLimit": time_limit},
            "SCIPY": {"scipy_options": {"time_limit": time_limit}}, "CBC": {"maximumSeconds": int(time_limit)}}
    try:
        prob.solve(solver=p.solver.upper(), **opts.get(p.solver.upper(), {}))
    except cp.error.SolverError:
        return "error", None, None
    status = {"optimal": "optimal", "infeasible": "infeasible"}.get(prob.status, "time_limit")
    xv = None if v.value is None else np.clip(np.asarray(v.value[: lo.size], dtype=np.float64), lo, hi)
    bound = float(prob.value) if status == "optimal" and prob.value is not None else None
    return status, bound, xv


@METHODS.register("milp", label="Exact MILP (big-M)", params=MilpParams,
                  flags=("exact", "any_dim", "piecewise_linear"),
                  description="big-M MILP with LP-tightened bounds, stable neurons removed, warm start; HiGHS "
                              "(relu and leaky_relu)")
def milp(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: MilpParams,
         time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Exact optimum over the box (status optimal), or the incumbent and the best bound at the time limit."""
    t0 = time.perf_counter()
    p = params or MilpParams()
    _check_params(p)
    lo, hi = check_box(net, lower, upper)
    state: dict = {"x": None, "value": None}
    if p.warm_start:
        x0, v0 = warm_start(net, lo, hi, sense, seed, deadline=t0 + 0.1 * time_limit)
        state["x"], state["value"] = x0, v0
        yield Incumbent(v0, x0.copy(), time.perf_counter() - t0)
    tb = time.perf_counter()
    bounds, cut = yield from _bounds(net, lo, hi, sense, p, t0, time_limit, state["value"])
    n_unstable = int(sum(((L < 0) & (U > 0)).sum() for L, U in bounds))
    yield BoundProgress(None, state["value"], time.perf_counter() - t0, f"bounds done: {n_unstable} unstable neurons")
    if p.warm_start and n_unstable >= HEURISTICS_UNSTABLE:  # a hard MILP: HiGHS starts from the heuristics' best
        def offer(pts: np.ndarray) -> None:
            v = float(net.forward(pts[0]))
            if better(v, state["value"], sense):
                state["x"], state["value"], state["new"] = pts[0].copy(), v, True

        def report() -> Generator[Event, None, None]:
            if state.pop("new", False):
                yield Incumbent(state["value"], state["x"].copy(), time.perf_counter() - t0)

        now = time.perf_counter()
        yield from LateHeuristics(net, lo, hi, sense, seed, t0, time_limit).take(now, offer, report, lambda: False)
    ts = time.perf_counter()
    if ts - t0 >= time_limit:  # set-up used the time: no solver run, the incumbent with a CROWN bound
        status, bound, xs = "time_limit", None, None
    elif p.solver.upper() == "HIGHS":
        status, bound, xs = yield from _solve_highs(net, lo, hi, sense, p, bounds, cut, state["x"], t0,
                                                    time_limit, seed, state)
    else:
        status, bound, xs = _solve_cvxpy(net, lo, hi, sense, p, bounds, cut, max(0.1, time_limit - (ts - t0)))
    if xs is not None and better(float(net.forward(xs)), state["value"], sense):
        state["x"], state["value"] = xs, float(net.forward(xs))
        yield Incumbent(state["value"], xs.copy(), time.perf_counter() - t0)
    x = state["x"]
    if bound is None and status == "time_limit":
        bound = stopped_bound(net, lo, hi, sense)  # already moved outward
    elif bound is not None:  # a proof only after the outward margin (module docstring)
        bound = outward(bound, sense, tolerance_margin(net, bounds) + float_margin(net, lo, hi))
    if x is not None and bound is not None:  # the bound never falls short of the verified value
        bound = max(bound, state["value"]) if sense == "max" else min(bound, state["value"])
    if x is None and status == "optimal":
        status = "error"
    elif status == "optimal" and not is_optimal(state["value"], bound, sense):
        status = "feasible"  # the solver stopped at its gap, but the safe bound is not within OPTIMAL_GAP
    tend = time.perf_counter()
    return finish(net, "milp", sense, x, status, t0, bound=bound, seconds_bounds=ts - tb, seconds_solve=tend - ts,
                  extra={"unstable": n_unstable, "bounds": p.bounds + ("+cutoff" if cut else ""),
                         "cuts": state.get("cuts", 0),
                         "solver": p.solver.upper()})
