"""`nnlab export SCENE --kind KIND --out FILE [...]`: animations and stills of the app's 3-D view.

Frames are rendered offscreen with EGL (Mesa's surfaceless platform: no display, no Qt, nnlab.ui.egl_render) when it
works in this process; otherwise with the app's own Qt GL view (nnlab.ui.render), for which, without a display, a
private Xvfb server (when installed) runs for the duration of the command and is stopped on every way out (done,
error, Ctrl+C, SIGTERM). NNLAB_EXPORT_RENDERER=egl or =qt forces one (egl when it cannot work: exit 2).

Ctrl+C (SIGINT) stops the export within a frame and exits with 130, SIGTERM with 143 and SIGHUP with 129 (128 + the
signal number, as a shell reports it); the earlier output file is left as it was and no temporary file stays behind.
"""
from __future__ import annotations

import argparse
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import time

from nnlab.bundled import scene_path
from nnlab.errors import UsageError



def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write a GIF/MP4/PNG-frames animation or a still PNG of a scene",
        description="Render a scene offscreen (EGL; the app's GL view where EGL does not work) and write an "
                    "animation. The format follows --out: .gif, .mp4, .png (a still), or a folder (ending in /, or "
                    "--format png-frames).")
    p.add_argument("scene", help="scene file (.toml) or the name of a bundled preset, e.g. default")
    p.add_argument("--kind", help="orbit, training, optimizer, gallery or compare (default: the scene's)")
    p.add_argument("--out", required=True, help="output file or folder")
    p.add_argument("--format", dest="fmt", help="gif, mp4, png-frames or png (default: from --out)")
    p.add_argument("--frames", type=int, help="number of frames")
    p.add_argument("--seconds", type=float, help="duration; frames = seconds x fps")
    p.add_argument("--fps", type=float, help="frames per second")
    p.add_argument("--size", help="WIDTHxHEIGHT in pixels, e.g. 800x600")
    p.add_argument("--seeds", type=int, help="gallery: number of seeds")
    p.add_argument("--method", help="optimizer: method name (default: the scene's)")
    p.add_argument("--colormap", help="viridis, cividis, plasma, inferno, magma, turbo or coolwarm")
    p.add_argument("--background", help="white, dark, or transparent (PNG only)")
    p.add_argument("--elevation", type=float, help="camera elevation in degrees")
    p.add_argument("--distance", type=float, help="camera distance (0: fit)")
    p.add_argument("--azimuth", type=float, help="camera start angle in degrees")
    p.add_argument("--turn", type=float, help="degrees the camera turns over the animation")
    p.add_argument("--no-axes", dest="axes", action="store_false", default=None, help="hide the axes")
    p.add_argument("--caption", help="caption text drawn below the surface")
    p.add_argument("--compare", help="compare: the second scene file or a bundled preset's name")
    p.add_argument("--no-loop", dest="loop", action="store_false", default=None, help="GIF plays once")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def parse_size(text: str) -> tuple[int, int]:
    """`800x600` -> (800, 600), each side within the export limits."""
    from nnlab.engine.export.plan import LIMITS

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 800x600") from None
    lo, hi = LIMITS["width"]
    if not (lo <= w <= hi and lo <= h <= hi):
        raise UsageError(f"--size {text} is not allowed; expected {lo:g}..{hi:g} pixels each way")
    return w, h


