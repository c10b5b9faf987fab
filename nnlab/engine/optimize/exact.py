"""`exact`: the exact optimum by the fastest exact path, linear regions for 2-input networks, the MILP otherwise.

The result's `method` is "exact" (what the caller asked for, e.g. `nnlab optimize --method exact`) and
`extra["via"]` names the path taken ("regions" or "milp"). A 2-input box of zero area goes to the MILP.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.engine.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, check_box


@dataclass(frozen=True)
class ExactParams:
    bounds: str = "lp"  # MILP: "interval" | "lp"
    solver: str = "HIGHS"  # MILP solver
    mip_gap: float = 1e-4
    warm_start: bool = True
    max_regions: int = 2_000_000  # regions: give up (status error) past this many


@METHODS.register("exact", label="Exact (regions in 2-D, else MILP)", params=ExactParams,
                  flags=("exact", "any_dim"),
                  description="linear-region enumeration for 2-input networks, the big-M MILP otherwise")
def exact(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: ExactParams,
          time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Dispatch to `regions` or `milp`; the result says which in extra["via"]."""
    from nnlab.engine.optimize.milp import MilpParams, milp  # here, so that `exact` registers first
    from nnlab.engine.optimize.regions import RegionsParams, regions

    p = params or ExactParams()
    lo, hi = check_box(net, lower, upper)
    if net.input_dim == 2 and np.all(hi > lo):
        via = "regions"
        res = yield from regions(net, lo, hi, sense, RegionsParams(max_regions=p.max_regions), time_limit, seed)
    else:
        via = "milp"
        mp = MilpParams(bounds=p.bounds, solver=p.solver, mip_gap=p.mip_gap, warm_start=p.warm_start)
        res = yield from milp(net, lo, hi, sense, mp, time_limit, seed)
    return dataclasses.replace(res, method="exact", extra={**res.extra, "via": via})
