"""The GL surface view renders real pixels under Xvfb + Mesa, and they follow the data."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.ui.surface_view import HOME, SurfaceView


@pytest.fixture
def view(qtbot):
    v = SurfaceView()
    v.resize(400, 300)
    qtbot.addWidget(v)
    v.show()
    qtbot.waitExposed(v)
    return v


def _bowl(n: int = 40):
    xs = np.linspace(-2.0, 2.0, n)
    ys = np.linspace(-1.0, 3.0, n)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    return xs, ys, (X**2 + (Y - 1) ** 2).astype(np.float32)


def test_render_is_not_blank_and_has_the_requested_size(view):
    xs, ys, z = _bowl()
    view.set_surface(xs, ys, z)
    img = view.render_image(320, 240)
    assert img.shape == (240, 320, 4) and img.dtype == np.uint8
    bg = np.array([22, 24, 30])
    differs = np.abs(img[..., :3].astype(int) - bg).sum(axis=2) > 30
    assert differs.mean() > 0.05  # the surface covers a good part of the frame
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 50  # shaded, colour-mapped


def test_pixels_change_when_the_surface_changes(view):
    xs, ys, z = _bowl()
    view.set_surface(xs, ys, z)
    a = view.render_image(200, 150).astype(int)
    view.set_surface(xs, ys, -z)
    b = view.render_image(200, 150).astype(int)
    assert np.abs(a - b).sum(axis=2).mean() > 5


def test_colormap_and_background_change_pixels(view):
    xs, ys, z = _bowl()
    view.set_surface(xs, ys, z)
    a = view.render_image(160, 120).astype(int)
    view.set_colormap("inferno")
    b = view.render_image(160, 120).astype(int)
    assert np.abs(a - b).mean() > 3
    view.set_background("white")
    c = view.render_image(160, 120)
    assert (c[0, 0, :3] > 240).all()  # a corner shows the white background
    with pytest.raises(ValueError, match="colormap"):
        view.set_colormap("jet")


def test_marker_points_paths_and_overlay_accept_data_coordinates(view):
    xs, ys, z = _bowl(30)
    view.set_surface(xs, ys, z)
    view.set_axes_visible(False)
    base = view.render_image(160, 120).astype(int)
    view.set_marker(np.array([0.0, 1.0, 0.0]))
    view.set_points(np.array([[-2.0, -1.0, 8.0], [2.0, 3.0, 8.0]]))
    view.set_paths([np.array([[-2.0, -1.0, 8.0], [0.0, 1.0, 0.0]])])
    view.set_overlay(z * 0.5, mode="wireframe")
    marked = view.render_image(160, 120).astype(int)
    assert np.abs(marked - base).sum(axis=2).max() > 100
    view.set_overlay(None)
    view.set_marker(None)
    view.set_points(None)
    view.set_paths(None)
    back = view.render_image(160, 120).astype(int)
    assert np.abs(back - base).mean() < 1.0


def test_region_colors_replace_the_colormap(view):
    xs, ys, z = _bowl(20)
    view.set_surface(xs, ys, z)
    a = view.render_image(160, 120).astype(int)
    colors = np.zeros((20, 20, 4), dtype=np.float32)
    colors[..., 0] = 1.0
    colors[..., 3] = 1.0
    view.set_region_colors(colors)
    b = view.render_image(160, 120).astype(int)
    assert (b[..., 0] - b[..., 1]).max() > 150  # strongly red somewhere
    assert np.abs(a - b).mean() > 3
    with pytest.raises(ValueError):
        view.set_region_colors(np.zeros((3, 3, 4)))


def test_camera_round_trip_and_flat_surface(view):
    view.set_camera(60.0, 10.0, 6.0)
    assert view.camera() == (60.0, 10.0, 6.0)
    view.reset_camera()
    assert view.camera() == HOME
    xs = np.linspace(0, 1, 10)
    view.set_surface(xs, xs, np.zeros((10, 10), dtype=np.float32))  # degenerate range must not divide by 0
    assert view.render_image(64, 48).shape == (48, 64, 4)


@pytest.mark.parametrize("azimuth", [45.0, 135.0, 225.0, 315.0])
def test_tick_labels_move_to_the_edges_facing_the_camera_without_a_repaint(view, azimuth):
    """Offscreen renders paint without paintGL: set_camera itself must move the labels to the near edges."""
    xs, ys, z = _bowl()
    view.set_surface(xs, ys, z)
    view.set_camera(30.0, azimuth)
    cam = view.cameraPosition()
    texts = view.axes.texts()
    x1_ticks = [pos for pos, text, kind in texts if kind == "tick" and abs(pos[2]) < 1e-9 and abs(abs(pos[1]) - 1.14) < 1e-6]
    x2_ticks = [pos for pos, text, kind in texts if kind == "tick" and abs(pos[2]) < 1e-9 and abs(abs(pos[0]) - 1.14) < 1e-6]
    assert x1_ticks and x2_ticks
    assert all(np.sign(p[1]) == np.sign(cam.y()) for p in x1_ticks)  # the x1 ticks lie on the edge nearer the camera
    assert all(np.sign(p[0]) == np.sign(cam.x()) for p in x2_ticks)


def test_tick_labels_are_drawn_by_gl_without_a_qpainter_on_the_gl_widget(view, qtbot, monkeypatch):
    """A QPainter on the GL widget inside the GL draw call segfaulted a test run (issue 9, item 9): the labels are
    text textures now; they still show up, near their projected positions."""
    from PySide6 import QtGui

    import nnlab.ui.axes3d as axes3d

    devices: list = []

    class Recording(QtGui.QPainter):
        def __init__(self, *args):
            devices.extend(args[:1])
            super().__init__(*args)

    monkeypatch.setattr(axes3d.QtGui, "QPainter", Recording)
    xs, ys, z = _bowl()
    view.set_surface(xs, ys, z)
    with_labels = view.grabFramebuffer()
    assert not any(d is view for d in devices), "a QPainter was opened on the GL widget"
    view.set_axes_visible(False)
    without = view.grabFramebuffer()
    view.set_axes_visible(True)

    def pixels(img):
        img = img.convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
        a = np.frombuffer(img.constBits(), dtype=np.uint8, count=img.bytesPerLine() * img.height())
        return a.reshape(img.height(), img.bytesPerLine())[:, :4 * img.width()].reshape(img.height(), img.width(), 4)

    a, b = pixels(with_labels).astype(int), pixels(without).astype(int)
    dpr = with_labels.width() / view.width()
    vp = (0, 0, with_labels.width(), with_labels.height())
    mvp = view.projectionMatrix(vp, vp) * view.viewMatrix()
    for pos, text, kind in view.axes.texts():  # ink of every label within a few pixels of its anchor
        ndc = mvp.map(QtGui.QVector3D(*map(float, pos)))
        px, py = int((ndc.x() + 1) / 2 * view.width() * dpr), int((1 - ndc.y()) / 2 * view.height() * dpr)
        win = np.abs(a - b)[max(0, py - 12):py + 12, max(0, px - 20):px + 20, :3].sum(axis=2)
        assert (win > 100).sum() >= 3, f"label {text!r} ({kind}) is not drawn"
