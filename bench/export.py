"""Benchmark: `nnlab export` as a user runs it (whole commands, fresh processes, no display given) against a whole
matplotlib script (plot_surface + FuncAnimation + PillowWriter, interpreter and imports included), side by side in
one run, plus where nnlab's time goes (per-stage profile) and its peak memory.

Work is fixed, not timed: 120 frames of 800x600 (--frames, --size), 30 fps, the default scene's 100x100 grid.
Rows:
- default orbit GIF, whole command: the headline ratio matplotlib / nnlab (issue 15: goal 10x, under 1.5 s);
- each trained preset's orbit (shipped weights: no training), as a ratio to the default's;
- each trained preset's training animation (shipped keyframes: replayed, no training) and optimizer animation (the
  scene's optimizer runs on the shipped weights), as ratios to the default orbit;
- MP4 at 1280x720, per frame, as a ratio to the GIF's per frame (goal: within 2x);
- the same GIF with the Qt renderer forced (NNLAB_EXPORT_RENDERER=qt: the app's GL view on a private Xvfb, the
  path before issue 15), as a ratio to the default (EGL) command;
- the per-stage profile of the default orbit in a fresh process, for the EGL path (imports; the renderer's import and
  the EGL probe, which makes the context and binds the GL functions; plan (the surface); first frame (programs, buffers, label
  texture); the other frames' rendering; encoding left after the last frame (palette mapping and LZW overlap
  rendering on a worker thread); peak RSS) and for the Qt path (display: Xvfb start, Qt + pyqtgraph + GL imports);
  with --memory also at 3x the frames (the GIF is streamed: the peak must not grow with the number of frames).

Run:  .venv/bin/python bench/export.py [--frames 120] [--size 800x600] [--repeat 3] [--memory]
(no display needed: EGL needs none, and the Qt rows start their own Xvfb as they would for a user).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENES = ROOT / "resources" / "scenes"
TRAINED = ("himmelblau", "peaks_tanh", "rastrigin")


def _env(cache_dir: str) -> dict:
    """A user's environment without a display, and a training cache of the benchmark's own (no earlier training
    of the user's: trained presets must use their shipped weights)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["NNLAB_CACHE_DIR"] = cache_dir
    return env


REPEAT = 3  # nnlab's commands are run this many times and the medians kept (a shared machine's noise: 1.5-2.4 s)


def whole(cmd: list[str], env: dict | None = None, repeat: int = 1) -> tuple[float, float]:
    """(wall s, CPU s) of a command in a fresh process: the medians of `repeat` runs."""
    walls, cpus = [], []
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime))
    return float(sorted(walls)[repeat // 2]), float(sorted(cpus)[repeat // 2])


def nnlab_cmd(scene: str, out: Path, frames: int, size: str, kind: str = "orbit") -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "export", scene, "--kind", kind, "--out", str(out),
            "--frames", str(frames), "--size", size, "--fps", "30", "--quiet"]


def matplotlib_script(out: str, frames: int, w: int, h: int) -> None:
    """What a user would otherwise write: the default scene's surface with plot_surface, turned by FuncAnimation,
    written by PillowWriter (run in a fresh process and timed whole)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.animation import FuncAnimation, PillowWriter

    from nnlab.engine.analysis.surface import evaluate_network, grid_axes
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import load_scene

    scene = load_scene(SCENES / "default.toml")
    lo, hi = scene.domain()
    res = scene.camera.resolution
    Z = evaluate_network(initial_snapshot(scene.network, scene.init), lo, hi, res)
    xs, ys = grid_axes(lo, hi, res)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    fig = plt.figure(figsize=(w / 100, h / 100), dpi=100)
    ax = fig.add_subplot(projection="3d")
    ax.plot_surface(X, Y, Z, cmap="viridis", rcount=res, ccount=res, linewidth=0, antialiased=True)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_zlabel("output")

    def turn(i: int):
        ax.view_init(elev=30, azim=45 + 360 * i / frames)
        return ()

    FuncAnimation(fig, turn, frames=frames, blit=False).save(out, writer=PillowWriter(fps=30), dpi=100)
    plt.close(fig)


def stages(scene_file: str, out: str, frames: int, w: int, h: int, renderer: str = "egl") -> dict:
    """The default orbit export in this (fresh) process, timed per stage the way `nnlab export` runs it with
    `renderer` (egl: nnlab.ui.egl_render; qt: the app's GL view on a private Xvfb)."""
    t = [time.perf_counter()]
    import numpy as np

    import nnlab.cli.export as cli
    from nnlab.engine.export.layout import frame_image
    from nnlab.engine.export.plan import build_plan, options_for
    from nnlab.engine.export.writers import write_animation
    from nnlab.engine.jobs import drain
    from nnlab.engine.model.scene import load_scene
    import PIL.Image  # noqa: F401

    t.append(time.perf_counter())
    xvfb = app = None
    if renderer == "egl":
        from nnlab.ui import egl_render

        egl_render.open_context()  # the probe: libEGL, Mesa, llvmpipe, the context, the GL functions (ctypes)
        t.append(time.perf_counter())
        make_renderer = egl_render.EGLPanelRenderer
    else:
        xvfb = cli.ensure_display()
        t.append(time.perf_counter())
        app = cli.qt_app()
        from nnlab.ui.render import GLPanelRenderer as make_renderer

    t.append(time.perf_counter())
    try:
        scene = load_scene(scene_file)
        opts = options_for(scene, kind="orbit", frames=frames, width=w, height=h, fps=30, fmt="gif")
        plan = drain(build_plan(scene, opts))
        t.append(time.perf_counter())
        render = make_renderer(plan)
        spent = []

        def frame_at(i: int) -> np.ndarray:
            t0 = time.perf_counter()
            img = frame_image(plan, i, render)
            spent.append(time.perf_counter() - t0)
            return img

        t_write = time.perf_counter()
        drain(write_animation(Path(out), "gif", frame_at, frames, 30.0, True))
        t.append(time.perf_counter())
        render.close()
    finally:
        if app is not None:
            app.processEvents()
            app.shutdown()
        cli.stop_xvfb(xvfb)
    heavy = sorted({m.split(".")[0] for m in sys.modules} & {"PySide6", "pyqtgraph", "torch", "cvxpy"})
    return {"imports": t[1] - t[0], "display": t[2] - t[1], "qt_gl": t[3] - t[2], "plan": t[4] - t[3],
            "first_frame": spent[0], "frames": sum(spent[1:]), "encode_after": (t[5] - t_write) - sum(spent),
            "total_in_process": t[5] - t[0], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "heavy_modules": heavy, "frames_n": frames, "renderer": renderer,
            "cpu_s": time.process_time()}


def child_stages(frames: int, w: int, h: int, env: dict, renderer: str = "egl") -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        code = (f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); from bench.export import stages; "
                f"print(json.dumps(stages({str(SCENES / 'default.toml')!r}, {str(Path(tmp, 's.gif'))!r}, "
                f"{frames}, {w}, {h}, {renderer!r})))")
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env,
                             cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--size", default="800x600")
    ap.add_argument("--repeat", type=int, default=REPEAT, help="runs of each nnlab command (medians are shown)")
    ap.add_argument("--memory", action="store_true", help="also profile 3x the frames (peak memory must stay flat)")
    ap.add_argument("--matplotlib-child", nargs=4, metavar=("OUT", "FRAMES", "W", "H"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.matplotlib_child:
        out, n, w, h = args.matplotlib_child
        matplotlib_script(out, int(n), int(w), int(h))
        return 0
    w, h = (int(v) for v in args.size.split("x"))
    n = args.frames
    load0 = os.getloadavg()[0]
    default = str(SCENES / "default.toml")
    with tempfile.TemporaryDirectory() as tmp:
        env = _env(str(Path(tmp, "cache")))
        whole(nnlab_cmd(default, Path(tmp, "warm.gif"), 2, args.size), env)  # untimed: disk caches warm
        gif = Path(tmp, "o.gif")
        t_gif, c_gif = whole(nnlab_cmd(default, gif, n, args.size), env, args.repeat)
        size_gif = gif.stat().st_size / 1e6
        t_mpl, c_mpl = whole([sys.executable, str(Path(__file__).resolve()), "--matplotlib-child",
                              str(Path(tmp, "m.gif")), str(n), str(w), str(h)], env)
        size_mpl = Path(tmp, "m.gif").stat().st_size / 1e6
        trained = {name: whole(nnlab_cmd(str(SCENES / f"{name}.toml"), Path(tmp, f"{name}.gif"), n, args.size), env,
                               args.repeat)
                   for name in TRAINED}
        animations = {(name, kind): whole(nnlab_cmd(str(SCENES / f"{name}.toml"), Path(tmp, f"{name}_{kind}.gif"), n,
                                                    args.size, kind), env, args.repeat)
                      for name in TRAINED for kind in ("training", "optimizer")}
        t_mp4, c_mp4 = whole(nnlab_cmd(default, Path(tmp, "o.mp4"), n, "1280x720"), env, args.repeat)
        t_qt, c_qt = whole(nnlab_cmd(default, Path(tmp, "q.gif"), n, args.size), dict(env, NNLAB_EXPORT_RENDERER="qt"),
                           args.repeat)
        prof = child_stages(n, w, h, env)
        prof_qt = child_stages(n, w, h, env, "qt")
        prof3 = child_stages(3 * n, w, h, env) if args.memory else None
    print(f"nnlab export vs matplotlib, {n} frames {w}x{h}, default scene (2-100-100-1 Xavier, 100x100 grid); "
          f"load average {os.getloadavg()[0]:.1f} (at the start: {load0:.1f}) on {os.cpu_count()} cores; whole "
          f"commands, fresh processes, no display given; nnlab rows: medians of {args.repeat} runs, matplotlib: 1 run")
    print("                                          wall s   CPU s")
    print(f"  nnlab export orbit GIF (whole command) {t_gif:7.2f} {c_gif:7.2f}  {size_gif:.1f} MB")
    print(f"  matplotlib script (whole)              {t_mpl:7.2f} {c_mpl:7.2f}  {size_mpl:.1f} MB")
    print(f"  ratio matplotlib / nnlab: {t_mpl / t_gif:.1f}x wall, {c_mpl / c_gif:.1f}x CPU  "
          f"(goal 10x and under 1.5 s: {'met' if t_mpl / t_gif >= 10 and t_gif < 1.5 else 'NOT met'})")
    for name, (t, c) in trained.items():
        print(f"  {name:<12} orbit (shipped weights)  {t:7.2f} {c:7.2f}  {t / t_gif:.2f}x the default's wall, "
              f"{c / c_gif:.2f}x its CPU (goal <= 1.5x: {'met' if t / t_gif <= 1.5 else 'NOT met'})")
    for (name, kind), (t, c) in animations.items():
        print(f"  {name:<12} {kind:<9} (shipped) {t:7.2f} {c:7.2f}  {t / t_gif:.2f}x the default orbit's wall, "
              f"{c / c_gif:.2f}x its CPU" + (" (keyframes replayed, no training)" if kind == "training" else
                                             " (the scene's optimizer runs: its work is in the time)"))
    print(f"  MP4 1280x720 (whole command)           {t_mp4:7.2f} {c_mp4:7.2f}  per frame {t_mp4 / t_gif:.2f}x the "
          f"GIF's wall, {c_mp4 / c_gif:.2f}x its CPU (goal <= 2x: {'met' if t_mp4 / t_gif <= 2 else 'NOT met'}; "
          f"{1280 * 720 / (w * h):.2f}x the pixels)")
    print(f"  GIF, Qt renderer forced (Xvfb, before) {t_qt:7.2f} {c_qt:7.2f}  {t_qt / t_gif:.2f}x the EGL command's "
          f"wall, {c_qt / c_gif:.2f}x its CPU")
    for p in (prof, prof_qt, prof3):
        if p is None:
            continue
        display, libs = ("renderer import + EGL probe (context)", "other imports") if p["renderer"] == "egl" else ("Xvfb", "Qt+GL imports")
        print(f"  stages, {p['renderer']}, default orbit, {p['frames_n']} frames (fresh process): imports "
              f"{p['imports']:.2f} s, {display} {p['display']:.2f} s, {libs} {p['qt_gl']:.2f} s, plan {p['plan']:.2f} s, "
              f"first frame {p['first_frame']:.2f} s, other frames {p['frames']:.2f} s "
              f"({1000 * p['frames'] / max(1, p['frames_n'] - 1):.1f} ms each), encode after the last frame "
              f"{p['encode_after']:.2f} s; total {p['total_in_process']:.2f} s wall, {p['cpu_s']:.2f} s CPU; peak RSS "
              f"{p['peak_rss_mb']:.0f} MB; heavy modules loaded: {', '.join(p['heavy_modules']) or 'none'}")
    if prof3 is not None:
        print(f"  peak RSS at {prof3['frames_n']} / {prof['frames_n']} frames: "
              f"{prof3['peak_rss_mb'] / prof['peak_rss_mb']:.2f}x (flat: the GIF is streamed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
