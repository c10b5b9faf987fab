"""Animation plans without Qt: the export options and their limits, and what each frame shows.

A plan is a tuple of frames; each frame names, per panel, a surface, points/paths/marker and a camera. A renderer
(the app's GL view, see nnlab/ui/render.py) turns one panel into pixels; `frame_image` lays the panels out and draws
captions in bands that never overlap the surface. Writers are generators yielding ExportProgress and write under a
temporary name in the target folder, renamed at the end, so a cancelled or failed export keeps an earlier file.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Callable, Generator

import numpy as np

from nnlab.engine.analysis.surface import evaluate_network, grid_axes
from nnlab.engine.export.writers import ExportError, ExportProgress
from nnlab.engine.model.network import NetSnapshot, initial_snapshot
from nnlab.engine.model.scene import CameraSpec, Scene, load_scene

BACKGROUNDS = {"white": (255, 255, 255), "dark": (22, 24, 30), "transparent": (255, 255, 255)}

KINDS = ("orbit", "training", "optimizer", "gallery", "compare")
FORMATS = ("gif", "mp4", "png-frames", "png")
COLORMAPS = next(f.metadata["choices"] for f in fields(CameraSpec) if f.name == "colormap")
DEFAULT_TURN = {"orbit": 360.0, "gallery": 360.0, "compare": 360.0, "training": 60.0, "optimizer": 60.0}

# Limits checked before any work (a 20 kB caption took half a minute per frame, `--frames 1e9` would run for days).
# (low, high) of each number an export accepts; every value must also be finite.
LIMITS: dict[str, tuple[float, float]] = {
    "width": (16, 8192), "height": (16, 8192), "fps": (0.1, 240), "frames": (1, 100_000), "seeds": (1, 1000),
    "elevation": (-90, 90), "azimuth": (-1e6, 1e6), "distance": (0, 1e6), "turn": (-1e6, 1e6),
}
MAX_PIXELS = 8192 * 4096  # one frame (an 8K still is 7680x4320)
MAX_CAPTION = 200  # characters, one line


def check_number(name: str, value: float, label: str | None = None) -> None:
    """Refuse a non-finite or out-of-range export number; `label` names it in the message (e.g. "--fps")."""
    lo, hi = LIMITS[name]
    label = label or name
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ExportError(f"{label} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ExportError(f"{label} {value} is not allowed; expected a finite number in {lo:g}..{hi:g}")
    if not lo <= value <= hi:
        raise ExportError(f"{label} {value:g} is not allowed; expected {lo:g}..{hi:g}")


def check_caption(text: str, label: str = "caption") -> None:
    """One line of at most MAX_CAPTION characters (drawn in a band one line high)."""
    if not isinstance(text, str):
        raise ExportError(f"{label} must be text, got {type(text).__name__}")
    if len(text) > MAX_CAPTION:
        raise ExportError(f"{label} has {len(text)} characters; at most {MAX_CAPTION} are allowed")
    if any(not c.isprintable() for c in text):
        raise ExportError(f"{label} must be one line of printable text (no newlines or control characters)")


@dataclass(frozen=True)
class ExportOptions:
    """Everything that decides the frames; the same options and scene give the same bytes."""

    kind: str = "orbit"
    fmt: str = "gif"
    width: int = 800
    height: int = 600
    fps: float = 30.0
    frames: int = 120
    loop: bool = True
    colormap: str = "viridis"
    background: str = "white"
    elevation: float = 30.0
    azimuth: float = 45.0
    distance: float = 0.0  # 0: the view's own fit
    axes: bool = True
    caption: str = ""
    seeds: int = 5
    method: str = ""  # optimizer kind: "" uses the scene's method
    compare: str = ""  # compare kind: the other scene file ("" uses scene.compare)
    turn: float | None = None  # degrees the camera turns over the animation (None: per-kind default)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ExportError(f"unknown kind {self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.fmt not in FORMATS:
            raise ExportError(f"unknown format {self.fmt!r}; allowed: {', '.join(FORMATS)}")
        for name in ("width", "height", "frames", "seeds"):
            if not isinstance(getattr(self, name), int) or isinstance(getattr(self, name), bool):
                raise ExportError(f"{name} must be a whole number, got {getattr(self, name)!r}")
        if not (16 <= self.width <= 8192 and 16 <= self.height <= 8192):
            raise ExportError(f"size {self.width}x{self.height} is not allowed; expected 16..8192 pixels each way")
        if self.width * self.height > MAX_PIXELS:
            raise ExportError(f"size {self.width}x{self.height} is not allowed; at most {MAX_PIXELS:,} pixels a frame")
        for name in ("fps", "frames", "seeds", "elevation", "azimuth", "distance"):
            check_number(name, getattr(self, name))
        if self.turn is not None:
            check_number("turn", self.turn)
        check_caption(self.caption)
        if self.colormap not in COLORMAPS:
            raise ExportError(f"unknown colormap {self.colormap!r}; allowed: {', '.join(COLORMAPS)}")
        if self.background not in BACKGROUNDS:
            raise ExportError(f"unknown background {self.background!r}; allowed: {', '.join(BACKGROUNDS)}")
        if self.background == "transparent" and self.fmt in ("gif", "mp4"):
            raise ExportError("a transparent background needs PNG output (a .png still or a folder of PNG frames)")


def options_for(scene: Scene, **overrides: Any) -> ExportOptions:
    """Options from the scene's [export] and [camera] defaults, with non-None overrides."""
    e, c = scene.export, scene.camera
    base = dict(kind=e.kind, width=e.width, height=e.height, fps=e.fps, frames=e.frames, loop=e.loop,
                colormap=c.colormap, background=e.background, elevation=c.elevation, azimuth=c.azimuth,
                distance=c.distance, axes=e.axes, caption=e.caption, seeds=e.seeds, compare=scene.compare)
    base.update({k: v for k, v in overrides.items() if v is not None})
    return ExportOptions(**base)


