"""What "optimal" means, for every exact method (regions, bab, milp, exact), and how a computed bound is made safe
before it is used as a proof. Imports no method, so every method can use it.
"""
from __future__ import annotations

import numpy as np

from nnlab.engine.model.network import NetSnapshot

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
