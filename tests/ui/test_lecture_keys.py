"""Keys in the real window: one-key shortcuts never fire while a text or number field has the focus, they do fire
from the view, every shortcut is in a menu and in the H overlay, and disabled fields look disabled."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets


@pytest.fixture
def win(new_main_window, qtbot):
    w = new_main_window()
    w.windowHandle().requestActivate()
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is w, timeout=5000)
    yield w
    w.close()


def one_key_shortcuts(win) -> list[QtGui.QKeySequence]:
    """The shortcuts that are a single key without Ctrl/Alt (F-keys excepted: a field never types them)."""
    out = []
    for a in win.menus.shortcut_actions:
        for seq in a.shortcuts():
            combo = seq[0]
            if combo.keyboardModifiers() == QtCore.Qt.KeyboardModifier.NoModifier and not (
                    QtCore.Qt.Key.Key_F1 <= combo.key() <= QtCore.Qt.Key.Key_F35):
                out.append(seq)
    return out


def state(win) -> dict:
    """Everything a stray shortcut would change."""
    v = win.view
    return {"view": {k: getattr(v, k) for k in ("mode", "auto_rotate", "presenter", "lecture", "show_target",
                                                 "show_samples", "show_regions", "overlay_mode", "theme",
                                                 "point_size", "axes")},
            "docks": {n: d.isVisible() for n, d in win.docks.items()},
            "keys overlay": win.menus.keys.isVisible(), "rotating": win.rotate_timer.isActive(),
            "camera": win.view3d.camera(), "full screen": win.isFullScreen(), "scene file": win.doc.path,
            "jobs": [s.busy for s in (win.train_panel.slot, win.optimize_panel.slot, win.compare.slot)]}


def text_fields(win) -> list[QtWidgets.QWidget]:
    fields = [w for w in win.findChildren(QtWidgets.QWidget)
              if isinstance(w, (QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit)) and w.isEnabled()
              and w.isVisibleTo(win) and not isinstance(w.parentWidget(), (QtWidgets.QAbstractSpinBox,
                                                                            QtWidgets.QComboBox))]
    return fields


def test_one_key_shortcuts_never_fire_while_a_field_has_the_focus(win, qtbot):
    from nnlab.engine.model.scene import Scene

    s = Scene(title="small").replace("network", hidden=(6, 6)).replace("camera", resolution=24)
    win.doc.set_scene(s.replace("target", name="expression", expression="sin(3*x) * y"))  # f(x, y) = enabled
    tb = win.train_panel.target_box
    assert tb.expr.isEnabled()
    keys = one_key_shortcuts(win)
    names = {s.toString() for s in keys}
    assert {"T", "S", "O", "R", "P", "H", "C", "2", "3", "L", "Space", "PgUp", "PgDown", "Home"} <= names
    fired: list[str] = []
    for a in win.menus.shortcut_actions:
        a.triggered.connect(lambda *_a, a=a: fired.append(a.text()))
    fields = [tb.expr] + [f for f in text_fields(win) if f is not tb.expr]
    spins = [f for f in fields if isinstance(f, QtWidgets.QAbstractSpinBox)]
    assert len(spins) >= 4, "the panels' number fields were not found"
    before = state(win)
    for field in fields:
        dock = next((d for d in win.docks.values() if d.isAncestorOf(field)), None)
        if dock is not None:
            dock.raise_()
        field.setFocus()
        qtbot.waitUntil(field.hasFocus, timeout=2000)
        for seq in keys:
            qtbot.keyClick(field, QtCore.Qt.Key(seq[0].key()))
        assert not fired, f"typing into {type(field).__name__} fired {fired}"
        now = state(win)
        now["scene file"], now["camera"] = before["scene file"], before["camera"]  # compared below, once
        assert now == before, f"typing into {field!r} changed the window"
    assert state(win)["scene file"] == before["scene file"] and win.view3d.camera() == before["camera"]
    # the same keys from the view are commands again
    win.view3d.widget.setFocus()
    qtbot.waitUntil(win.view3d.widget.hasFocus, timeout=2000)
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_L)
    assert win.view.lecture and fired == [win.menus.lecture.text()]
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_L)
    assert not win.view.lecture


def test_a_spin_box_keeps_page_up_for_itself(win, qtbot):
    """PgUp in a number field steps the number (Qt's spin box does not claim it: it went to 'next preset')."""
    seed = win.init_panel.seed
    value, path = seed.value(), win.doc.path
    seed.setFocus()
    qtbot.waitUntil(seed.hasFocus, timeout=2000)
    qtbot.keyClick(seed, QtCore.Qt.Key.Key_PageUp)
    assert win.doc.path == path, "PgUp in the seed field loaded the next preset"
    assert seed.value() > value


def menu_actions(menu: QtWidgets.QMenu) -> list[QtGui.QAction]:
    out = []
    for a in menu.actions():
        out.append(a)
        if a.menu() is not None:
            out += menu_actions(a.menu())
    return out


def test_every_shortcut_is_in_a_menu_and_in_the_keys_overlay(win, qtbot):
    registered = {a for a in win.findChildren(QtGui.QAction) if a.shortcuts()}
    assert registered == set(win.menus.shortcut_actions)
    in_menus = set()
    for top in win.menuBar().actions():
        in_menus |= {a for a in menu_actions(top.menu()) if a.shortcuts()}
    assert in_menus == registered
    keys = win.menus.keys
    listed = {k for k, _ in keys.entries()}
    native = QtGui.QKeySequence.SequenceFormat.NativeText
    assert listed == {" / ".join(s.toString(native) for s in a.shortcuts()) for a in registered}
    assert any("Ctrl+=" in k for k in listed) and any(k == "L" for k in listed) and any("Ctrl+0" in k for k in listed)
    qtbot.keyClick(win.view3d, QtCore.Qt.Key.Key_H)
    assert keys.isVisible()
    shown = keys.text()
    for k, label in keys.entries():
        assert label.replace("&", "&amp;") in shown
    assert keys.y() >= 0 and keys.y() + keys.height() <= keys.parentWidget().height()  # fits the view
    keys.toggle()


def mean_rgb(w: QtWidgets.QWidget) -> np.ndarray:
    img = w.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * img.height())
    a = a.reshape(img.height(), img.bytesPerLine())[:, :3 * img.width()].reshape(img.height(), img.width(), 3)
    return a[3:-3, 3:-3].reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_disabled_fields_look_disabled(win, qtbot, theme):
    from nnlab.ui.theme import apply_theme

    win.menus.set_theme(theme)
    apply_theme(QtWidgets.QApplication.instance(), theme, win.view.point_size)  # (as `nnlab gui` starts)
    tb = win.train_panel.target_box
    assert win.doc.update("target", name="peaks", expression="sin(3*x) * y")
    assert not tb.expr.isEnabled()
    off = mean_rgb(tb.expr)
    assert win.doc.update("target", name="expression")
    assert tb.expr.isEnabled()
    on = mean_rgb(tb.expr)
    assert np.abs(on - off).max() >= 8, f"enabled {on} and disabled {off} look alike in the {theme} theme"
