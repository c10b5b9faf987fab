"""The real main window under Xvfb: init changes redraw the surface, training lowers the loss and morphs the
surface, jobs cancel fast, presets load, scenes round-trip, screenshots are not blank, errors keep the scene."""
from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui

from nnlab.engine.model.scene import Scene, load_scene
from nnlab.ui.presets import SCENES, list_presets


def small_training_scene(epochs: int = 40) -> Scene:
    s = Scene(title="small")
    s = s.replace("network", hidden=(16, 16), lower=(-3.0, -3.0), upper=(3.0, 3.0))
    s = s.replace("target", name="peaks")
    s = s.replace("train", samples=400, epochs=epochs, batch_size=64, lr=0.01, surface_every=2)
    return s.replace("camera", resolution=40)


def test_title_and_initial_surface(win):
    assert win.windowTitle() == f"{win.doc.scene.title} (default.toml) — nnlab"  # the title names the scene
    assert win.doc.net.widths == (100, 100)
    assert win.view3d._z is not None and np.array_equal(win.view3d._z, win.doc.z)


def test_seed_and_scheme_change_the_surface_and_the_same_seed_gives_it_back(win, qtbot):
    z1 = win.doc.z.copy()
    win.init_panel.seed.setValue(2)
    z2 = win.doc.z.copy()
    assert not np.allclose(z1, z2)
    assert np.array_equal(win.view3d._z, z2)  # the view follows the document
    from PySide6 import QtWidgets

    win.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is win, timeout=5000)
    win.view3d.widget.setFocus()
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_Space)  # lecture key: next seed
    assert win.doc.scene.init.seed == 3
    win.init_panel.seed.setValue(1)
    assert np.array_equal(win.doc.z, z1)
    i = win.init_panel.scheme.findData("he_normal")
    win.init_panel.scheme.setCurrentIndex(i)
    assert win.doc.scene.init.scheme == "he_normal"
    assert not np.allclose(win.doc.z, z1)


def test_architecture_edit_rebuilds_the_network(win):
    win.network_panel.add_layer()
    assert win.doc.net.widths == (100, 100, 100)
    win.network_panel.layer_spins[0].setValue(7)
    assert win.doc.net.widths == (7, 100, 100)
    win.network_panel.remove_layer()
    assert win.doc.net.widths == (7, 100)


def test_training_lowers_the_loss_and_updates_the_surface(win, qtbot):
    win.doc.set_scene(small_training_scene())
    z0 = win.doc.z.copy()
    with qtbot.waitSignal(win.train_panel.trained, timeout=60000) as done:
        win.train_panel.train_btn.click()
    result = done.args[0]
    assert result.status == "done" and result.epochs_run == 40
    losses = [h[1] for h in win.train_panel.history]
    assert losses[-1] < 0.5 * losses[0]
    assert win.doc.trained and not np.allclose(win.doc.z, z0)
    assert np.array_equal(win.view3d._z, win.doc.z)
    win.train_panel.reset_btn.click()
    assert np.array_equal(win.doc.z, z0)  # Reset: back to the same initial weights


def test_stop_keeps_the_partial_network_and_cancel_is_fast(win, qtbot):
    win.doc.set_scene(small_training_scene(epochs=100000))
    win.train_panel.train_btn.click()
    qtbot.waitUntil(lambda: len(win.train_panel.history) >= 3, timeout=30000)
    with qtbot.waitSignal(win.train_panel.trained, timeout=5000) as done:
        win.train_panel.stop_btn.click()
    assert done.args[0].status == "cancelled" and win.doc.trained
    win.train_panel.train_btn.click()
    qtbot.waitUntil(lambda: win.train_panel.slot.worker is not None and len(win.train_panel.history) >= 2,
                    timeout=30000)
    worker = win.train_panel.slot.worker
    win.train_panel.cancel()
    assert worker.wait(1000)  # the thread ends within 1 s


def test_pause_and_step(win, qtbot):
    win.doc.set_scene(small_training_scene(epochs=1000))
    win.train_panel.step_btn.click()
    qtbot.waitUntil(lambda: win.doc.training.epoch >= 1, timeout=30000)
    qtbot.wait(300)
    e = win.doc.training.epoch
    assert win.train_panel.slot.worker.paused and win.doc.training.paused and e <= 2
    win.train_panel.step_btn.click()
    qtbot.waitUntil(lambda: win.doc.training.epoch == e + 1, timeout=10000)
    win.train_panel.cancel()


