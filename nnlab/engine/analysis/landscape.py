"""Metrics of a ReLU network's landscape over a box: is it "taut fabric" (extrema at the box's vertices or faces,
few local optima, nearly affine) or a real landscape?

All metrics work in box-normalised coordinates u = (x - lower) / (upper - lower), so they compare across domains.
- `extremum`: the exact max or min from the "exact" optimizer (2-D region enumeration, else branch and bound or
  the MILP) with the location of its point: "vertex" (every coordinate at a bound), "face" (some) or "interior"
  (none), a coordinate counting as at a bound when within LOCATION_TOL of it (normalised). The reported point is
  the best of the method's point, the box vertices and any points the caller already evaluated (a grid, multistart
  ends), so it is never worse than one of them; it is `proven` only when the method's bound passes
  optimize.certify.is_optimal for it. A method stopped by its time limit gives its bound (e.g. regions' CROWN
  bound) and is marked unproven, never exact.
- `local_optima`: distinct local maxima (or minima) met by multistart projected gradient ascent (see its docstring
  for the tolerance).
- `affine_r2`: R² of the least-squares affine fit on uniform samples (1 = the net is affine on the box).
- `sampled_regions`: distinct activation patterns (linear regions) met by the same samples.
- `vertex_extremes`: best and worst value over all 2^n vertices of the box (n <= MAX_VERTEX_DIM).
- `positive_homogeneity_error`: max |f(t x) - t f(x)| / scale; 0 up to rounding for zero-bias ReLU nets.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import Box, better, check_box
from nnlab.engine.optimize.certify import is_optimal
from nnlab.engine.optimize.heuristics.ascent import ascend, value_and_grad

LOCATION_TOL = 1e-6  # a coordinate within this (box-normalised) of a bound is "at the bound"
MAX_VERTEX_DIM = 16  # enumerate box vertices up to 2^16 of them


def _box(net: NetSnapshot, lower: Any, upper: Any) -> tuple[np.ndarray, np.ndarray]:
    """The optimizers' box validation (optimize.base.check_box); the metrics divide by the width, so a flat
    coordinate is refused too."""
    return check_box(net, lower, upper, positive_width="a landscape metric")


def classify_location(x: np.ndarray, lower: Any, upper: Any, tol: float = LOCATION_TOL) -> tuple[str, int]:
    """("vertex" | "face" | "interior", number of coordinates at a bound) of point x in the box."""
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    u = (np.asarray(x, float) - lo) / (hi - lo)
    k = int(np.count_nonzero((u <= tol) | (u >= 1.0 - tol)))
    return ("vertex" if k == len(u) else "interior" if k == 0 else "face"), k


@dataclass(frozen=True)
class Extremum:
    """An exact (or, when unproven, best found) max or min of the network over the box.

    `bound` is the method's bound on the true extremum (max: true max <= bound), None if it gave none; `found_by`
    says which point won: "exact" (the method's), "vertex" (a box vertex) or "candidate" (a caller's point)."""

    sense: str
    value: float | None
    x: list[float] | None
    proven: bool
    bound: float | None
    gap: float | None
    status: str
    location: str  # vertex | face | interior | none
    n_at_bound: int
    seconds: float
    found_by: str = "exact"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def box_vertices(lower: Any, upper: Any) -> np.ndarray:
    """The 2^n vertices (2^n, n) of the box, or an empty (0, n) array above MAX_VERTEX_DIM inputs."""
    box = Box(np.asarray(lower, float).reshape(-1), np.asarray(upper, float).reshape(-1))
    return np.empty((0, box.dim)) if box.dim > MAX_VERTEX_DIM else box.corners()


def extremum(net: NetSnapshot, lower: Any, upper: Any, sense: str = "max", time_limit: float = 60.0,
             method: str = "exact", params: dict | None = None, candidates: Any = None) -> Extremum:
    """Run the exact method and report the best point met, with the method's bound and where the point lies.

    Why the pool: a method stopped by its time limit may hold only a poor incumbent (regions: the best box corner),
    while the caller has already seen better points (the panel's grid). The value reported is the best forward
    pass over the method's point, the box vertices and `candidates` (points (k, n) in the box, e.g. grid or
    multistart points), so it is never worse than any of them; `proven` is is_optimal(value, bound) with the
    method's (safe) bound, the one meaning of "optimal" (optimize.certify).
    """
    import nnlab.engine.optimize as opt
    from nnlab.engine.optimize.base import relative_gap

    lo, hi = _box(net, lower, upper)
    res = opt.run_to_result(opt.run_method(method, net, lo, hi, sense=sense, time_limit=time_limit, params=params))
    pools = [("exact", np.empty((0, lo.size)) if res.x is None else np.asarray(res.x, float).reshape(1, -1)),
             ("vertex", box_vertices(lo, hi))]
    if candidates is not None:
        c = np.asarray(candidates, dtype=np.float64).reshape(-1, lo.size)
        pools.append(("candidate", c[np.all((c >= lo) & (c <= hi) & np.isfinite(c), axis=1)]))
    s = 1.0 if sense == "max" else -1.0
    value, x, found_by = None, None, "exact"
    for name, pts in pools:  # the method's point first: it keeps a tie
        if len(pts) == 0:
            continue
        y = net.forward(pts)
        i = int(np.argmax(s * y))
        if np.isfinite(y[i]) and better(float(y[i]), value, sense):
            value, x, found_by = float(y[i]), pts[i].copy(), name
    if x is not None:  # the value IS the forward pass at the point, as every method reports it (base.finish)
        value = float(net.forward(x[None, :])[0])
    bound = res.bound if res.bound is not None else (res.value if res.status == "optimal" else None)
    proven = is_optimal(value, bound, sense)
    loc, k = ("none", 0) if x is None else classify_location(x, lo, hi)
    return Extremum(sense, value, None if x is None else [float(v) for v in x], proven, bound,
                    relative_gap(value, bound), res.status, loc, k, float(res.seconds), found_by)


@dataclass(frozen=True)
class LocalOptima:
    """Distinct local optima found; `points` in box units, best first; `unverified` clusters failed the probe."""

    sense: str
    count: int
    values: list[float]
    points: list[list[float]]
    unverified: int
    starts: int
    locations: dict[str, int]  # how many of the optima lie at a vertex / on a face / inside the box


def _ascend(net: NetSnapshot, u: np.ndarray, lo: np.ndarray, span: np.ndarray, s: float, steps: int,
            lr: float) -> np.ndarray:
    """Projected Adam ascent of s*f in box-normalised coordinates, learning rate cosine-decayed from lr to 0
    (ascent.ascend in float64, the optimizers' multistart)."""
    return drain(ascend(net, u, lo, lo + span, "max" if s > 0 else "min", steps, lr, schedule="cosine", eps=1e-12,
                        dtype="float64"))


def _climb(net: NetSnapshot, u: np.ndarray, lo: np.ndarray, span: np.ndarray, s: float, r: float, scale: float,
           rng: np.random.Generator, max_iter: int = 80) -> tuple[np.ndarray, float, bool]:
    """Direct search from u (normalised): move to the best of the probes at distance r while one is better by more
    than 1e-9 * scale, else halve r. Probes: 8n random directions, the 2n axes, the gradients of the linear pieces
    met by the random probes (and sums of two: ridges), and +-x (the scaling line of a homogeneous net).
    Returns (point, value, verified): verified when r fell below 1e-6 of its start without a better probe."""
    n = u.size
    f = float(s * net.forward(lo + u * span))
    r_min = r * 1e-6
    for _ in range(max_iter):
        d = rng.standard_normal((8 * n, n))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        p = np.clip(u + r * d, 0.0, 1.0)
        _, g = value_and_grad(net, lo + p * span)
        g = s * g * span
        x = (lo + u * span) / span
        d = np.vstack([d, np.eye(n), -np.eye(n), g, g + np.roll(g, 1, axis=0), x, -x])
        d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-300)
        p = np.clip(u + r * d, 0.0, 1.0)
        vals = s * net.forward(lo + p * span)
        j = int(np.argmax(vals))
        if vals[j] > f + 1e-9 * scale:
            u, f = p[j], float(vals[j])
        else:
            r *= 0.5
            if r < r_min:
                return u, f, True
    return u, f, False


