"""PageUp/PageDown through the bundled presets: seconds per switch (goal: under 1 s each), with the training
cache (bundled trained weights) against training the trained presets, side by side in one run.

Work is counted too: training runs started (0 with the cache) and epochs trained while switching.
Run: xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb .venv/bin/python bench/preset_switch.py [--train]
(--train also times the no-cache baseline: each trained preset trained to its end, which takes minutes.)
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NNLAB_NO_RESTORE", "1")
os.environ["NNLAB_CACHE_DIR"] = tempfile.mkdtemp(prefix="nnlab-bench-cache-")  # an empty user cache


def main() -> None:
    from PySide6 import QtCore, QtWidgets

    QtCore.QSettings.setDefaultFormat(QtCore.QSettings.Format.IniFormat)
    QtCore.QSettings.setPath(QtCore.QSettings.Format.IniFormat, QtCore.QSettings.Scope.UserScope,
                             os.environ["NNLAB_CACHE_DIR"])
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    from nnlab.ui.main_window import MainWindow
    import nnlab.ui.panels.train_panel as tp

    win = MainWindow()
    win.resize(1920, 1080)
    win.show()
    app.processEvents()
    presets = win.menus.presets
    runs = {"started": 0}
    start = tp.TrainPanel.start

    def counting(self, *a, **k):
        runs["started"] += 1
        return start(self, *a, **k)

    tp.TrainPanel.start = counting
    rows = []
    for step in (1, -1):  # PageDown through all, then PageUp back
        for _ in presets:
            t0 = time.perf_counter()
            win.menus.next_preset(step)
            app.processEvents()
            dt = time.perf_counter() - t0
            rows.append((Path(win.doc.path).stem, dt, win.doc.trained, win.train_panel.slot.busy))
            win.train_panel.cancel()
            win.compare.slot.cancel()
    print(f"{'preset':<16}{'seconds':>9}  trained  training job")
    for name, dt, trained, busy in rows:
        print(f"{name:<16}{dt:9.3f}  {str(trained):<7}  {busy}")
    worst = max(r[1] for r in rows)
    print(f"cache: {len(rows)} switches, worst {worst:.3f} s, training runs started {runs['started']}")
    if "--train" in sys.argv:
        from nnlab.engine.model.scene import load_scene
        from nnlab.engine.train.training import train_to_result

        for p in presets:
            s = load_scene(p.path)
            if s.train.enabled and s.target.name != "none":
                t0 = time.perf_counter()
                r = train_to_result(s)
                dt = time.perf_counter() - t0
                print(f"no cache: {p.path.stem} trains {r.epochs_run} epochs in {dt:.1f} s "
                      f"(ratio to the worst cached switch: {dt / worst:.0f}x)")
    win.stop_all()
    win.close()


if __name__ == "__main__":
    main()
