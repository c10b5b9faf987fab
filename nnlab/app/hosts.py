"""Jobs: one control protocol for a generator run on a thread or in a worker process ("host"), and the hosts.

Training and the optimizers are pure Python/torch loops; on a thread they share the GIL with the GUI, and every
repaint waits for it (the event loop then stalls for 100+ ms on a loaded 2-core machine). In a child process the GUI
keeps its own interpreter. Hosts are started once (spawn), keep torch imported, and are reused. Nothing here imports
Qt, so a host never loads PySide6 (the Qt adapter, nnlab.ui.worker, turns a job's reports into signals).

The protocol, the same for both: control messages ("stop",) | ("pause",) | ("resume",) | ("step",) | ("send", v)
| ("quit",) are applied to a JobControl, which `drive` consults between two yields; a job reports
("yield", event) | ("return", value) | ("error", exc[, traceback text]) | ("closed",) (stopped). A ThreadJob applies
the messages directly; a ProcessJob sends them to its host (parent -> host also ("job", factory, paused)), whose
`drive` runs under a JobControl fed from the host's control queue. `factory` must be picklable for a process job
(a module-level function or functools.partial of one, see nnlab.app.jobs).
"""
from __future__ import annotations

import atexit
import multiprocessing as mp
import multiprocessing.util  # noqa: F401 - registers its exit handler now, so shutdown_hosts (registered later) runs
# first: multiprocessing's own handler joins the queues' feeder threads, which a dead host's full pipe blocks forever
import pickle
import queue
import threading
import time
from typing import Any, Callable, Generator

from nnlab.interrupts import exit_with_parent

GenFactory = Callable[[], Generator[Any, Any, Any]]
Emit = Callable[[str, Any], None]  # (kind, payload): "yield" event, "return" value, "error" exception, "closed" None


# ---- the control protocol -------------------------------------------------------------------------------------
class JobControl:
    """What a running job is told between two yields: stop, pause/resume, step (one more event while paused), a
    value to send. Messages may come from any thread (`apply`) or, in a host, from `inbox(timeout)` (its control
    queue), which `between` polls while the job waits."""

    def __init__(self, paused: bool = False, inbox: Callable[[float], tuple | None] | None = None) -> None:
        self._cond = threading.Condition()
        self._inbox = inbox
        self.stopped = False
        self.quit = False  # the host must end after this job
        self.paused = paused
        self.steps = 0
        self.value: Any = None

    def apply(self, msg: tuple) -> None:
        kind = msg[0]
        with self._cond:
            if kind in ("stop", "quit"):
                self.stopped = True
                self.quit = self.quit or kind == "quit"
            elif kind == "pause":
                self.paused = True
            elif kind == "resume":
                self.paused = False
            elif kind == "step":
                self.steps += 1
            elif kind == "send":
                self.value = msg[1]
            self._cond.notify_all()

    def _drain(self) -> None:
        while self._inbox is not None:
            msg = self._inbox(0.0)
            if msg is None:
                return
            self.apply(msg)

    def stop_requested(self) -> bool:
        """Apply waiting messages; True once the job must end."""
        self._drain()
        return self.stopped

    def between(self) -> tuple[bool, Any]:
        """After a yield: wait while paused (a step lets one event through); returns (stop, value to send)."""
        while True:
            self._drain()
            with self._cond:
                if self.stopped:
                    return True, None
                if self.value is not None:
                    v, self.value = self.value, None
                    return False, v
                if not self.paused:
                    return False, None
                if self.steps > 0:
                    self.steps -= 1
                    return False, None
                if self._inbox is None:
                    self._cond.wait(0.1)
                    continue
            msg = self._inbox(0.5)
            if msg is not None:
                self.apply(msg)


