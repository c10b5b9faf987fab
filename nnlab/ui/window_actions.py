"""Menus, toolbar and keys of the main window: File (scenes, recent files, network export, screenshots), View,
Gallery (presets), Lecture (Lecture view, full screen, text size, presenter profile, keys overlay).

Every shortcut is an action in a menu (`shortcut_actions`); the keys overlay lists exactly those, and one-key
shortcuts never fire while a text field has the focus (nnlab.ui.lecture.TypingGuard). The window's geometry and
dock layout are kept in QSettings, with View > Reset layout.

The actions write the model (the Document and its ViewState) and listen to it for their check marks; what they need
of the window beyond that is the few commands of `WindowCommands`, so this module does not know the window's class.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.app.document import Document
from nnlab.ui.colormaps import COLORMAPS
from nnlab.ui.lecture import KeysOverlay, install_typing_guard
from nnlab.ui.presets import list_presets
from nnlab.ui.screenshots import screenshot_dialog
from nnlab.ui.stills import STILL_STYLES
from nnlab.ui.theme import BASE_POINT_SIZE, MAX_POINT_SIZE, MIN_POINT_SIZE, THEMES

MAX_RECENT = 8


def settings() -> QtCore.QSettings:
    """The user's settings in QSettings' default format (native in the app). QSettings(org, app) would always be
    native and ignore a test's setDefaultFormat/setPath: tests wrote the user's own settings file."""
    return QtCore.QSettings(QtCore.QSettings.defaultFormat(), QtCore.QSettings.Scope.UserScope, "nnlab", "nnlab")


class WindowCommands(Protocol):
    """What the menus ask of the window (everything else goes through the model)."""

    def load_scene_file(self, path: str | Path) -> bool: ...
    def set_mode(self, mode: str) -> bool: ...
    def reset_camera(self) -> None: ...
    def sync_camera(self) -> None: ...
    def save_view_png(self, path: str | Path, width: int, height: int, style: str = "screen",
                      fit: bool = True) -> None: ...
    def save_window_png(self, path: str | Path) -> None: ...
    def toggle_training(self) -> None: ...
    def step_training(self) -> None: ...
    def run_optimizer(self) -> None: ...
    def maximize(self) -> None: ...


class WindowActions(QtCore.QObject):
    def __init__(self, win: QtWidgets.QMainWindow, doc: Document, docks: dict[str, QtWidgets.QDockWidget],
                 commands: WindowCommands) -> None:
        super().__init__(win)
        self.win, self.doc, self.view, self.cmd, self.docks = win, doc, doc.view, commands, docks
        s = settings()
        self.view.point_size = float(s.value("font_size", BASE_POINT_SIZE))
        hidden = s.value("presenter_hidden", sorted(self.view.presenter_hidden))
        self.view.presenter_hidden = frozenset([hidden] if isinstance(hidden, str) else hidden or [])
        self.modes: dict[str, QtGui.QAction] = {}
        self.cmap_actions: dict[str, QtGui.QAction] = {}
        self.theme_actions: dict[str, QtGui.QAction] = {}
        self.shortcut_actions: list[QtGui.QAction] = []  # every action with a key, in menu order
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
            a = self._act(view, label, lambda _c=False, m=mode: self._mode(m), key, checkable=True)
            group.addAction(a)
            self.modes[mode] = a
        view.addSeparator()
        self.show_target = self._act(view, "Overlay: training target", self._overlays, checkable=True)
        self.translucent = self._act(view, "Target as translucent surface (else wireframe)", self._overlays,
                                     checkable=True)
        self.show_samples = self._act(view, "Overlay: training samples", self._overlays, checkable=True)
        self.show_regions = self._act(view, "Overlay: linear regions", self._overlays, checkable=True)
        self.region_lines = self._act(view, "Linear regions as boundary lines (else filled)", self._overlays,
                                      checkable=True)
        self.show_axes = self._act(view, "Axes, grid and box", lambda on: self.view.set(axes=on), checkable=True)
        view.addSeparator()
        cm = view.addMenu("Colormap")
        cgroup = QtGui.QActionGroup(self)
        for name in COLORMAPS:
            a = self._act(cm, name, lambda _c=False, n=name: self.set_colormap(n), checkable=True)
            cgroup.addAction(a)
            self.cmap_actions[name] = a
        th = view.addMenu("Theme")
        tgroup = QtGui.QActionGroup(self)
        for name in THEMES:
            a = self._act(th, name, lambda _c=False, n=name: self.set_theme(n), checkable=True)
            tgroup.addAction(a)
            self.theme_actions[name] = a
        view.addSeparator()
        self.auto_rotate = self._act(view, "Auto-rotate", lambda on: self.view.set(auto_rotate=on), "R",
                                     checkable=True)
        self._act(view, "Reset camera", commands.reset_camera, "Home")
        view.addSeparator()
        self._act(view, "Reset layout (panels and window)", self.reset_layout)

        self.gallery = mb.addMenu("&Gallery")
        self.presets = list_presets()
        for p in self.presets:
            a = self._act(self.gallery, p.title, lambda _c=False, path=p.path: commands.load_scene_file(path))
            a.setStatusTip(p.description)
            a.setToolTip(p.description)
        self.gallery.setToolTipsVisible(True)

        lec = mb.addMenu("&Lecture")
        self._act(lec, "New sample", doc.next_seed, "Space")
        self._act(lec, "Train / pause", commands.toggle_training, "T")
        self._act(lec, "Step", commands.step_training, "S")
        self._act(lec, "Run optimizer", commands.run_optimizer, "O")
        self._act(lec, "Previous preset", lambda: self.next_preset(-1), "PgUp")
        self._act(lec, "Next preset", lambda: self.next_preset(1), "PgDown")
        lec.addSeparator()
        self.lecture = self._act(lec, "Lecture view (no panels, large surface and labels)",
                                 lambda on: self.view.set(lecture=on), "L", checkable=True)
        self._act(lec, "Full screen", self.toggle_fullscreen, "F11")
        self._act(lec, "Bigger text", lambda: self.font_step(1.0), "Ctrl++").setShortcuts(
            [QtGui.QKeySequence("Ctrl++"), QtGui.QKeySequence("Ctrl+=")])  # = is + without Shift
        self._act(lec, "Smaller text", lambda: self.font_step(-1.0), "Ctrl+-")
        self._act(lec, "Normal text size", self.font_reset, "Ctrl+0")
        self.presenter = self._act(lec, "Presenter profile (hide panels)", lambda on: self.view.set(presenter=on),
                                   "P", checkable=True)
        prof = lec.addMenu("Panels hidden by the presenter profile")
        for name in docks:
            a = self._act(prof, name, lambda on, n=name: self._profile(n, on), checkable=True)
            a.setChecked(name in self.view.presenter_hidden)
        self._act(lec, "Keys…", self.toggle_keys, "H")

        tb = win.addToolBar("View")
        tb.setObjectName("viewToolbar")
        for a in self.modes.values():
            tb.addAction(a)
        for a, short in zip(self.modes.values(), ("3-D", "2-D", "Compare")):
            a.setIconText(short)  # the toolbar fits a 1024-pixel-wide screen
        tb.addSeparator()
        for a in (self.show_target, self.show_samples, self.show_regions, self.auto_rotate):
            tb.addAction(a)
        self.show_target.setIconText("Target")
        self.show_samples.setIconText("Samples")
        self.show_regions.setIconText("Regions")
        self.cmap_box = QtWidgets.QComboBox()
        self.cmap_box.addItems(list(COLORMAPS))
        self.cmap_box.currentTextChanged.connect(self.set_colormap)
        tb.addWidget(self.cmap_box)

        self.keys = KeysOverlay(win.centralWidget(), self.shortcut_actions)
        install_typing_guard(QtWidgets.QApplication.instance())
        self._rebuild_recent()
        self.default_state = win.saveState()  # the docks as built: View > Reset layout
        self.restored = self.restore_layout()
        self.view.changed.connect(self._view_changed)
        doc.scene_changed.connect(self._sync_colormap)
        doc.loaded.connect(self.add_recent)
        for name in ("mode", "auto_rotate", "presenter", "axes", "theme", "lecture"):
            self._view_changed(name, getattr(self.view, name))
        self._sync_colormap()

    def _act(self, menu: QtWidgets.QMenu, text: str, slot, shortcut: str | None = None,
             checkable: bool = False) -> QtGui.QAction:
        a = QtGui.QAction(text, self.win)
        a.setCheckable(checkable)
        if shortcut:
            a.setShortcut(QtGui.QKeySequence(shortcut))
            self.shortcut_actions.append(a)
        a.triggered.connect(slot)
        menu.addAction(a)
        self.win.addAction(a)  # shortcuts work in full screen with the menu bar hidden
        return a

    # ---- check marks follow the model ---------------------------------------------------------------------
    def _view_changed(self, name: str, value) -> None:
        if name == "mode":
            for m, act in self.modes.items():
                act.setChecked(m == value)
        elif name == "auto_rotate":
            self.auto_rotate.setChecked(value)
        elif name == "presenter":
            self.presenter.setChecked(value)
        elif name == "lecture":
            self.lecture.setChecked(value)
        elif name == "axes":
            self.show_axes.setChecked(value)
        elif name == "theme":
            self.theme_actions[value].setChecked(True)

    def _sync_colormap(self) -> None:
        name = self.doc.scene.camera.colormap
        if name in self.cmap_actions:
            self.cmap_actions[name].setChecked(True)
        self.cmap_box.blockSignals(True)
        self.cmap_box.setCurrentText(name)
        self.cmap_box.blockSignals(False)

    def _mode(self, mode: str) -> None:
        if not self.cmd.set_mode(mode):  # compare without a partner: the mode stays, and so does its check mark
            self._view_changed("mode", self.view.mode)

    # ---- scenes & files ------------------------------------------------------------------------------------
    def open_scene(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.win, "Open scene", "", "Scenes (*.toml)")
        if path:
            self.cmd.load_scene_file(path)

    def save_scene(self) -> None:
        self.cmd.sync_camera()
        d = self.doc
        if d.path and not Path(d.path).resolve().is_relative_to(self.presets_dir()):
            d.save(d.path)
        else:
            self.save_scene_as()

    @staticmethod
    def presets_dir() -> Path:
        from nnlab.ui.presets import SCENES

        return SCENES.resolve()

    def save_scene_as(self) -> None:
        self.cmd.sync_camera()
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.win, "Save scene", "scene.toml", "Scenes (*.toml)")
        if path:
            if self.doc.save(path):
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
            self.recent_menu.addAction(Path(p).name, lambda p=p: self.cmd.load_scene_file(p)).setToolTip(p)
        self.recent_menu.setEnabled(bool(recent))

    def export_network(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.win, "Export network", "network.onnx",
                                                        "ONNX (*.onnx);;NumPy (*.npz);;PyTorch (*.pt)")
        if path:
            self.doc.save_network(path)

    def export_animation(self) -> None:
        """The Export dialog on the scene and the network on screen (it trains nothing to show it)."""
        from nnlab.ui.export_dialog import ExportDialog

        ExportDialog(self.doc.scene, parent=self.win, net=self.doc.net).exec()

    # ---- screenshots (nnlab.ui.screenshots) ------------------------------------------------------------
    def screenshot_dialog(self) -> None:
        e = self.doc.scene.export
        screenshot_dialog(self.win, (e.width, e.height), self.cmd.save_view_png, self.doc.message.emit,
                          self.doc.error.emit, {k: v[0] for k, v in STILL_STYLES.items()})

    def window_screenshot_dialog(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.win, "Save window screenshot", "nnlab-window.png",
                                                        "PNG (*.png)")
        if path:
            try:
                self.cmd.save_window_png(path)
            except OSError as err:
                self.doc.error.emit(str(err))

    # ---- view toggles ----------------------------------------------------------------------------------------
    def _overlays(self) -> None:
        self.view.set(show_target=self.show_target.isChecked(), show_samples=self.show_samples.isChecked(),
                      show_regions=self.show_regions.isChecked(),
                      region_mode="boundaries" if self.region_lines.isChecked() else "filled",
                      overlay_mode="translucent" if self.translucent.isChecked() else "wireframe")

    def set_colormap(self, name: str) -> None:
        if name in COLORMAPS:
            self.doc.update("camera", colormap=name)

    def set_theme(self, name: str) -> None:
        self.view.theme = name
        settings().setValue("theme", name)

    # ---- lecture --------------------------------------------------------------------------------------------
    def next_preset(self, step: int) -> None:
        if not self.presets:
            return
        paths = [p.path.resolve() for p in self.presets]
        cur = Path(self.doc.path).resolve() if self.doc.path else None
        i = paths.index(cur) if cur in paths else (-1 if step > 0 else 0)
        self.cmd.load_scene_file(paths[(i + step) % len(paths)])

    def toggle_fullscreen(self) -> None:
        w = self.win
        w.showNormal() if w.isFullScreen() else w.showFullScreen()

    def font_step(self, delta: float) -> None:
        self.view.point_size = float(np.clip(self.view.point_size + delta, MIN_POINT_SIZE, MAX_POINT_SIZE))

    def font_reset(self) -> None:
        self.view.point_size = BASE_POINT_SIZE

    def _profile(self, name: str, hidden: bool) -> None:
        h = self.view.presenter_hidden
        self.view.presenter_hidden = h | {name} if hidden else h - {name}
        settings().setValue("presenter_hidden", sorted(self.view.presenter_hidden))

    def toggle_keys(self) -> None:
        self.keys.toggle()

    # ---- window geometry and dock layout -------------------------------------------------------------------
    def restore_layout(self) -> bool:
        """The last session's window geometry and dock layout (False on a first start, or NNLAB_NO_RESTORE)."""
        if os.environ.get("NNLAB_NO_RESTORE"):
            return False
        s = settings()
        geo, state = s.value("geometry"), s.value("window_state")
        ok = geo is not None and self.win.restoreGeometry(geo)
        if state is not None:
            self.win.restoreState(state)
        return bool(ok)

    def reset_layout(self) -> None:
        """Docks back where they were built, the window maximized, and the saved layout forgotten."""
        self.view.set(presenter=False, lecture=False)
        self.win.restoreState(self.default_state)
        for dock in self.docks.values():
            dock.setVisible(True)
        s = settings()
        s.remove("geometry")
        s.remove("window_state")
        self.cmd.maximize()

    def save_settings(self) -> None:
        s = settings()
        s.setValue("geometry", self.win.saveGeometry())
        if not (self.view.lecture or self.view.presenter):  # the docks as the user arranged them
            s.setValue("window_state", self.win.saveState())
        s.setValue("font_size", self.view.point_size)
