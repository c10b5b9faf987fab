"""`nnlab export` end to end with the app's GL view (run under Xvfb): every kind, formats, determinism, errors."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, Qt

from nnlab.cli.main import main
from nnlab.engine.model.scene import InitSpec, NetworkSpec, OptimizerSpec, Scene, TargetSpec, TrainSpec, save_scene

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)  # before pytest-qt makes the app

NET = NetworkSpec(hidden=(24, 24), lower=(-5.0, -5.0), upper=(5.0, 5.0))


@pytest.fixture
def scenes(tmp_path):
    """A small untrained scene (with an optimizer and a compare partner) and a small trained one."""
    trained = Scene(title="trained", network=NET, target=TargetSpec(name="himmelblau"),
                    train=TrainSpec(enabled=True, epochs=10, samples=300)).replace("camera", resolution=32)
    plain = Scene(title="plain", network=NET, init=InitSpec(seed=2), compare="trained.toml",
                  optimizer=OptimizerSpec(method="random", params={"samples": 400}))
    plain = plain.replace("camera", resolution=32)
    save_scene(trained, tmp_path / "trained.toml")
    save_scene(plain, tmp_path / "plain.toml")
    return tmp_path


def export(qapp, *args: str) -> int:
    return main(["export", *map(str, args), "--quiet"])


def frames(path: Path) -> np.ndarray:
    return iio.imread(path, index=None)


@pytest.mark.parametrize("kind,scene,extra", [
    ("orbit", "plain", ()),
    ("gallery", "plain", ("--seeds", "2")),
    ("compare", "plain", ()),
    ("optimizer", "plain", ()),
    ("training", "trained", ()),
])
def test_each_kind_writes_a_readable_gif(qapp, scenes, kind, scene, extra):
    out = scenes / f"{kind}.gif"
    assert export(qapp, scenes / f"{scene}.toml", "--kind", kind, "--out", out, "--frames", 6,
                  "--size", "96x72", *extra) == 0
    a = frames(out)
    assert a.shape == (6, 72, 96, 3)
    assert all(not np.array_equal(a[i], a[i + 1]) for i in range(5))
    assert (a[:, 0, 0] == 255).all()  # white background corner
    core = a[:, 5:50, 10:86].astype(int)
    assert (np.abs(core - 255).sum(axis=3) > 60).mean() > 0.05  # something besides background was drawn
    if kind == "compare":  # two panels, one each side
        left, right = a[0, 10:50, :48], a[0, 10:50, 48:]
        assert (left.sum(axis=2) < 600).any() and (right.sum(axis=2) < 600).any()


def test_same_options_give_identical_bytes(qapp, scenes):
    outs = [scenes / "a.gif", scenes / "b.gif"]
    for out in outs:
        assert export(qapp, scenes / "plain.toml", "--out", out, "--frames", 5, "--size", "96x72",
                      "--caption", "seed 2", "--colormap", "magma", "--background", "dark") == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()


def test_mp4_png_frames_transparent_and_still(qapp, scenes):
    assert export(qapp, scenes / "plain.toml", "--out", scenes / "m.mp4", "--frames", 4, "--size", "96x72") == 0
    video = iio.imread(scenes / "m.mp4", index=None, plugin="FFMPEG")
    assert video.shape == (4, 72, 96, 3)
    assert export(qapp, scenes / "plain.toml", "--out", f"{scenes}/fr/", "--frames", 3, "--size", "80x60",
                  "--background", "transparent", "--no-axes") == 0
    names = sorted(os.listdir(scenes / "fr"))
    assert names == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    rgba = iio.imread(scenes / "fr" / names[0])
    assert rgba.shape == (60, 80, 4) and rgba[0, 0, 3] == 0 and (rgba[..., 3] == 255).mean() > 0.02
    assert export(qapp, scenes / "plain.toml", "--out", scenes / "still.png", "--size", "320x200") == 0
    still = iio.imread(scenes / "still.png")
    assert still.shape[:2] == (200, 320)


def test_cancelled_export_keeps_the_old_file(qapp, scenes):
    from nnlab.engine.export.plan import options_for
    from nnlab.engine.export.run import run_export
    from nnlab.engine.model.scene import load_scene
    from nnlab.ui.render import GLPanelRenderer

    out = scenes / "keep.gif"
    out.write_bytes(b"GIF89a-old")
    sc = load_scene(scenes / "plain.toml")
    gen = run_export(sc, options_for(sc, frames=10, width=96, height=72), out, GLPanelRenderer)
    for ev in gen:
        if ev.stage == "render" and ev.done >= 3:
            break
    gen.close()
    assert out.read_bytes() == b"GIF89a-old"
    assert sorted(p.name for p in scenes.iterdir() if "keep" in p.name) == ["keep.gif"]


def test_errors_are_one_line_with_exit_code_2(qapp, scenes, capsys):
    assert export(qapp, scenes / "plain.toml", "--kind", "spin", "--out", scenes / "x.gif") == 2
    err = capsys.readouterr().err
    assert "unknown kind 'spin'" in err and err.count("\n") == 1
    assert export(qapp, scenes / "plain.toml", "--out", scenes / "nope" / "x.gif") == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and err.count("\n") == 1
    assert export(qapp, scenes / "plain.toml", "--out", scenes / "x.gif", "--background", "transparent") == 2
    assert "transparent" in capsys.readouterr().err
    assert not (scenes / "x.gif").exists()


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnlab.cli.main", "export", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_headless_starts_its_own_xvfb_or_says_what_to_install(scenes):
    """The Qt renderer without a display (forced: by default EGL renders headless with no X server at all)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["NNLAB_EXPORT_RENDERER"] = "qt"
    out = scenes / "h.gif"
    r = _run([str(scenes / "plain.toml"), "--out", str(out), "--frames", "3", "--size", "64x48"], env)
    assert r.returncode == 0, r.stderr
    assert frames(out).shape == (3, 48, 64, 3)
    bare = dict(env, PATH=str(Path(sys.executable).parent))  # no Xvfb on this PATH
    r = _run([str(scenes / "plain.toml"), "--out", str(scenes / "n.gif")], bare)
    assert r.returncode == 2 and "apt-get install xvfb" in r.stderr
    assert not (scenes / "n.gif").exists()


