"""Work around a PySide6 6.12.0 reference-count bug: every Python-side `SignalInstance.emit()` drops one reference
to `True` (its return value). pyqtgraph and our worker emit thousands of signals, so on Python < 3.12 (where True is
not immortal) the interpreter aborts with "bool_dealloc: deallocating True or False" - sometimes mid-session.

We detect the leak with a probe signal and, only if it is there, give True/False a huge reference count: the same
thing Python 3.12 does by making them immortal.
"""
from __future__ import annotations

import ctypes
import sys

_APPLIED = False


def emit_leaks_bool() -> bool:
    """Does emitting a signal drop a reference to True in this PySide6 build?"""
    from PySide6 import QtCore

    class _Probe(QtCore.QObject):
        sig = QtCore.Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.sig.emit()
    return sys.getrefcount(True) < before


def guard_bool_refcount() -> bool:
    """Apply the workaround once if needed; True when it was applied."""
    global _APPLIED
    if _APPLIED:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not emit_leaks_bool():
        return False
    for obj in (True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _APPLIED = True
    return True
