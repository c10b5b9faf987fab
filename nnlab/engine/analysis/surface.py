"""Grid evaluation of a network or a target over a 2-D domain (batched, float32 output)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.errors import NnlabError


def grid_axes(lower: tuple[float, ...], upper: tuple[float, ...], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The n grid coordinates along x1 and x2 (float64)."""
    return np.linspace(lower[0], upper[0], n), np.linspace(lower[1], upper[1], n)


def grid_points(lower: tuple[float, ...], upper: tuple[float, ...], n: int) -> np.ndarray:
    """(n*n, 2) points, x1 varying along axis 0 of the reshaped grid: Z[i, j] = f(xs[i], ys[j])."""
    xs, ys = grid_axes(lower, upper, n)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    return np.column_stack([X.ravel(), Y.ravel()])


def evaluate_fn(fn: Callable[[np.ndarray], np.ndarray], lower: tuple[float, ...], upper: tuple[float, ...],
                n: int, batch: int = 65536) -> np.ndarray:
    """Z (n, n) float32 with Z[i, j] = fn at (xs[i], ys[j]), evaluated in batches."""
    pts = grid_points(lower, upper, n)
    out = np.empty(len(pts), dtype=np.float64)
    for s in range(0, len(pts), batch):
        out[s:s + batch] = np.asarray(fn(pts[s:s + batch]), dtype=np.float64).reshape(-1)
    return out.reshape(n, n).astype(np.float32)


def evaluate_network(net: NetSnapshot, lower: tuple[float, ...], upper: tuple[float, ...], n: int) -> np.ndarray:
    """The network's surface on an n x n grid (float32); inputs beyond 2-D are not shown."""
    if net.input_dim != 2:
        raise NnlabError(f"a surface needs a 2-input network, this one has {net.input_dim} inputs")
    return evaluate_fn(net.forward, lower, upper, n)

