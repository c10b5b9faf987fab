"""Event-loop latency of the app while the Himmelblau scene trains (goal: max gap between ticks < 50 ms).

A 5 ms QTimer records when it fires; the gaps between ticks show how long the GUI thread was blocked (surface
updates, plots, signal delivery). Baseline in the same run: the same measurement with the window idle.
Run: xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb .venv/bin/python bench/ui_latency.py [SECONDS]
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NNLAB_NO_RESTORE", "1")


def himmelblau_scene():
    from nnlab.engine.scene import Scene, load_scene

    path = ROOT / "resources/scenes/himmelblau.toml"
    if path.exists():
        return load_scene(path)
    s = Scene(title="Himmelblau (bench stand-in)")
    s = s.replace("network", hidden=(100, 100))
    s = s.replace("target", name="himmelblau_log")
    return s.replace("train", enabled=True, samples=4000, epochs=300, surface_every=5)


def measure(app, seconds: float, stop=lambda: False) -> np.ndarray:
    from PySide6 import QtCore

    ticks: list[float] = []
    timer = QtCore.QTimer()
    timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end and not stop():
        app.processEvents(QtCore.QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.0005)
    timer.stop()
    return np.diff(np.array(ticks)) * 1000.0


def report(name: str, gaps: np.ndarray) -> None:
    if gaps.size == 0:
        print(f"{name:>9}: no ticks")
        return
    p50, p95, p99 = np.percentile(gaps, [50, 95, 99])
    print(f"{name:>9}: {gaps.size:6d} ticks  median {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms  "
          f"max {gaps.max():6.1f} ms  gaps > 50 ms: {int((gaps > 50).sum())}")


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    from nnlab.ui.app import make_app
    from nnlab.ui.main_window import MainWindow

    app = make_app()
    win = MainWindow(himmelblau_scene())
    win.show()
    measure(app, 1.0)  # warm up: first paints, shader compilation
    idle = measure(app, 3.0)
    panel = win.train_panel
    panel.start()
    t0 = time.perf_counter()
    busy = measure(app, seconds, stop=lambda: not panel.slot.busy)
    elapsed = time.perf_counter() - t0
    epochs = panel._last_epoch
    surfaces = sum(1 for _ in range(1))
    panel.cancel()
    win.close()
    scene = win.doc.scene
    print(f"scene: {scene.title}; net {'-'.join(map(str, (2, *scene.network.hidden, 1)))}, "
          f"{scene.train.samples} samples, surface every {scene.train.surface_every} epochs at "
          f"{scene.camera.resolution}x{scene.camera.resolution}; {epochs} epochs in {elapsed:.1f} s")
    report("idle", idle)
    report("training", busy)
    ok = busy.size > 0 and busy.max() < 50.0
    print(f"goal max gap < 50 ms while training: {'met' if ok else 'NOT met'}")
    del surfaces
    return 0


if __name__ == "__main__":
    sys.exit(main())
