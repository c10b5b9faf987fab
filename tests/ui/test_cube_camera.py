"""The Qt-free camera and axes layout (nnlab.ui.cube, nnlab.ui.ticks) against the app's view (pyqtgraph's
GLViewWidget matrices, SurfaceView's label sides): the EGL export renderer draws with the former (issue 15)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui

from nnlab.ui import cube, ticks
from nnlab.ui.surface_view import SurfaceView


def _np(m: QtGui.QMatrix4x4) -> np.ndarray:
    return np.array(m.data(), dtype=np.float64).reshape(4, 4).T  # QMatrix4x4.data() is column-major


@pytest.mark.parametrize("elevation,azimuth,distance", [(28.0, -60.0, 5.6), (30.0, 45.0, 4.0), (-20.0, 200.0, 9.0),
                                                       (89.0, 10.0, 5.6), (0.0, 135.0, 2.5)])
def test_view_and_projection_are_the_views_own(qtbot, elevation, azimuth, distance):
    v = SurfaceView()
    qtbot.addWidget(v)
    v.set_camera(elevation, azimuth, distance)
    for w, h in ((800, 600), (320, 240), (1280, 720), (300, 500)):
        ours = cube.projection_matrix(distance, w, h) @ cube.view_matrix(elevation, azimuth, distance)
        theirs = _np(v.projectionMatrix((0, 0, w, h), (0, 0, w, h))) @ _np(v.viewMatrix())
        assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-6), (w, h)
    cam = v.cameraPosition()
    assert np.allclose(cube.camera_position(elevation, azimuth, distance), [cam.x(), cam.y(), cam.z()], atol=1e-5)
    assert cube.label_frame(elevation, azimuth, distance) == v._label_frame()


def test_tick_layout_is_the_one_the_view_labels(qapp):
    """Axes3D places its labels with nnlab.ui.ticks (moved out of axes3d, not copied): the same texts, kinds and
    positions for the same ranges and camera side."""
    from nnlab.ui.axes3d import Axes3D

    class _View:
        def addItem(self, item) -> None:
            pass

    axes = Axes3D(_View(), cube.H)
    frame = (1, -1, (-1, 1))
    axes.update((-5.0, 5.0), (0.0, 2.0), (-0.3, 7.5), frame=frame)
    ours = ticks.tick_texts((-5.0, 5.0), (0.0, 2.0), (-0.3, 7.5), cube.H, frame)
    assert [(t, k) for _, t, k in axes.texts()] == [(t, k) for _, t, k in ours]
    assert all(np.array_equal(a, b) for (a, _, _), (b, _, _) in zip(axes.texts(), ours))
    assert [t for _, t, k in ours if k == "tick"][:3] == ["-5", "-2.5", "0"]
    assert np.array_equal(axes._box_lines(), ticks.box_lines(cube.H))
