"""The Qt-free EGL export renderer (nnlab.ui.egl_render, issue 15) against the app's Qt GL view, and the export
command's choice between them.

PyOpenGL binds one platform per process and this pytest process has Qt's, so every EGL render runs in a subprocess
(no DISPLAY); the Qt frames of the same plans are rendered here. Skipped where Mesa's EGL cannot make a context.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, Qt

from nnlab.engine.export.layout import frame_image
from nnlab.engine.export.plan import build_plan, options_for
from nnlab.engine.jobs import drain
from nnlab.engine.model.scene import load_scene, save_scene

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)  # before pytest-qt makes the app

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "resources" / "scenes" / "default.toml"
HEADLESS = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
NO_EGL = {"__EGL_VENDOR_LIBRARY_FILENAMES": "/nonexistent/egl_vendor.json"}  # glvnd finds no EGL driver

# Render plans with EGL in a fresh process: argv[1] = JSON [(scene, options, frame index, antialias)], argv[2] = .npz
EGL_SCRIPT = """
import json, sys
import numpy as np
from nnlab.engine.export.layout import frame_image
from nnlab.engine.export.plan import build_plan, options_for
from nnlab.engine.jobs import drain
from nnlab.engine.model.scene import load_scene
from nnlab.ui.egl_render import EGLPanelRenderer
out = {}
for k, (scene, opts, i, aa) in enumerate(json.loads(sys.argv[1])):
    sc = load_scene(scene)
    plan = drain(build_plan(sc, options_for(sc, **opts)))
    r = EGLPanelRenderer(plan, antialias=aa)
    out[str(k)] = frame_image(plan, i, r)
    r.close()
