"""Interrupts (SIGINT, SIGTERM, SIGHUP) that stop work only where stopping is safe.

`interrupt_handlers()` turns the signals into `Interrupted` (a KeyboardInterrupt carrying the signal number)
raised at once in plain Python/numpy code, but only recorded while a `deferred_interrupts()` block runs (module
imports: an interrupt inside a C extension's import leaves it half-initialised; Qt and GL rendering:
pyqtgraph's drawItemTree swallows exceptions raised in paint, an exception inside shiboken's import aborts the
interpreter, one raised while a QPainter is active crashes on teardown) and raised when that block ends. This is
the deferred-signal pattern of CPython's own signal-handling advice: the handler only sets a flag, the code checks
it where stopping is safe. Used by the CLI (while it imports the subcommands) and by exports (frames, commits).
"""
from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped the export; the conventional exit code is 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _InterruptState:
    signum: int | None = None  # the first signal received (sticky until the handlers are removed)
    raised = False  # Interrupted was raised once: cleanup code that follows must not be cut short again
    depth = 0  # nesting of deferred_interrupts() blocks on the main thread


_STATE = _InterruptState()
INTERRUPT_SIGNALS = tuple(getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n))


def _raise_once() -> None:
    _STATE.raised = True
    raise Interrupted(_STATE.signum)


def _on_signal(signum: int, frame) -> None:
    if _STATE.signum is None:
        _STATE.signum = signum
    if _STATE.depth == 0 and not _STATE.raised:
        _raise_once()


@contextmanager
def interrupt_handlers() -> Iterator[None]:
    """Route SIGINT/SIGTERM/SIGHUP to `Interrupted` for the duration of the block; the previous handlers come
    back afterwards. Outside the main thread (where handlers cannot be installed) this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _on_signal) for s in INTERRUPT_SIGNALS}
    _STATE.signum, _STATE.raised, _STATE.depth = None, False, 0
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _STATE.signum, _STATE.raised, _STATE.depth = None, False, 0


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Hold back an interrupt until the block ends (see the module docstring), then raise it (once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _STATE.depth += 1
    try:
        yield
    finally:
        _STATE.depth -= 1
        if _STATE.depth == 0 and _STATE.signum is not None and not _STATE.raised:
            _raise_once()


def interrupted() -> int | None:
    """The signal number if an interrupt arrived while the handlers are installed, else None."""
    return _STATE.signum


def check_interrupt() -> None:
    """Raise Interrupted if a signal arrived (even one already raised and swallowed by a library): the commit
    points (a rename over the user's file) call this, so an interrupted export never replaces the earlier file."""
    if _STATE.signum is not None:
        raise Interrupted(_STATE.signum)


def exit_with_parent(parent_pid: int | None = None, every: float = 0.25, code: int = 1) -> None:
    """End this (child) process with os._exit(code) as soon as its parent is gone, checked every `every` seconds on
    a daemon thread. A SIGKILLed or crashed parent cannot stop its children, and a child blocked on a queue whose
    pipe it holds both ends of never sees EOF; polling os.getppid() (it changes on reparenting) works for any way
    the parent dies, on every POSIX system."""
    parent = os.getppid() if parent_pid is None else parent_pid

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(code)  # no cleanup: whoever would read the results is gone

    threading.Thread(target=watch, daemon=True, name="nnlab-parent-watch").start()
