"""Projected gradient multistart: many uniform starts as one tensor, Adam or plain gradient steps in box-normalised
coordinates, clipped to the box after every step (ascent.ascend, the one implementation). The cheap baseline the
papers' codes ignore."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generator

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.optimize.base import METHODS, Event, OptResult, PointsVisited, WalkPath, finish
from nnlab.engine.optimize.heuristics.ascent import OPTIMIZERS, ascend
from nnlab.engine.optimize.heuristics.baselines import Best, Clock, check_positive
from nnlab.engine.threads import torch_threads  # noqa: F401  (relu_bab.py imports it from here; use engine.threads)
from nnlab.errors import NnlabError


@dataclass(frozen=True)
class GradientParams:
    starts: int = 256
    steps: int = 300
    lr: float = 0.01
    optimizer: str = "adam"
    rounds: int = 1
    draw_paths: int = 16
    record_every: int = 10
    threads: int = 1


@METHODS.register("gradient", label="Projected gradient multistart", params=GradientParams,
                  flags=("heuristic", "any_dim", "any_activation"),
                  description="Adam (or plain) gradient steps from many uniform starts at once, clipped to the box; "
                              "lr is relative to the box width; rounds = 0 restarts until the time limit.")
def gradient(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: GradientParams,
             time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    for name in ("starts", "steps", "lr", "record_every"):
        check_positive(name, getattr(params, name))
    if params.optimizer not in OPTIMIZERS:
        raise NnlabError(f"optimizer {params.optimizer!r} is not allowed; expected one of {', '.join(OPTIMIZERS)}")
    if min(params.rounds, params.draw_paths, params.threads) < 0:
        raise NnlabError("parameters 'rounds', 'draw_paths' and 'threads' must be >= 0")
    clock = Clock(time_limit)
    best = Best(net, sense, clock.t0)
    rng = np.random.default_rng(seed)
    n_draw = min(params.draw_paths, params.starts)
    status, rnd, total_steps = "feasible", 0, 0
    while params.rounds == 0 or rnd < params.rounds:
        rnd += 1
        u0 = rng.random((params.starts, lower.size))
        X0 = lower + u0 * (upper - lower)
        inc = best.offer_batch(X0, net.forward(X0))  # an incumbent before the first step
        if inc:
            yield inc
        trail = [u0[:n_draw].astype(np.float32)]
        steps = ascend(net, u0, lower, upper, sense, params.steps, params.lr, params.optimizer,
                       threads=params.threads)
        for step, u, y in steps:
            total_steps += 1
            if (step + 1) % params.record_every == 0 or step + 1 == params.steps:
                trail.append(u.detach().numpy()[:n_draw].copy())
            if clock.over():
                status = "time_limit"
                steps.close()
                break
            if clock.due():
                yi = y.detach().numpy()
                i = int(np.argmax(yi) if sense == "max" else np.argmin(yi))
                inc = best.offer(lower + u.detach().numpy()[i].astype(np.float64) * (upper - lower))
                yield inc if inc else clock.beat(best, f"round {rnd}, step {step + 1}/{params.steps}")
        X = np.clip(lower + u.detach().numpy().astype(np.float64) * (upper - lower), lower, upper)
        vals = net.forward(X)
        yield PointsVisited(X.copy(), vals.copy())
        inc = best.offer_batch(X, vals)
        if inc:
            yield inc
        if n_draw:
            traj = np.stack(trail, axis=1).astype(np.float64)  # (n_draw, T, n0)
            for t in traj:
                pts = np.clip(lower + t * (upper - lower), lower, upper)
                yield WalkPath(pts, net.forward(pts))
        if status == "time_limit" or clock.over():
            status = "time_limit"
            break
    return finish(net, "gradient", sense, best.x, status, clock.t0, extra={"rounds": rnd, "steps": total_steps})
