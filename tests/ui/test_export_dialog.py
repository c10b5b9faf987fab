"""The Export dialog: preview of the first frame, a full export read back, and Cancel keeping the old file."""
from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from PySide6.QtCore import QCoreApplication, Qt

from nnlab.engine.model.scene import InitSpec, NetworkSpec, Scene

QCoreApplication.setAttribute(Qt.ApplicationAttribute.AA_ShareOpenGLContexts)

SCENE = Scene(title="dialog", network=NetworkSpec(hidden=(16, 16)), init=InitSpec(seed=5)).replace(
    "camera", resolution=32)


@pytest.fixture
def dialog(qtbot, tmp_path):
    from nnlab.ui.export_dialog import ExportDialog

    d = ExportDialog(SCENE, out=str(tmp_path / "anim.gif"))
    qtbot.addWidget(d)
    d.width_.setValue(96)
    d.height_.setValue(72)
    d.frames.setValue(6)
    d.show()
    qtbot.waitExposed(d)
    yield d
    d.done(0)


def test_preview_shows_the_first_frame(dialog):
    dialog.update_preview()
    img = dialog.preview_image
    assert img.shape == (72, 96, 4)
    assert not dialog.preview.pixmap().isNull()
    assert (img[..., :3].astype(int).sum(axis=2) < 600).mean() > 0.05  # a surface, not a blank image


def test_export_writes_the_file(dialog, qtbot, tmp_path):
    with qtbot.waitSignal(dialog.finished_export, timeout=30000) as sig:
        dialog.export_button.click()
    assert sig.args == [str(tmp_path / "anim.gif")]
    a = iio.imread(tmp_path / "anim.gif", index=None)
    assert a.shape == (6, 72, 96, 3) and not np.array_equal(a[0], a[3])
    assert dialog.status.text().startswith("wrote") and dialog.export_button.isEnabled()


def test_cancel_keeps_the_earlier_file(dialog, qtbot, tmp_path):
    out = tmp_path / "anim.gif"
    out.write_bytes(b"old")
    dialog.frames.setValue(400)
    dialog.export_button.click()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 14 and dialog.progress.maximum() == 400, timeout=30000)
    assert dialog.cancel_button.text() == "Cancel"
    dialog.cancel_button.click()
    assert not dialog.running and dialog.status.text() == "cancelled"
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.gif"]


def test_bad_output_folder_is_reported(dialog, tmp_path):
    dialog.out.setText(str(tmp_path / "missing" / "a.gif"))
    dialog.export_button.click()
    assert "does not exist" in dialog.status.text() and not dialog.running


def test_the_dialog_shows_and_exports_the_network_it_is_given(qtbot, tmp_path, monkeypatch):
    """Regression (issue 10): the dialog was handed the scene only, so for himmelblau.toml ([train] enabled) its
    preview trained the network on the GUI thread (27 s, again after every option change) and the export showed a
    freshly trained network instead of the app's. Given the app's network, nothing trains and the frames are it."""
    import nnlab.engine.train.training as training
    from nnlab.bundled import scene_path
    from nnlab.engine.analysis.surface import evaluate_network
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.engine.model.scene import load_scene
    from nnlab.ui.export_dialog import ExportDialog

    scene = load_scene(scene_path("himmelblau.toml")).replace("camera", resolution=24)
    assert scene.train.enabled and scene.target.name != "none"
    net = initial_snapshot(scene.network, InitSpec(scheme=scene.init.scheme, seed=scene.init.seed + 7))
    trained: list = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    d = ExportDialog(scene, out=str(tmp_path / "him.gif"), net=net)
    qtbot.addWidget(d)
    try:
        d.kind.setCurrentText("orbit")
        d.width_.setValue(64)
        d.height_.setValue(48)
        d.frames.setValue(2)
        d.update_preview()
        assert d.preview_image.shape == (48, 64, 4)
        d.azimuth.setValue(d.azimuth.value() + 15)  # an option change previews again
        d.update_preview()
        plans: list = []
        real_render = d._render
        d._render = lambda plan: plans.append(plan) or real_render(plan)
        with qtbot.waitSignal(d.finished_export, timeout=60000):
            d.export_button.click()
        assert trained == []  # neither the previews nor the export trained anything
        lo, hi = scene.domain()
        z = plans[0].frames[0].panels[0].z
        assert np.array_equal(z, evaluate_network(net, lo, hi, 24))  # the frames show the network given
        assert iio.imread(tmp_path / "him.gif", index=None).shape == (2, 48, 64, 3)
    finally:
        d.done(0)
