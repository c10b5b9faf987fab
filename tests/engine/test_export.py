"""Export engine without Qt: plans, frame layout, and the GIF/MP4/PNG writers (with a numpy stand-in renderer)."""
from __future__ import annotations

import os

import imageio.v3 as iio
import numpy as np
import pytest

from nnlab.engine.export.layout import bands, frame_image
from nnlab.engine.export.plan import (
    ExportError, ExportOptions, Plan, build_plan, check_output, format_for_path, options_for, scene_surface,
)
from nnlab.engine.export.run import run_export
from nnlab.engine.export.writers import write_animation
from nnlab.engine.jobs import drain
from nnlab.engine.model.network import initial_snapshot
from nnlab.engine.model.scene import InitSpec, NetworkSpec, OptimizerSpec, Scene, TargetSpec, TrainSpec
from nnlab.engine.analysis.surface import evaluate_network

SMALL = Scene(title="small", network=NetworkSpec(hidden=(16, 16)), init=InitSpec(seed=3))


def fake_renderer(plan: Plan):
    """Panel pixels from z (red), the camera angle (a black bar's position) and the overlays (blue)."""
    def render(slot, panel, frame, w, h):
        z = panel.z
        zn = (z - z.min()) / (np.ptp(z) + 1e-12)
        img = np.empty((h, w, 4), np.uint8)
        img[..., 0] = (zn[np.arange(h) * z.shape[0] // h][:, np.arange(w) * z.shape[1] // w] * 255).astype(np.uint8)
        img[..., 1] = 90
        img[..., 2] = 0 if panel.points is None else min(255, 40 + len(panel.points))
        img[..., 3] = 255
        x0 = int(frame.azimuth / 360 * (w - 4))
        img[:, x0:x0 + 4, :3] = 0
        return img
    return render




def frames_of(n=12, w=64, h=48):
    """Distinct synthetic RGBA frames: a white background with a moving coloured disc."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        img = np.full((h, w, 4), 255, np.uint8)
        cx = 8 + i * (w - 16) / max(1, n - 1)
        disc = (xx - cx) ** 2 + (yy - h / 2) ** 2 < (h / 4) ** 2
        img[disc, :3] = (30 + 15 * i, 120, 200 - 10 * i)
        out.append(img)
    return out


def test_orbit_plan_turns_once_around_the_same_surface():
    opts = options_for(SMALL, kind="orbit", frames=8, width=96, height=72)
    plan = drain(build_plan(SMALL, opts))
    assert len(plan.frames) == 8
    az = [f.azimuth for f in plan.frames]
    steps = np.diff(np.unwrap(np.radians(az)))
    assert np.allclose(np.degrees(steps), 45.0)  # 360 / 8, and the loop closes without a repeated frame
    assert all(f.panels[0].z is plan.frames[0].panels[0].z for f in plan.frames)
    net = initial_snapshot(SMALL.network, SMALL.init)
    lo, hi = SMALL.domain()
    assert np.array_equal(plan.frames[0].panels[0].z, evaluate_network(net, lo, hi, SMALL.camera.resolution))


def test_a_given_network_is_the_one_shown():
    """The app passes the network on screen (build_plan(..., net=)); the orbit shows it, not the scene's own."""
    other = initial_snapshot(SMALL.network, InitSpec(seed=11))
    opts = options_for(SMALL, kind="orbit", frames=2, width=32, height=24)
    plan = drain(build_plan(SMALL, opts, net=other))
    lo, hi = SMALL.domain()
    np.testing.assert_array_equal(plan.frames[0].panels[0].z, evaluate_network(other, lo, hi, SMALL.camera.resolution))
    own = drain(build_plan(SMALL, opts)).frames[0].panels[0].z
    assert not np.array_equal(own, plan.frames[0].panels[0].z)


def test_gallery_plan_cycles_seeds_with_captions():
    opts = options_for(SMALL, kind="gallery", frames=9, seeds=3, width=96, height=72)
    plan = drain(build_plan(SMALL, opts))
    zs = [f.panels[0].z for f in plan.frames]
    assert zs[0] is zs[2] and zs[3] is zs[5] and zs[6] is zs[8]
    assert not np.allclose(zs[0], zs[3]) and not np.allclose(zs[3], zs[6])
    assert [f.caption.endswith(f"seed {s}") for f, s in zip(plan.frames[::3], (3, 4, 5))] == [True] * 3
    other = initial_snapshot(SMALL.network, InitSpec(seed=4))
    assert np.array_equal(zs[3], scene_surface(SMALL, other).z)


def test_training_plan_morphs_from_initial_to_trained():
    sc = SMALL.replace(target=TargetSpec(name="himmelblau"), train=TrainSpec(enabled=True, epochs=12, samples=200),
                       network=NetworkSpec(hidden=(16, 16), lower=(-5.0, -5.0), upper=(5.0, 5.0)))
    sc = sc.replace("camera", resolution=24)
    plan = drain(build_plan(sc, options_for(sc, kind="training", frames=10, width=96, height=72)))
    first, last = plan.frames[0].panels[0].z, plan.frames[-1].panels[0].z
    assert np.array_equal(first, scene_surface(sc, initial_snapshot(sc.network, sc.init)).z)
    assert not np.allclose(first, last)
    assert "epoch 0/12" in plan.frames[0].caption and "epoch 12/12" in plan.frames[-1].caption
    assert "loss" in plan.frames[-1].caption


def test_optimizer_plan_reveals_points_and_ends_on_the_optimum():
    sc = SMALL.replace(optimizer=OptimizerSpec(method="random", params={"samples": 600}, seed=2))
    plan = drain(build_plan(sc, options_for(sc, kind="optimizer", frames=12, width=96, height=72)))
    counts = [0 if f.panels[0].points is None else len(f.panels[0].points) for f in plan.frames]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    last = plan.frames[-1].panels[0]
    net = initial_snapshot(sc.network, sc.init)
    assert last.marker is not None and np.isclose(last.marker[2], net.forward(last.marker[:2]))
    assert np.isclose(last.marker[2], last.points[:, 2].max())  # max sense: the best sampled point
    assert "random" in plan.frames[-1].caption


def test_options_and_paths_are_checked(tmp_path):
    with pytest.raises(ExportError, match="unknown kind 'spin'"):
        ExportOptions(kind="spin")
    with pytest.raises(ExportError, match="transparent"):
        ExportOptions(fmt="gif", background="transparent")
    with pytest.raises(ExportError, match="colormap"):
        ExportOptions(colormap="rainbow")
    with pytest.raises(ExportError, match="does not exist"):
        check_output(tmp_path / "missing" / "a.gif")
    assert format_for_path("a.GIF") == "gif" and format_for_path("x.mp4") == "mp4"
    assert format_for_path(str(tmp_path) + "/frames/") == "png-frames" and format_for_path("s.png") == "png"
    with pytest.raises(ExportError, match="format"):
        format_for_path("movie.avi")
    with pytest.raises(ExportError, match="second scene"):
        drain(build_plan(SMALL, options_for(SMALL, kind="compare", frames=2)))


def test_caption_band_keeps_the_panel_pixels_intact():
    opts = options_for(SMALL, kind="orbit", frames=4, width=120, height=90, caption="Xavier, seed 3")
    plan = drain(build_plan(SMALL, opts))
    top, bottom = bands(plan)
    assert top == 0 and bottom > 0
    render = fake_renderer(plan)
    img = frame_image(plan, 1, render)
    panel = render(0, plan.frames[1].panels[0], plan.frames[1], 120, 90 - bottom)
    assert img.shape == (90, 120, 4)
    assert np.array_equal(img[:90 - bottom], panel)
    band = img[90 - bottom:, :, :3]
    assert (band < 128).any() and (band == 255).all(axis=2).mean() > 0.7  # dark text on the white band


def test_gif_roundtrip_one_palette_exact_background_and_deterministic(tmp_path):
    frames = frames_of()
    a, b = tmp_path / "a.gif", tmp_path / "b.gif"
    for p in (a, b):
        drain(write_animation(p, "gif", lambda i: frames[i], len(frames), fps=20, loop=True))
    assert a.read_bytes() == b.read_bytes()
    back = iio.imread(a, index=None)
    assert back.shape == (12, 48, 64, 3)
    assert (back[:, 0, 0] == 255).all()  # white stays exactly white
    assert not np.array_equal(back[0], back[-1])
    assert np.abs(back.astype(int) - np.stack(frames)[..., :3]).max() <= 12
    assert iio.immeta(a, index=0).get("loop") == 0
    assert oct(a.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert sorted(os.listdir(tmp_path)) == ["a.gif", "b.gif"]


def test_rgba_frames_map_to_the_palette_exactly_as_their_rgb():
    """to_palette takes the renderer's RGBA frame directly (no numpy copy of the colour channels, issue 15): the
    indices and palette are those of the RGB frame, exact colours (white, a text colour) kept exactly, whatever
    the alpha channel holds."""
    from nnlab.engine.export.writers import global_palette, to_palette

    rng = np.random.default_rng(3)
    frames = frames_of()
    frames[3][5:9, 5:30, :3] = (20, 20, 20)  # a text-like colour covering > 1% of the sample: an exact entry
    frames[4][..., :3] = np.where(rng.random((48, 64, 1)) < 0.3, rng.integers(0, 256, (48, 64, 3)), frames[4][..., :3])
    frames[5][..., 3] = rng.integers(0, 256, (48, 64))  # alpha is ignored
    palette = global_palette(frames)
    assert len(palette[1]) >= 2  # white and the text colour are exact entries
    for f in frames:
        a, b = to_palette(f, palette), to_palette(np.ascontiguousarray(f[..., :3]), palette)
        assert a.mode == b.mode == "P" and a.getpalette() == b.getpalette()
        assert np.array_equal(np.array(a), np.array(b))
        for c, k in palette[1]:
            rgb = ((c >> 16) & 255, (c >> 8) & 255, c & 255)
            assert (np.array(a)[(f[..., :3] == rgb).all(axis=2)] == k).all()


@pytest.mark.parametrize("pattern", ["distinct", "repeats", "all_same", "one"])
@pytest.mark.parametrize("loop", [True, False])
def test_streamed_gif_has_the_bytes_of_pillows_save_all(tmp_path, pattern, loop):
    """GifStream writes frame by frame what Pillow's save_all writes holding every frame (crops to the changed
    box, merged durations of repeated frames, a lone distinct frame as a still)."""
    import io

    from nnlab.engine.export.writers import GifStream, global_palette, to_palette

    frames = frames_of(6)
    order = {"distinct": range(6), "repeats": [0, 0, 1, 2, 2, 2, 3, 0, 0], "all_same": [4, 4, 4], "one": [2]}[pattern]
    palette = global_palette(frames)
    images = [to_palette(np.ascontiguousarray(frames[k][..., :3]), palette) for k in order]
    extra = {"loop": 0} if loop else {}
    ref = io.BytesIO()
    images[0].save(ref, format="GIF", save_all=True, append_images=images[1:], duration=50, optimize=False,
                   disposal=1, **extra)
    out = io.BytesIO()
    stream = GifStream(out, 50, loop)
    for im in images:
        stream.add(im)
    stream.close()
    assert out.getvalue() == ref.getvalue()
    back = iio.imread(out.getvalue(), index=None)
    assert len(back) == len(dict.fromkeys(np.add.accumulate([1] + [order[i] != order[i - 1] for i in range(1, len(order))])))


def test_a_gif_is_streamed_not_held_in_memory(tmp_path, monkeypatch):
    """Palette frames are written as they come: the number alive stays bounded whatever the frame count (the
    earlier writer kept all of them until the end)."""
    import gc
    import weakref

    from nnlab.engine.export import writers

    alive: list[weakref.ref] = []
    real = writers.to_palette
    monkeypatch.setattr(writers, "to_palette", lambda rgb, pal: (lambda im: alive.append(weakref.ref(im)) or im)(real(rgb, pal)))
    frames = frames_of(12, 32, 24)
    peak = []

    def frame_at(i):
        gc.collect()
        peak.append(sum(r() is not None for r in alive))
        return frames[i % 12]

    drain(write_animation(tmp_path / "long.gif", "gif", frame_at, 60, fps=30))
    assert len(alive) == 60
    assert max(peak) <= writers.GIF_PENDING + 3
    assert len(iio.imread(tmp_path / "long.gif", index=None)) == 60


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


@pytest.mark.parametrize("fmt", ["gif", "mp4", "png-frames", "png"])
def test_cancel_keeps_the_earlier_output(tmp_path, fmt):
    frames = frames_of()
    out = tmp_path / ("out" if fmt == "png-frames" else f"out.{ 'png' if fmt == 'png' else fmt}")
    drain(write_animation(out, fmt, lambda i: frames[i], 4))
    before = sorted(out.iterdir()) if out.is_dir() else out.read_bytes()
    gen = write_animation(out, fmt, lambda i: frames[-1 - i], len(frames))
    next(gen)  # one frame (or the encoded still) is done, the file is not written yet
    gen.close()
    after = sorted(out.iterdir()) if out.is_dir() else out.read_bytes()
    assert after == before
    assert sorted(os.listdir(tmp_path)) == [out.name]  # no temporary left behind


def test_failed_render_keeps_the_earlier_file(tmp_path):
    frames = frames_of()
    out = tmp_path / "x.gif"
    drain(write_animation(out, "gif", lambda i: frames[i], 3))
    old = out.read_bytes()

    def broken(i):
        if i == 5:
            raise RuntimeError("GL failed")
        return frames[i]
    with pytest.raises(RuntimeError):
        drain(write_animation(out, "gif", broken, 12))
    assert out.read_bytes() == old and os.listdir(tmp_path) == ["x.gif"]


def test_mp4_png_frames_and_transparent_still(tmp_path):
    frames = frames_of(n=6, w=65, h=47)  # odd sizes are padded for H.264
    drain(write_animation(tmp_path / "m.mp4", "mp4", lambda i: frames[i], 6, fps=12))
    video = iio.imread(tmp_path / "m.mp4", index=None, plugin="FFMPEG")
    assert video.shape[0] == 6 and video.shape[1:3] == (48, 66)
    assert np.abs(video[0].astype(int) - video[-1].astype(int)).mean() > 2
    drain(write_animation(tmp_path / "f", "png-frames", lambda i: frames[i], 6))
    names = sorted(os.listdir(tmp_path / "f"))
    assert names == [f"frame_{i:05d}.png" for i in range(6)]
    clear = frames[0].copy()
    clear[..., 3] = 0
    clear[10:20, 10:20, 3] = 255
    drain(write_animation(tmp_path / "s.png", "png", lambda i: clear, 1))
    still = iio.imread(tmp_path / "s.png")
    assert still.shape == (47, 65, 4) and still[0, 0, 3] == 0 and still[15, 15, 3] == 255


def test_run_export_with_a_stand_in_renderer(tmp_path):
    opts = options_for(SMALL, kind="gallery", frames=6, seeds=2, width=80, height=60, fmt="gif")
    closed = []

    def make(plan):
        r = fake_renderer(plan)
        r.close = lambda: closed.append(True)
        return r
    out = drain(run_export(SMALL, opts, tmp_path / "g.gif", make))
    assert out == tmp_path / "g.gif" and closed == [True]
    back = iio.imread(out, index=None)
    assert back.shape == (6, 60, 80, 3)
    assert not np.array_equal(back[0], back[3])


# ---- limits and hostile options (issue 9, items 12 and 15) ------------------------------------------------------

@pytest.mark.parametrize("field,value", [
    ("azimuth", float("nan")), ("azimuth", float("inf")), ("elevation", float("nan")), ("distance", float("nan")),
    ("distance", float("inf")), ("distance", -1.0), ("turn", float("nan")), ("turn", float("-inf")),
    ("fps", float("nan")), ("fps", float("inf")),
])
def test_non_finite_and_negative_camera_values_are_refused(field, value):
    with pytest.raises(ExportError, match=field):
        ExportOptions(**{field: value})


def test_absurd_sizes_and_counts_are_refused_before_work():
    with pytest.raises(ExportError, match="pixels a frame"):
        ExportOptions(width=8192, height=8192, fmt="png")
    for fmt in ("gif", "mp4"):  # both are streamed (no frame list in memory): a long animation is allowed
        assert ExportOptions(frames=100000, width=800, height=600, fmt=fmt).frames == 100000
    with pytest.raises(ExportError, match="frames"):
        ExportOptions(frames=0)
    with pytest.raises(ExportError, match="seeds"):
        ExportOptions(seeds=10**6)
    with pytest.raises(ExportError, match="whole number"):
        ExportOptions(frames=2.5)


def test_long_or_multiline_captions_are_refused():
    assert ExportOptions(caption="x" * 200).caption == "x" * 200
    with pytest.raises(ExportError, match="at most 200"):
        ExportOptions(caption="x" * 20_000)
    with pytest.raises(ExportError, match="one line"):
        ExportOptions(caption="two\nlines")  # Pillow's anchored text raised a ValueError traceback here


def test_a_caption_is_drawn_once_not_once_per_frame(monkeypatch):
    from PIL import ImageDraw

    calls = {"text": 0, "textlength": 0}
    for name in calls:
        orig = getattr(ImageDraw.ImageDraw, name)

        def counted(self, *a, _orig=orig, _name=name, **k):
            calls[_name] += 1
            return _orig(self, *a, **k)
        monkeypatch.setattr(ImageDraw.ImageDraw, name, counted)
    caption = "a long caption that does not fit a narrow band " * 4  # 196 characters
    opts = options_for(SMALL, kind="orbit", frames=10, width=120, height=90, caption=caption)
    plan = drain(build_plan(SMALL, opts))
    render = fake_renderer(plan)
    imgs = [frame_image(plan, i, render) for i in range(10)]
    assert calls["text"] == 1  # one band for the ten frames that share the caption
    assert calls["textlength"] <= 12  # shortened by bisection, not a character at a time (~190 measurements)
    bottom = bands(plan)[1]
    assert all(np.array_equal(imgs[0][-bottom:], im[-bottom:]) for im in imgs)
    assert (imgs[0][-bottom:, :, :3] < 128).any()  # the (shortened) caption is there


def test_shortened_caption_fits_its_band():
    from PIL import Image, ImageDraw

    from nnlab.engine.export.layout import _fit, _font

    draw = ImageDraw.Draw(Image.new("RGBA", (10, 10)))
    font = _font(12)
    text = "W" * 200
    short = _fit(draw, text, font, 150)
    assert short.endswith("…") and short[:-1] == "W" * (len(short) - 1)
    assert draw.textlength(short, font=font) <= 144 < draw.textlength(short[:-1] + "W…", font=font)
    assert _fit(draw, "ok", font, 150) == "ok"


# ---- interrupts (issue 9, item 11): a signal stops the export between frames and keeps the earlier file -------

def _swallowing_renderer(plan, signum, at_frame):
    """A stand-in for pyqtgraph's paint loop: a signal arrives while a frame renders and any exception raised in
    there is swallowed (drawItemTree catches everything, KeyboardInterrupt included)."""
    import signal

    inner = fake_renderer(plan)
    count = [0]

    def render(slot, panel, frame, w, h):
        count[0] += 1
        if count[0] == at_frame:
            try:
                signal.raise_signal(signum)
                sum(range(1000))  # the handler runs here
            except BaseException:  # noqa: BLE001 - what drawItemTree does
                pass
        return inner(slot, panel, frame, w, h)
    render.count = count
    return render


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("fmt", ["gif", "mp4", "png-frames", "png"])
def test_a_signal_during_rendering_stops_the_export_and_keeps_the_old_file(tmp_path, fmt, signame):
    import signal

    from nnlab.interrupts import Interrupted, interrupt_handlers

    signum = getattr(signal, signame)
    out = tmp_path / ("out" if fmt == "png-frames" else f"out.{fmt}")
    if fmt == "png-frames":
        out.mkdir()
        (out / "frame_00000.png").write_bytes(b"old frame")
    else:
        out.write_bytes(b"old bytes")
    opts = options_for(SMALL, kind="orbit", frames=20, width=64, height=48, fmt=fmt)
    made = []

    def make(plan):
        made.append(_swallowing_renderer(plan, signum, at_frame=1 if fmt == "png" else 3))
        return made[-1]
    before = signal.getsignal(signum)
    with pytest.raises(Interrupted) as info:
        with interrupt_handlers():
            drain(run_export(SMALL, opts, out, make))
    assert info.value.signum == signum and isinstance(info.value, KeyboardInterrupt)
    assert made[0].count[0] == (1 if fmt == "png" else 3)  # stopped right after the frame it arrived in
    assert signal.getsignal(signum) is before  # the previous handler is back
    if fmt == "png-frames":
        assert os.listdir(out) == ["frame_00000.png"] and (out / "frame_00000.png").read_bytes() == b"old frame"
    else:
        assert out.read_bytes() == b"old bytes"
    assert os.listdir(tmp_path) == [out.name]  # no temporary file or folder left


def test_an_interrupt_swallowed_outside_rendering_still_keeps_the_old_file(tmp_path):
    """Raised at once in plain code; if something catches it anyway, the commit (rename) still refuses."""
    import signal

    from nnlab.interrupts import Interrupted, interrupt_handlers

    out = tmp_path / "x.gif"
    out.write_bytes(b"old")
    frames = frames_of(6)
    seen = []

    def frame_at(i):
        if i == 2:
            try:
                signal.raise_signal(signal.SIGINT)
                sum(range(1000))
            except KeyboardInterrupt as e:
                seen.append(e)
        return frames[i]
    with pytest.raises(Interrupted):
        with interrupt_handlers():
            drain(write_animation(out, "gif", frame_at, 6))
    assert len(seen) == 1 and isinstance(seen[0], Interrupted)
    assert out.read_bytes() == b"old" and os.listdir(tmp_path) == ["x.gif"]
