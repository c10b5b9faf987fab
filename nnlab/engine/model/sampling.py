"""Sampling schemes for points in a box (registered): training data ([train] sampling) and the sampling baselines of
the optimizers draw their points here, so each scheme is written once.

A scheme is obj(n, lower, upper, rng, batch) -> an iterator of (m, d) float64 arrays in the box, at most n points in
all, `batch` rows at a time (None: all at once); the same rng state gives the same points whatever the batch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from nnlab.engine.registry import Entry, Registry
from nnlab.errors import LimitError, NnlabError

MAX_LHS_VALUES = 50_000_000  # Latin hypercube samples are drawn at once: n * d values in memory

SchemeFn = Callable[[int, np.ndarray, np.ndarray, np.random.Generator, "int | None"], Iterator[np.ndarray]]


@dataclass(frozen=True)
class SamplingScheme(Entry[SchemeFn]):
    """A sampling scheme; `exact_count`: it returns exactly n points (grid returns floor(n^(1/d))^d)."""

    exact_count: bool = True


SAMPLING: "Registry[SamplingScheme]" = Registry("sampling scheme", SamplingScheme)


def _rows(n: int, batch: int | None) -> Iterator[tuple[int, int]]:
    step = n if batch is None else max(1, int(batch))
    for i in range(0, n, step):
        yield i, min(i + step, n)


@SAMPLING.register("uniform", label="uniform", description="independent uniform points, drawn batch by batch")
def uniform_points(n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator,
                   batch: int | None = None) -> Iterator[np.ndarray]:
    """Uniform points; a batch at a time, so any n fits in memory (the same draws as one rng.random((n, d)))."""
    for i, j in _rows(n, batch):
        yield lower + rng.random((j - i, lower.size)) * (upper - lower)


@SAMPLING.register("lhs", label="Latin hypercube", description="scipy's scrambled Latin hypercube, drawn at once")
def lhs_points(n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator,
               batch: int | None = None) -> Iterator[np.ndarray]:
    """Latin hypercube points (McKay, Beckman & Conover 1979; scipy.stats.qmc), all drawn before the first batch."""
    d = lower.size
    if n * d > MAX_LHS_VALUES:
        raise LimitError(f"{n} Latin hypercube samples in {d} dimensions exceed {MAX_LHS_VALUES} values; "
                         "use fewer samples or the uniform scheme")
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=d, rng=rng).random(n)
    for i, j in _rows(n, batch):
        yield lower + u[i:j] * (upper - lower)


def grid_batches(lower: np.ndarray, upper: np.ndarray, k: int, batch: int | None = None) -> Iterator[np.ndarray]:
    """The k^d points of a regular grid (k per axis, ends included) in C order of the axes, `batch` at a time."""
    d = lower.size
    axes = [np.linspace(lower[i], upper[i], k) for i in range(d)]
    for i, j in _rows(k ** d, batch):
        idx = np.unravel_index(np.arange(i, j), [k] * d)
        yield np.stack([axes[a][idx[a]] for a in range(d)], axis=1)


@SAMPLING.register("grid", label="grid", exact_count=False,
                   description="a regular grid of floor(n^(1/d)) points per axis")
def grid_sample(n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator,
                batch: int | None = None) -> Iterator[np.ndarray]:
    """floor(n^(1/d))^d grid points (at least 2 per axis, else an NnlabError); draws nothing from rng."""
    d = lower.size
    k = int(math.floor(n ** (1.0 / d) + 1e-9))
    if k < 2:
        raise NnlabError(f"grid sampling needs at least 2^{d} points for {d} inputs; use uniform or lhs")
    return grid_batches(lower, upper, k, batch)


def sample_points(scheme: str, n: int, lower: np.ndarray, upper: np.ndarray, rng: np.random.Generator,
                  batch: int | None = None) -> Iterator[np.ndarray]:
    """Points of a registered scheme in the box [lower, upper] (float64 arrays), `batch` rows at a time."""
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    return SAMPLING.get(scheme).obj(n, lo, hi, rng, batch)