np.savez(sys.argv[2], **out)
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & {"PySide6", "pyqtgraph", "torch", "cvxpy"})))
"""


def _egl_works() -> bool:
    code = "from nnlab.ui.egl_render import egl_unavailable; raise SystemExit(egl_unavailable() is not None)"
    return subprocess.run([sys.executable, "-c", code], env=HEADLESS, cwd=ROOT, timeout=60).returncode == 0


pytestmark = pytest.mark.skipif(not _egl_works(), reason="no offscreen EGL (Mesa libegl-mesa0) on this machine")


def egl_frames(tmp_path: Path, jobs: list) -> tuple[list[np.ndarray], list[str]]:
    """EGL frames of (scene, options, frame index, antialias) jobs, and the heavy modules that process loaded."""
    npz = tmp_path / "egl.npz"
    r = subprocess.run([sys.executable, "-c", EGL_SCRIPT, json.dumps(jobs), str(npz)], env=HEADLESS, cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    data = np.load(npz)
    return [data[str(k)] for k in range(len(jobs))], json.loads(r.stdout.strip().splitlines()[-1])


def qt_frame(scene: str, opts: dict, i: int) -> np.ndarray:
    from nnlab.ui.render import GLPanelRenderer

    sc = load_scene(scene)
    plan = drain(build_plan(sc, options_for(sc, **opts)))
    r = GLPanelRenderer(plan)
    try:
        return frame_image(plan, i, r)
    finally:
        r.close()


def silhouette(img: np.ndarray, bg: tuple[int, int, int]) -> np.ndarray:
    """Pixels that are not background (the surface, with the axes hidden)."""
    return np.abs(img[..., :3].astype(int) - np.array(bg)).sum(axis=2) > 24


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


@pytest.fixture
def optimizer_scene(tmp_path) -> str:
    """The default scene with random sampling: points, the best-so-far marker and its stem in the frames."""
    sc = load_scene(DEFAULT)
    sc = sc.replace("optimizer", method="random", params={"samples": 300})
    path = tmp_path / "opt.toml"
    save_scene(sc, path)
    return str(path)


ORBIT = dict(kind="orbit", frames=12, width=320, height=240, fps=30, fmt="gif")


def test_egl_frames_match_the_qt_view(qapp, tmp_path, optimizer_scene):
    """Same plan, both renderers: the surface covers the same pixels (silhouette IoU) and the pictures differ
    little on average (mean absolute difference per channel, 0-255), for the animation mode ("fast": no
    supersampling) and the stills' mode ("ss2": the Qt path's own 2x supersampling). Measured at 320x240 (and
    800x600): axes hidden, IoU 0.961-0.983 and difference 0.14-0.43 fast, IoU 1.000 and 0.01-0.03 ss2; with
    axes and labels (text rasterised by FreeType in Pillow, not Qt) 0.76-1.99 fast, 0.52-1.18 ss2."""
    cases = [
        (str(DEFAULT), dict(ORBIT, axes=False), 0),
        (str(DEFAULT), dict(ORBIT, axes=False), 5),
        (str(DEFAULT), dict(ORBIT), 0),
        (str(DEFAULT), dict(ORBIT, background="dark", colormap="magma"), 7),
        (optimizer_scene, dict(ORBIT, kind="optimizer", background="dark"), 10),
        (optimizer_scene, dict(ORBIT, kind="optimizer"), 11),
    ]
    jobs = [(s, o, i, aa) for aa in ("fast", "ss2") for s, o, i in cases]
    egl, heavy = egl_frames(tmp_path, jobs)
    assert heavy == []  # no PySide6, pyqtgraph, torch or cvxpy in the EGL process
    for k, (scene, opts, i, aa) in enumerate(jobs):
        qt = qt_frame(scene, opts, i)
        e = egl[k]
        assert e.shape == qt.shape == (opts["height"], opts["width"], 4) and e.dtype == np.uint8
        bg = (22, 24, 30) if opts.get("background") == "dark" else (255, 255, 255)
        if not opts.get("axes", True):
            assert iou(silhouette(e, bg), silhouette(qt, bg)) > (0.95 if aa == "fast" else 0.99), (k, aa)
        mad = np.abs(e[..., :3].astype(int) - qt[..., :3]).mean()
        assert mad < (2.5 if aa == "fast" else 1.5), (k, aa, mad)
        # the optimum marker (optimizer kind): its red where the Qt view has it
        if opts["kind"] == "optimizer":
            red = lambda a: (a[..., 0] > 200) & (a[..., 1] < 90) & (a[..., 2] < 90)  # noqa: E731
            assert red(qt).sum() > 20 and iou(red(e), red(qt)) > 0.6, (k, aa)
            # the sampled points (near-white sprites on the surface) in both
            white = lambda a: a[..., :3].min(axis=2) > 235  # noqa: E731
            on_surface = silhouette(qt, bg) & silhouette(e, bg)
            if bg != (255, 255, 255):
                assert (white(e) & on_surface).sum() > 0.5 * (white(qt) & on_surface).sum() > 50, (k, aa)


def test_labels_are_drawn_where_the_ticks_project(qapp, tmp_path):
    """Every tick label and title has label-coloured (dark) pixels around its projected anchor, which the same
    frame without axes has not."""
    from nnlab.ui.cube import HOME, H, label_frame, projection_matrix, view_matrix
    from nnlab.ui.ticks import tick_texts

    opts = dict(ORBIT, width=480, height=360)
    (on, off), _ = egl_frames(tmp_path, [(str(DEFAULT), opts, 3, "fast"), (str(DEFAULT), dict(opts, axes=False), 3,
                                                                           "fast")])
    sc = load_scene(DEFAULT)
    plan = drain(build_plan(sc, options_for(sc, **opts)))
    fr, panel = plan.frames[3], plan.frames[3].panels[0]
    dist = fr.distance if fr.distance > 0 else HOME[2]
    zr = (float(np.nanmin(panel.z)), float(np.nanmax(panel.z)))
    texts = tick_texts((panel.xs[0], panel.xs[-1]), (panel.ys[0], panel.ys[-1]), zr, H,
                       label_frame(fr.elevation, fr.azimuth, dist))
    m = projection_matrix(dist, 480, 360) @ view_matrix(fr.elevation, fr.azimuth, dist)
    dark = lambda a: a[..., :3].max(axis=2) < 90  # noqa: E731  the label colour (40, 40, 48), not the lines'
    assert len(texts) >= 8
    for pos, text, _ in texts:
        c = m @ np.append(pos, 1.0)
        x, y = (c[0] / c[3] + 1) * 240, (1 - c[1] / c[3]) * 180
        box = np.s_[max(0, int(y) - 12):int(y) + 12, max(0, int(x) - 30):int(x) + 30]
        assert (dark(on[box]) & ~dark(off[box])).sum() >= 4, (text, x, y)


def _export(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    code = ("import sys; from nnlab.cli.main import main; rc = main(sys.argv[1:]); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'pyqtgraph', 'torch', 'cvxpy'})); "
            "sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, "export", *args, "--quiet"], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_same_options_give_identical_bytes_with_egl(tmp_path):
    for name, extra in (("a.gif", ["--frames", "8", "--caption", "seed 2", "--colormap", "magma",
                                   "--background", "dark"]),
                        ("m.mp4", ["--frames", "6"]), ("s.png", []), ("t.png", ["--background", "transparent"])):
        outs = []
        for k in range(2):
            out = tmp_path / f"{k}{name}"
            r = _export([str(DEFAULT), "--out", str(out), "--size", "160x120", *extra], HEADLESS, tmp_path)
            assert r.returncode == 0, r.stderr
            outs.append(out.read_bytes())
        assert outs[0] == outs[1] and len(outs[0]) > 1000, name


@pytest.mark.parametrize("preset", ["default", "himmelblau", "peaks_tanh", "rastrigin"])
def test_the_export_command_loads_no_qt_torch_or_cvxpy(tmp_path, preset):
    """An orbit of the default scene and of the trained presets (their shipped weights: no training) renders with
    EGL and never imports PySide6, pyqtgraph, torch or cvxpy."""
    env = dict(HEADLESS, NNLAB_CACHE_DIR=str(tmp_path / "cache"))  # no earlier training of the user's
    r = _export([preset, "--kind", "orbit", "--frames", "3", "--size", "96x72", "--out", "o.gif"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout


def test_renderer_choice_fallback_and_forcing(tmp_path):
    """Unset: EGL (no Qt loaded); EGL broken: the Qt path (with its own Xvfb); NNLAB_EXPORT_RENDERER=egl with EGL
    broken, or an unknown value: one line, exit 2, nothing written; =qt: the Qt path."""
    base = [str(DEFAULT), "--kind", "orbit", "--frames", "2", "--size", "64x48"]
    r = _export([*base, "--out", "e.gif"], HEADLESS, tmp_path)
    assert r.returncode == 0 and "PySide6" not in r.stdout, r.stderr
    r = _export([*base, "--out", "f.gif"], dict(HEADLESS, **NO_EGL), tmp_path)
    assert r.returncode == 0 and "PySide6" in r.stdout, r.stderr
    r = _export([*base, "--out", "q.gif"], dict(HEADLESS, NNLAB_EXPORT_RENDERER="qt"), tmp_path)
    assert r.returncode == 0 and "PySide6" in r.stdout, r.stderr
    for env, says in ((dict(HEADLESS, NNLAB_EXPORT_RENDERER="egl", **NO_EGL), "NNLAB_EXPORT_RENDERER=egl"),
                      (dict(HEADLESS, NNLAB_EXPORT_RENDERER="vulkan"), "NNLAB_EXPORT_RENDERER='vulkan'")):
        r = _export([*base, "--out", "x.gif"], env, tmp_path)
        assert r.returncode == 2 and says in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".gif") == ["e.gif", "f.gif", "q.gif"]
    for name in ("e.gif", "f.gif", "q.gif"):
        assert (tmp_path / name).read_bytes()[:6] == b"GIF89a"
