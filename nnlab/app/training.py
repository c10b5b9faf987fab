"""The training state of the network on screen: whether a run is going, where it is, its curve and its result;
and the training cache as the app uses it (a trained scene is trained once).

Evented (nnlab.app.events.Evented): the training panel records every event of its job here and draws from it;
anything else on screen that describes the training (status, captions) can listen instead of asking the panel.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Generator, Sequence

from nnlab.app.events import Evented, Signal
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.model.scene import Scene


@dataclass(eq=False)
class TrainState(Evented):
    running: bool = False  # a training job exists (paused or not)
    paused: bool = False
    epoch: int = -1  # the last epoch reported (-1: none yet)
    epochs: int = 0  # of the run
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (epoch, train loss, val R² or NaN)
    last: Any = None  # the latest TrainProgress
    result: Any = None  # the TrainResult of the last run that finished
    failed: str = ""  # why the last run failed ("" when it did not)
    frame: int = 0  # screen refreshes of the run: what draws from the training redraws on this change, in the same
    # event-loop pass as the surface and the curves, so the window is composed once per refresh (nnlab.ui.train_panel)
    live_diagram: Any = None  # the LiveDiagram of the latest live weights (computed by the worker, not the GUI)
    changed: Signal = field(default_factory=Signal, repr=False)

    def begin(self, epochs: int, paused: bool = False, resume: bool = False) -> None:
        """A new run: an empty curve; `resume` keeps the curve and the epoch counter of the stopped run."""
        if resume:
            self.set(epochs=epochs, last=None, result=None, failed="", running=True, paused=paused,
                     live_diagram=None)
        else:
            self.set(history=[], epoch=-1, epochs=epochs, last=None, result=None, failed="", running=True,
                     paused=paused, live_diagram=None)

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

    def fail(self, message: str) -> None:
        """The run ended without a result (diverged before a good epoch, a worker error)."""
        self.set(failed=message, running=False, paused=False)

    def clear(self) -> None:
        """No run and no curve (a new scene, a new sample, or Reset)."""
        self.set(history=[], epoch=-1, epochs=0, last=None, result=None, failed="", running=False, paused=False,
                 live_diagram=None)

    @property
    def resumable(self) -> bool:
        """The last run was stopped before its last epoch: Resume can go on from there."""
        r = self.result
        return (not self.running and r is not None and r.status == "cancelled" and 0 <= self.epoch < self.epochs)


@dataclass(frozen=True, eq=False)
class LiveDiagram:
    """A training event with the network diagram of its weights, computed where the training runs (the worker
    process), so the GUI thread only draws it: `diagram` is nnlab.engine.analysis.diagram.build_diagram(network,
    max_shown) with no unit kept, `shares` its activation pattern shares on domain_sample(lower, upper)."""

    progress: Any  # the TrainProgress
    diagram: Any
    shares: list
    max_shown: int
    lower: tuple[float, ...]
    upper: tuple[float, ...]

    @property
    def network(self) -> Any:
        return self.progress.network


def _with_diagrams(factory: Callable[[], Generator[Any, Any, Any]], lower: tuple[float, ...],
                   upper: tuple[float, ...], max_shown: int) -> Generator[Any, Any, Any]:
    """`factory()`'s events, each one that carries live weights wrapped in a LiveDiagram; values sent and the
    return value pass through (train's "stop, but return what you have")."""
    from nnlab.engine.analysis.diagram import activation_shares, build_diagram, domain_sample

    gen = factory()
    points = None
    try:
        ev = next(gen)
        while True:
            net = getattr(ev, "network", None)
            if net is not None and getattr(net, "input_dim", 0) == len(lower):
                if points is None:
                    points = domain_sample(lower, upper)
                ev = LiveDiagram(ev, build_diagram(net, max_shown), activation_shares(net, points), max_shown,
                                 lower, upper)
            sent = yield ev
            ev = gen.send(sent) if sent is not None else next(gen)
    except StopIteration as done:
        return done.value
    finally:
        gen.close()


def with_diagrams(factory: Callable[[], Generator[Any, Any, Any]], lower: Sequence[float], upper: Sequence[float],
                  max_shown: int) -> partial:
    """A picklable job factory: `factory`'s job (a training job) whose live weights come with their diagram."""
    return partial(_with_diagrams, factory, tuple(map(float, lower)), tuple(map(float, upper)), int(max_shown))


# ---- the training cache (nnlab.engine.train.cache) as the app uses it ---------------------------------------------
def _as_trained(scene: Scene) -> Scene:
    """The scene as one that says to train: the cache key of what the user trains from the Train button too."""
    return scene if scene.train.enabled else scene.replace("train", enabled=True)


def cached_network(scene: Scene) -> tuple[NetSnapshot, str] | None:
    """The trained network of `scene` without training, and where it came from ("bundled": shipped with nnlab,
    "cache": trained here before), or None."""
    from nnlab.engine.train import cache

    if scene.target.name == "none":
        return None
    s = _as_trained(scene)
    for folder, source in ((cache.bundled_dir(), "bundled"), (cache.user_cache_dir(), "cache")):
        snap = cache.lookup(s, [folder])
        if snap is not None:
            return snap, source
    return None


def remember(scene: Scene, snap: NetSnapshot) -> bool:
    """Cache a finished run trained from the scene's initial network (True when written; a failure only costs
    time next load)."""
    from nnlab.engine.train import cache

    if scene.target.name == "none":
        return False
    return cache.store(_as_trained(scene), snap) is not None
