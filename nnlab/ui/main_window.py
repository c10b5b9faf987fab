"""The main window: the 3-D / 2-D / compare views in the centre, the panels as docks, menus, status bar.

Views only listen to the Document; the panels edit it. Jobs run in each panel's TaskSlot.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.engine.model.scene import Scene
from nnlab.ui.colormaps import COLORMAPS, region_colors
from nnlab.ui.compare_view import CompareView
from nnlab.ui.document import Document
from nnlab.ui.heatmap_view import HeatmapView
from nnlab.ui.panels.info_panel import InfoPanel
from nnlab.ui.panels.init_panel import InitPanel
from nnlab.ui.panels.network_panel import NetworkPanel
from nnlab.ui.panels.neurons_panel import NeuronsPanel, unit_surfaces
from nnlab.ui.panels.optimize_panel import OptimizePanel
from nnlab.ui.panels.train_panel import TrainPanel
from nnlab.ui.surface_view import SurfaceView

MAX_SAMPLE_POINTS = 3000
MAX_VISITED_POINTS = 1500


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, scene: Scene | None = None, theme: str = "dark") -> None:
        super().__init__()
        self.setWindowTitle("nnlab")
        self.resize(1500, 950)
        self.theme = theme
        self.doc = Document(scene)
        self.unit: tuple[int, int] | None = None
        self.show_target = self.show_samples = self.show_regions = False
        self.overlay_mode = "wireframe"
        self.point_size = 10.0
        self._opt_marker = self._opt_points = self._opt_paths = None

        self.stack = QtWidgets.QStackedWidget()
        self.view3d = SurfaceView()
        self.view2d = HeatmapView()
        self.compare = CompareView()
        for w in (self.view3d, self.view2d, self.compare):
            self.stack.addWidget(w)
        self.setCentralWidget(self.stack)
        self.rotate_timer = QtCore.QTimer(self)
        self.rotate_timer.setInterval(33)
        self.rotate_timer.timeout.connect(self._rotate_step)

        self.network_panel = NetworkPanel(self.doc)
        self.init_panel = InitPanel(self.doc)
        self.train_panel = TrainPanel(self.doc)
        self.neurons_panel = NeuronsPanel(self.doc)
        self.optimize_panel = OptimizePanel(self.doc)
        self.info_panel = InfoPanel(self.doc)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        L, R = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        for name, panel, area in (("Network", self.network_panel, L), ("Initialization", self.init_panel, L),
                                  ("Target && training", self.train_panel, R), ("Optimize", self.optimize_panel, R),
                                  ("Neurons", self.neurons_panel, R), ("Info", self.info_panel, L)):
            dock = QtWidgets.QDockWidget(name, self)
            dock.setObjectName(name.replace("&&", "and"))
            dock.setMinimumWidth(330)
            scroll = QtWidgets.QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(panel)
            dock.setWidget(scroll)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["Target && training"], self.docks["Optimize"])
        self.tabifyDockWidget(self.docks["Optimize"], self.docks["Neurons"])
        self.docks["Target && training"].raise_()
        self.resizeDocks([self.docks["Network"], self.docks["Target && training"]], [340, 400],
                         QtCore.Qt.Orientation.Horizontal)

        self.status = self.statusBar()
        self.error_label = QtWidgets.QLabel()
        self.error_label.setStyleSheet("color: #ff6b5e; font-weight: bold")
        self.status.addPermanentWidget(self.error_label)
        self.error_timer = QtCore.QTimer(self, singleShot=True, interval=10000)
        self.error_timer.timeout.connect(self.error_label.clear)

        from nnlab.ui.window_actions import build_actions

        self.actions_ = build_actions(self)
        self._connect()
        self.set_background_for_theme()
        self.apply_camera_spec()
        self.refresh_surface()

    # ---- wiring ---------------------------------------------------------------------------------------
    def _connect(self) -> None:
        d = self.doc
        d.surface_changed.connect(self.refresh_surface)
        d.network_changed.connect(self._network_changed)
        d.target_changed.connect(self.refresh_overlays)
        d.error.connect(self.show_error)
        d.message.connect(lambda m: self.status.showMessage(m, 8000))
        self.neurons_panel.unit_selected.connect(self.show_unit)
        self.optimize_panel.incumbent.connect(self._marker)
        self.optimize_panel.points.connect(self._points)
        self.optimize_panel.paths.connect(self._paths)

    def show_error(self, msg: str) -> None:
        """Errors go to the status bar; the scene stays as it was."""
        self.error_label.setText(msg if len(msg) < 160 else msg[:157] + "…")
        self.error_label.setToolTip(msg)
        self.error_timer.start()

    def _network_changed(self) -> None:
        self.unit = None
        self.refresh_overlays()
        self.compare.set_title(0, self.doc.caption())

    # ---- what the views show ----------------------------------------------------------------------------
    def current_view(self):
        return self.stack.currentWidget()

    def refresh_surface(self) -> None:
        d = self.doc
        if self.unit is not None:
            layer, k = self.unit
            z = unit_surfaces(d, layer, d.scene.camera.resolution)[k]
        else:
            z = d.z
        mode = self.mode()  # only the view on screen is redrawn; the others catch up when shown
        if mode == "3d" or self.view3d._z is None or self.view3d._z.shape != z.shape:
            self.view3d.set_surface(d.xs, d.ys, z)
        if mode == "2d":
            self.view2d.set_surface(d.xs, d.ys, z)
        if mode == "compare":
            self.compare.views[0].set_surface(d.xs, d.ys, d.z)

    def refresh_overlays(self) -> None:
        d = self.doc
        tz = d.target_grid() if self.show_target else None
        self.view3d.set_overlay(tz, self.overlay_mode)
        pts = None
        if self.show_samples:
            data = d.samples()
            if data is not None and data[0].shape[1] == 2:
                X, y = data
                step = max(1, len(X) // MAX_SAMPLE_POINTS)
                pts = np.column_stack([X[::step], y[::step]])
        self.view3d.set_points(pts, color=(1.0, 1.0, 1.0, 0.85) if self.view3d.background() == "dark"
                               else (0.1, 0.1, 0.1, 0.85), size=4)
        self.view2d.set_points(pts)
        ids = d.region_ids() if self.show_regions and self.unit is None else None
        self.view3d.set_region_colors(None if ids is None else region_colors(ids))
        self.refresh_surface()

    def _marker(self, p) -> None:
        self._opt_marker = p
        if self.unit is None:  # optimizer results live in the output's coordinates
            self.view3d.set_marker(p)
            self.view2d.set_marker(p)

    def _points(self, pts) -> None:
        if pts is not None and len(pts) > MAX_VISITED_POINTS:
            pts = pts[-MAX_VISITED_POINTS:]
        self._opt_points = pts
        if pts is None:
            self.refresh_overlays()
        elif self.unit is None:
            self.view3d.set_points(pts, color=(0.95, 0.85, 0.3, 0.55), size=3)
            self.view2d.set_points(pts)

    def _paths(self, paths) -> None:
        self._opt_paths = paths
        if self.unit is None:
            self.view3d.set_paths(paths)
            self.view2d.set_paths(paths)

    def show_unit(self, layer: int, unit: int) -> None:
        self.unit = None if unit < 0 else (layer, unit)
        on_output = self.unit is None
        for v in (self.view3d, self.view2d):
            v.set_marker(self._opt_marker if on_output else None)
            v.set_paths(self._opt_paths if on_output else None)
        if self.unit is not None:
            self.status.showMessage(f"Showing hidden unit {unit + 1} of layer {layer + 1} (\"Show output\" to go back)", 6000)
        self.refresh_overlays()

    # ---- view modes -----------------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        """"3d", "2d" or "compare"."""
        if mode == "compare":
            if not self.open_compare():
                return
            self.stack.setCurrentWidget(self.compare)
        else:
            self.stack.setCurrentWidget(self.view3d if mode == "3d" else self.view2d)
        for name, act in self.actions_.modes.items():
            act.setChecked(name == mode)
        self.refresh_surface()

    def mode(self) -> str:
        w = self.stack.currentWidget()
        return "3d" if w is self.view3d else "2d" if w is self.view2d else "compare"

    def open_compare(self, path: str | None = None) -> bool:
        """Left: this scene; right: its `compare` partner (or `path`), trained on a worker if it says so."""
        ok = self.compare.show_pair(self.doc, path, self.show_error)
        if ok:
            for v in self.compare.views:
                v.set_colormap(self.view3d.colormap())
                v.set_background(self.view3d.background())
                v.set_camera(*self.view3d.camera())
        return ok

    # ---- scenes --------------------------------------------------------------------------------------------
    def load_scene_file(self, path: str | Path) -> bool:
        """Open a scene; errors keep the current one. A scene with [train] enabled starts training at once."""
        if not self.doc.load(path):
            return False
        self.train_panel.clear()
        self.optimize_panel.clear()
        self.compare.slot.cancel()
        self.unit = None
        self.apply_camera_spec()
        self.refresh_overlays()
        self.actions_.add_recent(str(path))
        if self.doc.scene.compare:
            self.set_mode("compare")
        elif self.mode() == "compare":
            self.set_mode(self.doc.scene.camera.view)
        if self.doc.scene.train.enabled and self.doc.scene.target.name != "none":
            self.train_panel.start()
        return True

    def apply_camera_spec(self) -> None:
        c = self.doc.scene.camera
        for v in (self.view3d, *self.compare.views):
            v.set_colormap(c.colormap)
            v.set_camera(c.elevation, c.azimuth, c.distance or None)
        self.view2d.set_colormap(c.colormap)
        if self.mode() != "compare":
            self.set_mode(c.view)
        self.set_auto_rotate(c.auto_rotate)
        self.actions_.sync_colormap(c.colormap)

    def sync_camera(self) -> None:
        """Write the view's camera and mode into the scene (before saving it)."""
        e, a, d = self.view3d.camera()
        mode = self.mode()
        self.doc.update("camera", elevation=max(-90.0, min(90.0, e)), azimuth=a % 360.0, distance=d,
                        view=mode if mode in ("3d", "2d") else self.doc.scene.camera.view,
                        auto_rotate=self.rotate_timer.isActive())

    def set_colormap(self, name: str) -> None:
        if name in COLORMAPS:
            self.doc.update("camera", colormap=name)
            for v in (self.view3d, self.view2d, *self.compare.views):
                v.set_colormap(name)

    def set_background_for_theme(self) -> None:
        bg = "white" if self.theme == "light" else "dark"
        for v in (self.view3d, self.view2d, *self.compare.views):
            v.set_background(bg)

    def set_auto_rotate(self, on: bool) -> None:
        (self.rotate_timer.start if on else self.rotate_timer.stop)()
        self.actions_.auto_rotate.setChecked(on)

    def _rotate_step(self) -> None:
        v = self.compare.views[0] if self.mode() == "compare" else self.view3d
        e, a, d = v.camera()
        v.set_camera(e, a + 0.6, d)

    def reset_camera(self) -> None:
        for v in (self.view3d, *self.compare.views):
            v.reset_camera()

    # ---- shutting down ----------------------------------------------------------------------------------------
    def stop_all(self, timeout_ms: int = 1500) -> bool:
        """Stop every job: all are told to stop first, then they share one deadline (process jobs that do not
        stop in time are terminated), so quitting with N jobs running takes as long as with one."""
        import time

        slots = (self.train_panel.slot, self.optimize_panel.slot, self.compare.slot, self.info_panel.slot)
        for slot in slots:
            slot.cancel()
        deadline = time.monotonic() + timeout_ms / 1000.0
        left = lambda: max(0, int(1000 * (deadline - time.monotonic())))  # noqa: E731
        ok = self.info_panel.shutdown(left())  # (also stops its pending metrics timer)
        for slot in slots[:3]:
            ok = slot.shutdown(deadline=deadline) and ok
        return ok

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.rotate_timer.stop()
        self.stop_all()
        self.actions_.save_settings()
        super().closeEvent(ev)
