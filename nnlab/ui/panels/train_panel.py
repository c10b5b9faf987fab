"""Target & training panel: target (registry, expression validated as you type, CSV), data and optimizer settings,
Train / Resume / Pause / Step / Stop / Restart / Reset, and a live plot of the loss and validation R². Training runs
on a worker; its events are recorded in the model's TrainState (doc.training), which the plots and progress bar are
drawn from. A scene that says to train takes its weights from the training cache when it has them (bundled for the
presets, or trained here before: nnlab.app.training.cached_network); a finished run is cached.

Everything here describes the network on screen: a new network (new sample, new architecture, another scene) clears
the curves and the status line."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from nnlab.app.choices import field_choices
from nnlab.app.document import Document
from nnlab.app.errors import describe
from nnlab.app.training import LiveDiagram, cached_network, with_diagrams
from nnlab.engine.analysis.diagram import MAX_SHOWN
from nnlab.engine.model.scene import Scene, TrainSpec
from nnlab.ui.forms import combo, set_quiet, spin_float, spin_int
from nnlab.ui.progress import ProgressBar
from nnlab.ui.panels.target_box import TargetBox
from nnlab.ui.worker import TaskSlot


PROCESS_JOBS = True  # train in a worker process (the GUI keeps its GIL); False: on a thread
FRAME_MS = 300  # one screen refresh at most every FRAME_MS while training: the surface, the curves, the status and
# the live network diagram together. With a GL view in the window every repaint of anything re-composes the whole
# window (about 40 ms under software GL at 1920x1080: bench/ui_latency.py --profile), so each separate refresh paid
# that once; one refresh per frame pays it once for all of them


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
        self._own_network = False  # set while this panel puts its training result on screen
        self._run: Scene | None = None  # the scene of the running or last run
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
        self.restart_btn = QtWidgets.QPushButton("Restart")
        self.restart_btn.setToolTip("Fresh weights (the scene's initial network) and a fresh schedule from epoch 0")
        self.reset_btn = QtWidgets.QPushButton("Reset")
        self.reset_btn.setToolTip("Back to the initial weights, no training")
        self.pause_btn.setToolTip("Pause after this epoch (Resume goes on)")
        self.step_btn.setToolTip("One epoch, then pause")
        self.stop_btn.setToolTip("End the run now, keeping the weights reached (Resume can go on later)")
        for b in (self.train_btn, self.pause_btn, self.step_btn):  # two rows of three: fits a narrow dock
            btns.addWidget(b)
        lay.addLayout(btns)
        btns2 = QtWidgets.QHBoxLayout()
        for b in (self.stop_btn, self.restart_btn, self.reset_btn):
            btns2.addWidget(b)
        lay.addLayout(btns2)
        self.progress = ProgressBar()
        self.progress.setFormat("not trained yet")
        lay.addWidget(self.progress)
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setMinimumHeight(170)
        self.plots.setBackground(None)  # the theme shows through
        self.loss_plot = self.plots.addPlot(row=0, col=0, axisItems={"left": PlainLogAxis("left"),
                                                                     "bottom": PlainAxis("bottom")})
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setLabel("left", "loss")
        self.r2_plot = self.plots.addPlot(row=1, col=0, axisItems={"left": PlainAxis("left"),
                                                                   "bottom": PlainAxis("bottom")})
        self.r2_plot.setLabel("left", "val R²")
        self.r2_plot.setLabel("bottom", "epoch")
        for plot in (self.loss_plot, self.r2_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
        self.placeholder = QtWidgets.QLabel("Loss and validation R² per epoch appear here while training.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setEnabled(False)  # drawn in the theme's disabled text colour
        lay.addWidget(self.placeholder)
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
        self.restart_btn.clicked.connect(self.restart)
        self.reset_btn.clicked.connect(self.reset)
        self.slot.busy_changed.connect(lambda _b: self._buttons())
        self.target_box.expr_state_changed.connect(lambda _ok: self._buttons())
        doc.scene_changed.connect(self.sync)
        doc.target_changed.connect(self.cancel)
        doc.network_changed.connect(self._on_new_network)
        self.sync()
        self._show_curves()

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
    def can_train(self) -> str:
        """Why the scene cannot be trained now ("" when it can): no target, or a typed expression that is refused
        (training would silently use the previous one)."""
        if self.doc.scene.target.name == "none":
            return "choose a target before training"
        if self.target_box.refused():
            return "the expression is refused: fix it (or press Enter on a valid one) before training"
        return ""

    def resumable(self) -> bool:
        """The last run was stopped early and nothing that determines it changed since: Resume goes on."""
        return (self.slot.worker is None and self.state.resumable and self._run == self.doc.scene
                and self.doc.trained)

    def _buttons(self) -> None:
        w = self.slot.worker
        why = self.can_train()
        paused = w is not None and w.paused
        resumable = self.resumable()
        self.train_btn.setEnabled(not why and (w is None or paused))
        if paused or resumable:
            self.train_btn.setText("Resume")
            self.train_btn.setToolTip(f"Go on from epoch {max(self.state.epoch, 0)} of {self.state.epochs}: "
                                      "the same schedule and epoch counter")
        elif self.doc.trained and w is None:
            self.train_btn.setText("Train more")
            self.train_btn.setToolTip("Another run from the weights on screen, with a fresh schedule from epoch 0")
        else:
            self.train_btn.setText("Train")
            self.train_btn.setToolTip("Train the network on screen on the target")
        if why:
            self.train_btn.setToolTip(why)
        self.pause_btn.setEnabled(w is not None and not w.paused)
        self.step_btn.setEnabled(not why)
        self.stop_btn.setEnabled(w is not None)
        self.restart_btn.setEnabled(not why and (w is not None or self.doc.trained or bool(self.state.history)))

    def train_or_resume(self) -> None:
        w = self.slot.worker
        if w is not None:
            w.resume()
            self.state.paused = False
            self._stepping = False
            self._status_line()
        elif self.resumable():
            self.start(resume=True)
        else:
            self.start()
        self._buttons()

    def restart(self) -> None:
        """Fresh weights (the scene's initial network) and a fresh schedule, training from epoch 0."""
        self.cancel()
        self._own_network = True
        try:
            self.doc.reset_network()
        finally:
            self._own_network = False
        self.start()
        self.doc.message.emit("Restarted: the initial weights, a fresh schedule from epoch 0")

    def toggle(self) -> None:
        """T key: train, pause, resume."""
        w = self.slot.worker
        if w is not None and not w.paused:
            self.pause()
        else:
            self.train_or_resume()

    def start(self, paused: bool = False, resume: bool = False) -> bool:
        """Train the network on screen; `resume`: go on with a stopped run (its schedule and epoch counter)."""
        from nnlab.engine.train.training import TrainError

        why = self.can_train()
        if why:
            self.doc.error.emit(why)
            self._buttons()
            return False
        self.target_box.apply_expr()  # a valid expression typed but not yet entered: train on what is shown
        scene = self.doc.scene
        resume = resume and self.resumable()
        first = self.state.result.epochs_run if resume else 0
        carry = self.state.result.optimizer_state if resume else None  # Adam's moments go on too
        self.state.begin(scene.train.epochs, paused, resume=resume)
        fresh = self.doc.net is self.doc.initial
        self._run = scene
        self.progress.setRange(0, scene.train.epochs)
        self.progress.setValue(first)
        self.progress.setFormat(f"{'resuming' if resume else 'starting'}… (epoch %v / %m)")
        if not resume:
            self._show_curves()

        def on_yield(ev: object) -> None:
            if isinstance(ev, LiveDiagram):  # the live weights' diagram, computed by the worker
                self.state.live_diagram = ev
                ev = ev.progress
            if isinstance(ev, TrainError):
                self.state.failed = f"{ev.message} ({ev.hint})"
                self.doc.error.emit(f"training: {ev.message} ({ev.hint})")
                return
            self._progress(ev)

        lo, hi = self.doc.domain()
        job = with_diagrams(self.doc.train_job(first_epoch=first, cache=fresh and not resume,
                                                resume_state=carry), lo, hi, MAX_SHOWN)
        self.slot.start(job, on_yield, self._finished, self._failed, self._ended,
                        paused=paused, process=PROCESS_JOBS)
        self.doc.message.emit(f"Resuming at epoch {first} of {scene.train.epochs}…" if resume else
                              f"Training {scene.train.epochs} epochs…")
        return True

    def train_scene(self) -> str:
        """A scene that says to train: its cached weights when there are some ("bundled" or "cache", no training),
        else a training run ("trained"); "" when it cannot train."""
        found = cached_network(self.doc.scene) if not self.can_train() else None
        if found is None:
            return "trained" if self.start() else ""
        snap, source = found
        self.cancel()
        self._own_network = True
        try:
            self.doc.set_network(snap, trained=True)
        finally:
            self._own_network = False
        self.state.clear()
        self._show_curves()
        where = "shipped with nnlab" if source == "bundled" else "from an earlier run here"
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(f"trained weights {where}: no training needed")
        self.progress.setToolTip("This scene's trained network was found in the training cache (it is trained once); "
                                 "Restart trains it again from its initial weights")
        self._buttons()
        return source

    def _progress(self, ev) -> None:
        """Record every epoch; the screen is refreshed at most every FRAME_MS (see _flush)."""
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
        """One screen refresh of what arrived since the last: the surface, the curves and the status line, then
        `state.frame` tells the live views (the network diagram) to redraw now, in this same event-loop pass, so
        all of it reaches the screen in one composition of the window."""
        surface, self._pending_surface = self._pending_surface, None
        ev, self._pending_event = self._pending_event, None
        if surface is not None:
            self.doc.show_surface(surface)
        if ev is not None:
            self._show_curves()
            self._status_line()
        if surface is not None or ev is not None:
            self.state.frame += 1

    def _finished(self, result) -> None:
        self._frame.stop()
        self._flush()
        self.state.finish(result)
        self._own_network = True
        try:
            self.doc.set_network(result.snapshot, trained=True, surface=result.surface)
        finally:
            self._own_network = False
        self._show_curves()
        self._status_line()
        self._buttons()
        r2 = "—" if result.val_r2 is None else f"{result.val_r2:.4f}"
        self.doc.message.emit(f"Training {result.status}: {result.epochs_run} epochs, loss {result.train_loss:.4g}, "
                              f"val R² {r2}, {result.seconds:.1f} s")

        # on the next turn of the event loop: finishing a run (new network, its surface, its thumbnails) was one
        # 80-100 ms stall of the window (bench/ui_latency.py). A fresh run's job has cached it before it returned
        QtCore.QTimer.singleShot(0, self, lambda: self.trained.emit(result))

    def _on_new_network(self) -> None:
        """A network this panel did not train is on screen (new sample, architecture, scene, loaded weights): the
        running job trains one that is gone, and the curves and status describe it; both go."""
        if self._own_network:
            return
        self.clear()

    def _failed(self, e: Exception) -> None:
        msg = describe(e)
        self.state.fail(msg)
        self.doc.error.emit(f"training failed: {msg}")
        self._status_line()

    def _ended(self) -> None:
        self.state.set(running=False, paused=False)
        if self.state.result is None:  # no result: an error, or the run was dropped
            self._status_line()
        self._buttons()

    def _status_line(self) -> None:
        """The progress bar's text, from the TrainState: what the run did, or why it did not."""
        st, ev, res = self.state, self.state.last, self.state.result
        self.progress.setRange(0, max(st.epochs, 1))
        self.progress.setValue(max(st.epoch, 0))
        r2 = lambda v: "—" if v is None or v != v else f"{v:.4f}"  # noqa: E731
        if st.failed and res is None:
            self.progress.setFormat(f"training failed at epoch {max(st.epoch, 0)}: {st.failed}")
        elif res is not None:
            what = {"done": "trained", "cancelled": "stopped", "diverged": "diverged"}.get(res.status, res.status)
            tail = ": weights of the last good epoch kept" if res.status == "diverged" else ""
            self.progress.setFormat(f"{what} at epoch {res.epochs_run} / %m   loss {res.train_loss:.4g}   "
                                    f"R² {r2(res.val_r2)}{tail}")
            self.progress.setValue(res.epochs_run)
        elif ev is not None:
            head = "paused at epoch" if st.paused else "epoch"
            tail = "   (Step: one more, Resume: go on)" if st.paused else ""
            self.progress.setFormat(f"{head} %v / %m   loss {ev.train_loss:.4g}   R² {r2(ev.val_r2)}{tail}")
        elif st.running:
            self.progress.setFormat("paused before epoch 1 (Step: one epoch, Resume: go on)" if st.paused
                                    else "starting… (epoch %v / %m)")
        elif self.doc.trained:
            self.progress.setFormat("trained network on screen (no curve)")
        else:
            self.progress.setFormat("not trained yet")

    def _show_curves(self) -> None:
        """Draw the TrainState's curve; no axes at all while there is none (a placeholder says what comes)."""
        h = np.array(self.history, dtype=np.float64).reshape(-1, 3)
        empty = len(h) == 0
        self.plots.setVisible(not empty)
        self.placeholder.setVisible(empty)
        if empty:
            self.loss_curve.setData([], [])
            self.r2_curve.setData([], [])
            return
        self.loss_curve.setData(h[:, 0], np.maximum(h[:, 1], 1e-12))
        self.r2_curve.setData(h[:, 0], np.clip(np.nan_to_num(h[:, 2], nan=0.0), -1.0, 1.0))

    def pause(self) -> None:
        if self.slot.worker is not None:
            self.slot.worker.pause()
            self.state.paused = True
            self._status_line()
        self._buttons()

    def step(self) -> None:
        """One more epoch, then pause (starts a paused run if none is going; during a run it pauses it, and says
        so)."""
        self._stepping = True
        if self.slot.worker is None:
            if self.start(paused=True, resume=self.resumable()):
                self.slot.worker.step()
        else:
            was_running = not self.slot.worker.paused
            self.slot.worker.pause()
            self.state.paused = True
            self.slot.worker.step()
            if was_running:
                self.doc.message.emit("Training paused: Step runs one epoch at a time, Resume goes on")
        self._status_line()
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
        self._run = None
        self._show_curves()
        self._status_line()
        self._buttons()

    def reset(self) -> None:
        self.clear()
        self.doc.reset_network()


class PlainAxis(pg.AxisItem):
    """Tick labels in the data's own units: no "(x0.001)" SI scaling of the axis (a lecture reads 0.04, not 40)."""

    def __init__(self, orientation: str, **kw) -> None:
        super().__init__(orientation, **kw)
        self.enableAutoSIPrefix(False)


class PlainLogAxis(PlainAxis):
    """A log axis labelled at powers of ten only (0.001, 0.01, 0.1, 1), so labels never overlap; within one decade
    (no power of ten in view) the ticks are labelled with two significant digits."""

    def logTickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        exps = [v * scale for v in values]
        whole = [abs(e - round(e)) < 1e-6 for e in exps]
        if not any(whole):
            return [f"{10 ** e:.2g}" for e in exps]
        return [f"{10 ** round(e):g}" if w else "" for e, w in zip(exps, whole)]
