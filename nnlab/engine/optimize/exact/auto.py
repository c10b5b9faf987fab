"""`exact`: the exact optimum by the fastest exact path, chosen per problem (`nd` = "auto"):
- 2 inputs: linear-region enumeration (`regions`);
- 3 to INPUT_SPLIT_MAX inputs: input branch and bound with CROWN / alpha-lite bounds (`bab`; its boxes grow with
  the number of inputs, but up to ~10 inputs its anytime bound beat the MILP's and ReLU splitting's,
  bench/nd_exact.py);
- more inputs: branch and bound on the unstable ReLUs with alpha-beta-CROWN bounds (`relu_bab`, bench/nd_exact.py).
`nd` = "bab" | "relu_bab" | "milp" forces the n-D path.

The result's `method` is "exact" (what the caller asked for, e.g. `nnlab optimize --method exact`) and
`extra["via"]` names the path taken ("regions", "bab", "relu_bab" or "milp"), `extra["why"]` the reason.
A 2-input box of zero area takes the n-D path.
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
    nd: str = "auto"  # path for inputs other than 2-D: "auto" | "bab" | "relu_bab" | "milp" (bounds, solver: MILP only)


INPUT_SPLIT_MAX = 12  # auto: input splitting up to this many inputs, ReLU splitting past it (bench/nd_exact.py:
# at 20 s on 10-100-100-1 Xavier, bound 0.75 by input splitting against 1.9 by ReLU splitting; on 20-50-50-1
# PyTorch-default 0.47 by ReLU splitting against 0.69. Re-measured 2026-12-04, relu_bab with the first-layer hull,
# max at 20 s: bab's bound 0.535 / 0.119 / 9.66 on the Xavier / PyTorch-default / Styblinski-Tang 10-100-100-1
# nets against relu_bab's input splitting 0.663 / 0.169 / 11.9 and its hybrid 0.719 / 0.169 / 13.4: bab's
# boxes are ~3x cheaper than relu_bab's nodes)


@METHODS.register("exact", label="Exact (regions in 2-D, else branch and bound)", params=ExactParams,
                  flags=("exact", "any_dim", "piecewise_linear"),
                  description="linear-region enumeration for 2-input networks, input branch and bound (CROWN, alpha-lite) up to "
                              f"{INPUT_SPLIT_MAX} inputs, ReLU branch and bound (alpha-beta-CROWN) past it (the MILP "
                              "for leaky ReLU nets: the CROWN bounds are ReLU-only); nd forces bab, relu_bab or milp")
def exact(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: ExactParams,
          time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Dispatch to `regions`, `bab`, `relu_bab` or `milp`; the result says which in extra["via"] and why."""
    from nnlab.engine.optimize.exact.bab import BabParams, bab  # here, so that `exact` registers first
    from nnlab.engine.optimize.exact.milp import MilpParams, milp
    from nnlab.engine.optimize.exact.regions import RegionsParams, regions
    from nnlab.engine.optimize.exact.relu_bab import ReluBabParams, relu_bab

    p = params or ExactParams()
    if p.nd not in ("auto", "bab", "relu_bab", "milp"):
        raise NnlabError(f"exact nd {p.nd!r} is not allowed; expected auto, bab, relu_bab or milp")
    lo, hi = check_box(net, lower, upper)
    nd = p.nd
    why = f"nd = {nd}"
    if nd == "auto" and net.activation != "relu":  # bab and relu_bab bound with ReLU-only CROWN relaxations
        nd, why = "milp", f"{net.activation} network: the big-M MILP (the CROWN bounds are ReLU-only)"
    elif nd == "auto":
        nd = "bab" if net.input_dim <= INPUT_SPLIT_MAX else "relu_bab"
        why = (f"{net.input_dim} inputs <= {INPUT_SPLIT_MAX}: input splitting" if nd == "bab" else
               f"{net.input_dim} inputs > {INPUT_SPLIT_MAX}: ReLU splitting")
    elif net.activation != "relu" and nd in ("bab", "relu_bab"):
        raise NnlabError(f"exact nd = {nd!r} needs a ReLU network, this one uses {net.activation}; use nd = milp")
    if net.input_dim == 2 and np.all(hi > lo):
        via, why = "regions", "2 inputs: linear regions"
        res = yield from regions(net, lo, hi, sense, RegionsParams(max_regions=p.max_regions), time_limit, seed)
    elif nd == "relu_bab":
        via = "relu_bab"
        res = yield from relu_bab(net, lo, hi, sense, ReluBabParams(mip_gap=p.mip_gap, warm_start=p.warm_start),
                                  time_limit, seed)
    elif nd == "bab":
        via = "bab"
        res = yield from bab(net, lo, hi, sense, BabParams(mip_gap=p.mip_gap, warm_start=p.warm_start), time_limit,
                             seed)
    else:
        via = "milp"
        mp = MilpParams(bounds=p.bounds, solver=p.solver, mip_gap=p.mip_gap, warm_start=p.warm_start)
        res = yield from milp(net, lo, hi, sense, mp, time_limit, seed)
    return dataclasses.replace(res, method="exact", extra={**res.extra, "via": via, "why": why})
