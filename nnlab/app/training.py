"""The training state of the network on screen: whether a run is going, where it is, its curve and its result.

Evented (nnlab.app.events.Evented): the training panel records every event of its job here and draws from it;
anything else on screen that describes the training (status, captions) can listen instead of asking the panel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nnlab.app.events import Evented, Signal


@dataclass(eq=False)
class TrainState(Evented):
    running: bool = False  # a training job exists (paused or not)
    paused: bool = False
    epoch: int = -1  # the last epoch reported (-1: none yet)
    epochs: int = 0  # of the run
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (epoch, train loss, val R² or NaN)
    last: Any = None  # the latest TrainProgress
    result: Any = None  # the TrainResult of the last run that finished
    changed: Signal = field(default_factory=Signal, repr=False)

    def begin(self, epochs: int, paused: bool = False) -> None:
        """A new run: an empty curve."""
        self.set(history=[], epoch=-1, epochs=epochs, last=None, result=None, running=True, paused=paused)

    def record(self, ev: Any) -> bool:
        """One TrainProgress; True when it is a new epoch (a repeated one is the trainer's heartbeat)."""
        self.last = ev
        if ev.epoch == self.epoch:
            return False
        self.history.append((ev.epoch, ev.train_loss, ev.val_r2 if ev.val_r2 is not None else math.nan))
        self.epoch = ev.epoch
        return True

    def finish(self, result: Any) -> None:
        self.set(result=result, running=False, paused=False)

    def clear(self) -> None:
        """No run and no curve (a new scene, or Reset)."""
        self.set(history=[], epoch=-1, epochs=0, last=None, result=None, running=False, paused=False)
