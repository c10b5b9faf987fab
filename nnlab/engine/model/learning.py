"""Training optimizers and learning-rate schedules (registered): [train] optimizer and schedule name one of these,
and the scene, the Train panel and the CLI list the same names. torch is imported only when an optimizer is made.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from nnlab.engine.registry import Entry, Registry

if TYPE_CHECKING:  # torch is heavy; imported where needed
    import torch

MakeOptimizer = Callable[[Sequence["torch.nn.Parameter"], Any], "torch.optim.Optimizer"]


@dataclass(frozen=True)
class TrainOptimizer(Entry[MakeOptimizer]):
    """obj(params, train_spec) -> a torch optimizer. `full_batch`: one step sees the whole training set and is taken
    with a closure (L-BFGS's line search re-evaluates the loss); else mini-batches of [train] batch_size.
    Flag "momentum": the optimizer reads [train] momentum."""

    full_batch: bool = False


OPTIMIZERS: "Registry[TrainOptimizer]" = Registry("training optimizer", TrainOptimizer)


@OPTIMIZERS.register("adam", label="Adam", description="Adam (Kingma & Ba 2015), torch's defaults but the lr")
def _adam(params: Sequence["torch.nn.Parameter"], tr: Any) -> "torch.optim.Optimizer":
    import torch

    return torch.optim.Adam(params, lr=tr.lr)


@OPTIMIZERS.register("sgd", label="SGD with momentum", flags=("momentum",),
                     description="stochastic gradient descent with heavy-ball momentum")
def _sgd(params: Sequence["torch.nn.Parameter"], tr: Any) -> "torch.optim.Optimizer":
    import torch

    return torch.optim.SGD(params, lr=tr.lr, momentum=tr.momentum)


@OPTIMIZERS.register("lbfgs", label="L-BFGS", full_batch=True,
                     description="full-batch L-BFGS with a strong-Wolfe line search, 20 iterations a step")
def _lbfgs(params: Sequence["torch.nn.Parameter"], tr: Any) -> "torch.optim.Optimizer":
    import torch

    return torch.optim.LBFGS(params, lr=tr.lr, max_iter=20, history_size=20, line_search_fn="strong_wolfe")


Schedule = Callable[[float, float], float]


@dataclass(frozen=True)
class LRSchedule(Entry[Schedule]):
    """obj(lr, frac) -> the learning rate at fraction frac (0..1) of the run's steps."""


SCHEDULES: "Registry[LRSchedule]" = Registry("learning-rate schedule", LRSchedule)


@SCHEDULES.register("constant", label="constant", description="the same lr throughout")
def _constant(lr: float, frac: float) -> float:
    return lr


@SCHEDULES.register("cosine", label="cosine", description="cosine annealing to zero (Loshchilov & Hutter 2017)")
def _cosine(lr: float, frac: float) -> float:
    return lr * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0)))


@SCHEDULES.register("step", label="step", description="x0.1 at 50% and again at 75% of the run")
def _step(lr: float, frac: float) -> float:
    return lr * (0.1 ** ((frac >= 0.5) + (frac >= 0.75)))