def test_every_preset_loads(win, qtbot):
    presets = list_presets()
    assert len(presets) == len(list(SCENES.glob("*.toml"))) >= 8
    for p in presets:
        assert win.load_scene_file(p.path), p.path
        assert win.doc.scene.title == p.title
        assert win.doc.z.shape == (win.doc.scene.camera.resolution,) * 2 and np.isfinite(win.doc.z).all()
        win.train_panel.cancel()
        win.compare.slot.cancel()
    assert win.load_scene_file(SCENES / "default.toml")


def test_bad_scene_file_keeps_the_current_scene(win, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[init]\nscheme = "nope"\n')
    before = win.doc.scene
    assert not win.load_scene_file(bad)
    assert win.doc.scene is before
    assert "nope" in win.error_label.text()


def test_bad_expression_is_flagged_and_not_applied(win):
    tp = win.train_panel
    tp.target.setCurrentIndex(tp.target.findData("expression"))
    assert win.doc.scene.target.name == "expression"
    good = win.doc.scene.target.expression
    tp.expr.setText("sin(3*x) +")
    assert tp.expr_msg.text()
    tp._apply_expr()
    assert win.doc.scene.target.expression == good
    tp.expr.setText("x*y")
    assert tp.expr_msg.text() == ""
    tp._apply_expr()
    assert win.doc.scene.target.expression == "x*y"


def test_save_and_load_round_trip(win, tmp_path):
    win.view3d.set_camera(50.0, 120.0, 7.0)
    win.sync_camera()
    assert (win.doc.scene.camera.elevation, win.doc.scene.camera.azimuth) == (50.0, 120.0)
    win.init_panel.seed.setValue(5)
    win.doc.update("init", scheme="lecun_normal")
    win.doc.update("target", name="rastrigin")
    path = tmp_path / "s.toml"
    assert win.doc.save(path)
    assert load_scene(path) == win.doc.scene
    z = win.doc.z.copy()
    win.init_panel.seed.setValue(6)
    assert win.load_scene_file(path)
    win.train_panel.cancel()
    assert np.array_equal(win.doc.z, z)
    assert win.view3d.camera() == (50.0, 120.0, 7.0)  # the camera comes back with the scene


def test_diverging_training_reports_and_keeps_a_finite_network(win, qtbot):
    scene = small_training_scene(epochs=50).replace("train", optimizer="sgd", lr=50.0, momentum=0.99)
    win.doc.set_scene(scene)
    with qtbot.waitSignal(win.train_panel.trained, timeout=60000) as done:
        win.train_panel.train_btn.click()
    assert done.args[0].status == "diverged"
    assert "learning rate" in win.error_label.toolTip()
    assert np.isfinite(win.doc.z).all() and win.doc.scene == scene


def test_screenshots_are_not_blank(win, tmp_path):
    path = tmp_path / "view.png"
    win.save_view_png(path, 320, 240)
    img = QtGui.QImage(str(path))
    assert (img.width(), img.height()) == (320, 240)
    colours = {img.pixel(x, y) for x in range(0, 320, 4) for y in range(0, 240, 4)}
    assert len(colours) > 40
    win.set_mode("2d")
    win.save_view_png(tmp_path / "heat.png", 300, 200)
    heat = QtGui.QImage(str(tmp_path / "heat.png"))
    assert heat.width() == 300 and len({heat.pixel(x, 100) for x in range(0, 300, 3)}) > 10
    win.save_window_png(tmp_path / "win.png")
    assert QtGui.QImage(str(tmp_path / "win.png")).width() >= 1000


def test_overlays_and_region_colours(win, qtbot):
    win.doc.update("target", name="peaks")
    win.menus.show_target.trigger()
    win.menus.show_samples.trigger()
    win.menus.show_regions.trigger()
    assert win.view3d._overlay is not None and win.view3d._overlay.shape == win.doc.z.shape
    assert win.view3d._pts is not None and len(win.view3d._pts[0]) > 100
    qtbot.waitUntil(lambda: win.overlays.rp is not None, timeout=60000)  # exact polygons (test_regions_overlay)
    colours = win.overlays.regions3d.mesh.opts["meshdata"].vertexColors()
    assert len(np.unique(colours.reshape(-1, 4), axis=0)) > 20


def test_optimizer_run_fills_the_table_and_marks_the_optimum(win, qtbot):
    op = win.optimize_panel
    assert "random" in [e.name for e in op.entries], "the 'random' optimizer is not registered"
    op.select("random")
    op.time_limit.setValue(2.0)
    marks: list = []
    win.view.changed.connect(lambda name, value: marks.append(value) if name == "marker" else None)
    op.run_btn.click()
    qtbot.waitUntil(lambda: op.table.rowCount() == 1 and not op.slot.busy, timeout=20000)
    assert op.table.item(0, 0).data(QtCore.Qt.ItemDataRole.UserRole) == "random"
    value = float(op.table.item(0, 1).text().split()[0])
    assert value >= float(np.max(win.doc.z)) - 0.05 * (np.ptp(win.doc.z) + 1e-9)
    assert marks and marks[-1] is not None and win.view3d._marker is not None


def test_neuron_thumbnail_shows_the_unit(win, qtbot):
    win.docks["Neurons"].raise_()
    win.neurons_panel.refresh()
    assert sum(b.isVisible() for b in win.neurons_panel.buttons) == 100  # every unit of the layer
    win.neurons_panel.buttons[3].click()
    assert win.view.unit == (0, 3)
    assert not np.array_equal(win.view3d._z, win.doc.z)
    win.neurons_panel.back.click()
    assert np.array_equal(win.view3d._z, win.doc.z)


def test_closing_during_training_exits_cleanly(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NNLAB_NO_RESTORE", "1")
    from nnlab.ui.main_window import MainWindow

    w = MainWindow(small_training_scene(epochs=100000))
    qtbot.addWidget(w)
    w.show()
    w.train_panel.train_btn.click()
    qtbot.waitUntil(lambda: len(w.train_panel.history) >= 2, timeout=30000)
    worker = w.train_panel.slot.worker
    w.close()
    assert worker.isFinished()


def test_export_network_round_trips(win, tmp_path):
    from nnlab.engine.model.io import load_model

    for name in ("net.npz", "net.onnx"):
        assert win.doc.save_network(str(tmp_path / name))
        back = load_model(tmp_path / name)
        x = np.array([[0.2, 0.7], [0.9, 0.1]])
        assert np.allclose(back.forward(x), win.doc.net.forward(x), atol=1e-5)
    assert not win.doc.save_network(str(tmp_path / "net.txt"))  # unknown format: an error, no crash
    assert win.error_label.text()


def test_recent_files_and_linked_compare_cameras(win, qtbot):
    from nnlab.ui.window_actions import settings

    recent = settings().value("recent")
    assert any(str(p).endswith("default.toml") for p in ([recent] if isinstance(recent, str) else recent))
    assert win.load_scene_file(SCENES / "he_vs_xavier.toml")
    assert win.mode() == "compare" and win.compare.other is not None
    left, right = win.compare.views
    qtbot.waitExposed(left)
    qtbot.wait(100)
    left.set_camera(55.0, 10.0, 6.5)  # as a mouse drag would: the next repaint tells the other view
    qtbot.waitUntil(lambda: right.camera() == (55.0, 10.0, 6.5), timeout=3000)


def test_lecture_keys_font_and_auto_rotate(win, qtbot):
    size = win.view.point_size
    win.menus.font_step(2.0)
    assert win.view.point_size == size + 2.0
    assert win.view3d.axes.font.pointSizeF() == size + 3.0
    az = win.view3d.camera()[1]
    win.set_auto_rotate(True)
    qtbot.waitUntil(lambda: win.view3d.camera()[1] != az, timeout=3000)
    win.set_auto_rotate(False)
    win.menus.presenter.trigger()
    assert win.view.presenter
    assert not win.docks["Network"].isVisible() and win.docks["Target && training"].isVisible()
    win.view.presenter = False
    assert win.docks["Network"].isVisible() and not win.menus.presenter.isChecked()
    win.menus.font_step(-2.0)


def test_optimize_panel_follows_the_scene_optimizer(win):
    op = win.optimize_panel
    names = [e.name for e in op.entries]
    assert "random" in names, "the 'random' optimizer is not registered"
    win.doc.update("optimizer", method="random", sense="min", time_limit=3.0, seed=4)
    assert op.current_method() == "random" and op.sense.currentData() == "min"
    assert op.time_limit.value() == 3.0 and op.seed.value() == 4
    assert len(names) == op.forms.count() >= 1  # every registered method has its generated form


def test_export_animation_is_given_the_network_on_screen(win, monkeypatch):
    """File > Export animation hands the dialog the Document's network (trained or not), not just the scene."""
    from nnlab.engine.model.network import initial_snapshot
    from nnlab.ui.export_dialog import ExportDialog

    s = win.doc.scene
    shown = initial_snapshot(s.network, s.init.__class__(scheme=s.init.scheme, seed=s.init.seed + 3))
    win.doc.set_network(shown, trained=True)
    seen: list = []
    monkeypatch.setattr(ExportDialog, "exec", lambda self: seen.append((self.net, self.scene)) or 0)
    win.menus.export_animation()
    assert seen and seen[0][0] is shown and seen[0][1] == s
