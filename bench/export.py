"""Benchmark: a 120-frame 800x600 orbit GIF of the default scene, nnlab's GL export vs matplotlib, in one run.

Baseline = what a user would otherwise write: plot_surface of the same 100x100 grid + FuncAnimation rotating the
view + PillowWriter, same frames, size and fps. Goals: nnlab under 10 s and at least 5x faster.
Run under a display or Xvfb:  xvfb-run -a env QT_QPA_PLATFORM=xcb .venv/bin/python bench/export.py
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENE = ROOT / "resources" / "scenes" / "default.toml"


def nnlab_in_process(out: Path, frames: int, w: int, h: int) -> tuple[float, float]:
    """Plan + GL render + GIF write, with Qt already running (imports excluded, as for matplotlib)."""
    from nnlab.cli.export import qt_app
    from nnlab.engine.export.plan import options_for
    from nnlab.engine.export.run import run_export
    from nnlab.engine.model.scene import load_scene
    from nnlab.ui.render import GLPanelRenderer

    qt_app()
    scene = load_scene(SCENE)
    opts = options_for(scene, kind="orbit", frames=frames, width=w, height=h, fps=30, fmt="gif")
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in run_export(scene, opts, out, GLPanelRenderer):
        pass
    return time.perf_counter() - t0, time.process_time() - c0


def nnlab_command(out: Path, frames: int, w: int, h: int) -> tuple[float, float]:
    """The whole `nnlab export` command in a fresh process: interpreter, imports, Qt, GL, GIF."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "nnlab.cli.main", "export", str(SCENE), "--kind", "orbit", "--out", str(out),
                    "--frames", str(frames), "--size", f"{w}x{h}", "--fps", "30", "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.perf_counter() - t0, (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)


def matplotlib_baseline(out: Path, frames: int, w: int, h: int) -> tuple[float, float, float]:
    """(import seconds, render+write seconds, its CPU seconds) of plot_surface + FuncAnimation + PillowWriter."""
    t0 = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    t_import = time.perf_counter() - t0
    import numpy as np

    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import load_scene
    from nnlab.engine.analysis.surface import evaluate_network, grid_axes

    scene = load_scene(SCENE)
    lo, hi = scene.domain()
    res = scene.camera.resolution
    Z = evaluate_network(initial_snapshot(scene.network, scene.init), lo, hi, res)
    xs, ys = grid_axes(lo, hi, res)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    t0, c0 = time.perf_counter(), time.process_time()
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(X, Y, Z, cmap="viridis", rcount=res, ccount=res, linewidth=0, antialiased=True)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_zlabel("output")

    def turn(i: int):
        ax.view_init(elev=30, azim=45 + 360 * i / frames)
        return ()

    anim = FuncAnimation(fig, turn, frames=frames, blit=False)
    anim.save(out, writer=PillowWriter(fps=30), dpi=100)
    plt.close(fig)
    return t_import, time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="800x600")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    if not os.environ.get("DISPLAY"):
        print("bench/export.py needs a display: run it under xvfb-run (see the docstring)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        ours = Path(tmp, "nnlab.gif")
        t_cmd, c_cmd = nnlab_command(Path(tmp, "cmd.gif"), args.frames, w, h)
        t_ours, c_ours = nnlab_in_process(ours, args.frames, w, h)
        mpl = Path(tmp, "mpl.gif")
        t_imp, t_mpl, c_mpl = matplotlib_baseline(mpl, args.frames, w, h)
        mb = lambda p: p.stat().st_size / 1e6  # noqa: E731
        print(f"orbit GIF, {args.frames} frames {w}x{h}, default scene (2-100-100-1 Xavier, 100x100 grid); "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print("                                     wall s   CPU s    size")
        print(f"  nnlab export (GL, in process)    {t_ours:7.2f} {c_ours:7.2f} {mb(ours):6.1f} MB")
        print(f"  nnlab export (whole command)     {t_cmd:7.2f} {c_cmd:7.2f}           (fresh interpreter, Qt, imports)")
        print(f"  matplotlib plot_surface+Pillow   {t_mpl:7.2f} {c_mpl:7.2f} {mb(mpl):6.1f} MB  (+{t_imp:.2f} s imports)")
        print(f"  ratio matplotlib / nnlab: {t_mpl / t_ours:.1f}x wall, {c_mpl / c_ours:.1f}x CPU (in process); "
              f"{(t_mpl + t_imp) / t_cmd:.1f}x wall for the whole command vs matplotlib with its imports")
        ok = t_cmd < 10 and t_mpl / t_ours >= 5
        print(f"  goals (whole command < 10 s, >= 5x faster): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
