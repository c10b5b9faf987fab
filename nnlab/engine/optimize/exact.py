"""`exact`: the exact optimum by the fastest exact path: linear regions for 2-input networks, otherwise input branch
and bound with CROWN bounds (`bab`; measured faster than the big-M MILP on HiGHS on every n-D net of bench/bab.py),
or the MILP when `nd` = "milp".

The result's `method` is "exact" (what the caller asked for, e.g. `nnlab optimize --method exact`) and
`extra["via"]` names the path taken ("regions", "bab" or "milp"). A 2-input box of zero area takes the n-D path.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.engine.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, check_box
from nnlab.errors import NnlabError

# --- what "optimal" means, for every exact method (regions, bab, milp, exact) ------------------------------------
OPTIMAL_GAP = 1e-6  # status "optimal": (bound - value) / max(1, |value|) <= OPTIMAL_GAP, bound on the right side
_EPS = float(np.finfo(np.float64).eps)


def is_optimal(value: float | None, bound: float | None, sense: str) -> bool:
    """The one test of status "optimal": a bound on the far side of the value (max: bound >= value) within
    OPTIMAL_GAP of it, relative to max(1, |value|) (base.relative_gap). Methods pass a bound already made safe by
    `outward`."""
    if value is None or bound is None or not (np.isfinite(value) and np.isfinite(bound)):
        return False
    d = bound - value if sense == "max" else value - bound
    return 0.0 <= d <= OPTIMAL_GAP * max(1.0, abs(value))


def outward(bound: float, sense: str, margin: float) -> float:
    """bound moved away from the feasible side by margin (max: up), then one more ulp: a computed bound is used as
    a proof only after this."""
    b = bound + margin if sense == "max" else bound - margin
    return float(np.nextafter(b, np.inf if sense == "max" else -np.inf))


def float_margin(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, rel_tol: float = 0.0) -> float:
    """An outward margin for bounds computed in float64: (terms summed x eps + rel_tol) x S, with S the interval-
    arithmetic bound on the magnitude of every term summed into the output (|W| times the largest |input| per layer).

    Why: a forward pass, a CROWN bound or a region vertex each round every sum of n terms by about n eps times their
    magnitude (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); `rel_tol` adds a solver's or a sign
    test's tolerance on the same scale. A bound moved out by this never lies on the wrong side of f at any point.
    """
    m = np.maximum(np.abs(np.asarray(lower, float)), np.abs(np.asarray(upper, float)))
    terms = 0
    for w, b in zip(net.weights, net.biases):
        m = np.abs(w) @ m + np.abs(b)
        terms += w.shape[1] + 1
    scale = float(np.max(m, initial=0.0))
    return (4.0 * terms * _EPS + rel_tol) * max(1.0, scale)


@dataclass(frozen=True)
class ExactParams:
    bounds: str = "lp"  # MILP: "interval" | "lp"
    solver: str = "HIGHS"  # MILP solver
    mip_gap: float = OPTIMAL_GAP  # relative to max(1, |value|), like base.relative_gap
    warm_start: bool = True
    max_regions: int = 2_000_000  # regions: give up (status error) past this many
    nd: str = "bab"  # path for inputs other than 2-D: "bab" | "milp" (bounds, solver, warm_start: MILP only)


@METHODS.register("exact", label="Exact (regions in 2-D, else branch and bound)", params=ExactParams,
                  flags=("exact", "any_dim"),
                  description="linear-region enumeration for 2-input networks, input branch and bound (CROWN) "
                              "otherwise (or the big-M MILP with nd = milp)")
def exact(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: ExactParams,
          time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Dispatch to `regions`, `bab` or `milp`; the result says which in extra["via"]."""
    from nnlab.engine.optimize.bab import BabParams, bab  # here, so that `exact` registers first
    from nnlab.engine.optimize.milp import MilpParams, milp
    from nnlab.engine.optimize.regions import RegionsParams, regions

    p = params or ExactParams()
    if p.nd not in ("bab", "milp"):
        raise NnlabError(f"exact nd {p.nd!r} is not allowed; expected bab or milp")
    lo, hi = check_box(net, lower, upper)
    if net.input_dim == 2 and np.all(hi > lo):
        via = "regions"
        res = yield from regions(net, lo, hi, sense, RegionsParams(max_regions=p.max_regions), time_limit, seed)
    elif p.nd == "bab":
        via = "bab"
        res = yield from bab(net, lo, hi, sense, BabParams(mip_gap=p.mip_gap, warm_start=p.warm_start), time_limit,
                             seed)
    else:
        via = "milp"
        mp = MilpParams(bounds=p.bounds, solver=p.solver, mip_gap=p.mip_gap, warm_start=p.warm_start)
        res = yield from milp(net, lo, hi, sense, mp, time_limit, seed)
    return dataclasses.replace(res, method="exact", extra={**res.extra, "via": via})
