"""Run an engine generator in a child process, behind the same interface as GeneratorWorker.

Training and the optimizers are pure Python/torch loops; on a thread they share the GIL with the GUI, and every
repaint waits for it (the event loop then stalls for 100+ ms on a loaded 2-core machine). In a child process the GUI
keeps its own interpreter. Child processes ("hosts") are started once (spawn), keep torch imported, and are reused.

Protocol: parent -> host ("job", factory, paused) | ("stop",) | ("pause",) | ("resume",) | ("step",) | ("send", v)
| ("quit",); host -> parent pickled ("yield", event) | ("return", value) | ("error", exc) | ("closed",).
`factory` must be picklable (a module-level function or functools.partial of one).
"""
from __future__ import annotations

import atexit
import multiprocessing as mp
import pickle
import queue
import threading
from typing import Any

from nnlab.ui.worker import GeneratorWorker

_POOL: list["Host"] = []
_ALL: list["Host"] = []
_LOCK = threading.Lock()


def _dumps(msg: tuple) -> bytes:
    try:
        return pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - an event or exception that cannot travel
        if msg[0] == "error":
            return pickle.dumps(("error", RuntimeError(str(msg[1]))))
        return pickle.dumps(("error", RuntimeError(f"cannot send {type(msg[1]).__name__} to the app: {e}")))


def _host_main(ctrl: "mp.Queue", out: "mp.Queue", path: list[str]) -> None:
    """The child's loop: run jobs one after another until told to quit."""
    import sys

    sys.path[:] = list(dict.fromkeys([*path, *sys.path]))  # job factories import like they did in the app
    try:
        import os

        import torch

        import nnlab.engine.train  # noqa: F401  (warm up: torch is imported once per host)

        # leave a core to the GUI (it renders with the CPU under software GL): the app must stay responsive
        torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        os.nice(5)  # and let the GUI win when the machine is busy anyway
    except Exception:  # noqa: BLE001
        pass
    _single_thread_blas()
    while True:
        msg = ctrl.get()
        if msg[0] == "quit":
            return
        if msg[0] == "job":
            if _run_job(msg[1], msg[2], ctrl, out):
                return


def _single_thread_blas() -> None:
    """numpy's OpenBLAS on one thread in the host: the small matrices of the jobs gain nothing from more, and its
    spinning threads on a loaded 2-core machine made landscape metrics up to 10x slower and starved the GUI."""
    import ctypes
    import glob
    import os

    try:
        import numpy as np

        libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
        for path in glob.glob(os.path.join(libs, "lib*openblas*.so*")):
            lib = ctypes.CDLL(path)
            for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                         "openblas_set_num_threads"):
                fn = getattr(lib, name, None)
                if fn is not None:
                    fn(1)
                    break
    except Exception:  # noqa: BLE001 - an optimisation only
        pass


def _run_job(factory: Any, paused: bool, ctrl: "mp.Queue", out: "mp.Queue") -> bool:
    """Run one generator; returns True if the host must quit."""
    gen = None
    try:
        gen = factory()
        first, value, steps = True, None, 0
        while True:
            event = next(gen) if first or value is None else gen.send(value)  # plain iterators work too
            first, value = False, None
            out.put(_dumps(("yield", event)))
            while True:  # control messages between yields; block while paused
                block = paused and steps == 0 and value is None
                try:
                    m = ctrl.get(timeout=0.5) if block else ctrl.get_nowait()
                except queue.Empty:
                    if block:
                        continue
                    break
                if m[0] in ("stop", "quit"):
                    out.put(_dumps(("closed",)))
                    return m[0] == "quit"
                if m[0] == "pause":
                    paused = True
                elif m[0] == "resume":
                    paused = False
                elif m[0] == "step":
                    steps += 1
                elif m[0] == "send":
                    value = m[1]
            if paused and steps > 0 and value is None:
                steps -= 1
    except StopIteration as done:
        out.put(_dumps(("return", done.value)))
    except Exception as exc:  # noqa: BLE001 - reported to the app
        out.put(_dumps(("error", exc)))
    finally:
        if gen is not None:
            try:
                gen.close()
            except Exception:  # noqa: BLE001
                pass
    return False


