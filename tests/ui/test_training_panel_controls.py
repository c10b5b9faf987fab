"""The training controls in the real window: bundled trained presets load their weights without training, a scene
trained here loads instantly the second time, Resume goes on after Stop (schedule and epoch counter), Restart starts
from fresh weights, Step during a run pauses and says so, and the loss/R² axes read in plain numbers."""
from __future__ import annotations

import numpy as np
import pytest

from nnlab.app.training import cached_network
from nnlab.engine.model.scene import save_scene
from nnlab.ui.presets import SCENES


def test_a_bundled_trained_preset_loads_without_training(win, qtbot):
    tp = win.train_panel
    for name in ("himmelblau", "rastrigin"):
        assert win.load_scene_file(SCENES / f"{name}.toml")
        assert not tp.slot.busy and win.doc.trained  # no training job: the shipped weights
        snap, source = cached_network(win.doc.scene)
        assert source == "bundled"
        assert all(np.array_equal(a, b) for a, b in zip(win.doc.net.weights, snap.weights))
        assert "no training needed" in tp.progress.text() and tp.train_btn.text() == "Train more"
    win.menus.next_preset(-1)  # PageUp back to a trained preset: still no training
    assert not tp.slot.busy


def test_a_scene_trained_here_loads_instantly_the_second_time(win, qtbot, tmp_path, small_scene):
    path = tmp_path / "mine.toml"
    save_scene(small_scene(epochs=6).replace("train", enabled=True), path)
    tp = win.train_panel
    with qtbot.waitSignal(tp.trained, timeout=60000) as done:
        assert win.load_scene_file(path)  # first load: trains (and caches the result)
    trained = done.args[0].snapshot
    assert win.load_scene_file(SCENES / "default.toml") and not win.doc.trained
    assert win.load_scene_file(path)
    assert not tp.slot.busy and win.doc.trained and "from an earlier run here" in tp.progress.text()
    assert all(np.array_equal(a, b) for a, b in zip(win.doc.net.weights, trained.weights))


def test_a_fresh_run_is_cached_by_its_job_not_on_the_gui_thread(win, qtbot, tmp_path, small_scene, monkeypatch):
    from nnlab.engine.train import cache

    written: list[object] = []
    real = cache.store
    monkeypatch.setattr(cache, "store", lambda *a, **k: written.append(a) or real(*a, **k))  # this process's only
    save_scene(small_scene(epochs=5).replace("init", seed=77).replace("train", enabled=True), tmp_path / "s.toml")
    tp = win.train_panel
    with qtbot.waitSignal(tp.trained, timeout=60000) as done:
        assert win.load_scene_file(tmp_path / "s.toml")  # it trains
    scene = win.doc.scene
    assert written == []  # the worker wrote it: nothing on the GUI thread
    snap, source = cached_network(scene)
    assert source == "cache"
    assert all(np.array_equal(a, b) for a, b in zip(snap.weights, done.args[0].snapshot.weights))


def test_resume_after_stop_goes_on_and_restart_starts_afresh(win, qtbot, small_scene):
    tp = win.train_panel
    win.doc.set_scene(small_scene(epochs=100000))
    initial = win.doc.initial
    tp.train_btn.click()
    qtbot.waitUntil(lambda: len(tp.history) >= 4, timeout=30000)
    with qtbot.waitSignal(tp.trained, timeout=10000) as done:
        tp.stop_btn.click()
    stopped = done.args[0].epochs_run
    qtbot.waitUntil(lambda: not tp.slot.busy, timeout=10000)  # the job has ended (its result came first)
    assert done.args[0].status == "cancelled" and tp.train_btn.text() == "Resume"
    assert f"stopped at epoch {stopped}" in tp.progress.text()
    assert "epoch counter" in tp.train_btn.toolTip() and "Fresh weights" in tp.restart_btn.toolTip()
    tp.train_btn.click()  # Resume
    qtbot.waitUntil(lambda: win.doc.training.epoch >= stopped + 3, timeout=30000)
    epochs = [h[0] for h in tp.history]
    assert epochs == sorted(set(epochs)) and epochs[0] == 0  # one curve, the counter never went back
    assert win.doc.training.epochs == 100000
    losses = [h[1] for h in tp.history]
    assert losses[-1] < 2.0 * losses[stopped]  # no jump back up as with a fresh schedule
    tp.restart_btn.click()  # fresh weights and a fresh schedule
    assert win.doc.net is initial and not win.doc.trained and tp.slot.busy
    qtbot.waitUntil(lambda: len(tp.history) >= 2, timeout=30000)
    assert tp.history[0][0] == 0 and tp.history[0][1] == pytest.approx(losses[0], rel=1e-6)
    tp.cancel()


def test_step_during_training_pauses_and_says_so(win, qtbot, small_scene):
    tp = win.train_panel
    win.doc.set_scene(small_scene(epochs=100000))
    tp.train_btn.click()
    qtbot.waitUntil(lambda: len(tp.history) >= 2, timeout=30000)
    messages: list[str] = []
    win.doc.message.connect(messages.append)
    tp.step_btn.click()
    assert tp.slot.worker.paused and win.doc.training.paused
    assert any("paused" in m.lower() for m in messages)
    qtbot.waitUntil(lambda: "paused at epoch" in tp.progress.text(), timeout=10000)
    assert tp.train_btn.text() == "Resume"
    tp.cancel()


def test_loss_and_r2_axes_use_plain_numbers(win, qtbot, small_scene):
    tp = win.train_panel
    win.doc.set_scene(small_scene(epochs=30))
    assert not tp.plots.isVisible()  # no leftover axes before any curve
    with qtbot.waitSignal(tp.trained, timeout=60000):
        tp.train_btn.click()
    qtbot.wait(50)
    for plot in (tp.loss_plot, tp.r2_plot):
        for side in ("left", "bottom"):
            ax = plot.getAxis(side)
            assert ax.autoSIPrefixScale == 1.0 and "x0" not in ax.labelString() and "×" not in ax.labelString()
    ax = tp.loss_plot.getAxis("left")  # a log axis over three decades: labels at powers of ten only
    values = sorted({round(v, 9) for level in ax.tickValues(-3.0, 0.0, 300) for v in level[1]})
    labels = [s for s in ax.tickStrings(values, 1.0, 1.0) if s]
    assert labels == ["0.001", "0.01", "0.1", "1"]
    labels = [s for s in ax.tickStrings([np.log10(0.04), np.log10(0.06)], 1.0, 0.1) if s]
    assert labels == ["0.04", "0.06"]  # within one decade: plain values, never "40" for 0.04
    r2 = tp.r2_plot.getAxis("left")
    lo, hi = tp.r2_plot.viewRange()[1]
    for spacing, values in r2.tickValues(lo, hi, 300):  # each label is the value itself (0.9, not 900)
        for text, v in zip(r2.tickStrings(values, 1.0, spacing), values):
            assert abs(float(text) - v) <= spacing / 2 + 1e-9, (text, v)