def format_for_path(path: str | os.PathLike, fmt: str | None = None) -> str:
    """The output format: explicit, else from the suffix (.gif, .mp4, .png) or a trailing slash (PNG frames)."""
    if fmt:
        if fmt not in FORMATS:
            raise ExportError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
        return fmt
    s = str(path)
    if s.endswith(("/", os.sep)) or Path(s).is_dir():
        return "png-frames"
    suffix = Path(s).suffix.lower()
    found = {".gif": "gif", ".mp4": "mp4", ".png": "png"}.get(suffix)
    if found is None:
        raise ExportError(f"cannot tell the format of {s!r}; use .gif, .mp4, .png, a folder ending in / or --format")
    return found


def check_output(path: str | os.PathLike) -> Path:
    """The output path, if its folder exists and is writable (checked before any slow work)."""
    p = Path(os.path.normpath(os.fspath(path)))
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write {p}: folder {parent} is not writable")
    return p


@dataclass(frozen=True, eq=False)
class Panel:
    """What one view shows: a surface Z[i, j] = f(xs[i], ys[j]) and optional overlays (x, y, value rows)."""

    z: np.ndarray
    xs: np.ndarray
    ys: np.ndarray
    points: np.ndarray | None = None
    paths: tuple[np.ndarray, ...] = ()
    marker: np.ndarray | None = None
    title: str = ""


@dataclass(frozen=True, eq=False)
class Frame:
    panels: tuple[Panel, ...]
    elevation: float
    azimuth: float
    distance: float
    caption: str = ""


@dataclass(frozen=True, eq=False)
class Plan:
    kind: str
    frames: tuple[Frame, ...]
    options: ExportOptions


PanelRenderer = Callable[[int, Panel, Frame, int, int], np.ndarray]  # (slot, panel, frame, w, h) -> (h, w, 4)


def scene_surface(scene: Scene, net: NetSnapshot | None = None) -> Panel:
    """The scene's network (trained when the scene says so) on its grid."""
    if net is None:
        net = scene_network(scene)
    lo, hi = scene.domain()
    xs, ys = grid_axes(lo, hi, scene.camera.resolution)
    return Panel(evaluate_network(net, lo, hi, scene.camera.resolution), xs, ys, title=scene.title)


def scene_network(scene: Scene) -> NetSnapshot:
    """The scene's network: trained weights come from the training cache (shipped for the bundled presets), so
    an export trains only a scene never trained before; an untrained scene needs no torch."""
    if scene.trains():
        from nnlab.engine.train.cache import trained_network

        return trained_network(scene)
    return scene.base_network()  # a model file's network, or the initial one


