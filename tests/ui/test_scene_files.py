"""Scene files in the app (issue 9, items 6 and 7): Save as keeps relative paths (compare, csv) pointing at the same
files, a compare scene that cannot load clears the right pane and says why, and an internal error is reported as
one (traceback on stderr), never as a user error."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlab.engine.model.scene import NetworkSpec, Scene, TargetSpec, TrainSpec, load_scene, save_scene
from nnlab.app.document import Document
from nnlab.ui.presets import SCENES


def test_save_as_elsewhere_keeps_the_compare_scene(new_main_window, tmp_path):
    win = new_main_window()
    try:
        assert win.load_scene_file(SCENES / "compare.toml")
        out = tmp_path / "elsewhere" / "mine.toml"
        out.parent.mkdir()
        assert win.doc.save(out)
        back = load_scene(out)
        assert back.resolve_path(back.compare).resolve() == (SCENES / "himmelblau.toml").resolve()
        assert win.load_scene_file(SCENES / "default.toml")
        assert win.load_scene_file(out)  # opening the saved copy shows its partner
        assert win.mode() == "compare" and win.compare.other is not None
        assert win.compare.other.scene.title == load_scene(SCENES / "himmelblau.toml").title
        assert win.doc.scene.source == str(out)
    finally:
        win.close()


def test_relative_csv_is_rewritten_relative_below_the_new_folder_else_absolute(qtbot, tmp_path):
    data = tmp_path / "data" / "points.csv"
    data.parent.mkdir()
    data.write_text("x1,x2,y\n0,0,1\n1,0,2\n0,1,3\n1,1,4\n")
    src = tmp_path / "data" / "scene.toml"
    doc = Document(Scene(source=str(src)).replace("target", name="csv", csv="points.csv"))
    assert doc.save(tmp_path / "up.toml")  # the data lies below the new folder: still relative
    up = load_scene(tmp_path / "up.toml")
    assert up.target.csv == "data/points.csv" and up.resolve_path(up.target.csv) == data
    other = tmp_path / "other"
    other.mkdir()
    assert doc.save(other / "away.toml")  # saved from up.toml's place now; the file is not below other/
    away = load_scene(other / "away.toml")
    assert Path(away.target.csv).is_absolute() and Path(away.target.csv) == data.resolve()


def test_a_compare_scene_that_fails_to_load_clears_the_right_pane(new_main_window, tmp_path):
    win = new_main_window()
    try:
        assert win.load_scene_file(SCENES / "compare.toml")
        assert win.compare.other is not None and win.compare.views[1]._z is not None
        broken = tmp_path / "broken.toml"
        broken.write_text((SCENES / "compare.toml").read_text().replace('"himmelblau.toml"', '"gone.toml"'))
        win.load_scene_file(broken)
        assert win.compare.other is None and not win.compare.slot.busy
        assert win.compare.views[1]._z is None and not win.compare.views[1].surface.visible()
        assert "gone.toml" in win.error_label.toolTip()
    finally:
        win.close()


def test_the_trained_compare_partner_takes_its_surface_from_the_training_job(new_main_window, tmp_path,
                                                                             monkeypatch, qtbot):
    """The partner trains in a worker that also computes its final surface: the GUI thread must not run that
    forward pass again when the run ends (it used to, ~22 ms at 100x100: a stall of the event loop)."""
    import nnlab.app.document as document

    net = NetworkSpec(hidden=(12, 12), lower=(-5.0, -5.0), upper=(5.0, 5.0))
    save_scene(Scene(title="partner", network=net, target=TargetSpec(name="himmelblau"),
                     train=TrainSpec(enabled=True, epochs=5, samples=200)).replace("camera", resolution=40),
               tmp_path / "partner.toml")
    save_scene(Scene(title="main", network=net, compare="partner.toml"), tmp_path / "main.toml")
    calls: list[int] = []
    real = document.evaluate_network
    monkeypatch.setattr(document, "evaluate_network", lambda *a, **k: calls.append(1) or real(*a, **k))
    win = new_main_window()
    try:
        assert win.load_scene_file(tmp_path / "main.toml")
        other = win.compare.other
        assert other is not None and other.scene.title == "partner"
        before = len(calls)
        qtbot.waitUntil(lambda: not win.compare.slot.busy and other.trained, timeout=60000)
        assert len(calls) == before  # the job's surface was taken, none recomputed here
        np.testing.assert_allclose(other.z, real(other.net, *other.scene.domain(), 40), rtol=0, atol=1e-6)
        assert win.compare.views[1]._z is not None
    finally:
        win.close()


def test_internal_errors_are_not_disguised_as_user_errors(qtbot, tmp_path, monkeypatch, capsys):
    import nnlab.app.document as document

    doc = Document()
    shown: list[str] = []
    doc.error.connect(shown.append)
    assert not doc.load(tmp_path / "missing.toml")  # a user error: its own message
    assert "missing.toml" in shown[-1] and "internal error" not in shown[-1]

    def broken(_path):
        return np.zeros(2) + np.zeros(3)  # a numpy broadcasting bug, a ValueError

    monkeypatch.setattr(document, "load_scene", broken)
    assert not doc.load(SCENES / "default.toml")
    assert shown[-1].startswith("internal error: ValueError: operands could not be broadcast")
    assert "Traceback" in capsys.readouterr().err
