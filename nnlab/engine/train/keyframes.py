"""A training animation's keyframes: the surface every few epochs while a scene trains, with its caption.

Shared by the export (which replays them from the training cache or trains to get them) and by the bundling of the
trained presets (which ships them, so a preset's training animation trains nothing: issue 15, 16.9 s -> 1.9 s for
Himmelblau). The spacing depends on the scene only, not on the number of frames asked for, so one stored set serves
every frame count.
"""
from __future__ import annotations

from typing import Generator

import numpy as np

from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.model.scene import Scene
from nnlab.errors import NnlabError

KEYFRAMES = 60  # at most this many trained keyframes (plus the initial surface): 60 x 100² float32 is 2.4 MB


class KeyframeError(NnlabError):
    """Training stopped (e.g. it diverged) before the keyframes were made."""


Keyframe = tuple[np.ndarray, str]  # (surface (res, res) float32, caption)


def keyframe_scene(scene: Scene) -> tuple[Scene, int]:
    """The scene a training animation trains (training on, a surface every `every` epochs) and `every`."""
    every = max(1, scene.train.epochs // KEYFRAMES)
    return scene.replace("train", enabled=True, surface_every=every), every


def caption(epoch: int, epochs: int, train_loss: float | None = None, val_loss: float | None = None) -> str:
    """A keyframe's caption: the epoch, and the losses once training has run."""
    text = f"epoch {epoch}/{epochs}"
    if train_loss is None:
        return text
    loss = f"train loss {train_loss:.4g}" + ("" if val_loss is None else f", val loss {val_loss:.4g}")
    return f"{text}  ·  {loss}"


def train_keyframes(sc: Scene) -> Generator[tuple[int, int], None, tuple[list[Keyframe], NetSnapshot]]:
    """Train `sc` (from keyframe_scene), yielding (epoch, epochs) as it goes; returns the trained keyframes (epoch 0,
    the initial surface, left out) and the final network. Raises KeyframeError when training fails."""
    from nnlab.engine.train.training import TrainError, train

    keys: list[Keyframe] = []
    gen = train(sc, surface_resolution=sc.camera.resolution)
    last = None
    try:
        while True:
            ev = next(gen)
            if isinstance(ev, TrainError):
                raise KeyframeError(f"training failed: {ev.message}" + (f" ({ev.hint})" if ev.hint else ""))
            yield ev.epoch, ev.epochs
            # epoch 0 is the initial surface; a repeated event is the trainer's heartbeat
            if ev.surface is not None and ev.epoch > 0 and ev is not last:
                keys.append((np.asarray(ev.surface, dtype=np.float32),
                             caption(ev.epoch, ev.epochs, ev.train_loss, ev.val_loss)))
            last = ev
    except StopIteration as stop:
        result = stop.value
    finally:
        gen.close()
    return keys, result.snapshot