def drive(factory: GenFactory, ctl: JobControl, emit: Emit) -> None:
    """Run `factory()`'s generator under `ctl`, reporting each event and how it ended through `emit`. The factory
    builds the generator here, so argument errors are reported like any other; a job stopped before it started
    (its host was still importing torch) is not started at all."""
    gen = None
    try:
        if ctl.stop_requested():
            emit("closed", None)
            return
        gen = factory()
        value, first = None, True
        while True:
            event = next(gen) if first or value is None else gen.send(value)  # plain iterators work too
            first = False
            if ctl.stop_requested():
                emit("closed", None)
                return
            emit("yield", event)
            stop, value = ctl.between()
            if stop:
                emit("closed", None)
                return
    except StopIteration as done:
        emit("return", done.value)
    except Exception as exc:  # noqa: BLE001 - reported to the app, never crashes it
        emit("error", exc)
    finally:
        if gen is not None:
            try:
                gen.close()
            except Exception:  # noqa: BLE001
                pass


class Job:
    """The control calls of a job (any thread); subclasses say where the messages go."""

    def __init__(self, factory: GenFactory, paused: bool = False) -> None:
        self.factory = factory
        self.control = JobControl(paused)  # (a process job: the parent's mirror of what it told the host)

    def _tell(self, *msg: Any) -> None:
        self.control.apply(msg)

    def stop(self) -> None:
        """Close the generator at its next yield; no result is returned."""
        self._tell("stop")

    def finish_early(self, value: Any = True) -> None:
        """Send `value` at the next yield so the generator can return a partial result (train: status cancelled)."""
        self._tell("send", value)

    def pause(self) -> None:
        self._tell("pause")

    def resume(self) -> None:
        self._tell("resume")

    def step(self) -> None:
        """While paused: let exactly one more event through."""
        self._tell("step")

    def kill(self) -> None:
        """Last resort at shutdown (a thread cannot be killed: it is told to stop)."""
        self.stop()

    @property
    def paused(self) -> bool:
        return self.control.paused

    @property
    def stopping(self) -> bool:
        return self.control.stopped

    def run(self, emit: Emit) -> None:
        raise NotImplementedError


class ThreadJob(Job):
    """A job on the caller's thread (the Qt adapter runs it on a QThread)."""

    def run(self, emit: Emit) -> None:
        drive(self.factory, self.control, emit)


# ---- the host (child side) ----------------------------------------------------------------------------------
def _dumps(msg: tuple) -> bytes:
    try:
        return pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as e:  # noqa: BLE001 - an event or exception that cannot travel
        if msg[0] == "error":
            return pickle.dumps(("error", RuntimeError(str(msg[1])), *msg[2:]))
        return pickle.dumps(("error", RuntimeError(f"cannot send {type(msg[1]).__name__} to the app: {e}")))


def _host_main(ctrl: "mp.Queue", out: "mp.Queue", path: list[str]) -> None:
    """The child's loop: run jobs one after another until told to quit. Ctrl+C in a terminal reaches the whole
    process group: a host ignores it (the app decides when its hosts end; it was blocked since the fork)."""
    import signal
    import sys

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    sys.path[:] = list(dict.fromkeys([*path, *sys.path]))  # job factories import like they did in the app
    # end this host when the app is gone (SIGKILL, a crash): its queues' pipes never report EOF, since the host
    # holds both of their ends, so an orphan would otherwise wait in ctrl.get() forever
    exit_with_parent(every=1.0, code=0)
    try:
        import os

        import nnlab.engine.train.training  # noqa: F401  (warm up: torch is imported once per host)
        from nnlab.engine.threads import set_torch_threads

        # leave a core to the GUI (it renders with the CPU under software GL): the app must stay responsive
        set_torch_threads((os.cpu_count() or 2) - 1)
        os.nice(5)  # and let the GUI win when the machine is busy anyway
    except Exception:  # noqa: BLE001
        pass
    _single_thread_blas()
    while True:
        msg = ctrl.get()
        if msg[0] == "quit":
            return
        if msg[0] == "job" and _run_job(msg[1], msg[2], ctrl, out):
            return
        # anything else is a late control message for a job that has ended: ignored


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
    """Run one job in the host under a JobControl fed from the control queue; True if the host must quit."""
    import traceback

    def inbox(timeout: float) -> tuple | None:
        try:
            return ctrl.get(timeout=timeout) if timeout > 0 else ctrl.get_nowait()
        except queue.Empty:
            return None

    def emit(kind: str, payload: Any) -> None:
        if kind == "error":  # with its traceback text (lost in pickling)
            out.put(_dumps(("error", payload, "".join(traceback.format_exception(payload)))))
        elif kind == "closed":
            out.put(_dumps(("closed",)))
        else:
            out.put(_dumps((kind, payload)))

    ctl = JobControl(paused, inbox)
    drive(factory, ctl, emit)
    return ctl.quit


