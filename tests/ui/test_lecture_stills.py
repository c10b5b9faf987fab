"""Stills for slides from the real window: the screenshot dialog offers a transparent background and a light-on-dark
style, and a 1920x1080 still keeps the whole box in frame (the horizontal field of view cut its front off)."""
from __future__ import annotations

import numpy as np
from PySide6 import QtGui, QtWidgets

from nnlab.ui.stills import STILL_STYLES, in_frame


def read_rgba(path) -> np.ndarray:
    img = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGBA8888)
    a = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * img.height())
    a = a.reshape(img.height(), img.bytesPerLine())[:, :4 * img.width()].reshape(img.height(), img.width(), 4)
    return a.copy()  # (the QImage owns the bytes and is freed on return)


def test_a_wide_still_keeps_the_whole_box_in_frame(win, tmp_path):
    v = win.view3d
    v.reset_camera()
    assert not in_frame(v, 1920, 1080), "the home camera fits 16:9 already: the test shows nothing"
    cam = v.camera()
    win.save_view_png(tmp_path / "cut.png", 1920, 1080, "transparent", fit=False)
    win.save_view_png(tmp_path / "whole.png", 1920, 1080, "transparent")
    assert v.camera() == cam  # the view on screen is left as it was
    cut, whole = read_rgba(tmp_path / "cut.png"), read_rgba(tmp_path / "whole.png")
    assert whole.shape == (1080, 1920, 4)

    def edge_ink(a: np.ndarray) -> int:
        alpha = a[..., 3]
        return int((alpha[:4] > 40).sum() + (alpha[-4:] > 40).sum() + (alpha[:, :4] > 40).sum()
                   + (alpha[:, -4:] > 40).sum())

    assert edge_ink(cut) > 0, "without framing the box reaches the edge"
    assert edge_ink(whole) == 0, "the framed still cuts off part of the box"
    assert (whole[..., 3] > 200).mean() > 0.15  # and the surface is still large


def ink(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels where two renders differ in colour: the labels and box lines (the surface is the same in both)."""
    return np.abs(a[..., :3].astype(int) - b[..., :3].astype(int)).max(axis=2) > 60


def test_transparent_stills_with_dark_or_light_ink(win, tmp_path):
    for style in ("transparent", "transparent-light"):
        win.save_view_png(tmp_path / f"{style}.png", 800, 600, style)
    dark, light = read_rgba(tmp_path / "transparent.png"), read_rgba(tmp_path / "transparent-light.png")
    for style, a in (("transparent", dark), ("transparent-light", light)):
        assert a[0, 0, 3] == 0, (style, a[0, 0], a[-1, -1]) and a[-1, -1, 3] == 0  # the background is transparent
        assert (a[..., 3] == 255).mean() > 0.1
    mask = ink(dark, light) & (dark[..., 3] > 150) & (light[..., 3] > 150)
    assert mask.sum() > 200, "no labels or box lines found"
    lum = lambda a: a[..., :3].mean(axis=2)[mask].mean()  # noqa: E731
    assert lum(light) > 170 and lum(dark) < 90
    assert win.view3d.background() == "dark"  # the screen keeps its own look


def test_the_screenshot_dialog_offers_the_styles(win, tmp_path, monkeypatch):
    seen = {}

    def fake_exec(dlg):
        style = dlg.findChild(QtWidgets.QComboBox, "stillStyle")
        seen["styles"] = [style.itemData(i) for i in range(style.count())]
        seen["fit"] = dlg.findChild(QtWidgets.QCheckBox, "stillFit").isChecked()
        style.setCurrentIndex(style.findData("transparent-light"))
        return QtWidgets.QDialog.DialogCode.Accepted

    out = tmp_path / "slide.png"
    monkeypatch.setattr(QtWidgets.QDialog, "exec", fake_exec)
    monkeypatch.setattr(QtWidgets.QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "PNG (*.png)"))
    e = win.doc.scene.export
    win.menus.screenshot_dialog()
    assert seen == {"styles": list(STILL_STYLES), "fit": True}
    a = read_rgba(out)
    assert a.shape == (e.height, e.width, 4) and a[0, 0, 3] == 0
