"""The Export dialog: kind, output, size, timing and look of an animation, a preview of its first frame, progress
and Cancel.

The dialog shows and exports the network it is given: the app passes the one on screen (nnlab.app.document), so
nothing is retrained for a preview and a trained network is exported as trained. The plan (which may train a
network for the training kind, or run an optimizer) is built on the worker thread; frames are rendered on the
GUI thread (the GL context lives there), one per timer tick, so the dialog stays responsive and Cancel is immediate.
Cancel closes the writer generator: the temporary output is removed and an earlier file of that name is kept.
"""
from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.engine.export.layout import frame_image
from nnlab.engine.export.writers import write_animation
from nnlab.engine.export.plan import (
    BACKGROUNDS, COLORMAPS, FORMATS, KINDS, ExportProgress, Plan, build_plan, check_output, format_for_path,
    options_for,
)
from nnlab.engine.jobs import drain
from nnlab.engine.model.network import NetSnapshot, initial_snapshot
from nnlab.engine.model.scene import Scene
from nnlab.errors import NnlabError
from nnlab.app.errors import describe
from nnlab.ui.render import GLPanelRenderer
from nnlab.ui.worker import TaskSlot

SUFFIX = {"gif": ".gif", "mp4": ".mp4", "png": ".png", "png-frames": ""}