# ---- hosts (parent side) ------------------------------------------------------------------------------------
_POOL: list["Host"] = []
_ALL: list["Host"] = []
_COND = threading.Condition()  # guards _POOL, _ALL and _closing; notified when a host comes free or ends
MAX_HOSTS = 4  # train, optimize, compare and the Info panel's metrics may run at once; never more processes
PATIENCE = 1.0  # seconds a new job waits for a host to come free before a cancelled job's host is replaced
_closing = False


class Host:
    """One child process with its two queues; `owner` is the job it runs (None while idle)."""

    def __init__(self) -> None:
        import os
        import signal
        import sys

        ctx = mp.get_context("spawn")
        self.ctrl = ctx.Queue()
        self.out = ctx.Queue()
        self.owner: "ProcessJob | None" = None
        self.closed = False
        path = [os.path.abspath(p) if p else os.getcwd() for p in sys.path]
        self.proc = ctx.Process(target=_host_main, args=(self.ctrl, self.out, path), daemon=True,
                                name="nnlab-worker")
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # inherited: the child starts deaf to it
        try:
            self.proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)

    def alive(self) -> bool:
        return not self.closed and self.proc.is_alive()

    def send(self, msg: tuple) -> None:
        """Queue a control message; a host that is gone or closed ignores it."""
        try:
            if not self.closed:
                self.ctrl.put(msg)
        except (ValueError, OSError):  # the queue was closed by kill() on another thread
            pass

    def kill(self, wait: float = 1.0) -> None:
        """Terminate the process (SIGKILL if SIGTERM is not enough) and close its queues. The queues' feeder
        thread may be blocked writing a job pickle into the pipe of a host that died before reading it (e.g. while
        importing torch): cancel_join_thread() keeps interpreter exit from waiting for that write forever."""
        _forget(self)
        if self.proc.is_alive():
            self.proc.terminate()
        self.proc.join(wait)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(wait)
        self.close_queues()

    def close_queues(self) -> None:
        self.closed = True
        for q in (self.ctrl, self.out):
            try:
                q.cancel_join_thread()
                q.close()
            except Exception:  # noqa: BLE001 - already closed
                pass


def _forget(h: Host) -> None:
    with _COND:
        if h in _ALL:
            _ALL.remove(h)
        if h in _POOL:
            _POOL.remove(h)
        _COND.notify_all()


def acquire(owner: "ProcessJob | None" = None) -> Host | None:
    """A host for `owner`'s job: an idle one, a new one while fewer than MAX_HOSTS live, else the first to come
    free. A host still busy with a cancelled job (stopping) is killed and replaced after PATIENCE seconds, so fast
    repeated starts (T/Space presses) reuse or replace processes instead of piling them up. None if `owner` was
    stopped while it waited."""
    t0 = time.monotonic()
    while True:
        victim = None
        with _COND:
            if _closing:
                raise RuntimeError("the app is shutting down")
            for h in [h for h in _ALL if not h.proc.is_alive()]:
                _ALL.remove(h)
                if h in _POOL:
                    _POOL.remove(h)
            while _POOL:
                h = _POOL.pop()
                if h.alive():
                    h.owner = owner
                    return h
            if owner is not None and owner.stopping:
                return None
            if len(_ALL) < MAX_HOSTS:
                h = Host()
                h.owner = owner
                _ALL.append(h)
                return h
            if time.monotonic() - t0 >= PATIENCE:
                stale = [h for h in _ALL if h.owner is not None and h.owner.stopping]
                victim = stale[0] if stale else None
            if victim is None:
                _COND.wait(0.1)
                continue
        victim.kill(0.5)  # outside the lock: its owner's thread notices and ends quietly


def release(h: Host) -> None:
    with _COND:
        h.owner = None
        if h.alive() and not _closing and h in _ALL:
            _POOL.append(h)
        _COND.notify_all()


def live_hosts() -> int:
    """Worker processes alive now (tests and shutdown)."""
    with _COND:
        return sum(h.proc.is_alive() for h in _ALL)


