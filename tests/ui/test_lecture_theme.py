"""Themes switch everything, both ways, in the real window: the panels' plots (background, axes, tick text), the
menus, and check boxes and spin-box arrows that stand out in the dark theme; the Theme menu carries the check mark."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6 import QtGui, QtWidgets

from nnlab.ui.theme import PALETTES, apply_theme


@pytest.fixture
def win(new_main_window):
    w = new_main_window()
    apply_theme(QtWidgets.QApplication.instance(), w.view.theme, w.view.point_size)
    yield w
    w.close()


def pixels(w: QtWidgets.QWidget) -> np.ndarray:
    img = w.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * img.height())
    return a.reshape(img.height(), img.bytesPerLine())[:, :3 * img.width()].reshape(img.height(), img.width(), 3).copy()


def luminance(a: np.ndarray) -> np.ndarray:
    return a.astype(float) @ [0.299, 0.587, 0.114]


def plot_colours(win) -> dict:
    axis = win.train_panel.loss_plot.getAxis("left")
    return {"background": win.train_panel.plots.backgroundBrush().color().name(),
            "axis": axis.pen().color().name(), "ticks": axis.textPen().color().name()}


def test_the_theme_switch_recolours_plots_and_menus_both_ways(win):
    for name in ("light", "dark", "light"):
        win.menus.theme_actions[name].trigger()
        assert win.view.theme == name and win.menus.theme_actions[name].isChecked()
        pal = PALETTES[name]
        assert plot_colours(win) == {"background": pal["bg"], "axis": pal["axis"], "ticks": pal["fg"]}
        heat_axis = win.view2d.getPlotItem().getAxis("bottom")
        assert heat_axis.textPen().color().name() == pal["fg"]
        menu = pixels(win.menus.file_menu)
        lum = np.median(luminance(menu))
        assert (lum > 200) if name == "light" else (lum < 60), f"menus in the {name} theme: median {lum}"


def test_check_boxes_and_spin_arrows_are_visible_in_the_dark_theme(win):
    win.menus.theme_actions["dark"].trigger()
    box = QtWidgets.QCheckBox()
    spin = QtWidgets.QSpinBox()
    spin.setValue(0)
    for w in (box, spin):
        w.resize(w.sizeHint())
        w.ensurePolished()
    indicator = pixels(box)
    bg = luminance(np.array(QtGui.QColor(PALETTES["dark"]["bg"]).getRgb()[:3]))
    assert luminance(indicator).max() - bg > 100, "an unchecked check box is invisible on the dark background"
    box.setChecked(True)
    checked = pixels(box)
    assert (np.abs(checked.astype(int) - indicator.astype(int)).max(axis=2) > 60).sum() > 10  # checked shows
    arrows = pixels(spin)[:, -16:]  # the up/down buttons
    assert luminance(arrows).max() - luminance(arrows).min() > 120, "the spin-box arrows are invisible"