def spawn_xvfb() -> tuple[subprocess.Popen, int]:
    """Spawn `Xvfb` on a free display (it picks one with -displayfd) without waiting for it: the process and the
    read end of its display-number pipe, for wait_xvfb (the server boots while the caller loads libraries)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise UsageError("no display to render on: install Xvfb (apt-get install xvfb) or set DISPLAY")
    r, w = os.pipe()
    try:
        try:
            # -terminate: the server also ends when its last client (us) disconnects, even if we die hard;
            # its own session: a Ctrl+C in the terminal reaches us, not the server we must stop in order
            proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
                                     "-terminate"],
                                    pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(w)
    except BaseException:
        os.close(r)
        raise
    return proc, r


def wait_xvfb(proc: subprocess.Popen, r: int, timeout: float = 10.0) -> subprocess.Popen:
    """Read the display number of a spawned Xvfb and point DISPLAY at it; closes `r`. On any failure or interrupt
    before it returns, the server is stopped again (an Xvfb no client ever reached would live on)."""
    try:
        data = b""
        deadline = time.monotonic() + timeout
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(r, 16) if ready else b""
            if not chunk:
                break
            data += chunk
        if not data.strip().isdigit():
            raise UsageError("could not start Xvfb for offscreen rendering; set DISPLAY or check the Xvfb install")
    except BaseException:
        stop_xvfb(proc)
        raise
    finally:
        os.close(r)
    os.environ["DISPLAY"] = f":{int(data)}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


def start_xvfb(timeout: float = 10.0) -> subprocess.Popen:
    """Start `Xvfb` and wait until it serves (spawn_xvfb + wait_xvfb)."""
    return wait_xvfb(*spawn_xvfb(), timeout)


def stop_xvfb(proc: subprocess.Popen | None) -> None:
    """Terminate (then kill) the Xvfb we started and reap it."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def needs_xvfb() -> bool:
    """Whether no usable display exists (then an Xvfb must be started); points Qt at xcb when DISPLAY is set."""
    widgets = sys.modules.get("PySide6.QtWidgets")  # not imported yet: no QApplication either (and no 0.1 s import)
    if widgets is not None and widgets.QApplication.instance() is not None:
        return False
    if os.environ.get("DISPLAY"):
        if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
            os.environ["QT_QPA_PLATFORM"] = "xcb"  # these platforms have no OpenGL
        return False
    if os.environ.get("WAYLAND_DISPLAY") and os.environ.get("QT_QPA_PLATFORM", "").startswith("wayland"):
        return False
    return True


def ensure_display() -> subprocess.Popen | None:
    """None when a usable display exists; else the Xvfb process started for us (caller stops it)."""
    return start_xvfb() if needs_xvfb() else None


RENDERER_ENV = "NNLAB_EXPORT_RENDERER"


def choose_renderer() -> str:
    """"egl" or "qt": forced by NNLAB_EXPORT_RENDERER, else egl when an EGL context can be made here (the probe
    makes the context the export then uses), qt inside a running Qt application (the GUI, tests) or without EGL."""
    forced = os.environ.get(RENDERER_ENV, "").strip().lower()
    if forced not in ("", "egl", "qt"):
        raise UsageError(f"{RENDERER_ENV}={forced!r} is not allowed; expected egl or qt (or unset: egl when it works)")
    if forced == "qt":
        return "qt"
    widgets = sys.modules.get("PySide6.QtWidgets")
    if not forced and widgets is not None and widgets.QApplication.instance() is not None:
        return "qt"  # inside a Qt application: its GL view (its context, not a second one of another platform)
    from nnlab.ui.egl_render import egl_unavailable

    why = egl_unavailable()
    if why is None:
        return "egl"
    if forced == "egl":
        raise UsageError(f"{RENDERER_ENV}=egl but offscreen EGL rendering does not work here: {why}")
    return "qt"


def qt_app():
    """The running QApplication, or a new one with shared GL contexts (needed by pyqtgraph's shader cache)."""
    from PySide6.QtCore import QCoreApplication, Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)
        app = QApplication(["nnlab-export"])
    return app


def options_from_args(args: argparse.Namespace, scene):
    """ExportOptions from the scene's defaults and the command line; every given value is checked first, with
    the option's name in the message (before anything slow runs)."""
    from nnlab.engine.export.plan import (
        KINDS, LIMITS, ExportError, check_caption, check_number, format_for_path, options_for,
    )

    if args.kind is not None and args.kind not in KINDS:
        raise ExportError(f"unknown kind {args.kind!r}; allowed: {', '.join(KINDS)}")
    for name in ("frames", "fps", "seeds", "elevation", "azimuth", "distance", "turn"):
        if getattr(args, name) is not None:
            check_number(name, getattr(args, name), f"--{name}")
    if args.caption is not None:
        check_caption(args.caption, "--caption")
    over = dict(kind=args.kind, fps=args.fps, frames=args.frames, seeds=args.seeds, method=args.method,
                colormap=args.colormap, background=args.background, elevation=args.elevation,
                distance=args.distance, azimuth=args.azimuth, axes=args.axes, caption=args.caption,
                loop=args.loop, turn=args.turn, fmt=format_for_path(args.out, args.fmt))
    if args.compare is not None:
        over["compare"] = str(scene_path(args.compare).resolve())
    if args.size:
        over["width"], over["height"] = parse_size(args.size)
    if args.seconds is not None:
        fps = args.fps if args.fps is not None else scene.export.fps
        hi = LIMITS["frames"][1]
        if not (math.isfinite(args.seconds) and args.seconds > 0):
            raise UsageError(f"--seconds {args.seconds} is not allowed; expected a finite duration > 0")
        if args.seconds * fps > hi + 0.5:
            raise UsageError(f"--seconds {args.seconds:g} at {fps:g} fps is {args.seconds * fps:.6g} frames; "
                             f"at most {hi:g} are allowed")
        over["frames"] = max(1, round(args.seconds * fps))
    return options_for(scene, **over)


