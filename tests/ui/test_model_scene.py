"""A scene that names a model file (the bundled model_file.toml): the app draws the output the scene chooses, the
Network panel's Output combo switches it through the Document's edit path, and what is drawn (and optimised) is
the file's own forward pass of that output, read independently here."""
from __future__ import annotations

import numpy as np

from nnlab.engine.analysis.surface import grid_points
from nnlab.engine.model.io import read_network
from nnlab.ui.presets import SCENES

MODEL = SCENES.parent / "models" / "three_outputs.npz"


def file_surface(doc, c: np.ndarray) -> np.ndarray:
    """c^T y of the model file's outputs on the document's grid, from the file read here (float64)."""
    lo, hi = doc.scene.domain()
    res = doc.scene.camera.resolution
    y = read_network(MODEL).forward(grid_points(lo[:2], hi[:2], res))
    return (y @ c).reshape(res, res)


def shown(win) -> np.ndarray | None:
    return None if win.view3d._z is None else np.asarray(win.view3d._z)


def test_the_output_combo_draws_the_chosen_output_of_the_model_file(win, qtbot) -> None:
    panel, doc = win.network_panel, win.doc
    assert not panel.output.isVisibleTo(panel) and not panel.output.isEnabled()  # default scene: no model file
    assert win.load_scene_file(SCENES / "model_file.toml")
    assert doc.scene.network.objective == (1.0, -1.0, 0.0) and not doc.scene.trains()
    assert panel.output.isVisibleTo(panel) and panel.output.isEnabled()
    assert [panel.output.itemText(i) for i in range(panel.output.count())] == ["y0", "y1", "y2", "objective [1, -1, 0]"]
    assert panel.output.currentText() == "objective [1, -1, 0]"
    assert not panel.activation.isEnabled() and not panel.add_btn.isEnabled()  # the file's architecture
    want = file_surface(doc, np.array([1.0, -1.0, 0.0]))
    np.testing.assert_allclose(doc.z, want, rtol=1e-6, atol=1e-6)  # float32 surface of the float64 forward pass
    qtbot.waitUntil(lambda: shown(win) is not None and np.allclose(shown(win), want, atol=1e-6), timeout=10000)

    for k in (1, 2, 0):
        panel.output.setCurrentIndex(panel.output.findData(str(k)))
        assert doc.scene.network.output == k and doc.scene.network.objective is None and doc.modified
        want = file_surface(doc, np.eye(3)[k])
        np.testing.assert_allclose(doc.z, want, rtol=1e-6, atol=1e-6)
        qtbot.waitUntil(lambda: np.allclose(shown(win), want, atol=1e-6), timeout=10000)
        x = np.array([[0.3, -1.1], [-1.7, 1.9]])  # what the optimizers get: the same output
        np.testing.assert_allclose(doc.net.forward(x), read_network(MODEL).forward(x)[:, k], rtol=1e-12, atol=1e-12)
        assert f"y{k}" in doc.caption()
    assert panel.output.itemText(3) == "objective [1, -1, 0]"  # the scene's objective stays on offer
    panel.output.setCurrentIndex(3)
    assert doc.scene.network.objective == (1.0, -1.0, 0.0) and doc.scene.network.output is None
    np.testing.assert_allclose(doc.z, file_surface(doc, np.array([1.0, -1.0, 0.0])), rtol=1e-6, atol=1e-6)

    assert win.load_scene_file(SCENES / "default.toml")
    assert not panel.output.isVisibleTo(panel) and panel.activation.isEnabled()
