"""Work around reference-count bugs of PySide6 6.12.0: every Python-side `SignalInstance.emit()` drops a reference
to `True`, and every call of a C++ method returning void drops a reference to `None`. The app makes millions of such
calls, so on Python < 3.12 (where these singletons are not immortal) the interpreter eventually aborts with
"bool_dealloc" / "none_dealloc: deallocating None" - mid-session or at exit.

We detect the leaks with probes and, only if they are there, give True, False and None a huge reference count:
the same thing Python 3.12 does by making them immortal.
"""
from __future__ import annotations

import ctypes
import sys

_APPLIED = False
_BUMP = 1 << 40


def leaks() -> dict[str, bool]:
    """Which singletons this PySide6 build leaks: {"bool": emit() leaks True, "none": void calls leak None}."""
    from PySide6 import QtCore

    class _Probe(QtCore.QObject):
        sig = QtCore.Signal()

    probe = _Probe()
    t0, n0 = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(16):
        probe.sig.emit()
    t1 = sys.getrefcount(True)
    for _ in range(16):
        probe.setObjectName("probe")
    n1 = sys.getrefcount(None)
    return {"bool": t1 < t0 - 8, "none": n1 < n0 - 8}


def guard_bool_refcount() -> bool:
    """Apply the workaround once if needed; True when it was applied."""
    global _APPLIED
    if _APPLIED:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    found = leaks()
    if not any(found.values()):
        return False
    for obj in (True, False, None):
        ctypes.c_ssize_t.from_address(id(obj)).value += _BUMP
    _APPLIED = True
    return True
