"""The Qt adapter of a job (nnlab.app.hosts): runs it on a QThread and turns its reports into signals, and a
one-job-per-panel slot.

The thread emits `yielded(event)`, `returned(result)`, `errored(exception)` and `finished()`. The job itself, on
this thread or in a worker process, follows the one control protocol of nnlab.app.hosts (stop, pause/step, a value
to `send`, e.g. True = "stop, but return what you have", which train() understands); nothing is delivered once it
was told to stop.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6 import QtCore

from nnlab.app.hosts import GenFactory, Job, ProcessJob, ThreadJob


class GeneratorWorker(QtCore.QThread):
    """Runs `factory()` (which builds the generator, so argument errors land in `errored`) on its own thread, or in
    a worker process with `process=True` (picklable factory; the GUI keeps its GIL)."""

    yielded = QtCore.Signal(object)
    returned = QtCore.Signal(object)
    errored = QtCore.Signal(object)

    def __init__(self, factory: GenFactory, parent: QtCore.QObject | None = None, paused: bool = False,
                 process: bool = False) -> None:
        super().__init__(parent)
        self.job: Job = ProcessJob(factory, paused) if process else ThreadJob(factory, paused)

    # ---- control (any thread) ------------------------------------------------------------------------
    def stop(self) -> None:
        self.job.stop()

    def finish_early(self, value: Any = True) -> None:
        self.job.finish_early(value)

    def pause(self) -> None:
        self.job.pause()

    def resume(self) -> None:
        self.job.resume()

    def step(self) -> None:
        self.job.step()

    def kill(self) -> None:
        self.job.kill()

    @property
    def paused(self) -> bool:
        return self.job.paused

    @property
    def stopping(self) -> bool:
        return self.job.stopping

    # ---- the thread --------------------------------------------------------------------------------------
    def run(self) -> None:
        self.job.run(self._report)

    def _report(self, kind: str, payload: Any) -> None:
        if self.job.stopping:
            return
        if kind == "yield":
            self.yielded.emit(payload)
        elif kind == "return":
            self.returned.emit(payload)
        elif kind == "error":
            self.errored.emit(payload)


class TaskSlot(QtCore.QObject):
    """One job at a time: starting a new one stops the old and drops whatever it still emits (stale results never
    arrive: every handler first checks that its job is still the current one)."""

    busy_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.worker: GeneratorWorker | None = None
        self._retired: list[GeneratorWorker] = []

    def start(self, factory: GenFactory, on_yield: Callable[[Any], None] | None = None,
              on_return: Callable[[Any], None] | None = None, on_error: Callable[[Exception], None] | None = None,
              on_finish: Callable[[], None] | None = None, paused: bool = False,
              process: bool = False) -> GeneratorWorker:
        """Start a job; `process=True` runs it in a worker process (picklable factory), keeping the GUI's GIL free."""
        self.cancel()
        w = GeneratorWorker(factory, paused=paused, process=process)
        self.worker = w
        # handlers check that `w` is still the current job: a queued event posted before cancel() is dropped
        # (slots return None: PySide6 mishandles a bool returned from a lambda slot)
        if on_yield:
            w.yielded.connect(lambda ev, w=w: self._deliver(w, on_yield, ev))
        if on_return:
            w.returned.connect(lambda r, w=w: self._deliver(w, on_return, r))
        if on_error:
            w.errored.connect(lambda e, w=w: self._deliver(w, on_error, e))
        w.finished.connect(lambda w=w: self._done(w, on_finish))
        w.start()
        self.busy_changed.emit(True)
        return w

    def _deliver(self, w: GeneratorWorker, fn: Callable[[Any], None], value: Any) -> None:
        if self.worker is w:
            fn(value)

    def _done(self, w: GeneratorWorker, on_finish: Callable[[], None] | None) -> None:
        if self.worker is w:
            self.worker = None
            if on_finish:
                on_finish()
            self.busy_changed.emit(False)
        if w in self._retired:
            self._retired.remove(w)
        w.deleteLater()

    def cancel(self) -> None:
        """Stop the current job (it closes at its next yield) and forget it."""
        w = self.worker
        if w is None:
            return
        self.worker = None
        w.stop()  # its handlers also check `self.worker is w`, so nothing it still emits is used
        self._retired.append(w)
        self.busy_changed.emit(False)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def shutdown(self, timeout_ms: int = 5000, deadline: float | None = None) -> bool:
        """Stop everything and wait for the threads (window close). True if all ended in time. All jobs are told
        to stop first and then share one deadline (`deadline`, time.monotonic(), overrides `timeout_ms`), so N jobs
        take as long as one; process jobs still running then are terminated together."""
        import time

        self.cancel()
        workers = list(self._retired)
        if deadline is None:
            deadline = time.monotonic() + timeout_ms / 1000.0
        for w in workers:
            w.wait(max(0, int(1000 * (deadline - time.monotonic()))))
        stuck = [w for w in workers if not w.isFinished()]
        for w in stuck:
            w.kill()  # a process job stuck between yields: its process is terminated (a thread is told to stop)
        ok = True
        end = time.monotonic() + 2.0
        for w in stuck:
            ok = w.wait(max(0, int(1000 * (end - time.monotonic())))) and ok
        return ok
