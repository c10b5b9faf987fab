"""The whole export as one generator: check the output path, build the plan, render each frame and write it."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Generator

import numpy as np

from nnlab.engine.export.layout import frame_image
from nnlab.engine.export.plan import ExportOptions, PanelRenderer, Plan, build_plan, check_output
from nnlab.engine.export.writers import ExportProgress, write_animation
from nnlab.engine.model.network import NetSnapshot
from nnlab.engine.model.scene import Scene
from nnlab.interrupts import deferred_interrupts


def run_export(scene: Scene, opts: ExportOptions, out: str | os.PathLike,
               make_renderer: Callable[[Plan], PanelRenderer],
               net: NetSnapshot | None = None) -> Generator[ExportProgress, None, Path]:
    """The whole export: check the path, build the plan, render and write; returns the written path.

    `net`: the network to show instead of the scene's own (the app passes the one on screen; see build_plan).

    `make_renderer(plan)` is called once after the plan is built (the UI passes the GL renderer); if the returned
    renderer has `close()`, it is called at the end, also on cancel. The renderer runs with interrupts deferred
    (see export_writers): a signal stops the export between frames, never inside a GL or Qt call.
    """
    path = check_output(out)
    plan = yield from build_plan(scene, opts, net)
    render = None
    try:
        with deferred_interrupts():
            render = make_renderer(plan)

        def frame_at(i: int) -> np.ndarray:
            with deferred_interrupts():
                return frame_image(plan, i, render)
        n = 1 if opts.fmt == "png" else len(plan.frames)
        return (yield from write_animation(path, opts.fmt, frame_at, n, opts.fps, opts.loop))
    finally:
        close = getattr(render, "close", None)
        if close is not None:
            with deferred_interrupts():
                close()