def local_optima(net: NetSnapshot, lower: Any, upper: Any, sense: str = "max", starts: int = 200,
                 steps: int = 300, lr: float = 0.05, tol: float = 0.02, seed: int = 0) -> LocalOptima:
    """Count distinct local maxima (sense "max") or minima met by multistart local search.

    Starts are uniform in the box. Each runs `steps` projected Adam steps in box-normalised coordinates (learning
    rate cosine-decayed from `lr` to 0, clipped to [0, 1]^n). End points closer than tol * sqrt(n) (normalised
    Euclidean, single linkage) form a cluster; the best point of each cluster then climbs by direct search
    (`_climb`, which also finishes climbs that Adam left on a ridge) until no probe point at distance r is better
    while r shrinks from tol * sqrt(n) / 2 to a millionth of that: a local optimum up to that resolution. Climbed
    points closer than tol * sqrt(n) merge. Clusters whose climb did not settle in 80 moves are `unverified`.
    """
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    lo, hi = _box(net, lower, upper)
    span = hi - lo
    n = lo.size
    s = 1.0 if sense == "max" else -1.0
    rng = np.random.default_rng(seed)
    u = _ascend(net, rng.random((starts, n)), lo, span, s, steps, lr)
    vals = s * net.forward(lo + u * span)
    radius = tol * np.sqrt(n)
    scale = max(1e-12, float(np.ptp(vals)), float(np.max(np.abs(vals))))

    def clusters(pts: np.ndarray) -> np.ndarray:
        return fcluster(linkage(pdist(pts), "single"), t=radius, criterion="distance") if len(pts) > 1 else np.ones(1, int)

    labels = clusters(u)
    found: list[tuple[float, np.ndarray]] = []
    unverified = 0
    for lab in np.unique(labels):
        idx = np.flatnonzero(labels == lab)
        p, f, ok = _climb(net, u[idx[np.argmax(vals[idx])]], lo, span, s, 0.5 * radius, scale, rng)
        if ok:
            found.append((f, p))
        else:
            unverified += 1
    if len(found) > 1:  # climbs from different clusters may end at the same optimum
        pts = np.array([p for _, p in found])
        merged = clusters(pts)
        found = [max((found[i] for i in np.flatnonzero(merged == m)), key=lambda q: q[0]) for m in np.unique(merged)]
    found.sort(key=lambda q: -q[0])
    locations = {"vertex": 0, "face": 0, "interior": 0}
    for _, p in found:
        locations[classify_location(p, np.zeros(n), np.ones(n))[0]] += 1
    return LocalOptima(sense, len(found), [s * f for f, _ in found],
                       [[float(c) for c in lo + p * span] for _, p in found], unverified, starts, locations)


