"""One adapter that runs any engine generator on a QThread (napari/superqt style), and a one-job-per-panel slot.

The thread emits `yielded(event)`, `returned(result)`, `errored(exception)` and `finished()`. Between yields it
honours stop (gen.close(), nothing returned), pause/step, and a value to `send` (e.g. True = "stop, but return what
you have", which train() understands).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Generator

from PySide6 import QtCore

GenFactory = Callable[[], Generator[Any, Any, Any]]


class GeneratorWorker(QtCore.QThread):
    """Runs `factory()` (which builds the generator, so argument errors land in `errored`) on its own thread."""

    yielded = QtCore.Signal(object)
    returned = QtCore.Signal(object)
    errored = QtCore.Signal(object)

    def __init__(self, factory: GenFactory, parent: QtCore.QObject | None = None, paused: bool = False) -> None:
        super().__init__(parent)
        self._factory = factory
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._paused = paused
        self._steps = 0
        self._send: Any = None

    # ---- control (any thread) ------------------------------------------------------------------------
    def stop(self) -> None:
        """Close the generator at its next yield; no result is returned."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()

    def finish_early(self, value: Any = True) -> None:
        """Send `value` at the next yield so the generator can return a partial result (train: status cancelled)."""
        with self._cond:
            self._send = value
            self._cond.notify_all()

    def pause(self) -> None:
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """While paused: let exactly one more event through."""
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # ---- the thread --------------------------------------------------------------------------------------
    def run(self) -> None:
        gen = None
        try:
            gen = self._factory()
            value = None
            first = True
            while True:
                if self._stop.is_set():
                    return
                event = next(gen) if first else gen.send(value)
                first = False
                if self._stop.is_set():
                    return
                self.yielded.emit(event)
                value = self._wait()
        except StopIteration as done:
            if not self._stop.is_set():
                self.returned.emit(done.value)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never crashes the app
            if not self._stop.is_set():
                self.errored.emit(exc)
        finally:
            if gen is not None:
                try:
                    gen.close()
                except Exception:  # noqa: BLE001
                    pass

    def _wait(self) -> Any:
        """Block while paused (wake for step/stop/finish); return the value to send."""
        with self._cond:
            while True:
                if self._send is not None:
                    v, self._send = self._send, None
                    return v
                if self._stop.is_set() or not self._paused:
                    return None
                if self._steps > 0:
                    self._steps -= 1
                    return None
                self._cond.wait(0.1)


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
        if process:
            from nnlab.ui.process_worker import ProcessGeneratorWorker

            w: GeneratorWorker = ProcessGeneratorWorker(factory, paused=paused)
        else:
            w = GeneratorWorker(factory, paused=paused)
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
            kill = getattr(w, "kill", None)
            if kill is not None:  # a process job stuck between yields: terminate its process
                kill()
        ok = True
        end = time.monotonic() + 2.0
        for w in stuck:
            ok = w.wait(max(0, int(1000 * (end - time.monotonic())))) and ok
        return ok
