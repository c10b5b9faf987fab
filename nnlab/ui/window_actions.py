"""Menus, toolbar and keys of the main window: File (scenes, recent files, network export, screenshots), View,
Gallery (presets), Lecture (full screen, font size, presenter profile, keys overlay)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.ui.colormaps import COLORMAPS
from nnlab.ui.lecture import KeysOverlay
from nnlab.ui.presets import list_presets
from nnlab.ui.screenshots import save_qimage, screenshot_dialog, window_image, write_png
from nnlab.ui.theme import BASE_POINT_SIZE, apply_theme

if TYPE_CHECKING:
    from nnlab.ui.main_window import MainWindow

MAX_RECENT = 8
def settings() -> QtCore.QSettings:
    return QtCore.QSettings("nnlab", "nnlab")


class WindowActions(QtCore.QObject):
    def __init__(self, win: "MainWindow") -> None:
        super().__init__(win)
        self.win = win
        self.point_size = float(settings().value("font_size", BASE_POINT_SIZE))
        self.modes: dict[str, QtGui.QAction] = {}
        self.cmap_actions: dict[str, QtGui.QAction] = {}
        self.presenter_hidden = set(settings().value("presenter_hidden", ["Network", "Initialization", "Neurons", "Info"]) or [])
        mb = win.menuBar()
        self.file_menu = mb.addMenu("&File")
        self._act(self.file_menu, "&Open scene…", self.open_scene, "Ctrl+O")
        self._act(self.file_menu, "&Save scene", self.save_scene, "Ctrl+S")
        self._act(self.file_menu, "Save scene &as…", self.save_scene_as, "Ctrl+Shift+S")
        self.recent_menu = self.file_menu.addMenu("Open &recent")
        self.file_menu.addSeparator()
        self._act(self.file_menu, "Export network (ONNX / npz / pt)…", self.export_network)
        self._act(self.file_menu, "Screenshot of the view (PNG)…", self.screenshot_dialog, "Ctrl+P")
        self._act(self.file_menu, "Screenshot of the window (PNG)…", self.window_screenshot_dialog)
        self._act(self.file_menu, "Export animation…", self.export_animation)
        self.file_menu.addSeparator()
        self._act(self.file_menu, "&Quit", win.close, "Ctrl+Q")

        view = mb.addMenu("&View")
        group = QtGui.QActionGroup(self)
        for mode, label, key in (("3d", "3-D surface", "3"), ("2d", "2-D heatmap + contours", "2"),
                                 ("compare", "Compare (split)", "C")):
            a = self._act(view, label, lambda _c=False, m=mode: win.set_mode(m), key, checkable=True)
            group.addAction(a)
            self.modes[mode] = a
        view.addSeparator()
        self.show_target = self._act(view, "Overlay: training target", self._overlays, checkable=True)
        self.translucent = self._act(view, "Target as translucent surface (else wireframe)", self._overlays,
                                     checkable=True)
        self.show_samples = self._act(view, "Overlay: training samples", self._overlays, checkable=True)
        self.show_regions = self._act(view, "Overlay: linear regions", self._overlays, checkable=True)
        self.show_axes = self._act(view, "Axes, grid and box", self._axes, checkable=True)
        self.show_axes.setChecked(True)
        view.addSeparator()
        cm = view.addMenu("Colormap")
        cgroup = QtGui.QActionGroup(self)
        for name in COLORMAPS:
            a = self._act(cm, name, lambda _c=False, n=name: win.set_colormap(n), checkable=True)
            cgroup.addAction(a)
            self.cmap_actions[name] = a
        th = view.addMenu("Theme")
        for name in ("dark", "light"):
            self._act(th, name, lambda _c=False, n=name: self.set_theme(n))
        view.addSeparator()
        self.auto_rotate = self._act(view, "Auto-rotate", lambda on: win.set_auto_rotate(on), "R", checkable=True)
        self._act(view, "Reset camera", win.reset_camera, "Home")

        self.gallery = mb.addMenu("&Gallery")
        self.presets = list_presets()
        for p in self.presets:
            a = self._act(self.gallery, p.title, lambda _c=False, path=p.path: win.load_scene_file(path))
            a.setStatusTip(p.description)
            a.setToolTip(p.description)
        self.gallery.setToolTipsVisible(True)

        lec = mb.addMenu("&Lecture")
        self._act(lec, "New sample", win.init_panel.next_seed, "Space")
        self._act(lec, "Train / pause", win.train_panel.toggle, "T")
        self._act(lec, "Step", win.train_panel.step, "S")
        self._act(lec, "Run optimizer", win.optimize_panel.run_current, "O")
        self._act(lec, "Previous preset", lambda: self.next_preset(-1), "PgUp")
        self._act(lec, "Next preset", lambda: self.next_preset(1), "PgDown")
        lec.addSeparator()
        self._act(lec, "Full screen", self.toggle_fullscreen, "F11")
        self._act(lec, "Bigger text", lambda: self.font_step(1.0), "Ctrl++")
        self._act(lec, "Bigger text (=)", lambda: self.font_step(1.0), "Ctrl+=").setVisible(False)
        self._act(lec, "Smaller text", lambda: self.font_step(-1.0), "Ctrl+-")
        self.presenter = self._act(lec, "Presenter profile (hide panels)", self.apply_presenter, "P", checkable=True)
        prof = lec.addMenu("Panels hidden by the presenter profile")
        for name in win.docks:
            a = self._act(prof, name, lambda on, n=name: self._profile(n, on), checkable=True)
            a.setChecked(name in self.presenter_hidden)
        self._act(lec, "Keys…", self.toggle_keys, "H")

        tb = win.addToolBar("View")
        tb.setObjectName("viewToolbar")
        for a in self.modes.values():
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.show_target, self.show_samples, self.show_regions, self.auto_rotate):
            tb.addAction(a)
        self.show_target.setIconText("Target")
        self.show_samples.setIconText("Samples")
        self.show_regions.setIconText("Regions")
        self.cmap_box = QtWidgets.QComboBox()
        self.cmap_box.addItems(list(COLORMAPS))
        self.cmap_box.currentTextChanged.connect(win.set_colormap)
        tb.addWidget(self.cmap_box)

        self.keys = KeysOverlay(win.centralWidget())
        self._rebuild_recent()
        geo = settings().value("geometry")
        if geo is not None and not os.environ.get("NNLAB_NO_RESTORE"):
            win.restoreGeometry(geo)

    def _act(self, menu: QtWidgets.QMenu, text: str, slot, shortcut: str | None = None,
             checkable: bool = False) -> QtGui.QAction:
        a = QtGui.QAction(text, self.win)
        a.setCheckable(checkable)
        if shortcut:
            a.setShortcut(QtGui.QKeySequence(shortcut))
        a.triggered.connect(slot)
        menu.addAction(a)
        self.win.addAction(a)  # shortcuts work in full screen with the menu bar hidden
        return a

    # ---- scenes & files ------------------------------------------------------------------------------------
    def open_scene(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.win, "Open scene", "", "Scenes (*.toml)")
        if path:
            self.win.load_scene_file(path)

    def save_scene(self) -> None:
        self.win.sync_camera()
        d = self.win.doc
        if d.path and not Path(d.path).resolve().is_relative_to(self.presets_dir()):
            d.save(d.path)
        else:
            self.save_scene_as()

    @staticmethod
    def presets_dir() -> Path:
        from nnlab.ui.presets import SCENES

        return SCENES.resolve()

    def save_scene_as(self) -> None:
        self.win.sync_camera()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.win, "Save scene", "scene.toml", "Scenes (*.toml)")
        if path:
            if self.win.doc.save(path):
                self.add_recent(path)

    def add_recent(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in (settings().value("recent", []) or []) if p != path]
        settings().setValue("recent", [path, *recent][:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        recent = settings().value("recent", []) or []
        if isinstance(recent, str):
            recent = [recent]
        for p in recent:
            self.recent_menu.addAction(Path(p).name, lambda p=p: self.win.load_scene_file(p)).setToolTip(p)
        self.recent_menu.setEnabled(bool(recent))

    def export_network(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.win, "Export network", "network.onnx",
                                                        "ONNX (*.onnx);;NumPy (*.npz);;PyTorch (*.pt)")
        if path:
            self.save_network(path)

    def save_network(self, path: str) -> bool:
        try:
            from nnlab.engine.model.io import save_model

            save_model(self.win.doc.net, path)
        except ImportError:
            self.win.show_error("network export is not available yet (nnlab.engine.model.io)")
            return False
        except Exception as e:  # noqa: BLE001 - see nnlab.ui.errors.describe
            from nnlab.ui.errors import describe

            self.win.show_error(f"cannot export the network: {describe(e)}")
            return False
        self.win.status.showMessage(f"Exported the network to {path}", 8000)
        return True

    def export_animation(self) -> None:
        try:
            from nnlab.ui.export_dialog import ExportDialog
        except ImportError:
            self.win.show_error("animation export is not available yet")
            return
        try:
            dlg = ExportDialog(self.win.doc.scene, parent=self.win)
        except TypeError:
            dlg = ExportDialog(self.win)
        dlg.exec()

    # ---- screenshots (nnlab.ui.screenshots) ------------------------------------------------------------
    def view_image(self, width: int, height: int) -> np.ndarray:
        return self.win.current_view().render_image(width, height)

    def save_view_png(self, path: str | Path, width: int, height: int) -> None:
        write_png(self.view_image(width, height), path)

    def save_window_png(self, path: str | Path) -> None:
        save_qimage(window_image(self.win, self.keys), path)

    def screenshot_dialog(self) -> None:
        screenshot_dialog(self.win, self.save_view_png)

    def window_screenshot_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.win, "Save window screenshot", "nnlab-window.png",
                                                        "PNG (*.png)")
        if path:
            try:
                self.save_window_png(path)
            except OSError as err:
                self.win.show_error(str(err))

    # ---- view toggles ----------------------------------------------------------------------------------------
    def _overlays(self) -> None:
        w = self.win
        w.show_target, w.show_samples = self.show_target.isChecked(), self.show_samples.isChecked()
        w.show_regions = self.show_regions.isChecked()
        w.overlay_mode = "translucent" if self.translucent.isChecked() else "wireframe"
        w.refresh_overlays()

    def _axes(self, on: bool) -> None:
        for v in (self.win.view3d, *self.win.compare.views):
            v.set_axes_visible(on)

    def sync_colormap(self, name: str) -> None:
        if name in self.cmap_actions:
            self.cmap_actions[name].setChecked(True)
        self.cmap_box.blockSignals(True)
        self.cmap_box.setCurrentText(name)
        self.cmap_box.blockSignals(False)

    def set_theme(self, name: str) -> None:
        self.win.theme = name
        apply_theme(QtWidgets.QApplication.instance(), name, self.point_size)
        self.win.set_background_for_theme()
        settings().setValue("theme", name)

    # ---- lecture --------------------------------------------------------------------------------------------
    def next_preset(self, step: int) -> None:
        if not self.presets:
            return
        paths = [p.path.resolve() for p in self.presets]
        cur = Path(self.win.doc.path).resolve() if self.win.doc.path else None
        i = paths.index(cur) if cur in paths else (-1 if step > 0 else 0)
        self.win.load_scene_file(paths[(i + step) % len(paths)])

    def toggle_fullscreen(self) -> None:
        w = self.win
        w.showNormal() if w.isFullScreen() else w.showFullScreen()

    def font_step(self, delta: float) -> None:
        self.point_size = float(np.clip(self.point_size + delta, 7.0, 32.0))
        apply_theme(QtWidgets.QApplication.instance(), self.win.theme, self.point_size)
        for v in (self.win.view3d, *self.win.compare.views):
            v.set_label_size(self.point_size + 1)

    def _profile(self, name: str, hidden: bool) -> None:
        (self.presenter_hidden.add if hidden else self.presenter_hidden.discard)(name)
        settings().setValue("presenter_hidden", sorted(self.presenter_hidden))
        if self.presenter.isChecked():
            self.apply_presenter(True)

    def apply_presenter(self, on: bool) -> None:
        for name, dock in self.win.docks.items():
            dock.setVisible(not (on and name in self.presenter_hidden))

    def toggle_keys(self) -> None:
        self.keys.toggle()

    def save_settings(self) -> None:
        s = settings()
        s.setValue("geometry", self.win.saveGeometry())
        s.setValue("font_size", self.point_size)


def build_actions(win: "MainWindow") -> WindowActions:
    return WindowActions(win)
