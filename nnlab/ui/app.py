"""Start the Qt application and the main window (`nnlab gui`)."""
from __future__ import annotations

import gc
import signal
import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets


def make_app(argv: list[str] | None = None) -> QtWidgets.QApplication:
    """The QApplication, with shared GL contexts (pyqtgraph caches shaders per context; several views need it)."""
    app = QtWidgets.QApplication.instance()
    if app is None:
        QtCore.QCoreApplication.setAttribute(QtCore.Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("nnlab")
        app.setOrganizationName("nnlab")
        from PySide6 import QtGui

        from nnlab.ui.theme import RESOURCES

        app.setWindowIcon(QtGui.QIcon(str(RESOURCES / "icons" / "nnlab.svg")))
        app._gc_timer = collect_garbage_in_gui_thread(app)  # (kept with the app)
    return app


FULL_GC_EVERY = 60.0  # seconds between full collections (see collect_garbage_in_gui_thread)


def collect_garbage_in_gui_thread(app: QtCore.QCoreApplication, interval_ms: int = 500) -> QtCore.QTimer:
    """Python's cycle collector runs on whatever thread allocates when a threshold is crossed. Run on a job
    thread (nnlab.ui.worker), it freed Qt objects of the GUI thread there and aborted the process (a test run:
    "Fatal Python error: Aborted", garbage-collecting inside hosts.run, 1 run in 3 of the training tests). So the
    automatic collector is off and the GUI thread collects on a timer, generation by generation at the usual
    thresholds (pyqtgraph's GarbageCollector does the same); gc.enable() undoes it."""
    import time

    gc.disable()
    limits = gc.get_threshold()
    last_full = [time.monotonic()]

    def collect() -> None:
        counts = gc.get_count()
        # a full collection scans every object (60-80 ms in the app's process: longer than the 50 ms the window
        # may stall), so at most once a FULL_GC_EVERY seconds; CPython too runs it only now and then (when the
        # long-lived objects grew by a quarter)
        full = counts[2] > limits[2] and time.monotonic() - last_full[0] >= FULL_GC_EVERY
        for generation in (2, 1, 0):  # the oldest generation due, which collects the younger ones with it
            if counts[generation] > limits[generation] and (generation < 2 or full):
                gc.collect(generation)
                if generation == 2:
                    last_full[0] = time.monotonic()
                return

    timer = QtCore.QTimer(app)
    timer.setInterval(interval_ms)
    timer.timeout.connect(collect)
    timer.start()
    return timer


def quit_on_signals(app: QtWidgets.QApplication) -> QtCore.QTimer:
    """Ctrl+C in the terminal (SIGINT) and SIGTERM quit like File > Quit: every window closes (jobs stop, worker
    processes end) and the app exits with code 0. Python runs signal handlers only between bytecodes, and Qt's loop
    runs in C: a timer wakes the interpreter a few times a second so the handler runs promptly."""
    def request_quit(_signum: int, _frame: object) -> None:
        QtCore.QTimer.singleShot(0, close_everything)

    def close_everything() -> None:
        app.closeAllWindows()  # MainWindow.closeEvent stops the jobs
        app.quit()  # also ends a modal dialog's nested loop

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_quit)
    timer = QtCore.QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return timer


def run_gui(scene_path: str | None, quit_after: float | None = None, screenshot: str | None = None,
            theme: str | None = None, presenter: bool = False, lecture: bool = False) -> int:
    """Open the window on a scene; with `screenshot`, save the window once idle (or at `quit_after`) and quit."""
    from nnlab.engine.model.scene import load_scene
    from nnlab.ui.presets import default_scene_path

    path = Path(scene_path) if scene_path else default_scene_path()
    scene = load_scene(path)  # SceneError (an NnlabError) -> one line, exit 2, before any window opens
    app = make_app()
    quit_on_signals(app)
    from nnlab.ui.main_window import MainWindow
    from nnlab.ui.theme import apply_theme
    from nnlab.ui.window_actions import settings

    theme = theme or str(settings().value("theme", "dark"))
    theme = theme if theme in ("dark", "light") else "dark"
    from nnlab.app.hosts import prewarm

    prewarm()  # a worker process imports torch in the background: the first Train press starts at once
    win = MainWindow(theme=theme)
    apply_theme(app, theme, win.view.point_size)
    win.open_on_screen()  # as the last session left it, or maximized on a first start
    win.view.presenter = presenter
    win.view.lecture = lecture
    if not win.load_scene_file(path):
        win.close()
        from nnlab.errors import NnlabError

        raise NnlabError(f"cannot open {path}: {win.error_label.toolTip()}")
    del scene
    state = {"done": False}

    def shoot() -> None:
        if state["done"]:
            return
        state["done"] = True
        win.save_window_png(screenshot)
        win.close()

    if screenshot:
        def poll() -> None:
            busy = win.train_panel.slot.busy or win.compare.slot.busy or win.optimize_panel.slot.busy
            if not busy:
                QtCore.QTimer.singleShot(600, shoot)  # let the last frame paint
            else:
                QtCore.QTimer.singleShot(200, poll)

        QtCore.QTimer.singleShot(500, poll)
    if quit_after is not None:
        QtCore.QTimer.singleShot(int(quit_after * 1000), shoot if screenshot else win.close)
    app.setQuitOnLastWindowClosed(True)
    code = app.exec()
    return int(code)