def _camera(opts: ExportOptions, i: int) -> dict:
    turn = DEFAULT_TURN[opts.kind] if opts.turn is None else opts.turn
    return dict(elevation=opts.elevation, azimuth=(opts.azimuth + turn * i / opts.frames) % 360.0,
                distance=opts.distance)


def _join(*parts: str) -> str:
    return "  ·  ".join(p for p in parts if p)


def plan_frames(opts: ExportOptions, panels_at: Callable[[int], tuple[tuple[Panel, ...], str]]) -> tuple[Frame, ...]:
    """Frames 0..n-1 from a function giving the panels and kind-specific caption of frame i."""
    out = []
    for i in range(opts.frames):
        panels, caption = panels_at(i)
        out.append(Frame(panels, caption=_join(opts.caption, caption), **_camera(opts, i)))
    return tuple(out)


def build_plan(scene: Scene, opts: ExportOptions,
               net: NetSnapshot | None = None) -> Generator[ExportProgress, None, Plan]:
    """The frames of an export; slow kinds (training, optimizer) yield progress while they compute. `net` is the
    network to show (the app passes the one on screen) for orbit, optimizer and compare's first panel; None: the
    scene's own (see scene_network). Training and gallery build their networks from the scene."""
    n = opts.frames
    if scene.network.model and opts.kind in ("gallery", "training"):  # these make networks from [init]
        raise ExportError(f"the {opts.kind} kind draws networks the scene initialises; this scene shows its model "
                          "file: export orbit, optimizer or compare")
    yield ExportProgress("prepare", 0, 0, f"preparing {opts.kind}")
    if opts.kind == "orbit":
        p = scene_surface(scene, net)
        frames = plan_frames(opts, lambda i: ((p,), ""))
    elif opts.kind == "gallery":
        from nnlab.engine.model.inits import INITS

        label = INITS.get(scene.init.scheme).label
        seeds = [scene.init.seed + k for k in range(opts.seeds)]
        panels = [scene_surface(scene, initial_snapshot(scene.network, replace(scene.init, seed=s))) for s in seeds]
        frames = plan_frames(opts, lambda i: ((panels[i * len(seeds) // n],), f"{label}, seed {seeds[i * len(seeds) // n]}"))
    elif opts.kind == "compare":
        if not opts.compare:
            raise ExportError("the compare kind needs a second scene: set `compare` in the scene file or give --compare")
        other = load_scene(scene.resolve_path(opts.compare))
        pair = (scene_surface(scene, net), scene_surface(other))
        frames = plan_frames(opts, lambda i: (pair, ""))
    elif opts.kind == "training":
        frames = yield from _plan_training(scene, opts)
    else:
        frames = yield from _plan_optimizer(scene, opts, net)
    return Plan(opts.kind, frames, opts)


def training_scene(scene: Scene, opts: ExportOptions) -> tuple[Scene, int]:
    """The scene a training animation trains (training on, a surface every `every` epochs) and `every`: at most
    60 keyframes whatever the number of frames, so one stored set (shipped for the trained presets) serves all."""
    from nnlab.engine.train.keyframes import keyframe_scene

    return keyframe_scene(scene)


def _plan_training(scene: Scene, opts: ExportOptions) -> Generator[ExportProgress, None, tuple[Frame, ...]]:
    """Keyframes every few epochs, blended linearly; the last ~15% of frames hold the trained surface. The
    keyframes of a scene trained before (or of a bundled trained preset) are replayed from the training cache."""
    from nnlab.engine.train import cache
    from nnlab.engine.train.keyframes import KeyframeError, caption, train_keyframes

    if scene.target.name == "none":
        raise ExportError("the training kind needs a scene with a [target] to train on")
    sc, every = training_scene(scene, opts)
    base = scene_surface(sc, initial_snapshot(sc.network, sc.init))
    res = sc.camera.resolution
    stored = cache.lookup_frames(sc, every, res)
    if stored is not None:  # replayed: the same keyframes the training below gave the first time
        trained, final_net = stored
        yield ExportProgress("train", sc.train.epochs, sc.train.epochs, "keyframes from the training cache")
    else:
        gen = train_keyframes(sc)
        try:
            while True:
                epoch, epochs = next(gen)
                yield ExportProgress("train", epoch, epochs, f"epoch {epoch}/{epochs}")
        except StopIteration as stop:
            trained, final_net = stop.value
        except KeyframeError as e:
            raise ExportError(str(e)) from None
        finally:
            gen.close()
        cache.store_frames(sc, every, res, trained, final_net)  # keyframe 0 is the initial surface, recomputed
        if cache.lookup(sc) is None:
            cache.store(sc, final_net)
    keys = [(base.z, caption(0, sc.train.epochs))] + trained
    final = scene_surface(sc, final_net)
    keys = keys + [(final.z, keys[-1][1] if len(keys) > 1 else caption(sc.train.epochs, sc.train.epochs))]
    morph = max(1, round(0.85 * (opts.frames - 1)))

    def at(i: int) -> tuple[tuple[Panel, ...], str]:
        u = min(1.0, i / morph) * (len(keys) - 1)
        k = min(int(math.floor(u)), len(keys) - 2)
        t = np.float32(u - k)
        z = keys[k][0] if t == 0 else keys[k][0] * (1 - t) + keys[k + 1][0] * t
        return (replace(base, z=z),), keys[k if t < 0.5 else k + 1][1]

    return plan_frames(opts, at)


def _plan_optimizer(scene: Scene, opts: ExportOptions,
                    net: NetSnapshot | None = None) -> Generator[ExportProgress, None, tuple[Frame, ...]]:
    """Steps (points, walks, incumbents) revealed over ~75% of the frames, then the optimum is held."""
    from nnlab.engine.optimize import METHODS, Incumbent, PointsVisited, WalkPath, run_method

    o = scene.optimizer
    method = opts.method or o.method
    METHODS.get(method)  # an unknown method is refused before the scene's network is trained
    if net is None:
        net = scene_network(scene)
    base = scene_surface(scene, net)
    lo, hi = scene.domain()
    steps: list[tuple[list, list, np.ndarray | None]] = [([], [], None)]
    gen = run_method(method, net, lo, hi, o.sense, o.time_limit, o.seed, o.params if method == o.method else None)
    try:
        while True:
            ev = next(gen)
            pts, paths, best = steps[-1]
            if isinstance(ev, PointsVisited) and len(ev.points):
                rows = np.column_stack([ev.points[:, :2], ev.values])
                for chunk in np.array_split(rows, min(len(rows), 16)):  # a big batch still appears gradually
                    pts = pts + [chunk]
                    steps.append((pts, paths, best))
            elif isinstance(ev, WalkPath) and len(ev.path):
                steps.append((pts, paths + [np.column_stack([ev.path[:, :2], ev.values])], best))
            elif isinstance(ev, Incumbent):
                steps.append((pts, paths, np.array([ev.x[0], ev.x[1], ev.value], dtype=np.float64)))
            else:
                continue
            yield ExportProgress("optimize", len(steps), 0, f"{method}: {len(steps)} steps")
    except StopIteration as stop:
        result = stop.value
    finally:
        gen.close()
    if result.x is None:
        raise ExportError(f"optimizer {method!r} found no point ({result.status}{': ' + result.message if result.message else ''})")
    opt = np.array([result.x[0], result.x[1], result.value], dtype=np.float64)
    reveal = max(1, round(0.75 * opts.frames))
    cache: dict[int, Panel] = {}

    def at(i: int) -> tuple[tuple[Panel, ...], str]:
        s = len(steps) - 1 if i >= reveal else round(i * (len(steps) - 1) / max(1, reveal - 1))
        done = i >= reveal
        key = -1 if done else s
        if key not in cache:
            pts, paths, best = steps[s]
            cache[key] = replace(base, points=np.concatenate(pts) if pts else None, paths=tuple(paths),
                                 marker=opt if done else best)
        n_pts = sum(len(p) for p in steps[s][0])
        if done:
            x0, x1 = result.x[0] + 0.0, result.x[1] + 0.0  # + 0.0: no "-0" in captions
            return (cache[key],), f"{method}: {o.sense} {result.value + 0.0:.5g} at ({x0:.4g}, {x1:.4g})"
        best = steps[s][2]
        return (cache[key],), _join(f"{method}: {n_pts} points", "" if best is None else f"best {best[2] + 0.0:.5g}")

    return plan_frames(opts, at)
