"""Offscreen rendering of export frames with the app's own GL view (SurfaceView.render_image, the one offscreen
render path, shared with screenshots), one hidden view per panel.

`GLPanelRenderer(plan)` is the `make_renderer` that nnlab.engine.export.run.run_export expects: it turns one panel of
one frame into (h, w, 4) RGBA pixels. Must run on the GUI thread (the GL context lives there).
"""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.engine.export.plan import Frame, Panel, Plan
from nnlab.ui.cube import PATH_COLOR, POINT_COLOR, POINT_SIZE, overlay_lift
from nnlab.ui.surface_view import BACKGROUNDS as VIEW_BACKGROUNDS, SurfaceView


class GLPanelRenderer:
    """Hidden SurfaceViews that render plan panels; surfaces and overlays are re-uploaded only when they change."""

    def __init__(self, plan: Plan) -> None:
        self.options = plan.options
        self._views: dict[int, SurfaceView] = {}
        self._shown: dict[int, tuple] = {}

    def view(self, slot: int, width: int = 400, height: int = 300) -> SurfaceView:
        v = self._views.get(slot)
        if v is None:
            o = self.options
            v = SurfaceView()
            v.keep_targets = True  # one framebuffer pair for every frame; freed in close()
            v.setAttribute(QtCore.Qt.WidgetAttribute.WA_DontShowOnScreen, True)
            v.resize(max(16, width), max(16, height))
            v.show()  # creates the GL context; never mapped on screen
            QtWidgets.QApplication.processEvents()
            v.set_background("dark" if o.background == "dark" else "white")
            v.set_colormap(o.colormap)
            v.set_axes_visible(o.axes)
            v.reset_camera()
            self._views[slot] = v
        return v

    def __call__(self, slot: int, panel: Panel, frame: Frame, width: int, height: int) -> np.ndarray:
        v = self.view(slot, width, height)
        shown = self._shown.get(slot, (None, None))
        if shown[0] is not panel.z:
            v.set_surface(panel.xs, panel.ys, panel.z)
        if shown[1] is not panel:
            self._overlays(v, panel)
        self._shown[slot] = (panel.z, panel)
        v.set_camera(frame.elevation, frame.azimuth, frame.distance if frame.distance > 0 else None)
        if self.options.background == "transparent":
            return transparent_image(v, width, height)
        return v.render_image(width, height)

    @staticmethod
    def _overlays(v: SurfaceView, panel: Panel) -> None:
        lift = overlay_lift(panel.z)  # keep points out of the surface
        if panel.points is not None and len(panel.points):
            v.set_points(panel.points + [0.0, 0.0, lift], color=POINT_COLOR, size=POINT_SIZE)
        else:
            v.set_points(None)
        v.set_paths([p + [0.0, 0.0, lift] for p in panel.paths] if panel.paths else None, color=PATH_COLOR)
        v.set_marker(panel.marker)

    def close(self) -> None:
        for v in self._views.values():
            v.release_targets()
            v.close()
            v.deleteLater()
        self._views.clear()
        self._shown.clear()


def transparent_image(v: SurfaceView, width: int, height: int) -> np.ndarray:
    """RGBA with a transparent background: rendered over white and over black, alpha from the difference."""
    white = v.render_image(width, height).astype(np.int32)
    v.setBackgroundColor((0, 0, 0, 255))
    try:
        black = v.render_image(width, height).astype(np.int32)
    finally:
        v.setBackgroundColor(VIEW_BACKGROUNDS[v.background()][0])
    alpha = np.clip(255 - (white[..., :3] - black[..., :3]).max(axis=2), 0, 255)
    rgb = np.where(alpha[..., None] > 0, black[..., :3] * 255 // np.maximum(alpha, 1)[..., None], 0)
    out = np.empty((height, width, 4), dtype=np.uint8)
    out[..., :3] = np.clip(rgb, 0, 255)
    out[..., 3] = alpha
    return out
