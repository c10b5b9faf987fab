"""Shared test setup: GL contexts must be shared before the QApplication exists (pyqtgraph caches shaders per
context), and Qt warnings fail UI tests (pytest-qt's qt_log_level_fail in tests/ui)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
# the training cache (nnlab.engine.train.cache) of a test run is its own, never the user's ~/.cache/nnlab
os.environ["NNLAB_CACHE_DIR"] = os.path.join(__import__("tempfile").gettempdir(), f"nnlab-test-cache-{os.getpid()}")
__import__("atexit").register(__import__("shutil").rmtree, os.environ["NNLAB_CACHE_DIR"], True)  # made on first store

try:
    from PySide6.QtCore import QCoreApplication, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    import nnlab.ui  # noqa: F401,E402
except ImportError:  # engine tests run without Qt
    pass


def pytest_unconfigure(config) -> None:  # noqa: ANN001
    """Interpreter exit after the last test must not hang (a multiprocessing feeder thread blocked on a dead
    worker's pipe once kept `make test` waiting for 34 minutes): after 120 s, print every thread's stack and exit 1."""
    import faulthandler
    import sys

    faulthandler.dump_traceback_later(120, exit=True, file=sys.__stderr__)