def busy_hosts() -> int:
    """Worker processes running a job now (a cancelled one may still be stopping): the hosts new jobs cannot take."""
    with _COND:
        return sum(h.owner is not None and h.proc.is_alive() for h in _ALL)


def prewarm() -> None:
    """Start one host in the background so the first Train press does not wait for torch to import."""
    def warm() -> None:
        try:
            h = acquire()
        except RuntimeError:
            return
        if h is not None:
            release(h)

    threading.Thread(target=warm, daemon=True).start()


@atexit.register
def shutdown_hosts(timeout: float = 2.0) -> None:
    """Quit every host with one shared deadline: ask all, wait for all, then terminate (and SIGKILL) the rest at
    once; stopping N hosts takes as long as stopping one."""
    global _closing
    with _COND:
        _closing = True
        hosts = list(_ALL)
        _ALL.clear()
        _POOL.clear()
        _COND.notify_all()
    for h in hosts:
        h.send(("quit",))
    _join_all(hosts, timeout)
    for h in hosts:
        if h.proc.is_alive():
            h.proc.terminate()
    _join_all(hosts, 1.0)
    for h in hosts:
        if h.proc.is_alive():
            h.proc.kill()
    _join_all(hosts, 1.0)
    for h in hosts:
        h.close_queues()
    with _COND:
        _closing = False  # (tests) later jobs may start hosts again


def _join_all(hosts: list[Host], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for h in hosts:
        h.proc.join(max(0.0, deadline - time.monotonic()))


class ProcessJob(Job):
    """A job whose generator runs in a host; control calls become messages (and are mirrored in `control`)."""

    def __init__(self, factory: GenFactory, paused: bool = False) -> None:
        super().__init__(factory, paused)
        self.host: Host | None = None
        self._lock = threading.Lock()
        self._pending: list[tuple] = []
        self._over = False

    def _tell(self, *msg: Any) -> None:
        super()._tell(*msg)
        with self._lock:
            if self._over:  # the host may already run someone else's job
                return
            if self.host is None:
                self._pending.append(msg)
                return
            self.host.send(msg)

    def kill(self) -> None:
        """A job that does not reach its next yield in time is terminated (its process)."""
        with self._lock:
            h = self.host
            self._over = True  # a job still waiting for a host gives up
        self.control.apply(("stop",))
        if h is not None:
            h.kill(0.5)

    def run(self, emit: Emit) -> None:
        try:
            pickle.dumps(self.factory)  # mp.Queue pickles on a feeder thread, where a failure would be silent
        except Exception as e:  # noqa: BLE001
            emit("error", TypeError(f"this job cannot run in a worker process: {e}"))
            return
        try:
            host = acquire(self)
        except Exception as e:  # noqa: BLE001
            emit("error", RuntimeError(f"cannot start a worker process: {e}"))
            return
        if host is None:  # stopped while waiting for a host: nothing ran
            return
        with self._lock:
            self.host = host
            pending, self._pending = self._pending, []
            over = self._over
        if over:  # killed while it waited
            release(host)
            return
        host.send(("job", self.factory, self.control.paused))  # (the pending messages replayed next are idempotent)
        for msg in pending:
            host.send(msg)
        clean = False
        try:
            while True:
                try:
                    raw = host.out.get(timeout=0.2)
                except queue.Empty:
                    if not host.alive():
                        emit("error", RuntimeError("the worker process ended unexpectedly"))
                        return
                    continue
                except (OSError, ValueError, EOFError):  # its queues were closed by kill()
                    return
                msg = pickle.loads(raw)
                if msg[0] == "yield":
                    emit("yield", msg[1])
                    continue
                if msg[0] == "return":
                    emit("return", msg[1])
                elif msg[0] == "error":
                    exc = msg[1]
                    if len(msg) > 2:
                        try:
                            exc.remote_traceback = msg[2]  # nnlab.app.errors.describe prints it for a bug
                        except AttributeError:
                            pass
                    emit("error", exc)
                clean = True
                return
        finally:
            with self._lock:
                self._over = True
                self.host = None
            if clean:
                release(host)
            else:
                host.kill(0.5)