def uniform_samples(lower: Any, upper: Any, n_samples: int, seed: int = 0) -> np.ndarray:
    """Seeded uniform points (n_samples, n) in the box."""
    lo, hi = np.asarray(lower, float), np.asarray(upper, float)
    return lo + np.random.default_rng(seed).random((n_samples, lo.size)) * (hi - lo)


def affine_r2(net: NetSnapshot, lower: Any, upper: Any, n_samples: int = 2000, seed: int = 0) -> float:
    """R² of the best affine fit a.x + c to the network on uniform samples (1.0 for a constant network)."""
    lo, hi = _box(net, lower, upper)
    x = uniform_samples(lo, hi, n_samples, seed)
    y = net.forward(x)
    a = np.hstack([(x - lo) / (hi - lo), np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    sst = float(np.sum((y - y.mean()) ** 2))
    if sst <= 1e-300:
        return 1.0
    return float(1.0 - np.sum((y - a @ coef) ** 2) / sst)


def sampled_regions(net: NetSnapshot, lower: Any, upper: Any, n_samples: int = 2000, seed: int = 0) -> int:
    """Number of distinct activation patterns (linear regions) among uniform samples (at most n_samples)."""
    lo, hi = _box(net, lower, upper)
    pats = np.hstack(net.pattern(uniform_samples(lo, hi, n_samples, seed)))
    return int(len(np.unique(np.packbits(pats, axis=1), axis=0)))


def vertex_extremes(net: NetSnapshot, lower: Any, upper: Any) -> tuple[float, float] | None:
    """(max, min) of the network over the 2^n vertices of the box, or None above MAX_VERTEX_DIM inputs."""
    lo, hi = _box(net, lower, upper)
    if lo.size > MAX_VERTEX_DIM:
        return None
    y = net.forward(box_vertices(lo, hi))
    return float(y.max()), float(y.min())


def is_zero_bias(net: NetSnapshot) -> bool:
    """True when every hidden and output bias is exactly zero (then the ReLU net is positively homogeneous)."""
    return all(not np.any(b) for b in net.biases)


def positive_homogeneity_error(net: NetSnapshot, n_samples: int = 256, ts: tuple[float, ...] = (0.25, 0.5, 2.0, 4.0),
                               seed: int = 0) -> float:
    """max |f(t x) - t f(x)| / (max |t f(x)| + 1e-300) over random x in [-1, 1]^n and the factors t.

    Zero biases make a ReLU net positively homogeneous: relu(t z) = t relu(z) for t >= 0, layer by layer, so
    f(t x) = t f(x) and f(0) = 0. Over [0, 1]^n the surface is then a cone from the origin, and a positive maximum
    (negative minimum) lies where some coordinate is at its upper bound: the "taut fabric" of the seed article.
    """
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n_samples, net.input_dim))
    fx = net.forward(x)
    err, scale = 0.0, 0.0
    for t in ts:
        err = max(err, float(np.max(np.abs(net.forward(t * x) - t * fx))))
        scale = max(scale, float(np.max(np.abs(t * fx))))
    return err / (scale + 1e-300)


