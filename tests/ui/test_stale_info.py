"""Everything on screen describes the network on screen: a new sample clears the curves and status, a failed run
does not stay "starting", a refused expression cannot be trained, the Neurons panel follows widths and shows every
unit, the Info text drops the preset's description after edits, and the title names the scene."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from nnlab.ui.presets import SCENES


def test_space_new_sample_clears_the_curves_and_the_status_line(win, qtbot, small_scene):
    tp = win.train_panel
    win.doc.set_scene(small_scene())
    assert not tp.plots.isVisible() and tp.placeholder.isVisible()  # no axes while there is no curve
    with qtbot.waitSignal(tp.trained, timeout=60000):
        tp.train_btn.click()
    assert len(tp.history) > 1 and tp.plots.isVisible() and len(tp.loss_curve.getData()[0]) == len(tp.history)
    assert "R²" in tp.progress.text() and "trained at epoch 8" in tp.progress.text()
    win.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is win, timeout=5000)
    win.view3d.widget.setFocus()
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_Space)  # new sample
    assert win.doc.scene.init.seed == 2 and not win.doc.trained
    xs = tp.loss_curve.getData()[0]
    assert tp.history == [] and (xs is None or len(xs) == 0)
    assert not tp.plots.isVisible() and tp.placeholder.isVisible()
    assert tp.progress.text() == "not trained yet" and "R²" not in tp.progress.text()
    assert tp.train_btn.text() == "Train"


def test_a_failed_training_does_not_stay_starting(win, qtbot, tmp_path, small_scene):
    tp = win.train_panel
    csv = tmp_path / "pts.csv"
    rows = "\n".join(f"{x:.3f},{y:.3f},{x * y:.3f}" for x, y in np.random.default_rng(0).uniform(-1, 1, (60, 2)))
    csv.write_text("x1,x2,y\n" + rows + "\n")
    win.doc.set_scene(small_scene())
    assert tp.load_csv(str(csv))
    csv.unlink()  # the worker cannot read the data: the run fails before its first epoch
    tp.train_btn.click()
    qtbot.waitUntil(lambda: not tp.slot.busy, timeout=60000)
    text = tp.progress.text()
    assert "starting" not in text and "failed" in text, text
    assert tp.train_btn.isEnabled() and not tp.stop_btn.isEnabled()


def test_train_is_off_while_the_typed_expression_is_refused(win, qtbot, small_scene):
    tp = win.train_panel
    win.doc.set_scene(small_scene())
    tp.target.setCurrentIndex(tp.target.findData("expression"))
    before = win.doc.scene.target.expression
    tp.expr.setFocus()
    tp.expr.selectAll()
    qtbot.keyClicks(tp.expr, "sin(3*x")  # not an expression (yet)
    assert tp.expr_msg.text() and not tp.train_btn.isEnabled() and not tp.step_btn.isEnabled()
    assert "refused" in tp.train_btn.toolTip()
    tp.start()  # T key / a menu: refused, says why, no job
    assert not tp.slot.busy and "refused" in win.error_label.toolTip()
    assert win.doc.scene.target.expression == before
    qtbot.keyClicks(tp.expr, ") * y")  # now valid, not yet entered: Train takes the typed one
    assert tp.train_btn.isEnabled()
    tp.train_btn.click()
    assert win.doc.scene.target.expression == "sin(3*x) * y" and tp.slot.busy
    tp.cancel()


def test_neurons_panel_follows_widths_and_every_unit_is_reachable(win, qtbot):
    np_ = win.neurons_panel
    win.docks["Neurons"].raise_()
    qtbot.waitUntil(np_.isVisible, timeout=5000)
    win.network_panel.layer_spins[0].setValue(64)
    qtbot.waitUntil(lambda: np_.layer.itemText(0) == "1 (64 units)", timeout=2000)
    win.network_panel.layer_spins[0].setValue(100)  # same layer count, new width: rebuilt
    qtbot.waitUntil(lambda: np_.layer.itemText(0) == "1 (100 units)", timeout=2000)
    visible = [b for b in np_.buttons if b.isVisible()]
    assert len(visible) == 100 and "all 100 units" in np_.summary.text()
    np_.scroll.ensureWidgetVisible(visible[-1])
    visible[-1].click()  # the last unit can be reached and shown
    assert win.view.unit == (0, 99)
    want = win.doc.unit_surfaces(0, win.doc.scene.camera.resolution)[99]
    assert np.array_equal(win.view3d._z, want)
    qtbot.waitUntil(lambda: not np_.drawing(), timeout=5000)  # (drawn a few per turn of the event loop)
    img = visible[5].icon().pixmap(52, 52).toImage()  # a shaded surface: not a flat colour swatch
    lum = {img.pixelColor(x, y).lightness() for x in range(0, 52, 4) for y in range(0, 52, 4)}
    assert len(lum) > 5
    win.network_panel.layer_spins[0].setValue(7)
    qtbot.waitUntil(lambda: np_.layer.itemText(0) == "1 (7 units)", timeout=2000)
    assert sum(b.isVisible() for b in np_.buttons) == 7


def test_info_drops_the_description_after_edits_and_the_title_names_the_scene(win, tmp_path):
    d = win.doc
    desc = d.scene.description
    assert desc and desc in win.info_panel.text.text()
    assert win.windowTitle() == f"{d.scene.title} (default.toml) — nnlab"
    win.init_panel.seed.setValue(5)
    assert desc not in win.info_panel.text.text() and "no longer applies" in win.info_panel.text.text()
    assert win.windowTitle().endswith("— modified — nnlab") and d.scene.title in win.windowTitle()
    win.init_panel.seed.setValue(1)  # back to the scene as opened
    assert desc in win.info_panel.text.text() and "modified" not in win.windowTitle()
    win.init_panel.seed.setValue(3)
    assert d.save(tmp_path / "mine.toml")
    assert win.windowTitle() == f"{d.scene.title} (mine.toml) — nnlab"
    assert win.load_scene_file(SCENES / "xavier.toml")
    assert win.windowTitle() == f"{d.scene.title} (xavier.toml) — nnlab"


def test_neuron_thumbnails_are_drawn_a_slice_per_turn_and_a_new_network_takes_over(win, qtbot, monkeypatch):
    """100 thumbnails in one turn of the event loop stalled the window ~40 ms when a training run ended."""
    import nnlab.ui.panels.neurons_panel as mod

    np_ = win.neurons_panel
    win.docks["Neurons"].raise_()
    qtbot.waitUntil(np_.isVisible, timeout=5000)
    win.network_panel.layer_spins[0].setValue(100)
    qtbot.waitUntil(lambda: np_.layer.itemText(0) == "1 (100 units)" and not np_.drawing(), timeout=5000)
    drawn: list[int] = []
    real = mod.relief_pixmap
    monkeypatch.setattr(mod, "relief_pixmap", lambda *a, **k: drawn.append(1) or real(*a, **k))
    monkeypatch.setattr(mod, "SLICE_S", 0.0)  # one thumbnail per turn
    np_.refresh()
    assert len(drawn) == 1 and np_.drawing() and "all 100 units" in np_.summary.text()
    qtbot.waitUntil(lambda: len(drawn) >= 10, timeout=5000)
    win.init_panel.seed.setValue(win.init_panel.seed.value() + 1)  # a new network mid-drawing: redrawn from unit 1
    qtbot.waitUntil(lambda: not np_.drawing(), timeout=10000)
    first = len(drawn)
    assert 100 < first < 200  # the old drawing stopped where the new one began
    want = mod.relief_pixmap(*next(iter(win.doc.unit_reliefs(0, mod.THUMB_RES))), mod.THUMB_PX, np_._cmap).toImage()
    got = np_.buttons[0].icon().pixmap(mod.THUMB_PX, mod.THUMB_PX).toImage()
    assert got.convertToFormat(want.format()) == want  # unit 1 shows the new network
