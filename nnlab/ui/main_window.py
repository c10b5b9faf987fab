"""The main window: the 3-D / 2-D / compare views in the centre, the panels as docks, menus, status bar.

It holds no state of its own: the Document (nnlab.app.document) and its ViewState hold what is on screen; panels
and menus edit them, and the window applies their changes to the views. Jobs run in each panel's TaskSlot.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.app.document import Document
from nnlab.engine.model.scene import Scene
from nnlab.ui.colormaps import COLORMAPS
from nnlab.ui.compare_view import CompareView
from nnlab.ui.heatmap_view import HeatmapView
from nnlab.ui.overlays import Overlays
from nnlab.ui.lecture import LectureCaption, lecture_tick_points
from nnlab.ui.network_diagram import NetworkDiagram
from nnlab.ui.panels.info_panel import InfoPanel
from nnlab.ui.panels.init_panel import InitPanel
from nnlab.ui.panels.network_panel import NetworkPanel
from nnlab.ui.panels.neurons_panel import NeuronsPanel
from nnlab.ui.panels.optimize_panel import OptimizePanel
from nnlab.ui.panels.train_panel import TrainPanel
from nnlab.ui.screenshots import save_qimage, window_image, write_png
from nnlab.ui.stills import framing_distance, render_still
from nnlab.ui.surface_view import SurfaceWindow
from nnlab.ui.theme import BASE_POINT_SIZE, LECTURE_CAPTION_SCALE, apply_theme, style_plots
from nnlab.ui.window_actions import WindowActions

MAX_SAMPLE_POINTS = 3000
MAX_VISITED_POINTS = 1500
DOCK_MIN_WIDTH = 300  # at the base text size; docks widen with the text (Ctrl +)
DOCK_WIDTHS = (360, 400)  # left and right dock columns on a first start (the surface keeps over half the window)


class MainWindow(QtWidgets.QMainWindow):
    def __init__(self, scene: Scene | None = None, theme: str = "dark") -> None:
        super().__init__()
        self.setWindowTitle("nnlab")
        screen = QtGui.QGuiApplication.primaryScreen()
        if screen is not None:  # not maximized (see open_on_screen): most of the screen
            avail = screen.availableGeometry()
            self.resize(int(avail.width() * 0.85), int(avail.height() * 0.85))
        self.doc = Document(scene)
        self.view = self.doc.view
        self.view.theme = theme

        self.stack = QtWidgets.QStackedWidget()
        self.view3d = SurfaceWindow()  # shown by its window container, view3d.widget
        self.view2d = HeatmapView()
        self.compare = CompareView()
        for w in (self.view3d.widget, self.view2d, self.compare):
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
        self.overlays = Overlays(self.doc, self.view3d, self.view2d, self)  # exact regions, optimizer traces
        self.network_diagram = NetworkDiagram(self.doc)
        self.docks: dict[str, QtWidgets.QDockWidget] = {}
        L, R = QtCore.Qt.DockWidgetArea.LeftDockWidgetArea, QtCore.Qt.DockWidgetArea.RightDockWidgetArea
        for name, panel, area in (("Network", self.network_panel, L), ("Initialization", self.init_panel, L),
                                  ("Target && training", self.train_panel, R), ("Optimize", self.optimize_panel, R),
                                  ("Neurons", self.neurons_panel, R), ("Info", self.info_panel, L),
                                  ("Network diagram", self.network_diagram, R)):
            dock = QtWidgets.QDockWidget(name, self)
            dock.setObjectName(name.replace("&&", "and"))
            dock.setMinimumWidth(DOCK_MIN_WIDTH)
            scroll = QtWidgets.QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setWidget(panel)
            dock.setWidget(scroll)
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.tabifyDockWidget(self.docks["Target && training"], self.docks["Optimize"])
        self.tabifyDockWidget(self.docks["Optimize"], self.docks["Neurons"])
        self.tabifyDockWidget(self.docks["Neurons"], self.docks["Network diagram"])
        self.docks["Target && training"].raise_()
        self.resizeDocks([self.docks["Network"], self.docks["Target && training"]], list(DOCK_WIDTHS),
                         QtCore.Qt.Orientation.Horizontal)
        self.caption = LectureCaption(self.stack)
        self.caption_timer = QtCore.QTimer(self, interval=300)  # the Lecture view's results follow the panels
        self.caption_timer.timeout.connect(self._update_caption)
        self._last_result = ""
        self._lecture_distance: float | None = None  # the camera distance before the Lecture view framed the box

        self.status = self.statusBar()
        self.error_label = QtWidgets.QLabel()
        self.error_label.setStyleSheet("color: #ff6b5e; font-weight: bold")
        self.status.addPermanentWidget(self.error_label)
        self.error_timer = QtCore.QTimer(self, singleShot=True, interval=10000)
        self.error_timer.timeout.connect(self.error_label.clear)

        self.menus = WindowActions(self, self.doc, self.docks, self)
        for v in (self.view3d, *self.compare.views):  # the GL windows cover them: they draw them
            v.add_overlay(self.caption)
            v.add_overlay(self.menus.keys)
        next(a.menu() for a in self.menuBar().actions() if a.text() == "&View").addAction(
            "Network diagram", self.show_network_diagram)
        self._connect()
        self._backgrounds()  # (the app's style sheet is applied by nnlab.ui.app, and on a theme change)
        self._text_size()
        self.apply_camera_spec()
        self.refresh_surface()

    # ---- wiring ---------------------------------------------------------------------------------------
    def _connect(self) -> None:
        d = self.doc
        d.surface_changed.connect(self.refresh_surface)
        d.network_changed.connect(self._network_changed)
        d.target_changed.connect(self.refresh_overlays)
        d.scene_changed.connect(self._scene_changed)
        d.error.connect(self.show_error)
        d.message.connect(self._message)
        self.view.changed.connect(self._apply_view)
        for sig in (d.scene_changed, d.loaded):  # the title names the scene on screen, and says "modified"
            sig.connect(lambda *_: self.setWindowTitle(d.window_title()))
        self.setWindowTitle(d.window_title())

    def _message(self, msg: str) -> None:
        self.status.showMessage(msg, 8000)
        self._last_result = msg

    def show_error(self, msg: str) -> None:
        """Errors go to the status bar; the scene stays as it was."""
        self.error_label.setText(msg if len(msg) < 160 else msg[:157] + "…")
        self.error_label.setToolTip(msg)
        self.error_timer.start()

    def _network_changed(self) -> None:
        self._last_result = ""  # a result describes the network it was computed on
        self.refresh_overlays()
        self.compare.set_title(0, self.doc.caption())

    def _scene_changed(self) -> None:
        name = self.doc.scene.camera.colormap
        if name != self.view3d.colormap():
            for v in (self.view3d, self.view2d, *self.compare.views):
                v.set_colormap(name)

    def _apply_view(self, name: str, value) -> None:
        """A field of the ViewState changed: show it."""
        v = self.view
        if name in ("show_target", "show_samples", "show_regions", "overlay_mode"):
            self.refresh_overlays()
        elif name == "unit":
            on_output = value is None
            for w in (self.view3d, self.view2d):
                w.set_marker(v.marker if on_output else None)
                w.set_paths(v.paths if on_output else None)
            if not on_output:
                layer, unit = value
                self.status.showMessage(f"Showing hidden unit {unit + 1} of layer {layer + 1} "
                                        "(\"Show output\" to go back)", 6000)
            self.refresh_overlays()
        elif name == "marker":
            if v.unit is None:  # optimizer results live in the output's coordinates
                self.view3d.set_marker(value)
                self.view2d.set_marker(value)
        elif name == "points":
            if value is None:
                self.refresh_overlays()
            elif v.unit is None:
                pts = value[-MAX_VISITED_POINTS:]
                self.view3d.set_points(pts, color=(0.95, 0.85, 0.3, 0.55), size=3)
                self.view2d.set_points(pts)
        elif name == "paths":
            if v.unit is None:
                self.view3d.set_paths(value)
                self.view2d.set_paths(value)
        elif name == "axes":
            for w in (self.view3d, *self.compare.views):
                w.set_axes_visible(value)
        elif name == "auto_rotate":
            (self.rotate_timer.start if value else self.rotate_timer.stop)()
        elif name in ("theme", "point_size"):
            apply_theme(QtWidgets.QApplication.instance(), v.theme, v.point_size)
            self._backgrounds()
            self._text_size()
        elif name in ("presenter", "presenter_hidden", "lecture"):
            for dock_name, dock in self.docks.items():
                dock.setVisible(not (v.lecture or (v.presenter and dock_name in v.presenter_hidden)))
            if name == "lecture":
                self._text_size()
                self.caption.setVisible(value)
                (self.caption_timer.start if value else self.caption_timer.stop)()
                self._update_caption()
                QtCore.QTimer.singleShot(0, self._frame_lecture)  # once the docks are gone
        elif name == "mode":
            self.stack.setCurrentWidget({"3d": self.view3d.widget, "2d": self.view2d, "compare": self.compare}[value])
            self.refresh_surface()

    def _backgrounds(self) -> None:
        bg = "white" if self.view.theme == "light" else "dark"
        for w in (self.view3d, self.view2d, *self.compare.views):
            w.set_background(bg)
        style_plots(self, self.view.theme, self.view.point_size)

    def _text_size(self) -> None:
        """Every text follows the base size (Ctrl +/-): plot ticks, 3-D labels, dock widths; the Lecture view
        enlarges the surface's labels to its own size (lecture_tick_points) and the compare titles."""
        v = self.view
        scale = v.point_size / BASE_POINT_SIZE
        ticks = v.point_size + 1
        if v.lecture:
            ticks = max(ticks, lecture_tick_points(self.screen()) * scale)
        for w in (self.view3d, *self.compare.views):
            w.set_label_size(ticks)
        style_plots(self, v.theme, v.point_size)
        if v.lecture:
            style_plots(self.view2d, v.theme, ticks)
        for t in self.compare.titles:
            t.setStyleSheet(f"font-size: {1.6 * v.point_size:.1f}pt" if v.lecture else "")
        caption = max(LECTURE_CAPTION_SCALE * v.point_size, lecture_tick_points(self.screen()) * scale)
        self.caption.setStyleSheet(f"font-size: {caption:.1f}pt")  # (a widget's own sheet beats the app's)
        cap = max(DOCK_MIN_WIDTH, int(0.3 * self.width()))  # a huge text on a small window: the panels scroll
        for dock in self.docks.values():
            dock.setMinimumWidth(min(cap, int(DOCK_MIN_WIDTH * scale)))

    def _frame_lecture(self) -> None:
        """Lecture view: the camera backs off until the whole box fits the wide view (pyqtgraph's field of view is
        horizontal: a wide view cut off the box's front corner); leaving it restores the distance."""
        v = self.view3d
        e, a, d = v.camera()
        if self.view.lecture and self._lecture_distance is None:
            self._lecture_distance = d
            v.set_camera(e, a, framing_distance(v, max(1, v.width()), max(1, v.height())))
        elif not self.view.lecture and self._lecture_distance is not None:
            v.set_camera(e, a, self._lecture_distance)
            self._lecture_distance = None

    def _update_caption(self) -> None:
        if not self.view.lecture:
            return
        busy = self.train_panel.slot.busy
        result = self.train_panel.progress.text() if busy else self._last_result
        self.caption.show_text(self.doc.caption(), result)

    def resizeEvent(self, ev: QtGui.QResizeEvent) -> None:
        super().resizeEvent(ev)
        if self.caption.isVisible():
            self.caption.place()
        QtCore.QTimer.singleShot(0, self._fit_docks)  # once the layout has settled

    def _fit_docks(self) -> None:
        """Docks keep their width when the window shrinks: narrow them (to their minimum at most) so the surface
        keeps half the window (1024x768 leaves it about 400 pixels)."""
        w = self.width()
        if self.view.lecture or self.stack.width() >= w / 2:
            return
        columns = [d for d in (self.docks["Network"], self.docks["Target && training"]) if d.isVisible()]
        if columns:
            each = max(DOCK_MIN_WIDTH, w // (2 * len(columns)) - 6)
            self.resizeDocks(columns, [min(d.width(), each) for d in columns], QtCore.Qt.Orientation.Horizontal)

    # ---- what the views show ----------------------------------------------------------------------------
    def current_view(self):
        """The view on screen: the 3-D view (not its container), the heatmap or the compare pair."""
        w = self.stack.currentWidget()
        return self.view3d if w is self.view3d.widget else w

    def refresh_surface(self) -> None:
        d = self.doc
        z = d.shown_surface()
        mode = self.mode()  # only the view on screen is redrawn; the others catch up when shown
        if mode == "3d" or self.view3d._z is None or self.view3d._z.shape != z.shape:
            self.view3d.set_surface(d.xs, d.ys, z)
        if mode == "2d":
            self.view2d.set_surface(d.xs, d.ys, z)
        if mode == "compare":
            self.compare.views[0].set_surface(d.xs, d.ys, d.z)

    def refresh_overlays(self) -> None:
        d, v = self.doc, self.view
        tz = d.target_grid() if v.show_target else None
        self.view3d.set_overlay(tz, v.overlay_mode)
        pts = None
        if v.show_samples:
            data = d.samples()
            if data is not None and data[0].shape[1] == 2:
                X, y = data
                step = max(1, len(X) // MAX_SAMPLE_POINTS)
                pts = np.column_stack([X[::step], y[::step]])
        self.view3d.set_points(pts, color=(1.0, 1.0, 1.0, 0.85) if self.view3d.background() == "dark"
                               else (0.1, 0.1, 0.1, 0.85), size=4)
        self.view2d.set_points(pts)
        self.refresh_surface()

    def show_network_diagram(self) -> None:
        """View > Network diagram: its dock shown and in front."""
        self.docks["Network diagram"].show()
        self.docks["Network diagram"].raise_()

    def show_unit(self, layer: int, unit: int) -> None:
        """A hidden unit in the big view (unit < 0: the network output)."""
        self.view.unit = None if unit < 0 else (layer, unit)

    # ---- commands of the menus (nnlab.ui.window_actions.WindowCommands) ---------------------------------------
    def toggle_training(self) -> None:
        self.train_panel.toggle()

    def step_training(self) -> None:
        self.train_panel.step()

    def run_optimizer(self) -> None:
        self.optimize_panel.run_current()

    # ---- screenshots ---------------------------------------------------------------------------------------
    def view_image(self, width: int, height: int) -> np.ndarray:
        return self.current_view().render_image(width, height)

    def save_view_png(self, path: str | Path, width: int, height: int, style: str = "screen",
                      fit: bool = True) -> None:
        """The view on screen as a still: see nnlab.ui.stills (styles for slides, the whole box in frame)."""
        write_png(self.still_image(width, height, style, fit), path)

    def still_image(self, width: int, height: int, style: str = "screen", fit: bool = True) -> np.ndarray:
        view = self.current_view()
        if isinstance(view, SurfaceWindow):
            return render_still(view, width, height, style, fit)
        if view is self.compare:
            left = render_still(view.views[0], width // 2, height, style, fit)
            return np.concatenate([left, render_still(view.views[1], width - width // 2, height, style, fit)], 1)
        if style != "screen":
            from nnlab.errors import UsageError

            raise UsageError("transparent stills are made of the 3-D and compare views; switch to one (3 or C)")
        return self.view_image(width, height)

    def save_window_png(self, path: str | Path) -> None:
        save_qimage(window_image(self, [self.view3d, *self.compare.views]), path)

    # ---- on screen -----------------------------------------------------------------------------------------
    def open_on_screen(self) -> None:
        """Show the window as the last session left it, or maximized on a first start."""
        if self.menus.restored:
            self.show()
        else:
            self.maximize()

    def maximize(self) -> None:
        screen = self.screen() or QtGui.QGuiApplication.primaryScreen()
        if screen is not None:  # (without a window manager, as under Xvfb, the state alone moves nothing)
            self.setGeometry(screen.availableGeometry())
        self.showMaximized()
        w = self.width()
        self.resizeDocks([self.docks["Network"], self.docks["Target && training"]],
                         [min(DOCK_WIDTHS[0], w // 5), min(DOCK_WIDTHS[1], w // 5)], QtCore.Qt.Orientation.Horizontal)

    # ---- view modes -----------------------------------------------------------------------------------------
    def set_mode(self, mode: str) -> bool:
        """"3d", "2d" or "compare" (which needs its partner scene: False, and the mode stays, if it cannot load)."""
        if mode == "compare" and not self.open_compare():
            return False
        self.view.mode = mode
        return True

    def mode(self) -> str:
        return self.view.mode

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
        self.apply_camera_spec()
        self.refresh_overlays()
        if self.doc.scene.compare:
            self.set_mode("compare")
        elif self.mode() == "compare":
            self.set_mode(self.doc.scene.camera.view)
        if self.doc.scene.trains():
            self.train_panel.train_scene()  # cached weights when there are some (bundled presets), else training
        return True

    def apply_camera_spec(self) -> None:
        c = self.doc.scene.camera
        for v in (self.view3d, *self.compare.views):
            v.set_colormap(c.colormap)
            v.set_camera(c.elevation, c.azimuth, c.distance or None)
        self.view2d.set_colormap(c.colormap)
        if self.mode() != "compare":
            self.set_mode(c.view)
        self.view.auto_rotate = c.auto_rotate

    def sync_camera(self) -> None:
        """Write the view's camera and mode into the scene (before saving it)."""
        e, a, d = self.view3d.camera()
        mode = self.mode()
        self.doc.update("camera", elevation=max(-90.0, min(90.0, e)), azimuth=a % 360.0, distance=d,
                        view=mode if mode in ("3d", "2d") else self.doc.scene.camera.view,
                        auto_rotate=self.view.auto_rotate)

    def set_colormap(self, name: str) -> None:
        if name in COLORMAPS:
            self.doc.update("camera", colormap=name)  # the views follow (scene_changed)

    def set_auto_rotate(self, on: bool) -> None:
        self.view.auto_rotate = on

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
        ok = self.overlays.shutdown(deadline) and ok
        for slot in slots[:3]:
            ok = slot.shutdown(deadline=deadline) and ok
        return ok

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.rotate_timer.stop()
        self.caption_timer.stop()
        self.stop_all()
        self.menus.save_settings()
        super().closeEvent(ev)
