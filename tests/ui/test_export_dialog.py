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
