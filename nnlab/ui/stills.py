"""Stills for slides: the 3-D view rendered with the whole box in frame, on its own background or a transparent one
with dark ink (light slides) or light ink (dark slides).

pyqtgraph's field of view is horizontal, so a wide image (1920x1080) shows less height than the widget did and cut
off the front of the box; `framing_distance` moves the camera back until the box and its labels fit the image.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import numpy as np
from PySide6 import QtGui

from nnlab.errors import UsageError
from nnlab.ui.render import transparent_image
from nnlab.ui.surface_view import H, SurfaceScene

# style -> (label in the dialog, the view's colour scheme while rendering (None: as on screen), transparent)
STILL_STYLES = {"screen": ("as on screen", None, False),
                "transparent": ("transparent, dark text (light slides)", "white", True),
                "transparent-light": ("transparent, light text and box (dark slides)", "dark", True)}
FRAME_PAD = 0.05  # free border around the box, as a fraction of the image


def box_points(v: SurfaceScene) -> list[tuple[float, float, float]]:
    """What must be in frame: the display cube's corners and every axis label."""
    pts = [(x, y, z) for x in (-1.0, 1.0) for y in (-1.0, 1.0) for z in (0.0, H)]
    pts += [tuple(map(float, pos)) for pos, _text, _kind in v.axes.texts()]
    return pts


def in_frame(v: SurfaceScene, width: int, height: int, distance: float | None = None) -> bool:
    """Whether the box and its labels project inside the image (with FRAME_PAD) at `distance` (default: the
    view's)."""
    keep = v.opts["distance"]
    if distance is not None:
        v.opts["distance"] = distance
    try:
        m = v.projectionMatrix((0, 0, width, height), (0, 0, width, height)) * v.viewMatrix()
        lim = 1.0 - 2.0 * FRAME_PAD
        for p in box_points(v):
            q = m.map(QtGui.QVector3D(*p))
            if abs(q.x()) > lim or abs(q.y()) > lim:
                return False
        return True
    finally:
        v.opts["distance"] = keep


def framing_distance(v: SurfaceScene, width: int, height: int) -> float:
    """The camera distance at which the whole box is in a width x height image: the view's own when it already
    fits, else the nearest that fits (never closer: a still never crops more than the screen did)."""
    d = float(v.opts["distance"])
    for _ in range(80):
        if in_frame(v, width, height, d):
            return d
        d *= 1.04
    return d


@contextmanager
def styled(v: SurfaceScene, style: str, width: int, height: int, fit: bool) -> Iterator[None]:
    """The view dressed for a still (colour scheme, camera distance), put back afterwards."""
    if style not in STILL_STYLES:
        raise UsageError(f"unknown still style {style!r}; allowed: {', '.join(STILL_STYLES)}")
    scheme = STILL_STYLES[style][1]
    keep_bg, cam = v.background(), v.camera()
    try:
        if scheme is not None and scheme != keep_bg:
            v.set_background(scheme)
        if fit:
            v.set_camera(cam[0], cam[1], framing_distance(v, width, height))
        yield
    finally:
        if v.background() != keep_bg:
            v.set_background(keep_bg)
        v.set_camera(*cam)


def render_still(v: SurfaceScene, width: int, height: int, style: str = "screen", fit: bool = True) -> np.ndarray:
    """(height, width, 4) RGBA of the view in `style`; transparent styles have alpha 0 where the background was."""
    with styled(v, style, width, height, fit):
        if not STILL_STYLES[style][2]:
            return v.render_image(width, height)
        v.setBackgroundColor((255, 255, 255, 255))  # transparent_image renders over white, then over black
        return transparent_image(v, width, height)
