"""What the views show besides the scene: overlays, the unit on screen, optimizer marks, mode, theme, text size.

An evented model (napari's habit): assigning a field emits `changed(name, value)` when the value differs, and the Qt
views and menus listen; panels and menus write it instead of reaching into the window. Arrays (optimizer marks) are
compared by identity.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlab.app.events import Evented, Signal

MODES = ("3d", "2d", "compare")
THEMES = ("dark", "light")
OVERLAY_MODES = ("wireframe", "translucent")
REGION_MODES = ("filled", "boundaries")  # the region overlay: coloured facets, or the boundary lines on the surface


@dataclass(frozen=True, eq=False)
class MethodTrace:
    """What one optimizer method showed so far, in the output's coordinates (x, y, value): the points it
    evaluated (k, 3), its walks (each (k, 3); every restart kept), and its best point (3,). The views give each
    method its own colour (by its place in ViewState.traces) and a legend entry."""

    method: str
    label: str
    points: np.ndarray | None = None
    paths: tuple[np.ndarray, ...] = ()
    best: np.ndarray | None = None


@dataclass(eq=False)
class ViewState(Evented):
    mode: str = "3d"
    unit: tuple[int, int] | None = None  # (layer, unit) of a hidden unit on screen; None = the network output
    show_target: bool = False
    overlay_mode: str = "wireframe"  # how the target is drawn
    show_samples: bool = False
    show_regions: bool = False
    axes: bool = True
    auto_rotate: bool = False
    theme: str = "dark"
    point_size: float = 10.0  # base font size (lecture: Ctrl +/-)
    presenter: bool = False  # presenter profile: some docks hidden
    lecture: bool = False  # Lecture view: no docks, the surface and its labels large, a caption
    presenter_hidden: frozenset[str] = frozenset({"Network", "Initialization", "Neurons", "Info"})
    # the optimizer's results on screen, in the output's coordinates (x, y, value)
    marker: np.ndarray | None = None
    points: np.ndarray | None = None
    paths: list[np.ndarray] | None = None
    traces: tuple[MethodTrace, ...] = ()  # per-method marks of the Optimize panel (one colour per method)
    region_mode: str = "filled"
    changed: Signal = field(default_factory=Signal, repr=False)

    def check(self, name: str, value: Any) -> None:
        allowed = {"mode": MODES, "theme": THEMES, "overlay_mode": OVERLAY_MODES, "region_mode": REGION_MODES}.get(name)
        if allowed is not None and value not in allowed:
            raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")

    def clear_marks(self) -> None:
        """No optimizer marks on screen."""
        self.set(marker=None, points=None, paths=None, traces=())