def landscape_metrics(net: NetSnapshot, lower: Any, upper: Any, n_samples: int = 2000, starts: int = 200,
                      steps: int = 300, seed: int = 0) -> dict[str, Any]:
    """Every cheap (non-exact) metric of one network as a JSON-able dict (the study's "landscape" task)."""
    lo, hi = _box(net, lower, upper)
    lmax = local_optima(net, lo, hi, "max", starts=starts, steps=steps, seed=seed)
    lmin = local_optima(net, lo, hi, "min", starts=starts, steps=steps, seed=seed + 1)
    vx = vertex_extremes(net, lo, hi)
    y = net.forward(uniform_samples(lo, hi, n_samples, seed))
    return {
        "affine_r2": affine_r2(net, lo, hi, n_samples, seed),
        "regions_sampled": sampled_regions(net, lo, hi, n_samples, seed),
        "n_samples": n_samples,
        "local_max": lmax.count, "local_max_unverified": lmax.unverified, "local_max_vertex": lmax.locations["vertex"],
        "local_max_interior": lmax.locations["interior"], "local_max_best": lmax.values[0] if lmax.values else None,
        "local_min": lmin.count, "local_min_unverified": lmin.unverified, "local_min_vertex": lmin.locations["vertex"],
        "local_min_interior": lmin.locations["interior"], "local_min_best": lmin.values[0] if lmin.values else None,
        "vertex_max": None if vx is None else vx[0], "vertex_min": None if vx is None else vx[1],
        "sample_max": float(y.max()), "sample_min": float(y.min()),
        "zero_bias": is_zero_bias(net), "homogeneity_error": positive_homogeneity_error(net, seed=seed),
    }
