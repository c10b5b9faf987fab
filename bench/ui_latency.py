"""Event-loop latency of the app (maximized, as on a first start) while the Himmelblau scene trains with the Network
diagram on screen (goal: max gap between ticks < 50 ms).

A 5 ms QTimer records when it fires; the gaps between ticks show how long the GUI thread was blocked (surface
updates, plots, the live network diagram, signal delivery, waiting for the GIL). Baselines in the same run: the
window idle, the same training with the diagram's dock behind another tab (not drawn), and training on a thread
instead of the app's worker process. The diagram's work is counted in redraws (its `draws`).

--profile times each GUI-thread piece that training drives (wrappers on the classes: ms per call, median and max,
and the window's repaints, which compose the GL view) and names what ran inside the longest gaps; --only-goal runs
only the goal case (worker process, diagram visible), for repeats.
Run: QT_QPA_PLATFORM=xcb LIBGL_ALWAYS_SOFTWARE=1 xvfb-run -a -s "-screen 0 1920x1080x24 -nolisten tcp" \
     .venv/bin/python bench/ui_latency.py [SECONDS] [--profile] [--only-goal]
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
GOAL_MS = 50.0


def himmelblau_scene():
    from nnlab.engine.model.scene import Scene, load_scene

    path = ROOT / "resources/scenes/himmelblau.toml"
    if path.exists():
        return load_scene(path)
    s = Scene(title="Himmelblau (bench stand-in)")
    s = s.replace("network", hidden=(100, 100))
    s = s.replace("target", name="himmelblau_log")
    return s.replace("train", enabled=True, samples=4000, epochs=300, surface_every=5)


# ---- --profile: what the GUI thread spends per training event ---------------------------------------------------
class Profile:
    """Wall time of the GUI-thread pieces that training drives, each call timed with perf_counter (wrappers set on
    the classes before the window is built; a piece missing from this version of the code is skipped). `spans`
    keeps (start, end, name), so a long gap can be attributed to what ran inside it. Names indented with spaces
    are parts of the unindented item above them."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}
        self.spans: list[tuple[float, float, str]] = []
        self._depth: dict[str, int] = {}

    def add(self, name: str, t0: float, t1: float) -> None:
        self.ms.setdefault(name, []).append(1000.0 * (t1 - t0))
        self.spans.append((t0, t1, name))

    def clear(self) -> None:
        self.ms.clear()
        self.spans.clear()

    def wrap(self, owner, attr: str, name: str) -> None:
        fn = vars(owner).get(attr)
        if fn is None:
            return
        prof = self

        def timed(*a, **kw):
            depth = prof._depth.get(name, 0)
            prof._depth[name] = depth + 1
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                prof._depth[name] = depth
                if depth == 0:  # (a recursive call is counted in its outer one)
                    prof.add(name, t0, time.perf_counter())

        setattr(owner, attr, timed)

    def install(self) -> None:
        import pyqtgraph as pg

        import nnlab.ui.surface_view as sv
        from nnlab.app.document import Document
        from nnlab.ui import main_window, network_diagram as nd
        from nnlab.ui.axes3d import Axes3D
        from nnlab.ui.panels import train_panel as tp

        for owner, attr, name in (
                (tp.TrainPanel, "_progress", "train event (record)"),
                (tp.TrainPanel, "_flush", "frame flush"),
                (Document, "show_surface", "  surface update"),
                (sv.SurfaceScene, "_refresh", "    surface: numpy + setData"),
                (sv.SurfaceScene, "_surface_colors", "      colours (colormap)"),
                (sv.SurfaceScene, "_upload_mesh", "      mesh hand-over"),
                (Axes3D, "update", "      axes / tick labels"),
                (tp.TrainPanel, "_show_curves", "  loss/R² curves setData"),
                (tp.TrainPanel, "_status_line", "  status / progress text"),
                (sv.SurfaceScene, "paintGL", "GL paint of the 3-D view"),
                (pg.GraphicsView, "paintEvent", "plot paint (pyqtgraph)"),
                (nd.NetworkDiagram, "_training", "diagram: live net hand-over"),
                (nd.NetworkDiagram, "redraw", "diagram rebuild"),
                (nd._Canvas, "paintEvent", "diagram paint"),
                (main_window.MainWindow, "refresh_surface", "    refresh_surface"),
        ):
            self.wrap(owner, attr, name)
        import gc

        started: dict[int, float] = {}

        def collected(phase: str, info: dict) -> None:  # the cycle collector's passes, timed like the pieces
            if phase == "start":
                started[info["generation"]] = time.perf_counter()
            elif info["generation"] in started:
                self.add(f"gc collection (generation {info['generation']})", started.pop(info["generation"]),
                         time.perf_counter())

        gc.callbacks.append(collected)
        for mod in (sv, sys.modules.get("nnlab.ui.gl_render")):
            if mod is not None and "grid_normals" in vars(mod):
                self.wrap(mod, "grid_normals", "      normals (numpy)")

    def watch(self, ticks: list[float], stop) -> None:
        """A watchdog thread: while the GUI thread has not ticked for over 30 ms, sample its Python stack every 5 ms
        (what an untimed stall is doing; a stack in C code is its innermost Python caller)."""
        import threading
        import traceback

        main = threading.main_thread().ident
        self.samples: list[tuple[float, str]] = []

        def run() -> None:
            while not stop():
                time.sleep(0.005)
                now = time.perf_counter()
                if ticks and now - ticks[-1] > 0.030:
                    frame = sys._current_frames().get(main)
                    if frame is not None:
                        stack = traceback.extract_stack(frame)[-6:]
                        self.samples.append((now, " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                                             for f in reversed(stack))))

        threading.Thread(target=run, daemon=True).start()

    def sampled(self, t0: float, t1: float) -> list[str]:
        """The watchdog's stacks inside [t0, t1], most frequent first (count x stack)."""
        acc: dict[str, int] = {}
        for t, stack in getattr(self, "samples", []):
            if t0 <= t <= t1:
                acc[stack] = acc.get(stack, 0) + 1
        return [f"{n} x {st}" for st, n in sorted(acc.items(), key=lambda kv: -kv[1])[:3]]

    def time_swaps(self, window) -> None:
        """A GL window's buffer swap after its paintGL (to frameSwapped): llvmpipe finishes the frame there."""
        def swapped() -> None:
            ends = [b for _a, b, name in self.spans[-50:] if name == "GL paint of the 3-D view"]
            if ends:
                self.add("GL swap after paintGL", ends[-1], time.perf_counter())

        window.frameSwapped.connect(swapped)

    def report(self, events: int) -> None:
        print(f"  GUI-thread time per item ({events} epochs; ms per call, median / max; calls; total ms):")
        for name, v in sorted(self.ms.items(), key=lambda kv: -sum(kv[1]) if not kv[0].startswith(" ") else 0):
            a = np.array(v)
            print(f"    {name:<32} {np.median(a):7.2f} / {a.max():7.2f}  {len(a):5d} calls {a.sum():8.0f}")

    def inside(self, t0: float, t1: float) -> str:
        """What ran inside [t0, t1] (a long gap): the top-level items and their ms in it."""
        acc: dict[str, float] = {}
        for a, b, name in self.spans:
            if b > t0 and a < t1 and not name.startswith(" "):
                acc[name] = acc.get(name, 0.0) + 1000.0 * (min(b, t1) - max(a, t0))
        return ", ".join(f"{k} {v:.0f}" for k, v in sorted(acc.items(), key=lambda kv: -kv[1])) or "nothing timed"


class MachineLoad:
    """Where the machine's CPU time went during a measurement (Linux /proc): this bench (the app, its worker
    processes, the X server it draws on), other processes, and time the hypervisor stole from this VM. A shared
    machine's noise stretches every frame; the goal is judged on runs where others took little."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self) -> None:
        self.t0 = self._read()

    @staticmethod
    def _proc_ticks(pid: int) -> int:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            return 0

    def _ours(self) -> int:
        pids = {os.getpid()}
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    stat = (d / "stat").read_text()
                except OSError:
                    continue
                comm, rest = stat.split("(", 1)[1].rsplit(")", 1)
                if comm == "Xvfb" or int(rest.split()[1]) == os.getpid():
                    pids.add(int(d.name))
        return sum(self._proc_ticks(p) for p in pids)

    def _read(self) -> tuple[int, int, int]:
        try:
            f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return 0, 0, 0
        busy = f[0] + f[1] + f[2] + f[5] + f[6]
        return busy, f[7] if len(f) > 7 else 0, self._ours()

    def report(self, seconds: float) -> str:
        busy, steal, ours = (b - a for a, b in zip(self.t0, self._read()))
        cores = os.cpu_count() or 1
        pct = lambda ticks: 100.0 * ticks / self.TICK / seconds / cores  # noqa: E731 - of all cores
        return (f"CPU of the {cores} cores: this bench {pct(ours):.0f} %, other processes "
                f"{max(pct(busy - ours), 0.0):.0f} %, stolen by the hypervisor {pct(steal):.1f} %")


def measure(app, seconds: float, stop=lambda: False, ticks_out: list | None = None,
            prof: "Profile | None" = None) -> np.ndarray:
    from PySide6 import QtCore

    ticks: list[float] = []
    done = [False]
    if prof is not None:
        prof.watch(ticks, lambda: done[0])
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
    done[0] = True
    if ticks_out is not None:
        ticks_out[:] = ticks
    return np.diff(np.array(ticks)) * 1000.0


def report(name: str, gaps: np.ndarray) -> None:
    if gaps.size == 0:
        print(f"{name:>9}: no ticks")
        return
    p50, p95, p99 = np.percentile(gaps, [50, 95, 99])
    print(f"{name:>9}: {gaps.size:6d} ticks  median {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms  "
          f"max {gaps.max():6.1f} ms  gaps > 50 ms: {int((gaps > 50).sum())}")


def train_and_measure(app, win, seconds: float, in_process: bool, diagram: bool,
                      prof: Profile | None = None) -> tuple:
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
    info = win.info_panel  # a new network starts the Info panel's metrics in a worker: let them finish first
    measure(app, 30.0, stop=lambda: not (info.slot.busy or info._debounce.isActive()))
    measure(app, 0.5)
    nd = win.network_diagram
    draws0 = nd.draws
    nd.draw_ms.clear()
    nd.canvas.paint_ms.clear()
    if prof is not None:
        prof.clear()
    load = MachineLoad()
    panel.start()
    t0 = time.perf_counter()
    ticks: list[float] = []
    gaps = measure(app, seconds, stop=lambda: not panel.slot.busy, ticks_out=ticks, prof=prof)
    elapsed = time.perf_counter() - t0
    epochs = win.doc.training.epoch
    panel.cancel()
    print(f"  during the run: {load.report(elapsed)}")
    if prof is not None:
        print(f"--- {'process' if in_process else 'thread'}, diagram {'visible' if diagram else 'hidden'}")
        prof.report(epochs)
        print("  the longest gaps and what ran inside them (ms):")
        for k in np.argsort(gaps)[::-1][:6]:
            print(f"    {gaps[k]:6.1f} at {ticks[k] - t0:5.2f} s of {elapsed:.1f}: {prof.inside(ticks[k], ticks[k + 1])}")
            for line in prof.sampled(ticks[k], ticks[k + 1]):
                print(f"           sampled: {line}")
    return gaps, epochs, elapsed, nd.draws - draws0, list(nd.draw_ms), list(nd.canvas.paint_ms)


def verdict(gaps: np.ndarray) -> str:
    """The goal line: the max gap, the 99th percentile, met or not."""
    if gaps.size == 0:
        return f"goal max gap < {GOAL_MS:.0f} ms with the network diagram visible: NOT met (no ticks)"
    ok = gaps.max() < GOAL_MS
    return (f"goal max gap < {GOAL_MS:.0f} ms while training with the network diagram visible (maximized window, "
            f"worker process): {'met' if ok else 'NOT met'}: max gap {gaps.max():.1f} ms, "
            f"p99 {np.percentile(gaps, 99):.1f} ms")


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seconds = float(args[0]) if args else 20.0
    prof = Profile() if "--profile" in sys.argv else None
    only_goal = "--only-goal" in sys.argv
    if prof is not None:
        prof.install()
    from PySide6 import QtCore

    from nnlab.app.hosts import acquire, release
    from nnlab.ui.app import make_app
    from nnlab.ui.main_window import MainWindow

    painted: list[str] = []  # the widgets painted inside the current window repaint (--profile)
    what: dict[str, int] = {}  # how many window repaints painted each set of widgets

    class PaintSpy(QtCore.QObject):
        def eventFilter(self, obj, ev):  # noqa: N802 - Qt's name
            if ev.type() == QtCore.QEvent.Type.Paint:
                painted.append(type(obj).__name__)
            return False

    class Window(MainWindow):
        """The app's window; with --profile its repaints (the raster widgets, and composing the GL view into the
        window) are timed."""

        def event(self, ev):  # noqa: N802 - Qt's name
            if prof is None or ev.type() != QtCore.QEvent.Type.UpdateRequest:
                return super().event(ev)
            t0 = time.perf_counter()
            painted.clear()
            try:
                return super().event(ev)
            finally:
                prof.add("window repaint + composite", t0, time.perf_counter())
                key = "+".join(sorted(set(painted))) or "(nothing painted)"
                what[key] = what.get(key, 0) + 1

    app = make_app()
    spy = PaintSpy()
    if prof is not None:
        app.installEventFilter(spy)
    release(acquire())  # a warm worker process, as the app has after start-up
    win = Window(himmelblau_scene())
    if prof is not None:
        prof.time_swaps(win.view3d)
    win.maximize()  # as the app's first start (1920x1080 on the bench's Xvfb screen)
    measure(app, 1.5)  # warm up: first paints, shader compilation
    size = f"window {win.width()}x{win.height()}, 3-D view {win.view3d.width()}x{win.view3d.height()}"
    idle = measure(app, 3.0)
    cases = [("process", True, True)] if only_goal else [
        ("thread", False, True), ("no diagram", True, False), ("process", True, True)]
    runs = {}
    for name, proc, diagram in cases:
        what.clear()
        runs[name] = train_and_measure(app, win, seconds, proc, diagram, prof)
        if prof is not None:
            print("  window repaints by what they painted:")
            for key, n in sorted(what.items(), key=lambda kv: -kv[1])[:8]:
                print(f"    {n:4d}  {key}")
    scene = win.doc.scene
    win.close()
    print(f"scene: {scene.title}; net {'-'.join(map(str, (2, *scene.network.hidden, 1)))}, {scene.train.samples} "
          f"samples, surface every {scene.train.surface_every} epochs at {scene.camera.resolution}²; {size}")
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
          f"({os.cpu_count()} cores)")
    report("idle", idle)
    for name, (gaps, epochs, elapsed, draws, draw_ms, paint_ms) in runs.items():
        report(f"{name}", gaps)
        cost = (f": rebuild median {np.median(draw_ms):.1f} ms / max {max(draw_ms):.1f} ms, paint median "
                f"{np.median(paint_ms):.1f} ms / max {max(paint_ms):.1f} ms" if draw_ms and paint_ms else "")
        print(f"{'':>9}  ({epochs} epochs in {elapsed:.1f} s; network diagram redrawn {draws} times{cost})")
    p = runs["process"][0]
    if not only_goal:
        t, nd = runs["thread"][0], runs["no diagram"][0]
        if nd.size and p.size:
            print(f"the live diagram costs: p99 gap {np.percentile(p, 99) / np.percentile(nd, 99):.2f}x, "
                  f"max gap {p.max() / nd.max():.2f}x of training with the diagram hidden")
        if t.size and p.size:
            print(f"training in a worker process vs on a thread: p99 gap "
                  f"{np.percentile(t, 99) / np.percentile(p, 99):.1f}x smaller, max gap {t.max() / p.max():.1f}x "
                  "smaller")
    print(verdict(p))
    return 0


if __name__ == "__main__":
    sys.exit(main())
