"""The Export dialog's preview of himmelblau.toml: handed the app's network (as the app does now) against handed
the scene only (as it was: the preview retrained the scene on the GUI thread, again after every option change).

Work counted as well as time: training calls (nnlab.engine.train.training.train) made by each dialog. The app-side
network is trained once, outside both measurements. With the training cache (nnlab.engine.train.cache) a scene
trained before is not retrained: the bench then also says how many training calls the scene-only dialog made.
Run: xvfb-run -a -s "-screen 0 1920x1080x24" env QT_QPA_PLATFORM=xcb .venv/bin/python bench/export_preview.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(scene, net) -> tuple[float, float, int]:
    """(first preview s, preview after an option change s, training calls)."""
    import nnlab.engine.train.training as training
    from nnlab.ui.export_dialog import ExportDialog

    calls = []
    real = training.train
    training.train = lambda *a, **k: calls.append(1) or real(*a, **k)
    try:
        d = ExportDialog(scene, net=net)
        d._preview_timer.stop()
        t = time.perf_counter()
        d.update_preview()
        first = time.perf_counter() - t
        d.azimuth.setValue(d.azimuth.value() + 10)
        d._preview_timer.stop()
        t = time.perf_counter()
        d.update_preview()
        again = time.perf_counter() - t
        d.done(0)
    finally:
        training.train = real
    return first, again, len(calls)


def main() -> None:
    from PySide6.QtCore import QCoreApplication, Qt

    QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
    from nnlab.app.document import Document
    from nnlab.engine.jobs import drain
    from nnlab.ui.app import make_app

    make_app()
    doc = Document()
    assert doc.load(ROOT / "resources/scenes/himmelblau.toml")
    t = time.perf_counter()
    result = drain(doc.train_job()())  # what the app's Train does (on a worker there)
    doc.set_network(result.snapshot)
    print(f"app-side training (not part of either preview): {time.perf_counter() - t:.1f} s")
    given = measure(doc.scene, doc.net)
    scene_only = measure(doc.scene, None)
    for name, (first, again, calls) in (("given the app's network", given), ("given the scene only", scene_only)):
        print(f"{name:26s} first preview {first:7.2f} s, after an option change {again:7.2f} s, "
              f"training calls {calls}")
    print(f"ratio (scene only / given): first {scene_only[0] / given[0]:.0f}x, option change "
          f"{scene_only[1] / given[1]:.0f}x")


if __name__ == "__main__":
    main()
