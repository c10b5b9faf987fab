"""Interval arithmetic, the one copy: bounds of affine maps over boxes, and of every hidden layer's pre-activations
of a piecewise-linear network (the big-M constants, the first step of LP tightening, bab's boxes).

Not moved outward here: its users that certify add their own float margins (milp.tolerance_margin is >= 1e-9 per
unit and term, far above the rounding of these sums, about n eps times their magnitude; certify.float_margin).
"""
from __future__ import annotations

import numpy as np

from nnlab.engine.model import activations
from nnlab.engine.model.network import NetSnapshot
from nnlab.errors import NnlabError


def slope(net: NetSnapshot) -> float:
    """a of y = max(g, a g) for a piecewise-linear network; a smooth activation is refused by name (one line)."""
    act = activations.get(net.activation)
    if not act.piecewise_linear:
        pwl = ", ".join(activations.names(piecewise_linear=True))
        raise NnlabError(f"this needs a piecewise-linear network ({pwl}), this one uses {net.activation}")
    return float(act.slope)


def affine_bounds(G: np.ndarray, g0: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[L, U] of G v + g0 over the box lo <= v <= hi: U = G+ hi + G- lo + g0, L = G+ lo + G- hi + g0."""
    gp, gn = np.maximum(G, 0.0), np.minimum(G, 0.0)
    return gp @ lo + gn @ hi + g0, gp @ hi + gn @ lo + g0


def activate(z: np.ndarray, a: float) -> np.ndarray:
    """max(z, a z) for a in [0, 1): the image of a bound, as the activation is monotone."""
    return np.maximum(z, 0.0) if a == 0.0 else np.where(z > 0, z, a * z)


def interval_bounds(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """[L, U] of every hidden layer's pre-activations g^k: affine_bounds of the box for layer 1, of
    [act(L), act(U)] of the previous layer after (act = max(z, a z), monotone)."""
    a = slope(net)
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    out = []
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        L, U = affine_bounds(w, b, lo, hi)
        out.append((L, U))
        lo, hi = activate(L, a), activate(U, a)
    return out


def stopped_bound(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str) -> float:
    """The honest bound an exact method reports when it stops before its proof, moved outward by float_margin:
    CROWN for a ReLU network (crown.box_bound), else the interval bound of the output (crown.py relaxes ReLU only)."""
    from nnlab.engine.optimize.certify import float_margin, outward

    if net.activation == "relu":
        from nnlab.engine.optimize.formulation.crown import box_bound

        return box_bound(net, lower, upper, sense)
    a = slope(net)
    lo, hi = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    for L, U in interval_bounds(net, lo, hi):
        lo, hi = activate(L, a), activate(U, a)
    yl, yu = affine_bounds(net.weights[-1], net.biases[-1], lo, hi)
    return outward(float(yu[0] if sense == "max" else yl[0]), sense, float_margin(net, lower, upper))


def unit_slopes(net: NetSnapshot, on: np.ndarray) -> np.ndarray:
    """Each unit's slope inside a linear region from its on/off pattern: 1 on, a off. For relu the pattern itself
    (bool, so products stay exactly what they were); region LPs, 2-D regions and their sectors compose with it."""
    a = slope(net)
    return on if a == 0.0 else np.where(on, 1.0, a)
