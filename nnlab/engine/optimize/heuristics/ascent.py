"""Projected multistart gradient ascent, the one implementation: the `gradient` heuristic (Adam or plain steps, float32)
and landscape.local_optima (Adam with a cosine-decayed rate, float64) both run it.

Many starts move together as one (N, n0) tensor in box-normalised coordinates u = (x - lower) / (upper - lower),
clipped to [0, 1] after every step. Torch, not numpy: measured per step with 256 starts on a loaded 2-core machine
(bench/formulation.py), numpy float64 (value_and_grad and an Adam update) took 0.4 / 19 / 114 ms on 2-16-16-1 /
10-200-200-1 / 10-500-500-1 nets against 2.9 / 11 / 19 ms in torch float32 (1.7 / 12 / 36 ms in float64): torch is
2-6x faster where the time goes, and costs a few ms a step on tiny nets. With the same torch ops as before, the
`gradient` method's answers did not change at all.
"""
from __future__ import annotations

import math
from typing import Any, Generator

import numpy as np

from nnlab.engine.model.network import NetSnapshot, to_torch
from nnlab.engine.threads import torch_threads

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")


def value_and_grad(net: NetSnapshot, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs (N,) and input gradients (N, n0) at points x (N, n0), float64, one batched backward pass through the
    activation's own derivative (any activation; for relu the gradient of the point's linear region)."""
    from nnlab.engine.model import activations

    h = np.atleast_2d(np.asarray(x, dtype=np.float64))
    act = activations.get(net.activation)
    slopes = []
    for w, b in zip(net.weights[:-1], net.biases[:-1]):
        h, m = act.value_and_slope(h @ w.T + b)
        slopes.append(m)
    y = (h @ net.weights[-1].T + net.biases[-1])[:, 0]
    d = np.repeat(net.weights[-1], len(y), axis=0)
    for w, m in zip(reversed(net.weights[:-1]), reversed(slopes)):
        d = (d * m) @ w
    return y, d


class _Steps:
    """Adam (or plain gradient) steps on one tensor, torch.optim's single-tensor algorithm written out op for op
    (the same iterates): torch.optim's first step imports torch._dynamo, 1.6 s on a quiet machine and 3-8 s on a
    loaded one, longer than a whole multistart run (and than many exact searches, which run it for incumbents)."""

    def __init__(self, u: Any, lr: float, eps: float, adam: bool, b1: float = 0.9, b2: float = 0.999) -> None:
        self.u, self.lr, self.eps, self.adam, self.b1, self.b2, self.n = u, lr, eps, adam, b1, b2, 0
        self.m = self.v = None

    def step(self) -> None:
        import torch

        with torch.no_grad():
            g = self.u.grad
            if not self.adam:
                self.u.add_(g, alpha=-self.lr)
                return
            if self.m is None:
                self.m, self.v = torch.zeros_like(self.u), torch.zeros_like(self.u)
            self.n += 1
            self.m.lerp_(g, 1 - self.b1)
            self.v.mul_(self.b2).addcmul_(g, g, value=1 - self.b2)
            c1, c2 = 1 - self.b1 ** self.n, 1 - self.b2 ** self.n
            denom = (self.v.sqrt() / (c2 ** 0.5)).add_(self.eps)
            self.u.addcdiv_(self.m, denom, value=-(self.lr / c1))


def ascend(net: NetSnapshot, u0: np.ndarray, lower: np.ndarray, upper: np.ndarray, sense: str, steps: int,
           lr: float, optimizer: str = "adam", schedule: str = "constant", eps: float = 1e-8,
           dtype: str = "float32", threads: int = 1) -> Generator[tuple[int, Any, Any], None, np.ndarray]:
    """Ascend sense ("max": f, "min": -f) from the starts u0 (N, n0) in box units for `steps` steps.

    Yields (step, u, y) after every step: torch tensors of the iterates (after the step) and of the outputs at the
    points the step's gradient was taken. Returns the last iterates as float64 (N, n0). `schedule` "cosine" decays
    the rate from lr at the first step towards 0 at the last; `threads` is torch's thread count during each step.
    """
    import torch

    tdtype = getattr(torch, dtype)
    model = to_torch(net, tdtype)
    for p in model.parameters():
        p.requires_grad_(False)
    lo_t = torch.tensor(lower, dtype=tdtype)
    width_t = torch.tensor(np.asarray(upper) - np.asarray(lower), dtype=tdtype)
    sign = -1.0 if sense == "max" else 1.0  # torch minimises
    u = torch.tensor(u0, dtype=tdtype, requires_grad=True)
    opt = _Steps(u, lr, eps, optimizer == "adam")
    for step in range(steps):
        with torch_threads(threads):
            if schedule == "cosine":
                opt.lr = lr * 0.5 * (1.0 + math.cos(math.pi * step / steps))
            u.grad = None
            y = model(lo_t + u * width_t)[:, 0]
            (sign * y.sum()).backward()
            opt.step()
            with torch.no_grad():
                u.clamp_(0.0, 1.0)
        yield step, u, y
    return u.detach().numpy().astype(np.float64)