class ExportDialog(QtWidgets.QDialog):
    """Export the given scene with `net` (None: the scene's own network, trained if the scene says so);
    `finished_export(path)` is emitted when a file has been written."""

    finished_export = QtCore.Signal(str)

    def __init__(self, scene: Scene, parent: QtWidgets.QWidget | None = None, out: str = "",
                 net: NetSnapshot | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export animation")
        self.scene = scene
        self.net = net
        self._slot = TaskSlot(self)
        self._gen = None
        self._renderer: GLPanelRenderer | None = None
        self._preview_renderer: GLPanelRenderer | None = None
        self._timer = QtCore.QTimer(self, interval=0)
        self._timer.timeout.connect(self._step)
        self._preview_timer = QtCore.QTimer(self, singleShot=True, interval=250)
        self._preview_timer.timeout.connect(self.update_preview)
        self._build(out)
        self._preview_timer.start()

    # ---- widgets -----------------------------------------------------------------------------------------
    def _build(self, out: str) -> None:
        e, c = self.scene.export, self.scene.camera
        self.kind = QtWidgets.QComboBox()
        self.kind.addItems(KINDS)
        self.kind.setCurrentText(e.kind)
        self.fmt = QtWidgets.QComboBox()
        self.fmt.addItems(FORMATS)
        self.out = QtWidgets.QLineEdit(out or str(Path.cwd() / f"{Path(self.scene.source or 'scene').stem}.gif"))
        browse = QtWidgets.QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.width_ = self._spin(16, 8192, e.width)
        self.height_ = self._spin(16, 8192, e.height)
        self.fps = self._dspin(0.1, 240, e.fps, 1)
        self.frames = self._spin(1, 100000, e.frames)
        self.seeds = self._spin(1, 1000, e.seeds)
        self.method = QtWidgets.QLineEdit(self.scene.optimizer.method)
        self.colormap = QtWidgets.QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setCurrentText(c.colormap)
        self.background = QtWidgets.QComboBox()
        self.background.addItems(list(BACKGROUNDS))
        self.background.setCurrentText(e.background)
        self.elevation = self._dspin(-90, 90, c.elevation, 0)
        self.azimuth = self._dspin(-360, 360, c.azimuth, 0)
        self.distance = self._dspin(0, 100, c.distance, 1)
        self.axes = QtWidgets.QCheckBox("Axes")
        self.axes.setChecked(e.axes)
        self.loop = QtWidgets.QCheckBox("Loop (GIF)")
        self.loop.setChecked(e.loop)
        self.caption = QtWidgets.QLineEdit(e.caption)
        self.compare = QtWidgets.QLineEdit(self.scene.compare)
        self._sync_format()
        self.out.editingFinished.connect(self._sync_format)

        form = QtWidgets.QFormLayout()
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(browse)
        form.addRow("Output", row)
        form.addRow("Format", self.fmt)
        form.addRow("Kind", self.kind)
        size = QtWidgets.QHBoxLayout()
        size.addWidget(self.width_)
        size.addWidget(QtWidgets.QLabel("×"))
        size.addWidget(self.height_)
        form.addRow("Size (px)", size)
        form.addRow("Frames", self.frames)
        form.addRow("FPS", self.fps)
        form.addRow("Seeds (gallery)", self.seeds)
        form.addRow("Method (optimizer)", self.method)
        form.addRow("Compare with", self.compare)
        form.addRow("Colormap", self.colormap)
        form.addRow("Background", self.background)
        form.addRow("Elevation", self.elevation)
        form.addRow("Start angle", self.azimuth)
        form.addRow("Distance (0 = fit)", self.distance)
        form.addRow("Caption", self.caption)
        checks = QtWidgets.QHBoxLayout()
        checks.addWidget(self.axes)
        checks.addWidget(self.loop)
        form.addRow("", checks)

        self.preview = QtWidgets.QLabel("preview")
        self.preview.setMinimumSize(320, 240)
        self.preview.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.progress = QtWidgets.QProgressBar()
        self.status = QtWidgets.QLabel("")
        self.status.setWordWrap(True)
        self.export_button = QtWidgets.QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        self.cancel_button = QtWidgets.QPushButton("Close")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        right = QtWidgets.QVBoxLayout()
        right.addWidget(self.preview, 1)
        right.addWidget(self.progress)
        right.addWidget(self.status)
        right.addLayout(buttons)
        top = QtWidgets.QHBoxLayout(self)
        top.addLayout(form)
        top.addLayout(right, 1)
        for w in (self.kind, self.colormap, self.background):
            w.currentIndexChanged.connect(lambda *_: self._preview_timer.start())
        for w in (self.width_, self.height_, self.elevation, self.azimuth, self.distance, self.seeds):
            w.valueChanged.connect(lambda *_: self._preview_timer.start())
        self.axes.toggled.connect(lambda *_: self._preview_timer.start())
        self.caption.editingFinished.connect(self._preview_timer.start)

    @staticmethod
    def _spin(lo: int, hi: int, v: int) -> QtWidgets.QSpinBox:
        s = QtWidgets.QSpinBox()
        s.setRange(lo, hi)
        s.setValue(v)
        return s

    @staticmethod
    def _dspin(lo: float, hi: float, v: float, decimals: int) -> QtWidgets.QDoubleSpinBox:
        s = QtWidgets.QDoubleSpinBox()
        s.setRange(lo, hi)
        s.setDecimals(decimals)
        s.setValue(v)
        return s

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Export to", self.out.text(),
                                                        "Animations (*.gif *.mp4 *.png);;All files (*)")
        if path:
            self.out.setText(path)
            self._sync_format()

    def _sync_format(self) -> None:
        try:
            self.fmt.setCurrentText(format_for_path(self.out.text()))
        except NnlabError:  # no known extension yet: the format box stays as it is
            pass

    # ---- options -----------------------------------------------------------------------------------------
    def options(self, **over):
        """The dialog's settings as ExportOptions (an ExportError with a one-line message when invalid)."""
        compare = self.compare.text().strip()
        if compare:
            compare = str(self.scene.resolve_path(compare))
        kw = dict(kind=self.kind.currentText(), fmt=self.fmt.currentText(), width=self.width_.value(),
                  height=self.height_.value(), fps=self.fps.value(), frames=self.frames.value(),
                  seeds=self.seeds.value(), method=self.method.text().strip(), colormap=self.colormap.currentText(),
                  background=self.background.currentText(), elevation=self.elevation.value(),
                  azimuth=self.azimuth.value(), distance=self.distance.value(), axes=self.axes.isChecked(),
                  loop=self.loop.isChecked(), caption=self.caption.text(), compare=compare)
        kw.update(over)
        return options_for(self.scene, **kw)

    # ---- preview -------------------------------------------------------------------------------------------
    def update_preview(self) -> None:
        """Render the first frame (training: the initial net; optimizer: before any point) at preview size, on the
        GUI thread: the network is given, so this only evaluates it on the grid."""
        try:
            kind = self.kind.currentText()
            quick = "orbit" if kind in ("training", "optimizer") else kind
            net = initial_snapshot(self.scene.network, self.scene.init) if kind == "training" else self.net
            bg = self.background.currentText()
            opts = self.options(kind=quick, frames=1, fmt="png", background="white" if bg == "transparent" else bg)
            gen = build_plan(self.scene, opts, net=net)
            plan = drain(gen)
            if self._preview_renderer is None:
                self._preview_renderer = GLPanelRenderer(plan)
            self._preview_renderer.options = plan.options
            self._apply_look(self._preview_renderer, plan)
            img = frame_image(plan, 0, self._preview_renderer)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog (a bug as "internal error", see describe)
            self.preview.setText(f"no preview: {describe(exc)}")
            return
        self.preview_image = img
        qimg = QtGui.QImage(img.data, img.shape[1], img.shape[0], 4 * img.shape[1],
                            QtGui.QImage.Format.Format_RGBA8888).copy()
        pix = QtGui.QPixmap.fromImage(qimg).scaled(self.preview.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio,
                                                   QtCore.Qt.TransformationMode.SmoothTransformation)
        self.preview.setPixmap(pix)

    @staticmethod
    def _apply_look(r: GLPanelRenderer, plan: Plan) -> None:
        o = plan.options
        for slot in range(len(plan.frames[0].panels)):
            v = r.view(slot)
            v.set_background("dark" if o.background == "dark" else "white")
            v.set_colormap(o.colormap)
            v.set_axes_visible(o.axes)

    # ---- export --------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._slot.busy or self._gen is not None

    def start(self) -> None:
        if self.running:
            return
        try:
            opts = self.options()
            self._path = check_output(self.out.text().strip())
        except Exception as exc:  # noqa: BLE001 - see nnlab.app.errors.describe
            self._fail(describe(exc))
            return
        self._opts = opts
        self._set_running(True, "preparing…")
        scene, net = self.scene, self.net
        self._slot.start(lambda: build_plan(scene, opts, net=net), on_yield=self._on_progress, on_return=self._render,
                         on_error=lambda e: self._fail(describe(e)))

    def _render(self, plan: Plan) -> None:
        self._renderer = GLPanelRenderer(plan)
        n = 1 if self._opts.fmt == "png" else len(plan.frames)
        r = self._renderer
        self._gen = write_animation(self._path, self._opts.fmt, lambda i: frame_image(plan, i, r), n,
                                    self._opts.fps, self._opts.loop)
        self._timer.start()

    def _step(self) -> None:
        try:
            self._on_progress(next(self._gen))
        except StopIteration as stop:
            self._finish(f"wrote {stop.value}")
            self.finished_export.emit(str(stop.value))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog (a bug as "internal error", see describe)
            self._fail(describe(exc))

    def _on_progress(self, ev: ExportProgress) -> None:
        self.progress.setRange(0, ev.total if ev.total else 0)
        if ev.total:
            self.progress.setValue(ev.done)
        self.status.setText(f"{ev.stage}: {ev.message}")

    def cancel(self) -> None:
        """Stop at once; nothing is written and an earlier file of the same name stays as it was."""
        self._slot.cancel()
        self._finish("cancelled")

    def _finish(self, message: str) -> None:
        self._timer.stop()
        if self._gen is not None:
            self._gen.close()
            self._gen = None
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self._set_running(False, message)

    def _fail(self, message: str) -> None:
        self._finish(f"error: {message}")

    def _set_running(self, on: bool, message: str) -> None:
        self.export_button.setEnabled(not on)
        self.cancel_button.setText("Cancel" if on else "Close")
        if not on:
            self.progress.setRange(0, 1)
            self.progress.setValue(1 if message.startswith("wrote") else 0)
        self.status.setText(message)

    def _cancel_or_close(self) -> None:
        if self.running:
            self.cancel()
        else:
            self.close()

    def done(self, result: int) -> None:  # Esc / close while running cancels first
        if self.running:
            self.cancel()
        self._slot.shutdown()
        if self._preview_renderer is not None:
            self._preview_renderer.close()
            self._preview_renderer = None
        super().done(result)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self.running:
            self.cancel()
        super().closeEvent(event)
