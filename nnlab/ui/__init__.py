"""The desktop app (PySide6 + pyqtgraph): windows, panels, views, the worker-thread adapter."""
from nnlab.ui.qt_compat import guard_bool_refcount as _guard

_guard()  # PySide6 6.12.0 drops a reference to True on every signal emit; see qt_compat
