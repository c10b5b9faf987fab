"""Event-loop latency of the app while the Himmelblau scene trains with the Network diagram on screen (goal: max gap
between ticks < 50 ms).

A 5 ms QTimer records when it fires; the gaps between ticks show how long the GUI thread was blocked (surface
updates, plots, the live network diagram, signal delivery, waiting for the GIL). Baselines in the same run: the
window idle, the same training with the diagram's dock behind another tab (not drawn), and training on a thread
instead of the app's worker process. The diagram's work is counted in redraws (its `draws`).
Run: xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb .venv/bin/python bench/ui_latency.py [SECONDS]
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NNLAB_NO_RESTORE", "1")


def himmelblau_scene():
    from nnlab.engine.model.scene import Scene, load_scene

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


def train_and_measure(app, win, seconds: float, in_process: bool, diagram: bool) -> tuple:
    """Gaps while the train panel trains the scene (from its initial weights) on a process or a thread, with the
    network diagram's dock in front (drawn live) or behind the training tab (not drawn)."""
    import nnlab.ui.panels.train_panel as tp

    tp.PROCESS_JOBS = in_process
    panel = win.train_panel
    if diagram:
        win.show_network_diagram()
    else:
        win.docks["Target && training"].raise_()
    panel.reset()
    measure(app, 0.5)
    nd = win.network_diagram
    draws0 = nd.draws
    nd.draw_ms.clear()
    nd.canvas.paint_ms.clear()
    panel.start()
    t0 = time.perf_counter()
    gaps = measure(app, seconds, stop=lambda: not panel.slot.busy)
    elapsed = time.perf_counter() - t0
    epochs = win.doc.training.epoch
    panel.cancel()
    return gaps, epochs, elapsed, nd.draws - draws0, list(nd.draw_ms), list(nd.canvas.paint_ms)


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    from nnlab.ui.app import make_app
    from nnlab.ui.main_window import MainWindow
    from nnlab.app.hosts import acquire, release

    app = make_app()
    release(acquire())  # a warm worker process, as the app has after start-up
    win = MainWindow(himmelblau_scene())
    win.show()
    measure(app, 1.0)  # warm up: first paints, shader compilation
    idle = measure(app, 3.0)
    runs = {name: train_and_measure(app, win, seconds, proc, diagram)
            for name, proc, diagram in (("thread", False, True), ("no diagram", True, False), ("process", True, True))}
    scene = win.doc.scene
    win.close()
    print(f"scene: {scene.title}; net {'-'.join(map(str, (2, *scene.network.hidden, 1)))}, {scene.train.samples} "
          f"samples, surface every {scene.train.surface_every} epochs at {scene.camera.resolution}²; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    report("idle", idle)
    for name, (gaps, epochs, elapsed, draws, draw_ms, paint_ms) in runs.items():
        report(f"{name}", gaps)
        cost = (f": rebuild median {np.median(draw_ms):.1f} ms / max {max(draw_ms):.1f} ms, paint median "
                f"{np.median(paint_ms):.1f} ms / max {max(paint_ms):.1f} ms" if draw_ms and paint_ms else "")
        print(f"{'':>9}  ({epochs} epochs in {elapsed:.1f} s; network diagram redrawn {draws} times{cost})")
    t, p, nd = runs["thread"][0], runs["process"][0], runs["no diagram"][0]
    if nd.size and p.size:
        print(f"the live diagram costs: p99 gap {np.percentile(p, 99) / np.percentile(nd, 99):.2f}x, "
              f"max gap {p.max() / nd.max():.2f}x of training with the diagram hidden")
    if t.size and p.size:
        print(f"training in a worker process vs on a thread: p99 gap {np.percentile(t, 99) / np.percentile(p, 99):.1f}x "
              f"smaller, max gap {t.max() / p.max():.1f}x smaller")
    ok = p.size > 0 and p.max() < 50.0
    print(f"goal max gap < 50 ms while training with the network diagram visible (the app's mode, process): "
          f"{'met' if ok else 'NOT met'} (max {p.max() if p.size else float('nan'):.1f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