@pytest.mark.parametrize("option,value,says", [
    ("--seconds", "inf", "--seconds inf"),
    ("--seconds", "nan", "--seconds nan"),
    ("--seconds", "1e9", "--seconds"),
    ("--azimuth", "nan", "--azimuth nan"),
    ("--elevation", "inf", "--elevation inf"),
    ("--distance", "nan", "--distance nan"),
    ("--turn", "inf", "--turn inf"),
    ("--fps", "1e9", "--fps"),
    ("--frames", "1000000000", "--frames"),
    ("--seeds", "0", "--seeds"),
    ("--size", "100000x100000", "--size"),
    ("--caption", "x" * 20_000, "--caption has 20000 characters"),
    ("--caption", "two\nlines", "--caption must be one line"),
])
def test_absurd_options_are_refused_with_one_line_before_any_work(scenes, capsys, monkeypatch, option, value, says):
    import nnlab.cli.export as cmd

    def no_display():
        raise AssertionError("reached the rendering stage")
    monkeypatch.setattr(cmd, "ensure_display", no_display)
    out = scenes / "x.gif"
    assert main(["export", str(scenes / "plain.toml"), "--out", str(out), f"{option}={value}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert not out.exists()


def test_a_bundled_preset_name_stands_for_its_scene(qapp, tmp_path, monkeypatch):
    """`nnlab export default ...` from any folder renders the bundled default scene, same bytes as its path."""
    from nnlab.bundled import scene_path

    monkeypatch.chdir(tmp_path)
    assert export(qapp, "default", "--kind", "orbit", "--frames", "2", "--size", "64x48", "--out", "by_name.gif") == 0
    path = scene_path("default")
    assert export(qapp, path, "--kind", "orbit", "--frames", "2", "--size", "64x48", "--out", "by_path.gif") == 0
    assert (tmp_path / "by_name.gif").read_bytes() == (tmp_path / "by_path.gif").read_bytes()
    assert export(qapp, "no_such_preset", "--kind", "orbit", "--out", "x.gif") == 2
