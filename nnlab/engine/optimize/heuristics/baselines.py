"""Baselines: random uniform sampling, Latin hypercube sampling and a dense grid (exact up to resolution in 2-D).

Also the small pieces every heuristic shares: the incumbent tracker, the heartbeat clock and the sample schemes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator, Iterator

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, BoundProgress, Event, Incumbent, OptResult, PointsVisited, better, finish
from nnlab.engine.model.sampling import MAX_LHS_VALUES, grid_batches, sample_points
from nnlab.errors import LimitError, NnlabError

HEARTBEAT = 0.1  # seconds between yields at most (cancellation happens at yields)
SCHEMES = ("lhs", "uniform")


class Best:
    """The incumbent of a run; values offered are network outputs (forward pass at x)."""

    def __init__(self, net: NetSnapshot, sense: str, t0: float) -> None:
        self.net, self.sense, self.t0 = net, sense, t0
        self.x: np.ndarray | None = None
        self.value: float | None = None

    def offer(self, x: np.ndarray, value: float | None = None) -> Incumbent | None:
        """Keep x if it beats the incumbent; then return the Incumbent event to yield."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        v = float(self.net.forward(x)) if value is None else float(value)
        if not better(v, self.value, self.sense):
            return None
        self.x, self.value = x.copy(), v
        return Incumbent(v, x.copy(), time.perf_counter() - self.t0)

    def offer_batch(self, X: np.ndarray, values: np.ndarray) -> Incumbent | None:
        i = int(np.argmax(values) if self.sense == "max" else np.argmin(values))
        return self.offer(X[i], float(values[i]))

    def within(self, v: float, rho: float) -> bool:
        """Is v within a factor rho of the incumbent (v >= rho * best for a positive maximum, sign-safe)?"""
        if self.value is None:
            return True
        slack = (1.0 - rho) * abs(self.value)
        return v >= self.value - slack if self.sense == "max" else v <= self.value + slack


class Clock:
    """Deadline and heartbeat: `due()` says when a progress event should be yielded to allow cancellation."""

    def __init__(self, time_limit: float) -> None:
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + time_limit
        self._last = self.t0

    def over(self) -> bool:
        return time.perf_counter() >= self.deadline

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def due(self) -> bool:
        now = time.perf_counter()
        if now - self._last >= HEARTBEAT:
            self._last = now
            return True
        return False

    def beat(self, best: Best, stage: str) -> BoundProgress:
        self._last = time.perf_counter()
        return BoundProgress(None, best.value, self._last - self.t0, stage)


def iter_points(scheme: str, n: int, lower: np.ndarray, upper: np.ndarray, seed: int,
                batch: int) -> Iterator[np.ndarray]:
    """n points in the box in batches by a sampling scheme of the engine's registry (nnlab.engine.model.sampling):
    'uniform' (drawn batch by batch, so any n fits in memory) or 'lhs' (drawn at once); deterministic given seed."""
    if scheme not in SCHEMES:
        raise NnlabError(f"sampling scheme {scheme!r} is not allowed; expected one of {', '.join(SCHEMES)}")
    return sample_points(scheme, n, lower, upper, np.random.default_rng(seed), batch)


def check_positive(name: str, value: float) -> None:
    if not value > 0:
        raise NnlabError(f"parameter {name!r} must be > 0, got {value!r}")


def _evaluate(net: NetSnapshot, chunks: Iterator[np.ndarray], best: Best, clock: Clock,
              draw_every: int = 1) -> Generator[Event, None, str]:
    """Evaluate batches of points; yields PointsVisited (every draw_every-th point) and Incumbent; returns the status."""
    seen = 0
    for i, chunk in enumerate(chunks):
        if i and clock.over():
            return "time_limit"
        vals = net.forward(chunk)
        shown = (np.arange(seen, seen + len(chunk)) % draw_every) == 0
        seen += len(chunk)
        if shown.any():
            yield PointsVisited(chunk[shown].copy(), vals[shown].copy())
        inc = best.offer_batch(chunk, vals)
        if inc:
            yield inc
    return "feasible"


def batch_for(net: NetSnapshot) -> int:
    """Points per forward batch, so that one batch takes a few ms."""
    return int(np.clip(20_000_000 // max(1, net.n_params), 256, 65536))


@dataclass(frozen=True)
class RandomParams:
    samples: int = 10000


def _check_samples(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, params: "RandomParams | LhsParams") -> None:
    check_positive("samples", params.samples)
    if isinstance(params, LhsParams) and params.samples * lower.size > MAX_LHS_VALUES:
        raise LimitError(f"{params.samples} Latin hypercube samples in {lower.size} dimensions exceed "
                         f"{MAX_LHS_VALUES} values; use fewer samples or the uniform scheme")


@METHODS.register("random", label="Random sampling", params=RandomParams, check=_check_samples,
                  flags=("heuristic", "any_dim", "any_activation", "baseline"),
                  description="Uniform random points in the box; the best network value found.")
def random_search(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: RandomParams,
                  time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    return (yield from _sample_search("random", "uniform", net, lower, upper, sense, params.samples, time_limit, seed))


def _sample_search(name: str, scheme: str, net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str,
                   samples: int, time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """The best network value over `samples` points drawn by `scheme` (uniform or lhs)."""
    check_positive("samples", samples)
    clock = Clock(time_limit)
    best = Best(net, sense, clock.t0)
    chunks = iter_points(scheme, samples, lower, upper, seed, batch_for(net))
    status = yield from _evaluate(net, chunks, best, clock)
    return finish(net, name, sense, best.x, status, clock.t0, extra={"samples": samples})


@dataclass(frozen=True)
class LhsParams:
    samples: int = 10000


@METHODS.register("lhs", label="Latin hypercube sampling", params=LhsParams, check=_check_samples,
                  flags=("heuristic", "any_dim", "any_activation", "baseline"),
                  description="Latin hypercube points in the box (scipy.stats.qmc); the best network value found.")
def lhs_search(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: LhsParams,
               time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    return (yield from _sample_search("lhs", "lhs", net, lower, upper, sense, params.samples, time_limit, seed))


@dataclass(frozen=True)
class GridParams:
    resolution: int = 501
    max_points: int = 4_000_000


def grid_points(n0: int, params: GridParams) -> int:
    """resolution ** n0 points, or a LimitError (before any work) when that exceeds max_points."""
    check_positive("resolution", params.resolution)
    check_positive("max_points", params.max_points)
    total = float(params.resolution) ** n0
    if total > params.max_points:
        raise LimitError(f"a grid of {params.resolution}^{n0} = {total:.3g} points exceeds max_points "
                         f"{params.max_points}; lower the resolution or use another method")
    return params.resolution ** n0


def _check_grid(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, params: GridParams) -> None:
    grid_points(lower.size, params)


@METHODS.register("grid", label="Dense grid", params=GridParams, check=_check_grid,
                  flags=("heuristic", "any_dim", "any_activation", "baseline"),
                  description="Every point of a regular grid (resolution per axis) in any dimension, while "
                              "resolution^n stays within max_points (checked before it starts); exact up to "
                              "resolution for 2-input nets.")
def grid_search(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: GridParams,
                time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    grid_points(lower.size, params)  # the limit, also when called without check_method
    clock = Clock(time_limit)
    best = Best(net, sense, clock.t0)
    total = params.resolution ** lower.size
    batch = batch_for(net)

    chunks = grid_batches(lower, upper, params.resolution, batch)
    status = yield from _evaluate(net, chunks, best, clock, draw_every=max(1, -(-total // 10_000)))
    return finish(net, "grid", sense, best.x, status, clock.t0, extra={"points": total})