class Host:
    """One child process with its two queues."""

    def __init__(self) -> None:
        ctx = mp.get_context("spawn")
        self.ctrl = ctx.Queue()
        self.out = ctx.Queue()
        import os
        import sys

        path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
        self.proc = ctx.Process(target=_host_main, args=(self.ctrl, self.out, path), daemon=True,
                                name="nnlab-worker")
        self.proc.start()
        with _LOCK:
            _ALL.append(self)

    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(2)


def acquire() -> Host:
    with _LOCK:
        while _POOL:
            h = _POOL.pop()
            if h.alive():
                return h
    return Host()


def release(h: Host) -> None:
    if h.alive():
        with _LOCK:
            _POOL.append(h)


def prewarm() -> None:
    """Start one host in the background so the first Train press does not wait for torch to import."""
    threading.Thread(target=lambda: release(acquire()), daemon=True).start()


@atexit.register
def shutdown_hosts() -> None:
    with _LOCK:
        hosts = list(_ALL)
        _ALL.clear()
        _POOL.clear()
    for h in hosts:
        try:
            h.ctrl.put(("quit",))
        except Exception:  # noqa: BLE001
            pass
    for h in hosts:
        h.proc.join(1.0)
        h.kill()


class ProcessGeneratorWorker(GeneratorWorker):
    """GeneratorWorker whose generator runs in a host process; control calls become messages."""

    def __init__(self, factory, parent=None, paused: bool = False) -> None:
        super().__init__(factory, parent, paused)
        self.host: Host | None = None
        self._pending: list[tuple] = []
        self._over = False

    def _tell(self, *msg: Any) -> None:
        with self._cond:
            if self._over:  # the host may already run someone else's job
                return
            if self.host is None:
                self._pending.append(msg)
                return
            self.host.ctrl.put(msg)

    def stop(self) -> None:
        super().stop()
        self._tell("stop")

    def finish_early(self, value: Any = True) -> None:
        self._tell("send", value)

    def pause(self) -> None:
        super().pause()
        self._tell("pause")

    def resume(self) -> None:
        super().resume()
        self._tell("resume")

    def step(self) -> None:
        self._tell("step")

    def kill(self) -> None:
        """Last resort at shutdown: a job that does not reach its next yield in time is terminated."""
        with self._cond:
            h = self.host
        if h is not None:
            h.kill()

    def run(self) -> None:
        try:
            pickle.dumps(self._factory)  # mp.Queue pickles on a feeder thread, where a failure would be silent
        except Exception as e:  # noqa: BLE001
            self.errored.emit(TypeError(f"this job cannot run in a worker process: {e}"))
            return
        try:
            host = acquire()
        except Exception as e:  # noqa: BLE001
            self.errored.emit(RuntimeError(f"cannot start a worker process: {e}"))
            return
        with self._cond:
            self.host = host
            pending, self._pending = self._pending, []
        host.ctrl.put(("job", self._factory, self._paused))
        for msg in pending:
            host.ctrl.put(msg)
        clean = False
        try:
            while True:
                try:
                    raw = host.out.get(timeout=0.2)
                except queue.Empty:
                    if not host.alive():
                        if not self.stopping:
                            self.errored.emit(RuntimeError("the worker process ended unexpectedly"))
                        return
                    continue
                msg = pickle.loads(raw)
                if msg[0] == "yield":
                    if not self.stopping:
                        self.yielded.emit(msg[1])
                    continue
                if msg[0] == "return" and not self.stopping:
                    self.returned.emit(msg[1])
                elif msg[0] == "error" and not self.stopping:
                    self.errored.emit(msg[1])
                clean = True
                return
        finally:
            with self._cond:
                self._over = True
                self.host = None
            if clean:
                release(host)
            else:
                host.kill()
