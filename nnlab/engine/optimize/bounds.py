"""Bounds on the pre-activations of a ReLU network over a box: interval arithmetic (LP tightening elsewhere)."""
from __future__ import annotations

import numpy as np

from nnlab.engine.network import NetSnapshot


def interval_bounds(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[L, U] of every hidden layer's pre-activations g^k by interval arithmetic.

    U = W+ u' + W- l' + b, L = W+ l' + W- u' + b, with [l', u'] the box for layer 1 and
    [max(0, L), max(0, U)] of the previous layer after.
    """
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    out = []
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        wp, wn = np.maximum(w, 0.0), np.minimum(w, 0.0)
        L = wp @ lo + wn @ hi + b
        U = wp @ hi + wn @ lo + b
        out.append((L, U))
        lo, hi = np.maximum(L, 0.0), np.maximum(U, 0.0)
    return out
