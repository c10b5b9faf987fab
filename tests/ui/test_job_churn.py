"""Fast repeated job starts (T and Space pressed 25 times while training) reuse or replace worker processes instead
of piling them up, and closing the window afterwards takes seconds, not a wait per worker (issue 9, item 12)."""
from __future__ import annotations

import time

import psutil
from PySide6 import QtCore, QtWidgets

from nnlab.engine.model.scene import Scene
from nnlab.app import hosts as process_worker


def worker_processes() -> list[psutil.Process]:
    """This test process's spawn children that are worker hosts (not multiprocessing's resource tracker)."""
    out = []
    for q in psutil.Process().children():
        try:
            cmd = " ".join(q.cmdline())
            if "spawn_main" in cmd and q.status() != psutil.STATUS_ZOMBIE:
                out.append(q)
        except psutil.NoSuchProcess:
            pass
    return out


def training_scene() -> Scene:
    """Long epochs (a job reaches its next yield only every heartbeat): cancelled jobs take a while to stop, which
    is what made every press start a new process."""
    s = Scene(title="churn").replace("network", hidden=(200, 200), lower=(-3.0, -3.0), upper=(3.0, 3.0))
    s = s.replace("target", name="peaks")
    s = s.replace("train", samples=200000, epochs=100000, batch_size=16, lr=0.01, surface_every=2)
    return s.replace("camera", resolution=40)


def test_25_fast_train_and_seed_presses_keep_workers_bounded_and_close_fast(new_main_window, qtbot):
    w = new_main_window()
    w.doc.set_scene(training_scene())
    w.train_panel.train_btn.click()
    qtbot.waitUntil(lambda: w.doc.training.epoch >= 0, timeout=60000)  # the job runs on a worker
    w.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=5000)
    w.view3d.widget.setFocus()
    peak = 0
    for i in range(25):
        qtbot.keyClick(w.view3d, QtCore.Qt.Key.Key_T if i % 2 else QtCore.Qt.Key.Key_Space)
        qtbot.wait(40)
        peak = max(peak, len(worker_processes()))
    for _ in range(30):  # let the cancelled jobs settle for 3 s while the last one trains
        qtbot.wait(100)
        peak = max(peak, len(worker_processes()))
    assert w.doc.scene.init.seed == 1 + 13  # every Space press reached the window
    assert peak <= process_worker.MAX_HOSTS, f"{peak} worker processes"
    t0 = time.monotonic()
    w.close()
    took = time.monotonic() - t0
    print(f"peak workers {peak}, close {took:.2f} s")
    assert took < 5.0, f"closing took {took:.1f} s"
    assert not any(s.busy for s in (w.train_panel.slot, w.optimize_panel.slot, w.compare.slot, w.info_panel.slot))
