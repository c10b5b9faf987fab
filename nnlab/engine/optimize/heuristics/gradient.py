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
    max_forward: int | None = None  # work caps (None: no cap), see Clock; a step over N starts costs 2N forward
    max_lp: int | None = None


@METHODS.register("gradient", label="Projected gradient multistart", params=GradientParams,
                  flags=("heuristic", "any_dim", "any_activation"),
                  description="Adam (or plain) gradient steps from many uniform starts at once, clipped to the box; "
                              "lr is relative to the box width; rounds = 0 restarts until the time limit (or a work "
                              "cap).")
def gradient(net: NetSnapshot, lower: np.ndarray, upper: np.ndarray, sense: str, params: GradientParams,
             time_limit: float, seed: int) -> Generator[Event, None, OptResult]:
    """Rounds of `starts` starts, `steps` steps each. Work per round of N starts: N forward passes at the starts,
    2N per step (forward and backward), one per recorded incumbent (every record_every steps), N at the end. Under
    a forward cap a step is taken only if it and the round's final evaluation fit, and the last round that cannot
    afford one step for all starts runs with fewer (as many as fit; below 4 forward passes left, the starts only,
    without a step), so the count never passes the cap. Nothing depends on timing: heartbeats only yield
    progress events, and the incumbents taken during a round come every record_every steps."""
    for name in ("starts", "steps", "lr", "record_every"):
        check_positive(name, getattr(params, name))
    if params.optimizer not in OPTIMIZERS:
        raise NnlabError(f"optimizer {params.optimizer!r} is not allowed; expected one of {', '.join(OPTIMIZERS)}")
    if min(params.rounds, params.draw_paths, params.threads) < 0:
        raise NnlabError("parameters 'rounds', 'draw_paths' and 'threads' must be >= 0")
    clock = Clock.of(params, time_limit)
    best = Best(net, sense, clock.t0, clock)
    rng = np.random.default_rng(seed)
    timed_out, rnd, total_steps = False, 0, 0
    while params.rounds == 0 or rnd < params.rounds:
        u0 = rng.random((params.starts, lower.size))
        left = clock.left_forward()  # a round of n starts with one step costs 4n: starts, the step, the end
        n = params.starts if left is None else min(params.starts, left // 4 if left >= 4 else left)
        if n < 1:
            clock.room(forward=1)  # nothing fits: stopped by the cap
            break
        rnd += 1
        u0 = u0[:n]
        n_draw = min(params.draw_paths, n)
        X0 = lower + u0 * (upper - lower)
        vals0 = net.forward(X0)
        clock.count(forward=n)
        inc = best.offer_batch(X0, vals0)  # an incumbent before the first step
        if inc:
            yield inc
        trail = [u0[:n_draw].astype(np.float32)]
        steps = ascend(net, u0, lower, upper, sense, params.steps, params.lr, params.optimizer,
                       threads=params.threads)
        u = None
        for step in range(params.steps):
            record = (step + 1) % params.record_every == 0
            if not clock.room(forward=2 * n + int(record) + n):  # this step, its incumbent, the round's end
                break
            _, u, y = next(steps)
            clock.count(forward=2 * n, gradient_steps=1)  # forward and backward pass over the n iterates
            total_steps += 1
            if record or step + 1 == params.steps:
                trail.append(u.detach().numpy()[:n_draw].copy())
            if record:  # a deterministic incumbent: the iterate of the best output of this step
                yi = y.detach().numpy()
                i = int(np.argmax(yi) if sense == "max" else np.argmin(yi))
                inc = best.offer(lower + u.detach().numpy()[i].astype(np.float64) * (upper - lower))
                if inc:
                    yield inc
            if clock.over():
                timed_out = True
                break
            if clock.due():  # progress only: changes nothing that is computed
                yield clock.beat(best, f"round {rnd}, step {step + 1}/{params.steps}")
        steps.close()
        if u is None:  # no step fitted the cap: the starts were the round
            X, vals = X0, vals0
        else:
            X = np.clip(lower + u.detach().numpy().astype(np.float64) * (upper - lower), lower, upper)
            vals = net.forward(X)
            clock.count(forward=n)
        yield PointsVisited(X.copy(), vals.copy())
        inc = best.offer_batch(X, vals)
        if inc:
            yield inc
        if n_draw:  # drawing only: these evaluations are not search work and are not counted
            traj = np.stack(trail, axis=1).astype(np.float64)  # (n_draw, T, n0)
            for t in traj:
                pts = np.clip(lower + t * (upper - lower), lower, upper)
                yield WalkPath(pts, net.forward(pts))
        if timed_out or clock.stopped():
            break
    return finish(net, "gradient", sense, best.x, clock.status(timed_out), clock.t0,
                  extra={"rounds": rnd, "steps": total_steps, "work": clock.work()})
