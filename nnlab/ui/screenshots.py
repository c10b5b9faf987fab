"""Screenshots: the current view at a chosen size, or the whole window as the user sees it; PNGs written atomically."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from nnlab.errors import NnlabError


def write_png(img: np.ndarray, path: str | Path) -> None:
    """RGBA uint8 (h, w, 4) to a PNG, atomically."""
    h, w = img.shape[:2]
    qimg = QtGui.QImage(np.ascontiguousarray(img).tobytes(), w, h, 4 * w, QtGui.QImage.Format.Format_RGBA8888)
    save_qimage(qimg, path)


def save_qimage(qimg: QtGui.QImage, path: str | Path) -> None:
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".png", dir=str(p.parent) or ".")
    os.close(fd)
    try:
        if not qimg.save(tmp, "PNG"):
            raise OSError(f"cannot write {p}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp made it private; a screenshot is an ordinary file
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def window_image(win: QtWidgets.QMainWindow, views: list) -> QtGui.QImage:
    """The window as the user sees it: a grab of its widgets with each GL view's picture (a SurfaceWindow, which a
    widget grab cannot see; it draws the overlay labels above it itself) put where its container is."""
    img = win.grab().toImage()
    dpr = img.devicePixelRatio()
    painter = QtGui.QPainter(img)
    for v in views:
        w = v.widget
        if w.isVisible() and w.width() > 0 and v.isValid():
            top_left = w.mapTo(win, QtCore.QPoint(0, 0))
            rgba = v.render_image(round(w.width() * dpr), round(w.height() * dpr), overlays=True)
            h, wd = rgba.shape[:2]
            pic = QtGui.QImage(rgba.data, wd, h, 4 * wd, QtGui.QImage.Format.Format_RGBA8888)
            painter.drawImage(QtCore.QRectF(top_left.x(), top_left.y(), w.width(), w.height()), pic)
    painter.end()
    img.setDevicePixelRatio(dpr)
    return img


def screenshot_dialog(win: QtWidgets.QWidget, size: tuple[int, int], save: Callable[..., None],
                      on_saved: Callable[[str], None], on_error: Callable[[str], None],
                      styles: dict[str, str] | None = None) -> None:
    """Ask for a size (default `size`), a style and a file, then save the current view there. With `styles`
    (style -> label) the dialog offers them and the whole-box framing, and calls save(path, w, h, style, fit)."""
    dlg = QtWidgets.QDialog(win)
    dlg.setWindowTitle("Screenshot of the view")
    form = QtWidgets.QFormLayout(dlg)
    w, h = QtWidgets.QSpinBox(), QtWidgets.QSpinBox()
    for s, v in ((w, size[0]), (h, size[1])):
        s.setRange(16, 8192)
        s.setValue(v)
    form.addRow("Width", w)
    form.addRow("Height", h)
    style = QtWidgets.QComboBox(objectName="stillStyle")
    fit = QtWidgets.QCheckBox("Whole box in frame", objectName="stillFit", checked=True)
    if styles:
        for key, label in styles.items():
            style.addItem(label, key)
        form.addRow("Background", style)
        form.addRow(fit)
    bb = QtWidgets.QDialogButtonBox(QtWidgets.QDialogButtonBox.StandardButton.Ok
                                    | QtWidgets.QDialogButtonBox.StandardButton.Cancel)
    bb.accepted.connect(dlg.accept)
    bb.rejected.connect(dlg.reject)
    form.addRow(bb)
    if dlg.exec() != QtWidgets.QDialog.DialogCode.Accepted:
        return
    path, _ = QtWidgets.QFileDialog.getSaveFileName(win, "Save screenshot", "nnlab.png", "PNG (*.png)")
    if path:
        try:
            if styles:
                save(path, w.value(), h.value(), style.currentData(), fit.isChecked())
            else:
                save(path, w.value(), h.value())
            on_saved(f"Saved {path} ({w.value()}×{h.value()})")
        except (OSError, NnlabError) as err:
            on_error(str(err))
