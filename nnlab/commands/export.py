"""`nnlab export SCENE --kind KIND --out FILE [...]`: animations and stills rendered by the app's own GL view.

Without a display it starts a private Xvfb server (when installed) for the duration of the command.
"""
from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

from nnlab.engine.export import ExportError as UsageError  # a ValueError: one line, exit 2

PRESETS = Path(__file__).resolve().parents[2] / "resources" / "scenes"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="write a GIF/MP4/PNG-frames animation or a still PNG of a scene",
        description="Render a scene with the app's GL view and write an animation. The format follows --out: "
                    ".gif, .mp4, .png (a still), or a folder (ending in /, or --format png-frames).")
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
    p.add_argument("--compare", help="compare: the second scene file")
    p.add_argument("--no-loop", dest="loop", action="store_false", default=None, help="GIF plays once")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def resolve_scene(name: str) -> Path:
    """A scene path as given, else a bundled preset by name."""
    p = Path(name)
    if p.exists() or p.suffix:
        return p
    preset = PRESETS / f"{name}.toml"
    return preset if preset.exists() else p


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--size {text!r} is not WIDTHxHEIGHT, e.g. 800x600") from None
    return w, h


def start_xvfb(timeout: float = 10.0) -> subprocess.Popen:
    """Start `Xvfb` on a free display (it picks one with -displayfd) and point DISPLAY at it."""
    exe = shutil.which("Xvfb")
    if exe is None:
        raise UsageError("no display to render on: install Xvfb (apt-get install xvfb) or set DISPLAY")
    r, w = os.pipe()
    try:
        # -terminate: the server also ends when its last client (us) disconnects, even if we die hard
        proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", "1280x1024x24", "-nolisten", "tcp",
                                 "-terminate"],
                                pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    finally:
        os.close(w)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while not data.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(r, 16) if ready else b""
            if not chunk:
                break
            data += chunk
    finally:
        os.close(r)
    if not data.strip().isdigit():
        stop_xvfb(proc)
        raise UsageError("could not start Xvfb for offscreen rendering; set DISPLAY or check the Xvfb install")
    os.environ["DISPLAY"] = f":{int(data)}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


def stop_xvfb(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def ensure_display() -> subprocess.Popen | None:
    """None when a usable display exists; else the Xvfb process started for us (caller stops it)."""
    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is not None:
        return None
    if os.environ.get("DISPLAY"):
        if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
            os.environ["QT_QPA_PLATFORM"] = "xcb"  # these platforms have no OpenGL
        return None
    if os.environ.get("WAYLAND_DISPLAY") and os.environ.get("QT_QPA_PLATFORM", "").startswith("wayland"):
        return None
    return start_xvfb()


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
    from nnlab.engine.export import KINDS, ExportError, format_for_path, options_for

    if args.kind is not None and args.kind not in KINDS:
        raise ExportError(f"unknown kind {args.kind!r}; allowed: {', '.join(KINDS)}")
    over = dict(kind=args.kind, fps=args.fps, frames=args.frames, seeds=args.seeds, method=args.method,
                colormap=args.colormap, background=args.background, elevation=args.elevation,
                distance=args.distance, azimuth=args.azimuth, axes=args.axes, caption=args.caption,
                loop=args.loop, turn=args.turn, fmt=format_for_path(args.out, args.fmt))
    if args.compare is not None:
        over["compare"] = str(Path(args.compare).resolve())
    if args.size:
        over["width"], over["height"] = parse_size(args.size)
    if args.seconds is not None:
        fps = args.fps if args.fps is not None else scene.export.fps
        over["frames"] = max(1, round(args.seconds * fps))
    return options_for(scene, **over)


def run(args: argparse.Namespace) -> int:
    from nnlab.engine.export import check_output, run_export
    from nnlab.engine.scene import load_scene

    scene = load_scene(resolve_scene(args.scene))
    opts = options_from_args(args, scene)
    check_output(args.out)
    xvfb = ensure_display()
    app = None
    try:
        app = qt_app() if xvfb is not None else None
        qt_app()
        from nnlab.ui.render import GLPanelRenderer

        t0 = time.perf_counter()
        gen = run_export(scene, opts, args.out, GLPanelRenderer)
        show = not args.quiet and sys.stderr.isatty()
        try:
            while True:
                ev = next(gen)
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
        if app is not None:  # disconnect from our Xvfb before stopping it (else Qt dies with an X I/O error)
            app.processEvents()
            app.shutdown()
        stop_xvfb(xvfb)
