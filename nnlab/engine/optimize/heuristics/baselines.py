"""Baselines: random uniform sampling, Latin hypercube sampling and a dense grid (exact up to resolution in 2-D).

Also the small pieces every heuristic shares: the incumbent tracker, the heartbeat clock and the sample schemes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generator, Iterator

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import (METHODS, BoundProgress, Event, Incumbent, OptResult, PointsVisited, better,
                                       check_cap, finish)
from nnlab.engine.model.sampling import MAX_LHS_VALUES, grid_batches, sample_points
from nnlab.errors import LimitError, NnlabError

HEARTBEAT = 0.1  # seconds between yields at most (cancellation happens at yields)
SCHEMES = ("lhs", "uniform")


@dataclass(frozen=True, eq=False)
class MeteredIncumbent(Incumbent):
    """An Incumbent with the work done when it was found (forward passes, LP solves on the run's Clock): the
    study's anytime curves (best value against work) are read from these events."""

    forward: int | None = None
    lp: int | None = None


class Best:
    """The incumbent of a run; values offered are network outputs (forward pass at x)."""

    def __init__(self, net: NetSnapshot, sense: str, t0: float, clock: "Clock | None" = None) -> None:
        self.net, self.sense, self.t0, self.clock = net, sense, t0, clock
        self.x: np.ndarray | None = None
        self.value: float | None = None

    def offer(self, x: np.ndarray, value: float | None = None) -> Incumbent | None:
        """Keep x if it beats the incumbent; then return the Incumbent event to yield. Without a value, x is
        evaluated here: one forward pass on the clock's meter, refused (None, nothing evaluated) when the
        forward budget is spent."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if value is None:
            if self.clock is not None:
                if not self.clock.room(forward=1):
                    return None
                self.clock.count(forward=1)
            v = float(self.net.forward(x))
        else:
            v = float(value)
        if not better(v, self.value, self.sense):
            return None
        self.x, self.value = x.copy(), v
        c = self.clock
        return MeteredIncumbent(v, x.copy(), time.perf_counter() - self.t0, None if c is None else c.forward,
                                None if c is None else c.lp)

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
    """Deadline, heartbeat and work meter, shared by every heuristic.

    Time: `over()` is the deadline; `due()` says when a progress event should be yielded to allow cancellation.
    Heartbeats only yield events: no method may let them change what it computes (which points, in which order),
    so a run capped by work repeats bit for bit on any machine under any load.

    Work (issue 13: budgets in work, not seconds), counted exactly as it is done:
    - forward: network evaluations, one per point per evaluation (value_and_pattern gives a point's value and
      activation pattern in one); a gradient step over N points counts 2N (a forward and a backward pass per
      point). Evaluations made only to draw (gradient's drawn paths) and the final verification of the result are
      not search work and are not counted.
    - lp: HiGHS solves: region LPs, big-M LP relaxations (one each, however many slices), enhanced sampling's MILPs.
    - gradient_steps: batched gradient steps (each moves every start), for information; not capped.
    `max_forward` / `max_lp` (None: no cap) are checked before the work: `room()` says whether it fits and, when it
    does not, marks the run as stopped by work (`capped`, status "work_limit"), so the counts never exceed a cap.
    """

    def __init__(self, time_limit: float, max_forward: int | None = None, max_lp: int | None = None) -> None:
        self.max_forward = check_cap("max_forward", max_forward)
        self.max_lp = check_cap("max_lp", max_lp)
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + time_limit
        self._last = self.t0
        self.forward = self.lp = self.gradient_steps = 0
        self.capped = False

    @classmethod
    def of(cls, params: object, time_limit: float) -> "Clock":
        """The clock of a run: its time limit and the work caps of its parameters (max_forward, max_lp)."""
        return cls(time_limit, getattr(params, "max_forward", None), getattr(params, "max_lp", None))

    @property
    def deterministic(self) -> bool:
        """Is the run capped by work? Then nothing may depend on timing (HiGHS runs in iteration slices, enhanced
        sampling's MILPs without their per-solve time limit), so the caps, not the seconds, decide the result."""
        return self.max_forward is not None or self.max_lp is not None

    def over(self) -> bool:
        return time.perf_counter() >= self.deadline

    def stopped(self) -> bool:
        """Has the deadline passed or a work cap refused work?"""
        return self.capped or self.over()

    def status(self, timed_out: bool = False) -> str:
        """"work_limit" when a cap stopped the run, else "time_limit" when the deadline did (timed_out or over
        now), else "feasible" (a heuristic proves nothing)."""
        if self.capped:
            return "work_limit"
        return "time_limit" if timed_out or self.over() else "feasible"

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.perf_counter())

    def left_forward(self) -> int | None:
        """Forward passes left under the cap (None: no cap)."""
        return None if self.max_forward is None else self.max_forward - self.forward

    def fits(self, forward: int = 0, lp: int = 0) -> bool:
        """Would this much more work stay within the caps?"""
        return ((self.max_forward is None or self.forward + forward <= self.max_forward)
                and (self.max_lp is None or self.lp + lp <= self.max_lp))

    def room(self, forward: int = 0, lp: int = 0) -> bool:
        """fits(), and when it does not, the run is stopped by work (status "work_limit")."""
        if self.fits(forward, lp):
            return True
        self.capped = True
        return False

    def take(self, n: int) -> int:
        """How many of n points may be evaluated (all of them without a cap); fewer than n marks the run capped."""
        left = self.left_forward()
        if left is None or n <= left:
            return n
        self.capped = True
        return max(0, left)

    def count(self, forward: int = 0, lp: int = 0, gradient_steps: int = 0) -> None:
        self.forward += int(forward)
        self.lp += int(lp)
        self.gradient_steps += int(gradient_steps)

    def work(self) -> dict[str, int]:
        """The OptResult's extra["work"]."""
        return {"forward": self.forward, "lp": self.lp, "gradient_steps": self.gradient_steps}

    def due(self) -> bool:
        now = time.perf_counter()
        if now - self._last >= HEARTBEAT:
            self._last = now
            return True
        return False

    def beat(self, best: Best, stage: str) -> BoundProgress:
        self._last = time.perf_counter()
        return BoundProgress(None, best.value, self._last - self.t0, stage)


def value_and_pattern(net: NetSnapshot, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Outputs (N,) and activation patterns at points x (N, n0) in one pass (one forward pass per point); the
    values are bit-identical to net.forward (the same operations in the same order)."""
    from nnlab.engine.model import activations

    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    gs = net.preactivations(h)
    if gs:
        h = activations.get(net.activation).value(gs[-1])
    return (h @ net.weights[-1].T + net.biases[-1])[:, 0], [g > 0 for g in gs]


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
    """Evaluate batches of points; yields PointsVisited (every draw_every-th point) and Incumbent; returns the status.
    Under a forward cap the last batch is cut to the budget left, so exactly min(cap, points) are evaluated."""
    seen = 0
    for i, chunk in enumerate(chunks):
        if i and clock.over():
            return "time_limit"
        m = clock.take(len(chunk))
        if m == 0:
            break
        chunk = chunk[:m]
        vals = net.forward(chunk)
        clock.count(forward=m)
        shown = (np.arange(seen, seen + len(chunk)) % draw_every) == 0
        seen += len(chunk)
        if shown.any():
            yield PointsVisited(chunk[shown].copy(), vals[shown].copy())
        inc = best.offer_batch(chunk, vals)
        if inc:
            yield inc
        if clock.capped:
            break
    return clock.status()


def batch_for(net: NetSnapshot) -> int:
    """Points per forward batch, so that one batch takes a few ms."""
    return int(np.clip(20_000_000 // max(1, net.n_params), 256, 65536))


@dataclass(frozen=True)
class RandomParams:
    samples: int = 10000
    max_forward: int | None = None  # work caps (None: no cap), see Clock
    max_lp: int | None = None


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
    return (yield from _sample_search("random", "uniform", net, lower, upper, sense, params, time_limit, seed))


def _sample_search(name: str, scheme: str, net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str,
                   params: "RandomParams | LhsParams", time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """The best network value over `samples` points drawn by `scheme` (uniform or lhs)."""
    check_positive("samples", params.samples)
    clock = Clock.of(params, time_limit)
    best = Best(net, sense, clock.t0, clock)
    chunks = iter_points(scheme, params.samples, lower, upper, seed, batch_for(net))
    status = yield from _evaluate(net, chunks, best, clock)
    return finish(net, name, sense, best.x, status, clock.t0, extra={"samples": params.samples, "work": clock.work()})


@dataclass(frozen=True)
class LhsParams:
    samples: int = 10000
    max_forward: int | None = None  # a cap below samples evaluates the design's first max_forward points
    max_lp: int | None = None


@METHODS.register("lhs", label="Latin hypercube sampling", params=LhsParams, check=_check_samples,
                  flags=("heuristic", "any_dim", "any_activation", "baseline"),
                  description="Latin hypercube points in the box (scipy.stats.qmc); the best network value found.")
def lhs_search(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: LhsParams,
               time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    return (yield from _sample_search("lhs", "lhs", net, lower, upper, sense, params, time_limit, seed))


@dataclass(frozen=True)
class GridParams:
    resolution: int = 501
    max_points: int = 4_000_000
    max_forward: int | None = None  # a cap below resolution^n evaluates the grid's first max_forward points
    max_lp: int | None = None


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
    clock = Clock.of(params, time_limit)
    best = Best(net, sense, clock.t0, clock)
    total = params.resolution ** lower.size
    chunks = grid_batches(lower, upper, params.resolution, batch_for(net))
    status = yield from _evaluate(net, chunks, best, clock, draw_every=max(1, -(-total // 10_000)))
    return finish(net, "grid", sense, best.x, status, clock.t0, extra={"points": total, "work": clock.work()})
