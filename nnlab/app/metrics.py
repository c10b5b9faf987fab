"""The Info panel's landscape metrics of one network, as a job for the app's worker (no Qt, no maths of its own).

Every number comes from the engine (nnlab.engine.analysis.landscape, nnlab.engine.optimize.exact.regions). The job yields the
metrics known so far after each stage (cheap ones first: the multistart local search before the exact extrema, so
its points join the pool the reported maximum is the best of), so the panel fills in as they arrive and a cancelled
job stops at the next stage. `verdict` turns the numbers into one plain-language line.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Generator

from nnlab.engine.analysis.landscape import Extremum, LocalOptima
from nnlab.engine.model.network import NetSnapshot
from nnlab.errors import NnlabError

STARTS = 64  # multistart local search: starts and projected Adam steps (about 0.3 s on a 2-100-100-1 net)
STEPS = 200
EXACT_SECONDS = 10.0  # time limit of each exact extremum (n-D nets: an unproven result says so)
NEAR_AFFINE_R2 = 0.9


@dataclass(frozen=True)
class NetMetrics:
    """What is known so far about one network over its box (None: not computed, or does not apply)."""

    dim: int
    activation: str
    stage: str = ""  # what is being computed now; "" when done
    r2: float | None = None
    zero_bias: bool | None = None
    homogeneity_error: float | None = None
    maximum: Extremum | None = None  # exact (proven) or, past the time limit, the best point met and the bound
    minimum: Extremum | None = None
    regions: int | None = None  # exact count of linear regions (2-D ReLU nets)
    exact_note: str = ""  # why the exact metrics are missing
    local_max: LocalOptima | None = None
    best_local_location: str = ""  # where the best local maximum lies (vertex | face | interior)
    done: bool = False

    @property
    def max_location(self) -> str:
        """Where the maximum lies: the exact one if proven, else the best local maximum found ("" if unknown)."""
        if self.maximum is not None and self.maximum.proven:
            return self.maximum.location
        return self.best_local_location


def landscape_job(net: NetSnapshot, lower: Any, upper: Any, starts: int = STARTS, steps: int = STEPS,
                  exact_seconds: float = EXACT_SECONDS, seed: int = 0, candidates: Any = None
                  ) -> Generator[NetMetrics, None, NetMetrics]:
    """Metrics of `net` over the box [lower, upper], stage by stage.

    `candidates`: points (k, n) the caller has already evaluated (the panel's grid extremes); the reported extrema
    are never worse than any of them (landscape.extremum)."""
    import numpy as np

    from nnlab.engine.analysis import landscape as L

    lo = [float(v) for v in lower][: net.input_dim]
    hi = [float(v) for v in upper][: net.input_dim]
    seen = np.empty((0, net.input_dim)) if candidates is None else \
        np.asarray(candidates, dtype=np.float64).reshape(-1, net.input_dim)
    m = NetMetrics(net.input_dim, net.activation, stage="affine fit and homogeneity")
    yield m
    m = replace(m, r2=L.affine_r2(net, lo, hi, seed=seed), zero_bias=L.is_zero_bias(net),
                homogeneity_error=L.positive_homogeneity_error(net, seed=seed))
    m = replace(m, stage=f"local maxima ({starts} starts)")
    yield m
    lm = L.local_optima(net, lo, hi, "max", starts=starts, steps=steps, seed=seed)
    where = L.classify_location(lm.points[0], lo, hi)[0] if lm.points else ""
    m = replace(m, local_max=lm, best_local_location=where)
    if net.activation == "relu":
        method = "regions" if net.input_dim == 2 else "exact"
        for sense in ("max", "min"):
            m = replace(m, stage=f"exact {'maximum' if sense == 'max' else 'minimum'}")
            yield m
            pool = np.vstack([seen, np.asarray(lm.points, float).reshape(-1, net.input_dim)]) if sense == "max" \
                else seen
            try:
                e = L.extremum(net, lo, hi, sense, time_limit=exact_seconds, method=method, candidates=pool)
            except NnlabError as err:
                m = replace(m, exact_note=str(err))
                break
            m = replace(m, **{"maximum" if sense == "max" else "minimum": e})
        if net.input_dim == 2 and not m.exact_note:
            from nnlab.engine.optimize.exact.regions import RegionLimitError, region_count

            m = replace(m, stage="linear regions")
            yield m
            try:
                m = replace(m, regions=region_count(net, np.array(lo), np.array(hi)))
            except RegionLimitError as err:
                m = replace(m, exact_note=str(err))
    else:
        m = replace(m, exact_note=f"exact extrema and the region count need a ReLU network (this one: "
                                  f"{net.activation})")
    m = replace(m, stage="", done=True)
    yield m
    return m


WHERE = {"vertex": "at a box corner", "face": "on the box boundary", "interior": "interior", "none": "not found"}


def verdict(m: NetMetrics) -> str:
    """One plain-language line: "taut fabric" (extrema on the boundary, no interior local maxima) or rugged."""
    lm = m.local_max
    if lm is None:
        return ""
    where = m.max_location
    interior = lm.locations.get("interior", 0)
    r2 = "" if m.r2 is None else f" (R² {m.r2:.2f})"
    if where in ("vertex", "face") and interior == 0:
        shape = ("nearly affine" if m.r2 is not None and m.r2 >= NEAR_AFFINE_R2 else
                 "a cone from the origin" if m.zero_bias and m.activation == "relu" else "bent but boundary-bound")
        return f"taut fabric: {shape}{r2}, maximum {WHERE[where]}, no interior local maxima"
    count = lm.count
    if count <= 1:
        return f"one peak: a single local maximum, maximum {WHERE.get(where, where or 'unknown')}{r2}"
    inner = f" ({interior} interior)" if interior else ""
    return f"rugged: {count} local maxima{inner}, maximum {WHERE.get(where, where or 'unknown')}{r2}"
