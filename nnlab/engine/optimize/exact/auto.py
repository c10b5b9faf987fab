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

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, check_box
from nnlab.engine.optimize.certify import OPTIMAL_GAP
from nnlab.errors import NnlabError

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
    from nnlab.engine.optimize.exact.bab import BabParams, bab  # here, so that `exact` registers first
    from nnlab.engine.optimize.exact.milp import MilpParams, milp
    from nnlab.engine.optimize.exact.regions import RegionsParams, regions

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