def run(args: argparse.Namespace) -> int:
    """Check everything, then render with SIGINT/SIGTERM/SIGHUP turned into a clean stop (see the module doc)."""
    from nnlab.interrupts import Interrupted, deferred_interrupts, interrupt_handlers

    with interrupt_handlers():
        try:
            with deferred_interrupts():
                from nnlab.engine.export.plan import check_output
                from nnlab.engine.model.scene import load_scene
            scene = load_scene(scene_path(args.scene))
            opts = options_from_args(args, scene)
            check_output(args.out)
            return _export(args, scene, opts)
        except Interrupted as stop:
            if stop.signum == signal.SIGINT:
                raise  # the CLI's own "nnlab: interrupted", exit 130
            print(f"nnlab export: stopped by {signal.Signals(stop.signum).name}", file=sys.stderr)
            return 128 + stop.signum


def _preload(scene, opts) -> None:
    """Import the C-extension libraries the export will need while interrupts are deferred: an interrupt inside
    such an import is turned into an ImportError or AttributeError (numpy, pyqtgraph) or aborts the interpreter
    (shiboken), and the half-imported module stays broken."""
    import PIL.Image  # noqa: F401
    import PIL.ImageDraw  # noqa: F401

    if _trains(scene, opts) or (opts.kind == "optimizer" and _optimizer_imports_torch(scene, opts)):
        import torch  # noqa: F401


def _optimizer_imports_torch(scene, opts) -> bool:
    from nnlab.engine.optimize.methods import may_import_torch

    return may_import_torch(opts.method or scene.optimizer.method, scene.network.input_dim)


def _trains(scene, opts) -> bool:
    """Whether this export trains a network: not when the training cache (shipped weights of the bundled presets,
    or an earlier run) has it, so a trained preset's orbit imports no torch."""
    from nnlab.engine.export.plan import training_scene
    from nnlab.engine.train import cache

    if opts.kind == "training":
        sc, every = training_scene(scene, opts)
        return cache.lookup_frames(sc, every, sc.camera.resolution) is None
    return scene.trains() and cache.lookup(scene) is None


def _export(args: argparse.Namespace, scene, opts) -> int:
    from nnlab.engine.export.run import run_export
    from nnlab.interrupts import check_interrupt, deferred_interrupts

    xvfb = app = None
    pipe = None  # read end of a spawned Xvfb's display-number pipe, until wait_xvfb has closed it
    try:
        with deferred_interrupts():  # C-extension imports (Qt, shiboken, GL) abort the interpreter if interrupted
            if choose_renderer() == "egl":
                _preload(scene, opts)
                from nnlab.ui.egl_render import EGLPanelRenderer as make_renderer
            else:
                if needs_xvfb():
                    xvfb, pipe = spawn_xvfb()  # the server boots (~0.15 s) while the libraries below load
                _preload(scene, opts)
                from nnlab.ui.render import GLPanelRenderer as make_renderer
                if xvfb is not None:
                    r, pipe = pipe, None
                    wait_xvfb(xvfb, r)
                    app = qt_app()
                qt_app()

        t0 = time.perf_counter()
        gen = run_export(scene, opts, args.out, make_renderer)
        show = not args.quiet and sys.stderr.isatty()
        try:
            while True:
                ev = next(gen)
                check_interrupt()  # also one that a library caught and swallowed
                if show:
                    total = f"/{ev.total}" if ev.total else ""
                    print(f"\r{ev.stage}: {ev.done}{total} {ev.message[:40]:<40}", end="", file=sys.stderr, flush=True)
        except StopIteration as stop:
            path = stop.value
        finally:
            gen.close()
            if show:
                print(file=sys.stderr)
        frames = 1 if opts.fmt == "png" else opts.frames
        print(f"wrote {path} ({opts.kind}, {frames} frame{'s' * (frames > 1)}, {opts.width}x{opts.height}, "
              f"{time.perf_counter() - t0:.1f} s)")
        return 0
    finally:
        with deferred_interrupts():  # a second Ctrl+C must not cut the cleanup short
            if pipe is not None:
                os.close(pipe)
            try:
                if app is not None:  # disconnect from our Xvfb before stopping it (else Qt dies with an X I/O error)
                    app.processEvents()
                    app.shutdown()
            finally:
                stop_xvfb(xvfb)
