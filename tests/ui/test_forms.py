"""Generated parameter forms are honest (issue 9, item 5): an untouched field sends nothing, display precision never
changes a value, and an edited field sends exactly what the user typed."""
from __future__ import annotations

from functools import partial

from PySide6 import QtCore

from nnlab.engine.optimize.exact.regions import RegionsParams
from nnlab.engine.optimize.heuristics.sampling import SamplingParams
from nnlab.ui.forms import DataclassForm


def retype(qtbot, editor, text: str) -> None:
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, QtCore.Qt.Key.Key_Return)


def test_untouched_forms_send_nothing(qtbot):
    for cls in (RegionsParams, SamplingParams):  # tolerance = 1e-12, rho = 2/3: a 6-decimal box shows 0, 0.666667
        form = DataclassForm(cls)
        qtbot.addWidget(form)
        assert form.values() == {}, cls.__name__


def test_an_edited_field_sends_what_was_typed(qtbot):
    form = DataclassForm(SamplingParams)
    qtbot.addWidget(form)
    form.show()
    retype(qtbot, form.editors["tol"], "1e-9")
    assert form.values() == {"tol": 1e-9}
    retype(qtbot, form.editors["rho"], "0.123456789")
    assert form.values() == {"tol": 1e-9, "rho": 0.123456789}
    retype(qtbot, form.editors["samples"], "77")
    assert form.values()["samples"] == 77


def test_scene_values_are_sent_exactly_as_given(qtbot):
    form = DataclassForm(RegionsParams)
    qtbot.addWidget(form)
    form.set_values({"tolerance": 3e-13})
    assert form.editors["tolerance"].text() == "3e-13"
    assert form.values() == {"tolerance": 3e-13}


def test_untouched_optimize_panel_sends_the_scene_values(new_main_window, monkeypatch):
    from nnlab.app import jobs as jobs_mod

    win = new_main_window()
    try:
        sent: list = []
        monkeypatch.setattr(jobs_mod, "race_job", lambda *args: sent.append(args) or partial(iter, []))
        win.doc.update("optimizer", method="sampling", time_limit=0.25)
        win.optimize_panel.run_current()
        names, _net, _lo, _hi, _sense, time_limit, _seed, params = sent[-1]
        assert names == ["sampling"] and time_limit == 0.25  # a 1-decimal spin box sent 0.3
        assert all(p == {} for p in params.values()), params  # no rho = 0.666667, no tolerance = 0.0
    finally:
        win.close()
