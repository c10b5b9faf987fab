"""Target & training panel: target (registry, expression validated as you type, CSV), data and optimizer settings,
Train / Pause / Step / Stop / Reset, and a live plot of the loss and validation R². Training runs on a worker; its
events are recorded in the model's TrainState (doc.training), which the plots and progress bar are drawn from."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from nnlab.app.choices import field_choices
from nnlab.app.document import Document
from nnlab.app.errors import describe
from nnlab.engine.model.scene import TrainSpec
from nnlab.ui.forms import combo, set_quiet, spin_float, spin_int
from nnlab.ui.progress import ProgressBar
from nnlab.ui.panels.target_box import TargetBox
from nnlab.ui.worker import TaskSlot


PROCESS_JOBS = True  # train in a worker process (the GUI keeps its GIL); False: on a thread
FRAME_MS = 120  # at most ~8 screen refreshes a second while training
PLOT_MS = 500  # the loss plot and progress bar at most twice a second: with a GL view in the window, every widget
# repaint re-composites the whole window (20-40 ms under software GL), so fewer raster repaints = fewer long ticks


class TrainPanel(QtWidgets.QWidget):
    trained = QtCore.Signal(object)  # TrainResult

    def __init__(self, doc: Document, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.slot = TaskSlot(self)
        self.state = doc.training
        self._stepping = False
        self._pending_surface = None
        self._pending_event = None
        self._final = False
        self._surface_turn_done = False
        self._plot_clock = QtCore.QElapsedTimer()
        self._frame = QtCore.QTimer(self, singleShot=True, interval=FRAME_MS)
        self._frame.timeout.connect(self._flush)
        lay = QtWidgets.QVBoxLayout(self)
        form = QtWidgets.QFormLayout()
        lay.addLayout(form)
        self.target_box = TargetBox(doc)
        form.addRow(self.target_box)
        self.target, self.expr, self.expr_msg = self.target_box.target, self.target_box.expr, self.target_box.expr_msg
        self.samples = spin_int(4, 10_000_000, 2000)
        self.sampling = combo([(s, s) for s in field_choices(TrainSpec, "sampling")])
        self.noise = spin_float(0.0, 1e6, 0.0, 4, 0.01)
        self.optimizer = combo([(s, s) for s in field_choices(TrainSpec, "optimizer")])
        self.lr = spin_float(1e-6, 10.0, 0.01, 6, 0.001)
        self.epochs = spin_int(1, 1_000_000, 300)
        self.batch = spin_int(1, 10_000_000, 256)
        for label, w in (("Samples", self.samples), ("Sampling", self.sampling), ("Noise σ", self.noise),
                         ("Optimizer", self.optimizer), ("Learning rate", self.lr), ("Epochs", self.epochs),
                         ("Batch", self.batch)):
            form.addRow(label, w)
        btns = QtWidgets.QHBoxLayout()
        self.train_btn = QtWidgets.QPushButton("Train")
        self.pause_btn = QtWidgets.QPushButton("Pause")
        self.step_btn = QtWidgets.QPushButton("Step")
        self.stop_btn = QtWidgets.QPushButton("Stop")
        self.reset_btn = QtWidgets.QPushButton("Reset")
        for b in (self.train_btn, self.pause_btn, self.step_btn, self.stop_btn, self.reset_btn):
            btns.addWidget(b)
        lay.addLayout(btns)
        self.progress = ProgressBar()
        self.progress.setFormat("not trained yet")
        lay.addWidget(self.progress)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(170)
        self.plots.setBackground(None)  # the theme shows through
        self.loss_plot = self.plots.addPlot(row=0, col=0)
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("left", "loss")
        self.r2_plot = self.plots.addPlot(row=1, col=0)
        self.r2_plot.setLabel("left", "val R²")
        self.r2_plot.setLabel("bottom", "epoch")
        self.r2_plot.setXLink(self.loss_plot)
        self.loss_curve = self.loss_plot.plot(pen=pg.mkPen("#f0a030", width=2))
        self.r2_curve = self.r2_plot.plot(pen=pg.mkPen("#4aa3df", width=2))
        lay.addWidget(self.plots, 1)

        for w, key in ((self.samples, "samples"), (self.noise, "noise"), (self.lr, "lr"), (self.epochs, "epochs"),
                       (self.batch, "batch_size")):
            w.valueChanged.connect(lambda v, key=key: self.doc.update("train", **{key: v}))
        for w, key in ((self.sampling, "sampling"), (self.optimizer, "optimizer")):
            w.currentIndexChanged.connect(lambda _i, w=w, key=key: self.doc.update("train", **{key: w.currentData()}))
        self.train_btn.clicked.connect(self.train_or_resume)
        self.pause_btn.clicked.connect(self.pause)
        self.step_btn.clicked.connect(self.step)
        self.stop_btn.clicked.connect(self.stop)
        self.reset_btn.clicked.connect(self.reset)
        self.slot.busy_changed.connect(lambda _b: self._buttons())
        doc.scene_changed.connect(self.sync)
        doc.target_changed.connect(self.cancel)
        doc.network_changed.connect(self._on_new_network)
        self.sync()

    # ---- scene <-> widgets --------------------------------------------------------------------------------
    def sync(self) -> None:
        s = self.doc.scene
        self.target_box.sync()
        for w, v in ((self.samples, s.train.samples), (self.noise, s.train.noise), (self.lr, s.train.lr),
                     (self.epochs, s.train.epochs), (self.batch, s.train.batch_size),
                     (self.sampling, s.train.sampling), (self.optimizer, s.train.optimizer)):
            set_quiet(w, v)
        self._buttons()

    def _apply_expr(self) -> None:
        self.target_box.apply_expr()

    def load_csv(self, path: str) -> bool:
        return self.target_box.load_csv(path)

    @property
    def history(self) -> list[tuple[int, float, float]]:
        """(epoch, train loss, val R²) of the current run (the model's TrainState)."""
        return self.state.history

    # ---- training -----------------------------------------------------------------------------------------
    def _buttons(self) -> None:
        w = self.slot.worker
        has_target = self.doc.scene.target.name != "none"
        self.train_btn.setEnabled(has_target and (w is None or w.paused))
        self.train_btn.setText("Resume" if w is not None and w.paused else "Train")
        self.pause_btn.setEnabled(w is not None and not w.paused)
        self.step_btn.setEnabled(has_target)
        self.stop_btn.setEnabled(w is not None)

    def train_or_resume(self) -> None:
        w = self.slot.worker
        if w is not None:
            w.resume()
            self.state.paused = False
            self._stepping = False
        else:
            self.start()
        self._buttons()

    def toggle(self) -> None:
        """T key: train, pause, resume."""
        w = self.slot.worker
        if w is not None and not w.paused:
            self.pause()
        else:
            self.train_or_resume()

    def start(self, paused: bool = False) -> bool:
        from nnlab.engine.train.training import TrainError

        if self.doc.scene.target.name == "none":
            self.doc.error.emit("choose a target before training")
            return False
        scene = self.doc.scene
        self.state.begin(scene.train.epochs, paused)
        self._plot_clock.invalidate()
        self.progress.setRange(0, scene.train.epochs)
        self.progress.setValue(0)
        self.progress.setFormat("starting… (epoch %v / %m)")

        def on_yield(ev: object) -> None:
            if isinstance(ev, TrainError):
                self.doc.error.emit(f"training: {ev.message} ({ev.hint})")
                return
            self._progress(ev)

        self.slot.start(self.doc.train_job(), on_yield, self._finished,
                        lambda e: self.doc.error.emit(f"training failed: {describe(e)}"), self._ended, paused=paused,
                        process=PROCESS_JOBS)
        self.doc.message.emit(f"Training {scene.train.epochs} epochs…")
        return True

    def _progress(self, ev) -> None:
        """Record every epoch; the screen is refreshed at most every FRAME_MS (see _flush), which keeps the GUI
        thread free: each refresh is a GIL hand-off with the training thread."""
        if ev.surface is not None:
            self._pending_surface = ev.surface
        if self.state.record(ev):
            self._pending_event = ev
            self._stepping = False
        elif self._stepping and self.slot.worker is not None:
            self.slot.worker.step()  # a heartbeat, not a new epoch: let the step finish
        if not self._frame.isActive():
            self._frame.start()

    def _flush(self) -> None:
        """Alternate between the surface and the plots, so one event-loop pass never pays for both repaints."""
        if self._pending_surface is not None and not self._surface_turn_done:
            self.doc.show_surface(self._pending_surface)
            self._pending_surface = None
            self._surface_turn_done = True
            if self._pending_event is not None:
                self._frame.start(FRAME_MS // 2)
            return
        self._surface_turn_done = False
        if (self._pending_event is not None and self._plot_clock.isValid() and
                 self._plot_clock.elapsed() < PLOT_MS and not self._final):
            self._frame.start(FRAME_MS)  # plots wait; the surface keeps its own pace
            return
        ev, self._pending_event = self._pending_event, None
        if ev is None:
            if self._pending_surface is not None:
                self._frame.start(FRAME_MS // 2)
            return
        self._plot_clock.start()
        h = np.array(self.history, dtype=np.float64)
        self.loss_curve.setData(h[:, 0], np.maximum(h[:, 1], 1e-12))
        self.r2_curve.setData(h[:, 0], np.clip(np.nan_to_num(h[:, 2], nan=0.0), -1.0, 1.0))
        self.progress.setValue(ev.epoch)
        r2 = "—" if ev.val_r2 is None else f"{ev.val_r2:.4f}"
        self.progress.setFormat(f"epoch %v / %m   loss {ev.train_loss:.4g}   R² {r2}")
        if self._pending_surface is not None:
            self._frame.start(FRAME_MS // 2)

    def _finished(self, result) -> None:
        self._frame.stop()
        self._surface_turn_done = False
        self._final = True
        try:
            self._flush()
            self._flush()
        finally:
            self._final = False
        self.state.finish(result)
        self.doc.set_network(result.snapshot, trained=True)
        r2 = "—" if result.val_r2 is None else f"{result.val_r2:.4f}"
        self.doc.message.emit(f"Training {result.status}: {result.epochs_run} epochs, loss {result.train_loss:.4g}, "
                              f"val R² {r2}, {result.seconds:.1f} s")
        self.trained.emit(result)

    def _on_new_network(self) -> None:
        if not self.doc.trained and self.slot.busy:
            self.cancel()  # a new init or architecture: the running job trains a network that is gone

    def _ended(self) -> None:
        self.state.set(running=False, paused=False)
        self._buttons()

    def pause(self) -> None:
        if self.slot.worker is not None:
            self.slot.worker.pause()
            self.state.paused = True
        self._buttons()

    def step(self) -> None:
        """One more epoch, then pause (starts a paused run if none is going)."""
        self._stepping = True
        if self.slot.worker is None:
            if self.start(paused=True):
                self.slot.worker.step()
        else:
            self.slot.worker.pause()
            self.state.paused = True
            self.slot.worker.step()
        self._buttons()

    def stop(self) -> None:
        """End training now, keeping the weights reached so far."""
        w = self.slot.worker
        if w is not None:
            w.finish_early(True)
            w.resume()

    def cancel(self) -> None:
        """Drop the running job without using its result."""
        self.slot.cancel()
        self._frame.stop()
        self._pending_surface = self._pending_event = None
        self.state.set(running=False, paused=False)
        self._buttons()

    def clear(self) -> None:
        """Stop any run and empty the plots (a new scene)."""
        self.cancel()
        self.state.clear()
        self.loss_curve.setData([], [])
        self.r2_curve.setData([], [])
        self.progress.setValue(0)
        self.progress.setFormat("not trained yet")

    def reset(self) -> None:
        self.clear()
        self.doc.reset_network()
